//! The SIF container file (Singularity Image Format, spec version 01): its global header and
//! descriptor table, read as the `sylabs/sif` library that containers/image uses reads them,
//! with that library's error texts (`reading global header: unexpected EOF`,
//! `invalid SIF magic`, `object not found`), which skopeo prints.
//!
//! Only what the `sif:` transport needs is decoded: the image's UUID, primary architecture and
//! modification time, and the data objects' types, partition kinds and positions.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use anyhow::anyhow;
use skopos_core::Result;

/// Size of the global header.
const HEADER_SIZE: usize = 128;
/// Size of one descriptor in the table.
const DESCRIPTOR_SIZE: usize = 585;
/// `SIF_MAGIC` and its terminating NUL.
const MAGIC: &[u8; 10] = b"SIF_MAGIC\0";
/// The only spec version there is, "01" and a NUL.
const VERSION: &[u8; 3] = b"01\0";
/// More descriptors than any real SIF has; a table claiming more is a damaged file, and
/// reading it whole would be an allocation the file's author chose.
const MAX_DESCRIPTORS: u64 = 4096;

/// Data object types (`DataType` in the sif library).
const DATA_DEFFILE: i32 = 0x4001;
const DATA_PARTITION: i32 = 0x4004;
/// Partition type of the primary system partition (`PartPrimSys`).
const PART_PRIM_SYS: i32 = 2;
/// File-system type of a squashfs partition (`FsSquash`).
pub(crate) const FS_SQUASH: i32 = 1;

/// One data object of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Descriptor {
    data_type: i32,
    /// Where the object's bytes start in the file.
    pub(crate) offset: u64,
    /// How many bytes it has.
    pub(crate) size: u64,
    /// For partitions: the file-system and partition types (from the `Extra` field).
    pub(crate) fs_type: i32,
    part_type: i32,
}

/// A SIF file's header and used descriptors.
#[derive(Debug)]
pub(crate) struct SifFile {
    /// The image's UUID, formatted as Go's `uuid.UUID.String()`.
    pub(crate) id: String,
    /// The primary architecture as a Go architecture name (`amd64`, …; `unknown` when unset).
    pub(crate) arch: &'static str,
    /// Seconds since the epoch of the last modification.
    pub(crate) modified_at: i64,
    descriptors: Vec<Descriptor>,
}

impl SifFile {
    /// Read the header and the descriptor table of `file`.
    pub(crate) fn load(file: &File) -> Result<SifFile> {
        let mut header = [0u8; HEADER_SIZE];
        file.read_exact_at(&mut header, 0)
            .map_err(|err| anyhow!("reading global header: {}", go_read_error(&err)))?;
        if &header[32..42] != MAGIC {
            return Err(anyhow!("invalid SIF magic"));
        }
        if &header[42..45] != VERSION {
            return Err(anyhow!("incompatible SIF version"));
        }
        let total = le_i64(&header, 88);
        let table_offset = le_i64(&header, 96);
        let (Ok(total), Ok(table_offset)) = (u64::try_from(total), u64::try_from(table_offset))
        else {
            return Err(anyhow!("reading descriptors: invalid descriptor table"));
        };
        if total > MAX_DESCRIPTORS {
            return Err(anyhow!(
                "reading descriptors: {total} descriptors is more than {MAX_DESCRIPTORS}"
            ));
        }
        let mut table = vec![0u8; total as usize * DESCRIPTOR_SIZE];
        file.read_exact_at(&mut table, table_offset)
            .map_err(|err| anyhow!("reading descriptors: {}", go_read_error(&err)))?;
        let descriptors = table
            .chunks_exact(DESCRIPTOR_SIZE)
            .filter(|raw| raw[4] != 0)
            .map(|raw| Descriptor {
                data_type: le_i32(raw, 0),
                offset: u64::try_from(le_i64(raw, 17)).unwrap_or(u64::MAX),
                size: u64::try_from(le_i64(raw, 25)).unwrap_or(0),
                fs_type: le_i32(raw, 201),
                part_type: le_i32(raw, 205),
            })
            .collect();
        Ok(SifFile {
            id: format_uuid(&header[48..64]),
            arch: go_arch(&header[45..48]),
            modified_at: le_i64(&header, 72),
            descriptors,
        })
    }

