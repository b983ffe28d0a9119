use std::path::PathBuf;

use super::ChainId;

/// What went wrong in the snapshotter.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("invalid chain ID {input:?}: expected algorithm:hex (e.g. sha256:…)")]
    InvalidChainId { input: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("snapshot {chain_id} is not committed")]
    NotFound { chain_id: ChainId },
    #[error("parent snapshot {parent} of {chain_id} is not committed")]
    MissingParent { chain_id: ChainId, parent: ChainId },
    #[error("metadata of snapshot at {path} is unreadable: {reason}")]
    BadMetadata { path: PathBuf, reason: String },
    #[error("snapshot chain of {chain_id} is cyclic or deeper than {limit} layers")]
    ChainCycle { chain_id: ChainId, limit: usize },
    #[error(
        "snapshot chain of {chain_id} has {layers} layers; overlayfs stacks at most {limit} \
         (mount option length {option_len} bytes, limit {option_limit}); squash the base image"
    )]
    ChainTooLong {
        chain_id: ChainId,
        layers: usize,
        limit: usize,
        option_len: usize,
        option_limit: usize,
    },
    #[error("overlayfs is not usable in {dir}: {reason}")]
    OverlayUnavailable { dir: PathBuf, reason: String },
    #[error("mounting overlayfs on {target}: {source}")]
    Mount {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("unmounting {target}: {source}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error(
        "cannot commit {chain_id} from a copy-backend tree: it is not a diff (diff it against \
         its base and extract the result into a prepared layer dir)"
    )]
    NotADiff { chain_id: ChainId },
    #[error("snapshot data dir {dir} is in use by another snapshotter")]
    Locked { dir: PathBuf },
    #[error("background task for {what} failed: {reason}")]
    Task { what: &'static str, reason: String },
}

impl SnapshotError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> SnapshotError {
        let path = path.into();
        move |source| SnapshotError::Io { op, path, source }
    }
}

pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;
