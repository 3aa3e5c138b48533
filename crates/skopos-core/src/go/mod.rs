//! Go compatibility: skopeo is written in Go, and users (and scripts, and tests against
//! skopeo) see Go's standard library in its output and error messages. These helpers
//! reproduce that behaviour byte for byte, so that skopos's output, errors and the JSON it
//! writes (hence digests) are identical to skopeo's:
//!
//! - [`text`]: `strconv` (`%q` quoting, `Atoi`, `ParseBool`, `ParseInt`), `syscall.Errno`
//!   texts and `path.Clean`/`path.Join`;
//! - [`time`]: `time.Time` as image JSON carries it (RFC 3339 parsing and printing);
//! - [`json`]: `encoding/json`'s writer (escaping, indentation) and its field semantics
//!   (`null`, `omitempty`, `struct{}`, `[]byte`).

pub mod json;
pub mod text;
pub mod time;
