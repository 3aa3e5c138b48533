//! The traits between transports and the copy engine.
//!
//! A transport opens an [`ImageSource`] (read side) or an [`ImageDestination`] (write
//! side) for an [`crate::ImageName`]; the copy engine moves manifests and blobs from one
//! to the other as streams, knowing nothing of either transport.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::digest::Digest;
use crate::Result;

/// A blob's bytes, streamed.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// A blob's bytes as the buffers they arrived in (a registry's HTTP body), which a
/// destination can send on as they are: reading them through a [`BlobReader`] copies every
/// byte into buffers of the reader's caller.
pub type BlobChunks =
    Pin<Box<dyn futures_core::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>;

/// A blob kept as `length` bytes of a local file from `offset` (a blob of an `oci:` or
/// `dir:` layout): what a destination may send without reading it through user space.
#[derive(Debug, Clone)]
pub struct FileBlob {
    /// The open file, shared so that the blob can be handed on without reopening it.
    pub file: Arc<std::fs::File>,
    /// Where the blob starts in the file, in bytes.
    pub offset: u64,
    /// The blob's length in bytes.
    pub length: u64,
}

/// Told the number of bytes of a blob sent so far, as they go out.
pub type SentBytes = Arc<dyn Fn(u64) + Send + Sync>;

/// What is known about a blob before reading it (from a manifest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob's digest: what it is fetched by and verified against.
    pub digest: Digest,
    /// `None` when the manifest does not say (schema 1).
    pub size: Option<u64>,
    /// May be empty when unknown.
    pub media_type: String,
}

/// What a destination stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenBlob {
    /// The digest of the blob as stored (another one than the source's when the copy
    /// recompressed it).
    pub digest: Digest,
    /// Its size in bytes as stored.
    pub size: u64,
    /// The destination (a registry) got the blob by mounting it from another repository
    /// rather than having it already or receiving its bytes; reported in progress output.
    pub mounted: bool,
}

impl WrittenBlob {
    /// A blob the destination has or received: `size` bytes with `digest`.
    pub fn new(digest: Digest, size: u64) -> WrittenBlob {
        WrittenBlob {
            digest,
            size,
            mounted: false,
        }
    }
}

/// A blob read from an offset on: what [`ImageSource::blob_from`] returns.
pub struct BlobTail {
    /// The bytes from `offset` to the end of the blob.
    pub reader: BlobReader,
    /// Where `reader` starts: the offset asked for, or 0 when the source sent the whole
    /// blob instead (a server that ignores `Range`).
    pub offset: u64,
    /// The size of the whole blob, when the source says.
    pub size: Option<u64>,
}

/// What a destination wants done to layer compression before layers reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    /// Store layers as they come.
    Preserve,
    /// Compress uncompressed layers (with `--dest-compress-format`, gzip by default).
    Compress,
    /// Store layers uncompressed.
    Decompress,
}

/// The per-side settings that transports read: the equivalent of containers/image's
/// `types.SystemContext`. The CLI fills one for the source and one for the destination.
#[derive(Debug, Clone, Default)]
pub struct SystemContext {
    /// Where large temporary files go (`--tmpdir`); `None` means `/var/tmp`.
    pub tmpdir: Option<PathBuf>,
    /// `--override-os`: the OS used instead of the host's to choose an image from a list.
    pub override_os: Option<String>,
    /// `--override-arch`: the architecture used instead of the host's, likewise.
    pub override_arch: Option<String>,
    /// `--override-variant`: the CPU variant used instead of the host's, likewise.
    pub override_variant: Option<String>,
    /// `oci:` blobs live in this directory instead of the layout's `blobs/`.
    pub oci_shared_blob_dir: Option<PathBuf>,
    /// `--dest-oci-accept-uncompressed-layers`.
    pub oci_accept_uncompressed_layers: bool,
    /// `--dest-compress` for `dir:`.
    pub dir_force_compress: bool,
    /// `--dest-decompress` for `dir:`.
    pub dir_force_decompress: bool,
    /// Registry credentials from the command line (`--creds`, `--username`/`--password`,
    /// `--registry-token`, `--no-creds`); `None` means: look them up in the auth files.
    pub docker_credentials: Option<crate::Credentials>,
    /// `--cert-dir`: CA certificates and client keys for the registry.
    pub docker_cert_dir: Option<PathBuf>,
    /// `--tls-verify`; `None` lets registries.conf (`insecure`) decide.
    pub docker_tls_verify: Option<bool>,
    /// `--authfile` (else `$REGISTRY_AUTH_FILE` and the default files).
    pub auth_file: Option<PathBuf>,
    /// `--registries-conf`: an explicit registries.conf.
    pub registries_conf: Option<PathBuf>,
    /// `--registries.d`: the directory of signature storage (lookaside) configuration.
    pub registries_d: Option<PathBuf>,
    /// The HTTP User-Agent for registries.
    pub user_agent: Option<String>,
    /// For a registry destination: the image being copied, when it comes from a registry,
    /// so that blobs on the same registry can be mounted instead of uploaded.
    pub docker_mount_source: Option<crate::reference::DockerReference>,
    /// `--daemon-host` / `--src-daemon-host` / `--dest-daemon-host` for `docker-daemon:`;
    /// `None` means `$DOCKER_HOST`, else the default socket. The daemon's TLS settings are
    /// `docker_cert_dir` and `docker_tls_verify`, as in skopeo.
    pub docker_daemon_host: Option<String>,
    /// `--dest-precompute-digests`: a registry destination hashes a blob whose digest nobody
    /// knows yet (a layer compressed on the way) into a temporary file first, so that a blob
    /// the registry already has is not uploaded again.
    pub docker_precompute_digests: bool,
    /// `--additional-tag`: more names for the image a `docker-archive:` destination writes.
    pub docker_archive_additional_tags: Vec<crate::reference::DockerReference>,
}

