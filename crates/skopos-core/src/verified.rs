//! The one place where a manifest is checked against the digest that names it.
//!
//! Transports read manifests as they are stored and trust nothing; a [`VerifiedSource`]
//! wrapped around any source refuses a manifest whose bytes do not match the digest that
//! named it (a list's instance digest, a `…@sha256:…` reference, an OCI `index.json`
//! descriptor: whatever [`ImageSource::expected_manifest_digest`] says) or that is larger
//! than [`crate::limits::MAX_MANIFEST_BODY`], as containers/image's `UnparsedImage` does.
//! The copy engine, `inspect` and `sync` read every manifest through one.

use std::sync::Arc;

use async_trait::async_trait;

use crate::image::{BlobInfo, BlobReader, ImageSource};
use crate::limits::{check_size, MAX_MANIFEST_BODY};
use crate::manifest::matches_digest;
use crate::{Digest, Result};

/// A manifest's bytes are not the ones its digest names. The text is containers/image's.
#[derive(Debug, thiserror::Error)]
#[error("Manifest does not match provided manifest digest {expected}")]
pub struct ManifestDigestMismatch {
    /// The digest that named the manifest.
    pub expected: Digest,
}

/// An [`ImageSource`] whose manifests are verified before anyone sees them; everything
/// else is passed through unchanged.
pub struct VerifiedSource {
    inner: Arc<dyn ImageSource>,
}

impl VerifiedSource {
    /// `inner`, with its manifests verified.
    pub fn wrap(inner: Arc<dyn ImageSource>) -> Arc<dyn ImageSource> {
        Arc::new(VerifiedSource { inner })
    }
}

/// Checks `bytes`, read as the manifest `expected` names (if anything names it).
pub fn verify_manifest(bytes: &[u8], expected: Option<&Digest>) -> Result<()> {
    check_size(bytes.len() as u64, MAX_MANIFEST_BODY)?;
    if let Some(expected) = expected {
        if !matches_digest(bytes, expected)? {
            return Err(ManifestDigestMismatch {
                expected: expected.clone(),
            }
            .into());
        }
    }
    Ok(())
}

// Every method is forwarded: a trait method with a default that is not listed here would
// silently take the default instead of the wrapped source's answer.
#[async_trait]
impl ImageSource for VerifiedSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        let (bytes, mime) = self.inner.manifest(instance).await?;
        let expected = match instance {
            Some(digest) => Some(digest.clone()),
            None => self.inner.expected_manifest_digest(),
        };
        verify_manifest(&bytes, expected.as_ref())?;
        Ok((bytes, mime))
    }

    fn expected_manifest_digest(&self) -> Option<Digest> {
        self.inner.expected_manifest_digest()
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        self.inner.blob(info).await
    }

    async fn blob_with_file(
        &self,
        info: &BlobInfo,
    ) -> Result<(BlobReader, Option<u64>, Option<crate::FileBlob>)> {
        self.inner.blob_with_file(info).await
    }

    async fn blob_chunks(
        &self,
        info: &BlobInfo,
    ) -> Result<Option<(crate::BlobChunks, Option<u64>)>> {
        self.inner.blob_chunks(info).await
    }

    fn resumes_blob_reads(&self) -> bool {
        self.inner.resumes_blob_reads()
    }

    async fn blob_from(&self, info: &BlobInfo, offset: u64) -> Result<crate::BlobTail> {
        self.inner.blob_from(info, offset).await
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        self.inner.signatures(instance).await
    }

    fn has_thread_safe_get_blob(&self) -> bool {
        self.inner.has_thread_safe_get_blob()
    }

    async fn layer_infos_for_copy(
        &self,
        instance: Option<&Digest>,
    ) -> Result<Option<Vec<BlobInfo>>> {
        self.inner.layer_infos_for_copy(instance).await
    }

    async fn repository_tags(&self) -> Result<Option<Vec<String>>> {
        self.inner.repository_tags().await
    }

    fn blob_location(&self) -> Option<crate::blob_info_cache::BlobLocation> {
        self.inner.blob_location()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that serves fixed manifest bytes and claims a fixed digest for them.
    struct Fixed {
        bytes: Vec<u8>,
        named: Option<Digest>,
    }

    #[async_trait]
    impl ImageSource for Fixed {
        async fn manifest(&self, _instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
            Ok((self.bytes.clone(), String::new()))
        }
        fn expected_manifest_digest(&self) -> Option<Digest> {
            self.named.clone()
        }
        async fn blob(&self, _info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
            anyhow::bail!("no blobs here")
        }
        fn has_thread_safe_get_blob(&self) -> bool {
            false
        }
        async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
            Ok(vec![b"signature".to_vec()])
        }
        async fn layer_infos_for_copy(
            &self,
            _instance: Option<&Digest>,
        ) -> Result<Option<Vec<BlobInfo>>> {
            Ok(Some(Vec::new()))
        }
        async fn repository_tags(&self) -> Result<Option<Vec<String>>> {
            Ok(Some(vec!["t".to_string()]))
        }
        fn blob_location(&self) -> Option<crate::blob_info_cache::BlobLocation> {
            Some(crate::blob_info_cache::BlobLocation {
                transport: "t".to_string(),
                scope: "s".to_string(),
                location: "l".to_string(),
            })
        }
    }

    /// Every answer that is not a manifest is the wrapped source's, not a trait default
    /// (a missed one made containers-storage layers arrive under their compressed digests).
    #[tokio::test]
    async fn forwards_every_other_answer() {
        let source = wrapped(b"{}", None);
        assert!(!source.has_thread_safe_get_blob());
        assert_eq!(
            source.signatures(None).await.unwrap(),
            [b"signature".to_vec()]
        );
        assert_eq!(
            source.layer_infos_for_copy(None).await.unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            source.repository_tags().await.unwrap(),
            Some(vec!["t".to_string()])
        );
        assert_eq!(
            source.blob_location().map(|location| location.location),
            Some("l".to_string())
        );
    }

    fn wrapped(bytes: &[u8], named: Option<Digest>) -> Arc<dyn ImageSource> {
        VerifiedSource::wrap(Arc::new(Fixed {
            bytes: bytes.to_vec(),
            named,
        }))
    }

    #[tokio::test]
    async fn passes_a_manifest_that_matches_or_that_nothing_names() {
        let bytes = br#"{"schemaVersion":2}"#;
        let source = wrapped(bytes, Some(Digest::sha256_of(bytes)));
        assert_eq!(source.manifest(None).await.unwrap().0, bytes);
        let source = wrapped(bytes, None);
        assert_eq!(source.manifest(None).await.unwrap().0, bytes);
    }

    #[tokio::test]
    async fn refuses_a_top_level_manifest_its_digest_does_not_name() {
        let named = Digest::sha256_of(b"other");
        let err = wrapped(br#"{"schemaVersion":2}"#, Some(named.clone()))
            .manifest(None)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Manifest does not match provided manifest digest {named}")
        );
    }

    #[tokio::test]
    async fn refuses_an_instance_that_does_not_match_the_lists_digest() {
        let instance = Digest::sha256_of(b"instance");
        let err = wrapped(br#"{"schemaVersion":2}"#, None)
            .manifest(Some(&instance))
            .await
            .unwrap_err();
        assert!(err.is::<ManifestDigestMismatch>());
    }

    #[tokio::test]
    async fn refuses_a_manifest_past_the_limit() {
        let big = vec![b' '; MAX_MANIFEST_BODY as usize + 1];
        let err = wrapped(&big, None).manifest(None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("exceeded maximum allowed size of {MAX_MANIFEST_BODY} bytes")
        );
    }
}
