//! The cache side of a task: what its solve imports (the farm's shared index first, then
//! the build's `--cache-from`), which records it hands back (always at least `mode=min`,
//! so the farm index learns every build's final-stage results), and what happens to them
//! after a successful solve: the record blobs are already servable (the data plane serves
//! the content store itself), the records go to the index (`RecordCache`), and, for each
//! `--cache-to type=registry`, their blobs are pushed into the reference's repository (the
//! leader writes the cache manifest when it stitches the build).

use std::sync::Arc;

use slipway_farm::cache::{CacheExportTarget, CacheImport, CacheRecord};
use slipway_farm::{TaskId, TaskSpec, WorkerId};
use slipway_oci::registry::RegistryClient;
use slipway_oci::ContentStore;
use slipway_proto::v1::CacheRecords;
use slipway_tls::Security;
use tokio_util::sync::CancellationToken;

use super::coordinators::Coordinators;
use super::error::{AgentError, TaskError};
use super::farm_cache::FarmCache;
use super::stage_inputs::StageInputs;
use slipway_worker::remote::{
    push_cache_blobs, LocalCache, RegistryCache, RemoteCache, RemoteCacheError,
};

/// What the cache side of a task needs from the agent.
pub struct CacheEnv {
    pub coordinators: Arc<Coordinators>,
    pub security: Security,
    pub worker_id: WorkerId,
    /// This worker's data-plane address.
    pub own_addr: String,
    /// For `--cache-from`/`--cache-to type=registry`.
    pub registry: Arc<RegistryClient>,
    /// Whether client directories (contexts, `--cache-from type=local`) are read where they
    /// are: this worker runs in the client's process (a one-process farm).
    pub in_place: bool,
}

fn cache_err(task: TaskId, what: String, source: RemoteCacheError) -> TaskError {
    TaskError::Cache {
        task,
        what,
        source: Box::new(source),
    }
}

/// The remote caches of a task's solve.
pub struct Imports {
    /// In lookup order: the stage inputs (when the task has any), the farm index, then each
    /// `--cache-from`.
    pub caches: Vec<Arc<dyn RemoteCache>>,
    /// How many of `caches` are stage inputs (consulted even with `--no-cache`).
    pub pinned: usize,
    /// The farm index on its own, for its transfer count.
    pub farm: Arc<FarmCache>,
}

/// The remote caches of `spec`'s solve; `inputs` are the cache records of the stage tasks
/// it depends on.
pub async fn imports(
    env: &CacheEnv,
    spec: &TaskSpec,
    inputs: Vec<CacheRecord>,
    cancel: &CancellationToken,
) -> Result<Imports, TaskError> {
    let task = spec.id;
    let farm = Arc::new(FarmCache::new(
        env.coordinators.clone(),
        env.security.clone(),
        env.own_addr.clone(),
        cancel.clone(),
    ));
    let stages = StageInputs::new(inputs, farm.clone());
    let pinned = usize::from(!stages.is_empty());
    let mut out: Vec<Arc<dyn RemoteCache>> = Vec::new();
    if pinned > 0 {
        out.push(Arc::new(stages));
    }
    out.push(farm.clone());
    for import in &spec.cache_from {
        match import {
            CacheImport::Registry { reference } => {
                // A cache that cannot be read is skipped, as BuildKit does: the build runs
                // without it.
                let cache = match RegistryCache::open(env.registry.clone(), reference).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(%task, %reference, error = %e,
                            "importing the cache failed; building without it");
                        continue;
                    }
                };
                if let Some(w) = cache.warning() {
                    tracing::warn!(%task, %reference, "{w}");
                }
                out.push(Arc::new(cache));
            }
            CacheImport::Local { src } if env.in_place => match LocalCache::open(src) {
                Ok(cache) => out.push(Arc::new(cache)),
                // As BuildKit: a cache that cannot be read only warns.
                Err(e) => tracing::warn!(%task, src = %src.display(), error = %e,
                    "importing the local cache failed; building without it"),
            },
            CacheImport::Local { src } => {
                return Err(TaskError::Unsupported {
                    task,
                    what: format!(
                        "--cache-from type=local,src={}: a directory on the client, which only the client brings to a farm",
                        src.display()
                    ),
                })
            }
            CacheImport::Records { origin, records } => out.push(Arc::new(
                StageInputs::imported(origin, records.clone(), farm.clone()),
            )),
        }
    }
    Ok(Imports {
        caches: out,
        pinned,
        farm,
    })
}

/// Tells the coordinators about `records` (best effort: the index is a hint) and pushes
/// their blobs for every registry `--cache-to` (a failure fails the task unless that
/// export has `ignore-error=true`).
pub async fn publish(
    env: &CacheEnv,
    store: &Arc<ContentStore>,
    spec: &TaskSpec,
    records: &[CacheRecord],
    cancel: &CancellationToken,
) -> Result<(), TaskError> {
    let task = spec.id;
    if !records.is_empty() {
        let request = CacheRecords {
            worker_id: env.worker_id.to_string(),
            records: records.iter().cloned().map(Into::into).collect(),
        };
        let sent = env
            .coordinators
            .call("RecordCache", cancel, |mut c| {
                let r = request.clone();
                async move { c.record_cache(r).await }
            })
            .await;
        match sent {
            Ok(_) => {
                tracing::info!(%task, records = records.len(), "cache records sent to the farm index")
            }
            Err(AgentError::Cancelled) => {
                return Err(TaskError::Agent {
                    task,
                    source: AgentError::Cancelled,
                })
            }
            Err(e) => tracing::warn!(%task, error = %e, "recording the cache in the farm index"),
        }
    }
    for export in &spec.cache_to {
        let CacheExportTarget::Registry { reference } = &export.target else {
            continue;
        };
        let outcome = match push_cache_blobs(records, store, &env.registry, reference).await {
            Ok(summary) => {
                tracing::info!(%task, %reference, uploaded = summary.blobs_uploaded,
                    skipped = summary.blobs_skipped, "cache blobs pushed");
                Ok(())
            }
            Err(e) => Err(cache_err(
                task,
                format!("pushing the cache blobs to {reference}"),
                e,
            )),
        };
        match outcome {
            Err(e) if export.ignore_error => {
                tracing::warn!(%task, error = %e, "cache export failed (ignore-error=true)")
            }
            other => other?,
        }
    }
    Ok(())
}
