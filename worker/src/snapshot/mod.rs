//! Snapshots: committed, read-only layer directories keyed by chain ID, and active
//! (writable) snapshots in which a RUN step executes.
//!
//! On-disk layout under the data dir:
//!
//! ```text
//! snapshots/<n>/fs         committed layer content (n: a small number, keeps mount options short)
//! snapshots/<n>/meta.json  { chain_id, parent }
//! chains/<algo>-<hex>      symlink -> ../snapshots/<n>; its creation is the commit point
//! staging/<uuid>/fs        a layer being filled by the caller (prepare_layer_dir)
//! active/<uuid>/           upper/, work/, merged/ (overlay) or rootfs/ (copy)
//! ```
//!
//! Layer directories use overlayfs's own format for deletions: a whiteout is a character
//! device 0/0 and an opaque directory carries the `trusted.overlay.opaque=y` xattr. An
//! overlay upper dir is therefore itself a valid layer directory.
//!
//! Long chains: overlayfs takes its lower dirs in one mount option string, limited to a
//! page. Options are built with absolute paths when they fit; otherwise with paths
//! relative to `snapshots/` (`12/fs`), mounted from a forked child that `chdir`s there
//! first (the containerd approach), so a chain of up to overlayfs's 500-layer stack limit
//! fits. Beyond that, [`SnapshotError::ChainTooLong`] is returned (no flattening).

mod active;
mod chain_id;
mod copy;
mod error;
mod overlay;
mod probe;
mod store;

pub use active::{ActiveSnapshot, ChangeDir, SnapshotChanges};
pub use chain_id::ChainId;
pub use error::{Result, SnapshotError};
pub use probe::probe_overlay;
pub use store::{CommittedLayer, PreparedLayer, Snapshotter};

use std::path::PathBuf;

/// How active snapshots are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotBackend {
    /// An overlayfs mount over the committed chain; the upper dir is the step's diff.
    Overlay,
    /// The merged chain is copied into a fresh directory; the caller diffs it against
    /// the chain itself.
    Copy,
}

/// Which backend to use when opening a snapshotter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// Overlay when a probe mount in the data dir succeeds, Copy otherwise.
    #[default]
    Detect,
    Overlay,
    Copy,
}

/// Where and how the snapshotter keeps its state.
#[derive(Debug, Clone, Default)]
pub struct SnapshotterConfig {
    pub data_dir: PathBuf,
    pub backend: BackendChoice,
}
