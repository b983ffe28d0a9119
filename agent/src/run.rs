//! [`Agent::run`]: registration, the lease, the assignments stream, progress forwarding and
//! the data plane, until cancelled.

use std::sync::Arc;
use std::time::Instant;

use slipway_farm::{PlatformSupport, WorkerSpec};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::blobs::{ContextBlobs, DataPlane};
use super::config::AgentConfig;
use super::context_dirs::ContextDirs;
use super::coordinators::Coordinators;
use super::error::AgentError;
use super::shared::Shared;
use super::task::TaskEnv;
use super::task_cache::CacheEnv;
use super::{assignments, lease, progress};
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryClient;
use slipway_worker::Worker;

/// The farm agent of a worker process.
#[derive(Debug)]
pub struct Agent;

impl Agent {
    /// Serves the farm with `worker` until `cancel` fires: starts the data plane on
    /// `config.data_listen`, registers with a new incarnation (native platforms = the
    /// host's, emulated = what the worker's emulation probe found), then renews the lease,
    /// follows the `Assignments` stream and runs the assigned tasks (at most
    /// `config.slots` at once), streaming their progress.
    ///
    /// Leftover active snapshots and scratch directories of a previous run were removed
    /// when `worker` was opened ([`Worker::open`]). On cancel, running tasks are cancelled
    /// (their outcomes are not reported: the leader re-queues them when the lease
    /// expires) and given `timings.shutdown_grace` to clean up.
    ///
    /// Errors: an invalid configuration, or a data plane that cannot listen. Coordinators
    /// being unreachable is not an error: the agent keeps trying.
    pub async fn run(
        config: AgentConfig,
        worker: Worker,
        cancel: CancellationToken,
    ) -> Result<(), AgentError> {
        let timings = config.timings;
        if config.slots == 0 {
            return Err(AgentError::InvalidConfig {
                reason: "slots must be at least 1".into(),
            });
        }
        let coordinators = Arc::new(Coordinators::new(
            &config.coordinators,
            &config.security,
            timings,
        )?);
        let (data_plane, uploads) =
            DataPlane::start(&config, &worker, cancel.child_token()).await?;
        let platforms = worker.platforms();
        let emulated = match &config.emulated {
            None => platforms.emulated.clone(),
            Some(wanted) => {
                if let Some(p) = wanted.iter().find(|p| !platforms.emulated.contains(p)) {
                    return Err(AgentError::InvalidConfig {
                        reason: format!(
                            "cannot offer emulated platform {p}: this machine emulates {}",
                            if platforms.emulated.is_empty() {
                                "nothing (is qemu-user-static registered in binfmt_misc?)"
                                    .to_string()
                            } else {
                                platforms
                                    .emulated
                                    .iter()
                                    .map(|p| p.to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    });
                }
                wanted.clone()
            }
        };
        let spec = WorkerSpec {
            id: config.worker_id.clone(),
            incarnation: Uuid::now_v7(),
            platforms: PlatformSupport {
                native: platforms.native.clone(),
                emulated,
            },
            slots: config.slots,
            labels: config.labels.clone(),
            data_addr: data_plane.advertise.clone(),
        };
        spec.validate().map_err(|e| AgentError::InvalidConfig {
            reason: e.to_string(),
        })?;
        tracing::info!(worker = %spec.id, incarnation = %spec.incarnation, %platforms,
            data = %spec.data_addr, slots = spec.slots, "farm agent starting");

        let blobs = Arc::new(ContextBlobs::new(
            &worker,
            config.security.clone(),
            coordinators.clone(),
            spec.id.clone(),
            spec.data_addr.clone(),
            timings,
        ));
        // Unheld context directories kept for later tasks: twice the slots, at least 4.
        let keep = (config.slots as usize).saturating_mul(2).max(4);
        let contexts = Arc::new(ContextDirs::open(worker.data_dir().join("contexts"), keep)?);
        let registry = Arc::new(cache_registry(&worker));
        let (worker_id, data_addr) = (spec.id.clone(), spec.data_addr.clone());
        let (reports, received) = mpsc::channel(progress::QUEUE);
        let mut shared = Shared::new(
            spec,
            timings,
            coordinators.clone(),
            TaskEnv {
                worker,
                blobs: blobs.clone(),
                contexts,
                cache: CacheEnv {
                    coordinators: coordinators.clone(),
                    security: config.security.clone(),
                    worker_id: worker_id.clone(),
                    own_addr: data_addr.clone(),
                    registry,
                    in_place: config.in_place_contexts,
                },
            },
            reports,
            cancel.clone(),
        );
        shared.gc = config.gc.clone();
        let shared = Arc::new(shared);

        let forwarder = tokio::spawn(progress::forward(
            coordinators.clone(),
            received,
            cancel.clone(),
        ));
        let recorder = tokio::spawn(blobs.clone().record_received(uploads, cancel.clone()));
        match shared.register().await {
            Ok(()) => {}
            Err(AgentError::Cancelled) => {}
            Err(e) => {
                cancel.cancel();
                return Err(e);
            }
        }
        let leases = tokio::spawn(lease::keep(shared.clone()));
        let follower = tokio::spawn(assignments::follow(shared.clone()));

        cancel.cancelled().await;
        tracing::info!("farm agent stopping");
        shared.table().cancel_all();
        let deadline = Instant::now() + timings.shutdown_grace;
        while shared.table().running() > 0 && Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let left = shared.table().running();
        if left > 0 {
            tracing::warn!(tasks = left, "tasks still cleaning up at shutdown");
        }
        for handle in [leases, follower, forwarder, recorder] {
            let _ = handle.await;
        }
        data_plane.stop().await;
        Ok(())
    }
}

/// The registry client of `--cache-from`/`--cache-to type=registry`: the worker's settings,
/// credentials from the environment (as the worker command reads them).
fn cache_registry(worker: &Worker) -> RegistryClient {
    let credentials = CredentialStore::from_env().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading registry credentials for cache imports/exports; going on without");
        CredentialStore::default()
    });
    RegistryClient::new(worker.registry().config().clone(), credentials)
}