impl SystemContext {
    /// The directory for big temporary files.
    pub fn tmpdir(&self) -> PathBuf {
        self.tmpdir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/tmp"))
    }
}

/// The read side of an image.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// The manifest bytes, exactly as stored, and their MIME type (empty when the
    /// transport does not know it; callers then guess from the bytes). `instance` selects
    /// one image of a manifest list by digest; `None` is the top-level manifest.
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)>;

    /// The digest that names the top-level manifest, when the transport has one: the
    /// digest of a `…@sha256:…` reference, or the descriptor an OCI layout's `index.json`
    /// gives. `None` (a tag in a `dir:` image) means nothing names it. Sources do not check
    /// it themselves: [`crate::verified::VerifiedSource`] does, for every caller.
    fn expected_manifest_digest(&self) -> Option<Digest> {
        None
    }

    /// A blob's bytes and, when known, its size. The stream is not verified here: the
    /// copy engine verifies every digest while streaming.
    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)>;

    /// [`blob`](ImageSource::blob), and the file range the stream reads when the source
    /// keeps the blob in a local file as it is (`None`, the default, otherwise): a
    /// destination passing the blob on unchanged can then send the file itself
    /// ([`ImageDestination::put_file_blob`]).
    async fn blob_with_file(
        &self,
        info: &BlobInfo,
    ) -> Result<(BlobReader, Option<u64>, Option<FileBlob>)> {
        let (reader, size) = self.blob(info).await?;
        Ok((reader, size, None))
    }

    /// [`blob`](ImageSource::blob) as the buffers the bytes arrive in, for a source that
    /// receives them so (a registry): a blob passed on unchanged to a destination that
    /// [checks digests](ImageDestination::checks_blob_digests) then goes out in those buffers
    /// ([`ImageDestination::put_blob_chunks`]). `None` (the default): the source has no such
    /// buffers; use `blob`. Not verified, as `blob`.
    async fn blob_chunks(&self, _info: &BlobInfo) -> Result<Option<(BlobChunks, Option<u64>)>> {
        Ok(None)
    }

    /// Whether [`blob_from`](ImageSource::blob_from) can start in the middle of a blob
    /// (a registry answering HTTP `Range` requests): only then is a partly read blob worth
    /// keeping across restarts. Sources that read local files say `false`.
    fn resumes_blob_reads(&self) -> bool {
        false
    }

    /// A blob's bytes from `offset` on. A source that cannot start there (the default)
    /// returns the whole blob, with [`BlobTail::offset`] 0; the caller then drops what it
    /// kept. Not verified, as [`blob`](ImageSource::blob).
    async fn blob_from(&self, info: &BlobInfo, _offset: u64) -> Result<BlobTail> {
        let (reader, size) = self.blob(info).await?;
        Ok(BlobTail {
            reader,
            offset: 0,
            size,
        })
    }

    /// Signatures of the top-level manifest or of one instance.
    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }

    /// Whether several blobs may be read at once.
    fn has_thread_safe_get_blob(&self) -> bool {
        true
    }

    /// The layers as this source will hand them out, when that differs from what the
    /// manifest says (containers/image's `LayerInfosForCopy`): a store that keeps layers
    /// uncompressed returns their DiffIDs and uncompressed media types, one per manifest
    /// layer; the copy engine then copies these and updates the manifest. `None` (the
    /// default) means the manifest's layers.
    async fn layer_infos_for_copy(
        &self,
        _instance: Option<&Digest>,
    ) -> Result<Option<Vec<BlobInfo>>> {
        Ok(None)
    }

    /// The tags of the image's repository, for transports that have them (`inspect`'s
    /// `RepoTags`); `None` elsewhere.
    async fn repository_tags(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    /// Where this source's blobs are, for the blob-info cache (a registry repository);
    /// `None` for transports whose blobs no other image can reuse.
    fn blob_location(&self) -> Option<crate::blob_info_cache::BlobLocation> {
        None
    }
}

