//! slipway's worker: the parts of a build that touch the machine.
//!
//! - [`snapshot`]: committed layer directories keyed by chain ID and active (writable)
//!   snapshots for RUN steps, on overlayfs or, where overlayfs is unavailable, on copies.
//! - [`executor`]: runs a process in a container through an OCI runtime (runc or crun),
//!   generating the runtime `config.json` with oci-spec.
//! - [`emulation`]: which foreign platforms this machine can run through QEMU user
//!   emulation registered in binfmt_misc, and registering it on request.
//! - [`solver`]: executes a build graph (with [`cache`], [`mounts`] and [`source`]) and
//!   writes OCI images into the content store.
//!
//! The worker runs as root; rootless operation is not supported.

pub mod cache;
pub mod emulation;
pub mod executor;
pub mod gc;
pub mod inline_cache;
pub mod mounts;
/// The cache format and the remote caches a solve consults (the `slipway-cache` crate).
pub use slipway_cache as remote;
pub mod snapshot;
pub mod solver;
pub mod source;

pub use solver::{
    CacheExportOptions, ExportOptions, LocalSource, SecretBytes, SecretSource, SolveError,
    SolveRequest, SolveResult, SolvedImage, SshSource, VertexError, Worker, WorkerConfig,
    WorkerError,
};
