//! The replicated state machine: workers, builds, tasks and blob locations, changed only by
//! [`FarmState::apply`] of a committed [`Command`].
//!
//! `apply` is deterministic (no clock, no randomness: times come inside the commands) and
//! never panics. A command that is illegal, stale or a duplicate (a result from a worker
//! no longer holding the task, a second result, a cancel of a finished build) changes
//! nothing and answers [`Response::Ignored`] (harmless, e.g. a retry) or
//! [`Response::Rejected`] (the command itself is wrong, e.g. an unknown task or a worker
//! that cannot run the platform).
//!
//! The whole state is serde data: it is the Raft snapshot.

mod apply;
#[cfg(test)]
mod batch_tests;
mod blobs;
mod builds;
mod cache;
#[cfg(test)]
mod cache_tests;
mod history;
mod tasks;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
mod workers;

pub use blobs::BlobLocations;
pub use builds::BuildRecord;
pub use history::{builds_to_forget, HistoryConfig, HistoryConfigError};
pub use tasks::TaskRecord;
pub use workers::{WorkerRecord, WorkerStatus};

use serde::{Deserialize, Serialize};
use slipway_farm::cache::{CacheLayer, CacheRecord};
use slipway_farm::{
    BlobDescriptor, BuildId, BuildSpec, BuildState, BuildSummary, Failure, Placement, TaskId,
    TaskResult, TaskSpec, TaskState, WorkerId, WorkerSpec,
};
use slipway_graph::Digest;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// A task that lost its worker this many times fails (and fails its build) instead of
/// being re-queued again: a task that kills its workers must not loop forever.
pub const MAX_ATTEMPTS: u32 = 5;

/// A change to the farm, committed through Raft and applied in log order on every
/// coordinator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// A worker (re)registers; a new incarnation re-queues the old one's tasks.
    RegisterWorker {
        spec: WorkerSpec,
        at_ms: u64,
    },
    /// The leader expired the worker's lease; its assigned and running tasks are re-queued.
    WorkerLost {
        worker: WorkerId,
        incarnation: Uuid,
        at_ms: u64,
        reason: String,
    },
    SubmitBuild {
        id: BuildId,
        /// Boxed: a spec is far larger than any other command (serde encodes it unboxed).
        spec: Box<BuildSpec>,
        tasks: Vec<TaskSpec>,
        at_ms: u64,
    },
    Assign {
        task: TaskId,
        worker: WorkerId,
        placement: Placement,
        at_ms: u64,
    },
    TaskStarted {
        task: TaskId,
        worker: WorkerId,
        at_ms: u64,
    },
    TaskSucceeded {
        task: TaskId,
        worker: WorkerId,
        result: TaskResult,
        at_ms: u64,
    },
    /// Fails the task and its build (other tasks of the build are canceled). `worker` is
    /// `None` for a leader decision (e.g. no worker runs the platform).
    TaskFailed {
        task: TaskId,
        worker: Option<WorkerId>,
        failure: Failure,
        at_ms: u64,
    },
    BuildStitched {
        build: BuildId,
        index: Option<BlobDescriptor>,
        at_ms: u64,
    },
    BuildFailed {
        build: BuildId,
        failure: Failure,
        at_ms: u64,
    },
    CancelBuild {
        build: BuildId,
        at_ms: u64,
    },
    RecordBlob {
        digest: Digest,
        worker: WorkerId,
    },
    /// Cache records a worker's solve produced: each key's layers enter the shared cache
    /// index (the first record of a key wins while its blobs exist) and every layer blob
    /// is recorded as held by `worker`.
    RecordCache {
        worker: WorkerId,
        records: Vec<CacheRecord>,
        at_ms: u64,
    },
    /// `worker` no longer holds these blobs (its garbage collection removed them); cache
    /// entries naming a blob that no worker holds any more are dropped.
    ForgetBlobs {
        worker: WorkerId,
        digests: Vec<Digest>,
        at_ms: u64,
    },
    /// Drains (`drain: true`) or undrains a worker: no task is assigned to a draining
    /// worker; it keeps what it holds and its blobs stay known.
    DrainWorker {
        worker: WorkerId,
        drain: bool,
        at_ms: u64,
    },
    /// Removes finished builds and their tasks from the state (build history retention,
    /// decided by the leader with [`builds_to_forget`]). Builds not finished are kept.
    ForgetBuilds {
        builds: Vec<BuildId>,
        at_ms: u64,
    },
    /// Several commands in one Raft entry (group commit), applied in order as if each were
    /// its own entry; answered by [`Response::Batch`] with one response per command. A
    /// batch inside a batch is rejected (its slot answers `Rejected`).
    Batch(Vec<Command>),
}

/// What applying a command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The command changed the state.
    Ok,
    /// Stale or duplicate: nothing changed and nothing is wrong (e.g. a retried result).
    Ignored { reason: String },
    /// The command is wrong (unknown ids, impossible placement, invalid spec); nothing
    /// changed.
    Rejected { reason: String },
    /// The responses to a [`Command::Batch`], in the order of its commands.
    Batch(Vec<Response>),
}

