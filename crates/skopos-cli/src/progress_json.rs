//! `--progress-json-fd FD`: the copy engine's events as newline-delimited JSON on a file
//! descriptor, each copy closed by a `report` object, for programs that watch a copy.
//! The engine defines the events and builds the report; this only writes them.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use serde::Serialize;
use skopos_copy::{CopyEvent, CopyReport, ProgressSink, ReportBuilder};

/// Writes every event to the descriptor as one JSON line and hands it on to `inner` (the
/// progress bars or plain lines, which stay as they are).
pub(crate) struct JsonProgress {
    out: Arc<Mutex<JsonLines>>,
    inner: Arc<dyn ProgressSink>,
}

struct JsonLines {
    file: File,
    reports: ReportBuilder,
}

/// The line that closes each copy: `{"event":"report", …the report's fields}`.
#[derive(Serialize)]
#[serde(tag = "event", rename = "report")]
struct ReportLine<'a> {
    #[serde(flatten)]
    report: &'a CopyReport,
}

/// The line written when the command fails, with its error message.
#[derive(Serialize)]
#[serde(tag = "event", rename = "error")]
struct ErrorLine<'a> {
    message: &'a str,
}

impl JsonProgress {
    /// Events to descriptor `fd` (inherited from the caller: `3>events.json`, a pipe, or
    /// 2 for stderr), then to `inner`. skopos writes to a duplicate of it: the same open
    /// file (and file offset, so lines land in order with whatever else the caller's
    /// descriptor receives), closed at exit without closing the caller's.
    pub(crate) fn open(fd: u32, inner: Arc<dyn ProgressSink>) -> anyhow::Result<JsonProgress> {
        let invalid = || anyhow!("--progress-json-fd {fd}: not a file descriptor number");
        let raw = i32::try_from(fd).map_err(|_| invalid())?;
        // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor table; on a number that is not
        // an open descriptor it fails with EBADF and touches nothing.
        let duplicate = unsafe { libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 3) };
        if duplicate == -1 {
            let err = std::io::Error::last_os_error();
            return Err(anyhow!("--progress-json-fd {fd}: {err}"));
        }
        // SAFETY: `duplicate` is a new descriptor that nothing else in the process owns.
        let file = File::from(unsafe { OwnedFd::from_raw_fd(duplicate) });
        Ok(JsonProgress {
            out: Arc::new(Mutex::new(JsonLines {
                file,
                reports: ReportBuilder::default(),
            })),
            inner,
        })
    }

    /// Write the command's failure as an `error` line.
    pub(crate) fn error(&self, message: &str) {
        if let Ok(mut out) = self.out.lock() {
            out.write_line(&ErrorLine { message });
        }
    }
}

impl JsonLines {
    /// One object and a newline, in one write so that lines never interleave. A reader
    /// that went away must not fail the copy: write errors are only logged.
    fn write_line(&mut self, value: &impl Serialize) {
        let mut line = match serde_json::to_vec(value) {
            Ok(line) => line,
            Err(err) => {
                tracing::debug!("serializing a progress event: {err}");
                return;
            }
        };
        line.push(b'\n');
        if let Err(err) = self.file.write_all(&line) {
            tracing::debug!("writing a progress event: {err}");
        }
    }
}

impl JsonProgress {
    /// The same JSON writer, handing events on to `inner` instead (one image's output
    /// during a `sync`).
    pub(crate) fn passing_to(&self, inner: Arc<dyn ProgressSink>) -> JsonProgress {
        JsonProgress {
            out: self.out.clone(),
            inner,
        }
    }
}

impl ProgressSink for JsonProgress {
    fn event(&self, event: CopyEvent) {
        if let Ok(mut out) = self.out.lock() {
            out.write_line(&event);
            if let Some(report) = out.reports.observe(&event) {
                out.write_line(&ReportLine { report: &report });
            }
        }
        self.inner.event(event);
    }
}
