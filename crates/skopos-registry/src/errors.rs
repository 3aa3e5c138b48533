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
    /// Only whether it is there, and not null, matters.
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

/// The error codes containers/image knows (the docker/distribution packages it builds with
/// register them), each with its default message. Any other code is `UNKNOWN` there.
const KNOWN_CODES: [(&str, &str); 19] = [
    ("UNKNOWN", "unknown error"),
    ("UNSUPPORTED", "The operation is unsupported."),
    ("UNAUTHORIZED", "authentication required"),
    ("DENIED", "requested access to the resource is denied"),
    ("UNAVAILABLE", "service unavailable"),
    ("TOOMANYREQUESTS", "too many requests"),
    (
        "DIGEST_INVALID",
        "provided digest did not match uploaded content",
    ),
    (
        "SIZE_INVALID",
        "provided length did not match content length",
    ),
    ("NAME_INVALID", "invalid repository name"),
    ("TAG_INVALID", "manifest tag did not match URI"),
    ("NAME_UNKNOWN", "repository name not known to registry"),
    ("MANIFEST_UNKNOWN", "manifest unknown"),
    ("MANIFEST_INVALID", "manifest invalid"),
    (
        "MANIFEST_UNVERIFIED",
        "manifest failed signature verification",
    ),
    ("MANIFEST_BLOB_UNKNOWN", "blob unknown to registry"),
    ("BLOB_UNKNOWN", "blob unknown to registry"),
    ("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"),
    ("BLOB_UPLOAD_INVALID", "blob upload invalid"),
    (
        "PAGINATION_NUMBER_INVALID",
        "invalid number of results requested",
    ),
];

/// `code` and its default message as containers/image knows them: `UNKNOWN`'s for a code it
/// does not know.
fn known_code(code: &str) -> (&'static str, &'static str) {
    KNOWN_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .copied()
        .unwrap_or(KNOWN_CODES[0])
}

impl ErrorEntry {
    /// The entry as skopeo 1.22 words it. The code reads as lowercase words (`manifest
    /// unknown`), an unknown code as `unknown`. An entry with no detail whose message is empty
    /// or the code's default is the code alone; with a detail, the default message stands
    /// alone (containers/image drops the redundant code); any other message follows the
    /// code: `denied: not allowed to push here`.
    fn text(&self) -> String {
        let (code, default) = known_code(&self.code);
        let words = code.to_ascii_lowercase().replace('_', " ");
        let has_detail = self.detail.as_ref().is_some_and(|detail| !detail.is_null());
        let is_default = self.message.is_empty() || self.message == default;
        match (has_detail, is_default) {
            (false, true) => words,
            (true, true) if !self.message.is_empty() => self.message.clone(),
            _ => format!("{words}: {}", self.message),
        }
    }
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
    /// A 404 is an ordinary error (blobs, uploads, tag lists); only the `MANIFEST_UNKNOWN`
    /// code still marks the image as missing.
    IsPlainError,
}

/// The error for a response with an unexpected status, its body parsed when it is the
/// registry's JSON error format.
pub(crate) async fn response_error(response: Response, not_found: NotFound) -> anyhow::Error {
    let status = response.status();
    let challenge = if status == StatusCode::UNAUTHORIZED {
        challenge_error(response.headers())
    } else {
        None
    };
    let body = read_limited(response).await;
    match challenge {
        Some(first) => error_from_entry(status, Some(first.code.clone()), first.text(), not_found),
        None => error_from_parts(status, &body, not_found),
    }
}

