//! Docker's v1 image JSON (containers/image `manifest.Schema2V1Image` and
//! `Schema2Config`): the Docker image config, also the shape of a schema 1 manifest's
//! `v1Compatibility` entries. Converting a schema 1 image built by Docker older than 1.8.3
//! re-encodes its newest v1Compatibility entry through these types, as containers/image
//! does, so that fields those versions left out get their zero values; `inspect` reads the
//! Docker-only facts (`docker_version`, and for Docker images `created`, labels and
//! environment) from them, as containers/image's `Inspect()` does.
//!
//! This is a different Go type from the OCI `v1.Image` ([`crate::image_config::OciImage`]):
//! other fields (container config, `Size`, docker version), other JSON names, and a
//! `created` that is not a pointer (absent means Go's zero time, not nil).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::go::time::GoTime;

use crate::go::json::{is_empty_str, is_false, is_zero, null_default, Empty};

/// Docker's `strslice.StrSlice`: read from a string or a list of strings, written as a list
/// (`null` when nil).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct StrSlice(pub Option<Vec<String>>);

impl<'de> Deserialize<'de> for StrSlice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            One(String),
            Many(Vec<String>),
        }
        Ok(StrSlice(
            match Option::<Either>::deserialize(deserializer)? {
                None => None,
                Some(Either::One(s)) => Some(vec![s]),
                Some(Either::Many(list)) => Some(list),
            },
        ))
    }
}

impl StrSlice {
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(Vec::is_empty)
    }
}

/// `manifest.Schema2HealthConfig`; durations are Go `time.Duration` nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// The check: `["NONE"]` turns off a check the base image set, `["CMD", program, args…]` runs a
    /// program, `["CMD-SHELL", command]` runs a command with the shell; empty inherits the base
    /// image's.
    #[serde(
        rename = "Test",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    /// How long (nanoseconds) the container may take to start before failing checks count; 0
    /// inherits.
    #[serde(
        rename = "StartPeriod",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_period: i64,
    /// Time (nanoseconds) between two checks; 0 inherits.
    #[serde(
        rename = "Interval",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub interval: i64,
    /// Time (nanoseconds) after which a check that has not finished counts as failed; 0 inherits.
    #[serde(
        rename = "Timeout",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub timeout: i64,
    /// Consecutive failures after which the container is unhealthy; 0 inherits.
    #[serde(
        rename = "Retries",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub retries: i64,
}

/// `manifest.Schema2Config`, in Go's field order (most fields are written even when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The host name the container was given.
    #[serde(default, deserialize_with = "null_default")]
    pub hostname: String,
    /// The domain name the container was given.
    #[serde(default, deserialize_with = "null_default")]
    pub domainname: String,
    /// The user (name or UID, optionally `:group`) the process runs as; empty is root.
    #[serde(default, deserialize_with = "null_default")]
    pub user: String,
    /// Whether stdin was attached (a `docker run` setting recorded by the build).
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stdin: bool,
    /// Whether stdout was attached.
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stdout: bool,
    /// Whether stderr was attached.
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stderr: bool,
    /// `EXPOSE`d ports (`80/tcp`), as keys of an object whose values are `{}`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// Whether a terminal was allocated.
    #[serde(default, deserialize_with = "null_default")]
    pub tty: bool,
    /// Whether stdin was kept open.
    #[serde(default, deserialize_with = "null_default")]
    pub open_stdin: bool,
    /// Whether stdin closes after the first client detaches.
    #[serde(default, deserialize_with = "null_default")]
    pub stdin_once: bool,
    /// The environment (`KEY=value`); `None` is Go's nil slice, written as `null`.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// The default arguments (`CMD`).
    #[serde(default)]
    pub cmd: StrSlice,
    /// The health check (`HEALTHCHECK`); absent when the image sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Whether `cmd` is already escaped for Windows' command line.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub args_escaped: bool,
    /// The image the container was created from (an ID or name).
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    /// Mount points (`VOLUME`), as keys of an object whose values are `{}`; `None` is Go's nil map.
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, Empty>>,
    /// The working directory (`WORKDIR`).
    #[serde(default, deserialize_with = "null_default")]
    pub working_dir: String,
    /// The program run with `cmd` as its arguments (`ENTRYPOINT`).
    #[serde(default)]
    pub entrypoint: StrSlice,
    /// Whether the container had no network.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub network_disabled: bool,
    /// The container's MAC address.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub mac_address: String,
    /// `ONBUILD` instructions, run when another image builds on this one; `None` is Go's nil.
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    /// The labels (`LABEL`); `None` is Go's nil map, written as `null`.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The signal that stops the container (`STOPSIGNAL`); empty means SIGTERM.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub stop_signal: String,
    /// Seconds to wait after `stop_signal` before killing the container; absent uses the runtime's
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// The shell `RUN`, `CMD` and `ENTRYPOINT` use in their shell forms (`SHELL`).
    #[serde(default, skip_serializing_if = "StrSlice::is_empty")]
    pub shell: StrSlice,
}

/// `manifest.Schema2V1Image`, in Go's field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Image {
    /// The image's ID (a hex digest); in a schema 1 `v1Compatibility` entry, the layer's.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub id: String,
    /// The ID of the parent image (the entry below in schema 1); empty for the base.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub parent: String,
    /// A free-text comment (`docker commit -m`, or the build step).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub comment: String,
    /// When the image (or layer) was created; absent means Go's zero time.
    #[serde(default)]
    pub created: GoTime,
    /// The ID of the container the image was committed from.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub container: String,
    /// The configuration of that container: the build step's, not the image's defaults.
    #[serde(default, deserialize_with = "null_default")]
    pub container_config: ContainerConfig,
    /// The Docker version that built the image.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub docker_version: String,
    /// The author (`MAINTAINER`, `docker commit -a`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub author: String,
    /// The configuration a container of this image starts with; absent in some schema 1 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The CPU architecture (`GOARCH` spelling: `amd64`, `arm64`, …).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub architecture: String,
    /// The CPU variant (`v7` for arm), when there is one.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub variant: String,
    /// The operating system (`GOOS` spelling: `linux`, `windows`, …).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub os: String,
    /// The size in bytes Docker recorded for the layer; 0 when it recorded none.
    #[serde(
        rename = "Size",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub size: i64,
}

/// Whether Docker version `version` is older than `than`, compared as docker's
/// `versions.LessThan` does: dot-separated numbers, missing or non-numeric parts as 0.
pub fn docker_version_less_than(version: &str, than: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> { v.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (a, b) = (parts(version), parts(than));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x < y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_versions_like_docker() {
        assert!(docker_version_less_than("1.6.2", "1.8.3"));
        assert!(docker_version_less_than("1.8", "1.8.3"));
        assert!(!docker_version_less_than("1.8.3", "1.8.3"));
        assert!(!docker_version_less_than("1.10.0", "1.8.3"));
        assert!(!docker_version_less_than("20.10.7", "1.8.3"));
    }
}
