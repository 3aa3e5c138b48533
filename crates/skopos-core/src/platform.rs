//! The platform (os/architecture/variant) used to pick an instance from a manifest list.

use serde::{Deserialize, Serialize};

/// An image platform, as in OCI image indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
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
            // Without an explicit variant, an override of the architecture means "any variant";
            // on the host, arm64 is v8 as far as image selection is concerned.
            if override_arch.is_none() && architecture == "arm64" {
                Some("v8".to_string())
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