/// The write side of an image. Nothing written becomes visible until [`commit`]
/// succeeds; dropping a destination without committing leaves the target as it was
/// (temporary files are removed).
///
/// [`commit`]: ImageDestination::commit
#[async_trait]
pub trait ImageDestination: Send + Sync {
    /// The manifest MIME types this destination can store, most preferred first; `None`
    /// means any.
    fn supported_manifest_types(&self) -> Option<Vec<&'static str>>;

    /// Whether manifest lists / indexes can be stored.
    fn supports_lists(&self) -> bool {
        match self.supported_manifest_types() {
            None => true,
            Some(types) => types.iter().any(|t| crate::media_type::is_list(t)),
        }
    }

    /// What should happen to layer compression on the way in.
    fn desired_layer_compression(&self) -> LayerCompression {
        LayerCompression::Preserve
    }

    /// `Ok(())` when signatures can be stored, otherwise the reason they cannot.
    fn supports_signatures(&self) -> std::result::Result<(), String> {
        Ok(())
    }

    /// Whether several blobs may be written at once.
    fn has_thread_safe_put_blob(&self) -> bool {
        true
    }

    /// Where a copy into this destination keeps blobs partly read from a source that
    /// [resumes reads](ImageSource::resumes_blob_reads), so that a copy killed and run
    /// again continues them: local destinations name a directory of their user's under
    /// `--tmpdir`; `None` (the default, registries) keeps nothing.
    fn partial_blob_dir(&self) -> Option<PathBuf> {
        None
    }

    /// The file in which this destination itself stages blob `digest`, when a copy may
    /// write a blob read from a source that [resumes reads](ImageSource::resumes_blob_reads)
    /// straight into it: the copy creates it (or finds what a killed copy left there),
    /// appends the source's bytes, verifies the whole blob and hands the file over with
    /// [`put_staged_blob`](ImageDestination::put_staged_blob), so that each byte is written
    /// once and a copy run again after a kill resumes from the file. The name is fixed for
    /// the digest, hidden from readers of the image, and on the file system of the blobs.
    /// `None` (the default): blobs arrive through [`put_blob`](ImageDestination::put_blob)
    /// and partial reads are kept apart, in
    /// [`partial_blob_dir`](ImageDestination::partial_blob_dir).
    fn staging_file(&self, _digest: &Digest) -> Option<PathBuf> {
        None
    }

    /// Store blob `info`, whose bytes (verified against its digest and size by the caller)
    /// are the whole content of [`staging_file`](ImageDestination::staging_file)`(digest)`:
    /// the file is renamed into place, not copied.
    async fn put_staged_blob(&self, info: &BlobInfo) -> Result<WrittenBlob> {
        Err(anyhow::anyhow!(
            "internal error: blob {} was staged in place for a destination that does not stage blobs",
            info.digest
        ))
    }

    /// If the destination already has this blob, what it has; the copy then skips it.
    async fn try_reuse_blob(&self, info: &BlobInfo) -> Result<Option<WrittenBlob>>;

    /// Get ready for blob `info`, which the copy will soon check for
    /// ([`try_reuse_blob`](ImageDestination::try_reuse_blob)) and may then store: the engine
    /// calls this for layers waiting for a transfer slot, so that a destination whose checks
    /// and uploads cost round trips makes them while earlier layers are still being sent,
    /// not when a slot frees. Best effort: a failure is left for the check to meet again.
    /// The default does nothing.
    async fn prepare_blob(&self, _info: &BlobInfo) {}

