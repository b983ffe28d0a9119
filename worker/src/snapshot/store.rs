use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::active::{self, ActiveSnapshot};
use super::SnapshotChanges;
use super::{
    probe, BackendChoice, ChainId, Result, SnapshotBackend, SnapshotError, SnapshotterConfig,
};

/// Overlayfs's stack limit (OVL_MAX_STACK); also bounds chain walks.
pub(crate) const MAX_CHAIN: usize = 500;

/// Committed snapshots and active snapshots over them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Snapshotter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Held for the snapshotter's lifetime: one snapshotter per data dir, since opening
    /// one removes the active snapshots it finds.
    _lock: Flock<fs::File>,
    root: PathBuf,
    backend: SnapshotBackend,
    next_id: AtomicU64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub chain_id: ChainId,
    pub parent: Option<ChainId>,
}

/// One committed layer of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedLayer {
    pub chain_id: ChainId,
    /// `snapshots/<n>/fs`, absolute.
    pub dir: PathBuf,
    /// `<n>/fs`, relative to `snapshots/`.
    pub rel_dir: String,
}

/// A layer directory being filled by the caller. Removed on drop unless committed.
#[derive(Debug)]
pub struct PreparedLayer {
    chain_id: ChainId,
    parent: Option<ChainId>,
    staging: PathBuf,
    fs: PathBuf,
}

impl PreparedLayer {
    /// The directory to extract the layer into (overlay whiteout format).
    pub fn path(&self) -> &Path {
        &self.fs
    }

    pub fn chain_id(&self) -> &ChainId {
        &self.chain_id
    }
}

impl Drop for PreparedLayer {
    fn drop(&mut self) {
        if self.staging.exists() {
            if let Err(e) = fs::remove_dir_all(&self.staging) {
                tracing::warn!(path = %self.staging.display(), error = %e, "removing uncommitted layer");
            }
        }
    }
}

impl Snapshotter {
    /// Opens (creating if needed) the data dir, removes what a crash left behind (mounts
    /// and dirs of active snapshots, staging dirs, uncommitted snapshot dirs) and picks
    /// the backend.
    pub fn open(config: SnapshotterConfig) -> Result<Snapshotter> {
        let root = config.data_dir;
        for sub in ["snapshots", "chains", "staging", "active"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(SnapshotError::io("creating", &p))?;
        }
        let root = fs::canonicalize(&root).map_err(SnapshotError::io("resolving", &root))?;
        let lock_path = root.join("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(SnapshotError::io("opening", &lock_path))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| SnapshotError::Locked { dir: root.clone() })?;
        active::recover(&root.join("active"))?;
        clear_dir(&root.join("staging"))?;
        let max_id = remove_orphans(&root)?;
        let backend = match config.backend {
            BackendChoice::Overlay => {
                probe::probe_overlay_cached(&root)?;
                SnapshotBackend::Overlay
            }
            BackendChoice::Copy => SnapshotBackend::Copy,
            BackendChoice::Detect => match probe::probe_overlay_cached(&root) {
                Ok(()) => SnapshotBackend::Overlay,
                Err(e) => {
                    tracing::warn!(error = %e, "overlayfs unavailable, using copy snapshots");
                    SnapshotBackend::Copy
                }
            },
        };
        Ok(Snapshotter {
            inner: Arc::new(Inner {
                _lock: lock,
                root,
                backend,
                next_id: AtomicU64::new(max_id + 1),
            }),
        })
    }

    pub fn backend(&self) -> SnapshotBackend {
        self.inner.backend
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.root
    }

    /// A fresh directory for the caller to extract the layer `chain_id` (on top of
    /// `parent`) into; [`Snapshotter::commit`] makes it visible atomically.
    pub fn prepare_layer_dir(
        &self,
        chain_id: &ChainId,
        parent: Option<&ChainId>,
    ) -> Result<PreparedLayer> {
        if let Some(p) = parent {
            if !self.contains(p) {
                return Err(SnapshotError::MissingParent {
                    chain_id: chain_id.clone(),
                    parent: p.clone(),
                });
            }
        }
        let staging = self
            .inner
            .root
            .join("staging")
            .join(uuid::Uuid::new_v4().to_string());
        let fs_dir = staging.join("fs");
        fs::create_dir_all(&fs_dir).map_err(SnapshotError::io("creating", &fs_dir))?;
        Ok(PreparedLayer {
            chain_id: chain_id.clone(),
            parent: parent.cloned(),
            staging,
            fs: fs_dir,
        })
    }

    /// Commits a prepared layer. If the chain ID was committed meanwhile (a concurrent
    /// extraction of the same layer), the prepared copy is discarded and this succeeds.
    pub fn commit(&self, prepared: PreparedLayer) -> Result<()> {
        if let Some(p) = &prepared.parent {
            if !self.contains(p) {
                return Err(SnapshotError::MissingParent {
                    chain_id: prepared.chain_id.clone(),
                    parent: p.clone(),
                });
            }
        }
        if self.contains(&prepared.chain_id) {
            return Ok(());
        }
        let meta = Meta {
            chain_id: prepared.chain_id.clone(),
            parent: prepared.parent.clone(),
        };
        let meta_path = prepared.staging.join("meta.json");
        let bytes = serde_json::to_vec(&meta).map_err(|e| SnapshotError::BadMetadata {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        fs::write(&meta_path, bytes).map_err(SnapshotError::io("writing", &meta_path))?;
        sync_tree_root(&prepared.staging)?;

        let id = self.inner.next_id.fetch_add(1, Ordering::SeqCst);
        let dest = self.inner.root.join("snapshots").join(id.to_string());
        fs::rename(&prepared.staging, &dest)
            .map_err(SnapshotError::io("renaming staging dir to", &dest))?;
        let link = self.chain_link(&prepared.chain_id);
        match symlink(format!("../snapshots/{id}"), &link) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_dir_all(&dest)
                    .map_err(SnapshotError::io("removing duplicate", &dest))?;
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&dest);
                return Err(SnapshotError::Io {
                    op: "linking",
                    path: link,
                    source: e,
                });
            }
        }
        Ok(())
    }

