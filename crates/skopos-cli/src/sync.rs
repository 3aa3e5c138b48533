//! `skopos sync --src T --dest T SOURCE DESTINATION`: copies every image of a registry
//! repository, a directory tree of `dir:` images, an OCI layout or the registries a YAML
//! file lists, to a registry, a directory or an OCI layout, as skopeo 1.9.3's `sync` does
//! (same log lines and messages). `oci` on either side is upstream skopeo's pull request
//! #2804 (see skopos_sync); skopeo 1.22.2's help text, which does not list it, is kept.

use std::sync::Arc;

use crate::attachments::{is_attachment_tag, Attachments};
use crate::cli::ReferrersArgs;
use anyhow::{anyhow, bail, Context as _};
use futures_util::StreamExt as _;
use skopos_copy::{copy_image, CopyOptions, ImageListSelection, ProgressSink};
use skopos_core::retry::with_retry;
use skopos_core::verified::VerifiedSource;
use skopos_core::{Digest, ImageName, ImageSource, SystemContext};
use skopos_policy::Policy;
use skopos_sync::{MirrorCheck, Mirrored};

use crate::cli::{GlobalArgs, RegistryFlags as _, SyncArgs};
use crate::copy::{base_context, forced_manifest_type, retry_options};
use crate::copy::{Renderer, SourceImagePolicy};
use crate::logging::{emit_with_fields, LogLevel};
use crate::progress_json::JsonProgress;
use crate::signing::SigningKeys;
use skopos_core::go::text::{go_errno_text, go_quote};

/// Run `sync` with exactly two arguments (the caller shows the usage otherwise).
pub async fn run(global: &GlobalArgs, args: &SyncArgs) -> anyhow::Result<()> {
    let progress = Arc::new(Renderer::for_stdout());
    // Every image of the run talks to the same few registries: one client (one ping, one
    // connection pool, one token cache) per registry for all of them.
    let sharing = skopos_transports::docker::sharing_registry_clients;
    let Some(fd) = args.progress_json_fd else {
        return sharing(sync(global, args, progress, None)).await;
    };
    let json = Arc::new(JsonProgress::open(fd, progress.clone())?);
    let result = sharing(sync(global, args, progress, Some(json.clone()))).await;
    if let Err(err) = &result {
        json.error(&format!("{err:#}"));
    }
    result
}

