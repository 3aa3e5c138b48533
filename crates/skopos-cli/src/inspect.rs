//! `skopos inspect IMAGE-NAME`, as skopeo does it: the same JSON (keys, order, nulls,
//! 4-space indent), the same raw modes, the same Go templates and the same error wording.
//! Where newer skopeo differs from 1.9.3, this follows the newer one: the default output
//! has `LayersData`, `--format` has containers/common's template functions, and the
//! fetching steps honour `--retry-times` / `--retry-delay`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{anyhow, bail, Context as _};
use gotmpl::Value;
use serde::Serialize;

use skopos_core::digest::Algorithm;
use skopos_core::go_time::GoTime;
use skopos_core::gojson;
use skopos_core::image_config::{OciHistory, OciImage};
use skopos_core::image_read::{
    choose_image, image_config_blob, oci_config, parse_schema1, read_config,
};
use skopos_core::manifest::docker_v1_image::V1Image;
use skopos_core::manifest::{self, LayerInfo, Manifest};
use skopos_core::retry::with_retry;
use skopos_core::verified::{ManifestDigestMismatch, VerifiedSource};
use skopos_core::{Digest, ImageName, ImageSource, SystemContext};

use crate::cli::RegistryFlags as _;
use crate::cli::{GlobalArgs, InspectArgs};
use crate::logging::go_quote;
use crate::template::{self, GoForms, RenderError};

/// The fields of [`InspectOutput`] as templates name them, with the Go types that Go's
/// template errors name (skopeo's `inspect.Output`).
const OUTPUT_FIELDS: &[(&str, &str)] = &[
    ("Name", "string"),
    ("Tag", "string"),
    ("Digest", "digest.Digest"),
    ("RepoTags", "[]string"),
    ("Created", "*time.Time"),
    ("DockerVersion", "string"),
    ("Labels", "map[string]string"),
    ("Architecture", "string"),
    ("Os", "string"),
    ("Layers", "[]string"),
    ("LayersData", "[]types.ImageInspectLayer"),
    ("Env", "[]string"),
];

/// The fields of `v1.Image` as templates name them, with their Go types.
const CONFIG_FIELDS: &[(&str, &str)] = &[
    ("Created", "*time.Time"),
    ("Author", "string"),
    ("Architecture", "string"),
    ("Variant", "string"),
    ("OS", "string"),
    ("OSVersion", "string"),
    ("OSFeatures", "[]string"),
    ("Config", "v1.ImageConfig"),
    ("RootFS", "v1.RootFS"),
    ("History", "[]v1.History"),
];

/// The default `inspect` output (skopeo's `inspect.Output`), in Go field order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectOutput {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    pub digest: Digest,
    pub repo_tags: Vec<String>,
    pub created: Option<GoTime>,
    pub docker_version: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub architecture: String,
    pub os: String,
    pub layers: Vec<String>,
    pub layers_data: Vec<InspectLayer>,
    pub env: Option<Vec<String>>,
}

/// One layer as containers/image's `types.ImageInspectLayer` describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectLayer {
    /// The layer's media type in the manifest; empty for schema 1.
    #[serde(rename = "MIMEType")]
    pub mime_type: String,
    pub digest: Digest,
    /// The size the manifest gives; -1 when it gives none (schema 1).
    pub size: i64,
    /// The layer's annotations (OCI only); `None` is Go's nil map.
    pub annotations: Option<BTreeMap<String, String>>,
}

/// containers/image's `imgInspectLayersFromLayerInfos(m.LayerInfos())`: every layer of
/// the manifest, base first, schema 1 throwaway layers included.
pub fn inspect_layers(layers: &[LayerInfo]) -> Vec<InspectLayer> {
    layers
        .iter()
        .map(|layer| InspectLayer {
            mime_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: layer
                .size
                .and_then(|size| i64::try_from(size).ok())
                .unwrap_or(-1),
            annotations: layer.annotations.clone(),
        })
        .collect()
}

/// What containers/image's `Inspect()` reports about one (single-platform) image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageFacts {
    pub tag: String,
    pub created: Option<GoTime>,
    pub docker_version: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub architecture: String,
    pub os: String,
    pub layers: Vec<String>,
    pub layers_data: Vec<InspectLayer>,
    pub env: Option<Vec<String>>,
}

impl ImageFacts {
    /// `Layers` and `LayersData` of the manifest's `layers`.
    fn with_layers(self, layers: &[LayerInfo]) -> Self {
        ImageFacts {
            layers: layers.iter().map(|l| l.digest.to_string()).collect(),
            layers_data: inspect_layers(layers),
            ..self
        }
    }
}

