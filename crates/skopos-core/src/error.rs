//! Errors. skopos uses `anyhow` chains for context ("what failed and why"); the few
//! conditions that callers must tell apart are typed so that they can be found with
//! `anyhow::Error::downcast_ref` or by walking the chain.

/// The result type used throughout skopos.
pub type Result<T, E = anyhow::Error> = std::result::Result<T, E>;

/// The requested image (or manifest, or repository) does not exist. The CLI exits with
/// status 2 when this is anywhere in an error's chain, as skopeo does.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImageNotFound(pub String);

/// Whether `err` (or anything it wraps) is an [`ImageNotFound`].
pub fn is_image_not_found(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<ImageNotFound>())
}

/// A destination refused a manifest of a particular type; the copy engine then tries the
/// next candidate format, as skopeo does.
#[derive(Debug, thiserror::Error)]
#[error("manifest type {mime_type} rejected: {reason}")]
pub struct ManifestTypeRejected {
    /// The manifest type the destination refused.
    pub mime_type: String,
    /// Why, as the destination said it.
    pub reason: String,
}
