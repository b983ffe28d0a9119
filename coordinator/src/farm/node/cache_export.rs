//! `--cache-to type=registry` of a farm build: each worker pushed the blobs of its task's
//! cache records into the reference's repository before finishing; once the image is
//! stitched, the leader merges the records of the tasks (one per key) and writes the
//! cache manifest under the reference: for `mode=max` every task's, for `mode=min` only the
//! image tasks' (a stage task's results are intermediate; it pushed no blobs there). With
//! `ignore-error=true` a failed export only warns.

use slipway_cache::{write_cache_manifest, RemoteCacheError};
use slipway_farm::cache::{select_records, CacheExportTarget, CacheMode, CacheRecord};
use slipway_farm::{BuildSpec, TaskKind, TaskResult};
use slipway_oci::registry::RegistryClient;
use std::collections::BTreeMap;

/// A cache export that failed the build.
#[derive(Debug, thiserror::Error)]
#[error("exporting the cache to {reference}: {source}")]
pub struct CacheExportError {
    pub reference: String,
    #[source]
    pub source: RemoteCacheError,
}

/// The records of `results`, one per key (the first task's, in task order), sorted by key.
pub fn merge_records<'a>(results: impl IntoIterator<Item = &'a TaskResult>) -> Vec<CacheRecord> {
    let mut merged: BTreeMap<&str, &CacheRecord> = BTreeMap::new();
    for r in results.into_iter().flat_map(|t| t.cache.iter()) {
        merged.entry(r.key.as_str()).or_insert(r);
    }
    merged.into_values().cloned().collect()
}

/// The records a cache export of `mode` holds: every task's for `Max`; for `Min` the
/// image tasks' records whose layers are a prefix of a platform image's layers (the final
/// stages; never an intermediate result, even when another export asked the workers for
/// `mode=max` records).
pub fn records_for(mode: CacheMode, results: &[(TaskKind, TaskResult)]) -> Vec<CacheRecord> {
    let merged = merge_records(
        results
            .iter()
            .filter(|(kind, _)| mode == CacheMode::Max || *kind == TaskKind::Image)
            .map(|(_, r)| r),
    );
    let images: Vec<Vec<String>> = results
        .iter()
        .filter(|(kind, _)| *kind == TaskKind::Image)
        .map(|(_, r)| r.layers.iter().map(|l| l.digest.to_string()).collect())
        .collect();
    select_records(mode, &merged, images.iter().map(Vec::as_slice))
}

/// Writes the cache manifest of every registry `--cache-to` of `spec`; `results` are the
/// build's task results with their task kinds.
pub async fn export_caches(
    registry: &RegistryClient,
    spec: &BuildSpec,
    results: &[(TaskKind, TaskResult)],
) -> Result<(), CacheExportError> {
    for export in &spec.cache_to {
        // Inline records were written into the images by the workers; local caches are
        // written by the client.
        let CacheExportTarget::Registry { reference } = &export.target else {
            continue;
        };
        let records = records_for(export.mode, results);
        match write_cache_manifest(&records, registry, reference, export.oci_media_types).await {
            Ok(digest) => {
                tracing::info!(%reference, manifest = %digest, records = records.len(), "cache exported")
            }
            Err(source) if export.ignore_error => {
                tracing::warn!(%reference, error = %source, "cache export failed (ignore-error=true)")
            }
            Err(source) => {
                return Err(CacheExportError {
                    reference: reference.clone(),
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::cache::CacheLayer;
    use slipway_farm::BlobDescriptor;
    use slipway_graph::{Digest, Platform};

    fn record(key: char, layer: &str) -> CacheRecord {
        CacheRecord {
            key: key.to_string().repeat(64),
            layers: vec![CacheLayer {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                digest: Digest::of_bytes(layer.as_bytes()).to_string(),
                size: 1,
                diff_id: Digest::of_bytes(b"d").to_string(),
            }],
        }
    }

    fn result(cache: Vec<CacheRecord>) -> TaskResult {
        let blob = BlobDescriptor {
            media_type: "m".into(),
            digest: Digest::of_bytes(b"m"),
            size: 1,
        };
        TaskResult {
            platform: Platform::linux("amd64", ""),
            manifest: blob.clone(),
            config: blob,
            layers: vec![],
            cached: 0,
            executed: 0,
            cache,
        }
    }

    #[test]
    fn merge_keeps_one_record_per_key_in_key_order() {
        let merged = merge_records(&[
            result(vec![record('b', "x"), record('a', "y")]),
            result(vec![record('b', "other"), record('c', "z")]),
        ]);
        let keys: Vec<char> = merged.iter().filter_map(|r| r.key.chars().next()).collect();
        assert_eq!(keys, ['a', 'b', 'c']);
        assert_eq!(merged[1], record('b', "x"), "the first task's record wins");
    }

    #[test]
    fn min_exports_hold_only_the_image_tasks_records() {
        let mut image = result(vec![record('i', "image"), record('x', "intermediate")]);
        // The image's layers: the `i` record's are a prefix, the `x` record's are not.
        image.layers = vec![BlobDescriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            digest: slipway_graph::Digest::of_bytes(b"image"),
            size: 1,
        }];
        let results = [
            (TaskKind::Stage, result(vec![record('s', "stage")])),
            (TaskKind::Image, image),
        ];
        let keys = |mode| -> Vec<char> {
            records_for(mode, &results)
                .iter()
                .filter_map(|r| r.key.chars().next())
                .collect()
        };
        assert_eq!(keys(CacheMode::Min), ['i']);
        assert_eq!(keys(CacheMode::Max), ['i', 's', 'x']);
    }
}