    /// The definition file object, if there is exactly one (the sif library's
    /// `GetDescriptor(WithDataType(DataDeffile))`; containers/image treats any lookup error
    /// as "no definition file").
    pub(crate) fn deffile(&self) -> Option<&Descriptor> {
        self.unique(|d| d.data_type == DATA_DEFFILE).ok()
    }

    /// The primary system partition (`GetDescriptor(WithPartitionType(PartPrimSys))`).
    pub(crate) fn primary_partition(&self) -> Result<&Descriptor> {
        self.unique(|d| d.data_type == DATA_PARTITION && d.part_type == PART_PRIM_SYS)
    }

    fn unique(&self, wanted: impl Fn(&Descriptor) -> bool) -> Result<&Descriptor> {
        let mut matching = self.descriptors.iter().filter(|d| wanted(d));
        match (matching.next(), matching.next()) {
            (Some(found), None) => Ok(found),
            (None, _) => Err(anyhow!("object not found")),
            (Some(_), Some(_)) => Err(anyhow!("multiple objects found")),
        }
    }
}

/// Read a descriptor's bytes whole (a definition file: small, but bounded all the same).
pub(crate) fn read_object(file: &File, object: &Descriptor, limit: u64) -> Result<Vec<u8>> {
    if object.size > limit {
        return Err(anyhow!(
            "a {} byte object is larger than the {limit} bytes allowed",
            object.size
        ));
    }
    let mut bytes = vec![0u8; object.size as usize];
    file.read_exact_at(&mut bytes, object.offset)
        .map_err(|err| anyhow!(go_read_error(&err)))?;
    Ok(bytes)
}

/// Go's wording of a short read (`io.ReadFull`'s `unexpected EOF`, `EOF` when nothing was
/// there) or of an OS error.
fn go_read_error(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        "unexpected EOF".to_string()
    } else {
        crate::fsutil::go_error_text(err)
    }
}

fn le_i64(bytes: &[u8], at: usize) -> i64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[at..at + 8]);
    i64::from_le_bytes(raw)
}

