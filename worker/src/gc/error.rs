use std::path::PathBuf;

use slipway_oci::StoreError;

/// Why garbage collection or a disk usage scan failed.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    #[error("invalid gc option {option}: {reason}")]
    InvalidOptions {
        option: &'static str,
        reason: String,
    },
    #[error("gc: {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("gc: content store: {op}: {source}")]
    Store {
        op: &'static str,
        #[source]
        source: StoreError,
    },
    #[error(
        "gc: image {name} references {digest}, which is not a readable manifest or index \
         ({reason}); refusing to collect since what it pins is unknown"
    )]
    BadPinnedManifest {
        name: String,
        digest: String,
        reason: String,
    },
    #[error("gc: snapshot metadata {path} is unreadable: {reason}")]
    BadSnapshotMeta { path: PathBuf, reason: String },
}

impl GcError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> GcError {
        let path = path.into();
        move |source| GcError::Io { op, path, source }
    }

    pub(crate) fn store(op: &'static str) -> impl FnOnce(StoreError) -> GcError {
        move |source| GcError::Store { op, source }
    }
}
