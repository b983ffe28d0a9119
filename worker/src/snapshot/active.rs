//! Active (writable) snapshots and the changes they hand back.

use std::fs;
use std::path::{Path, PathBuf};

use super::overlay::{build_options, mount_overlay, option_limit, unmount};
use super::store::CommittedLayer;
use super::{copy, ChainId, Result, SnapshotBackend, SnapshotError};

/// A writable root filesystem for one RUN step. Mounted until [`ActiveSnapshot::finish`]
/// or [`ActiveSnapshot::cleanup`]; if dropped without either, the mount is detached and
/// the directory removed (synchronously, logging failures).
#[derive(Debug)]
pub struct ActiveSnapshot {
    dir: PathBuf,
    rootfs: PathBuf,
    kind: Kind,
    base: Option<ChainId>,
    released: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `upper/` + `work/` mounted on `merged/`.
    Overlay,
    /// No lower layers: `upper/` itself is the root filesystem and the diff.
    Scratch,
    /// `rootfs/` holds a copy of the merged chain.
    Copied,
}

/// What a finished active snapshot hands back.
#[derive(Debug)]
pub enum SnapshotChanges {
    /// The step's changes alone, in overlay format (whiteouts as 0/0 character devices,
    /// opaque dirs marked `trusted.overlay.opaque=y`), ready to become a layer.
    Upper(ChangeDir),
    /// The whole resulting tree (copy backend); the caller diffs it against `base`.
    FullTree {
        root: ChangeDir,
        base: Option<ChainId>,
    },
}

/// A directory owned by the caller, inside the snapshot's private dir; both are removed on
/// drop. [`ChangeDir::into_path`] keeps the directory: the caller must then move or remove
/// it (whatever is left under the data dir's `active/` is removed at the next open).
#[derive(Debug)]
pub struct ChangeDir {
    path: PathBuf,
    /// Removed on drop (contains `path`).
    owner: PathBuf,
    keep: bool,
}

impl ChangeDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn into_path(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for ChangeDir {
    fn drop(&mut self) {
        if !self.keep {
            if let Err(e) = fs::remove_dir_all(&self.owner) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %self.owner.display(), error = %e, "removing change dir");
                }
            }
        }
    }
}

pub(crate) fn prepare(
    backend: SnapshotBackend,
    dir: PathBuf,
    snapshots: &Path,
    chain: Vec<CommittedLayer>,
    base: Option<ChainId>,
) -> Result<ActiveSnapshot> {
    fs::create_dir_all(&dir).map_err(SnapshotError::io("creating", &dir))?;
    // From here on the guard removes `dir` (and unmounts) on any error.
    let mut active = ActiveSnapshot {
        rootfs: dir.join("upper"),
        dir,
        kind: Kind::Scratch,
        base,
        released: false,
    };
    let top = match (&active.base, chain.is_empty()) {
        (Some(top), false) => top.clone(),
        _ => {
            fs::create_dir(&active.rootfs)
                .map_err(SnapshotError::io("creating", &active.rootfs))?;
            return Ok(active);
        }
    };
    match backend {
        SnapshotBackend::Overlay => {
            let [upper, work, merged] = ["upper", "work", "merged"].map(|n| active.dir.join(n));
            for d in [&upper, &work, &merged] {
                fs::create_dir(d).map_err(SnapshotError::io("creating", d))?;
            }
            let options = build_options(&top, &chain, snapshots, &upper, &work, option_limit())?;
            mount_overlay(&options, &merged)?;
            active.kind = Kind::Overlay;
            active.rootfs = merged;
        }
        SnapshotBackend::Copy => {
            let rootfs = active.dir.join("rootfs");
            active.kind = Kind::Copied;
            active.rootfs = rootfs.clone();
            fs::create_dir(&rootfs).map_err(SnapshotError::io("creating", &rootfs))?;
            for layer in chain.iter().rev() {
                copy::apply_layer(&layer.dir, &rootfs)?;
            }
        }
    }
    Ok(active)
}

impl ActiveSnapshot {
    /// The root filesystem to run in.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// The committed chain this snapshot is on (None for scratch).
    pub fn base(&self) -> Option<&ChainId> {
        self.base.as_ref()
    }

    /// Unmounts and hands back the changes; everything else of the snapshot is removed.
    pub async fn finish(mut self) -> Result<SnapshotChanges> {
        self.released = true;
        let (dir, rootfs, kind, base) = (
            self.dir.clone(),
            self.rootfs.clone(),
            self.kind,
            self.base.take(),
        );
        blocking("finishing an active snapshot", move || {
            finish_sync(dir, rootfs, kind, base)
        })
        .await
    }

    /// Unmounts and removes everything.
    pub async fn cleanup(mut self) -> Result<()> {
        self.released = true;
        let (dir, kind) = (self.dir.clone(), self.kind);
        blocking("removing an active snapshot", move || release(&dir, kind)).await
    }
}

fn finish_sync(
    dir: PathBuf,
    rootfs: PathBuf,
    kind: Kind,
    base: Option<ChainId>,
) -> Result<SnapshotChanges> {
    let change = |path: PathBuf| ChangeDir {
        path,
        owner: dir.clone(),
        keep: false,
    };
    match kind {
        Kind::Overlay => {
            if let Err(e) = unmount(&rootfs) {
                let _ = release(&dir, kind);
                return Err(e);
            }
            let upper = change(dir.join("upper"));
            for sub in ["work", "merged"] {
                let p = dir.join(sub);
                fs::remove_dir_all(&p).map_err(SnapshotError::io("removing", &p))?;
            }
            Ok(SnapshotChanges::Upper(upper))
        }
        Kind::Scratch => Ok(SnapshotChanges::Upper(change(rootfs))),
        Kind::Copied => Ok(SnapshotChanges::FullTree {
            root: change(rootfs),
            base,
        }),
    }
}

fn release(dir: &Path, kind: Kind) -> Result<()> {
    if kind == Kind::Overlay {
        unmount(&dir.join("merged"))?;
    }
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(SnapshotError::Io {
            op: "removing",
            path: dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SnapshotError::Task {
            what,
            reason: e.to_string(),
        })?
}

impl Drop for ActiveSnapshot {
    fn drop(&mut self) {
        if !self.released {
            if let Err(e) = release(&self.dir, self.kind) {
                tracing::error!(dir = %self.dir.display(), error = %e, "releasing a dropped active snapshot");
            }
        }
    }
}

/// Unmounts and removes every active snapshot left under `active_dir` (after a crash).
pub(crate) fn recover(active_dir: &Path) -> Result<()> {
    let points = crate::mounts::mountinfo::points_below(active_dir)
        .map_err(SnapshotError::io("reading", "/proc/self/mountinfo"))?;
    for p in points {
        unmount(&p)?;
    }
    for entry in fs::read_dir(active_dir).map_err(SnapshotError::io("reading", active_dir))? {
        let path = entry
            .map_err(SnapshotError::io("reading", active_dir))?
            .path();
        fs::remove_dir_all(&path).map_err(SnapshotError::io("removing", &path))?;
    }
    Ok(())
}