fn le_i32(bytes: &[u8], at: usize) -> i32 {
    let mut raw = [0u8; 4];
    raw.copy_from_slice(&bytes[at..at + 4]);
    i32::from_le_bytes(raw)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case.
fn format_uuid(bytes: &[u8]) -> String {
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The header's architecture code ("02" and a NUL, …) as the Go architecture name the sif
/// library maps it to.
fn go_arch(code: &[u8]) -> &'static str {
    match code {
        b"01\0" => "386",
        b"02\0" => "amd64",
        b"03\0" => "arm",
        b"04\0" => "arm64",
        b"05\0" => "ppc64",
        b"06\0" => "ppc64le",
        b"07\0" => "mips",
        b"08\0" => "mipsle",
        b"09\0" => "mips64",
        b"10\0" => "mips64le",
        b"11\0" => "s390x",
        b"12\0" => "riscv64",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// A SIF file with the given descriptors' (type, partition type) and payloads.
    fn sif_with(objects: &[(i32, i32, &[u8])]) -> tempfile::NamedTempFile {
        let mut header = vec![0u8; HEADER_SIZE];
        header[32..42].copy_from_slice(MAGIC);
        header[42..45].copy_from_slice(VERSION);
        header[45..48].copy_from_slice(b"04\0");
        header[48..64].copy_from_slice(&[0xab; 16]);
        header[72..80].copy_from_slice(&1_704_067_200i64.to_le_bytes());
        header[88..96].copy_from_slice(&(objects.len() as i64).to_le_bytes());
        header[96..104].copy_from_slice(&(HEADER_SIZE as i64).to_le_bytes());
        let mut table = Vec::new();
        let mut data = Vec::new();
        let data_start = HEADER_SIZE + objects.len() * DESCRIPTOR_SIZE;
        for (data_type, part_type, payload) in objects {
            let mut raw = vec![0u8; DESCRIPTOR_SIZE];
            raw[0..4].copy_from_slice(&data_type.to_le_bytes());
            raw[4] = 1;
            raw[17..25].copy_from_slice(&((data_start + data.len()) as i64).to_le_bytes());
            raw[25..33].copy_from_slice(&(payload.len() as i64).to_le_bytes());
            raw[201..205].copy_from_slice(&FS_SQUASH.to_le_bytes());
            raw[205..209].copy_from_slice(&part_type.to_le_bytes());
            table.extend_from_slice(&raw);
            data.extend_from_slice(payload);
        }
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(&header).unwrap();
        file.write_all(&table).unwrap();
        file.write_all(&data).unwrap();
        file
    }

    #[test]
    fn header_and_objects_are_decoded() {
        let file = sif_with(&[
            (DATA_DEFFILE, 0, b"%runscript\n"),
            (DATA_PARTITION, 2, b"fs"),
        ]);
        let sif = SifFile::load(file.as_file()).unwrap();
        assert_eq!(sif.id, "abababab-abab-abab-abab-abababababab");
        assert_eq!(sif.arch, "arm64");
        assert_eq!(sif.modified_at, 1_704_067_200);
        let deffile = sif.deffile().unwrap();
        assert_eq!(
            read_object(file.as_file(), deffile, 1024).unwrap(),
            b"%runscript\n"
        );
        let partition = sif.primary_partition().unwrap();
        assert_eq!(partition.fs_type, FS_SQUASH);
        assert_eq!(read_object(file.as_file(), partition, 1024).unwrap(), b"fs");
        assert!(read_object(file.as_file(), partition, 1).is_err());
    }

    #[test]
    fn missing_and_repeated_objects_are_the_sif_library_errors() {
        let file = sif_with(&[(DATA_PARTITION, 3, b"data partition, not system")]);
        let sif = SifFile::load(file.as_file()).unwrap();
        assert_eq!(
            sif.primary_partition().unwrap_err().to_string(),
            "object not found"
        );
        assert!(sif.deffile().is_none());
        let file = sif_with(&[(DATA_PARTITION, 2, b"a"), (DATA_PARTITION, 2, b"b")]);
        let sif = SifFile::load(file.as_file()).unwrap();
        assert_eq!(
            sif.primary_partition().unwrap_err().to_string(),
            "multiple objects found"
        );
    }

    #[test]
    fn short_and_foreign_files_are_refused_as_the_sif_library_words_it() {
        let mut short = tempfile::NamedTempFile::new().unwrap();
        short.write_all(b"hello\n").unwrap();
        assert_eq!(
            SifFile::load(short.as_file()).unwrap_err().to_string(),
            "reading global header: unexpected EOF"
        );
        let mut zeros = tempfile::NamedTempFile::new().unwrap();
        zeros.write_all(&[0u8; 4000]).unwrap();
        assert_eq!(
            SifFile::load(zeros.as_file()).unwrap_err().to_string(),
            "invalid SIF magic"
        );
        let file = sif_with(&[(DATA_PARTITION, 2, b"x")]);
        let mut truncated = std::fs::read(file.path()).unwrap();
        truncated.truncate(HEADER_SIZE + 10);
        std::fs::write(file.path(), &truncated).unwrap();
        assert_eq!(
            SifFile::load(&File::open(file.path()).unwrap())
                .unwrap_err()
                .to_string(),
            "reading descriptors: unexpected EOF"
        );
    }
}