    /// Commits a finished step's [`SnapshotChanges::Upper`] as the layer `chain_id` on
    /// `parent` by moving the directory (no copy). A [`SnapshotChanges::FullTree`] is not
    /// a layer (it records no deletions): the caller must diff it and extract the diff
    /// through [`Snapshotter::prepare_layer_dir`] instead.
    pub fn commit_changes(
        &self,
        changes: SnapshotChanges,
        chain_id: &ChainId,
        parent: Option<&ChainId>,
    ) -> Result<()> {
        let dir = match changes {
            SnapshotChanges::Upper(dir) => dir,
            SnapshotChanges::FullTree { .. } => {
                return Err(SnapshotError::NotADiff {
                    chain_id: chain_id.clone(),
                })
            }
        };
        let prepared = self.prepare_layer_dir(chain_id, parent)?;
        fs::remove_dir(&prepared.fs).map_err(SnapshotError::io("removing", &prepared.fs))?;
        fs::rename(dir.path(), &prepared.fs)
            .map_err(SnapshotError::io("moving change dir to", &prepared.fs))?;
        drop(dir);
        self.commit(prepared)
    }

    pub fn contains(&self, chain_id: &ChainId) -> bool {
        self.chain_link(chain_id).join("meta.json").is_file()
    }

    /// The committed layer directory of `chain_id`.
    pub fn layer_dir(&self, chain_id: &ChainId) -> Result<PathBuf> {
        Ok(self.layer(chain_id)?.dir)
    }

