//! Reading members of a tar file in place, without extracting it.
//!
//! One pass over the headers records, for each member name, where its bytes lie in the
//! file; members are then read with positioned reads (`pread`) from the one file handle
//! opened for the pass, so several can be read at once and a later rename over the path
//! does not change what is read.
//!
//! Names are cleaned lexically (`./a//b` is `a/b`). An entry whose name is absolute or
//! climbs above the archive's root (`../x`), and a link whose target would, make the whole
//! archive invalid, as they make skopeo's extraction fail. Links are followed only inside
//! the archive: an absolute symlink target is taken from the archive's root.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek as _};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use skopos_core::tar_headers::{tar_read_failure, TarHeaderGuard, TarReadFailure};
use skopos_core::{BlobReader, FileBlob, Result};

use crate::fsutil::{go_error_text, FileRange};

/// How many symlinks one lookup may pass through, as Linux's limit (`ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// What a member name designates.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Member {
    /// A regular file (or a hard link to one): its bytes' place in the archive.
    File {
        offset: u64,
        size: u64,
    },
    Directory,
    /// A symlink and its target as written in the archive.
    Symlink(String),
    /// A device, FIFO or sparse file: present, but not something an image layout reads.
    Unreadable(&'static str),
}

/// The members of one tar file, and the open file to read them from.
#[derive(Debug)]
pub(crate) struct TarIndex {
    file: Arc<File>,
    /// How the archive is named in messages.
    archive: PathBuf,
    members: HashMap<String, Member>,
}

impl TarIndex {
    /// Index the tar `file`, named `archive` in messages. Blocks: call from a blocking
    /// thread. Errors read `untarring file "ARCHIVE": why`, as skopeo's do.
    pub(crate) fn build(file: File, archive: &Path) -> Result<TarIndex> {
        let fail = |why: String| anyhow!("untarring file \"{}\": {why}", archive.display());
        let length = file
            .metadata()
            .map_err(|err| fail(format!("stat: {}", go_error_text(&err))))?
            .len();
        // The caller may have read from the file already (to detect compression).
        (&file)
            .rewind()
            .map_err(|err| fail(format!("seek: {}", go_error_text(&err))))?;
        let mut members = HashMap::new();
        {
            let mut reader = tar::Archive::new(TarHeaderGuard::new(&file));
            let entries = reader
                .entries_with_seek()
                .map_err(|err| fail(describe_tar_error(&err)))?;
            for entry in entries {
                let entry = entry.map_err(|err| fail(describe_tar_error(&err)))?;
                let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let Some(name) = clean_member_name(&raw_name).map_err(fail)? else {
                    // The root directory itself (`./`).
                    continue;
                };
                let Some(member) =
                    classify(&entry, &raw_name, &name, length, &members).map_err(fail)?
                else {
                    continue;
                };
                // A later entry replaces an earlier one, as extraction would.
                members.insert(name, member);
            }
        }
        Ok(TarIndex {
            file: Arc::new(file),
            archive: archive.to_path_buf(),
            members,
        })
    }

