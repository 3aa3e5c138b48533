//! `skopos copy SOURCE-IMAGE DESTINATION-IMAGE`: flags → transports and copy options →
//! the copy engine, with skopeo's progress output and `--digestfile`.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context as _};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use skopos_copy::{
    copy_image, BlobKind, CopyEvent, CopyOptions, ImageListSelection, LayerEncryptionOptions,
    NoProgress, ProgressSink, SourcePolicy,
};
use skopos_core::compression::Compression;
use skopos_core::media_type;
use skopos_core::retry::{with_retry, RetryOptions};
use skopos_core::{Digest, ImageName, ImageSource, SystemContext};
use skopos_crypt::{DecryptConfig, EncryptConfig};
use skopos_policy::Policy;

use crate::cli::RegistryFlags as _;
use crate::cli::{CopyArgs, GlobalArgs, RetryArgs};
use crate::progress_json::JsonProgress;

/// Run `copy`.
pub async fn run(global: &GlobalArgs, args: &CopyArgs) -> anyhow::Result<()> {
    let mut progress: Arc<dyn ProgressSink> = if args.quiet {
        Arc::new(NoProgress)
    } else {
        Arc::new(Renderer::for_stdout())
    };
    let Some(fd) = args.progress_json_fd else {
        return copy(global, args, progress).await;
    };
    let json = Arc::new(JsonProgress::open(fd, progress)?);
    progress = json.clone();
    let result = copy(global, args, progress).await;
    if let Err(err) = &result {
        json.error(&format!("{err:#}"));
    }
    result
}

/// `copy` with its progress going to `progress`.
async fn copy(
    global: &GlobalArgs,
    args: &CopyArgs,
    progress: Arc<dyn ProgressSink>,
) -> anyhow::Result<()> {
    // skopeo loads the trust policy before it looks at anything else.
    let policy = Policy::load(global.policy.as_deref(), global.insecure_policy)
        .map_err(|err| anyhow!("Error loading trust policy: {err:#}"))?;
    let options = copy_options(global, args)?;
    let source_name = ImageName::parse(args.source())
        .map_err(|e| e.context(format!("Invalid source name {}", args.source())))?;
    let destination_name = ImageName::parse(args.destination())
        .map_err(|e| e.context(format!("Invalid destination name {}", args.destination())))?;
    skopos_transports::check_reference(&source_name)
        .await
        .map_err(|e| e.context(format!("Invalid source name {}", args.source())))?;
    skopos_transports::check_reference(&destination_name)
        .await
        .map_err(|e| e.context(format!("Invalid destination name {}", args.destination())))?;
    warn_about_ineffective_options(args, &destination_name);
    let mut source_ctx = SystemContext {
        oci_shared_blob_dir: args.src.shared_blob_dir.clone(),
        docker_daemon_host: args.src.daemon_host.clone(),
        auth_file: args.src.authfile.clone().or_else(|| args.authfile.clone()),
        ..base_context(global)
    };
    // skopeo checks each side's credential flags before anything else touches an image.
    args.src.apply_registry_settings(&mut source_ctx)?;
    let mut destination_ctx = SystemContext {
        oci_shared_blob_dir: args.dest.shared_blob_dir.clone(),
        docker_daemon_host: args.dest.daemon_host.clone(),
        oci_accept_uncompressed_layers: args.dest_oci_accept_uncompressed_layers,
        dir_force_compress: args.dest_compress,
        docker_precompute_digests: args.dest_precompute_digests,
        dir_force_decompress: args.dest_decompress,
        auth_file: args.dest.authfile.clone().or_else(|| args.authfile.clone()),
        docker_mount_source: match &source_name {
            ImageName::Docker(reference) => Some(reference.clone()),
            _ => None,
        },
        ..base_context(global)
    };
    args.dest.apply_registry_settings(&mut destination_ctx)?;
    let attachments = crate::attachments::Attachments::open(
        &args.referrers,
        (&source_name, &source_ctx),
        (&destination_name, &destination_ctx),
    )?;
    destination_ctx.docker_archive_additional_tags = additional_tags(&args.additional_tag)?;
    // The deprecated copy-wide --tls-verify applies where a side says nothing.
    if let Some(verify) = args.tls_verify {
        for ctx in [&mut source_ctx, &mut destination_ctx] {
            ctx.docker_tls_verify.get_or_insert(verify);
        }
    }
    let sign_identity = args
        .sign_identity
        .as_deref()
        .filter(|text| !text.is_empty())
        .map(crate::signing::parse_sign_identity)
        .transpose()?;
    let signers = match crate::signing::SigningKeys::from_flags(&args.shared)? {
        Some(keys) => keys.signers(sign_identity.as_ref(), &destination_name)?,
        None => Vec::new(),
    };
    let options = CopyOptions {
        signers,
        destination_reference: destination_name.docker_reference().cloned(),
        destination_name: destination_name.to_string(),
        source_name: source_name.to_string(),
        source_policy: Some(SourceImagePolicy::new(policy, source_name.clone())),
        ..options
    };
    let outcome = with_retry(retry_options(&args.retry)?, || async {
        // containers/image opens the destination first; its errors win.
        let destination = skopos_transports::open_destination(&destination_name, &destination_ctx)
            .await
            .with_context(|| format!("initializing destination {destination_name}"))?;
        let source = skopos_transports::open_source(&source_name, &source_ctx)
            .await
            .with_context(|| format!("initializing source {source_name}"))?;
        copy_image(
            Arc::from(source),
            Arc::from(destination),
            options.clone(),
            progress.clone(),
        )
        .await
    })
    .await?;

    if let Some(path) = &args.digestfile {
        std::fs::write(path, outcome.digest.to_string())
            .with_context(|| format!("Failed to write digest to file {}", path.display()))?;
    }
    if let Some(attachments) = &attachments {
        let subjects = skopos_copy::written_images(&outcome)?;
        with_retry(retry_options(&args.retry)?, || {
            attachments.copy(subjects.clone(), progress.clone())
        })
        .await?;
    }
    Ok(())
}