/// `sync`, with progress lines to `progress` and, for `--progress-json-fd`, the copies'
/// events to `json` too.
async fn sync(
    global: &GlobalArgs,
    args: &SyncArgs,
    progress: Arc<Renderer>,
    json: Option<Arc<JsonProgress>>,
) -> anyhow::Result<()> {
    if args.tls_verify.is_some() {
        crate::logging::emit(
            LogLevel::Warning,
            "'--tls-verify' is deprecated, instead use: --src-tls-verify, --dest-tls-verify",
        );
    }
    let policy = Policy::load(global.policy.as_deref(), global.insecure_policy)
        .map_err(|err| anyhow!("Error loading trust policy: {err:#}"))?;
    let source_transport = args.source_transport.as_deref().unwrap_or_default();
    if source_transport.is_empty() {
        bail!("A source transport must be specified");
    }
    if !["docker", "dir", "yaml", "oci"].contains(&source_transport) {
        bail!(
            "{} is not a valid source transport",
            go_quote(source_transport)
        );
    }
    let destination_transport = args.destination_transport.as_deref().unwrap_or_default();
    if destination_transport.is_empty() {
        bail!("A destination transport must be specified");
    }
    if !["docker", "dir", "oci"].contains(&destination_transport) {
        bail!(
            "{} is not a valid destination transport",
            go_quote(destination_transport)
        );
    }
    if source_transport == "dir" && destination_transport == "dir" {
        bail!("sync from 'dir' to 'dir' not implemented, consider using rsync instead");
    }
    let image_list_selection = if args.all {
        ImageListSelection::All
    } else {
        ImageListSelection::System
    };
    let mut source_ctx = SystemContext {
        auth_file: args
            .src_image
            .authfile
            .clone()
            .or_else(|| args.authfile.clone()),
        ..base_context(global)
    };
    args.src_image.apply_registry_settings(&mut source_ctx)?;
    let force_manifest_type = forced_manifest_type(args.shared.format.as_deref())?;
    let retry = retry_options(&args.retry)?;
    if let Some(verify) = args.tls_verify {
        source_ctx.docker_tls_verify.get_or_insert(verify);
    }

    let mut destination_ctx = SystemContext {
        auth_file: args
            .dest_image
            .authfile
            .clone()
            .or_else(|| args.authfile.clone()),
        ..base_context(global)
    };
    args.dest_image
        .apply_registry_settings(&mut destination_ctx)?;
    crate::attachments::check_flags(&args.referrers)?;
    if let Some(verify) = args.tls_verify {
        destination_ctx.docker_tls_verify.get_or_insert(verify);
    }

    let (source, destination) = (&args.args[0], &args.args[1]);
    let listing = with_retry(retry, || {
        skopos_sync::images_to_copy(&StderrLog, source, source_transport, &source_ctx)
    });
    // A registry destination is pinged while the source is listed: the first images'
    // checks find it answered. A ping still going when the listing ends is waited for, not
    // dropped (the checks would only send another); a failed one is left for the checks to
    // report.
    let repositories = if destination_transport == "docker" && !args.dry_run {
        let warm_destination = async {
            if let Ok(ImageName::Docker(reference)) =
                skopos_sync::destination_reference(destination, destination_transport)
            {
                let _ =
                    skopos_transports::docker::ping_destination(&reference, &destination_ctx).await;
            }
        };
        tokio::join!(listing, warm_destination).0?
    } else {
        listing.await?
    };
    let signing = SigningKeys::from_flags(&args.shared)?;
    let options = CopyOptions {
        image_list_selection,
        platform: global.wanted_platform(),
        force_manifest_type,
        preserve_digests: args.shared.preserve_digests,
        remove_signatures: args.shared.remove_signatures,
        compression_format: None,
        compression_level: None,
        force_compression_format: false,
        max_parallel_blobs: skopos_copy::DEFAULT_PARALLEL_BLOBS,
        destination_reference: None,
        destination_name: String::new(),
        source_name: String::new(),
        source_policy: None,
        signers: Vec::new(),
        encryption: None,
        decryption: None,
        blob_info_cache: Some(skopos_blobinfocache::default_cache(None)),
        // Images copied at once share their blobs' writes and each registry's transfers.
        blob_claims: Some(Arc::new(skopos_copy::BlobClaims::new(
            skopos_sync::TRANSFERS_PER_REGISTRY,
        ))),
    };
    let renderer = progress.clone();
    // Progress bars on a terminal belong to one image at a time; plain output is kept per
    // image and printed in skopeo's order, so several images can be copied at once.
    let live = matches!(*renderer, Renderer::Bars { .. });
    // JSON progress builds one report from one image's events at a time.
    let parallel_images = if json.is_some() {
        1
    } else {
        skopos_sync::parallel_images(destination_transport, live)
    };
    // More images are looked at than copied at once: one already mirrored is settled by a
    // HEAD or two, and a copy waits here for its turn after its check.
    let copy_slots = tokio::sync::Semaphore::new(parallel_images);

    let mut errors_present = false;
    let mut images_synced = 0usize;
    if args.dry_run {
        crate::logging::emit(LogLevel::Warning, "Running in dry-run mode");
    }
    // One line per copied image, written as each copy finishes (skopeo 1.17's --digestfile).
    let mut digest_file = match &args.digestfile {
        Some(path) if !args.dry_run => Some((
            path,
            std::fs::File::create(path).map_err(|err| {
                anyhow!(
                    "Error creating digest file: open {}: {}",
                    path.display(),
                    go_errno_text(&err)
                )
            })?,
        )),
        _ => None,
    };
    // Every image of every repository, with its destination, in skopeo's order.
    let mut planned = Vec::new();
    for repository in &repositories {
        // With --skopos-referrers, the tag schema's and cosign's tags are copied as the
        // attachments of the images they name, not as images of their own.
        let images: Vec<&ImageName> = repository
            .images
            .iter()
            .filter(|name| !args.referrers.enabled || !is_attachment_tag(name))
            .collect();
        let count = images.len();
        for (index, source_name) in images.into_iter().enumerate() {
            let target = skopos_sync::destination_target(
                source_name,
                repository,
                (destination, destination_transport),
                args.scoped,
                args.append_suffix.as_deref().unwrap_or_default(),
            );
            let position = format!("{}/{count}", index + 1);
            if args.dry_run {
                let destination_name =
                    skopos_sync::destination_reference(&target, destination_transport)?;
                emit_with_fields(
                    LogLevel::Info,
                    &format!("Would have copied image ref {position}"),
                    &[
                        ("from", source_name.to_string()),
                        ("to", destination_name.to_string()),
                    ],
                );
                images_synced += 1;
                continue;
            }
            planned.push((repository, source_name, target, position));
        }
    }
    let (options, copy_slots) = (&options, &copy_slots);
    let (policy, signing, destination_ctx) = (&policy, signing.as_ref(), &destination_ctx);
    let copies = planned
        .into_iter()
        .map(|(repository, source_name, target, position)| {
            let output = Arc::new(ImageOutput::new(live.then(|| renderer.clone())));
            let json = json.clone();
            async move {
                // Named (and a directory created) only now, as skopeo does just before
                // each copy; skopeo stops at the first destination it cannot name.
                let destination_name =
                    match skopos_sync::destination_reference(&target, destination_transport) {
                        Ok(name) => name,
                        Err(err) => return (output, source_name, None, Err(err)),
                    };
                output.log(
                    LogLevel::Info,
                    &format!("Copying image ref {position}"),
                    &[
                        ("from", source_name.to_string()),
                        ("to", destination_name.to_string()),
                    ],
                );
                let image = ImageToCopy {
                    source_name,
                    source_ctx: &repository.context,
                    destination_name: &destination_name,
                    destination_ctx,
                    policy,
                    options,
                    signing,
                    referrers: &args.referrers,
                    json: json.clone(),
                    output: output.clone(),
                    copy_slots,
                };
                let copied = with_retry(retry, || image.copy()).await;
                (output, source_name, Some(destination_name), copied)
            }
        });
    // Up to `parallel_images` copies run at once, among more images being looked at;
    // results come back in the plan's order.
    let mut copies =
        futures_util::stream::iter(copies).buffered(skopos_sync::images_in_flight(parallel_images));
    while let Some((output, source_name, destination_name, copied)) = copies.next().await {
        output.print();
        let destination_name = match (copied, destination_name) {
            (Ok(digest), Some(destination_name)) => (digest, destination_name),
            (Err(err), None) => return Err(err),
            (Ok(_), None) => bail!("internal error: an image was copied to no destination"),
            (Err(err), Some(_)) if args.keep_going => {
                // Note the failure and go on with the next image.
                errors_present = true;
                emit_with_fields(
                    LogLevel::Error,
                    &format!("Error copying ref {}", go_quote(&source_name.to_string())),
                    &[("error", format!("{err:#}"))],
                );
                continue;
            }
            (Err(err), Some(_)) => {
                return Err(err.context(format!(
                    "Error copying ref {}",
                    go_quote(&source_name.to_string())
                )))
            }
        };
        let (digest, destination_name) = destination_name;
        if let Some((path, file)) = &mut digest_file {
            use std::io::Write as _;
            writeln!(file, "{digest} {destination_name}").map_err(|err| {
                anyhow!(
                    "Failed to write digest to file {}: write {}: {}",
                    go_quote(&path.to_string_lossy()),
                    path.display(),
                    go_errno_text(&err)
                )
            })?;
        }
        images_synced += 1;
    }

    let verb = if args.dry_run {
        "Would have synced"
    } else {
        "Synced"
    };
    crate::logging::emit(
        LogLevel::Info,
        &format!(
            "{verb} {images_synced} images from {} sources",
            repositories.len()
        ),
    );
    if errors_present {
        bail!("Sync failed due to previous reported error(s) for one or more images");
    }
    Ok(())
}

