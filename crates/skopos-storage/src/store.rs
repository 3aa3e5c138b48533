//! A containers/storage store: its directories, locks and records, and the operations
//! skopos needs (read the state, read a layer back as a tar, stage layers, commit an
//! image, delete an image), each taking c/storage's locks in c/storage's order
//! (`storage.lock`, then `layers.lock` with the run root's `mountpoints.lock`, then
//! `images.lock`).

use std::collections::HashSet;
use std::fs;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::de::DeserializeOwned;
use serde::Serialize;
use skopos_core::go::time::GoTime;
use skopos_core::{Digest, Result};

use crate::apply::{apply_layer, AppliedLayer};
use crate::driver::Driver;
use crate::lock::Lock;
use crate::records::{big_data_file_name, ImageRecord, LayerRecord, MANIFEST_KEY};
use crate::tarsplit::{TarRebuilder, TarSplitWriter};

/// The tar-split file name suffix.
const TAR_SPLIT_SUFFIX: &str = ".tar-split.gz";
/// c/storage's drivers' directory of staging directories, in the driver's home.
const STAGING_DIR: &str = "staging";
/// The lock file in each staging directory.
const STAGING_LOCK: &str = "staging.lock";
/// Name of the staged tar-split file inside a staging directory.
const STAGED_TAR_SPLIT: &str = "tar-split.gz";

/// Where a store is and which driver it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    /// The driver.
    pub driver: Driver,
    /// The graph root (`/var/lib/containers/storage`).
    pub graph_root: PathBuf,
    /// The run root (`/run/containers/storage`).
    pub run_root: PathBuf,
}

/// An opened store.
#[derive(Debug)]
pub struct Store {
    location: StoreLocation,
}

/// The layers and images of a store at one moment.
#[derive(Debug, Clone, Default)]
pub struct StoreState {
    /// `layers.json`.
    pub layers: Vec<LayerRecord>,
    /// `images.json`.
    pub images: Vec<ImageRecord>,
}

impl StoreState {
    /// The layer with this ID.
    pub fn layer(&self, id: &str) -> Option<&LayerRecord> {
        self.layers.iter().find(|layer| layer.id == id)
    }

    /// The image with this name (`docker.io/library/busybox:latest`).
    pub fn image_by_name(&self, name: &str) -> Option<&ImageRecord> {
        self.images
            .iter()
            .find(|image| image.names.iter().any(|n| n == name))
    }

    /// The image with this full ID.
    pub fn image_by_id(&self, id: &str) -> Option<&ImageRecord> {
        self.images.iter().find(|image| image.id == id)
    }

    /// The images whose ID starts with `prefix`.
    pub fn images_by_id_prefix(&self, prefix: &str) -> Vec<&ImageRecord> {
        self.images
            .iter()
            .filter(|image| image.id.starts_with(prefix))
            .collect()
    }

    /// The image's layers, top first.
    pub fn image_layers(&self, image: &ImageRecord) -> Vec<&LayerRecord> {
        let mut layers = Vec::new();
        let mut next = image.top_layer.as_str();
        while !next.is_empty() {
            let Some(layer) = self.layer(next) else { break };
            layers.push(layer);
            next = layer.parent.as_str();
        }
        layers
    }
}

/// A layer applied into a staging directory, not yet part of the store.
#[derive(Debug)]
pub struct StagedLayer {
    dir: tempfile::TempDir,
    /// Held while the layer is staged, so that c/storage's clean-up of stale staging
    /// directories leaves this one alone. Dropped after `dir` is removed.
    _lock: Lock,
    /// What applying it found (DiffID, size, owners).
    pub applied: AppliedLayer,
}

/// A layer of an image being committed, bottom first.
#[derive(Debug)]
pub struct NewLayer {
    /// The layer ID (chain-ID based, as containers/image computes it).
    pub id: String,
    /// Its contents; `None` when the store already has a layer with this ID.
    pub staged: Option<StagedLayer>,
    /// The blob it came from, when known.
    pub compressed_digest: Option<Digest>,
    /// That blob's size.
    pub compressed_size: u64,
    /// c/storage's compression code of that blob.
    pub compression: u8,
}