impl InspectOutput {
    /// Combine an image's facts with what only the top level knows.
    pub fn new(name: String, digest: Digest, repo_tags: Vec<String>, facts: ImageFacts) -> Self {
        InspectOutput {
            name,
            tag: facts.tag,
            digest,
            repo_tags,
            created: facts.created,
            docker_version: facts.docker_version,
            labels: facts.labels,
            architecture: facts.architecture,
            os: facts.os,
            layers: facts.layers,
            layers_data: facts.layers_data,
            env: facts.env,
        }
    }

    /// The value templates see, and how Go prints and marshals its parts: Go field names;
    /// nil maps and slices print as `map[]` and `[]`, a nil time as `<nil>`, a time as
    /// Go's `Time.String()`, structs (the output, `LayersData` entries) as `{…}`.
    pub fn to_template_value(&self) -> (Value, GoForms) {
        let mut go = GoForms::default();
        let layers_data: Vec<Value> = self
            .layers_data
            .iter()
            .map(|layer| {
                let mut fields = BTreeMap::new();
                fields.insert("MIMEType", string_value(&layer.mime_type));
                fields.insert("Digest", string_value(&layer.digest.to_string()));
                fields.insert("Size", Value::Int(layer.size));
                fields.insert(
                    "Annotations",
                    go.remember_json(
                        string_map_value(layer.annotations.as_ref()),
                        &layer.annotations,
                    ),
                );
                let item = go.remember_json(map_value(fields), layer);
                go.remember_printed(item, printed_layer(layer))
            })
            .collect();
        let mut fields = BTreeMap::new();
        fields.insert("Name", string_value(&self.name));
        fields.insert("Tag", string_value(&self.tag));
        fields.insert("Digest", string_value(&self.digest.to_string()));
        fields.insert("RepoTags", string_list_value(Some(&self.repo_tags)));
        fields.insert("Created", time_value(&mut go, self.created.as_ref()));
        fields.insert("DockerVersion", string_value(&self.docker_version));
        fields.insert(
            "Labels",
            go.remember_json(string_map_value(self.labels.as_ref()), &self.labels),
        );
        fields.insert("Architecture", string_value(&self.architecture));
        fields.insert("Os", string_value(&self.os));
        fields.insert("Layers", string_list_value(Some(&self.layers)));
        fields.insert(
            "LayersData",
            go.remember_json(Value::List(layers_data.into()), &self.layers_data),
        );
        fields.insert(
            "Env",
            go.remember_json(string_list_value(self.env.as_ref()), &self.env),
        );
        let value = go.remember_json(map_value(fields), self);
        let value = go.remember_printed(value, self.printed());
        (value, go)
    }

    /// Go's `%v` of the struct (`{{.}}`).
    fn printed(&self) -> String {
        let layers_data: Vec<String> = self.layers_data.iter().map(printed_layer).collect();
        format!(
            "{{{} {} {} {} {} {} {} {} {} {} [{}] {}}}",
            self.name,
            self.tag,
            self.digest,
            printed_list(Some(&self.repo_tags)),
            printed_time(self.created.as_ref()),
            self.docker_version,
            printed_map(self.labels.as_ref()),
            self.architecture,
            self.os,
            printed_list(Some(&self.layers)),
            layers_data.join(" "),
            printed_list(self.env.as_ref()),
        )
    }
}

/// Go's `%v` of a `types.ImageInspectLayer`.
fn printed_layer(layer: &InspectLayer) -> String {
    format!(
        "{{{} {} {} {}}}",
        layer.mime_type,
        layer.digest,
        layer.size,
        printed_map(layer.annotations.as_ref())
    )
}

/// Go's `%v` of a string slice (nil prints like empty).
fn printed_list(items: Option<&Vec<String>>) -> String {
    format!(
        "[{}]",
        items.map(|items| items.join(" ")).unwrap_or_default()
    )
}

/// Go's `%v` of a map (sorted keys; nil prints like empty).
fn printed_map<V: std::fmt::Display>(map: Option<&BTreeMap<String, V>>) -> String {
    let entries: Vec<String> = map
        .into_iter()
        .flatten()
        .map(|(key, value)| format!("{key}:{value}"))
        .collect();
    format!("map[{}]", entries.join(" "))
}

/// Go's `%v` of a `*time.Time`.
fn printed_time(time: Option<&GoTime>) -> String {
    time.map_or_else(|| "<nil>".to_string(), GoTime::to_go_string)
}

