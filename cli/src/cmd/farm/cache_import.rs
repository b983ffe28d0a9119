//! `--cache-from type=local,src=D` with `--builder`: the farm cannot read the client's
//! directory, so before submitting, the client imports it into the farm's shared cache
//! index: the blobs the records name go to one live worker's data plane (only those it
//! lacks), then the records are recorded as held by that worker (`RecordCache`). Every
//! worker then finds those keys in the index and fetches the blobs from that worker, as
//! for any result built on the farm. A cache directory that cannot be read is a warning,
//! as in BuildKit.

use super::client::{status_error, FarmClient};
use anyhow::{Context, Result};
use slipway_dataplane::{BlobClient, PutOptions};
use slipway_farm::cache::CacheImport;
use slipway_farm::BuildSpec;
use slipway_oci::Digest;
use slipway_proto::v1;
use slipway_worker::remote::LocalCache;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Imports the local `--cache-from` entries of `spec` and removes them from it.
pub async fn import_local_caches(client: &mut FarmClient, spec: &mut BuildSpec) -> Result<()> {
    let sources: Vec<PathBuf> = spec
        .cache_from
        .iter()
        .filter_map(|c| match c {
            CacheImport::Local { src } => Some(src.clone()),
            CacheImport::Registry { .. } => None,
        })
        .collect();
    if sources.is_empty() {
        return Ok(());
    }
    spec.cache_from
        .retain(|c| !matches!(c, CacheImport::Local { .. }));
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
                .put_with(digest, &file, &PutOptions { announce: false })
                .await
                .with_context(|| format!("uploading {} to worker {}", file.display(), worker.id))?;
        }
        let mut api = client.worker_api().await?;
        api.record_cache(v1::CacheRecords {
            worker_id: worker.id.clone(),
            records: records.iter().cloned().map(Into::into).collect(),
        })
        .await
        .map_err(status_error)
        .context("recording the imported cache")?;
        eprintln!(
            "imported {} cache records from {} ({} blobs uploaded to {})",
            records.len(),
            src.display(),
            missing.len(),
            worker.id
        );
    }
    blobs.close().await;
    Ok(())
}