    /// Where this destination's blobs go, for the blob-info cache: blobs recorded in the
    /// same transport and scope are offered to [`ImageDestination::try_reuse_blob_from`].
    /// `None` (the default) for destinations that cannot take blobs from elsewhere.
    fn blob_location(&self) -> Option<crate::blob_info_cache::BlobLocation> {
        None
    }

    /// Make the blob `info` that the cache saw at `location` (a
    /// [`crate::blob_info_cache::BlobLocation::location`] of this destination's scope)
    /// part of this image, if it is still there (a registry mounts it from another
    /// repository); what was stored, or `None`.
    async fn try_reuse_blob_from(
        &self,
        _info: &BlobInfo,
        _location: &str,
    ) -> Result<Option<WrittenBlob>> {
        Ok(None)
    }

    /// Whether [`put_blob`](ImageDestination::put_blob) with `expected` given refuses a
    /// stream whose content does not match that digest, leaving nothing stored under it (a
    /// registry checks an upload's `?digest=` itself). The engine then does not hash a
    /// blob it passes on unchanged. False (the default): the engine verifies every byte.
    fn checks_blob_digests(&self) -> bool {
        false
    }

    /// Store a blob. `expected` is the digest when it is known in advance (the engine
    /// verifies the stream against it, unless [`checks_blob_digests`] says the destination
    /// does, so the destination need not hash again); when it is `None` (the bytes were
    /// recompressed on the way) the destination computes it.
    /// A stream that ends in an error must leave nothing behind under the blob's name.
    ///
    /// [`checks_blob_digests`]: ImageDestination::checks_blob_digests
    async fn put_blob(
        &self,
        stream: BlobReader,
        expected: Option<&BlobInfo>,
        is_config: bool,
    ) -> Result<WrittenBlob>;

    /// [`put_blob`](ImageDestination::put_blob) of blob `info`, passed on unchanged, whose
    /// bytes are both `stream` and `file`. A destination that [checks blob
    /// digests](ImageDestination::checks_blob_digests) and can send a file without copying
    /// it through user space (a plain-HTTP registry, with `sendfile`) sends `file` and tells
    /// `sent` how far it got; the default, and such a destination when it cannot (TLS, a
    /// proxy), stores `stream` with `put_blob`.
    async fn put_file_blob(
        &self,
        stream: BlobReader,
        _file: FileBlob,
        info: &BlobInfo,
        is_config: bool,
        _sent: SentBytes,
    ) -> Result<WrittenBlob> {
        self.put_blob(stream, Some(info), is_config).await
    }

    /// [`put_blob`](ImageDestination::put_blob) of blob `info`, passed on unchanged, from
    /// the buffers a source received it in ([`ImageSource::blob_chunks`]). Called only when
    /// the destination [checks digests](ImageDestination::checks_blob_digests). A
    /// destination that sends buffers as they are (a registry) takes them; the default
    /// reads them with `put_blob`.
    async fn put_blob_chunks(
        &self,
        chunks: BlobChunks,
        info: &BlobInfo,
        is_config: bool,
    ) -> Result<WrittenBlob> {
        let reader = tokio_util::io::StreamReader::new(chunks);
        self.put_blob(Box::pin(reader), Some(info), is_config).await
    }

    /// Store a manifest: the top-level one when `instance` is `None`, otherwise the
    /// manifest of one image of a list (named by its digest). A destination that cannot
    /// store this type returns an error carrying [`crate::error::ManifestTypeRejected`].
    async fn put_manifest(
        &self,
        manifest: &[u8],
        mime_type: &str,
        instance: Option<&Digest>,
    ) -> Result<()>;

    /// Store signatures for the top-level manifest or one instance.
    async fn put_signatures(&self, signatures: &[Vec<u8>], instance: Option<&Digest>)
        -> Result<()>;

    /// The source's manifest list, when the image being written is the one instance chosen
    /// from it (containers/image's `UnparsedToplevel`). containers-storage stores the list
    /// too, so that the image is also found by the list's digest; other destinations
    /// ignore it. Called before [`commit`](ImageDestination::commit).
    async fn note_source_list(&self, _list: &[u8]) -> Result<()> {
        Ok(())
    }

    /// Make everything written visible, atomically where the transport allows.
    async fn commit(&self) -> Result<()>;
}