/// The trust policy applied to the copy's source: every image copied is judged under the
/// source's name, as containers/image does for list instances too.
#[derive(Debug)]
pub(crate) struct SourceImagePolicy {
    policy: Policy,
    source_name: ImageName,
}

impl SourceImagePolicy {
    /// `policy` applied to images read from `source_name`, as the engine wants it.
    pub(crate) fn new(policy: Policy, source_name: ImageName) -> Arc<SourceImagePolicy> {
        Arc::new(SourceImagePolicy {
            policy,
            source_name,
        })
    }
}

#[async_trait::async_trait]
impl SourcePolicy for SourceImagePolicy {
    async fn check(
        &self,
        source: &dyn ImageSource,
        instance: Option<&Digest>,
        manifest: &[u8],
    ) -> skopos_core::Result<()> {
        self.policy
            .check_image(&self.source_name, manifest, || source.signatures(instance))
            .await
    }
}

/// The settings every image access shares: global flags.
/// `--additional-tag` values as references, with skopeo's checks: each must parse and carry
/// a tag.
/// skopeo's `warnAboutIneffectiveOptions` (since 1.10): `--dest-compress` and
/// `--dest-decompress` act only on `dir:` destinations.
fn warn_about_ineffective_options(args: &CopyArgs, destination: &ImageName) {
    if matches!(destination, ImageName::Dir(_)) {
        return;
    }
    for (flag, given) in [
        ("dest-compress", args.dest_compress),
        ("dest-decompress", args.dest_decompress),
    ] {
        if given {
            tracing::warn!("--{flag} can only be used if the destination transport is 'dir'");
        }
    }
}

fn additional_tags(
    values: &[String],
) -> anyhow::Result<Vec<skopos_core::reference::DockerReference>> {
    values
        .iter()
        .map(|value| {
            let reference = skopos_core::reference::DockerReference::parse_normalized(value)
                .map_err(|err| anyhow!("error parsing additional-tag '{value}': {err:#}"))?;
            if reference.tag().is_none() {
                bail!("additional-tag '{value}' must be a tagged reference");
            }
            Ok(reference)
        })
        .collect()
}

pub fn base_context(global: &GlobalArgs) -> SystemContext {
    let version = env!("CARGO_PKG_VERSION");
    SystemContext {
        tmpdir: global.tmpdir.clone(),
        override_os: global.override_os.clone(),
        override_arch: global.override_arch.clone(),
        override_variant: global.override_variant.clone(),
        registries_conf: global.registries_conf.clone(),
        registries_d: global.registries_d.clone(),
        user_agent: Some(match global.user_agent_prefix.as_deref() {
            Some(prefix) if !prefix.is_empty() => format!("{prefix} skopos/{version}"),
            _ => format!("skopos/{version}"),
        }),
        ..SystemContext::default()
    }
}

