//! `skopos sync --src T --dest T SOURCE DESTINATION`: copies every image of a registry
//! repository, a directory tree of `dir:` images or the registries a YAML file lists, to a
//! registry or a directory, as skopeo 1.9.3's `sync` does (same log lines and messages).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use futures_util::StreamExt as _;
use indexmap::IndexMap;
use skopos_copy::{copy_image, CopyOptions, ImageListSelection, ProgressSink};
use skopos_core::manifest::{self, AnyManifest};
use skopos_core::reference::DockerReference;
use skopos_core::retry::with_retry;
use skopos_core::verified::VerifiedSource;
use skopos_core::{Digest, DockerCredentials, ImageName, ImageSource, Secret, SystemContext};
use skopos_policy::{Policy, Requirement};

use crate::cli::{GlobalArgs, RegistryFlags as _, SyncArgs};
use crate::copy::{base_context, forced_manifest_type, retry_options};
use crate::copy::{Renderer, SourceImagePolicy};
use crate::logging::{emit_with_fields, go_quote, LogLevel};
use crate::signing::SigningKeys;
use skopos_core::go_text::{go_errno_text, go_path_clean, go_path_join};

/// The images of one sync source and how to reach them (skopeo's `repoDescriptor`).
struct SourceRepository {
    images: Vec<ImageName>,
    context: SystemContext,
    /// For a `dir` source: SOURCE as given, which destination suffixes are relative to.
    dir_base: Option<String>,
}

/// One registry's entry in a `--src yaml` file (skopeo's `registrySyncConfig`). Unknown
/// keys are ignored, as Go's YAML decoder ignores them.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct RegistrySyncConfig {
    /// repository -> tags and/or digests; an empty (or null) list means every tag.
    images: IndexMap<String, Option<Vec<String>>>,
    /// repository -> regular expression the copied tags must match.
    #[serde(rename = "images-by-tag-regex")]
    images_by_tag_regex: IndexMap<String, Option<String>>,
    credentials: Option<YamlCredentials>,
    /// `None` (omitted) verifies TLS in skopeo 1.9.3, whatever `--src-tls-verify` says.
    #[serde(rename = "tls-verify")]
    tls_verify: Option<bool>,
    #[serde(rename = "cert-dir")]
    cert_dir: Option<PathBuf>,
}

/// `credentials:` of a registry in the YAML file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct YamlCredentials {
    username: String,
    password: String,
}

