//! `skopos inspect IMAGE-NAME`, as skopeo does it: the same JSON (keys, order, nulls,
//! 4-space indent), the same raw modes, the same Go templates and the same error wording.
//! Where newer skopeo differs from 1.9.3, this follows the newer one: the default output
//! has `LayersData`, `--format` has containers/common's template functions, and the
//! fetching steps honour `--retry-times` / `--retry-delay`.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{bail, Context as _};
use serde::Serialize;

use skopos_core::digest::Algorithm;
use skopos_core::go;
use skopos_core::go::time::GoTime;
use skopos_core::image_config::{OciHistory, OciImage};
use skopos_core::retry::with_retry;
use skopos_core::verified::VerifiedSource;
use skopos_core::{ImageName, SystemContext};
use skopos_inspect::{manifest_subjects, InspectLayer, InspectOutput, Inspector};
use skopos_template::{self as template, GoForms, RenderError, Value};

use crate::cli::RegistryFlags as _;
use crate::cli::{GlobalArgs, InspectArgs};
use skopos_core::go::text::go_quote;

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

/// The fields of a `LayersData` entry (`types.ImageInspectLayer`), with their Go types.
const LAYER_FIELDS: &[(&str, &str)] = &[
    ("MIMEType", "string"),
    ("Digest", "digest.Digest"),
    ("Size", "int64"),
    ("Annotations", "map[string]string"),
];

/// The fields of a `v1.ImageConfig`, in Go's order, with their Go types.
const IMAGE_CONFIG_FIELDS: &[(&str, &str)] = &[
    ("User", "string"),
    ("ExposedPorts", "map[string]struct {}"),
    ("Env", "[]string"),
    ("Entrypoint", "[]string"),
    ("Cmd", "[]string"),
    ("Volumes", "map[string]struct {}"),
    ("WorkingDir", "string"),
    ("Labels", "map[string]string"),
    ("StopSignal", "string"),
    ("ArgsEscaped", "bool"),
];

/// The fields of a `v1.RootFS`, with their Go types.
const ROOTFS_FIELDS: &[(&str, &str)] = &[("Type", "string"), ("DiffIDs", "[]digest.Digest")];