impl Response {
    pub fn is_ok(&self) -> bool {
        matches!(self, Response::Ok)
    }
}

/// Why a transition did not happen (internal; becomes a [`Response`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Ignored(String),
    Rejected(String),
}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Response {
        match r {
            Refusal::Ignored(reason) => Response::Ignored { reason },
            Refusal::Rejected(reason) => Response::Rejected { reason },
        }
    }
}

/// Everything the coordinators agree on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarmState {
    workers: BTreeMap<WorkerId, WorkerRecord>,
    builds: BTreeMap<BuildId, BuildRecord>,
    tasks: BTreeMap<TaskId, TaskRecord>,
    /// Index: tasks in `Pending` (ready or waiting for dependencies).
    pending: BTreeSet<TaskId>,
    blobs: BlobLocations,
    /// The shared cache index: cache key → the layers of its result.
    #[serde(default)]
    cache: BTreeMap<String, Vec<CacheLayer>>,
}

impl FarmState {
    pub fn new() -> FarmState {
        FarmState::default()
    }

    pub fn workers(&self) -> impl Iterator<Item = &WorkerRecord> {
        self.workers.values()
    }

    pub fn worker(&self, id: &WorkerId) -> Option<&WorkerRecord> {
        self.workers.get(id)
    }

    /// Tasks assigned to or running on `worker` (0 for an unknown worker).
    pub fn running_count(&self, worker: &WorkerId) -> u32 {
        self.workers.get(worker).map_or(0, WorkerRecord::running)
    }

    /// Builds in id order (ids are time-ordered: oldest first).
    pub fn builds(&self) -> impl Iterator<Item = &BuildRecord> {
        self.builds.values()
    }

    pub fn build(&self, id: &BuildId) -> Option<&BuildRecord> {
        self.builds.get(id)
    }

    /// Builds whose tasks all succeeded and that wait for the leader to stitch them.
    pub fn builds_stitching(&self) -> impl Iterator<Item = &BuildRecord> {
        self.builds
            .values()
            .filter(|b| b.state == BuildState::Stitching)
    }

    pub fn build_summary(&self, id: &BuildId) -> Option<BuildSummary> {
        let b = self.builds.get(id)?;
        let done = b
            .tasks
            .iter()
            .filter_map(|t| self.tasks.get(t))
            .filter(|t| t.state.is_final())
            .count();
        Some(BuildSummary {
            id: b.id,
            name: b.spec.name.clone(),
            platforms: b.spec.platforms.clone(),
            state: b.state.clone(),
            submitted_ms: b.submitted_ms,
            finished_ms: b.finished_ms,
            tasks_total: u32::try_from(b.tasks.len()).unwrap_or(u32::MAX),
            tasks_done: u32::try_from(done).unwrap_or(u32::MAX),
        })
    }

    /// The tasks of `build` in submission order (empty for an unknown build).
    pub fn tasks_of(&self, build: &BuildId) -> Vec<&TaskRecord> {
        self.builds.get(build).map_or_else(Vec::new, |b| {
            b.tasks.iter().filter_map(|t| self.tasks.get(t)).collect()
        })
    }

    pub fn task(&self, id: &TaskId) -> Option<&TaskRecord> {
        self.tasks.get(id)
    }

    pub fn tasks(&self) -> impl Iterator<Item = &TaskRecord> {
        self.tasks.values()
    }

    /// Tasks assigned to or running on `worker`, in task id order.
    pub fn tasks_assigned_to(&self, worker: &WorkerId) -> Vec<&TaskRecord> {
        self.workers.get(worker).map_or_else(Vec::new, |w| {
            w.held.iter().filter_map(|t| self.tasks.get(t)).collect()
        })
    }

    /// Every `Pending` task, in task id order.
    pub fn pending_tasks(&self) -> impl Iterator<Item = &TaskRecord> {
        self.pending.iter().filter_map(|t| self.tasks.get(t))
    }

    /// `Pending` tasks whose dependencies all succeeded: the scheduler's work.
    pub fn ready_tasks(&self) -> impl Iterator<Item = &TaskRecord> {
        self.pending_tasks().filter(|t| self.is_ready(t))
    }

    /// True when every task `task` depends on succeeded.
    pub fn is_ready(&self, task: &TaskRecord) -> bool {
        task.spec.depends_on.iter().all(|d| {
            self.tasks
                .get(d)
                .is_some_and(|t| matches!(t.state, TaskState::Succeeded { .. }))
        })
    }

    /// Active workers recorded as holding `digest`.
    pub fn blob_locations(&self, digest: &Digest) -> Vec<&WorkerRecord> {
        self.blobs
            .holders(digest)
            .filter_map(|w| self.workers.get(w))
            .filter(|w| w.is_active())
            .collect()
    }

    pub fn blobs(&self) -> &BlobLocations {
        &self.blobs
    }
}
