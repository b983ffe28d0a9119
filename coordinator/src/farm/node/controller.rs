//! The leader controller: a thin loop on every node that acts only while the node leads.
//! It wakes every tick (~50 ms) and whenever the applied log index or the cluster view
//! changes, asks the pure [`step`] what to do ([`Controller::step`] over the replicated
//! state, the lease table and `now`), and executes the [`Action`]s in order:
//! - `ExpireWorker`: commits `WorkerLost`, then drops the lease and closes the worker's
//!   assignment stream (a failed commit keeps the lease: the next step expires it again);
//! - `Assign`: commits it and sends the assignment down the worker's `Assignments` stream
//!   (a worker without an open stream gets it when it opens one);
//! - `FailUnplaceable`: commits `TaskFailed` with the scheduler's message. A failed
//!   `Assign` or `TaskFailed` commit ends the placements of this round;
//! - `Stitch`: stitches the build in the background ([`super::stitching`]: index pushed by
//!   digest then tags, then the registry cache export) and commits `BuildStitched` or
//!   `BuildFailed`, only while still leading. A new leader finds the build still in
//!   `Stitching` and redoes it (pushing the same bytes again is harmless);
//! - `Forget`: commits `ForgetBuilds` (history retention).
//!
//! A node that starts leading grants every registered worker a full lease (an empty table,
//! filled by the next step); one that stops leading forgets its leases, GC orders and client
//! sessions and closes the assignment streams, so workers reconnect to the new leader.

pub mod step;
#[cfg(test)]
mod step_tests;

pub use step::{Action, Controller, HISTORY_CHECK_MS};

use super::assignments::assignment_of;
use super::cache_export::export_caches;
use super::shared::{now_ms, Shared};
use super::stitching::{plan_root, push_root};
use super::submit::target_platforms;
use crate::farm::state::{Command, HistoryConfig};
use slipway_farm::{BuildId, Failure, TaskId, TaskKind, TaskResult, TaskState, WorkerId};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Pushes `root` into each of `targets` (none: nothing to push); the root's descriptor.
async fn push_everywhere(
    s: &Shared,
    targets: &[slipway_farm::PushTarget],
    root: &super::stitching::Root,
) -> Result<Option<slipway_farm::BlobDescriptor>, Failure> {
    for target in targets {
        // `registry.insecure=true`: that registry over plain HTTP.
        let plain = match slipway_oci::registry::parse_reference(&target.repository) {
            Ok(r) if target.insecure => Some(s.registry.with_plain_http(r.registry())),
            _ => None,
        };
        push_root(plain.as_ref().unwrap_or(&s.registry), target, root)
            .await
            .map_err(|e| Failure::Push {
                repository: target.repository.clone(),
                message: e.to_string(),
            })?;
    }
    Ok(Some(root.descriptor().clone()))
}

/// Runs until the node shuts down.
pub async fn run(s: Arc<Shared>, tick: Duration, history: HistoryConfig) {
    let mut applied = s.raft.applied_watch();
    let mut cluster = s.raft.cluster_watch();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut controller = Controller::new(history);
    // Background stitches report here when they end.
    let (stitched_tx, mut stitched_rx) = mpsc::unbounded_channel::<BuildId>();
    let mut leading = false;
    loop {
        tokio::select! {
            _ = s.shutdown.cancelled() => break,
            _ = interval.tick() => {}
            r = applied.changed() => if r.is_err() { break },
            r = cluster.changed() => if r.is_err() { break },
        }
        while let Ok(build) = stitched_rx.try_recv() {
            controller.stitch_done(&build);
        }
        if !s.raft.is_leader() {
            if leading {
                tracing::info!(node = s.node_id, "no longer the leader");
                s.leases().clear();
                s.gc_orders.clear();
                // Clients reconnect their sessions to the new leader.
                s.sessions.clear();
                s.assignments.close_all(tonic::Status::unavailable(
                    "this coordinator is no longer the leader; reconnect",
                ));
            }
            leading = false;
            continue;
        }
        if !leading {
            tracing::info!(
                node = s.node_id,
                "leading: every registered worker gets a full lease"
            );
            s.leases().clear();
            leading = true;
        }
        let now = now_ms();
        let actions = s.raft.read(|st| {
            let mut leases = s.leases();
            controller.step(st, &mut leases, now)
        });
        execute(&s, actions, now, &stitched_tx).await;
    }
}

