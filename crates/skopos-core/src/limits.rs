//! How much skopos reads of data that comes from outside before refusing it, so that a
//! hostile or broken source cannot make it read (and hold in memory) without end. The
//! sizes are containers/image's (`internal/iolimits`) where it has one; every reader of a
//! manifest, config, token, tag list or error body takes its bound from here.

use tokio::io::{AsyncRead, AsyncReadExt};

const MIB: u64 = 1 << 20;

/// A manifest or manifest list (the registry's own limit, and containers/image's).
pub const MAX_MANIFEST_BODY: u64 = 4 * MIB;
/// An image config blob.
pub const MAX_CONFIG_BODY: u64 = 4 * MIB;
/// A token server's answer.
pub const MAX_AUTH_TOKEN_BODY: u64 = MIB;
/// The body of an error response, read for its message.
pub const MAX_ERROR_BODY: u64 = MIB;
/// A `docker save` archive's `manifest.json`.
pub const MAX_TAR_MANIFEST: u64 = MIB;
/// One page of a registry's tag list. containers/image has no bound here; this one allows
/// several hundred thousand tags in a registry that does not paginate.
pub const MAX_TAG_LIST_PAGE: u64 = 16 * MIB;
/// How many `Link: rel="next"` pages of a tag list are followed before giving up.
pub const MAX_TAG_LIST_PAGES: usize = 10_000;
/// How many `Link: rel="next"` pages of one subject's referrers (OCI 1.1 referrers API)
/// are followed before giving up: as many as for a tag list, each page being at most a
/// manifest's size.
pub const MAX_REFERRERS_PAGES: usize = 10_000;
/// How many referrers of one subject are kept from the referrers API's pages: far more
/// than any image carries, few enough that a registry that never stops listing cannot
/// fill memory.
pub const MAX_REFERRERS: usize = 100_000;
/// A configuration file: policy.json, auth.json, registries.conf and its drop-ins, a
/// registries.d YAML, storage.conf, a kubeconfig, certificates and keys. containers/image
/// reads them whole and unbounded; real ones are kilobytes, so this only stops a wrong path
/// (a disk image, `/dev/zero`) from being read into memory.
pub const MAX_CONFIG_FILE: u64 = 16 * MIB;
/// A PAX extended header or a GNU long name or long link record in a tar: Go's
/// `archive/tar` `maxSpecialFileSize`. The `tar` crate reads these whole into memory, so
/// every tar reader refuses a larger one from its header, before reading it
/// ([`crate::tar_headers::TarHeaderGuard`]).
pub const MAX_TAR_SPECIAL_FILE: u64 = MIB;
/// An OCI layout's `index.json`: about 300 bytes per tagged image, so this allows a layout
/// of some hundred thousand tags.
pub const MAX_OCI_INDEX: u64 = 64 * MIB;

/// Data was longer than the limit for its kind. Its text is containers/image's.
#[derive(Debug, thiserror::Error)]
#[error("exceeded maximum allowed size of {limit} bytes")]
pub struct LimitExceeded {
    /// The limit, in bytes.
    pub limit: u64,
}

/// `Err(LimitExceeded)` when a size known in advance (a descriptor's, a file's, a
/// `Content-Length`) is past `limit`, so that nothing is read at all.
pub fn check_size(size: u64, limit: u64) -> Result<(), LimitExceeded> {
    if size > limit {
        return Err(LimitExceeded { limit });
    }
    Ok(())
}

/// Everything `reader` gives, refused with [`LimitExceeded`] as soon as it is longer than
/// `limit`: at most `limit + 1` bytes are ever read.
pub async fn read_at_most<R: AsyncRead + Unpin>(reader: R, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes).await?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(LimitExceeded { limit }));
    }
    Ok(bytes)
}

/// A small file's bytes, refused with [`LimitExceeded`] when it is larger than `limit`
/// (checked before reading, and again while reading, in case the file grows).
pub async fn read_file_at_most(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    check_size(size, limit).map_err(std::io::Error::other)?;
    read_at_most(file, limit).await
}

/// [`read_file_at_most`] for callers that are not asynchronous (configuration is read
/// before any network work starts). Errors keep their [`std::io::ErrorKind`], so a missing
/// file is still `NotFound`.
pub fn read_file_at_most_blocking(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    check_size(size, limit).map_err(std::io::Error::other)?;
    let mut bytes = Vec::new();
    // Checked again while reading: a pipe or device reports no size, and a file can grow.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(LimitExceeded { limit }));
    }
    Ok(bytes)
}

/// Go's `os.ReadFile` with a bound: errors name the failing step and path as Go words them
/// (`open P: no such file or directory`, `read P: exceeded maximum allowed size of N bytes`).
pub fn read_file_like_go(path: &std::path::Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    use crate::go::text::go_errno_text;
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|err| anyhow::anyhow!("open {}: {}", path.display(), go_errno_text(&err)))?;
    let read_error =
        |err: std::io::Error| anyhow::anyhow!("read {}: {}", path.display(), go_errno_text(&err));
    let size = file.metadata().map_err(read_error)?.len();
    check_size(size, limit).map_err(|err| read_error(std::io::Error::other(err)))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(read_error(std::io::Error::other(LimitExceeded { limit })));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let data = vec![7u8; 10];
        assert_eq!(read_at_most(&data[..], 10).await.unwrap(), data);
        let err = read_at_most(&data[..], 9).await.unwrap_err();
        assert_eq!(err.to_string(), "exceeded maximum allowed size of 9 bytes");
    }

    #[tokio::test]
    async fn stops_reading_an_endless_stream_just_past_the_limit() {
        let mut endless = tokio::io::repeat(b'x');
        let err = read_at_most(&mut endless, 1000).await.unwrap_err();
        assert!(err.get_ref().is_some_and(|e| e.is::<LimitExceeded>()));
    }

    #[tokio::test]
    async fn refuses_a_large_file_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        assert_eq!(read_file_at_most(&path, 100).await.unwrap().len(), 100);
        let err = read_file_at_most(&path, 99).await.unwrap_err();
        assert_eq!(err.to_string(), "exceeded maximum allowed size of 99 bytes");
    }

    #[test]
    fn blocking_read_refuses_a_large_file_and_an_endless_device() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![0u8; 100]).unwrap();
        assert_eq!(read_file_at_most_blocking(&path, 100).unwrap().len(), 100);
        let err = read_file_at_most_blocking(&path, 99).unwrap_err();
        assert_eq!(err.to_string(), "exceeded maximum allowed size of 99 bytes");
        // /dev/zero has no size to check first: the read itself stops past the limit.
        let err = read_file_at_most_blocking(std::path::Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(
            err.to_string(),
            "exceeded maximum allowed size of 4096 bytes"
        );
        let missing = read_file_at_most_blocking(&dir.path().join("missing"), 1).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    }
}