/// The error a `401`'s Bearer challenge names (RFC 6750: `error="invalid_token"` or
/// `"insufficient_scope"`), which containers/image puts before the body's errors and so
/// shows; `None` when no challenge names one.
fn challenge_error(headers: &http::HeaderMap) -> Option<ErrorEntry> {
    let challenges = headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(crate::challenge::parse);
    for challenge in challenges {
        if challenge.scheme != "bearer" {
            continue;
        }
        let code = match challenge.params.get("error").map(String::as_str) {
            Some("invalid_token") => "UNAUTHORIZED",
            Some("insufficient_scope") => "DENIED",
            _ => continue,
        };
        let (_, default) = known_code(code);
        let message = challenge
            .params
            .get("error_description")
            .filter(|description| !description.is_empty())
            .map_or(default, String::as_str);
        // Made in place, not parsed: worded as an entry with a detail is.
        return Some(ErrorEntry {
            code: code.to_string(),
            message: message.to_string(),
            detail: Some(serde_json::Value::Bool(true)),
        });
    }
    None
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
    match entry {
        Some(entry) => {
            let message = entry.text();
            error_from_entry(status, Some(entry.code), message, not_found)
        }
        None => error_from_entry(status, None, status_message(status), not_found),
    }
}

/// The error for a response with `status` whose first error has `code` (if any) and reads
/// `message`.
fn error_from_entry(
    status: StatusCode,
    code: Option<String>,
    message: String,
    not_found: NotFound,
) -> anyhow::Error {
    // Rate limits and server-side failures may pass: `--retry-times` retries them (the
    // client itself only retries 429/502–504, and only requests without a body).
    if is_transient_status(status) || status.is_server_error() {
        return anyhow::Error::new(Transient(message));
    }
    // skopeo's exit status 2 is for MANIFEST_UNKNOWN alone: a repository the registry does
    // not know (NAME_UNKNOWN) fails with status 1 there.
    let image_missing = code.as_deref() == Some("MANIFEST_UNKNOWN")
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
        assert_eq!(err.to_string(), "manifest unknown");
        assert!(skopos_core::error::is_image_not_found(&err));

        let body = br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#;
        let err = error_from_parts(StatusCode::FORBIDDEN, body, NotFound::IsImageNotFound);
        assert_eq!(err.to_string(), "denied");
        let registry_error = err.downcast_ref::<RegistryError>().unwrap();
        assert_eq!(registry_error.code.as_deref(), Some("DENIED"));
        assert_eq!(registry_error.status, 403);
        assert!(RegistryError::unauthorized_in(&err).is_none());
    }

    /// Each way containers/image words an entry, from its code, message and detail.
    #[test]
    fn entries_are_worded_as_in_skopeo_1_22() {
        let text = |body: &str| {
            error_from_parts(
                StatusCode::BAD_REQUEST,
                body.as_bytes(),
                NotFound::IsPlainError,
            )
            .to_string()
        };
        let cases = [
            (
                r#"{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"a"}}"#,
                "repository name not known to registry",
            ),
            (
                r#"{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":null}"#,
                "name unknown",
            ),
            (r#"{"code":"NAME_UNKNOWN","message":""}"#, "name unknown"),
            (
                r#"{"code":"NAME_UNKNOWN","message":"","detail":{"name":"a"}}"#,
                "name unknown: ",
            ),
            (
                r#"{"code":"DENIED","message":"not yours","detail":{"x":1}}"#,
                "denied: not yours",
            ),
            (
                r#"{"code":"DENIED","message":"not yours"}"#,
                "denied: not yours",
            ),
            (
                r#"{"code":"NOT_FOUND","message":"artifact a:b not found"}"#,
                "unknown: artifact a:b not found",
            ),
            (
                r#"{"code":"NOT_FOUND","message":"unknown error"}"#,
                "unknown",
            ),
        ];
        for (entry, expected) in cases {
            assert_eq!(
                text(&format!(r#"{{"errors":[{entry}]}}"#)),
                expected,
                "{entry}"
            );
        }
        // A repository the registry does not know is no missing image (exit status 1).
        let body = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;
        let err = error_from_parts(StatusCode::NOT_FOUND, body, NotFound::IsPlainError);
        assert!(!skopos_core::error::is_image_not_found(&err));
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