    /// The place of the regular file `name` (following symlinks inside the archive).
    /// A missing one is `open NAME in ARCHIVE: no such file or directory`.
    fn locate(&self, name: &str) -> Result<(u64, u64)> {
        let fail = |why: &str| anyhow!("open {name} in {}: {why}", self.archive.display());
        let mut pending: Vec<String> = components(name).rev().map(str::to_string).collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(component) = pending.pop() {
            if component == ".." {
                if resolved.pop().is_none() {
                    return Err(fail("the path leads outside the archive"));
                }
                continue;
            }
            resolved.push(component);
            if let Some(Member::Symlink(target)) = self.members.get(&resolved.join("/")) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(fail("too many levels of symbolic links"));
                }
                resolved.pop();
                if target.starts_with('/') {
                    resolved.clear();
                }
                pending.extend(components(target).rev().map(str::to_string));
            }
        }
        match self.members.get(&resolved.join("/")) {
            Some(Member::File { offset, size }) => Ok((*offset, *size)),
            Some(Member::Directory) => Err(fail("is a directory")),
            Some(Member::Unreadable(why)) => Err(fail(why)),
            Some(Member::Symlink(_)) | None => Err(fail("no such file or directory")),
        }
    }

    /// The archive's path, as messages name it.
    pub(crate) fn archive_path(&self) -> &Path {
        &self.archive
    }

    /// The whole of the (small) member `name`: `index.json`, manifests.
    pub(crate) async fn read(self: &Arc<Self>, name: &str) -> Result<Vec<u8>> {
        let (offset, size) = self.locate(name)?;
        let length = usize::try_from(size)
            .map_err(|_| anyhow!("{name} in {} is too large", self.archive.display()))?;
        let index = Arc::clone(self);
        let owned_name = name.to_string();
        tokio::task::spawn_blocking(move || {
            let mut bytes = vec![0; length];
            index
                .file
                .read_exact_at(&mut bytes, offset)
                .map_err(|err| index.read_error(&owned_name, &err))?;
            Ok(bytes)
        })
        .await
        .context("the archive-reading thread failed")?
    }

    /// The member `name`'s bytes, refused unread when its size is past `limit`.
    pub(crate) async fn read_at_most(self: &Arc<Self>, name: &str, limit: u64) -> Result<Vec<u8>> {
        let (_, size) = self.locate(name)?;
        skopos_core::limits::check_size(size, limit)
            .map_err(|err| anyhow!("reading {name} in {}: {err}", self.archive.display()))?;
        self.read(name).await
    }

    /// A stream of the member `name`'s bytes, and its size.
    pub(crate) fn open(self: &Arc<Self>, name: &str) -> Result<(BlobReader, u64)> {
        let (reader, member) = self.open_with_file(name)?;
        Ok((reader, member.length))
    }

    /// [`Self::open`], and where in the archive file the member's bytes are, for a
    /// destination that sends them without reading them.
    pub(crate) fn open_with_file(self: &Arc<Self>, name: &str) -> Result<(BlobReader, FileBlob)> {
        let (offset, size) = self.locate(name)?;
        let index = Arc::clone(self);
        let owned_name = name.to_string();
        let range = FileRange::new(Arc::clone(&self.file), offset, size)
            .with_error_text(move |err| io::Error::other(index.read_error(&owned_name, &err)));
        let member = FileBlob {
            file: Arc::clone(&self.file),
            offset,
            length: size,
        };
        Ok((Box::pin(range), member))
    }

    fn read_error(&self, name: &str, err: &io::Error) -> anyhow::Error {
        let why = if err.kind() == io::ErrorKind::UnexpectedEof {
            "unexpected EOF: the archive was truncated".to_string()
        } else {
            go_error_text(err)
        };
        anyhow!("reading {name} in {}: {why}", self.archive.display())
    }
}

/// What the entry `raw_name` (cleaned: `name`) of an archive of `length` bytes adds to
/// `members` so far; `None` for entries that only describe others. Errors are the reason
/// the archive is invalid.
fn classify<R: io::Read>(
    entry: &tar::Entry<'_, R>,
    raw_name: &str,
    name: &str,
    length: u64,
    members: &HashMap<String, Member>,
) -> std::result::Result<Option<Member>, String> {
    let kind = entry.header().entry_type();
    let member = if kind.is_file() || kind.is_contiguous() {
        let offset = entry.raw_file_position();
        let size = entry.size();
        if offset.checked_add(size).is_none_or(|end| end > length) {
            return Err(format!(
                "unexpected EOF in {raw_name:?}: the archive is truncated"
            ));
        }
        Member::File { offset, size }
    } else if kind.is_dir() {
        Member::Directory
    } else if kind.is_symlink() {
        let target = link_target(entry)?;
        check_symlink_target(name, &target)
            .map_err(|why| format!("invalid symlink {raw_name:?} -> {target:?}{why}"))?;
        Member::Symlink(target)
    } else if kind.is_hard_link() {
        // A hard link names an earlier entry: it shares that file's bytes.
        let target = link_target(entry)?;
        let invalid = |why: &str| format!("invalid hardlink {raw_name:?} -> {target:?}{why}");
        let target_name = clean_member_name(&target)
            .map_err(|_| invalid(""))?
            .ok_or_else(|| invalid(": not a regular file"))?;
        match members.get(&target_name) {
            Some(file @ Member::File { .. }) => file.clone(),
            Some(_) => return Err(invalid(": not a regular file")),
            None => return Err(invalid(": no such file in the archive")),
        }
    } else if kind.is_gnu_sparse() {
        Member::Unreadable("a sparse file")
    } else if kind.is_pax_global_extensions() {
        return Ok(None);
    } else {
        Member::Unreadable("not a regular file")
    };
    Ok(Some(member))
}