/// Run `sync` with exactly two arguments (the caller shows the usage otherwise).
pub async fn run(global: &GlobalArgs, args: &SyncArgs) -> anyhow::Result<()> {
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
    if !["docker", "dir", "yaml"].contains(&source_transport) {
        bail!(
            "{} is not a valid source transport",
            go_quote(source_transport)
        );
    }
    let destination_transport = args.destination_transport.as_deref().unwrap_or_default();
    if destination_transport.is_empty() {
        bail!("A destination transport must be specified");
    }
    if !["docker", "dir"].contains(&destination_transport) {
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

    let source = &args.args[0];
    let repositories = with_retry(retry, || {
        images_to_copy(source, source_transport, &source_ctx)
    })
    .await?;

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
    if let Some(verify) = args.tls_verify {
        destination_ctx.docker_tls_verify.get_or_insert(verify);
    }
    let signing = SigningKeys::from_flags(&args.shared)?;
    let options = CopyOptions {
        image_list_selection,
        platform: global.wanted_platform(),
        force_manifest_type,
        preserve_digests: args.shared.preserve_digests,
        remove_signatures: args.shared.remove_signatures,
        compression_format: None,
        compression_level: None,
        max_parallel_blobs: skopos_copy::DEFAULT_PARALLEL_BLOBS,
        destination_reference: None,
        destination_name: String::new(),
        source_name: String::new(),
        source_policy: None,
        signers: Vec::new(),
        blob_info_cache: Some(skopos_blobinfocache::default_cache(None)),
        // Images copied at once share their blobs' writes.
        blob_claims: Some(Arc::new(skopos_copy::BlobClaims::default())),
    };
    let renderer = Arc::new(Renderer::for_stdout());
    // Progress bars on a terminal belong to one image at a time; plain output is kept per
    // image and printed in skopeo's order, so several images can be copied at once.
    // Directories are written one image at a time: after a failure skopeo leaves no
    // directory for the images after it, and a directory left behind would make the next
    // run refuse to overwrite it.
    let live = matches!(*renderer, Renderer::Bars { .. });
    let parallel_images = if live || destination_transport == "dir" {
        1
    } else {
        IMAGE_PARALLEL_COPIES
    };

    let destination = &args.args[1];
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
        let count = repository.images.len();
        for (index, source_name) in repository.images.iter().enumerate() {
            let mut suffix = destination_suffix(source_name, repository.dir_base.as_deref());
            if !args.scoped {
                suffix = go_path_base(&suffix);
            }
            let mut target = go_path_join(destination, &suffix);
            target.push_str(args.append_suffix.as_deref().unwrap_or_default());
            let position = format!("{}/{count}", index + 1);
            if args.dry_run {
                let destination_name = destination_reference(&target, destination_transport)?;
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
    let options = &options;
    let (policy, signing, destination_ctx) = (&policy, signing.as_ref(), &destination_ctx);
    let copies = planned
        .into_iter()
        .map(|(repository, source_name, target, position)| {
            let output = Arc::new(ImageOutput::new(live.then(|| renderer.clone())));
            async move {
                // Named (and a directory created) only now, as skopeo does just before
                // each copy; skopeo stops at the first destination it cannot name.
                let destination_name = match destination_reference(&target, destination_transport) {
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
                    output: output.clone(),
                };
                let copied = with_retry(retry, || image.copy()).await;
                (output, source_name, Some(destination_name), copied)
            }
        });
    // Up to `parallel_images` copies run at once; results come back in the plan's order.
    let mut copies = futures_util::stream::iter(copies).buffered(parallel_images);
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

/// Whether the destination already holds the image, as two manifest `HEAD`s tell.
enum Mirrored {
    /// It does, as this manifest.
    Yes(Digest),
    /// It holds nothing or another manifest under that name.
    No,
    /// Cannot be told without reading the image.
    Unknown,
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
    output: Arc<ImageOutput>,
}

impl ImageToCopy<'_> {
    /// Copy the image unless the destination already has it; the digest of the manifest
    /// at the destination.
    async fn copy(&self) -> anyhow::Result<Digest> {
        let destination_lacks_it = match self.already_mirrored().await {
            Mirrored::Yes(digest) => return Ok(digest),
            Mirrored::No => true,
            Mirrored::Unknown => false,
        };
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
        // The shortcut reads manifests before the copy does, so it reads them verified too;
        // copy_image verifies what it reads itself.
        let verified = VerifiedSource::wrap(source.clone());
        if !destination_lacks_it {
            if let Some(digest) = self.already_at_destination(verified.as_ref()).await? {
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
        let progress: Arc<dyn ProgressSink> = self.output.clone();
        let outcome = copy_image(source, Arc::from(destination), options, progress).await?;
        Ok(outcome.digest)
    }

    /// skopeo's sync sets `OptimizeDestinationImageAlreadyExists`: when the registry
    /// destination already holds the very manifest that would be written (no conversion,
    /// no signatures to copy or make), nothing is copied. Returns that manifest's digest
    /// then.
    async fn already_at_destination(
        &self,
        source: &dyn ImageSource,
    ) -> anyhow::Result<Option<Digest>> {
        // A `dir` destination is always new (sync refuses existing directories), and a
        // list copied whole is written again in any case.
        if self.signing.is_some()
            || !matches!(self.destination_name, ImageName::Docker(_))
            || self.options.image_list_selection != ImageListSelection::System
        {
            return Ok(None);
        }
        let (mut bytes, mut mime) = source.manifest(None).await?;
        if mime.is_empty() {
            mime = manifest::guess_mime_type(&bytes);
        }
        let mut instance = None;
        if let AnyManifest::List(list) = manifest::parse(&bytes, &mime).with_context(|| {
            if skopos_core::media_type::is_list(manifest::normalized_mime_type(&mime)) {
                format!("parsing primary manifest as list for {}", self.source_name)
            } else {
                format!("initializing image from source {}", self.source_name)
            }
        })? {
            let chosen = list
                .choose_instance(&self.options.platform)
                .with_context(|| {
                    format!("choosing an image from manifest list {}", self.source_name)
                })?;
            (bytes, mime) = source.manifest(Some(&chosen)).await?;
            instance = Some(chosen);
        }
        if self
            .options
            .force_manifest_type
            .is_some_and(|forced| forced != mime)
        {
            return Ok(None);
        }
        // The policy is checked before anything else is read about the image.
        self.policy
            .check_image(self.source_name, &bytes, || {
                source.signatures(instance.as_ref())
            })
            .await
            .context("Source image rejected")?;
        if !self.options.remove_signatures
            && !source.signatures(instance.as_ref()).await?.is_empty()
        {
            return Ok(None);
        }
        let source_digest = manifest::manifest_digest(&bytes)?;
        // Any failure to read the destination's manifest means "not there yet".
        let Ok(destination) =
            skopos_transports::open_source(self.destination_name, self.destination_ctx).await
        else {
            return Ok(None);
        };
        let Ok((destination_bytes, _)) = destination.manifest(None).await else {
            return Ok(None);
        };
        if manifest::manifest_digest(&destination_bytes)? != source_digest {
            return Ok(None);
        }
        self.report_skipped();
        Ok(Some(source_digest))
    }

    /// What containers/image prints when it finds the image already at the destination.
    fn report_skipped(&self) {
        if !self.options.remove_signatures {
            self.output.line("Getting image source signatures".into());
        }
        self.output
            .line("Skipping: image already present at destination".into());
    }

    /// The cheap form of [`ImageToCopy::already_at_destination`], for registry to registry:
    /// one manifest `HEAD` at each end, no `GET` (which registries count against pull
    /// quotas). It applies when nothing about the image needs reading: the policy accepts
    /// anything for it, no signatures are made or copied, the manifest is written as it
    /// is (a single image, no forced format). Any doubt or failure answers
    /// [`Mirrored::Unknown`], and the copy goes on the ordinary way, which reports errors as
    /// skopeo does.
    async fn already_mirrored(&self) -> Mirrored {
        self.mirrored_by_heads().await.unwrap_or(Mirrored::Unknown)
    }

    /// [`ImageToCopy::already_mirrored`]; `None` for "cannot tell".
    async fn mirrored_by_heads(&self) -> Option<Mirrored> {
        let (ImageName::Docker(source), ImageName::Docker(destination)) =
            (self.source_name, self.destination_name)
        else {
            return None;
        };
        if self.signing.is_some() || self.options.image_list_selection != ImageListSelection::System
        {
            return None;
        }
        let requirements = self.policy.requirements_for(self.source_name).ok()?;
        if requirements.is_empty()
            || !requirements
                .iter()
                .all(|requirement| matches!(requirement, Requirement::InsecureAcceptAnything))
        {
            return None;
        }
        let head = skopos_transports::docker::head_source(source, self.source_ctx)
            .await
            .ok()??;
        let mime = manifest::normalized_mime_type(&head.media_type);
        if skopos_core::media_type::is_list(mime)
            || self
                .options
                .force_manifest_type
                .is_some_and(|forced| forced != mime)
            || (head.signed && !self.options.remove_signatures)
        {
            return None;
        }
        let at_destination =
            skopos_transports::docker::head_destination(destination, self.destination_ctx)
                .await
                .ok()?;
        if at_destination.as_ref() != Some(&head.digest) {
            return Some(Mirrored::No);
        }
        self.report_skipped();
        Some(Mirrored::Yes(head.digest))
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

/// Images copied at once by a sync whose output is not a terminal: enough to keep a
/// registry busy while one image waits on small requests (manifests, configs), few enough
/// that each image's layers still get most of the connections.
const IMAGE_PARALLEL_COPIES: usize = 4;

/// The images `source` names for `transport` (skopeo's `imagesToCopy`).
async fn images_to_copy(
    source: &str,
    transport: &str,
    source_ctx: &SystemContext,
) -> anyhow::Result<Vec<SourceRepository>> {
    match transport {
        "docker" => {
            let reference = DockerReference::parse_normalized(source).map_err(|err| {
                err.context(format!(
                    "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                    go_quote(source)
                ))
            })?;
            let tagged = !reference.is_name_only();
            emit_with_fields(
                LogLevel::Info,
                "Tag presence check",
                &[
                    ("imagename", source.to_string()),
                    ("tagged", tagged.to_string()),
                ],
            );
            let images = if tagged {
                let shown = reference.to_string();
                vec![ImageName::docker(reference).map_err(|err| {
                    err.context(format!(
                        "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                        go_quote(&shown)
                    ))
                })?]
            } else {
                let images = images_in_repository(&reference, source_ctx).await?;
                if images.is_empty() {
                    bail!("No images to sync found in {}", go_quote(source));
                }
                images
            };
            Ok(vec![SourceRepository {
                images,
                context: source_ctx.clone(),
                dir_base: None,
            }])
        }
        "dir" => {
            std::fs::metadata(source).map_err(|err| {
                anyhow!(
                    "Invalid source directory specified: stat {source}: {}",
                    skopos_core::go_text::go_errno_text(&err)
                )
            })?;
            let mut images = Vec::new();
            walk_for_images(source, &mut images).map_err(|err| {
                err.context(format!("Error walking the path {}", go_quote(source)))
            })?;
            if images.is_empty() {
                bail!("No images to sync found in {}", go_quote(source));
            }
            Ok(vec![SourceRepository {
                images,
                context: source_ctx.clone(),
                dir_base: Some(source.to_string()),
            }])
        }
        _ => images_from_yaml(source, source_ctx).await,
    }
}

/// Every tag of `repository` as an image (skopeo's `imagesToCopyFromRepo`).
async fn images_in_repository(
    repository: &DockerReference,
    ctx: &SystemContext,
) -> anyhow::Result<Vec<ImageName>> {
    let name = repository.name();
    emit_with_fields(LogLevel::Info, "Getting tags", &[("image", name.clone())]);
    let tags = match skopos_transports::docker::repository_tags(repository, ctx).await {
        Ok(tags) => tags,
        Err(err) => match unauthorized(&err) {
            // Some registries block the tag list; skopeo goes on as if it were empty.
            Some(refusal) => {
                crate::logging::emit(
                    LogLevel::Warning,
                    &format!(
                        "Registry disallows tag list retrieval: unable to retrieve auth token: invalid username/password: {refusal}"
                    ),
                );
                Vec::new()
            }
            None => {
                return Err(err.context(format!(
                    "Error determining repository tags for image {name}"
                )))
            }
        },
    };
    tags.iter()
        .map(|tag| {
            let tagged = repository.with_tag(tag).map_err(|err| {
                err.context(format!(
                    "Error creating a reference for repository {name} and tag {}",
                    go_quote(tag)
                ))
            })?;
            ImageName::docker(tagged)
        })
        .collect()
}

/// The registry's 401 in `err`'s chain, if any (containers/image's
/// `ErrUnauthorizedForCredentials`).
fn unauthorized(err: &anyhow::Error) -> Option<&skopos_registry::RegistryError> {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<skopos_registry::RegistryError>())
        .find(|registry_error| registry_error.status == 401)
}

/// Go's `filepath.WalkDir` as skopeo uses it: entries in lexical order, and a directory
/// holding a `manifest.json` file is one image, whose remaining entries are not visited.
/// Paths are kept as the walk builds them (SOURCE joined with entry names, cleaned), since
/// skopeo shows them and derives destination names from them.
fn walk_for_images(path: &str, found: &mut Vec<ImageName>) -> anyhow::Result<()> {
    let metadata = std::fs::symlink_metadata(path)
        .map_err(|err| anyhow!("lstat {path}: {}", go_errno_text(&err)))?;
    if !metadata.is_dir() {
        return Ok(());
    }
    let mut entries = std::fs::read_dir(path)
        .map_err(|err| anyhow!("open {path}: {}", go_errno_text(&err)))?
        .map(|entry| entry.map(|entry| (entry.file_name(), entry.file_type())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow!("readdirent {path}: {}", go_errno_text(&err)))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, file_type) in entries {
        let file_type =
            file_type.map_err(|err| anyhow!("lstat {path}: {}", go_errno_text(&err)))?;
        if file_type.is_dir() {
            walk_for_images(&go_path_join(path, &name.to_string_lossy()), found)?;
        } else if name == "manifest.json" {
            found.push(ImageName::Dir(PathBuf::from(go_path_clean(path))));
            return Ok(());
        }
    }
    Ok(())
}

/// The images a `--src yaml` file lists, one repository per entry, registries in file
/// order (skopeo iterates a Go map, in no fixed order).
async fn images_from_yaml(
    path: &str,
    source_ctx: &SystemContext,
) -> anyhow::Result<Vec<SourceRepository>> {
    let text = crate::read_file_like_go(path)?;
    let config: Option<IndexMap<String, Option<RegistrySyncConfig>>> =
        serde_norway::from_slice(&text)
            .map_err(|err| anyhow!("Failed to unmarshal {}: {err}", go_quote(path)))?;
    let mut repositories = Vec::new();
    // An empty file is an empty map to Go's decoder.
    for (registry, registry_config) in config.unwrap_or_default() {
        let registry_config = registry_config.unwrap_or_default();
        if registry_config.images.is_empty() && registry_config.images_by_tag_regex.is_empty() {
            emit_with_fields(
                LogLevel::Warning,
                "No images specified for registry",
                &[("registry", registry.clone())],
            );
            continue;
        }
        repositories.extend(images_from_registry(&registry, &registry_config, source_ctx).await);
    }
    Ok(repositories)
}

/// The repositories of one registry of the YAML file (skopeo's `imagesToCopyFromRegistry`):
/// an entry that cannot be used is logged and skipped.
async fn images_from_registry(
    registry: &str,
    config: &RegistrySyncConfig,
    source_ctx: &SystemContext,
) -> Vec<SourceRepository> {
    // The file's settings replace the command line's for this registry, as in 1.9.3.
    let mut context = SystemContext {
        docker_cert_dir: config.cert_dir.clone(),
        docker_tls_verify: config.tls_verify,
        ..source_ctx.clone()
    };
    if let Some(credentials) = &config.credentials {
        if !credentials.username.is_empty() || !credentials.password.is_empty() {
            context.docker_credentials = Some(DockerCredentials::Basic {
                username: credentials.username.clone(),
                password: Secret::new(credentials.password.clone()),
            });
        }
    }
    let mut repositories = Vec::new();
    for (repo, refs) in &config.images {
        let fields = repo_fields(registry, repo);
        let Some(repository) = parse_repository(registry, repo, &fields) else {
            continue;
        };
        emit_with_fields(LogLevel::Info, "Processing repo", &fields);
        let refs = refs.as_deref().unwrap_or_default();
        let images = if refs.is_empty() {
            emit_with_fields(LogLevel::Info, "Querying registry for image tags", &fields);
            match images_in_repository(&repository, &context).await {
                Ok(images) => images,
                Err(err) => {
                    emit_with_fields(LogLevel::Error, "Error processing repo, skipping", &fields);
                    crate::logging::emit(LogLevel::Error, &format!("{err:#}"));
                    continue;
                }
            }
        } else {
            refs.iter()
                .filter_map(|reference| tagged_or_digested(&repository, reference))
                .collect()
        };
        add_repository(&mut repositories, images, &context, &fields);
    }
    for (repo, pattern) in &config.images_by_tag_regex {
        // Go decodes a null into the empty pattern, which matches every tag.
        let pattern = pattern.clone().unwrap_or_default();
        let fields = repo_fields(registry, repo);
        let Some(repository) = parse_repository(registry, repo, &fields) else {
            continue;
        };
        emit_with_fields(LogLevel::Info, "Processing repo", &fields);
        let regex = match regex_lite::Regex::new(&pattern) {
            Ok(regex) => regex,
            Err(err) => {
                let mut with_regex = fields.to_vec();
                with_regex.push(("regex", pattern.clone()));
                emit_with_fields(
                    LogLevel::Error,
                    "Error parsing regex, skipping",
                    &with_regex,
                );
                crate::logging::emit(LogLevel::Error, &err.to_string());
                continue;
            }
        };
        emit_with_fields(LogLevel::Info, "Querying registry for image tags", &fields);
        let all = match images_in_repository(&repository, &context).await {
            Ok(images) => images,
            Err(err) => {
                emit_with_fields(LogLevel::Error, "Error processing repo, skipping", &fields);
                crate::logging::emit(LogLevel::Error, &format!("{err:#}"));
                continue;
            }
        };
        emit_with_fields(
            LogLevel::Info,
            &format!("Start filtering using the regular expression: {pattern}"),
            &fields,
        );
        let images: Vec<ImageName> = all
            .into_iter()
            .filter(|image| {
                image
                    .docker_reference()
                    .and_then(DockerReference::tag)
                    .is_some_and(|tag| regex.is_match(tag))
            })
            .collect();
        add_repository(&mut repositories, images, &context, &fields);
    }
    repositories
}

/// Add a repository's images to the sync, or warn as skopeo does when none were found.
fn add_repository(
    repositories: &mut Vec<SourceRepository>,
    images: Vec<ImageName>,
    context: &SystemContext,
    fields: &[(&'static str, String)],
) {
    if images.is_empty() {
        emit_with_fields(LogLevel::Warning, "No refs to sync found", fields);
        return;
    }
    repositories.push(SourceRepository {
        images,
        context: context.clone(),
        dir_base: None,
    });
}

fn repo_fields(registry: &str, repo: &str) -> [(&'static str, String); 2] {
    [
        ("registry", registry.to_string()),
        ("repo", repo.to_string()),
    ]
}

/// `REGISTRY/REPO` as a repository (no tag or digest), or `None` after logging why not.
fn parse_repository(
    registry: &str,
    repo: &str,
    fields: &[(&str, String)],
) -> Option<DockerReference> {
    let parsed =
        DockerReference::parse_normalized(&format!("{registry}/{repo}")).and_then(|reference| {
            if reference.is_name_only() {
                Ok(reference)
            } else {
                bail!("input names a reference, not a repository")
            }
        });
    match parsed {
        Ok(reference) => Some(reference),
        Err(err) => {
            emit_with_fields(
                LogLevel::Error,
                "Error parsing repository name, skipping",
                fields,
            );
            crate::logging::emit(LogLevel::Error, &format!("{err:#}"));
            None
        }
    }
}

/// One `images:` entry: a digest if it parses as one, else a tag; `None` after logging
/// why it cannot be used.
fn tagged_or_digested(repository: &DockerReference, reference: &str) -> Option<ImageName> {
    let fields = [("ref", reference.to_string())];
    let named = match reference.parse::<Digest>() {
        Ok(digest) => repository.clone().with_digest(digest),
        Err(_) => match repository.with_tag(reference) {
            Ok(tagged) => tagged,
            Err(err) => {
                emit_with_fields(LogLevel::Error, "Error parsing ref, skipping", &fields);
                crate::logging::emit(LogLevel::Error, &format!("{err:#}"));
                return None;
            }
        },
    };
    match ImageName::docker(named) {
        Ok(image) => Some(image),
        Err(err) => {
            emit_with_fields(LogLevel::Error, "Error processing ref, skipping", &fields);
            crate::logging::emit(
                LogLevel::Error,
                &format!("Error getting image reference: {err:#}"),
            );
            None
        }
    }
}

/// Where under DESTINATION an image goes, before `--scoped` is applied: the full docker
/// reference, or a `dir` image's path relative to SOURCE (its base name when SOURCE is
/// the image itself). Like skopeo, the prefix is removed textually from the resolved path.
fn destination_suffix(source: &ImageName, dir_base: Option<&str>) -> String {
    match (source, dir_base) {
        (ImageName::Docker(reference), _) => reference.to_string(),
        (ImageName::Dir(path), Some(base)) => {
            let full = path.to_string_lossy();
            let suffix = full.strip_prefix(base).unwrap_or(&full);
            if suffix.is_empty() {
                go_path_base(base)
            } else {
                suffix.to_string()
            }
        }
        (other, _) => other.to_string(),
    }
}

/// The destination image at `target` (skopeo's `destinationReference`): a `dir`
/// destination directory is created here and must not exist yet.
fn destination_reference(target: &str, transport: &str) -> anyhow::Result<ImageName> {
    if transport == "docker" {
        let invalid = |err: anyhow::Error| {
            err.context(format!(
                "Cannot obtain a valid image reference for transport \"docker\" and reference {}",
                go_quote(&format!("//{target}"))
            ))
        };
        let reference = DockerReference::parse_normalized(target).map_err(invalid)?;
        return ImageName::docker(reference.with_default_tag()).map_err(invalid);
    }
    match std::fs::metadata(target) {
        Ok(_) => bail!(
            "Refusing to overwrite destination directory {}",
            go_quote(target)
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => bail!(
            "Destination directory could not be used: stat {target}: {}",
            go_errno_text(&err)
        ),
    }
    create_dir_0755(Path::new(target)).map_err(|err| {
        anyhow!(
            "Error creating directory for image {target}: mkdir {target}: {}",
            go_errno_text(&err)
        )
    })?;
    // Named as given, as containers/image shows a `dir:` reference.
    Ok(ImageName::Dir(PathBuf::from(target)))
}

/// `os.MkdirAll(path, 0755)`.
fn create_dir_0755(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

/// Go's `path.Base`: the last slash-separated element, `.` for an empty path.
fn go_path_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_helpers_match_go() {
        assert_eq!(go_path_base("host:5000/a/busybox:latest"), "busybox:latest");
        assert_eq!(go_path_base("src/"), "src");
        assert_eq!(go_path_base(""), ".");
    }

    #[test]
    fn yaml_entries_decode_as_skopeo_reads_them() {
        let text = "r.example:\n  images:\n    busybox: []\n    redis: [\"1.0\"]\n  images-by-tag-regex:\n    nginx: ^1\\.13$\n  credentials: {username: u, password: p}\n  tls-verify: false\n  unknown: 1\nempty.example:\n";
        let config: IndexMap<String, Option<RegistrySyncConfig>> =
            serde_norway::from_str(text).expect("valid YAML");
        let registry = config["r.example"].as_ref().expect("an entry");
        assert_eq!(
            registry.images.keys().collect::<Vec<_>>(),
            ["busybox", "redis"]
        );
        assert_eq!(
            registry.images["redis"].as_deref(),
            Some(&["1.0".to_string()][..])
        );
        assert_eq!(
            registry.images_by_tag_regex["nginx"].as_deref(),
            Some("^1\\.13$")
        );
        assert_eq!(
            registry.credentials.as_ref().map(|c| c.username.as_str()),
            Some("u")
        );
        assert_eq!(registry.tls_verify, Some(false));
        assert!(config["empty.example"].is_none());
        // Nulls decode as Go's zero values, an empty file as no registries.
        let nulls: IndexMap<String, Option<RegistrySyncConfig>> = serde_norway::from_str(
            "r:\n  images:\n    busybox:\n  images-by-tag-regex:\n    x:\n  credentials:\n  tls-verify:\n",
        )
        .expect("valid YAML");
        let registry = nulls["r"].as_ref().expect("an entry");
        assert_eq!(registry.images["busybox"], None);
        assert_eq!(registry.images_by_tag_regex["x"], None);
        assert_eq!(registry.tls_verify, None);
        let empty: Option<IndexMap<String, Option<RegistrySyncConfig>>> =
            serde_norway::from_str("").expect("an empty document");
        assert!(empty.is_none());
    }
}