/// The value templates see for `--config` (`v1.Image` with Go field names), and how Go
/// prints and marshals its parts. `Config`, `RootFS` and `History` entries print as Go's
/// `{…}`; the whole `v1.Image` (`{{.}}`) still prints as `map[…]`.
pub fn config_template_value(image: &OciImage) -> (Value, GoForms) {
    let mut go = GoForms::default();
    let config = &image.config;
    let mut config_fields = BTreeMap::new();
    config_fields.insert("User", string_value(&config.user));
    config_fields.insert(
        "ExposedPorts",
        go.remember_json(
            key_set_value(config.exposed_ports.as_ref()),
            &config.exposed_ports,
        ),
    );
    config_fields.insert(
        "Env",
        go.remember_json(string_list_value(config.env.as_ref()), &config.env),
    );
    config_fields.insert(
        "Entrypoint",
        go.remember_json(
            string_list_value(config.entrypoint.as_ref()),
            &config.entrypoint,
        ),
    );
    config_fields.insert(
        "Cmd",
        go.remember_json(string_list_value(config.cmd.as_ref()), &config.cmd),
    );
    config_fields.insert(
        "Volumes",
        go.remember_json(key_set_value(config.volumes.as_ref()), &config.volumes),
    );
    config_fields.insert("WorkingDir", string_value(&config.working_dir));
    config_fields.insert(
        "Labels",
        go.remember_json(string_map_value(config.labels.as_ref()), &config.labels),
    );
    config_fields.insert("StopSignal", string_value(&config.stop_signal));

    let mut rootfs_fields = BTreeMap::new();
    rootfs_fields.insert("Type", string_value(&image.rootfs.fs_type));
    rootfs_fields.insert(
        "DiffIDs",
        go.remember_json(
            string_list_value(image.rootfs.diff_ids.as_ref()),
            &image.rootfs.diff_ids,
        ),
    );

    let history: Vec<Value> = image
        .history
        .iter()
        .flatten()
        .map(|entry: &OciHistory| {
            let mut fields = BTreeMap::new();
            fields.insert("Created", time_value(&mut go, entry.created.as_ref()));
            fields.insert("CreatedBy", string_value(&entry.created_by));
            fields.insert("Author", string_value(&entry.author));
            fields.insert("Comment", string_value(&entry.comment));
            fields.insert("EmptyLayer", Value::Bool(entry.empty_layer));
            let item = go.remember_json(map_value(fields), entry);
            let printed = format!(
                "{{{} {} {} {} {}}}",
                printed_time(entry.created.as_ref()),
                entry.created_by,
                entry.author,
                entry.comment,
                entry.empty_layer
            );
            go.remember_printed(item, printed)
        })
        .collect();

    let mut fields = BTreeMap::new();
    fields.insert("Created", time_value(&mut go, image.created.as_ref()));
    fields.insert("Author", string_value(&image.author));
    fields.insert("Architecture", string_value(&image.architecture));
    fields.insert("Variant", string_value(&image.variant));
    fields.insert("OS", string_value(&image.os));
    fields.insert("OSVersion", string_value(&image.os_version));
    fields.insert(
        "OSFeatures",
        go.remember_json(
            string_list_value(image.os_features.as_ref()),
            &image.os_features,
        ),
    );
    let config_value = go.remember_json(map_value(config_fields), config);
    fields.insert(
        "Config",
        go.remember_printed(config_value, printed_config(config)),
    );
    let rootfs_value = go.remember_json(map_value(rootfs_fields), &image.rootfs);
    let rootfs_printed = format!(
        "{{{} {}}}",
        image.rootfs.fs_type,
        printed_list(image.rootfs.diff_ids.as_ref())
    );
    fields.insert("RootFS", go.remember_printed(rootfs_value, rootfs_printed));
    fields.insert(
        "History",
        go.remember_json(Value::List(history.into()), &image.history),
    );
    let value = go.remember_json(map_value(fields), image);
    (value, go)
}

/// Go's `%v` of a `v1.ImageConfig` (whose last field, `ArgsEscaped`, skopos does not
/// read: it prints as false).
fn printed_config(config: &skopos_core::image_config::OciImageConfig) -> String {
    let key_set = |map: Option<&BTreeMap<String, skopos_core::manifest::go_compat::Empty>>| {
        let keys: Vec<String> = map
            .into_iter()
            .flatten()
            .map(|(k, _)| format!("{k}:{{}}"))
            .collect();
        format!("map[{}]", keys.join(" "))
    };
    format!(
        "{{{} {} {} {} {} {} {} {} {} false}}",
        config.user,
        key_set(config.exposed_ports.as_ref()),
        printed_list(config.env.as_ref()),
        printed_list(config.entrypoint.as_ref()),
        printed_list(config.cmd.as_ref()),
        key_set(config.volumes.as_ref()),
        config.working_dir,
        printed_map(config.labels.as_ref()),
        config.stop_signal,
    )
}