/// An image to commit.
#[derive(Debug)]
pub struct NewImage {
    /// The image ID.
    pub id: String,
    /// Its layers, bottom first.
    pub layers: Vec<NewLayer>,
    /// Names to give it (taken from any other image that has them).
    pub names: Vec<String>,
    /// Its creation time as RFC 3339 (from the config); `None` means now.
    pub created: Option<String>,
    /// Big-data items in the order containers/image adds them.
    pub big_data: Vec<(String, Vec<u8>)>,
    /// The metadata string (containers/image's signature sizes).
    pub metadata: String,
}

/// The exclusive locks of a write, in c/storage's order.
struct WriteLocks {
    layers: Lock,
    images: Lock,
    _mountpoints: Lock,
    _graph: Lock,
}

impl Store {
    /// Open (creating if needed) the store at `location`.
    pub fn open(location: StoreLocation) -> Result<Store> {
        for root in [&location.graph_root, &location.run_root] {
            match fs::metadata(root) {
                Ok(meta) if meta.is_dir() => {}
                // Go's MkdirAll words, which skopeo prints.
                Ok(_) => anyhow::bail!("mkdir {}: not a directory", root.display()),
                Err(_) => create_private_dir(root)?,
            }
        }
        let store = Store { location };
        for dir in [store.layers_dir(), store.images_dir()] {
            create_private_dir(&dir)?;
        }
        Ok(store)
    }

    /// The store's location.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The driver.
    pub fn driver(&self) -> Driver {
        self.location.driver
    }

    fn layers_dir(&self) -> PathBuf {
        self.location
            .graph_root
            .join(format!("{}-layers", self.driver().name()))
    }

    fn images_dir(&self) -> PathBuf {
        self.location
            .graph_root
            .join(format!("{}-images", self.driver().name()))
    }

    fn tar_split_path(&self, layer_id: &str) -> PathBuf {
        self.layers_dir()
            .join(format!("{layer_id}{TAR_SPLIT_SUFFIX}"))
    }

    fn graph_lock(&self, exclusive: bool) -> Result<Lock> {
        Lock::acquire(&self.location.graph_root.join("storage.lock"), exclusive)
    }

    fn write_locks(&self) -> Result<WriteLocks> {
        let graph = self.graph_lock(true)?;
        let layers = Lock::acquire(&self.layers_dir().join("layers.lock"), true)?;
        let mountpoints = Lock::acquire(
            &self
                .location
                .run_root
                .join(format!("{}-layers", self.driver().name()))
                .join("mountpoints.lock"),
            true,
        )?;
        let images = Lock::acquire(&self.images_dir().join("images.lock"), true)?;
        Ok(WriteLocks {
            layers,
            images,
            _mountpoints: mountpoints,
            _graph: graph,
        })
    }

    /// The layers and images, read under shared locks.
    pub fn read_state(&self) -> Result<StoreState> {
        let _graph = self.graph_lock(false)?;
        let _layers = Lock::acquire(&self.layers_dir().join("layers.lock"), false)?;
        let _images = Lock::acquire(&self.images_dir().join("images.lock"), false)?;
        self.load_state()
    }

    fn load_state(&self) -> Result<StoreState> {
        let layers: Vec<LayerRecord> = read_json_array(&self.layers_dir().join("layers.json"))?;
        let images = read_json_array(&self.images_dir().join("images.json"))?;
        Ok(StoreState {
            layers: layers.into_iter().filter(|l| !l.is_incomplete()).collect(),
            images,
        })
    }

    /// One big-data item of an image.
    pub fn image_big_data(&self, image_id: &str, key: &str) -> Result<Vec<u8>> {
        let _images = Lock::acquire(&self.images_dir().join("images.lock"), false)?;
        let path = self
            .images_dir()
            .join(image_id)
            .join(big_data_file_name(key));
        fs::read(&path).with_context(|| format!("reading {key} of image {image_id}"))
    }

