//! The solver: executes a build graph on this machine and writes one OCI image per graph
//! output into the worker's content store.
//!
//! Vertices run in dependency order, independent ones in parallel (at most
//! `max_parallel` at once), each once per solve. Every vertex gets a cache key before it
//! runs (its definition, platform and inputs' keys, plus a source's resolved manifest or
//! content checksum); a key found in the [`crate::cache`] index with its snapshot present is
//! reported `Cached` and not run. The first failing vertex cancels the rest of the solve.

mod commit;
mod config;
mod error;
mod exec;
mod export;
mod file;
mod import;
mod key;
mod lazy;
mod merge;
mod progress;
mod prune;
mod records;
mod request;
mod run;
mod worker;

pub use config::WorkerConfig;
pub use error::{SolveError, VertexError, WorkerError};
pub use request::{
    CacheExportOptions, ExportOptions, LocalSource, SecretBytes, SecretSource, SolveRequest,
    SolveResult, SolvedImage, SshSource,
};
pub use worker::Worker;

pub(crate) use error::blocking;
pub(crate) use run::{Ctx, Done};