/// The engine options the flags ask for, with skopeo's checks and messages.
fn copy_options(global: &GlobalArgs, args: &CopyArgs) -> anyhow::Result<CopyOptions> {
    crate::attachments::check_flags(&args.referrers)?;
    let force_manifest_type = forced_manifest_type(args.shared.format.as_deref())?;
    if args.all && args.multi_arch.is_some() {
        bail!("Cannot use --all and --multi-arch flags together");
    }
    let image_list_selection = if args.all {
        ImageListSelection::All
    } else {
        match args.multi_arch.as_deref() {
            None | Some("system") => ImageListSelection::System,
            Some("all") => ImageListSelection::All,
            Some("index-only") => ImageListSelection::IndexOnly,
            Some(other) => bail!(
                "unknown multi-arch option {}. Choose one of the supported options: 'system', 'all', or 'index-only'",
                skopos_core::go::text::go_quote(other)
            ),
        }
    };
    let compression_format = match args.dest_compress_format.as_deref() {
        None => None,
        Some(name) => Some(Compression::from_name(name).ok_or_else(|| {
            anyhow!(
                "cannot find compressor for {}",
                skopos_core::go::text::go_quote(name)
            )
        })?),
    };
    // skopeo 1.22.2's checks of these flags, before any use of them.
    if args.dest_force_compress_format && args.dest_compress_format.is_none() {
        bail!("cannot use ForceCompressionFormat with undefined default compression format");
    }
    if !args.encryption_key.is_empty() && !args.decryption_key.is_empty() {
        bail!("--encryption-key and --decryption-key cannot be specified together");
    }
    if !args.encrypt_layer.is_empty() && args.encryption_key.is_empty() {
        bail!("--encrypt-layer can only be used with --encryption-key");
    }
    let encryption = if args.encryption_key.is_empty() {
        None
    } else {
        let recipients = EncryptConfig::from_recipients(&args.encryption_key)
            .map_err(|e| anyhow!("Invalid encryption keys: {e}"))?;
        Some(LayerEncryptionOptions {
            recipients: Arc::new(recipients),
            layers: args.encrypt_layer.clone(),
        })
    };
    let decryption = if args.decryption_key.is_empty() {
        None
    } else {
        let keys = DecryptConfig::from_key_files(&args.decryption_key)
            .map_err(|e| anyhow!("Invalid decryption keys: {e}"))?;
        Some(Arc::new(keys))
    };
    Ok(CopyOptions {
        image_list_selection,
        platform: global.wanted_platform(),
        force_manifest_type,
        preserve_digests: args.shared.preserve_digests,
        remove_signatures: args.shared.remove_signatures,
        compression_format,
        compression_level: args.dest_compress_level,
        force_compression_format: args.dest_force_compress_format,
        max_parallel_blobs: match args.image_parallel_copies {
            None | Some(0) => skopos_copy::DEFAULT_PARALLEL_BLOBS,
            Some(n) => n as usize,
        },
        destination_reference: None,
        destination_name: String::new(),
        source_name: String::new(),
        source_policy: None,
        signers: Vec::new(),
        encryption,
        decryption,
        blob_info_cache: Some(skopos_blobinfocache::default_cache(None)),
        blob_claims: None,
    })
}

/// The manifest type `--format` forces (`None`: keep the source's, with fallbacks).
pub(crate) fn forced_manifest_type(format: Option<&str>) -> anyhow::Result<Option<&'static str>> {
    Ok(match format {
        None | Some("") => None,
        Some("oci") => Some(media_type::OCI_MANIFEST),
        Some("v2s1") => Some(media_type::DOCKER_V2_SCHEMA1_SIGNED),
        Some("v2s2") => Some(media_type::DOCKER_V2_SCHEMA2),
        Some(other) => bail!(
            "unknown format {}. Choose one of the supported formats: 'oci', 'v2s1', or 'v2s2'",
            skopos_core::go::text::go_quote(other)
        ),
    })
}

/// `--retry-times` / `--retry-delay`.
pub fn retry_options(args: &RetryArgs) -> anyhow::Result<RetryOptions> {
    // skopeo takes any int: a negative count, like 0, means one attempt and no retry.
    let max_retries = u32::try_from(args.retry_times.max(0)).unwrap_or(u32::MAX);
    Ok(RetryOptions {
        max_retries,
        delay: args.retry_delay.filter(|d| !d.is_zero()),
    })
}

/// Renders copy events the way skopeo does: plain lines when stdout is not a terminal,
/// one progress bar per blob when it is.
pub(crate) enum Renderer {
    Plain,
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<Digest, ProgressBar>>,
    },
}