    /// A committed layer's contents as its original uncompressed tar, rebuilt from the
    /// layer's files and tar-split metadata.
    pub fn layer_tar(&self, layer_id: &str) -> Result<Box<dyn Read + Send>> {
        let file = fs::File::open(self.tar_split_path(layer_id))
            .with_context(|| format!("opening the tar-split metadata of layer {layer_id}"))?;
        let lines = BufReader::new(GzDecoder::new(BufReader::new(file)));
        let contents = self
            .driver()
            .contents_dir(&self.location.graph_root, layer_id);
        Ok(Box::new(TarRebuilder::new(lines, &contents)))
    }

    /// A new staging directory, as c/storage's drivers make them: in the driver's home
    /// (`<driver>/staging/`, on the same mount as the layers even when overlay has
    /// bind-mounted its home), with `staging.lock` in it held exclusively.
    fn staging_dir(&self) -> Result<(tempfile::TempDir, Lock)> {
        let staging = self
            .driver()
            .home(&self.location.graph_root)
            .join(STAGING_DIR);
        create_private_dir(&self.driver().home(&self.location.graph_root))?;
        create_private_dir(&staging)?;
        let dir = tempfile::Builder::new()
            .prefix("skopos-")
            .tempdir_in(&staging)
            .with_context(|| format!("creating a staging directory in {}", staging.display()))?;
        let lock = Lock::acquire(&dir.path().join(STAGING_LOCK), true)?;
        Ok((dir, lock))
    }