    /// The committed chain ending at `top`, top first (overlay's lowerdir order).
    pub fn chain(&self, top: &ChainId) -> Result<Vec<CommittedLayer>> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = Some(top.clone());
        while let Some(id) = next {
            if !seen.insert(id.clone()) || out.len() > MAX_CHAIN {
                return Err(SnapshotError::ChainCycle {
                    chain_id: top.clone(),
                    limit: MAX_CHAIN,
                });
            }
            let layer = self.layer(&id)?;
            next = read_meta(&layer.dir.with_file_name("meta.json"))?.parent;
            out.push(layer);
        }
        Ok(out)
    }

    /// A writable snapshot over the committed chain `parent` (empty for `None`), made
    /// with this snapshotter's backend. The copy backend copies the whole chain, so this
    /// runs on the blocking pool.
    pub async fn prepare_active(&self, parent: Option<&ChainId>) -> Result<ActiveSnapshot> {
        let chain = match parent {
            Some(p) => self.chain(p)?,
            None => Vec::new(),
        };
        let dir = self
            .inner
            .root
            .join("active")
            .join(uuid::Uuid::new_v4().to_string());
        let snapshots = self.inner.root.join("snapshots");
        let backend = self.inner.backend;
        let parent = parent.cloned();
        tokio::task::spawn_blocking(move || {
            active::prepare(backend, dir, &snapshots, chain, parent)
        })
        .await
        .map_err(|e| SnapshotError::Task {
            what: "preparing an active snapshot",
            reason: e.to_string(),
        })?
    }

    fn chain_link(&self, chain_id: &ChainId) -> PathBuf {
        self.inner.root.join("chains").join(chain_id.file_key())
    }

    fn layer(&self, chain_id: &ChainId) -> Result<CommittedLayer> {
        let link = self.chain_link(chain_id);
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SnapshotError::NotFound {
                    chain_id: chain_id.clone(),
                })
            }
            Err(e) => {
                return Err(SnapshotError::Io {
                    op: "reading",
                    path: link,
                    source: e,
                })
            }
        };
        let id = target
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.parse::<u64>().is_ok())
            .ok_or_else(|| SnapshotError::BadMetadata {
                path: link.clone(),
                reason: format!("link target {}", target.display()),
            })?;
        Ok(CommittedLayer {
            chain_id: chain_id.clone(),
            dir: self.inner.root.join("snapshots").join(id).join("fs"),
            rel_dir: format!("{id}/fs"),
        })
    }
}

pub(crate) fn read_meta(path: &Path) -> Result<Meta> {
    let bytes = fs::read(path).map_err(SnapshotError::io("reading", path))?;
    serde_json::from_slice(&bytes).map_err(|e| SnapshotError::BadMetadata {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn clear_dir(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(SnapshotError::io("reading", dir))? {
        let path = entry.map_err(SnapshotError::io("reading", dir))?.path();
        fs::remove_dir_all(&path).map_err(SnapshotError::io("removing", &path))?;
    }
    Ok(())
}

/// Removes snapshot dirs no chain link points to (a crash between rename and link) and
/// dangling links; returns the highest snapshot number in use.
fn remove_orphans(root: &Path) -> Result<u64> {
    let chains = root.join("chains");
    let mut used = HashSet::new();
    for entry in fs::read_dir(&chains).map_err(SnapshotError::io("reading", &chains))? {
        let link = entry.map_err(SnapshotError::io("reading", &chains))?.path();
        let target = fs::read_link(&link).ok();
        let id = target
            .as_ref()
            .and_then(|t| t.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u64>().ok());
        match id {
            Some(id)
                if root
                    .join("snapshots")
                    .join(id.to_string())
                    .join("meta.json")
                    .is_file() =>
            {
                used.insert(id);
            }
            _ => fs::remove_file(&link).map_err(SnapshotError::io("removing dangling", &link))?,
        }
    }
    let snapshots = root.join("snapshots");
    let mut max = 0;
    for entry in fs::read_dir(&snapshots).map_err(SnapshotError::io("reading", &snapshots))? {
        let path = entry
            .map_err(SnapshotError::io("reading", &snapshots))?
            .path();
        match path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u64>().ok())
        {
            Some(id) if used.contains(&id) => max = max.max(id),
            _ => fs::remove_dir_all(&path).map_err(SnapshotError::io("removing orphan", &path))?,
        }
    }
    Ok(max)
}

fn sync_tree_root(dir: &Path) -> Result<()> {
    let f = fs::File::open(dir).map_err(SnapshotError::io("opening", dir))?;
    f.sync_all().map_err(SnapshotError::io("syncing", dir))
}