/// Everything one image's copy needs.
struct ImageToCopy<'a> {
    source_name: &'a ImageName,
    source_ctx: &'a SystemContext,
    destination_name: &'a ImageName,
    destination_ctx: &'a SystemContext,
    policy: &'a Policy,
    options: &'a CopyOptions,
    /// The keys to sign every copied image with, for its destination's identity.
    signing: Option<&'a SigningKeys>,
    /// `--skopos-referrers`: what is attached to the image is copied too.
    referrers: &'a ReferrersArgs,
    /// `--progress-json-fd`'s writer, which passes events on to the progress lines.
    json: Option<Arc<JsonProgress>>,
    output: Arc<ImageOutput>,
    /// The run's turns to copy: taken once the image is known to need reading.
    copy_slots: &'a tokio::sync::Semaphore,
}

impl ImageToCopy<'_> {
    /// Copy the image unless the destination already has it; the digest of the manifest
    /// at the destination.
    async fn copy(&self) -> anyhow::Result<Digest> {
        // Attachments may have been added to an image already mirrored: with
        // --skopos-referrers the image is always looked at.
        let mirrored = if self.referrers.enabled {
            Mirrored::Unknown
        } else {
            self.mirror_check().by_heads().await
        };
        let destination_lacks_it = match mirrored {
            Mirrored::Yes(digest) => {
                self.report_skipped();
                return Ok(digest);
            }
            Mirrored::No => true,
            Mirrored::Unknown => false,
        };
        let _copy_slot = self
            .copy_slots
            .acquire()
            .await
            .context("internal error: the sync's copy slots were closed")?;
        let destination_ctx = SystemContext {
            docker_mount_source: self.source_name.docker_reference().cloned(),
            ..self.destination_ctx.clone()
        };
        // containers/image opens the destination first; its errors win.
        let destination =
            skopos_transports::open_destination(self.destination_name, &destination_ctx)
                .await
                .with_context(|| format!("initializing destination {}", self.destination_name))?;
        let source = skopos_transports::open_source(self.source_name, self.source_ctx)
            .await
            .with_context(|| format!("initializing source {}", self.source_name))?;
        let source: Arc<dyn ImageSource> = source.into();
        let attachments = Attachments::open(
            self.referrers,
            (self.source_name, self.source_ctx),
            (self.destination_name, &destination_ctx),
        )?;
        // The shortcut reads manifests before the copy does, so it reads them verified too;
        // copy_image verifies what it reads itself.
        let verified = VerifiedSource::wrap(source.clone());
        if !destination_lacks_it {
            if let Some(digest) = self.mirror_check().by_manifests(verified.as_ref()).await? {
                self.report_skipped();
                // The image is there, but attachments may have been added since.
                if let Some(attachments) = &attachments {
                    attachments.copy(vec![digest.clone()], self.sink()).await?;
                }
                return Ok(digest);
            }
        }
        let signers = match self.signing {
            Some(keys) => keys.signers(None, self.destination_name)?,
            None => Vec::new(),
        };
        let options = CopyOptions {
            signers,
            destination_reference: self.destination_name.docker_reference().cloned(),
            destination_name: self.destination_name.to_string(),
            source_name: self.source_name.to_string(),
            source_policy: Some(SourceImagePolicy::new(
                self.policy.clone(),
                self.source_name.clone(),
            )),
            ..self.options.clone()
        };
        let progress = self.sink();
        let outcome = copy_image(source, Arc::from(destination), options, progress.clone()).await?;
        if let Some(attachments) = &attachments {
            attachments
                .copy(skopos_copy::written_images(&outcome)?, progress)
                .await?;
        }
        Ok(outcome.digest)
    }

    /// This image's copy, as the "already at destination" checks see it.
    fn mirror_check(&self) -> MirrorCheck<'_> {
        MirrorCheck {
            source_name: self.source_name,
            source_ctx: self.source_ctx,
            destination_name: self.destination_name,
            destination_ctx: self.destination_ctx,
            policy: self.policy,
            platform: &self.options.platform,
            force_manifest_type: self.options.force_manifest_type,
            remove_signatures: self.options.remove_signatures,
            signs: self.signing.is_some(),
            whole_lists: self.options.image_list_selection != ImageListSelection::System,
        }
    }

    /// What containers/image prints when it finds the image already at the destination.
    fn report_skipped(&self) {
        if !self.options.remove_signatures {
            self.output.line("Getting image source signatures".into());
        }
        self.output
            .line("Skipping: image already present at destination".into());
    }

    /// Where the copy's events go: the JSON writer (which hands them on) or this image's
    /// output.
    fn sink(&self) -> Arc<dyn ProgressSink> {
        match &self.json {
            Some(json) => Arc::new(json.passing_to(self.output.clone())),
            None => self.output.clone(),
        }
    }
}