    /// A temporary file on the store's file system, removed when dropped.
    pub fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        let tmp = self.location.graph_root.join("tmp");
        create_private_dir(&tmp)?;
        tempfile::Builder::new()
            .prefix("skopos-layer-")
            .tempfile_in(&tmp)
            .with_context(|| format!("creating a temporary file in {}", tmp.display()))
    }

    /// Apply the uncompressed tar `layer` into a new staging directory. For vfs,
    /// `parent_contents` is the directory of the parent layer's files (committed or
    /// staged), copied first.
    pub fn stage_layer(
        &self,
        layer: impl Read,
        parent_contents: Option<&Path>,
    ) -> Result<StagedLayer> {
        let (dir, lock) = self.staging_dir()?;
        let contents = self.driver().new_staged(dir.path())?;
        if let Some(parent) = parent_contents.filter(|_| self.driver().needs_parent_contents()) {
            crate::copytree::copy_tree(parent, &contents)?;
        }
        let tar_split_file = fs::File::create(dir.path().join(STAGED_TAR_SPLIT))?;
        let mut writer = TarSplitWriter::new(GzEncoder::new(
            std::io::BufWriter::new(tar_split_file),
            flate2::Compression::default(),
        ));
        let applied = apply_layer(layer, &contents, self.driver().whiteouts(), &mut writer)
            .context("applying the layer")?;
        writer
            .into_inner()
            .finish()?
            .into_inner()
            .map_err(|error| error.into_error())?
            .sync_all()?;
        Ok(StagedLayer {
            dir,
            _lock: lock,
            applied,
        })
    }

    /// A staged layer's contents as its original tar, rebuilt like [`Store::layer_tar`].
    pub fn staged_layer_tar(&self, staged: &StagedLayer) -> Result<Box<dyn Read + Send>> {
        let file = fs::File::open(staged.dir.path().join(STAGED_TAR_SPLIT))
            .context("opening a staged layer's tar-split metadata")?;
        let lines = BufReader::new(GzDecoder::new(BufReader::new(file)));
        Ok(Box::new(TarRebuilder::new(
            lines,
            &self.staged_contents(staged),
        )))
    }

    /// Where a staged layer's files are (a vfs child is staged on top of a copy of them).
    pub fn staged_contents(&self, staged: &StagedLayer) -> PathBuf {
        self.driver().staged_contents(staged.dir.path())
    }

    /// Where a committed layer's files are.
    pub fn layer_contents(&self, layer_id: &str) -> PathBuf {
        self.driver()
            .contents_dir(&self.location.graph_root, layer_id)
    }

    /// Commit `image`: its new layers are moved into place, then `layers.json` and
    /// `images.json` are rewritten, all under the store's write locks. Returns the record.
    pub fn commit_image(&self, image: NewImage) -> Result<ImageRecord> {
        let locks = self.write_locks()?;
        let mut state = self.load_state()?;
        let mut installed: Vec<String> = Vec::new();
        let top_layer = match self.install_layers(&mut state, image.layers, &mut installed) {
            Ok(top_layer) => top_layer,
            Err(error) => {
                // Nothing recorded them yet: take the moved directories back out.
                for id in installed {
                    let _ = self.driver().remove(&self.location.graph_root, &id);
                    let _ = fs::remove_file(self.tar_split_path(&id));
                }
                return Err(error);
            }
        };
        if !installed.is_empty() {
            self.save_layers(&state.layers)?;
            locks.layers.record_write()?;
        }
        let record = self.put_image(
            &mut state.images,
            &image.id,
            &top_layer,
            image.names,
            image.created,
            image.big_data,
            image.metadata,
        )?;
        self.save_images(&state.images)?;
        locks.images.record_write()?;
        Ok(record)
    }

    /// Install the new layers bottom first; the top layer's ID.
    fn install_layers(
        &self,
        state: &mut StoreState,
        layers: Vec<NewLayer>,
        installed: &mut Vec<String>,
    ) -> Result<String> {
        let mut parent = String::new();
        for layer in layers {
            if state.layer(&layer.id).is_none() {
                let staged = layer.staged.ok_or_else(|| {
                    anyhow::anyhow!(
                        "layer {} disappeared from the store during the copy",
                        layer.id
                    )
                })?;
                let target = self
                    .driver()
                    .layer_dir(&self.location.graph_root, &layer.id);
                if target.exists() {
                    // Left by an interrupted writer: no record names it.
                    self.driver().remove(&self.location.graph_root, &layer.id)?;
                }
                // Copied, not renamed: a running podman may have bind-mounted the driver's
                // home (where it was staged), which makes it another mount.
                let metadata = fs::read(staged.dir.path().join(STAGED_TAR_SPLIT))
                    .context("reading the staged tar-split metadata")?;
                installed.push(layer.id.clone());
                write_atomically(&self.tar_split_path(&layer.id), &metadata, 0o600)
                    .context("writing the tar-split metadata")?;
                fs::remove_file(staged.dir.path().join(STAGED_TAR_SPLIT))?;
                // Not part of the layer; the lock itself stays held (its descriptor is
                // open) until `staged` is dropped, after the move.
                fs::remove_file(staged.dir.path().join(STAGING_LOCK))?;
                self.driver().install(
                    &self.location.graph_root,
                    staged.dir.path(),
                    &layer.id,
                    &parent,
                )?;
                let applied = &staged.applied;
                state.layers.push(LayerRecord {
                    id: layer.id.clone(),
                    parent: parent.clone(),
                    created: Some(go_now()?),
                    compressed_digest: layer
                        .compressed_digest
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    compressed_size: layer.compressed_size,
                    uncompressed_digest: applied.diff_digest.to_string(),
                    uncompressed_size: applied.diff_size,
                    compression: layer.compression,
                    uids: applied.uids.clone(),
                    gids: applied.gids.clone(),
                    ..LayerRecord::default()
                });
            }
            parent = layer.id;
        }
        Ok(parent)
    }

    #[allow(clippy::too_many_arguments)]
    fn put_image(
        &self,
        images: &mut Vec<ImageRecord>,
        id: &str,
        top_layer: &str,
        names: Vec<String>,
        created: Option<String>,
        big_data: Vec<(String, Vec<u8>)>,
        metadata: String,
    ) -> Result<ImageRecord> {
        let index = match images.iter().position(|image| image.id == id) {
            Some(index) => {
                if images[index].top_layer != top_layer {
                    anyhow::bail!(
                        "image with ID {id:?} already exists, but uses a different top layer: that ID is already in use"
                    );
                }
                index
            }
            None => {
                images.push(ImageRecord {
                    id: id.to_string(),
                    top_layer: top_layer.to_string(),
                    created: Some(match created {
                        Some(created) => created,
                        None => go_now()?,
                    }),
                    ..ImageRecord::default()
                });
                images.len() - 1
            }
        };
        let dir = self.images_dir().join(id);
        create_private_dir(&dir)?;
        for (key, data) in &big_data {
            write_atomically(&dir.join(big_data_file_name(key)), data, 0o600)?;
            let image = &mut images[index];
            let digest = Digest::sha256_of(data).to_string();
            image.big_data_sizes.insert(key.clone(), data.len() as u64);
            image.big_data_digests.insert(key.clone(), digest.clone());
            if !image.big_data_names.contains(key) {
                image.big_data_names.push(key.clone());
            }
            if image.digest.is_empty() && key.starts_with(MANIFEST_KEY) {
                image.digest = digest;
            }
        }
        if !metadata.is_empty() {
            images[index].metadata = metadata;
        }
        for name in names {
            for (other_index, other) in images.iter_mut().enumerate() {
                if other_index != index {
                    other.names.retain(|n| *n != name);
                }
            }
            let image = &mut images[index];
            if !image.names.contains(&name) {
                image.names.push(name.clone());
            }
            image.names_history.retain(|n| *n != name);
            image.names_history.insert(0, name);
        }
        Ok(images[index].clone())
    }

    /// Delete an image and the layers nothing else uses (c/storage's `DeleteImage(id,
    /// true)`).
    pub fn delete_image(&self, id: &str) -> Result<()> {
        let locks = self.write_locks()?;
        let mut state = self.load_state()?;
        let Some(index) = state.images.iter().position(|image| image.id == id) else {
            anyhow::bail!("image {id} is not in the store");
        };
        let image = state.images.remove(index);
        let in_use: HashSet<String> = state
            .images
            .iter()
            .flat_map(|other| {
                std::iter::once(other.top_layer.clone()).chain(other.mapped_top_layers.clone())
            })
            .chain(self.container_layers()?)
            .collect();
        let mut removed = Vec::new();
        let mut next = image.top_layer.clone();
        while !next.is_empty() && !in_use.contains(&next) {
            let has_children = state.layers.iter().any(|layer| layer.parent == next);
            let Some(position) = state.layers.iter().position(|layer| layer.id == next) else {
                break;
            };
            if has_children {
                break;
            }
            let layer = state.layers.remove(position);
            removed.push(layer.id.clone());
            next = layer.parent;
        }
        self.save_images(&state.images)?;
        locks.images.record_write()?;
        let _ = fs::remove_dir_all(self.images_dir().join(id));
        if !removed.is_empty() {
            self.save_layers(&state.layers)?;
            locks.layers.record_write()?;
            for layer in removed {
                self.driver().remove(&self.location.graph_root, &layer)?;
                let _ = fs::remove_file(self.tar_split_path(&layer));
            }
        }
        Ok(())
    }

    /// The layers of containers (which must not be deleted with an image).
    fn container_layers(&self) -> Result<Vec<String>> {
        let path = self
            .location
            .graph_root
            .join(format!("{}-containers", self.driver().name()))
            .join("containers.json");
        let containers: Vec<serde_json::Value> = read_json_array(&path)?;
        Ok(containers
            .iter()
            .filter_map(|c| c.get("layer").and_then(|l| l.as_str()).map(str::to_string))
            .collect())
    }

    fn save_layers(&self, layers: &[LayerRecord]) -> Result<()> {
        write_json(&self.layers_dir().join("layers.json"), layers)
    }

    fn save_images(&self, images: &[ImageRecord]) -> Result<()> {
        write_json(&self.images_dir().join("images.json"), images)
    }
}