/// Executes one step's actions in order; each commits the command [`Action::command`] gives.
async fn execute(
    s: &Arc<Shared>,
    actions: Vec<Action>,
    now: u64,
    stitched: &mpsc::UnboundedSender<BuildId>,
) {
    let mut placing = true;
    for action in actions {
        let cmd = action.command(now);
        match (action, cmd) {
            (Action::ExpireWorker { worker, reason, .. }, Some(cmd)) => {
                expire(s, &worker, &reason, cmd).await
            }
            (Action::Assign { task, worker, .. }, Some(cmd)) if placing => {
                placing = assign(s, cmd, task, &worker).await;
            }
            (Action::FailUnplaceable { task, .. }, Some(cmd)) if placing => {
                if let Err(e) = s.commit_lenient(cmd).await {
                    tracing::warn!(%task, error = %e, "committing TaskFailed");
                    placing = false;
                }
            }
            (Action::Stitch { build }, _) => {
                let (s, stitched) = (s.clone(), stitched.clone());
                tokio::spawn(async move {
                    stitch(&s, build).await;
                    // Refused only when the loop ended (the node shuts down).
                    let _ = stitched.send(build);
                });
            }
            (Action::Forget { builds }, Some(cmd)) => forget(s, &builds, cmd).await,
            // Placements after a failed commit this round (the next step decides again).
            (Action::Assign { .. } | Action::FailUnplaceable { .. }, _) => {}
            // Every other action has a command.
            (Action::ExpireWorker { .. } | Action::Forget { .. }, None) => {}
        }
    }
}

async fn expire(s: &Shared, worker: &WorkerId, reason: &str, cmd: Command) {
    tracing::warn!(%worker, %reason, "worker lost");
    match s.commit_lenient(cmd).await {
        Ok(_) => {
            s.leases().remove(worker);
            s.assignments.close(worker);
        }
        Err(e) => tracing::warn!(%worker, error = %e, "committing WorkerLost"),
    }
}

/// Commits one `Assign` and sends it; false when the commit failed (the round stops
/// placing: the next step decides again from the state).
async fn assign(s: &Shared, cmd: Command, task: TaskId, worker: &WorkerId) -> bool {
    match s.commit_lenient(cmd).await {
        Ok(true) => {
            let sent = s.raft.read(|st| {
                let a = assignment_of(st, &task)?;
                Some((st.worker(worker)?.spec.incarnation, a))
            });
            if let Some((inc, a)) = sent {
                if !s.assignments.send(worker, inc, a) {
                    tracing::debug!(%worker, %task, "no open assignment stream; sent when it opens");
                }
            }
            true
        }
        Ok(false) => true,
        Err(e) => {
            tracing::warn!(%task, %worker, error = %e, "committing Assign");
            false
        }
    }
}

async fn forget(s: &Shared, builds: &[BuildId], cmd: Command) {
    match s.commit_lenient(cmd).await {
        Ok(true) => {
            // Their progress is no longer replayed to watchers either.
            s.progress.forget(builds);
            tracing::info!(
                builds = builds.len(),
                "forgot finished builds (history retention)"
            )
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "committing ForgetBuilds"),
    }
}

/// Stitches one build and commits the outcome (only while still leading).
async fn stitch(s: &Shared, build: BuildId) {
    let Some((spec, results)) = s.raft.read(|st| {
        let b = st.build(&build)?;
        let results: Vec<_> = st
            .tasks_of(&build)
            .into_iter()
            .filter_map(|t| match &t.state {
                TaskState::Succeeded { result, .. } => Some((t.spec.kind, result.clone())),
                _ => None,
            })
            .collect();
        Some((b.spec.clone(), results))
    }) else {
        return;
    };
    let images: Vec<TaskResult> = results
        .iter()
        .filter(|(kind, _)| *kind == TaskKind::Image)
        .map(|(_, r)| r.clone())
        .collect();
    let outcome = match plan_root(&target_platforms(&spec), &images) {
        Err(e) => Err(Failure::Stitch {
            message: e.to_string(),
        }),
        // Pushed to every repository (by digest, then its tags); not pushed, the root is
        // still the build's result (`--iidfile`, metadata, the client's file outputs).
        Ok(root) => push_everywhere(s, &spec.pushes, &root).await,
    };
    // The cache manifest comes after the image (its blobs were pushed by the workers).
    let outcome = match outcome {
        Ok(index) => export_caches(&s.registry, &spec, &results)
            .await
            .map(|()| index)
            .map_err(|e| Failure::CacheExport {
                message: e.to_string(),
            }),
        Err(e) => Err(e),
    };
    let at_ms = now_ms();
    let cmd = match outcome {
        Ok(index) => Command::BuildStitched {
            build,
            index,
            at_ms,
        },
        Err(failure) => Command::BuildFailed {
            build,
            failure,
            at_ms,
        },
    };
    if !s.raft.is_leader() {
        return;
    }
    if let Err(e) = s.commit_lenient(cmd).await {
        tracing::warn!(%build, error = %e, "committing the stitched build");
    }
}
