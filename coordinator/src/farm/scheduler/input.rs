//! What the scheduler decides from: live workers with their load, platforms and held
//! blobs, and the ready tasks queued per build. Indexed once (platform → workers, digest →
//! holders, build → tasks) and updatable in place, so that a simulation or a leader can keep
//! one input across decisions instead of rebuilding it.

use super::Decision;
use crate::farm::state::{FarmState, TaskRecord};
use slipway_farm::{BuildId, Placement, PlatformSupport, TaskId, TaskState, WorkerId};
use slipway_graph::{Digest, Platform};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A task that went back to `Pending` after losing its worker waits this long before its
/// second attempt, doubling per attempt up to [`RETRY_BACKOFF_MAX_MS`].
pub const RETRY_BACKOFF_MS: u64 = 200;
pub const RETRY_BACKOFF_MAX_MS: u64 = 3_200;

/// A live worker as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerLoad {
    pub id: WorkerId,
    pub platforms: PlatformSupport,
    pub slots: u32,
    /// Tasks assigned to or running on it.
    pub running: u32,
    /// Blobs it holds (contexts, base images), matched against task affinity.
    pub held: BTreeSet<Digest>,
}

/// A task waiting for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTask {
    pub id: TaskId,
    pub build: BuildId,
    /// Builds are served oldest first (then by id).
    pub build_submitted_ms: u64,
    pub platform: Platform,
    pub affinity: Vec<Digest>,
    /// Not placed before this time (retry backoff); 0 for a first attempt.
    pub not_before_ms: u64,
}

#[derive(Debug, Clone)]
pub(super) struct WorkerEntry {
    pub(super) load: WorkerLoad,
    /// Interned platforms it runs, each once, native winning over emulated.
    pub(super) supports: Vec<(usize, Placement)>,
}

impl WorkerEntry {
    pub(super) fn placement(&self, platform: usize) -> Option<Placement> {
        self.supports
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, placement)| *placement)
    }
}

#[derive(Debug, Clone)]
pub(super) struct PlatformEntry {
    pub(super) native: Vec<usize>,
    pub(super) emulated: Vec<usize>,
    /// Queued tasks of this platform.
    pub(super) queued: usize,
}

#[derive(Debug, Clone)]
pub(super) struct QueuedTask {
    pub(super) task: PendingTask,
    pub(super) platform: usize,
}

pub(super) type BuildKey = (u64, BuildId);

/// The scheduler's input. Build it with [`ScheduleInput::from_state`] or add workers and
/// tasks one by one; [`ScheduleInput::apply`] keeps it in step with decisions.
#[derive(Debug, Clone, Default)]
pub struct ScheduleInput {
    pub(super) workers: Vec<WorkerEntry>,
    worker_index: HashMap<WorkerId, usize>,
    pub(super) platforms: Vec<PlatformEntry>,
    platform_index: HashMap<Platform, usize>,
    pub(super) holders: HashMap<Digest, Vec<usize>>,
    pub(super) queues: BTreeMap<BuildKey, BTreeMap<TaskId, QueuedTask>>,
    task_build: HashMap<TaskId, BuildKey>,
}

/// A ready task's affinity: its own, plus the layers of the stage tasks it depends on
/// (the worker that ran a stage holds its result; the task would fetch it otherwise).
fn affinity_of(state: &FarmState, task: &TaskRecord) -> Vec<Digest> {
    let mut affinity = task.spec.affinity.clone();
    for dep in &task.spec.depends_on {
        if let Some(TaskState::Succeeded { result, .. }) = state.task(dep).map(|d| &d.state) {
            affinity.extend(result.layers.iter().map(|l| l.digest.clone()));
        }
    }
    affinity
}

impl ScheduleInput {
    pub fn new() -> ScheduleInput {
        ScheduleInput::default()
    }

