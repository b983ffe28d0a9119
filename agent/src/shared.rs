//! State shared by the agent's loops and its task runners.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use slipway_farm::{TaskId, WorkerSpec};
use slipway_proto::v1::{ProgressReport, RegisterRequest};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::config::AgentTimings;
use super::coordinators::Coordinators;
use super::error::AgentError;
use super::slots::TaskTable;
use super::task::{Assigned, TaskEnv};

/// Renewal period used until a coordinator answers a registration.
const DEFAULT_RENEW_MS: u64 = 1_000;

pub struct Shared {
    /// What this worker registers as (the incarnation is new for every agent run).
    pub spec: WorkerSpec,
    pub timings: AgentTimings,
    pub coordinators: Arc<Coordinators>,
    pub table: Mutex<TaskTable<Assigned>>,
    pub env: TaskEnv,
    pub reports: mpsc::Sender<ProgressReport>,
    /// Progress reports dropped because the queue was full.
    pub dropped: Arc<AtomicU64>,
    renew_ms: AtomicU64,
    /// Bumped on every successful registration (the `Assignments` stream reopens).
    pub registrations: watch::Sender<u64>,
    /// The agent is shutting down.
    pub cancel: CancellationToken,
    /// Garbage collection when idle (`None`: never).
    pub gc: Option<slipway_worker::gc::GcOptions>,
    /// Read-held by running tasks, write-held by garbage collection.
    pub gc_lock: tokio::sync::RwLock<()>,
}

impl Shared {
    pub fn new(
        spec: WorkerSpec,
        timings: AgentTimings,
        coordinators: Arc<Coordinators>,
        env: TaskEnv,
        reports: mpsc::Sender<ProgressReport>,
        cancel: CancellationToken,
    ) -> Shared {
        let slots = usize::try_from(spec.slots).unwrap_or(usize::MAX);
        Shared {
            spec,
            timings,
            coordinators,
            table: Mutex::new(TaskTable::new(slots)),
            env,
            reports,
            dropped: Arc::default(),
            renew_ms: AtomicU64::new(DEFAULT_RENEW_MS),
            registrations: watch::Sender::new(0),
            cancel,
            gc: None,
            gc_lock: tokio::sync::RwLock::new(()),
        }
    }

    pub fn table(&self) -> MutexGuard<'_, TaskTable<Assigned>> {
        // A poisoned lock means a panic while holding it; the table itself is still
        // consistent (every method leaves it so), so keep using it.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn table_finish(&self, task: TaskId) -> Vec<(TaskId, Assigned, CancellationToken)> {
        self.table().finish(task)
    }

    pub fn renew_interval(&self) -> Duration {
        self.timings
            .renew_interval
            .unwrap_or_else(|| Duration::from_millis(self.renew_ms.load(Ordering::Relaxed)))
    }

    /// Registers this worker (retrying on every coordinator until one answers).
    pub async fn register(&self) -> Result<(), AgentError> {
        let request = RegisterRequest {
            spec: Some(self.spec.clone().into()),
        };
        let answer = self
            .coordinators
            .call("Register", &self.cancel, |mut c| {
                let r = request.clone();
                async move { c.register(r).await }
            })
            .await?;
        if answer.renew_interval_ms > 0 {
            self.renew_ms
                .store(answer.renew_interval_ms, Ordering::Relaxed);
        }
        tracing::info!(worker = %self.spec.id, incarnation = %self.spec.incarnation,
            lease_ttl_ms = answer.lease_ttl_ms, renew_ms = self.renew_interval().as_millis() as u64,
            "registered");
        self.registrations.send_modify(|n| *n += 1);
        Ok(())
    }
}
