//! Build cache as portable data: records (cache key → the layers of its result) and the
//! `--cache-from` / `--cache-to` options a build asks for.
//!
//! A cache key (64 hex digits) already covers the vertex's definition, its platform and its
//! inputs' keys, so a flat map key → layers is a complete cache: no links between records
//! are needed to find a hit.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One layer of a cached result (a blob in a content store, a peer's data plane or a
/// registry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CacheLayer {
    pub media_type: String,
    /// `sha256:<hex>` of the blob as stored (compressed).
    pub digest: String,
    pub size: u64,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
}

/// A cached vertex result: the layers of its whole filesystem, bottom layer first (empty:
/// an empty filesystem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The vertex's cache key (64 lower-case hex digits).
    pub key: String,
    pub layers: Vec<CacheLayer>,
}

/// Which results a cache export holds (BuildKit's `mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CacheMode {
    /// Only results whose layers are a prefix of an exported image (the final stage).
    #[default]
    Min,
    /// Every result of the build, intermediate stages included.
    Max,
}

/// Layer compression asked for by `--cache-to ...,compression=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheCompression {
    Gzip,
    Zstd,
    Uncompressed,
}

/// Where a cache is written (`--cache-to type=...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheExportTarget {
    /// A cache manifest pushed to `reference` (`type=registry,ref=...`).
    Registry { reference: String },
    /// An OCI layout directory on the client (`type=local,dest=...`).
    Local { dest: PathBuf },
    /// Records embedded in the image config (`type=inline`; always `mode=min`).
    Inline,
}

/// One `--cache-to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheExport {
    pub target: CacheExportTarget,
    pub mode: CacheMode,
    /// Compression of layers produced for the cache (existing blobs are reused as they are).
    pub compression: Option<CacheCompression>,
    pub compression_level: Option<i32>,
    /// OCI media types for the cache manifest (`oci-mediatypes=`, default true).
    pub oci_media_types: bool,
    /// A failed export only warns (`ignore-error=true`).
    pub ignore_error: bool,
}

impl CacheExport {
    pub fn new(target: CacheExportTarget) -> CacheExport {
        CacheExport {
            target,
            mode: CacheMode::Min,
            compression: None,
            compression_level: None,
            oci_media_types: true,
            ignore_error: false,
        }
    }
}

/// Where a cache is read from (`--cache-from type=...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheImport {
    /// A cache manifest, or an image with inline cache, at `reference`.
    Registry { reference: String },
    /// An OCI layout directory written by `type=local,dest=` (`src=`).
    Local { src: PathBuf },
}