    /// The input of the leader's next round: active workers of `state` that are in `live`
    /// (the leader's unexpired leases), and every ready task.
    pub fn from_state<'a>(
        state: &FarmState,
        live: impl IntoIterator<Item = &'a WorkerId>,
    ) -> ScheduleInput {
        let live: BTreeSet<&WorkerId> = live.into_iter().collect();
        let mut input = ScheduleInput::new();
        for w in state.workers() {
            // A draining worker keeps its tasks but gets no new ones.
            if w.is_active() && !w.draining && live.contains(&w.spec.id) {
                input.add_worker(WorkerLoad {
                    id: w.spec.id.clone(),
                    platforms: w.spec.platforms.clone(),
                    slots: w.spec.slots,
                    running: w.running(),
                    held: BTreeSet::new(),
                });
            }
        }
        for (digest, worker) in state.blobs().iter() {
            input.record_held(worker, digest);
        }
        for t in state.ready_tasks() {
            let submitted = state.build(&t.spec.build).map_or(0, |b| b.submitted_ms);
            let not_before_ms = match (t.requeued_ms, t.attempt) {
                (Some(at), attempt) if attempt >= 2 => at.saturating_add(retry_backoff_ms(attempt)),
                _ => 0,
            };
            input.add_task(PendingTask {
                id: t.spec.id,
                build: t.spec.build,
                build_submitted_ms: submitted,
                platform: t.spec.platform.clone(),
                affinity: affinity_of(state, t),
                not_before_ms,
            });
        }
        input
    }

    fn intern(&mut self, platform: &Platform) -> usize {
        if let Some(&i) = self.platform_index.get(platform) {
            return i;
        }
        let i = self.platforms.len();
        self.platforms.push(PlatformEntry {
            native: Vec::new(),
            emulated: Vec::new(),
            queued: 0,
        });
        self.platform_index.insert(platform.clone(), i);
        i
    }

    /// Adds a worker; a worker with the same id is replaced.
    pub fn add_worker(&mut self, load: WorkerLoad) {
        if let Some(&old) = self.worker_index.get(&load.id) {
            self.unindex_worker(old);
        }
        let idx = match self.worker_index.get(&load.id) {
            Some(&i) => i,
            None => self.workers.len(),
        };
        let mut supports: Vec<(usize, Placement)> = Vec::new();
        for (list, placement) in [
            (&load.platforms.native, Placement::Native),
            (&load.platforms.emulated, Placement::Emulated),
        ] {
            for p in list {
                let pi = self.intern(p);
                if supports.iter().all(|(q, _)| *q != pi) {
                    supports.push((pi, placement));
                }
            }
        }
        for &(pi, placement) in &supports {
            if let Some(entry) = self.platforms.get_mut(pi) {
                match placement {
                    Placement::Native => entry.native.push(idx),
                    Placement::Emulated => entry.emulated.push(idx),
                }
            }
        }
        for d in &load.held {
            self.holders.entry(d.clone()).or_default().push(idx);
        }
        self.worker_index.insert(load.id.clone(), idx);
        let entry = WorkerEntry { load, supports };
        match self.workers.get_mut(idx) {
            Some(slot) => *slot = entry,
            None => self.workers.push(entry),
        }
    }

    fn unindex_worker(&mut self, idx: usize) {
        for p in &mut self.platforms {
            p.native.retain(|&w| w != idx);
            p.emulated.retain(|&w| w != idx);
        }
        for ws in self.holders.values_mut() {
            ws.retain(|&w| w != idx);
        }
    }

    /// Records that `worker` holds `digest` (ignored for a worker not in the input).
    pub fn record_held(&mut self, worker: &WorkerId, digest: &Digest) {
        let Some(&idx) = self.worker_index.get(worker) else {
            return;
        };
        let Some(w) = self.workers.get_mut(idx) else {
            return;
        };
        if w.load.held.insert(digest.clone()) {
            self.holders.entry(digest.clone()).or_default().push(idx);
        }
    }

    /// Sets a worker's count of assigned and running tasks; false for an unknown worker.
    pub fn set_running(&mut self, worker: &WorkerId, running: u32) -> bool {
        match self
            .worker_index
            .get(worker)
            .and_then(|&i| self.workers.get_mut(i))
        {
            Some(w) => {
                w.load.running = running;
                true
            }
            None => false,
        }
    }

    pub fn worker(&self, id: &WorkerId) -> Option<&WorkerLoad> {
        let idx = self.worker_index.get(id)?;
        self.workers.get(*idx).map(|w| &w.load)
    }

    pub fn workers(&self) -> impl Iterator<Item = &WorkerLoad> {
        self.workers.iter().map(|w| &w.load)
    }

    /// Queues a task (a task with the same id is replaced).
    pub fn add_task(&mut self, task: PendingTask) {
        self.remove_task(&task.id);
        let platform = self.intern(&task.platform);
        if let Some(p) = self.platforms.get_mut(platform) {
            p.queued += 1;
        }
        let key = (task.build_submitted_ms, task.build);
        self.task_build.insert(task.id, key);
        self.queues
            .entry(key)
            .or_default()
            .insert(task.id, QueuedTask { task, platform });
    }

    /// Removes a queued task; returns it when it was queued.
    pub fn remove_task(&mut self, id: &TaskId) -> Option<PendingTask> {
        let key = self.task_build.remove(id)?;
        let queue = self.queues.get_mut(&key)?;
        let removed = queue.remove(id);
        if queue.is_empty() {
            self.queues.remove(&key);
        }
        let removed = removed?;
        if let Some(p) = self.platforms.get_mut(removed.platform) {
            p.queued = p.queued.saturating_sub(1);
        }
        Some(removed.task)
    }

    pub fn task(&self, id: &TaskId) -> Option<&PendingTask> {
        let key = self.task_build.get(id)?;
        self.queues.get(key)?.get(id).map(|q| &q.task)
    }

    /// Queued tasks, oldest build first.
    pub fn tasks(&self) -> impl Iterator<Item = &PendingTask> {
        self.queues
            .values()
            .flat_map(|q| q.values())
            .map(|q| &q.task)
    }

    pub fn task_count(&self) -> usize {
        self.task_build.len()
    }

    /// Follows a decision: an assigned task leaves the queue and takes a slot of its
    /// worker; an unplaceable one leaves the queue.
    pub fn apply(&mut self, decision: &Decision) {
        match decision {
            Decision::Assign { task, worker, .. } => {
                if self.remove_task(task).is_some() {
                    if let Some(w) = self
                        .worker_index
                        .get(worker)
                        .and_then(|&i| self.workers.get_mut(i))
                    {
                        w.load.running = w.load.running.saturating_add(1);
                    }
                }
            }
            Decision::Unplaceable { task, .. } => {
                self.remove_task(task);
            }
        }
    }
}

/// The wait before attempt `attempt` (≥ 2) of a task that lost its worker.
pub fn retry_backoff_ms(attempt: u32) -> u64 {
    let doublings = attempt.saturating_sub(2).min(16);
    RETRY_BACKOFF_MS
        .saturating_mul(1u64 << doublings)
        .min(RETRY_BACKOFF_MAX_MS)
}