fn string_value(text: &str) -> Value {
    Value::String(text.into())
}

/// Go prints a nil `*time.Time` as `<nil>` (so, unlike Go, `{{if .Created}}` is true
/// for it here) and marshals it as `null`; a time prints as `Time.String()` and marshals
/// as RFC 3339.
fn time_value(go: &mut GoForms, time: Option<&GoTime>) -> Value {
    let printed = string_value(&printed_time(time));
    go.remember_json(printed, &time)
}

fn string_list_value(list: Option<&Vec<String>>) -> Value {
    let items: Vec<Value> = list
        .into_iter()
        .flatten()
        .map(|s| string_value(s))
        .collect();
    Value::List(items.into())
}

fn string_map_value(map: Option<&BTreeMap<String, String>>) -> Value {
    let entries = map
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str().into(), string_value(v)))
        .collect();
    Value::Map(std::sync::Arc::new(entries))
}

/// `map[string]struct{}`: Go prints each value as `{}`.
fn key_set_value<V>(map: Option<&BTreeMap<String, V>>) -> Value {
    let entries = map
        .into_iter()
        .flatten()
        .map(|(k, _)| (k.as_str().into(), string_value("{}")))
        .collect();
    Value::Map(std::sync::Arc::new(entries))
}

fn map_value(fields: BTreeMap<&str, Value>) -> Value {
    let entries = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Value::Map(std::sync::Arc::new(entries))
}

/// `json.MarshalIndent(v, "", "    ")` plus the newline skopeo prints after it.
pub fn indented_json<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    let mut out = gojson::to_vec_indent(value, "    ").context("encoding JSON output")?;
    out.push(b'\n');
    Ok(out)
}

/// What `inspect` found: the bytes for stdout.
/// The images a top-level manifest stands for: itself and, for a list, its instances.
fn written_subjects(bytes: &[u8], mime: &str) -> anyhow::Result<Vec<Digest>> {
    let mime = if mime.is_empty() {
        manifest::guess_mime_type(bytes)
    } else {
        mime.to_string()
    };
    let mut subjects = vec![manifest::manifest_digest(bytes)?];
    if let manifest::AnyManifest::List(list) = manifest::parse(bytes, &mime)? {
        subjects.extend(list.instances().into_iter().map(|i| i.digest));
    }
    Ok(subjects)
}