/// The fields of a `v1.History` entry, with their Go types.
const HISTORY_FIELDS: &[(&str, &str)] = &[
    ("Created", "*time.Time"),
    ("CreatedBy", "string"),
    ("Author", "string"),
    ("Comment", "string"),
    ("EmptyLayer", "bool"),
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

/// The output as templates see it: implemented on the library's type, for printing only.
trait TemplateValue {
    /// The value templates see, and how Go prints and marshals its parts.
    fn to_template_value(&self) -> (Value, GoForms);
    /// Go's `%v` of the struct (`{{.}}`).
    fn printed(&self) -> String;
}

impl TemplateValue for InspectOutput {
    /// The value templates see, and how Go prints and marshals its parts: Go field names;
    /// nil maps and slices print as `map[]` and `[]`, a nil time as `<nil>`, a time as
    /// Go's `Time.String()`, structs (the output, `LayersData` entries) as `{…}`.
    fn to_template_value(&self) -> (Value, GoForms) {
        let mut go = GoForms::default();
        go.remember_struct("types.ImageInspectLayer", LAYER_FIELDS);
        let layers_data: Vec<Value> = self
            .layers_data
            .iter()
            .map(|layer| {
                let mut fields = BTreeMap::new();
                fields.insert("MIMEType", string_value(&layer.mime_type));
                let digest = string_value(&layer.digest.to_string());
                fields.insert("Digest", go.remember_type(digest, "digest.Digest"));
                fields.insert("Size", Value::Int(layer.size));
                let annotations = go.remember_json(
                    string_map_value(layer.annotations.as_ref()),
                    &layer.annotations,
                );
                fields.insert(
                    "Annotations",
                    go.remember_type(annotations, "map[string]string"),
                );
                let item = go.remember_json(map_value(fields), layer);
                let item = go.remember_type(item, "types.ImageInspectLayer");
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
        go.remember_struct("inspect.Output", OUTPUT_FIELDS);
        let value = go.remember_type(value, "inspect.Output");
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
/// prints, marshals and types its parts: the whole `*v1.Image`, `Config`, `RootFS` and
/// `History` entries are Go structs (printed as `{…}`), diff IDs are `digest.Digest`s.
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
    // skopos does not read ArgsEscaped (deprecated, Windows only): Go's zero value.
    config_fields.insert("ArgsEscaped", Value::Bool(false));

    let mut rootfs_fields = BTreeMap::new();
    rootfs_fields.insert("Type", string_value(&image.rootfs.fs_type));
    let diff_ids: Vec<Value> = image
        .rootfs
        .diff_ids
        .iter()
        .flatten()
        .map(|diff_id| go.remember_type(string_value(diff_id), "digest.Digest"))
        .collect();
    let diff_ids = go.remember_json(Value::List(diff_ids.into()), &image.rootfs.diff_ids);
    rootfs_fields.insert("DiffIDs", go.remember_type(diff_ids, "[]digest.Digest"));

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
            let item = go.remember_type(item, "v1.History");
            go.remember_printed(item, printed_history(entry))
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
    let config_value = go.remember_type(config_value, "v1.ImageConfig");
    fields.insert(
        "Config",
        go.remember_printed(config_value, printed_config(config)),
    );
    let rootfs_value = go.remember_json(map_value(rootfs_fields), &image.rootfs);
    let rootfs_value = go.remember_type(rootfs_value, "v1.RootFS");
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
    // Go prints the struct, its embedded Platform as one more struct.
    let history_printed: Vec<String> = image
        .history
        .iter()
        .flatten()
        .map(printed_history)
        .collect();
    let printed = format!(
        "{{{} {} {{{} {} {} {} {}}} {} {{{} {}}} [{}]}}",
        printed_time(image.created.as_ref()),
        image.author,
        image.architecture,
        image.os,
        image.os_version,
        printed_list(image.os_features.as_ref()),
        image.variant,
        printed_config(config),
        image.rootfs.fs_type,
        printed_list(image.rootfs.diff_ids.as_ref()),
        history_printed.join(" "),
    );
    let value = go.remember_printed(value, printed);
    go.remember_struct("v1.ImageConfig", IMAGE_CONFIG_FIELDS);
    go.remember_struct("v1.RootFS", ROOTFS_FIELDS);
    go.remember_struct("v1.History", HISTORY_FIELDS);
    (go.remember_type(value, "*v1.Image"), go)
}

/// Go's `%v` of a `v1.History` entry.
fn printed_history(entry: &OciHistory) -> String {
    format!(
        "{{{} {} {} {} {}}}",
        printed_time(entry.created.as_ref()),
        entry.created_by,
        entry.author,
        entry.comment,
        entry.empty_layer
    )
}

/// Go's `%v` of a `v1.ImageConfig` (whose last field, `ArgsEscaped`, skopos does not
/// read: it prints as false).
fn printed_config(config: &skopos_core::image_config::OciImageConfig) -> String {
    let key_set = |map: Option<&BTreeMap<String, skopos_core::go::json::Empty>>| {
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

/// Go prints a nil `*time.Time` as `<nil>` and marshals it as `null` (which is how the
/// template engine knows it for nil, false in `if`); a time prints as `Time.String()` and
/// marshals as RFC 3339.
fn time_value(go: &mut GoForms, time: Option<&GoTime>) -> Value {
    let printed = string_value(&printed_time(time));
    let value = go.remember_json(printed, &time);
    go.remember_type(value, "*time.Time")
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
    let mut out = go::json::to_vec_indent(value, "    ").context("encoding JSON output")?;
    out.push(b'\n');
    Ok(out)
}

/// What `inspect` found: the bytes for stdout.
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
    let inspector = Inspector::new(source.as_ref(), retry);

    let (top_bytes, top_mime) = inspector.top_manifest().await?;
    if args.skopos_referrers {
        let subjects = manifest_subjects(&top_bytes, &top_mime)?;
        return crate::attachments::list(&name, &ctx, subjects).await;
    }
    if args.raw && !args.config {
        return Ok(top_bytes);
    }

    let chosen = inspector
        .choose(&top_bytes, &top_mime, &global.wanted_platform())
        .await?;
    if args.config {
        if args.raw {
            return inspector.raw_config(&chosen.manifest).await;
        }
        let oci = inspector.oci_config(&chosen.manifest).await?;
        return match format {
            Some(f) if !template::is_json_format(f) => {
                let (value, json) = config_template_value(&oci);
                print_template(f, value, json, CONFIG_FIELDS).map_err(|err| {
                    err.context("Error writing OCI-formatted configuration data to standard output")
                })
            }
            _ => indented_json(&oci),
        };
    }

    let output = inspector
        .output(&name, &top_bytes, &chosen, digest_algorithm, !args.no_tags)
        .await?;
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
    use skopos_core::manifest::LayerInfo;
    use skopos_core::{media_type, Digest};
    use skopos_inspect::{facts_from_oci_config, ImageFacts};

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
        let mut expected = String::from_utf8(go::json::to_vec(&output).unwrap()).unwrap();
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