fn create_private_dir(path: &Path) -> Result<()> {
    if !path.is_dir() {
        fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

fn read_json_array<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Vec::new()),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a containers storage record file", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec(value)?;
    write_atomically(path, &bytes, 0o600)
}

/// Write `bytes` to a temporary file next to `path`, sync it and rename it over `path`
/// (c/storage's `AtomicWriteFile`).
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    file.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    file.as_file().sync_all()?;
    file.persist(path)
        .map_err(|error| error.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Now, as Go's `time.Now().UTC()` marshals to JSON.
fn go_now() -> Result<String> {
    let now = GoTime::from_datetime(&chrono::Utc::now()).context("reading the clock")?;
    Ok(now.to_rfc3339_nano())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar with what makes byte-exact rebuilding hard: a GNU long name, PAX records
    /// (xattr, fractional mtime), a hard link, an empty file, and junk after the end.
    fn awkward_tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let long_name = format!("dir/{}/file.txt", "x".repeat(150));
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.set_size(5);
        builder
            .append_data(&mut header, &long_name, &b"hello"[..])
            .unwrap();
        builder
            .append_pax_extensions([
                ("mtime", &b"1700000000.25"[..]),
                ("SCHILY.xattr.user.comment", &b"kept"[..]),
            ])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o600);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_001);
        header.set_size(3);
        builder
            .append_data(&mut header, "pax.bin", &b"abc"[..])
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Link);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        builder
            .append_link(&mut header, "hard.bin", "pax.bin")
            .unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_size(0);
        builder.append_data(&mut header, "empty", &b""[..]).unwrap();
        let mut bytes = builder.into_inner().unwrap();
        bytes.extend_from_slice(&[0u8; 3000]);
        bytes.extend_from_slice(b"trailing bytes some tools leave");
        bytes
    }

    #[test]
    fn a_staged_and_committed_layer_reads_back_as_the_same_tar() {
        for driver in [Driver::Vfs, Driver::Overlay] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(StoreLocation {
                driver,
                graph_root: dir.path().join("root"),
                run_root: dir.path().join("run"),
            })
            .unwrap();
            let tar = awkward_tar();
            let staged = store.stage_layer(&tar[..], None).unwrap();
            let diff_id = staged.applied.diff_digest.clone();
            assert_eq!(diff_id, Digest::sha256_of(&tar));
            assert_eq!(staged.applied.diff_size, tar.len() as u64);
            store
                .commit_image(NewImage {
                    id: "f".repeat(64),
                    layers: vec![NewLayer {
                        id: diff_id.hex().to_string(),
                        staged: Some(staged),
                        compressed_digest: Some(diff_id.clone()),
                        compressed_size: tar.len() as u64,
                        compression: 0,
                    }],
                    names: vec!["example.com/awkward:latest".into()],
                    created: None,
                    big_data: vec![("manifest".into(), b"{}".to_vec())],
                    metadata: "{}".into(),
                })
                .unwrap();
            let mut rebuilt = Vec::new();
            store
                .layer_tar(diff_id.hex())
                .unwrap()
                .read_to_end(&mut rebuilt)
                .unwrap();
            assert!(rebuilt == tar, "{driver:?}: the rebuilt tar differs");
            let state = store.read_state().unwrap();
            assert_eq!(state.images[0].digest, Digest::sha256_of(b"{}").to_string());
            store.delete_image(&"f".repeat(64)).unwrap();
            let state = store.read_state().unwrap();
            assert!(state.images.is_empty() && state.layers.is_empty());
            assert!(!store.layer_contents(diff_id.hex()).exists());
        }
    }

    #[test]
    fn a_changed_layer_file_fails_the_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreLocation {
            driver: Driver::Vfs,
            graph_root: dir.path().join("root"),
            run_root: dir.path().join("run"),
        })
        .unwrap();
        let tar = awkward_tar();
        let staged = store.stage_layer(&tar[..], None).unwrap();
        let id = staged.applied.diff_digest.hex().to_string();
        store
            .commit_image(NewImage {
                id: "e".repeat(64),
                layers: vec![NewLayer {
                    id: id.clone(),
                    staged: Some(staged),
                    compressed_digest: None,
                    compressed_size: 0,
                    compression: 0,
                }],
                names: Vec::new(),
                created: None,
                big_data: Vec::new(),
                metadata: String::new(),
            })
            .unwrap();
        let file = store.layer_contents(&id).join("pax.bin");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        fs::write(&file, b"xyz").unwrap();
        let mut rebuilt = Vec::new();
        let error = store
            .layer_tar(&id)
            .unwrap()
            .read_to_end(&mut rebuilt)
            .unwrap_err();
        assert!(error.to_string().contains("checksum"), "{error}");
    }
}
