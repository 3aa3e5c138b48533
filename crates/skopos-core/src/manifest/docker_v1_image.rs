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
    #[serde(
        rename = "Test",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub test: Vec<String>,
    #[serde(
        rename = "StartPeriod",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub start_period: i64,
    #[serde(
        rename = "Interval",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub interval: i64,
    #[serde(
        rename = "Timeout",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_zero"
    )]
    pub timeout: i64,
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
    #[serde(default, deserialize_with = "null_default")]
    pub hostname: String,
    #[serde(default, deserialize_with = "null_default")]
    pub domainname: String,
    #[serde(default, deserialize_with = "null_default")]
    pub user: String,
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stdin: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stdout: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub attach_stderr: bool,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub exposed_ports: BTreeMap<String, Empty>,
    #[serde(default, deserialize_with = "null_default")]
    pub tty: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub open_stdin: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub stdin_once: bool,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: StrSlice,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub args_escaped: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    #[serde(default)]
    pub volumes: Option<BTreeMap<String, Empty>>,
    #[serde(default, deserialize_with = "null_default")]
    pub working_dir: String,
    #[serde(default)]
    pub entrypoint: StrSlice,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub network_disabled: bool,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub mac_address: String,
    #[serde(default)]
    pub on_build: Option<Vec<String>>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub stop_signal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "StrSlice::is_empty")]
    pub shell: StrSlice,
}

/// `manifest.Schema2V1Image`, in Go's field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct V1Image {
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub parent: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub comment: String,
    #[serde(default)]
    pub created: GoTime,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub container: String,
    #[serde(default, deserialize_with = "null_default")]
    pub container_config: ContainerConfig,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub docker_version: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub architecture: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub variant: String,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_empty_str"
    )]
    pub os: String,
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
