//! The life of one assigned task on this worker: `Started`, the run, `Finish` (retried
//! until a coordinator takes it), then its slot goes to the next queued task.

use std::sync::Arc;

use slipway_farm::TaskId;
use slipway_proto::v1::{task_outcome::Outcome, TaskOutcome, TaskRef};
use tokio_util::sync::CancellationToken;
use tonic::Code;

use super::error::AgentError;
use super::progress::TaskProgress;
use super::secrets;
use super::shared::Shared;
use super::ssh;
use super::task::{execute, Assigned, ClientServed};

/// Runs `assigned` in the background; `cancel` is its token from the task table.
pub fn spawn(shared: Arc<Shared>, assigned: Assigned, cancel: CancellationToken) {
    tokio::spawn(run(shared, assigned, cancel));
}

async fn run(shared: Arc<Shared>, assigned: Assigned, cancel: CancellationToken) {
    let spec = &assigned.spec;
    let task = spec.id;
    let worker_id = shared.spec.id.to_string();
    let task_ref = TaskRef {
        task_id: task.to_string(),
        worker_id: worker_id.clone(),
    };
    let started = shared
        .coordinators
        .call("Started", &shared.cancel, |mut c| {
            let r = task_ref.clone();
            async move { c.started(r).await }
        })
        .await;
    match started {
        Ok(_) => {}
        Err(AgentError::Cancelled) => return release(&shared, task),
        Err(e) if matches!(e.code(), Some(Code::NotFound | Code::FailedPrecondition)) => {
            tracing::warn!(%task, error = %e, "the coordinators refuse this task for this worker; not running it");
            return release(&shared, task);
        }
        Err(e) => tracing::warn!(%task, error = %e, "reporting the start of the task"),
    }
    tracing::info!(%task, name = %spec.name, platform = %spec.platform, "running task");

    let progress = TaskProgress {
        task,
        worker: shared.spec.id.clone(),
        out: shared.reports.clone(),
        dropped: shared.dropped.clone(),
    };
    // What the build's client serves: secrets (fetched now) and ssh agents (forwarded
    // while the task runs).
    let served = match (
        secrets::fetch(&shared, spec).await,
        ssh::start(&shared, spec),
    ) {
        (Ok(secrets), Ok((ssh, forwarders))) => Ok((ClientServed { secrets, ssh }, forwarders)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let result = match served {
        Ok((served, _forwarders)) => {
            let _no_gc = shared.gc_lock.read().await;
            execute(
                &shared.env,
                assigned.clone(),
                served,
                progress,
                cancel.clone(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    if cancel.is_cancelled() {
        tracing::info!(%task, "task cancelled; its outcome is not reported");
        return release(&shared, task);
    }
    let outcome = match result {
        Ok(r) => {
            tracing::info!(%task, manifest = %r.manifest.digest, cached = r.cached,
                executed = r.executed, "task succeeded");
            Outcome::Result(r.into())
        }
        Err(e) => {
            // The build's failure, reported to its client: not the worker's own trouble.
            tracing::info!(%task, error = %e, "task failed");
            Outcome::Failure(e.failure().into())
        }
    };
    let finish = TaskOutcome {
        task_id: task.to_string(),
        worker_id,
        outcome: Some(outcome),
    };
    let sent = shared
        .coordinators
        .call("Finish", &shared.cancel, |mut c| {
            let r = finish.clone();
            async move { c.finish(r).await }
        })
        .await;
    match sent {
        Ok(_) | Err(AgentError::Cancelled) => {}
        Err(e) => tracing::warn!(%task, error = %e, "the coordinators did not take the outcome"),
    }
    release(&shared, task)
}

/// Frees the task's slot and starts the queued tasks that now fit.
fn release(shared: &Arc<Shared>, task: TaskId) {
    let next = shared.table_finish(task);
    for (_, assigned, cancel) in next {
        spawn(shared.clone(), assigned, cancel);
    }
    super::gc::after_task(shared);
}
