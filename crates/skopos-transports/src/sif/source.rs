//! The `sif:` image source: a one-layer OCI image made from a SIF file, as containers/image
//! makes it — the primary squashfs partition as the layer, the definition file's
//! `%environment` and `%runscript` as `/podman/runscript` and `Cmd`, the header's
//! architecture and time in the config, the SIF UUID in the history.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use async_trait::async_trait;
use chrono::{DateTime, Local};
use skopos_core::go::text::go_quote;
use skopos_core::go::time::GoTime;
use skopos_core::image_config::{OciHistory, OciImage, OciImageConfig, OciRootFs};
use skopos_core::manifest::oci::{OciDescriptor, OciManifest};
use skopos_core::{
    go, media_type, BlobInfo, BlobReader, Digest, ImageSource, Result, SystemContext,
};

use super::container::{read_object, SifFile};
use super::rootfs::{self, Injected, LayerFile, INJECTED_SCRIPT_PATH};
use crate::fsutil;

/// A definition file larger than this is not one (they are a few KiB of text).
const MAX_DEFFILE_SIZE: u64 = 1 << 20;

/// An image read from a SIF file.
pub struct SifSource {
    layer: LayerFile,
    config: Vec<u8>,
    config_digest: Digest,
    manifest: Vec<u8>,
}

impl std::fmt::Debug for SifSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SifSource")
            .field("layer", &self.layer.summary)
            .field("config_digest", &self.config_digest)
            .finish()
    }
}

impl SifSource {
    /// Read the SIF file at `path` and build its layer (into a temporary file under
    /// `--tmpdir`), config and manifest.
    pub async fn open(path: &Path, ctx: &SystemContext) -> Result<SifSource> {
        let path = path.to_path_buf();
        let tmpdir = ctx.tmpdir();
        fsutil::blocking(move || convert(&path, &tmpdir)).await
    }
}

fn convert(path: &PathBuf, tmpdir: &Path) -> Result<SifSource> {
    let file = File::open(path).map_err(|err| {
        anyhow!(
            "loading SIF file: {}",
            fsutil::path_error("open", path, &err)
        )
    })?;
    let sif = SifFile::load(&file).map_err(|err| anyhow!("loading SIF file: {err}"))?;
    let converting =
        |err: anyhow::Error| anyhow!("converting rootfs from SquashFS to Tarball: {err:#}");

    let (environment, runscript) = match sif.deffile() {
        Some(object) => {
            parse_deffile(&read_object(&file, object, MAX_DEFFILE_SIZE).map_err(converting)?)
        }
        None => (Vec::new(), Vec::new()),
    };
    let (command, script) = if environment.is_empty() && runscript.is_empty() {
        ("bash".to_string(), None)
    } else {
        let script = format!(
            "#!/bin/bash\n{}\n{}\n",
            environment.join("\n"),
            runscript.join("\n")
        );
        (INJECTED_SCRIPT_PATH.to_string(), Some(script))
    };
    let partition = sif
        .primary_partition()
        .map_err(|err| converting(err.context("looking up rootfs from SIF file")))?;
    let injected = script.as_deref().map(|contents| Injected {
        contents: contents.as_bytes(),
        mtime: u64::try_from(sif.modified_at).unwrap_or(0),
    });
    let layer = rootfs::write_layer(&file, partition, injected, tmpdir).map_err(converting)?;

    let created = go_time(sif.modified_at)?;
    let diff_id = layer.summary.digest.clone();
    let config = OciImage {
        created: Some(created),
        architecture: sif.arch.to_string(),
        os: "linux".to_string(),
        config: OciImageConfig {
            cmd: Some(vec![command]),
            ..OciImageConfig::default()
        },
        rootfs: OciRootFs {
            fs_type: "layers".to_string(),
            diff_ids: Some(vec![diff_id.to_string()]),
        },
        history: Some(vec![
            OciHistory {
                created: Some(created),
                created_by: format!("/bin/sh -c #(nop) ADD file:{} in /", diff_id.hex()),
                comment: format!("imported from SIF, uuid: {}", sif.id),
                ..OciHistory::default()
            },
            OciHistory {
                created: Some(created),
                created_by: "/bin/sh -c #(nop) CMD [\"bash\"]".to_string(),
                empty_layer: true,
                ..OciHistory::default()
            },
        ]),
        ..OciImage::default()
    };
    let config = go::json::to_vec(&config).context("encoding the SIF image's config")?;
    let config_digest = Digest::sha256_of(&config);
    let size = |n: u64| i64::try_from(n).context("the SIF image's layer is too large");
    let manifest = OciManifest {
        schema_version: 2,
        media_type: media_type::OCI_MANIFEST.to_string(),
        config: OciDescriptor::new(
            media_type::OCI_CONFIG,
            config_digest.clone(),
            size(config.len() as u64)?,
        ),
        layers: Some(vec![OciDescriptor::new(
            media_type::OCI_LAYER,
            diff_id,
            size(layer.summary.size)?,
        )]),
        subject: None,
        annotations: Default::default(),
    };
    let manifest = go::json::to_vec(&manifest).context("encoding the SIF image's manifest")?;
    Ok(SifSource {
        layer,
        config,
        config_digest,
        manifest,
    })
}