pub async fn run(global: &GlobalArgs, args: &InspectArgs) -> anyhow::Result<Vec<u8>> {
    let [image_arg] = args.images.as_slice() else {
        bail!("Exactly one argument expected");
    };
    let format = args.format.as_deref().filter(|f| !f.is_empty());
    if args.skopos_referrers && (args.raw || args.config || format.is_some()) {
        bail!("--skopos-referrers cannot be used with --raw, --config or --format");
    }
    if args.raw && format.is_some() {
        bail!("raw output does not support format option");
    }
    let digest_algorithm = match args.manifest_digest.as_deref() {
        None | Some("sha256") => Algorithm::Sha256,
        Some("sha512") => Algorithm::Sha512,
        Some(other) => bail!(
            "unsupported digest algorithm {}: use sha256 or sha512",
            go_quote(other)
        ),
    };

    let mut ctx = SystemContext {
        oci_shared_blob_dir: args.image.shared_blob_dir.clone(),
        docker_daemon_host: args.image.daemon_host.clone(),
        auth_file: args.image.authfile.clone(),
        ..crate::copy::base_context(global)
    };
    args.image.apply_registry_settings(&mut ctx)?;
    let retry = crate::copy::retry_options(&args.retry)?;
    let name_error = |err: anyhow::Error| {
        err.context(format!("Error parsing image name {}", go_quote(image_arg)))
    };
    let name = ImageName::parse(image_arg).map_err(name_error)?;
    let source = with_retry(retry, || skopos_transports::open_source(&name, &ctx))
        .await
        .map_err(name_error)?;
    let source = VerifiedSource::wrap(source.into());
    let source = source.as_ref();

    let (top_bytes, top_mime) =
        with_retry(retry, || source.manifest(None))
            .await
            .map_err(|err| {
                // skopeo reads the manifest first and finds the mismatch when it parses it.
                if err.is::<ManifestDigestMismatch>() {
                    prefixed("Error parsing manifest for image", err)
                } else {
                    prefixed("Error retrieving manifest for image", err)
                }
            })?;
    if args.skopos_referrers {
        let subjects = written_subjects(&top_bytes, &top_mime)?;
        return crate::attachments::list(&name, &ctx, subjects).await;
    }
    if args.raw && !args.config {
        return Ok(top_bytes);
    }

    let platform = global.wanted_platform();
    let chosen = with_retry(retry, || {
        choose_image(source, &top_bytes, &top_mime, &platform)
    })
    .await
    .map_err(|err| prefixed("Error parsing manifest for image", err))?;
    let (image_bytes, image) = (chosen.bytes, chosen.manifest);

    if args.config {
        if args.raw {
            let blob = match image.config() {
                Some(info) => with_retry(retry, || read_config(source, &info))
                    .await
                    .map_err(|err| prefixed("Error reading configuration blob", err))?,
                // Schema 1 has no config blob; containers/image returns nothing.
                None => Vec::new(),
            };
            return Ok(blob);
        }
        let oci = with_retry(retry, || oci_config(source, &image))
            .await
            .map_err(|err| prefixed("Error reading OCI-formatted configuration data", err))?;
        return match format {
            Some(f) if !template::is_json_format(f) => {
                let (value, json) = config_template_value(&oci);
                print_template(f, value, json, CONFIG_FIELDS).map_err(|err| {
                    prefixed(
                        "Error writing OCI-formatted configuration data to standard output",
                        err,
                    )
                })
            }
            _ => indented_json(&oci),
        };
    }

    // The tag list is independent of the image: fetch it while the config is read.
    let repo_tags = async {
        if args.no_tags {
            return Ok(Vec::new());
        }
        source
            .repository_tags()
            .await
            .map(Option::unwrap_or_default)
            .map_err(|err| prefixed("Error determining repository tags", err))
    };
    let (facts, repo_tags) = tokio::join!(
        with_retry(retry, || image_facts(source, &image, &image_bytes)),
        repo_tags
    );
    // The image's own errors come first, as in skopeo, which reads them first.
    let facts = facts?;
    let repo_tags = repo_tags?;
    let digest = if digest_algorithm == Algorithm::Sha256 {
        manifest::manifest_digest(&top_bytes)
            .map_err(|err| prefixed("Error computing manifest digest", err))?
    } else {
        Digest::of(digest_algorithm, &top_bytes)
    };
    let name_field = name
        .docker_reference()
        .map(|r| r.name())
        .unwrap_or_default();
    let output = InspectOutput::new(name_field, digest, repo_tags, facts);
    match format {
        Some(f) if !template::is_json_format(f) => {
            let (value, json) = output.to_template_value();
            print_template(f, value, json, OUTPUT_FIELDS)
        }
        _ => indented_json(&output),
    }
}

/// The output of `format` over `value`. When the template fails while running, what it
/// printed before the failure goes to stdout first, as with skopeo.
fn print_template(
    format: &str,
    value: Value,
    json: GoForms,
    fields: &[(&str, &str)],
) -> anyhow::Result<Vec<u8>> {
    match template::render(format, value, json, fields) {
        Ok(text) => Ok(text.into_bytes()),
        Err(RenderError { printed, error }) => {
            write_stdout(printed.as_bytes())?;
            Err(error)
        }
    }
}

/// `prefix: err` when printed with `{:#}`; `err` stays in the chain, so that the
/// not-found marker is still found.
fn prefixed(prefix: &str, err: anyhow::Error) -> anyhow::Error {
    err.context(prefix.to_string())
}

/// containers/image's `Inspect()` for each manifest type.
async fn image_facts(
    source: &dyn ImageSource,
    image: &Manifest,
    image_bytes: &[u8],
) -> anyhow::Result<ImageFacts> {
    let layers = image.layers();
    match image {
        Manifest::Oci(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_oci_config(&blob, &layers)
        }
        Manifest::Schema2(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_docker_config(&blob, &layers)
        }
        Manifest::Schema1(_) => facts_from_schema1(image_bytes, &layers),
    }
}

/// An OCI image: everything from `v1.Image`, except `docker_version`.
pub fn facts_from_oci_config(blob: &[u8], layers: &[LayerInfo]) -> anyhow::Result<ImageFacts> {
    let oci: OciImage = serde_json::from_slice(blob).context("decoding the image configuration")?;
    let docker: V1Image =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    let facts = ImageFacts {
        tag: String::new(),
        created: oci.created,
        docker_version: docker.docker_version,
        labels: oci.config.labels,
        architecture: oci.architecture,
        os: oci.os,
        env: oci.config.env,
        ..ImageFacts::default()
    };
    Ok(facts.with_layers(layers))
}

/// A Docker schema 2 image: `created` is not optional (Go's zero time when missing), and
/// labels and environment come from `config` when there is one.
pub fn facts_from_docker_config(blob: &[u8], layers: &[LayerInfo]) -> anyhow::Result<ImageFacts> {
    let docker: V1Image =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    Ok(docker_facts(docker, String::new()).with_layers(layers))
}

