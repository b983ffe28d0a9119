//! The leader controller's decisions as a pure step: [`Controller::step`] takes the
//! replicated state, the leader's lease table and `now`, and returns the [`Action`]s of one
//! round, in the order the driver ([`super::run`]) executes them:
//! 1. the lease table is brought in line with the registered workers (a worker without a
//!    lease, e.g. after an election, gets a full TTL from `now`), then every expired lease
//!    becomes [`Action::ExpireWorker`];
//! 2. the pure scheduler places ready tasks on workers with a live lease:
//!    [`Action::FailUnplaceable`] for a task no live worker runs, then [`Action::Assign`];
//! 3. each build in `Stitching` that has no stitch under way becomes [`Action::Stitch`]
//!    (once, until the driver reports [`Controller::stitch_done`]);
//! 4. at most once every [`HISTORY_CHECK_MS`], finished builds the history config no longer
//!    keeps become [`Action::Forget`].
//!
//! Nothing here does I/O or reads a clock: the state and the leases are read as they are at
//! the call, the only memory is the set of stitches under way and the time of the last
//! history check. The expiry and placement of one step come from the same state: the tasks
//! of an expired worker are re-queued when its `WorkerLost` applies, and the next step
//! (the driver wakes on every applied entry) places them after their retry backoff.

use crate::farm::node::leases::Leases;
use crate::farm::scheduler::{schedule, Decision, ScheduleInput};
use crate::farm::state::{builds_to_forget, Command, FarmState, HistoryConfig};
use slipway_farm::{BuildId, Placement, TaskId, WorkerId};
use slipway_graph::Platform;
use std::collections::BTreeSet;
use uuid::Uuid;

/// How often the leader looks for builds the history no longer keeps.
pub const HISTORY_CHECK_MS: u64 = 1000;

/// One thing the driver does for a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The worker's lease ran out: commit `WorkerLost` (its tasks are re-queued), then drop
    /// the lease and close its assignment stream.
    ExpireWorker {
        worker: WorkerId,
        incarnation: Uuid,
        /// e.g. `lease expired (no renewal within 3000 ms)`.
        reason: String,
    },
    /// Commit `Assign`, then send the assignment down the worker's stream.
    Assign {
        task: TaskId,
        worker: WorkerId,
        placement: Placement,
    },
    /// No live worker runs the task's platform: commit `TaskFailed` (a leader decision, no
    /// worker), which fails the build.
    FailUnplaceable {
        task: TaskId,
        platform: Platform,
        /// e.g. `no worker runs platform linux/riscv64`.
        message: String,
    },
    /// Every task of the build succeeded: push its index and caches, commit `BuildStitched`
    /// or `BuildFailed`, then report [`Controller::stitch_done`].
    Stitch { build: BuildId },
    /// Commit `ForgetBuilds` for these finished builds (history retention).
    Forget { builds: Vec<BuildId> },
}

impl Action {
    /// The command that commits the action at `at_ms`; `None` for [`Action::Stitch`], whose
    /// command depends on the outcome of its I/O.
    pub fn command(&self, at_ms: u64) -> Option<Command> {
        match self {
            Action::ExpireWorker {
                worker,
                incarnation,
                reason,
            } => Some(Command::WorkerLost {
                worker: worker.clone(),
                incarnation: *incarnation,
                at_ms,
                reason: reason.clone(),
            }),
            Action::Assign {
                task,
                worker,
                placement,
            } => Some(Command::Assign {
                task: *task,
                worker: worker.clone(),
                placement: *placement,
                at_ms,
            }),
            Action::FailUnplaceable {
                task,
                platform,
                message,
            } => Some(crate::farm::scheduler::unplaceable(
                *task, platform, message, at_ms,
            )),
            Action::Stitch { .. } => None,
            Action::Forget { builds } => Some(Command::ForgetBuilds {
                builds: builds.clone(),
                at_ms,
            }),
        }
    }
}

impl From<Decision> for Action {
    fn from(d: Decision) -> Action {
        match d {
            Decision::Assign {
                task,
                worker,
                placement,
            } => Action::Assign {
                task,
                worker,
                placement,
            },
            Decision::Unplaceable {
                task,
                platform,
                message,
            } => Action::FailUnplaceable {
                task,
                platform,
                message,
            },
        }
    }
}

/// The controller's memory between steps on one node.
#[derive(Debug, Clone)]
pub struct Controller {
    history: HistoryConfig,
    /// Builds handed out in an [`Action::Stitch`] that have not reported back.
    stitching: BTreeSet<BuildId>,
    /// When the history was last checked (0: never).
    history_checked_ms: u64,
}

impl Controller {
    pub fn new(history: HistoryConfig) -> Controller {
        Controller {
            history,
            stitching: BTreeSet::new(),
            history_checked_ms: 0,
        }
    }

    /// The actions of one round at `now_ms` (see the module docs). `leases` is synced with
    /// the registered workers; nothing else changes outside the controller.
    pub fn step(&mut self, st: &FarmState, leases: &mut Leases, now_ms: u64) -> Vec<Action> {
        leases.sync(
            st.workers()
                .filter(|w| w.is_active())
                .map(|w| (&w.spec.id, w.spec.incarnation)),
            now_ms,
        );
        let ttl = leases.ttl_ms();
        let mut actions: Vec<Action> = leases
            .expired(now_ms)
            .into_iter()
            .map(|(worker, incarnation)| Action::ExpireWorker {
                worker,
                incarnation,
                reason: format!("lease expired (no renewal within {ttl} ms)"),
            })
            .collect();
        let live = leases.live(now_ms);
        let input = ScheduleInput::from_state(st, &live);
        actions.extend(schedule(&input, now_ms).into_iter().map(Action::from));
        for b in st.builds_stitching() {
            if self.stitching.insert(b.id) {
                actions.push(Action::Stitch { build: b.id });
            }
        }
        if now_ms.saturating_sub(self.history_checked_ms) >= HISTORY_CHECK_MS {
            self.history_checked_ms = now_ms;
            let builds = builds_to_forget(st, &self.history, now_ms);
            if !builds.is_empty() {
                actions.push(Action::Forget { builds });
            }
        }
        actions
    }

    /// The stitch of `build` ended (committed or not): a later step may hand it out again
    /// if the build is still `Stitching` (e.g. the commit failed).
    pub fn stitch_done(&mut self, build: &BuildId) {
        self.stitching.remove(build);
    }

    /// Builds whose stitch is under way.
    pub fn stitching(&self) -> impl Iterator<Item = &BuildId> {
        self.stitching.iter()
    }
}
