//! Running one task on this worker: the context tar by digest, unpacked into a scratch
//! directory; the solve of the task's graph; the push of its image by digest; the result.

use std::collections::BTreeMap;
use std::sync::Arc;

use oci_spec::image::Descriptor;
use slipway_farm::cache::{CacheExportTarget, CacheRecord};
use slipway_farm::{BlobDescriptor, TaskId, TaskResult, TaskSpec};
use slipway_graph::Digest;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::blobs::ContextBlobs;
use super::context::fetch_context;
use super::context_dirs::{ContextDirs, ContextLease};
use super::error::{AgentError, TaskError};
use super::progress::TaskProgress;
use super::push::{push_detached, PushDetachedError};
use super::task_cache::{self, CacheEnv};
use slipway_worker::{ExportOptions, LocalSource, SecretSource, SolveRequest, SshSource, Worker};

/// Pushes of a task's image tried before the task fails.
const PUSH_ATTEMPTS: u32 = 3;

/// The local name of the main build context (as the embedded build service names it).
pub const MAIN_CONTEXT: &str = "context";

/// What running a task needs.
pub struct TaskEnv {
    pub worker: Worker,
    pub blobs: Arc<ContextBlobs>,
    /// Materialized contexts, shared by the tasks that read the same one.
    pub contexts: Arc<ContextDirs>,
    /// Also says whether client directories (contexts, local caches) are read in place.
    pub cache: CacheEnv,
}

/// A task as assigned to this worker: its spec and the cache records of the tasks it
/// depends on (their results, on the workers that ran them).
#[derive(Debug, Clone)]
pub struct Assigned {
    pub spec: TaskSpec,
    pub inputs: Vec<CacheRecord>,
}

/// What the build's client serves a task: its secrets and its ssh agents.
#[derive(Debug, Default)]
pub struct ClientServed {
    pub secrets: BTreeMap<String, SecretSource>,
    pub ssh: BTreeMap<String, SshSource>,
}

/// Runs `spec` to its result with what its client serves. `cancel` stops the solve
/// (running steps are killed).
pub async fn execute(
    env: &TaskEnv,
    assigned: Assigned,
    served: ClientServed,
    progress: TaskProgress,
    cancel: CancellationToken,
) -> Result<TaskResult, TaskError> {
    let Assigned { spec, inputs } = assigned;
    let task = spec.id;
    let scratch_root = env.worker.data_dir().join("tmp");
    let scratch = tempfile::Builder::new()
        .prefix(&format!("task-{task}-"))
        .tempdir_in(&scratch_root)
        .map_err(AgentError::io(
            "creating a scratch directory in",
            &scratch_root,
        ))
        .map_err(|source| TaskError::Agent { task, source })?;
    // Contexts are read from directories shared by digest (held until the task ends); a
    // task without a main context gets an empty one.
    let mut leases = Vec::new();
    let context_dir = match &spec.context {
        Some(context) => task_context_dir(env, task, context, &cancel, &mut leases).await?,
        None => {
            let dir = scratch.path().join("context");
            std::fs::create_dir(&dir)
                .map_err(AgentError::io("creating", &dir))
                .map_err(|source| TaskError::Agent { task, source })?;
            dir
        }
    };
    let mut locals = BTreeMap::from([(
        MAIN_CONTEXT.to_string(),
        LocalSource {
            dir: context_dir,
            excludes: Vec::new(),
        },
    )]);
    // Local `--build-context` directories, each shared like the main context.
    for (name, context) in &spec.named_contexts {
        let dir = task_context_dir(env, task, context, &cancel, &mut leases).await?;
        locals.insert(
            name.clone(),
            LocalSource {
                dir,
                excludes: Vec::new(),
            },
        );
    }

    let imports = task_cache::imports(&env.cache, &spec, inputs, &cancel).await?;
    let farm_cache = imports.farm;
    let request = SolveRequest {
        graph: spec.graph.clone(),
        locals,
        allow: spec.allow.clone(),
        no_cache: spec.no_cache,
        pull: spec.pull,
        source_date_epoch: spec.source_date_epoch,
        export: ExportOptions {
            media_types: if spec.docker_media_types {
                slipway_oci::MediaTypes::Docker
            } else {
                slipway_oci::MediaTypes::Oci
            },
            ..ExportOptions::default()
        },
        cache_imports: imports.caches,
        pinned_imports: imports.pinned,
        cache_export: Some(slipway_worker::CacheExportOptions::for_exports(
            &spec.cache_to,
        )),
        secrets: served.secrets,
        ssh: served.ssh,
    };
    let (events, received) = mpsc::channel(1024);
    let pump = tokio::spawn(progress.pump(received));
    let solved = env.worker.solve(request, events, cancel.clone()).await;
    // The solve drops its sender when it returns; the bound only guards against a
    // branch that still holds one.
    let counts = match tokio::time::timeout(std::time::Duration::from_secs(10), pump).await {
        Ok(Ok(counts)) => counts,
        _ => {
            tracing::warn!(%task, "progress of the solve did not end; vertex counts are partial");
            Default::default()
        }
    };
    let mut solved = solved.map_err(|source| TaskError::Solve {
        source: Box::new(source),
    })?;
    if spec
        .cache_to
        .iter()
        .any(|e| e.target == CacheExportTarget::Inline)
    {
        slipway_worker::inline_cache::embed_inline(
            env.worker.store(),
            &mut solved.images,
            &solved.cache,
        )
        .map_err(|source| TaskError::Cache {
            task,
            what: "writing inline cache into the image".to_string(),
            source: Box::new(source),
        })?;
    }

    tracing::info!(%task, bytes = farm_cache.fetched_bytes(), records = solved.cache.len(),
        "farm cache: bytes fetched from peers");
    task_cache::publish(
        &env.cache,
        env.worker.store(),
        &spec,
        &solved.cache,
        &cancel,
    )
    .await?;
    let mut images = solved.images;
    let count = images.len();
    let Some(image) = images.pop().filter(|_| count == 1) else {
        return Err(TaskError::ImageCount { task, count });
    };
    for push in &spec.pushes {
        // Tasks of one build push into the same repository at once (a COPY layer is often the
        // same blob on every platform); a registry can answer such a race with "blob unknown"
        // on the manifest. Each attempt checks every blob again and uploads what is missing.
        let mut attempt = 1;
        let pushed = loop {
            let r = push_detached(
                env.worker.clone(),
                push.repository.clone(),
                push.insecure,
                image.manifest.clone(),
                cancel.clone(),
            )
            .await;
            match r {
                Err(PushDetachedError::Push(e)) if attempt < PUSH_ATTEMPTS => {
                    tracing::warn!(task = %task, attempt, error = %e, "push failed; retrying");
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(300 * attempt as u64))
                        .await;
                }
                other => break other,
            }
        };
        match pushed {
            Ok(_) => {}
            Err(PushDetachedError::Push(source)) => {
                return Err(TaskError::Push {
                    task,
                    source: Box::new(source),
                })
            }
            Err(PushDetachedError::Cancelled) => {
                return Err(TaskError::Agent {
                    task,
                    source: AgentError::Cancelled,
                })
            }
            Err(PushDetachedError::Panicked(message)) => {
                return Err(TaskError::PushFailed { task, message })
            }
        }
    }
    Ok(TaskResult {
        platform: image.platform.clone(),
        manifest: blob_descriptor(task, "manifest", &image.manifest)?,
        config: blob_descriptor(task, "config", &image.config)?,
        layers: image
            .layers
            .iter()
            .map(|l| blob_descriptor(task, "layer", l))
            .collect::<Result<_, _>>()?,
        cached: counts.cached,
        executed: counts.executed,
        cache: solved.cache,
    })
}