fn docker_facts(docker: V1Image, tag: String) -> ImageFacts {
    let created = Some(docker.created);
    let (labels, env) = docker.config.map(|c| (c.labels, c.env)).unwrap_or_default();
    ImageFacts {
        tag,
        created,
        docker_version: docker.docker_version,
        labels,
        architecture: docker.architecture,
        os: docker.os,
        env,
        ..ImageFacts::default()
    }
}

/// A schema 1 manifest: the newest `v1Compatibility` entry holds the config, and the
/// manifest carries the tag.
pub fn facts_from_schema1(
    manifest_bytes: &[u8],
    layers: &[LayerInfo],
) -> anyhow::Result<ImageFacts> {
    let schema1 = parse_schema1(manifest_bytes)?;
    let newest = schema1
        .history
        .first()
        .ok_or_else(|| anyhow!("schema 1 manifest has no history entries"))?;
    let docker: V1Image = serde_json::from_str(&newest.v1_compatibility)
        .context("decoding the schema 1 v1Compatibility entry")?;
    Ok(docker_facts(docker, schema1.tag).with_layers(layers))
}

/// Write `bytes` to stdout.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .context("writing to standard output")
}

#[cfg(test)]
mod tests {
    use super::*;
    use skopos_core::manifest::AnyManifest;
    use skopos_core::media_type;

    fn digest() -> Digest {
        Digest::sha256_of(b"m")
    }

    fn layer(content: &[u8], size: Option<u64>, media_type: &str) -> LayerInfo {
        LayerInfo {
            digest: Digest::sha256_of(content),
            size,
            media_type: media_type.to_string(),
            urls: None,
            annotations: None,
            empty_layer: false,
        }
    }

    /// What a template prints for `output`.
    fn render(output: &InspectOutput, format: &str) -> String {
        let (value, json) = output.to_template_value();
        template::render(format, value, json, OUTPUT_FIELDS)
            .unwrap_or_else(|failure| panic!("{format}: {:#}", failure.error))
    }

