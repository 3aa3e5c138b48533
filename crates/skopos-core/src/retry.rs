//! `--retry-times` / `--retry-delay`: retry a whole operation when its error is one that
//! may go away (containers/common's `pkg/retry` notion of retryable errors).

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::Result;

/// How often and how long to wait between attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryOptions {
    /// Extra attempts after the first (`--retry-times`, default 0).
    pub max_retries: u32,
    /// Fixed delay; `None` means exponential: 2^attempt seconds (`--retry-delay 0`).
    pub delay: Option<Duration>,
}

/// Run `operation` until it succeeds, fails with an error that is not retryable, or the
/// retries are used up.
pub async fn with_retry<T, F, Fut>(options: RetryOptions, mut operation: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match operation().await {
            Ok(value) => return Ok(value),
            Err(err) if attempt < options.max_retries && is_retryable(&err) => {
                let delay = options
                    .delay
                    .unwrap_or_else(|| Duration::from_secs(1u64 << attempt.min(16)));
                tracing::warn!(
                    "Failed, retrying in {}s ... ({}/{}). Error: {err:#}",
                    delay.as_secs_f64(),
                    attempt + 1,
                    options.max_retries
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Errors worth another attempt: network failures that may be transient. Anything that
/// says the input is wrong (not found, bad digest, denied) is final.
pub fn is_retryable(err: &anyhow::Error) -> bool {
    if crate::error::is_image_not_found(err) {
        return false;
    }
    err.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::NetworkDown
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::ResourceBusy
            );
        }
        cause.downcast_ref::<Transient>().is_some()
    })
}

/// Marks an error as transient (e.g. an HTTP 502–504 or 429 from a registry), so that
/// [`is_retryable`] retries it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn retries_transient_errors_then_succeeds() {
        let calls = AtomicU32::new(0);
        let options = RetryOptions {
            max_retries: 2,
            delay: Some(Duration::from_millis(1)),
        };
        let value = with_retry(options, || async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(anyhow::Error::new(io::Error::from(
                    io::ErrorKind::ConnectionReset,
                )))
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn does_not_retry_final_errors() {
        let calls = AtomicU32::new(0);
        let options = RetryOptions {
            max_retries: 3,
            delay: Some(Duration::from_millis(1)),
        };
        let result: Result<()> = with_retry(options, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(anyhow::Error::new(crate::ImageNotFound("gone".into())))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_after_the_retries() {
        let calls = AtomicU32::new(0);
        let options = RetryOptions {
            max_retries: 1,
            delay: Some(Duration::from_millis(1)),
        };
        let result: Result<()> = with_retry(options, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(anyhow::Error::new(Transient("502 Bad Gateway".into())))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