/// Why the tar reader failed, in Go's words where it is the format's fault.
fn describe_tar_error(err: &io::Error) -> String {
    match tar_read_failure(err) {
        TarReadFailure::Truncated => "unexpected EOF: the archive is truncated".to_string(),
        TarReadFailure::Other(why) => why,
    }
}

/// A link entry's target as written, `""` when it has none.
fn link_target<R: io::Read>(entry: &tar::Entry<'_, R>) -> std::result::Result<String, String> {
    entry
        .link_name_bytes()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .ok_or_else(|| format!("{:?} is a link without a target", entry.path_bytes()))
}

/// The `/`-separated parts of `name` that are not empty or `.`.
fn components(name: &str) -> impl DoubleEndedIterator<Item = &str> {
    name.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
}

/// `name` with `.`, `..` and empty parts resolved, `None` for the root itself; an error
/// for an absolute name or one that climbs above the root.
fn clean_member_name(name: &str) -> std::result::Result<Option<String>, String> {
    if name.starts_with('/') {
        return Err(format!("{name:?} is an absolute path"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in components(name) {
        if part == ".." {
            if parts.pop().is_none() {
                return Err(format!("{name:?} is outside of the archive"));
            }
        } else {
            parts.push(part);
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// Err (with a reason to append) when a relative symlink at `link` (a cleaned name) would
/// point above the archive's root. Absolute targets are resolved from the root.
fn check_symlink_target(link: &str, target: &str) -> std::result::Result<(), &'static str> {
    if target.starts_with('/') {
        return Ok(());
    }
    let mut depth = components(link).count().saturating_sub(1);
    for part in components(target) {
        if part == ".." {
            depth = depth
                .checked_sub(1)
                .ok_or(": it leads outside the archive")?;
        } else {
            depth += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::IO_CHUNK_SIZE;
    use tokio::io::AsyncReadExt;

    /// One entry of a hand-made tar: name, kind, and data or link target.
    type TestEntry<'a> = (&'a str, tar::EntryType, &'a [u8]);

    /// A tar file built by hand.
    fn tar_with(entries: &[TestEntry<'_>]) -> tempfile::NamedTempFile {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, kind, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(0o644);
            let name_bytes = name.as_bytes();
            // Written raw: `set_path` refuses `..` and absolute names, which these tests need.
            if name_bytes.len() <= 100 {
                header.as_old_mut().name[..name_bytes.len()].copy_from_slice(name_bytes);
            }
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_size(0);
                header.as_old_mut().linkname[..data.len()].copy_from_slice(data);
                header.set_cksum();
                builder.append(&header, io::empty()).unwrap();
            } else if name_bytes.len() > 100 {
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, name, *data).unwrap();
            } else {
                header.set_size(data.len() as u64);
                header.set_cksum();
                builder.append(&header, *data).unwrap();
            }
        }
        let bytes = builder.into_inner().unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        io::Write::write_all(&mut file, &bytes).unwrap();
        file
    }

    fn index_of(file: &tempfile::NamedTempFile) -> Result<Arc<TarIndex>> {
        let handle = File::open(file.path()).unwrap();
        TarIndex::build(handle, Path::new("a.tar")).map(Arc::new)
    }

    use tar::EntryType as T;

    #[tokio::test]
    async fn members_are_read_in_place_including_long_names_and_links() {
        let long = format!("blobs/sha256/{}", "a".repeat(120));
        let big: Vec<u8> = (0..(IO_CHUNK_SIZE * 2 + 77))
            .map(|i| (i % 253) as u8)
            .collect();
        let file = tar_with(&[
            ("./", T::Directory, b""),
            ("./index.json", T::Regular, b"{}"),
            ("blobs/", T::Directory, b""),
            (&long, T::Regular, &big),
            ("dir/../link", T::Symlink, b"index.json"),
            ("abs", T::Symlink, b"/index.json"),
            ("hard", T::Link, b"./index.json"),
            ("blobs-dir", T::Symlink, b"blobs"),
        ]);
        let index = index_of(&file).unwrap();
        assert_eq!(index.read("index.json").await.unwrap(), b"{}");
        assert_eq!(index.read("link").await.unwrap(), b"{}");
        assert_eq!(index.read("abs").await.unwrap(), b"{}");
        assert_eq!(index.read("hard").await.unwrap(), b"{}");
        let (mut reader, size) = index.open(&long).unwrap();
        assert_eq!(size, big.len() as u64);
        let mut read = Vec::new();
        reader.read_to_end(&mut read).await.unwrap();
        assert!(read == big);
        let via_link = long.replacen("blobs", "blobs-dir", 1);
        assert!(index.locate(&via_link).is_ok());
        let err = index.read("blobs/sha256/missing").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "open blobs/sha256/missing in a.tar: no such file or directory"
        );
        let err = index.read("blobs").await.unwrap_err();
        assert!(err.to_string().ends_with("is a directory"), "{err}");
    }

    #[test]
    fn escaping_names_and_links_invalidate_the_archive() {
        let cases: [(&[TestEntry<'_>], &str); 5] = [
            (
                &[("../evil", T::Regular, b"x")],
                "untarring file \"a.tar\": \"../evil\" is outside of the archive",
            ),
            (
                &[("a/../../evil", T::Regular, b"x")],
                "untarring file \"a.tar\": \"a/../../evil\" is outside of the archive",
            ),
            (
                &[("/etc/passwd", T::Regular, b"x")],
                "untarring file \"a.tar\": \"/etc/passwd\" is an absolute path",
            ),
            (
                &[("blobs/x", T::Symlink, b"../../outside")],
                "untarring file \"a.tar\": invalid symlink \"blobs/x\" -> \"../../outside\": \
                 it leads outside the archive",
            ),
            (
                &[("x", T::Link, b"../outside")],
                "untarring file \"a.tar\": invalid hardlink \"x\" -> \"../outside\"",
            ),
        ];
        for (entries, message) in cases {
            let err = index_of(&tar_with(entries)).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
    }

    #[test]
    fn symlink_loops_and_missing_link_targets_are_errors() {
        let file = tar_with(&[
            ("a", T::Symlink, b"b"),
            ("b", T::Symlink, b"a"),
            ("dangling", T::Symlink, b"nowhere"),
        ]);
        let index = index_of(&file).unwrap();
        let err = index.locate("a").unwrap_err();
        assert_eq!(
            err.to_string(),
            "open a in a.tar: too many levels of symbolic links"
        );
        assert!(index.locate("dangling").is_err());
        let err = index_of(&tar_with(&[("h", T::Link, b"missing")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "untarring file \"a.tar\": invalid hardlink \"h\" -> \"missing\": \
             no such file in the archive"
        );
    }

    #[test]
    fn a_truncated_member_is_reported() {
        let file = tar_with(&[("index.json", T::Regular, &[b'x'; 1000])]);
        let length = file.as_file().metadata().unwrap().len();
        assert_eq!(length, 512 + 1024 + 1024);
        // Cut inside the member's data.
        file.as_file().set_len(512 + 600).unwrap();
        let err = index_of(&file).unwrap_err();
        assert_eq!(
            err.to_string(),
            "untarring file \"a.tar\": unexpected EOF in \"index.json\": the archive is truncated"
        );
    }

    #[test]
    fn a_header_cut_short_is_a_truncated_archive() {
        let file = tar_with(&[("a", T::Regular, b"x"), ("b", T::Regular, b"y")]);
        // Inside the second header.
        file.as_file().set_len(1024 + 100).unwrap();
        let err = index_of(&file).unwrap_err();
        assert_eq!(
            err.to_string(),
            "untarring file \"a.tar\": unexpected EOF: the archive is truncated"
        );
    }

    #[test]
    fn a_file_that_is_not_a_tar_is_an_invalid_header() {
        // Whole blocks or not: Go checks the first header block before anything else.
        for length in [3072u32, 2000] {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            let noise: Vec<u8> = (0..length).map(|i| (i * 7919 % 251) as u8).collect();
            io::Write::write_all(&mut file, &noise).unwrap();
            let err = index_of(&file).unwrap_err();
            assert_eq!(
                err.to_string(),
                "untarring file \"a.tar\": archive/tar: invalid tar header",
                "{length} bytes"
            );
        }
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let file = tar_with(&[("f", T::Regular, b"old"), ("./f", T::Regular, b"new!")]);
        let index = index_of(&file).unwrap();
        assert_eq!(index.locate("f").unwrap().1, 4);
    }
}