    #[test]
    fn default_output_has_layers_data_after_layers() {
        let blob = br#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"],"Labels":{"bench.seed":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let mut first = layer(b"a", Some(10), media_type::OCI_LAYER_GZIP);
        first.annotations = Some(BTreeMap::from([("k".to_string(), "v".to_string())]));
        let second = layer(b"b", Some(20), media_type::OCI_LAYER);
        let facts = facts_from_oci_config(blob, &[first.clone(), second.clone()]).unwrap();
        let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
        let text = String::from_utf8(indented_json(&output).unwrap()).unwrap();
        let (a, b) = (first.digest, second.digest);
        let expected = format!(
            "{{\n    \"Digest\": \"{}\",\n    \"RepoTags\": [],\n    \"Created\": \"2024-01-01T00:00:00Z\",\n    \"DockerVersion\": \"\",\n    \"Labels\": {{\n        \"bench.seed\": \"1\"\n    }},\n    \"Architecture\": \"amd64\",\n    \"Os\": \"linux\",\n    \"Layers\": [\n        \"{a}\",\n        \"{b}\"\n    ],\n    \"LayersData\": [\n        {{\n            \"MIMEType\": \"application/vnd.oci.image.layer.v1.tar+gzip\",\n            \"Digest\": \"{a}\",\n            \"Size\": 10,\n            \"Annotations\": {{\n                \"k\": \"v\"\n            }}\n        }},\n        {{\n            \"MIMEType\": \"application/vnd.oci.image.layer.v1.tar\",\n            \"Digest\": \"{b}\",\n            \"Size\": 20,\n            \"Annotations\": null\n        }}\n    ],\n    \"Env\": [\n        \"PATH=/usr/bin:/bin\"\n    ]\n}}\n",
            digest()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn missing_oci_fields_are_null_and_an_image_without_layers_has_empty_layers_data() {
        let facts = facts_from_oci_config(b"{\"docker_version\":\"1.2\"}", &[]).unwrap();
        let output = InspectOutput::new(
            "docker.io/library/x".into(),
            digest(),
            vec!["t".into()],
            facts,
        );
        let text = String::from_utf8(gojson::to_vec(&output).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"Name":"docker.io/library/x","Digest":"{}","RepoTags":["t"],"Created":null,"DockerVersion":"1.2","Labels":null,"Architecture":"","Os":"","Layers":[],"LayersData":[],"Env":null}}"#,
                digest()
            )
        );
    }

    #[test]
    fn docker_configs_have_a_zero_time_and_escaped_labels() {
        let facts = facts_from_docker_config(
            br#"{"architecture":"arm64","os":"linux","config":{"Labels":{"k":"<a&b>"}}}"#,
            &[layer(b"a", Some(3), media_type::DOCKER_LAYER_GZIP)],
        )
        .unwrap();
        assert_eq!(facts.created, Some(GoTime::ZERO));
        let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
        let text = String::from_utf8(gojson::to_vec(&output).unwrap()).unwrap();
        assert!(
            text.contains(r#""Created":"0001-01-01T00:00:00Z""#),
            "{text}"
        );
        assert!(
            text.contains(r#""Labels":{"k":"\u003ca\u0026b\u003e"}"#),
            "{text}"
        );
        assert!(text.contains(r#""Env":null"#), "{text}");
        assert!(
            text.contains(&format!(
                r#""LayersData":[{{"MIMEType":"application/vnd.docker.image.rootfs.diff.tar.gzip","Digest":"{}","Size":3,"Annotations":null}}]"#,
                Digest::sha256_of(b"a")
            )),
            "{text}"
        );
    }

    #[test]
    fn schema1_facts_come_from_the_newest_history_entry() {
        let manifest = br#"{"schemaVersion":1,"name":"x","tag":"v1","history":[{"v1Compatibility":"{\"created\":\"2020-01-02T03:04:05.6+01:00\",\"os\":\"linux\",\"docker_version\":\"1.13\",\"config\":{\"Env\":[\"A=1\"]}}"},{"v1Compatibility":"{}"}]}"#;
        let facts = facts_from_schema1(manifest, &[layer(b"a", None, "")]).unwrap();
        assert_eq!(facts.tag, "v1");
        assert_eq!(facts.docker_version, "1.13");
        assert_eq!(facts.env, Some(vec!["A=1".to_string()]));
        assert_eq!(facts.layers, vec![Digest::sha256_of(b"a").to_string()]);
        assert_eq!(
            facts.created.map(|t| t.to_rfc3339_nano()).as_deref(),
            Some("2020-01-02T03:04:05.6+01:00")
        );
    }

    #[test]
    fn schema1_layers_data_has_every_layer_with_unknown_size_and_no_type() {
        let (newest, base) = (Digest::sha256_of(b"newest"), Digest::sha256_of(b"base"));
        let manifest = format!(
            r#"{{"schemaVersion":1,"name":"x","tag":"v1","architecture":"amd64","fsLayers":[{{"blobSum":"{newest}"}},{{"blobSum":"{base}"}}],"history":[{{"v1Compatibility":"{{\"id\":\"{}\",\"parent\":\"{}\",\"throwaway\":true}}"}},{{"v1Compatibility":"{{\"id\":\"{}\"}}"}}]}}"#,
            "b".repeat(64),
            "a".repeat(64),
            "a".repeat(64)
        );
        let AnyManifest::Image(image) =
            manifest::parse(manifest.as_bytes(), media_type::DOCKER_V2_SCHEMA1).unwrap()
        else {
            panic!("a schema 1 manifest parsed as a list");
        };
        let layers_data = inspect_layers(&image.layers());
        // Base first, and the throwaway layer is listed too, as containers/image does.
        assert_eq!(
            layers_data,
            vec![
                InspectLayer {
                    mime_type: String::new(),
                    digest: base,
                    size: -1,
                    annotations: None,
                },
                InspectLayer {
                    mime_type: String::new(),
                    digest: newest,
                    size: -1,
                    annotations: None,
                },
            ]
        );
        let text = String::from_utf8(gojson::to_vec(&layers_data[0]).unwrap()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"MIMEType":"","Digest":"{}","Size":-1,"Annotations":null}}"#,
                Digest::sha256_of(b"base")
            )
        );
    }

    #[test]
    fn templates_see_go_values() {
        let facts = facts_from_oci_config(
            br#"{"created":"2024-01-01T00:00:00.5+02:00","os":"linux","config":{"Labels":{"a":"1"}}}"#,
            &[layer(b"a", Some(5), media_type::OCI_LAYER_GZIP)],
        )
        .unwrap();
        let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
        let a = Digest::sha256_of(b"a");
        assert_eq!(
            render(&output, "{{.Created}}"),
            "2024-01-01 00:00:00.5 +0200 +0200\n"
        );
        assert_eq!(
            render(&output, "{{.Labels}}|{{.Env}}|{{.RepoTags}}"),
            "map[a:1]|[]|[]\n"
        );
        assert_eq!(
            render(&output, "{{.Name}}|{{.Layers}}"),
            format!("|[{a}]\n")
        );
        assert_eq!(render(&output, "{{index .Labels \"a\"}}"), "1\n");
        assert_eq!(
            render(
                &output,
                "{{range .LayersData}}{{.MIMEType}} {{.Digest}} {{.Size}} {{.Annotations}}{{end}}"
            ),
            format!("application/vnd.oci.image.layer.v1.tar+gzip {a} 5 map[]\n")
        );
        assert_eq!(render(&output, "{{len .LayersData}}"), "1\n");
        // Structs print as Go's `{…}`, nested in lists too.
        assert_eq!(
            render(&output, "{{.LayersData}}"),
            format!("[{{application/vnd.oci.image.layer.v1.tar+gzip {a} 5 map[]}}]\n")
        );
        assert_eq!(
            render(&output, "{{.}}"),
            format!(
                "{{  {} [] 2024-01-01 00:00:00.5 +0200 +0200  map[a:1]  linux [{a}] [{{application/vnd.oci.image.layer.v1.tar+gzip {a} 5 map[]}}] []}}\n",
                digest()
            )
        );

        let empty = InspectOutput::new(String::new(), digest(), Vec::new(), ImageFacts::default());
        assert_eq!(render(&empty, "{{.Created}}"), "<nil>\n");
    }

    #[test]
    fn json_function_marshals_go_values_without_html_escaping() {
        let mut annotated = layer(b"a", Some(5), media_type::OCI_LAYER_GZIP);
        annotated.annotations = Some(BTreeMap::from([("k".to_string(), "<v>".to_string())]));
        let facts = facts_from_oci_config(
            br#"{"created":"2024-01-01T00:00:00.5+02:00","os":"linux","config":{"Labels":{"a":"x&y"}}}"#,
            &[annotated, layer(b"b", Some(6), media_type::OCI_LAYER)],
        )
        .unwrap();
        let output = InspectOutput::new("docker.io/library/x".into(), digest(), Vec::new(), facts);
        let (a, b) = (Digest::sha256_of(b"a"), Digest::sha256_of(b"b"));
        assert_eq!(
            render(
                &output,
                "{{json .Created}}|{{json .Env}}|{{json .Labels}}|{{json .RepoTags}}"
            ),
            "\"2024-01-01T00:00:00.5+02:00\"|null|{\"a\":\"x&y\"}|[]\n"
        );
        assert_eq!(
            render(&output, "{{json .LayersData}}"),
            format!(
                "[{{\"MIMEType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"Digest\":\"{a}\",\"Size\":5,\"Annotations\":{{\"k\":\"<v>\"}}}},{{\"MIMEType\":\"application/vnd.oci.image.layer.v1.tar\",\"Digest\":\"{b}\",\"Size\":6,\"Annotations\":null}}]\n"
            )
        );
        assert_eq!(
            render(
                &output,
                "{{range .LayersData}}{{json .Annotations}};{{end}}"
            ),
            "{\"k\":\"<v>\"};null;\n"
        );
        // The whole struct, in Go field order with `omitempty` applied.
        let whole = render(&output, "{{json .}}");
        let mut expected = String::from_utf8(gojson::to_vec(&output).unwrap()).unwrap();
        expected = expected
            .replace("\\u003c", "<")
            .replace("\\u003e", ">")
            .replace("\\u0026", "&");
        assert_eq!(whole, format!("{expected}\n"));
        assert!(
            whole.starts_with("{\"Name\":\"docker.io/library/x\",\"Digest\""),
            "{whole}"
        );
    }

    #[test]
    fn config_templates_see_oci_field_names() {
        let oci: OciImage = serde_json::from_slice(
            br#"{"os":"linux","config":{"Cmd":["sh"],"ExposedPorts":{"80/tcp":{}}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x"}]}"#,
        )
        .unwrap();
        let (value, json) = config_template_value(&oci);
        assert_eq!(
            template::render(
                "{{.OS}} {{.Config.Cmd}} {{.RootFS.DiffIDs}} {{(index .History 0).CreatedBy}} {{json .Config.ExposedPorts}} {{json .Config.Env}} {{json .RootFS}} {{json .History}}",
                value,
                json,
                CONFIG_FIELDS
            )
            .unwrap(),
            "linux [sh] [sha256:aa] x {\"80/tcp\":{}} null {\"type\":\"layers\",\"diff_ids\":[\"sha256:aa\"]} [{\"created_by\":\"x\"}]\n"
        );
        let (value, json) = config_template_value(&oci);
        assert_eq!(
            template::render("{{.Config}}|{{.RootFS}}|{{.History}}", value, json, CONFIG_FIELDS)
                .unwrap(),
            "{ map[80/tcp:{}] [] [] [sh] map[]  map[]  false}|{layers [sha256:aa]}|[{<nil> x   false}]\n"
        );
    }
}