/// Where the task reads `context`: the client's directory itself when this worker runs in
/// the client's process (a one-process farm), else the shared directory materialized from
/// its blobs (its lease pushed onto `leases`, held until the task ends).
async fn task_context_dir(
    env: &TaskEnv,
    task: TaskId,
    context: &slipway_farm::ContextRef,
    cancel: &CancellationToken,
    leases: &mut Vec<ContextLease>,
) -> Result<std::path::PathBuf, TaskError> {
    if context.kind == slipway_farm::ContextKind::Directory {
        return match (&context.path, env.cache.in_place) {
            (Some(dir), true) => Ok(dir.clone()),
            (None, _) => Err(TaskError::DirectoryContext {
                task,
                reason: "it names no directory",
            }),
            (Some(_), false) => Err(TaskError::DirectoryContext {
                task,
                reason: "this worker does not run in the client's process",
            }),
        };
    }
    let lease = shared_context(env, task, context, cancel).await?;
    let dir = lease.dir().to_path_buf();
    leases.push(lease);
    Ok(dir)
}

/// The shared directory of `context`, materialized from its blobs unless a task did so.
async fn shared_context(
    env: &TaskEnv,
    task: TaskId,
    context: &slipway_farm::ContextRef,
    cancel: &CancellationToken,
) -> Result<ContextLease, TaskError> {
    env.contexts
        .get(
            &context.digest,
            |dir| async move {
                let unpacked = fetch_context(&env.blobs, task, context, &dir, cancel).await?;
                tracing::debug!(%task, entries = unpacked.entries, bytes = unpacked.bytes,
                    digest = %context.digest, "context materialized");
                Ok(())
            },
            |source| TaskError::Agent { task, source },
        )
        .await
}

fn blob_descriptor(
    task: TaskId,
    what: &'static str,
    d: &Descriptor,
) -> Result<BlobDescriptor, TaskError> {
    let value = d.digest().to_string();
    let digest: Digest = value.parse().map_err(|_| TaskError::Digest {
        task,
        what,
        value: value.clone(),
    })?;
    Ok(BlobDescriptor {
        media_type: d.media_type().to_string(),
        digest,
        size: d.size(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_keep_media_type_digest_and_size() {
        let digest = slipway_oci::Digest::from_hex(&"ab".repeat(32)).unwrap();
        let d = Descriptor::new(
            oci_spec::image::MediaType::ImageManifest,
            42,
            digest.to_oci(),
        );
        let b = blob_descriptor(TaskId::new(), "manifest", &d).unwrap();
        assert_eq!(b.media_type, "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(b.digest.to_string(), format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(b.size, 42);
    }
}