/// The non-trivial lines of a definition file's `%environment` section (no blank lines, no
/// comments) and all lines of its `%runscript` section, each trimmed.
fn parse_deffile(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    enum Section {
        Other,
        Environment,
        Runscript,
    }
    let mut environment = Vec::new();
    let mut runscript = Vec::new();
    let mut section = Section::Other;
    for line in String::from_utf8_lossy(bytes).lines() {
        let line = line.trim();
        match section {
            _ if line == "%environment" => section = Section::Environment,
            _ if line == "%runscript" => section = Section::Runscript,
            _ if line.starts_with('%') => section = Section::Other,
            Section::Environment if !line.is_empty() && !line.starts_with('#') => {
                environment.push(line.to_string())
            }
            Section::Runscript => runscript.push(line.to_string()),
            Section::Environment | Section::Other => {}
        }
    }
    (environment, runscript)
}

/// The SIF time as Go's `time.Unix(seconds, 0)` marshals it: in the local zone.
fn go_time(seconds: i64) -> Result<GoTime> {
    let time = DateTime::from_timestamp(seconds, 0)
        .ok_or_else(|| anyhow!("the SIF modification time {seconds} is out of range"))?
        .with_timezone(&Local);
    GoTime::from_datetime(&time).map_err(|err| anyhow!("a SIF time out of range: {err}"))
}

#[async_trait]
impl ImageSource for SifSource {
    async fn manifest(&self, instance: Option<&Digest>) -> Result<(Vec<u8>, String)> {
        if instance.is_some() {
            return Err(anyhow!(
                "manifest lists are not supported by the sif transport"
            ));
        }
        Ok((self.manifest.clone(), media_type::OCI_MANIFEST.to_string()))
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobReader, Option<u64>)> {
        if info.digest == self.config_digest {
            let size = self.config.len() as u64;
            return Ok((Box::pin(io::Cursor::new(self.config.clone())), Some(size)));
        }
        if info.digest == self.layer.summary.digest {
            return fsutil::open_blob(self.layer.file.path()).await;
        }
        Err(anyhow!(
            "no blob with digest {} found",
            go_quote(&info.digest.to_string())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deffile_sections_are_read_as_containers_image_reads_them() {
        let deffile = b"Bootstrap: scratch\n\n%environment\n    export FOO=bar\n    # a comment\n\n    export B=\"c d\"\n\n%runscript\n    echo hi \"$@\"\n\n%labels\n    a b\n";
        let (environment, runscript) = parse_deffile(deffile);
        assert_eq!(environment, ["export FOO=bar", "export B=\"c d\""]);
        assert_eq!(runscript, ["echo hi \"$@\"", ""]);
        assert_eq!(parse_deffile(b"Bootstrap: scratch\n"), (vec![], vec![]));
    }
}