impl Renderer {
    /// Bars on a terminal, plain lines otherwise.
    pub(crate) fn for_stdout() -> Renderer {
        if std::io::stdout().is_terminal() {
            Renderer::Bars {
                multi: MultiProgress::new(),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Renderer::Plain
        }
    }

    /// Print one line of progress text (above the bars on a terminal).
    pub(crate) fn line(&self, text: String) {
        match self {
            Renderer::Plain => {
                let mut out = std::io::stdout().lock();
                // A closed stdout must not fail the copy.
                let _ = writeln!(out, "{text}");
            }
            Renderer::Bars { multi, .. } => {
                let _ = multi.println(text);
            }
        }
    }
}

/// The plain line skopeo prints for an event, if any.
pub(crate) fn plain_line(event: &CopyEvent) -> Option<String> {
    Some(match event {
        CopyEvent::GettingSignatures { list: false } => "Getting image source signatures".into(),
        CopyEvent::GettingSignatures { list: true } => "Getting image list signatures".into(),
        CopyEvent::CheckingDestinationSignatures { list: false } => {
            "Checking if image destination supports signatures".into()
        }
        CopyEvent::CheckingDestinationSignatures { list: true } => {
            "Checking if image list destination supports signatures".into()
        }
        CopyEvent::CreatingSignature {
            message, count: 1, ..
        } => format!("Creating signature: {message}"),
        CopyEvent::CreatingSignature { message, index, .. } => {
            format!("Creating signature {index}: {message}")
        }
        CopyEvent::CopyingImages { copying, total } => {
            format!("Copying {copying} images generated from {total} images in list")
        }
        CopyEvent::CopyingImage {
            digest,
            index,
            count,
        } => format!("Copying image {digest} ({index}/{count})"),
        CopyEvent::BlobStarted { digest, kind, .. } => {
            format!("Copying {} {digest}", kind_name(*kind))
        }
        CopyEvent::WritingManifest { list: false } => {
            "Writing manifest to image destination".into()
        }
        CopyEvent::WritingManifest { list: true } => {
            "Writing manifest list to image destination".into()
        }
        CopyEvent::StoringSignatures { list: false } => "Storing signatures".into(),
        CopyEvent::StoringSignatures { list: true } => "Storing list signatures".into(),
        CopyEvent::ImageStarted { .. }
        | CopyEvent::BlobResumed { .. }
        | CopyEvent::BlobProgress { .. }
        | CopyEvent::BlobSkipped { .. }
        | CopyEvent::BlobDone { .. }
        | CopyEvent::ManifestWritten { .. }
        | CopyEvent::ImageDone { .. }
        | CopyEvent::ImageFailed { .. } => return None,
    })
}

fn kind_name(kind: BlobKind) -> &'static str {
    match kind {
        BlobKind::Layer => "blob",
        BlobKind::Config => "config",
    }
}

impl ProgressSink for Renderer {
    fn event(&self, event: CopyEvent) {
        let Renderer::Bars { multi, bars } = self else {
            if let Some(line) = plain_line(&event) {
                self.line(line);
            }
            return;
        };
        let Ok(mut bars) = bars.lock() else { return };
        match event {
            CopyEvent::BlobStarted {
                digest, size, kind, ..
            } => {
                let bar = multi.add(ProgressBar::new(size.unwrap_or(0)));
                let template = if size.is_some() {
                    "{prefix} {bar:30} {bytes} / {total_bytes} | {bytes_per_sec} {msg}"
                } else {
                    "{prefix} {bytes} | {bytes_per_sec} {msg}"
                };
                if let Ok(style) = ProgressStyle::with_template(template) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(bar_prefix(kind, &digest));
                bars.insert(digest, bar);
            }
            CopyEvent::BlobProgress { digest, read } => {
                if let Some(bar) = bars.get(&digest) {
                    bar.set_position(read);
                }
            }
            CopyEvent::BlobSkipped { digest, .. } => {
                if let Some(bar) = bars.remove(&digest) {
                    finish(multi, &bar, "skipped: already exists  ");
                }
            }
            CopyEvent::BlobDone { digest, .. } => {
                if let Some(bar) = bars.remove(&digest) {
                    finish(multi, &bar, "done   | ");
                }
            }
            other => {
                drop(bars);
                if let Some(line) = plain_line(&other) {
                    self.line(line);
                }
            }
        }
    }
}

/// Replace a finished bar by the line skopeo 1.22.2 leaves on the screen for it
/// (`Copying blob 0123456789ab done   | `). Printed above the bars rather than kept as a
/// finished bar: indicatif erases finished bars when a line is printed after the last bar
/// ends, and then a person would not see which blobs were copied.
fn finish(multi: &MultiProgress, bar: &ProgressBar, message: &'static str) {
    bar.finish_and_clear();
    multi.remove(bar);
    let _ = multi.println(format!("{} {message}", bar.prefix()));
}

/// `Copying blob <hex>` cut to the width containers/image gives every bar's prefix, so
/// that the bars align: the first 12 hex digits of a layer, 10 of a config.
fn bar_prefix(kind: BlobKind, digest: &Digest) -> String {
    const WIDTH: usize = "Copying blob ".len() + 12;
    let mut prefix = format!("Copying {} {}", kind_name(kind), digest.hex());
    prefix.truncate(WIDTH);
    prefix
}
