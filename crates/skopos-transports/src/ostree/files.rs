//! Reading files out of a commit: the tar-split rebuild's file contents, a config's
//! `/content`, the manifest's signatures.

use std::io::Read;
use std::path::Path;

use ostree::gio;
use ostree::gio::prelude::*;
use skopos_core::Result;
use skopos_storage::tarsplit::LayerFiles;

/// The files of one commit.
pub(super) struct CommitFiles {
    branch: String,
    repo: ostree::Repo,
    root: gio::File,
}

impl CommitFiles {
    /// The tree of the commit `branch` points to.
    pub fn open(repo: &ostree::Repo, branch: &str) -> Result<CommitFiles> {
        let (root, _) = repo
            .read_commit(branch, gio::Cancellable::NONE)
            .map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(CommitFiles {
            branch: branch.to_string(),
            repo: repo.clone(),
            root,
        })
    }

    /// The whole of the file at `relative`.
    pub fn read_all(&mut self, relative: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(Path::new(relative))?
            .read_to_end(&mut bytes)
            .map_err(|err| anyhow::anyhow!("reading {relative} in {}: {err}", self.branch))?;
        Ok(bytes)
    }
}

impl LayerFiles for CommitFiles {
    type File = gio::InputStreamRead<gio::InputStream>;

    /// The file's content object, found through the commit's tree (libostree's `GFile` reads
    /// give a stream type gio's bindings do not expect).
    fn open(&mut self, relative: &Path) -> Result<Self::File> {
        let failed = |err: &dyn std::fmt::Display| {
            anyhow::anyhow!("opening {} in {}: {err}", relative.display(), self.branch)
        };
        let file = self
            .root
            .resolve_relative_path(relative)
            .downcast::<ostree::RepoFile>()
            .map_err(|_| failed(&"not a file of the commit"))?;
        file.ensure_resolved().map_err(|err| failed(&err))?;
        let (stream, _, _) = self
            .repo
            .load_file(&file.checksum(), gio::Cancellable::NONE)
            .map_err(|err| failed(&err))?;
        let stream = stream.ok_or_else(|| failed(&"not a regular file"))?;
        Ok(stream.into_read())
    }
}
