//! The worker's local build cache: which snapshot a vertex's cache key produced, and which
//! layer blob a committed snapshot was compressed to, in small files written atomically.
//!
//! ```text
//! cache/keys/<hex of cache key>.json        { chain }          vertex results
//! cache/images/<hex of sha256(ref|platform)>.json              resolved base images
//! cache/layers/<chain file key>-<variant>.json                 layer blobs of snapshots
//! ```
//!
//! Every record is written to a temp file in the same directory and renamed into place,
//! so a reader sees a whole record or none. Concurrent writers of one record write the same
//! content (it is a function of the key), so the last rename winning is harmless.

mod index;
mod key;

pub use index::{CacheIndex, ImageRecord, LayerBlob, ResultRecord};
pub use key::{CacheKey, KeyBuilder};

use std::path::PathBuf;

/// Why the cache index could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache index {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cache record {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}
