//! slipway's build-cache format (docs/cache.md) and the caches found outside a worker's own
//! index: a registry cache (`--cache-from type=registry`: a cache manifest, or inline cache
//! in an image config), a local cache directory (`type=local,src=`), and their exporters.
//! The engine asks each [`RemoteCache`] of a request, in order, for a key it misses
//! locally, and fetches a hit's layers only when a dependent step or an export needs its
//! filesystem; the coordinators write registry cache manifests and the client local ones
//! with the same code.
//!
//! **Invariant:** knows the format, registries and content stores; nothing of solves,
//! workers, gRPC or Raft.

use std::fmt;
use std::path::{Path, PathBuf};

pub mod format;
pub mod inline;
pub mod local;
pub mod registry;
mod registry_cache;
mod store_copy;

pub use format::{CACHE_CONFIG_MEDIA_TYPE, CACHE_VERSION};
pub use inline::{inline_cache_value, parse_inline, INLINE_KEY};
pub use local::{export_to_dir, LocalCache};
pub use registry::{
    export_to_registry, push_cache_blobs, write_cache_manifest, PushSummary, RegistryExportOptions,
    RegistryExportReport,
};
pub use registry_cache::RegistryCache;

use futures_util::future::BoxFuture;
pub use slipway_farm::cache::{CacheLayer, CacheRecord};
use slipway_oci::ContentStore;

/// A source of cache records and the blobs they name.
pub trait RemoteCache: Send + Sync + fmt::Debug {
    /// What it is, for progress and errors (e.g. `registry cache reg/app:cache`).
    fn describe(&self) -> String;

    /// The layers recorded for `key` (64 hex digits), if any.
    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>>;

    /// Writes blob `layer.digest` into `store` (verified by the store); `tmp` is a
    /// directory for partial downloads on the store's filesystem.
    fn fetch<'a>(
        &'a self,
        layer: &'a CacheLayer,
        store: &'a ContentStore,
        tmp: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteCacheError>>;
}

/// Why a remote cache could not answer or deliver.
#[derive(Debug, thiserror::Error)]
pub enum RemoteCacheError {
    #[error("{origin}: {source}")]
    Registry {
        origin: String,
        #[source]
        source: slipway_oci::registry::RegistryError,
    },
    #[error("{origin}: {op} {path}: {source}")]
    Io {
        origin: String,
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: {source}")]
    Store {
        origin: String,
        #[source]
        source: slipway_oci::StoreError,
    },
    #[error("{origin}: malformed cache: {reason}")]
    Format { origin: String, reason: String },
    #[error("{origin}: blob {digest} is not available: {reason}")]
    BlobUnavailable {
        origin: String,
        digest: String,
        reason: String,
    },
    #[error("{origin}: {reason}")]
    Transport { origin: String, reason: String },
    #[error("cache reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
}
