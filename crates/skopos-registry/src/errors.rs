//! Turning a registry's error responses into skopeo-like messages, with the markers that
//! callers act on: [`ImageNotFound`] (exit status 2) and [`Transient`] (retry).

use http::StatusCode;
use serde::Deserialize;
use skopos_core::retry::Transient;
use skopos_core::ImageNotFound;

use crate::http_client::Response;

/// Only this much of an error body is read for its message; the rest is dropped.
const MAX_ERROR_BODY: usize = skopos_core::limits::MAX_ERROR_BODY as usize;

/// A registry refused a request. Its text is what skopeo prints, e.g.
/// `denied: requested access to the resource is denied`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct RegistryError {
    /// The HTTP status.
    pub status: u16,
    /// The first error code of the JSON body (`MANIFEST_INVALID`, `DENIED`, …), if any.
    pub code: Option<String>,
    /// The message shown to users.
    pub message: String,
}

impl RegistryError {
    /// The registry's refusal of the credentials (HTTP 401, from the registry or its token
    /// server) in `err`'s chain, if any: containers/image's `ErrUnauthorizedForCredentials`.
    pub fn unauthorized_in(err: &anyhow::Error) -> Option<&RegistryError> {
        err.chain()
            .filter_map(|cause| cause.downcast_ref::<RegistryError>())
            .find(|registry_error| registry_error.status == StatusCode::UNAUTHORIZED.as_u16())
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Statuses after which the same request may well succeed.
pub(crate) fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// What a failed response means for the request that got it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// A 404 means the image (manifest or repository) does not exist.
    IsImageNotFound,
    /// A 404 is an ordinary error (blobs, uploads); only `NAME_UNKNOWN`/`MANIFEST_UNKNOWN`
    /// codes still mark the image as missing.
    IsPlainError,
}

/// The error for a response with an unexpected status, its body parsed when it is the
/// registry's JSON error format.
pub(crate) async fn response_error(response: Response, not_found: NotFound) -> anyhow::Error {
    let status = response.status();
    let body = read_limited(response).await;
    error_from_parts(status, &body, not_found)
}

/// [`response_error`] on an already read body.
pub(crate) fn error_from_parts(
    status: StatusCode,
    body: &[u8],
    not_found: NotFound,
) -> anyhow::Error {
    let entry = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|parsed| parsed.errors.into_iter().find(|e| !e.code.is_empty()));
    let (code, message) = match entry {
        Some(entry) => {
            // docker/distribution's errcode formatting: the code in lowercase words,
            // then the message, e.g. "manifest unknown: manifest unknown".
            let words = entry.code.to_ascii_lowercase().replace('_', " ");
            let message = if entry.message.is_empty() {
                words
            } else {
                format!("{words}: {}", entry.message)
            };
            (Some(entry.code), message)
        }
        None => (None, status_message(status)),
    };
    // Rate limits and server-side failures may pass: `--retry-times` retries them (the
    // client itself only retries 429/502–504, and only requests without a body).
    if is_transient_status(status) || status.is_server_error() {
        return anyhow::Error::new(Transient(message));
    }
    let image_missing = matches!(code.as_deref(), Some("MANIFEST_UNKNOWN" | "NAME_UNKNOWN"))
        || (status == StatusCode::NOT_FOUND && not_found == NotFound::IsImageNotFound);
    if image_missing {
        return anyhow::Error::new(ImageNotFound(message));
    }
    anyhow::Error::new(RegistryError {
        status: status.as_u16(),
        code,
        message,
    })
}

/// The message for a status without a usable body.
pub(crate) fn status_message(status: StatusCode) -> String {
    match status {
        StatusCode::UNAUTHORIZED => "unauthorized: authentication required".to_string(),
        StatusCode::FORBIDDEN => "denied: requested access to the resource is denied".to_string(),
        _ => format!(
            "invalid status code from registry {} ({})",
            status.as_u16(),
            status.canonical_reason().unwrap_or("unknown status")
        ),
    }
}

async fn read_limited(mut response: Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ERROR_BODY.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ERROR_BODY {
            break;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_credentials_is_found_under_context() {
        let err = error_from_parts(StatusCode::UNAUTHORIZED, b"", NotFound::IsPlainError)
            .context("unable to retrieve auth token: invalid username/password")
            .context("authenticating");
        let found = RegistryError::unauthorized_in(&err).map(|e| e.message.as_str());
        assert_eq!(found, Some("unauthorized: authentication required"));
        let other = error_from_parts(StatusCode::FORBIDDEN, b"", NotFound::IsPlainError);
        assert!(RegistryError::unauthorized_in(&other).is_none());
    }

    #[test]
    fn formats_registry_error_codes_like_skopeo() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        let err = error_from_parts(StatusCode::NOT_FOUND, body, NotFound::IsPlainError);
        assert_eq!(err.to_string(), "manifest unknown: manifest unknown");
        assert!(skopos_core::error::is_image_not_found(&err));

        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
        let err = error_from_parts(StatusCode::FORBIDDEN, body, NotFound::IsImageNotFound);
        assert_eq!(
            err.to_string(),
            "denied: requested access to the resource is denied"
        );
        let registry_error = err.downcast_ref::<RegistryError>().unwrap();
        assert_eq!(registry_error.code.as_deref(), Some("DENIED"));
        assert_eq!(registry_error.status, 403);
        assert!(RegistryError::unauthorized_in(&err).is_none());
    }

    #[test]
    fn bodiless_statuses() {
        let err = error_from_parts(StatusCode::UNAUTHORIZED, b"", NotFound::IsImageNotFound);
        assert_eq!(err.to_string(), "unauthorized: authentication required");
        let err = error_from_parts(StatusCode::NOT_FOUND, b"", NotFound::IsImageNotFound);
        assert!(skopos_core::error::is_image_not_found(&err));
        assert_eq!(
            err.to_string(),
            "invalid status code from registry 404 (Not Found)"
        );
        let err = error_from_parts(StatusCode::NOT_FOUND, b"", NotFound::IsPlainError);
        assert!(!skopos_core::error::is_image_not_found(&err));
        let err = error_from_parts(StatusCode::SERVICE_UNAVAILABLE, b"", NotFound::IsPlainError);
        assert!(err.downcast_ref::<Transient>().is_some());
        assert!(skopos_core::retry::is_retryable(&err));
    }
}
