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
    /// An OCI layout directory written by `type=local,dest=` (`src=`), read where it is: only
    /// by the worker of a one-process farm, in the client's process.
    Local { src: PathBuf },
    /// A client's local cache (`origin`, its directory) brought to a farm: its records, whose
    /// blobs the client put on a worker's data plane. Consulted by this build only, never
    /// written into the farm's shared cache index.
    Records {
        origin: String,
        records: Vec<CacheRecord>,
    },
}

/// The records a `mode` export holds: every one for `Max`; for `Min` those whose layers are
/// a prefix of one of `images` (each image's layer digests, bottom first) — the final
/// stages' results, never an intermediate one, whichever other export the build asked for.
/// The one selection rule of every exporter (registry, local, inline), embedded or on a farm.
pub fn select_records<'a, I, S>(
    mode: CacheMode,
    records: &[CacheRecord],
    images: I,
) -> Vec<CacheRecord>
where
    I: IntoIterator<Item = &'a [S]>,
    S: AsRef<str> + 'a,
{
    if mode == CacheMode::Max {
        return records.to_vec();
    }
    let images: Vec<&[S]> = images.into_iter().collect();
    records
        .iter()
        .filter(|r| {
            images.iter().any(|layers| {
                r.layers.len() <= layers.len()
                    && r.layers
                        .iter()
                        .zip(layers.iter())
                        .all(|(l, d)| l.digest == d.as_ref())
            })
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(d: &str) -> CacheLayer {
        CacheLayer {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: d.into(),
            size: 1,
            diff_id: d.into(),
        }
    }

    fn record(key: &str, layers: &[&str]) -> CacheRecord {
        CacheRecord {
            key: key.into(),
            layers: layers.iter().map(|d| layer(d)).collect(),
        }
    }

    #[test]
    fn min_keeps_only_prefixes_of_the_images() {
        let records = [
            record("base", &["a"]),
            record("final", &["a", "b"]),
            record("builder", &["a", "x"]),
            record("empty", &[]),
        ];
        let image: Vec<String> = vec!["a".into(), "b".into()];
        let min = select_records(CacheMode::Min, &records, [image.as_slice()]);
        let keys: Vec<_> = min.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["base", "final", "empty"]);
        let max = select_records(CacheMode::Max, &records, [image.as_slice()]);
        assert_eq!(max.len(), 4);
        let none: [&[String]; 0] = [];
        assert!(select_records(CacheMode::Min, &records, none).is_empty());
    }
}
