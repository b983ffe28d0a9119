//! Errors of opening a worker and of solving.

use std::path::PathBuf;

use slipway_graph::{Digest, GraphError, Platform};

use crate::cache::CacheError;
use crate::emulation::EmulationError;
use crate::executor::ExecError;
use crate::snapshot::SnapshotError;

/// Why a worker could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("worker data dir {dir} is in use by another worker or build")]
    Locked { dir: PathBuf },
    #[error("unmounting what a killed worker left below {dir}: {source}")]
    Mounts {
        dir: PathBuf,
        #[source]
        source: crate::mounts::mountinfo::MountTableError,
    },
    #[error("opening the snapshotter: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("setting up the container runtime: {0}")]
    Runtime(#[from] ExecError),
    #[error("detecting emulated platforms: {0}")]
    Emulation(#[from] EmulationError),
    #[error("opening the content store: {0}")]
    Store(#[from] slipway_oci::StoreError),
    #[error("opening the cache index: {0}")]
    Cache(#[from] CacheError),
}

/// Why a solve failed.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("invalid build graph: {0}")]
    InvalidGraph(#[from] GraphError),
    /// A vertex failed; `name` is what progress showed for it.
    #[error("{name}: {source}")]
    Vertex {
        vertex: Digest,
        name: String,
        #[source]
        source: Box<VertexError>,
    },
    #[error("writing the image for {platform} (target {target:?}): {source}")]
    Export {
        platform: Platform,
        target: String,
        #[source]
        source: Box<VertexError>,
    },
    #[error("collecting cache records: {source}")]
    CacheExport {
        #[source]
        source: Box<VertexError>,
    },
    #[error("the build was cancelled")]
    Cancelled,
}

/// Why one vertex failed.
#[derive(Debug, thiserror::Error)]
pub enum VertexError {
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Registry(#[from] slipway_oci::registry::RegistryError),
    #[error(transparent)]
    Store(#[from] slipway_oci::StoreError),
    #[error("producing a layer: {0}")]
    Layer(#[from] slipway_oci::layer::LayerError),
    #[error("applying a layer: {0}")]
    Apply(#[from] slipway_oci::layer::ApplyError),
    #[error("writing the image: {0}")]
    Image(#[from] slipway_oci::image::ImageError),
    #[error(transparent)]
    Fs(#[from] slipway_fsutil::FsError),
    #[error(transparent)]
    Pattern(#[from] slipway_fsutil::PatternError),
    #[error(transparent)]
    Emulation(#[from] EmulationError),
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Whiteout(#[from] crate::source::whiteout::WhiteoutError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("local context {name:?} was not provided with the request")]
    MissingLocal { name: String },
    #[error("secret {id:?} is required but was not provided")]
    MissingSecret { id: String },
    #[error("reading secret {id:?}: {reason}")]
    SecretUnreadable { id: String, reason: String },
    #[error("ssh agent {id:?} is required but was not provided")]
    MissingSsh { id: String },
    #[error("downloading {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("git {remote}: {reason}")]
    Git { remote: String, reason: String },
    #[error("{url}: content digest {actual} does not match the expected checksum {expected}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("input {index} of the vertex does not exist")]
    BadInput { index: u32 },
    #[error("image {reference}: {reason}")]
    BadImage { reference: String, reason: String },
    #[error("{what} is not implemented by this worker yet")]
    Unsupported { what: &'static str },
    #[error("{what} needs the {entitlement} entitlement: pass `--allow {entitlement}`")]
    NotEntitled {
        what: &'static str,
        entitlement: slipway_graph::Entitlement,
    },
    #[error(
        "{what} needs the {entitlement} entitlement, which this worker does not grant (start it \
         with `--allow-insecure-entitlement {entitlement}`)"
    )]
    WorkerRefusesEntitlement {
        what: &'static str,
        entitlement: slipway_graph::Entitlement,
    },
    #[error("a {kind} vertex has no result after its key phase")]
    NoResult { kind: &'static str },
    #[error(transparent)]
    RemoteCache(#[from] crate::remote::RemoteCacheError),
    #[error("background task failed: {reason}")]
    Task { reason: String },
    #[error("cancelled")]
    Cancelled,
}

impl VertexError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> VertexError {
        let path = path.into();
        move |source| VertexError::Io { op, path, source }
    }
}

/// Runs blocking `f` on the blocking pool, mapping a panicked task to [`VertexError::Task`].
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VertexError> + Send + 'static,
) -> Result<T, VertexError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| VertexError::Task {
            reason: e.to_string(),
        })?
}
