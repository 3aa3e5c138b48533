//! `skopos inspect IMAGE-NAME`, as skopeo 1.9.3 (containers/image v5.22) does it: the same
//! JSON (keys, order, nulls, 4-space indent), the same raw modes, the same Go templates and
//! the same error wording.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{anyhow, bail, Context as _};
use gotmpl::Value;
use serde::Serialize;
use tokio::io::AsyncReadExt;

use skopos_core::digest::Algorithm;
use skopos_core::gojson;
use skopos_core::image_config::{DockerImageConfig, GoTime, OciHistory, OciImage};
use skopos_core::manifest::{self, AnyManifest, Manifest};
use skopos_core::media_type;
use skopos_core::platform::Platform;
use skopos_core::{BlobInfo, Digest, ImageName, ImageSource, SystemContext};

use crate::cli::{GlobalArgs, InspectArgs};
use crate::logging::go_quote;
use crate::template;

/// containers/image refuses config blobs larger than this (`iolimits.MaxConfigBodySize`).
const MAX_CONFIG_SIZE: u64 = 4 * 1024 * 1024;

/// The fields of [`InspectOutput`] as templates name them.
const OUTPUT_FIELDS: &[&str] = &[
    "Name",
    "Tag",
    "Digest",
    "RepoTags",
    "Created",
    "DockerVersion",
    "Labels",
    "Architecture",
    "Os",
    "Layers",
    "Env",
];

/// The fields of `v1.Image` as templates name them.
const CONFIG_FIELDS: &[&str] = &[
    "Created",
    "Author",
    "Architecture",
    "Variant",
    "OS",
    "OSVersion",
    "OSFeatures",
    "Config",
    "RootFS",
    "History",
];

/// The default `inspect` output (skopeo's `inspect.Output` in 1.9.3, which has no
/// `LayersData`), in Go field order.
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
    pub env: Option<Vec<String>>,
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
    pub env: Option<Vec<String>>,
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
            env: facts.env,
        }
    }

    /// The value templates see: Go field names; nil maps and slices print as `map[]` and
    /// `[]`, a nil time as `<nil>`, a time as Go's `Time.String()`.
    pub fn to_template_value(&self) -> Value {
        let mut fields = BTreeMap::new();
        fields.insert("Name", string_value(&self.name));
        fields.insert("Tag", string_value(&self.tag));
        fields.insert("Digest", string_value(&self.digest.to_string()));
        fields.insert("RepoTags", string_list_value(Some(&self.repo_tags)));
        fields.insert("Created", time_value(self.created.as_ref()));
        fields.insert("DockerVersion", string_value(&self.docker_version));
        fields.insert("Labels", string_map_value(self.labels.as_ref()));
        fields.insert("Architecture", string_value(&self.architecture));
        fields.insert("Os", string_value(&self.os));
        fields.insert("Layers", string_list_value(Some(&self.layers)));
        fields.insert("Env", string_list_value(self.env.as_ref()));
        map_value(fields)
    }
}