/// What one image's copy prints: its log lines (stderr) and progress lines (stdout), in
/// the order they were made. Held until [`ImageOutput::print`] when several images are
/// copied at once, so that each image's lines come out together and in skopeo's order;
/// passed straight to the terminal's renderer when images are copied one at a time there.
struct ImageOutput {
    live: Option<Arc<Renderer>>,
    held: std::sync::Mutex<Vec<HeldLine>>,
}

/// A line held for later, and where it goes.
enum HeldLine {
    Stdout(String),
    Stderr(String),
}

impl ImageOutput {
    fn new(live: Option<Arc<Renderer>>) -> ImageOutput {
        ImageOutput {
            live,
            held: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn hold(&self, line: HeldLine) {
        match self.held.lock() {
            Ok(mut held) => held.push(line),
            Err(poisoned) => poisoned.into_inner().push(line),
        }
    }

    /// A log line with fields, as [`emit_with_fields`] writes it.
    fn log(&self, level: LogLevel, message: &str, fields: &[(&str, String)]) {
        if self.live.is_some() {
            emit_with_fields(level, message, fields);
        } else {
            let style = crate::logging::LineStyle::for_stderr();
            self.hold(HeldLine::Stderr(crate::logging::format_line_with_fields(
                level, message, fields, &style,
            )));
        }
    }

    /// A line of progress text.
    fn line(&self, text: String) {
        match &self.live {
            Some(renderer) => renderer.line(text),
            None => self.hold(HeldLine::Stdout(text)),
        }
    }

    /// Write what was held (errors writing output cannot be reported anywhere).
    fn print(&self) {
        use std::io::Write as _;
        let held = match self.held.lock() {
            Ok(mut held) => std::mem::take(&mut *held),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        for line in held {
            let _ = match line {
                HeldLine::Stdout(text) => writeln!(std::io::stdout().lock(), "{text}"),
                HeldLine::Stderr(text) => std::io::stderr().lock().write_all(text.as_bytes()),
            };
        }
    }
}

impl ProgressSink for ImageOutput {
    fn event(&self, event: skopos_copy::CopyEvent) {
        match &self.live {
            Some(renderer) => renderer.event(event),
            None => {
                if let Some(line) = crate::copy::plain_line(&event) {
                    self.hold(HeldLine::Stdout(line));
                }
            }
        }
    }
}

/// Planning's log lines, straight to stderr.
struct StderrLog;

impl skopos_sync::SyncLog for StderrLog {
    fn log(&self, level: skopos_sync::Level, message: &str, fields: &[(&str, String)]) {
        let level = match level {
            skopos_sync::Level::Info => LogLevel::Info,
            skopos_sync::Level::Warning => LogLevel::Warning,
            skopos_sync::Level::Error => LogLevel::Error,
        };
        emit_with_fields(level, message, fields);
    }
}
