//! The leader controller: a loop on every node that acts only while the node leads. It
//! wakes every tick (~50 ms) and whenever the applied log index or the cluster view
//! changes, and then:
//! 1. brings the lease table in line with the registered workers (a new leader grants each
//!    a full TTL) and commits `WorkerLost` for every expired lease;
//! 2. runs the pure scheduler over the state and the live workers, commits each `Assign`
//!    and sends it down the worker's `Assignments` stream; a task no live worker can run
//!    is failed (`TaskFailed` with the scheduler's message);
//! 3. stitches each build in `Stitching` (in the background, once per build at a time) and
//!    commits `BuildStitched` or `BuildFailed`. A new leader finds the build still in
//!    `Stitching` and redoes it (pushing the same bytes again is harmless);
//! 4. forgets finished builds the history config no longer keeps (`ForgetBuilds`, at most
//!    once a second).
//!
//! A node that stops leading forgets its leases and closes the assignment streams, so
//! workers reconnect to the new leader.

use super::assignments::assignment_of;
use super::cache_export::export_caches;
use super::shared::{now_ms, Shared};
use super::stitching::{plan_root, push_root};
use super::submit::target_platforms;
use crate::farm::scheduler::{schedule, Decision, ScheduleInput};
use crate::farm::state::{builds_to_forget, Command, FarmState, HistoryConfig};
use slipway_farm::{BuildId, TaskKind, TaskResult, TaskState, WorkerId};
use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Runs until the node shuts down.
pub async fn run(s: Arc<Shared>, tick: Duration, history: HistoryConfig) {
    let mut applied = s.raft.applied_watch();
    let mut cluster = s.raft.cluster_watch();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stitching: Arc<Mutex<HashSet<BuildId>>> = Arc::default();
    let mut leading = false;
    let mut history_checked_ms = 0u64;
    loop {
        tokio::select! {
            _ = s.shutdown.cancelled() => break,
            _ = interval.tick() => {}
            r = applied.changed() => if r.is_err() { break },
            r = cluster.changed() => if r.is_err() { break },
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
        expire_leases(&s).await;
        place_tasks(&s).await;
        start_stitching(&s, &stitching);
        let now = now_ms();
        if now.saturating_sub(history_checked_ms) >= HISTORY_CHECK_MS {
            history_checked_ms = now;
            forget_old_builds(&s, &history, now).await;
        }
    }
}

/// How often the leader looks for builds the history no longer keeps.
const HISTORY_CHECK_MS: u64 = 1000;

async fn forget_old_builds(s: &Shared, history: &HistoryConfig, now: u64) {
    let builds = s.raft.read(|st| builds_to_forget(st, history, now));
    if builds.is_empty() {
        return;
    }
    let n = builds.len();
    match s
        .commit_lenient(Command::ForgetBuilds { builds, at_ms: now })
        .await
    {
        Ok(true) => tracing::info!(builds = n, "forgot finished builds (history retention)"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "committing ForgetBuilds"),
    }
}

async fn expire_leases(s: &Shared) {
    let now = now_ms();
    let registered: Vec<(WorkerId, uuid::Uuid)> = s.raft.read(|st| {
        st.workers()
            .filter(|w| w.is_active())
            .map(|w| (w.spec.id.clone(), w.spec.incarnation))
            .collect()
    });
    let expired = {
        let mut leases = s.leases();
        leases.sync(registered.iter().map(|(w, i)| (w, *i)), now);
        leases.expired(now)
    };
    for (worker, incarnation) in expired {
        let ttl = s.leases().ttl_ms();
        let reason = format!("lease expired (no renewal within {ttl} ms)");
        tracing::warn!(%worker, %reason, "worker lost");
        let cmd = Command::WorkerLost {
            worker: worker.clone(),
            incarnation,
            at_ms: now,
            reason,
        };
        match s.commit_lenient(cmd).await {
            Ok(_) => {
                s.leases().remove(&worker);
                s.assignments.close(&worker);
            }
            Err(e) => tracing::warn!(%worker, error = %e, "committing WorkerLost"),
        }
    }
}

/// The scheduler's decisions for the current state and live workers.
fn decide(st: &FarmState, live: &BTreeSet<WorkerId>, now: u64) -> Vec<Decision> {
    let input = ScheduleInput::from_state(st, live);
    schedule(&input, now)
}

async fn place_tasks(s: &Shared) {
    let now = now_ms();
    let live: BTreeSet<WorkerId> = s.leases().live(now).into_iter().collect();
    let decisions = s.raft.read(|st| decide(st, &live, now));
    for d in decisions {
        match d {
            Decision::Assign {
                task,
                worker,
                placement,
            } => {
                let cmd = Command::Assign {
                    task,
                    worker: worker.clone(),
                    placement,
                    at_ms: now,
                };
                match s.commit_lenient(cmd).await {
                    Ok(true) => {
                        let sent = s.raft.read(|st| {
                            let a = assignment_of(st, &task)?;
                            Some((st.worker(&worker)?.spec.incarnation, a))
                        });
                        if let Some((inc, a)) = sent {
                            if !s.assignments.send(&worker, inc, a) {
                                tracing::debug!(%worker, %task, "no open assignment stream; sent when it opens");
                            }
                        }
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%task, %worker, error = %e, "committing Assign");
                        return;
                    }
                }
            }
            Decision::Unplaceable { task, message, .. } => {
                let cmd = Command::TaskFailed {
                    task,
                    worker: None,
                    message,
                    at_ms: now,
                };
                if let Err(e) = s.commit_lenient(cmd).await {
                    tracing::warn!(%task, error = %e, "committing TaskFailed");
                    return;
                }
            }
        }
    }
}

fn start_stitching(s: &Arc<Shared>, in_flight: &Arc<Mutex<HashSet<BuildId>>>) {
    let builds: Vec<BuildId> = s
        .raft
        .read(|st| st.builds_stitching().map(|b| b.id).collect());
    for build in builds {
        let fresh = match in_flight.lock() {
            Ok(mut set) => set.insert(build),
            Err(_) => false,
        };
        if !fresh {
            continue;
        }
        let (s, in_flight) = (s.clone(), in_flight.clone());
        tokio::spawn(async move {
            stitch(&s, build).await;
            if let Ok(mut set) = in_flight.lock() {
                set.remove(&build);
            }
        });
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
        Err(e) => Err(format!("stitching the image: {e}")),
        Ok(root) => match &spec.push {
            None => Ok(None),
            Some(target) => push_root(&s.registry, target, &root)
                .await
                .map(Some)
                .map_err(|e| format!("stitching the image: {e}")),
        },
    };
    // The cache manifest comes after the image (its blobs were pushed by the workers).
    let outcome = match outcome {
        Ok(index) => export_caches(&s.registry, &spec, &results)
            .await
            .map(|()| index)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let at_ms = now_ms();
    let cmd = match outcome {
        Ok(index) => Command::BuildStitched {
            build,
            index,
            at_ms,
        },
        Err(message) => Command::BuildFailed {
            build,
            message,
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
