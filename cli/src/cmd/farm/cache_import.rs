//! `--cache-from type=local,src=D` on a farm that cannot read the client's directory: before
//! submitting, the client puts the blobs the cache's records name on one live worker's data
//! plane (only those it lacks; announced, so every worker finds their holder) and hands the
//! records to this build alone (`CacheImport::Records`): they are never written into the
//! farm's shared cache index, so one user's local cache never answers another's build. A
//! one-process farm's worker reads the directory where it is and needs none of this. A cache
//! directory that cannot be read is a warning, as in BuildKit.

use super::client::FarmClient;
use anyhow::{Context, Result};
use slipway_cache::LocalCache;
use slipway_dataplane::{BlobClient, PutOptions};
use slipway_farm::cache::CacheImport;
use slipway_farm::BuildSpec;
use slipway_oci::Digest;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Replaces the local `--cache-from` entries of `spec` with their records, their blobs
/// uploaded to a live worker.
pub async fn import_local_caches(client: &mut FarmClient, spec: &mut BuildSpec) -> Result<()> {
    let sources: Vec<PathBuf> = spec
        .cache_from
        .iter()
        .filter_map(|c| match c {
            CacheImport::Local { src } => Some(src.clone()),
            CacheImport::Registry { .. } | CacheImport::Records { .. } => None,
        })
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    let worker = client
        .list_workers()
        .await?
        .into_iter()
        .filter(|w| w.alive && !w.draining)
        .min_by_key(|w| w.running_tasks)
        .and_then(|w| w.spec)
        .context("--cache-from type=local: no live worker to import the cache into")?;
    let blobs = BlobClient::connect(worker.data_addr.as_str(), &client.security)
        .await
        .with_context(|| format!("connecting to worker {}'s data plane", worker.id))?;
    let mut imported = Vec::new();
    for src in sources {
        let cache = match LocalCache::open(&src) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("WARNING: importing cache from {}: {e}", src.display());
                continue;
            }
        };
        let records = cache.records();
        let digests: Vec<Digest> = records
            .iter()
            .flat_map(|r| r.layers.iter())
            .map(|l| l.digest.parse::<Digest>())
            .collect::<Result<BTreeSet<_>, _>>()
            .with_context(|| format!("--cache-from {}: a layer digest", src.display()))?
            .into_iter()
            .collect();
        let missing = blobs
            .missing(&digests)
            .await
            .with_context(|| format!("asking worker {} which blobs it lacks", worker.id))?;
        for digest in &missing {
            let file = cache.blob_file(digest);
            blobs
                .put_with(digest, &file, &PutOptions { announce: true })
                .await
                .with_context(|| format!("uploading {} to worker {}", file.display(), worker.id))?;
        }
        eprintln!(
            "imported {} cache records from {} for this build ({} blobs uploaded to {})",
            records.len(),
            src.display(),
            missing.len(),
            worker.id
        );
        imported.push(CacheImport::Records {
            origin: src.display().to_string(),
            records,
        });
    }
    blobs.close().await;
    spec.cache_from
        .retain(|c| !matches!(c, CacheImport::Local { .. }));
    spec.cache_from.extend(imported);
    Ok(())
}
