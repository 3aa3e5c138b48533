//! The checksum tar-split records for each file's payload (vbatts/tar-split, as
//! containers/storage writes and checks it): CRC-64 with Go's `crc64.ISO` table. It sees
//! every byte of every file a layer holds, whether the layer is written as zstd:chunked or
//! applied to and read back from containers-storage, so it is computed sixteen bytes per
//! step (a 32 KiB table; Go's `crc64` takes eight): the crc crate's default, a byte at a
//! time, cost over a second of CPU per 512 MiB.

/// The lookup table [`CRC64_ISO`] computes with.
pub type Crc64Table = crc::Table<16>;

/// tar-split's CRC-64 (`crc64.ISO`).
pub static CRC64_ISO: crc::Crc<u64, Crc64Table> =
    crc::Crc::<u64, Crc64Table>::new(&crc::CRC_64_GO_ISO);

/// A CRC-64 being computed over a file's payload, piece by piece.
pub type Crc64Digest = crc::Digest<'static, u64, Crc64Table>;
