//! The platform (os/architecture/variant) used to pick an instance from a manifest list.

use serde::{Deserialize, Serialize};

/// An image platform, as in OCI image indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// The operating system, in Go's `GOOS` spelling (`linux`).
    pub os: String,
    /// The CPU architecture, in Go's `GOARCH` spelling (`amd64`, `arm64`).
    pub architecture: String,
    /// The CPU variant (`v7`, `v8`), when one matters; `None` matches any.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform skopos runs on, in Go's GOOS/GOARCH names, with the overrides applied
    /// (`--override-os`, `--override-arch`, `--override-variant`).
    pub fn wanted(
        override_os: Option<&str>,
        override_arch: Option<&str>,
        override_variant: Option<&str>,
    ) -> Platform {
        let os = override_os.map(str::to_string).unwrap_or_else(|| {
            match std::env::consts::OS {
                "macos" => "darwin",
                other => other,
            }
            .to_string()
        });
        let architecture = override_arch
            .map(str::to_string)
            .unwrap_or_else(|| go_arch(std::env::consts::ARCH).to_string());
        let variant = override_variant.map(str::to_string).or_else(|| {
            // Without an explicit variant, an override of the architecture means "any
            // variant"; on the host, ARM variants come from /proc/cpuinfo as in
            // containers/image.
            if override_arch.is_none() && (architecture == "arm64" || architecture == "arm") {
                host_arm_variant()
            } else {
                None
            }
        });
        Platform {
            os,
            architecture,
            variant,
        }
    }
}

impl Platform {
    /// The platforms to look for in a manifest list, most preferred first
    /// (containers/image 5.23 `WantedPlatforms`): os and architecture exact; with a
    /// variant, that variant and the older compatible ones (arm `v7` → `v7`, `v6`, `v5`),
    /// then no variant; without one, no variant first, then every known variant of the
    /// architecture, newest first.
    pub fn compatible_platforms(&self) -> Vec<Platform> {
        let known: &[&str] = match self.architecture.as_str() {
            "arm" => &["v8", "v7", "v6", "v5"],
            "arm64" => &["v8"],
            _ => &[],
        };
        let variants: Vec<&str> = match self.variant.as_deref().filter(|v| !v.is_empty()) {
            Some(wanted) => {
                let mut variants = match known.iter().position(|v| *v == wanted) {
                    Some(start) => known[start..].to_vec(),
                    None => vec![wanted],
                };
                variants.push("");
                variants
            }
            None => std::iter::once("").chain(known.iter().copied()).collect(),
        };
        variants
            .into_iter()
            .map(|variant| Platform {
                os: self.os.clone(),
                architecture: self.architecture.clone(),
                variant: (!variant.is_empty()).then(|| variant.to_string()),
            })
            .collect()
    }
}

/// The ARM variant of the host, from the "CPU architecture" line of /proc/cpuinfo
/// (containers/image `getCPUVariantArm`); `None` when it cannot be told.
fn host_arm_variant() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let value = cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("Cpu architecture")
            .then(|| value.trim().to_ascii_lowercase())
    })?;
    let variant = match value.as_str() {
        "8" | "aarch64" => "v8",
        "7" | "7m" | "?(12)" | "?(13)" | "?(14)" | "?(15)" | "?(16)" | "?(17)" => "v7",
        "6" | "6tej" => "v6",
        "5" | "5t" | "5te" | "5tej" => "v5",
        "4" | "4t" => "v4",
        "3" => "v3",
        _ => return None,
    };
    Some(variant.to_string())
}

/// Go's GOARCH name for a Rust target architecture.
pub fn go_arch(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: "linux".to_string(),
            architecture: arch.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    fn variants(p: &Platform) -> Vec<Option<String>> {
        p.compatible_platforms()
            .into_iter()
            .map(|c| {
                assert_eq!(
                    (c.os.as_str(), c.architecture.as_str()),
                    (p.os.as_str(), p.architecture.as_str())
                );
                c.variant
            })
            .collect()
    }

    #[test]
    fn compatible_variants_follow_containers_image() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            variants(&platform("arm64", s("v8").as_deref())),
            vec![s("v8"), None]
        );
        assert_eq!(variants(&platform("arm64", None)), vec![None, s("v8")]);
        assert_eq!(
            variants(&platform("arm", Some("v7"))),
            vec![s("v7"), s("v6"), s("v5"), None]
        );
        assert_eq!(
            variants(&platform("arm", None)),
            vec![None, s("v8"), s("v7"), s("v6"), s("v5")]
        );
        assert_eq!(variants(&platform("amd64", None)), vec![None]);
        assert_eq!(
            variants(&platform("amd64", Some("v3"))),
            vec![s("v3"), None]
        );
    }

    #[test]
    fn overrides_win() {
        let p = Platform::wanted(Some("windows"), Some("arm64"), None);
        assert_eq!(
            p,
            Platform {
                os: "windows".into(),
                architecture: "arm64".into(),
                variant: None
            }
        );
        let p = Platform::wanted(None, Some("arm"), Some("v6"));
        assert_eq!(p.variant.as_deref(), Some("v6"));
    }
}