/// The value templates see for `--config`: `v1.Image` with Go field names. (Nested structs
/// print as `map[…]` here where Go prints `{…}`.)
pub fn config_template_value(image: &OciImage) -> Value {
    let config = &image.config;
    let mut config_fields = BTreeMap::new();
    config_fields.insert("User", string_value(&config.user));
    config_fields.insert("ExposedPorts", key_set_value(config.exposed_ports.as_ref()));
    config_fields.insert("Env", string_list_value(config.env.as_ref()));
    config_fields.insert("Entrypoint", string_list_value(config.entrypoint.as_ref()));
    config_fields.insert("Cmd", string_list_value(config.cmd.as_ref()));
    config_fields.insert("Volumes", key_set_value(config.volumes.as_ref()));
    config_fields.insert("WorkingDir", string_value(&config.working_dir));
    config_fields.insert("Labels", string_map_value(config.labels.as_ref()));
    config_fields.insert("StopSignal", string_value(&config.stop_signal));

    let mut rootfs_fields = BTreeMap::new();
    rootfs_fields.insert("Type", string_value(&image.rootfs.fs_type));
    rootfs_fields.insert("DiffIDs", string_list_value(image.rootfs.diff_ids.as_ref()));

    let history: Vec<Value> = image
        .history
        .iter()
        .flatten()
        .map(|entry: &OciHistory| {
            let mut fields = BTreeMap::new();
            fields.insert("Created", time_value(entry.created.as_ref()));
            fields.insert("CreatedBy", string_value(&entry.created_by));
            fields.insert("Author", string_value(&entry.author));
            fields.insert("Comment", string_value(&entry.comment));
            fields.insert("EmptyLayer", Value::Bool(entry.empty_layer));
            map_value(fields)
        })
        .collect();

    let mut fields = BTreeMap::new();
    fields.insert("Created", time_value(image.created.as_ref()));
    fields.insert("Author", string_value(&image.author));
    fields.insert("Architecture", string_value(&image.architecture));
    fields.insert("Variant", string_value(&image.variant));
    fields.insert("OS", string_value(&image.os));
    fields.insert("OSVersion", string_value(&image.os_version));
    fields.insert("OSFeatures", string_list_value(image.os_features.as_ref()));
    fields.insert("Config", map_value(config_fields));
    fields.insert("RootFS", map_value(rootfs_fields));
    fields.insert("History", Value::List(history.into()));
    map_value(fields)
}

fn string_value(text: &str) -> Value {
    Value::String(text.into())
}

