//! The OCI image configuration, `v1.Image`: read from config blobs as containers/image
//! (v5.22, vendored by skopeo 1.9.3) reads them, and written in the form that
//! `skopeo inspect --config` prints and that converting a Docker image to OCI stores as the
//! new config blob. Docker's own config type, `Schema2V1Image`, is
//! [`crate::manifest::docker_v1_image::V1Image`].
//!
//! Go's `encoding/json` semantics matter here because `inspect` output is compared byte for
//! byte with skopeo's: unknown fields are ignored, `null` leaves a field at its zero value,
//! a nil map or slice differs from an empty one where there is no `omitempty`, and times
//! keep the UTC offset they were written with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::go::json::{is_false, is_none_or_empty_map, is_none_or_empty_vec, null_default, Empty};
use crate::go::time::GoTime;

/// The OCI image configuration (`v1.Image` of the image-spec revision containers/image
/// v5.22 vendors), in Go field order with Go's `omitempty` rules. Docker schema 2 configs
/// are read into it directly, dropping docker-only fields, as containers/image does (both
/// for `inspect --config` and for re-encoding a Docker config when converting to OCI).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciImage {
    /// When the image was created; `None` (Go's nil) leaves `created` out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<GoTime>,
    /// The person or entity that made the image.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// The CPU architecture (`GOARCH` spelling: `amd64`, `arm64`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub architecture: String,
    /// The CPU variant (`v7` for arm), when there is one.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub variant: String,
    /// The operating system (`GOOS` spelling: `linux`, `windows`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub os: String,
    /// The operating system's version (`os.version`, Windows builds).
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// OS features the image needs (`os.features`, Windows).
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub os_features: Option<Vec<String>>,
    /// Go's `omitempty` never omits a struct, so `"config": {}` is always written.
    #[serde(default, deserialize_with = "null_default")]
    pub config: OciImageConfig,
    /// The layers' uncompressed digests, base first.
    #[serde(default, deserialize_with = "null_default")]
    pub rootfs: OciRootFs,
    /// The build steps, oldest first; empty layer steps included.
    #[serde(default, skip_serializing_if = "is_none_or_empty_vec")]
    pub history: Option<Vec<OciHistory>>,
}

/// `v1.ImageConfig`: the runtime defaults of containers made from the image. Maps and
/// lists are `Option`s because `inspect` prints a missing one as `null` and an empty one
/// as `{}` / `[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciImageConfig {
    /// The user (name or UID, optionally `:group`) the process runs as; empty is root.
    #[serde(
        rename = "User",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// Ports to expose (`80/tcp`), as keys of an object whose values are `{}`.
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub exposed_ports: Option<BTreeMap<String, Empty>>,
    /// The environment (`KEY=value`).
    #[serde(rename = "Env", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub env: Option<Vec<String>>,
    /// The program run with `cmd` as its arguments.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// The default arguments, or the program when there is no entrypoint.
    #[serde(rename = "Cmd", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub cmd: Option<Vec<String>>,
    /// Mount points, as keys of an object whose values are `{}`.
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// The working directory of the process.
    #[serde(
        rename = "WorkingDir",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// The labels (`org.opencontainers.image.*` and the image's own).
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops the container; empty means SIGTERM.
    #[serde(
        rename = "StopSignal",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
}

/// `v1.RootFS`. `diff_ids` has no `omitempty`: a missing list is written as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRootFs {
    /// Always `layers` in a valid image.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub fs_type: String,
    /// Kept as strings: Go does not validate digests when decoding.
    #[serde(default)]
    pub diff_ids: Option<Vec<String>>,
}

/// `v1.History`: one build step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciHistory {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<GoTime>,
    /// The command of the step (`RUN …`, `/bin/sh -c #(nop) …`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    /// Who made the step.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    /// A free-text comment on the step.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    /// Whether the step made no layer (so it has no entry in `rootfs.diff_ids`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub empty_layer: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::go;
    use crate::manifest::docker_v1_image::V1Image;

    #[test]
    fn oci_image_round_trips_in_go_field_order() {
        let blob = br#"{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09.5+01:00",
            "docker_version":"20.10","config":{"Cmd":["sh"],"Labels":{"a":"<b>&"},"ExposedPorts":{"80/tcp":{}},
            "Hostname":"x","Env":null},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"x","empty_layer":true},{"comment":"c"}],"variant":null}"#;
        let image: OciImage = serde_json::from_slice(blob).unwrap();
        let out = String::from_utf8(go::json::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"created":"2024-05-06T07:08:09.5+01:00","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"80/tcp":{}},"Cmd":["sh"],"Labels":{"a":"\u003cb\u003e\u0026"}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x","empty_layer":true},{"comment":"c"}]}"#
        );
    }

    #[test]
    fn minimal_config_keeps_go_zero_values() {
        let image: OciImage = serde_json::from_slice(b"{}").unwrap();
        let out = String::from_utf8(go::json::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"","diff_ids":null}}"#
        );
        let docker: V1Image = serde_json::from_slice(b"{\"config\":null}").unwrap();
        assert_eq!(docker.created, GoTime::ZERO);
        assert!(docker.config.is_none());
    }
}
