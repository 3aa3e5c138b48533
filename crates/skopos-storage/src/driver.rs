//! The layer directories of the two drivers skopos writes, laid out as containers/storage's
//! drivers lay them out.
//!
//! - vfs: `vfs/dir/<id>/` holds the whole file system of the layer (a copy of the parent's
//!   plus this layer's changes, whiteouts deleted).
//! - overlay: `overlay/<id>/` holds `diff/` (this layer's changes only, whiteouts in
//!   overlayfs's form), `link` (a short random name), `lower` (the parents' short links,
//!   nearest first), `work/`, `merged/`, and `empty/` for a base layer; `overlay/l/<link>`
//!   is a symlink to `../<id>/diff`, keeping mount options short.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use skopos_core::Result;

use crate::apply::Whiteouts;

/// The mode c/storage gives a new layer's root directory.
const LAYER_ROOT_MODE: u32 = 0o555;
/// The length of overlay's short link names.
const LINK_LENGTH: usize = 26;

/// A storage driver skopos can read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Full copies per layer; works everywhere.
    Vfs,
    /// One directory of changes per layer, stacked by overlayfs.
    Overlay,
}

impl Driver {
    /// The driver called `name` (c/storage's names, with its `overlay2` alias) for the
    /// store at `graph_root`; an unknown name fails with c/storage's words.
    pub fn from_name(name: &str, graph_root: &Path) -> Result<Driver> {
        match name {
            "vfs" => Ok(Driver::Vfs),
            "overlay" | "overlay2" => Ok(Driver::Overlay),
            "btrfs" | "zfs" | "devicemapper" | "aufs" => anyhow::bail!(
                "the {name} storage driver is not supported by skopos (only overlay and vfs are)"
            ),
            other => anyhow::bail!(
                "failed to GetDriver graph {other} {}: driver not supported",
                graph_root.display()
            ),
        }
    }

    /// The name c/storage uses in directory names (`<name>-layers`, `<name>-images`).
    pub fn name(self) -> &'static str {
        match self {
            Driver::Vfs => "vfs",
            Driver::Overlay => "overlay",
        }
    }

    /// How whiteouts are applied for this driver.
    pub fn whiteouts(self) -> Whiteouts {
        match self {
            Driver::Vfs => Whiteouts::Delete,
            Driver::Overlay => Whiteouts::Overlay,
        }
    }

    /// Whether applying a layer needs its parent's contents (vfs: each layer is a copy).
    pub fn needs_parent_contents(self) -> bool {
        self == Driver::Vfs
    }

    /// The driver's home directory in the graph root.
    pub fn home(self, graph_root: &Path) -> PathBuf {
        graph_root.join(self.name())
    }

    /// The directory a committed layer lives in.
    pub fn layer_dir(self, graph_root: &Path, id: &str) -> PathBuf {
        match self {
            Driver::Vfs => self.home(graph_root).join("dir").join(id),
            Driver::Overlay => self.home(graph_root).join(id),
        }
    }

    /// The directory holding a committed layer's files (what tar-split names are relative
    /// to).
    pub fn contents_dir(self, graph_root: &Path, id: &str) -> PathBuf {
        match self {
            Driver::Vfs => self.layer_dir(graph_root, id),
            Driver::Overlay => self.layer_dir(graph_root, id).join("diff"),
        }
    }

    /// Lay out a staged layer directory `staged` (whose contents are in
    /// [`Driver::staged_contents`]) for committing: the contents directory gets its mode.
    pub fn new_staged(self, staged: &Path) -> Result<PathBuf> {
        let contents = self.staged_contents(staged);
        fs::create_dir_all(&contents)
            .with_context(|| format!("creating {}", contents.display()))?;
        fs::set_permissions(&contents, fs::Permissions::from_mode(LAYER_ROOT_MODE))?;
        Ok(contents)
    }

    /// Where a staged layer's files go inside its staging directory.
    pub fn staged_contents(self, staged: &Path) -> PathBuf {
        match self {
            Driver::Vfs => staged.join("layer"),
            Driver::Overlay => staged.join("diff"),
        }
    }

    /// Move a staged layer into place as layer `id` over `parent` (already committed).
    pub fn install(self, graph_root: &Path, staged: &Path, id: &str, parent: &str) -> Result<()> {
        let home = self.home(graph_root);
        let target = self.layer_dir(graph_root, id);
        match self {
            Driver::Vfs => {
                let dir = home.join("dir");
                create_private_dir(&home)?;
                create_private_dir(&dir)?;
                fs::rename(self.staged_contents(staged), &target)
                    .with_context(|| format!("moving a layer into {}", target.display()))?;
            }
            Driver::Overlay => {
                create_private_dir(&home)?;
                let links = home.join("l");
                fs::create_dir_all(&links)?;
                fs::set_permissions(&links, fs::Permissions::from_mode(0o755))?;
                let link = random_link_name()?;
                fs::write(staged.join("link"), &link)?;
                fs::set_permissions(staged.join("link"), fs::Permissions::from_mode(0o644))?;
                for sub in ["work", "merged"] {
                    create_private_dir(&staged.join(sub))?;
                }
                if parent.is_empty() {
                    create_private_dir(&staged.join("empty"))?;
                } else {
                    let lower = self.lower_chain(graph_root, parent)?;
                    fs::write(staged.join("lower"), lower)?;
                    fs::set_permissions(staged.join("lower"), fs::Permissions::from_mode(0o644))?;
                }
                fs::set_permissions(staged, fs::Permissions::from_mode(0o700))?;
                fs::rename(staged, &target)
                    .with_context(|| format!("moving a layer into {}", target.display()))?;
                std::os::unix::fs::symlink(format!("../{id}/diff"), links.join(&link))
                    .with_context(|| format!("creating overlay link {link}"))?;
            }
        }
        Ok(())
    }

    /// overlay's `lower` contents for a child of `parent`: `l/<parent link>` then the
    /// parent's own lower chain.
    fn lower_chain(self, graph_root: &Path, parent: &str) -> Result<String> {
        let parent_dir = self.layer_dir(graph_root, parent);
        let link = fs::read_to_string(parent_dir.join("link"))
            .with_context(|| format!("reading the link of layer {parent}"))?;
        let mut lower = format!("l/{}", link.trim());
        if let Ok(parent_lower) = fs::read_to_string(parent_dir.join("lower")) {
            if !parent_lower.is_empty() {
                lower.push(':');
                lower.push_str(parent_lower.trim());
            }
        }
        Ok(lower)
    }

    /// Remove a committed layer's directory (and overlay's short link).
    pub fn remove(self, graph_root: &Path, id: &str) -> Result<()> {
        let dir = self.layer_dir(graph_root, id);
        if self == Driver::Overlay {
            if let Ok(link) = fs::read_to_string(dir.join("link")) {
                let _ = fs::remove_file(self.home(graph_root).join("l").join(link.trim()));
            }
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error).with_context(|| format!("removing layer {}", dir.display())),
        }
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    if !path.is_dir() {
        fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A short link name as overlay makes them: random bytes in base32, 26 characters.
fn random_link_name() -> Result<String> {
    let mut bytes = [0u8; LINK_LENGTH * 5 / 8 + 1];
    getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("random link name: {error}"))?;
    let encoded = base32(&bytes);
    Ok(encoded[..LINK_LENGTH].to_string())
}

/// RFC 4648 base32 (no padding needed for the prefix taken).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer = 0u32;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}
