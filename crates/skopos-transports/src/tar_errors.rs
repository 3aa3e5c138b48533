//! Why the `tar` crate could not read an archive, in the words of Go's `archive/tar`, which
//! skopeo prints. The crate's own messages can quote raw header bytes: binary, over several
//! lines, and whatever the file handed over as an archive holds.

use std::io;

use skopos_core::tar_headers::{TarHeaderTooLong, INVALID_TAR_HEADER};

use crate::fsutil::go_error_text;

/// Why reading a tar's headers failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TarReadFailure {
    /// The archive ends inside a header block (Go: `unexpected EOF`); each reader says it
    /// in its transport's words.
    Truncated,
    /// Anything else, as Go words it: a header that is not one (`archive/tar: invalid tar
    /// header`), a header record past its limit, an I/O error.
    Other(String),
}

/// What `err`, from the `tar` crate's entry iterator, means. A whole header block that
/// does not check out is invalid, as in Go, however long the file is; one cut short is the
/// end of a truncated archive.
pub(crate) fn tar_read_failure(err: &io::Error) -> TarReadFailure {
    let too_long = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TarHeaderTooLong>());
    if let Some(too_long) = too_long {
        return TarReadFailure::Other(too_long.to_string());
    }
    if err.raw_os_error().is_some() {
        return TarReadFailure::Other(go_error_text(err));
    }
    // The tar crate reports a header block cut short in words of its own.
    if err.kind() == io::ErrorKind::UnexpectedEof
        || err.to_string().contains("failed to read entire block")
    {
        TarReadFailure::Truncated
    } else {
        TarReadFailure::Other(INVALID_TAR_HEADER.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first entry of `bytes` read as a tar, or why it could not be.
    fn first_entry_failure(bytes: &[u8]) -> TarReadFailure {
        let mut archive = tar::Archive::new(bytes);
        let mut entries = archive.entries().expect("entries");
        let err = entries
            .next()
            .expect("an entry or an error")
            .err()
            .expect("an error");
        tar_read_failure(&err)
    }

    #[test]
    fn a_block_that_is_no_header_is_invalid_whatever_the_length() {
        for length in [512, 2000, 3072] {
            let noise: Vec<u8> = (0..length).map(|i| (i * 7919 % 251) as u8).collect();
            assert_eq!(
                first_entry_failure(&noise),
                TarReadFailure::Other(INVALID_TAR_HEADER.to_string()),
                "{length} bytes"
            );
        }
    }

    #[test]
    fn text_is_not_quoted_into_the_reason() {
        let text =
            b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                .repeat(10);
        assert_eq!(
            first_entry_failure(&text),
            TarReadFailure::Other(INVALID_TAR_HEADER.to_string())
        );
    }

    #[test]
    fn a_header_block_cut_short_is_a_truncation() {
        let mut header = tar::Header::new_gnu();
        header.set_path("a").expect("a short name");
        header.set_size(0);
        header.set_cksum();
        assert_eq!(
            first_entry_failure(&header.as_bytes()[..300]),
            TarReadFailure::Truncated
        );
    }
}