/// Go prints a nil `*time.Time` as `<nil>` (so, unlike Go, `{{if .Created}}` is true
/// for it here).
fn time_value(time: Option<&GoTime>) -> Value {
    string_value(&time.map_or_else(|| "<nil>".to_string(), GoTime::to_go_string))
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
pub async fn run(global: &GlobalArgs, args: &InspectArgs) -> anyhow::Result<Vec<u8>> {
    let [image_arg] = args.images.as_slice() else {
        bail!("Exactly one argument expected");
    };
    let format = args.format.as_deref().filter(|f| !f.is_empty());
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

    args.image.docker_auth()?;
    let ctx = SystemContext {
        tmpdir: global.tmpdir.clone(),
        override_os: global.override_os.clone(),
        override_arch: global.override_arch.clone(),
        override_variant: global.override_variant.clone(),
        oci_shared_blob_dir: args.image.shared_blob_dir.clone(),
        ..SystemContext::default()
    };
    let name_error = |err: anyhow::Error| {
        err.context(format!("Error parsing image name {}", go_quote(image_arg)))
    };
    let name = ImageName::parse(image_arg).map_err(name_error)?;
    let source = skopos_transports::open_source(&name, &ctx)
        .await
        .map_err(name_error)?;

    let (top_bytes, top_mime) = source
        .manifest(None)
        .await
        .map_err(|err| prefixed("Error retrieving manifest for image", err))?;
    if args.raw && !args.config {
        return Ok(top_bytes);
    }
    if let Some(expected) = name.docker_reference().and_then(|r| r.digest()) {
        if !digest_matches(&top_bytes, expected)? {
            return Err(prefixed(
                "Error parsing manifest for image",
                anyhow!("Manifest does not match provided manifest digest {expected}"),
            ));
        }
    }

    let platform = Platform::wanted(
        global.override_os.as_deref(),
        global.override_arch.as_deref(),
        global.override_variant.as_deref(),
    );
    let (image_bytes, image) = single_image(source.as_ref(), &top_bytes, &top_mime, &platform)
        .await
        .map_err(|err| prefixed("Error parsing manifest for image", err))?;

    if args.config {
        if args.raw {
            let blob = match image.config() {
                Some(info) => read_config(source.as_ref(), &info)
                    .await
                    .map_err(|err| prefixed("Error reading configuration blob", err))?,
                // Schema 1 has no config blob; containers/image returns nothing.
                None => Vec::new(),
            };
            return Ok(blob);
        }
        let oci = oci_config(source.as_ref(), &image, &image_bytes)
            .await
            .map_err(|err| prefixed("Error reading OCI-formatted configuration data", err))?;
        return match format {
            Some(f) if !template::is_json_format(f) => {
                template::render(f, config_template_value(&oci), CONFIG_FIELDS)
                    .map(String::into_bytes)
                    .map_err(|err| {
                        prefixed(
                            "Error writing OCI-formatted configuration data to standard output",
                            err,
                        )
                    })
            }
            _ => indented_json(&oci),
        };
    }

    let facts = image_facts(source.as_ref(), &image, &image_bytes).await?;
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
    let repo_tags = if args.no_tags {
        Vec::new()
    } else {
        source
            .repository_tags()
            .await
            .map_err(|err| prefixed("Error determining repository tags", err))?
            .unwrap_or_default()
    };
    let output = InspectOutput::new(name_field, digest, repo_tags, facts);
    match format {
        Some(f) if !template::is_json_format(f) => {
            template::render(f, output.to_template_value(), OUTPUT_FIELDS).map(String::into_bytes)
        }
        _ => indented_json(&output),
    }
}

/// `prefix: err` when printed with `{:#}`; `err` stays in the chain, so that the
/// not-found marker is still found.
fn prefixed(prefix: &str, err: anyhow::Error) -> anyhow::Error {
    err.context(prefix.to_string())
}

/// Whether `bytes` are the manifest `expected` names (schema 1 signatures stripped).
fn digest_matches(bytes: &[u8], expected: &Digest) -> anyhow::Result<bool> {
    if expected.algorithm() == Algorithm::Sha256 {
        Ok(manifest::manifest_digest(bytes).context("computing manifest digest")? == *expected)
    } else {
        Ok(expected.matches(bytes))
    }
}

/// The per-platform manifest: the top level itself, or the instance of a list chosen for
/// `platform` (fetched and checked against the list's digest).
async fn single_image(
    source: &dyn ImageSource,
    bytes: &[u8],
    mime: &str,
    platform: &Platform,
) -> anyhow::Result<(Vec<u8>, Manifest)> {
    let mime = effective_mime(bytes, mime);
    match manifest::parse(bytes, &mime)? {
        AnyManifest::Image(image) => Ok((bytes.to_vec(), image)),
        AnyManifest::List(list) => {
            let chosen = list
                .choose_instance(platform)
                .map_err(|err| prefixed("choosing image instance", err))?;
            let (instance_bytes, instance_mime) =
                source.manifest(Some(&chosen)).await.map_err(|err| {
                    prefixed(
                        "fetching target platform image selected from manifest list",
                        err,
                    )
                })?;
            if !digest_matches(&instance_bytes, &chosen)? {
                bail!("Image manifest does not match selected manifest digest {chosen}");
            }
            let instance_mime = effective_mime(&instance_bytes, &instance_mime);
            match manifest::parse(&instance_bytes, &instance_mime)? {
                AnyManifest::Image(image) => Ok((instance_bytes, image)),
                AnyManifest::List(_) => {
                    bail!("manifest list instance {chosen} is itself a manifest list")
                }
            }
        }
    }
}

fn effective_mime(bytes: &[u8], mime: &str) -> String {
    if mime.is_empty() {
        manifest::guess_mime_type(bytes)
    } else {
        mime.to_string()
    }
}

/// Read a config blob whole and check its digest, as containers/image's `ConfigBlob` does.
async fn read_config(source: &dyn ImageSource, info: &BlobInfo) -> anyhow::Result<Vec<u8>> {
    let (reader, _) = source.blob(info).await?;
    let mut blob = Vec::new();
    reader
        .take(MAX_CONFIG_SIZE + 1)
        .read_to_end(&mut blob)
        .await
        .with_context(|| format!("reading config blob {}", info.digest))?;
    if blob.len() as u64 > MAX_CONFIG_SIZE {
        bail!("exceeded maximum allowed size of {MAX_CONFIG_SIZE} bytes");
    }
    let computed = Digest::of(info.digest.algorithm(), &blob);
    if computed != info.digest {
        bail!(
            "Download config.json digest {computed} does not match expected {}",
            info.digest
        );
    }
    Ok(blob)
}

/// The config blob of an OCI or schema 2 image; OCI artifacts (other config types) are
/// refused with containers/image's message.
async fn image_config_blob(source: &dyn ImageSource, image: &Manifest) -> anyhow::Result<Vec<u8>> {
    let info = image.config().ok_or_else(|| {
        anyhow!("converting schema 1 images to an OCI configuration is not supported yet")
    })?;
    if matches!(image, Manifest::Oci(_)) && info.media_type != media_type::OCI_CONFIG {
        bail!(
            "unsupported image-specific operation on artifact with type {}",
            go_quote(&info.media_type)
        );
    }
    read_config(source, &info).await
}

async fn oci_config(
    source: &dyn ImageSource,
    image: &Manifest,
    image_bytes: &[u8],
) -> anyhow::Result<OciImage> {
    if let Manifest::Schema1(_) = image {
        return oci_config_from_schema1(image_bytes);
    }
    let blob = image_config_blob(source, image).await?;
    serde_json::from_slice(&blob).context("decoding the image configuration")
}

/// The `history` entries of a schema 1 manifest.
#[derive(serde::Deserialize)]
struct Schema1History {
    #[serde(rename = "v1Compatibility")]
    v1_compatibility: String,
}

/// The parts of a schema 1 manifest `inspect` reads.
#[derive(serde::Deserialize)]
struct Schema1Manifest {
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    history: Vec<Schema1History>,
}

/// What each `v1Compatibility` entry contributes to the converted history.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct V1Compatibility {
    created: Option<GoTime>,
    author: Option<String>,
    comment: Option<String>,
    throwaway: Option<bool>,
    container_config: Option<V1ContainerConfig>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct V1ContainerConfig {
    #[serde(rename = "Cmd")]
    cmd: Option<Vec<String>>,
}

fn parse_schema1(manifest_bytes: &[u8]) -> anyhow::Result<Schema1Manifest> {
    let schema1: Schema1Manifest =
        serde_json::from_slice(manifest_bytes).context("decoding the schema 1 manifest")?;
    if schema1.history.is_empty() {
        bail!("schema 1 manifest has no history entries");
    }
    Ok(schema1)
}

/// containers/image's schema 1 → schema 2 config conversion (with unknown diff IDs, as
/// `OCIConfig` does it), read as `v1.Image`: the newest `v1Compatibility` entry, a rootfs
/// with one empty diff ID per non-throwaway layer, and a history built oldest first.
pub fn oci_config_from_schema1(manifest_bytes: &[u8]) -> anyhow::Result<OciImage> {
    let schema1 = parse_schema1(manifest_bytes)?;
    let mut image: OciImage = match schema1.history.first() {
        Some(newest) => serde_json::from_str(&newest.v1_compatibility)
            .context("decoding the schema 1 v1Compatibility entry")?,
        None => OciImage::default(),
    };
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for entry in schema1.history.iter().rev() {
        let v1: V1Compatibility = serde_json::from_str(&entry.v1_compatibility)
            .context("decoding the schema 1 v1Compatibility entry")?;
        let empty_layer = v1.throwaway.unwrap_or(false);
        if !empty_layer {
            diff_ids.push(String::new());
        }
        history.push(OciHistory {
            created: Some(v1.created.unwrap_or(GoTime::ZERO)),
            created_by: v1
                .container_config
                .and_then(|c| c.cmd)
                .unwrap_or_default()
                .join(" "),
            author: v1.author.unwrap_or_default(),
            comment: v1.comment.unwrap_or_default(),
            empty_layer,
        });
    }
    image.rootfs = skopos_core::image_config::OciRootFs {
        fs_type: "layers".to_string(),
        diff_ids: Some(diff_ids),
    };
    image.history = Some(history);
    Ok(image)
}

/// containers/image's `Inspect()` for each manifest type.
async fn image_facts(
    source: &dyn ImageSource,
    image: &Manifest,
    image_bytes: &[u8],
) -> anyhow::Result<ImageFacts> {
    let layers: Vec<String> = image
        .layers()
        .iter()
        .map(|l| l.digest.to_string())
        .collect();
    match image {
        Manifest::Oci(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_oci_config(&blob, layers)
        }
        Manifest::Schema2(_) => {
            let blob = image_config_blob(source, image).await?;
            facts_from_docker_config(&blob, layers)
        }
        Manifest::Schema1(_) => facts_from_schema1(image_bytes, layers),
    }
}

/// An OCI image: everything from `v1.Image`, except `docker_version`.
pub fn facts_from_oci_config(blob: &[u8], layers: Vec<String>) -> anyhow::Result<ImageFacts> {
    let oci: OciImage = serde_json::from_slice(blob).context("decoding the image configuration")?;
    let docker: DockerImageConfig =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    Ok(ImageFacts {
        tag: String::new(),
        created: oci.created,
        docker_version: docker.docker_version,
        labels: oci.config.labels,
        architecture: oci.architecture,
        os: oci.os,
        layers,
        env: oci.config.env,
    })
}

/// A Docker schema 2 image: `created` is not optional (Go's zero time when missing), and
/// labels and environment come from `config` when there is one.
pub fn facts_from_docker_config(blob: &[u8], layers: Vec<String>) -> anyhow::Result<ImageFacts> {
    let docker: DockerImageConfig =
        serde_json::from_slice(blob).context("decoding the image configuration")?;
    Ok(docker_facts(docker, String::new(), layers))
}

fn docker_facts(docker: DockerImageConfig, tag: String, layers: Vec<String>) -> ImageFacts {
    let created = Some(docker.created_or_zero());
    let (labels, env) = docker.config.map(|c| (c.labels, c.env)).unwrap_or_default();
    ImageFacts {
        tag,
        created,
        docker_version: docker.docker_version,
        labels,
        architecture: docker.architecture,
        os: docker.os,
        layers,
        env,
    }
}

/// A schema 1 manifest: the newest `v1Compatibility` entry holds the config, and the
/// manifest carries the tag.
pub fn facts_from_schema1(
    manifest_bytes: &[u8],
    layers: Vec<String>,
) -> anyhow::Result<ImageFacts> {
    let schema1 = parse_schema1(manifest_bytes)?;
    let newest = schema1
        .history
        .first()
        .ok_or_else(|| anyhow!("schema 1 manifest has no history entries"))?;
    let docker: DockerImageConfig = serde_json::from_str(&newest.v1_compatibility)
        .context("decoding the schema 1 v1Compatibility entry")?;
    Ok(docker_facts(
        docker,
        schema1.tag.unwrap_or_default(),
        layers,
    ))
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

    fn digest() -> Digest {
        Digest::sha256_of(b"m")
    }

    #[test]
    fn default_output_matches_skopeo_1_9_3() {
        let blob = br#"{"created":"2024-01-01T00:00:00Z","architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":["/bin/sh"],"Labels":{"bench.seed":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
        let facts =
            facts_from_oci_config(blob, vec!["sha256:aa".into(), "sha256:bb".into()]).unwrap();
        let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
        let text = String::from_utf8(indented_json(&output).unwrap()).unwrap();
        let expected = format!(
            "{{\n    \"Digest\": \"{}\",\n    \"RepoTags\": [],\n    \"Created\": \"2024-01-01T00:00:00Z\",\n    \"DockerVersion\": \"\",\n    \"Labels\": {{\n        \"bench.seed\": \"1\"\n    }},\n    \"Architecture\": \"amd64\",\n    \"Os\": \"linux\",\n    \"Layers\": [\n        \"sha256:aa\",\n        \"sha256:bb\"\n    ],\n    \"Env\": [\n        \"PATH=/usr/bin:/bin\"\n    ]\n}}\n",
            digest()
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn missing_oci_fields_are_null_and_names_are_printed() {
        let facts = facts_from_oci_config(b"{\"docker_version\":\"1.2\"}", Vec::new()).unwrap();
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
                r#"{{"Name":"docker.io/library/x","Digest":"{}","RepoTags":["t"],"Created":null,"DockerVersion":"1.2","Labels":null,"Architecture":"","Os":"","Layers":[],"Env":null}}"#,
                digest()
            )
        );
    }

    #[test]
    fn docker_configs_have_a_zero_time_and_escaped_labels() {
        let facts = facts_from_docker_config(
            br#"{"architecture":"arm64","os":"linux","config":{"Labels":{"k":"<a&b>"}}}"#,
            Vec::new(),
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
    }

    #[test]
    fn schema1_facts_come_from_the_newest_history_entry() {
        let manifest = br#"{"schemaVersion":1,"name":"x","tag":"v1","history":[{"v1Compatibility":"{\"created\":\"2020-01-02T03:04:05.6+01:00\",\"os\":\"linux\",\"docker_version\":\"1.13\",\"config\":{\"Env\":[\"A=1\"]}}"},{"v1Compatibility":"{}"}]}"#;
        let facts = facts_from_schema1(manifest, vec!["sha256:aa".into()]).unwrap();
        assert_eq!(facts.tag, "v1");
        assert_eq!(facts.docker_version, "1.13");
        assert_eq!(facts.env, Some(vec!["A=1".to_string()]));
        assert_eq!(
            facts.created.map(|t| t.to_rfc3339_nano()).as_deref(),
            Some("2020-01-02T03:04:05.6+01:00")
        );
    }

    #[test]
    fn schema1_config_is_converted_like_containers_image() {
        let manifest = br#"{"schemaVersion":1,"tag":"v1","history":[{"v1Compatibility":"{\"id\":\"x\",\"os\":\"linux\",\"architecture\":\"amd64\",\"author\":\"me\",\"created\":\"2023-06-30T23:59:58.120000000+02:00\",\"config\":{\"Cmd\":[\"/bin/sh\"]}}"},{"v1Compatibility":"{\"created\":\"2023-01-01T01:02:03.000000001-05:00\",\"container_config\":{\"Cmd\":[\"layer\",\"0\"]},\"throwaway\":true}"}]}"#;
        let image = oci_config_from_schema1(manifest).unwrap();
        let text = String::from_utf8(gojson::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"created":"2023-06-30T23:59:58.12+02:00","author":"me","architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[""]},"history":[{"created":"2023-01-01T01:02:03.000000001-05:00","created_by":"layer 0","empty_layer":true},{"created":"2023-06-30T23:59:58.12+02:00","author":"me"}]}"#
        );
    }

    #[test]
    fn templates_see_go_values() {
        let facts = facts_from_oci_config(
            br#"{"created":"2024-01-01T00:00:00.5+02:00","os":"linux","config":{"Labels":{"a":"1"}}}"#,
            vec!["sha256:aa".into()],
        )
        .unwrap();
        let output = InspectOutput::new(String::new(), digest(), Vec::new(), facts);
        let value = output.to_template_value();
        let render = |f: &str| template::render(f, value.clone(), OUTPUT_FIELDS).unwrap();
        assert_eq!(
            render("{{.Created}}"),
            "2024-01-01 00:00:00.5 +0200 +0200\n"
        );
        assert_eq!(
            render("{{.Labels}}|{{.Env}}|{{.RepoTags}}"),
            "map[a:1]|[]|[]\n"
        );
        assert_eq!(render("{{.Name}}|{{.Layers}}"), "|[sha256:aa]\n");
        assert_eq!(render("{{index .Labels \"a\"}}"), "1\n");

        let empty = InspectOutput::new(String::new(), digest(), Vec::new(), ImageFacts::default());
        assert_eq!(
            template::render("{{.Created}}", empty.to_template_value(), OUTPUT_FIELDS).unwrap(),
            "<nil>\n"
        );
    }

    #[test]
    fn config_templates_see_oci_field_names() {
        let oci: OciImage = serde_json::from_slice(
            br#"{"os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x"}]}"#,
        )
        .unwrap();
        let value = config_template_value(&oci);
        assert_eq!(
            template::render(
                "{{.OS}} {{.Config.Cmd}} {{.RootFS.DiffIDs}} {{(index .History 0).CreatedBy}}",
                value,
                CONFIG_FIELDS
            )
            .unwrap(),
            "linux [sh] [sha256:aa] x\n"
        );
    }
}
