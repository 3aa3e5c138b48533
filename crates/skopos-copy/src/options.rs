//! What a copy should do, independent of any command line.

use std::sync::Arc;

use skopos_core::blob_info_cache::BlobInfoCache;
use skopos_core::compression::Compression;
use skopos_core::platform::Platform;
use skopos_core::reference::DockerReference;
use skopos_core::{Digest, ImageSource, Result};
use skopos_crypt::{DecryptConfig, EncryptConfig};

/// Which images of a manifest list to copy (`--multi-arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageListSelection {
    /// Only the image for `CopyOptions::platform`; the list itself is not copied.
    #[default]
    System,
    /// Every image and the list.
    All,
    /// The list alone, none of its images.
    IndexOnly,
}

/// Options for [`crate::copy_image`].
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// `--multi-arch`: what to copy when the source is a list.
    pub image_list_selection: ImageListSelection,
    /// The platform used to pick an image from a list (`--override-*` applied).
    pub platform: Platform,
    /// `--format`: the only manifest type to write (skopeo lets it override what the
    /// destination declares it supports).
    pub force_manifest_type: Option<&'static str>,
    /// `--preserve-digests`: refuse anything that would change a manifest digest.
    pub preserve_digests: bool,
    /// `--remove-signatures`.
    pub remove_signatures: bool,
    /// `--dest-compress-format`; `None` means gzip where compression is wanted.
    pub compression_format: Option<Compression>,
    /// `--dest-compress-level`.
    pub compression_level: Option<i32>,
    /// `--dest-force-compress-format`: blobs the destination already has are reused only
    /// when they are in `compression_format`.
    pub force_compression_format: bool,
    /// `--image-parallel-copies`: layers copied at once.
    pub max_parallel_blobs: usize,
    /// The destination's docker reference, for manifest formats that embed one.
    pub destination_reference: Option<DockerReference>,
    /// How to name the destination in messages (`transport:reference`).
    pub destination_name: String,
    /// How to name the source in messages (`transport:reference`).
    pub source_name: String,
    /// The trust policy each copied image must satisfy; `None` accepts every image (the
    /// CLI always sets one, `--insecure-policy` being an accept-anything policy).
    pub source_policy: Option<Arc<dyn SourcePolicy>>,
    /// Signers adding a new signature to every manifest written (each image, and the
    /// list itself when a list is copied), after the copied signatures.
    pub signers: Vec<Arc<dyn ManifestSigner>>,
    /// `--encryption-key` / `--encrypt-layer`: encrypt layers for these recipients.
    pub encryption: Option<LayerEncryptionOptions>,
    /// `--decryption-key`: decrypt encrypted layers with these keys.
    pub decryption: Option<Arc<DecryptConfig>>,
    /// What earlier copies learned about blobs, and where this copy records what it
    /// learns; `None` copies without one.
    pub blob_info_cache: Option<Arc<dyn BlobInfoCache>>,
    /// Shared by copies running at once to one registry, so that each blob they have in
    /// common is written once (the others then reuse it); `None` for a lone copy.
    pub blob_claims: Option<Arc<crate::BlobClaims>>,
}

/// Which layers to encrypt, and for whom.
#[derive(Debug, Clone)]
pub struct LayerEncryptionOptions {
    /// The recipients' keys (`--encryption-key`), each of whom can decrypt every
    /// encrypted layer.
    pub recipients: Arc<EncryptConfig>,
    /// Layer indices (negative ones count from the end); empty means every layer.
    pub layers: Vec<i64>,
}

/// Makes a new signature for a manifest the copy wrote (`--sign-by` and friends). The
/// signer knows the identity to sign for; the engine knows nothing of signature formats.
#[async_trait::async_trait]
pub trait ManifestSigner: Send + Sync + std::fmt::Debug {
    /// What the copy prints while this signer works, e.g. "Signing image using simple
    /// signing".
    fn progress_message(&self) -> String;
    /// A new signature of `manifest`, as the destination stores it.
    async fn sign(&self, manifest: &[u8]) -> Result<Vec<u8>>;
}

/// Decides whether a source image may be copied: containers/image's
/// `IsRunningImageAllowed`, asked for each image copied (the chosen instance of a list,
/// or every instance with `--all`) before anything about it is read or written.
#[async_trait::async_trait]
pub trait SourcePolicy: Send + Sync + std::fmt::Debug {
    /// `Ok` when the image may be copied; otherwise why not. `instance` is the image's
    /// digest when it is an instance of a list, `manifest` its manifest; the image's
    /// signatures are `source.signatures(instance)`.
    async fn check(
        &self,
        source: &dyn ImageSource,
        instance: Option<&Digest>,
        manifest: &[u8],
    ) -> Result<()>;
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            image_list_selection: ImageListSelection::System,
            platform: Platform::wanted(None, None, None),
            force_manifest_type: None,
            preserve_digests: false,
            remove_signatures: false,
            compression_format: None,
            compression_level: None,
            force_compression_format: false,
            max_parallel_blobs: DEFAULT_PARALLEL_BLOBS,
            destination_reference: None,
            destination_name: "the destination".to_string(),
            source_name: "the source".to_string(),
            source_policy: None,
            signers: Vec::new(),
            encryption: None,
            decryption: None,
            blob_info_cache: None,
            blob_claims: None,
        }
    }
}

/// containers/image's default for concurrent layer copies.
pub const DEFAULT_PARALLEL_BLOBS: usize = 6;
