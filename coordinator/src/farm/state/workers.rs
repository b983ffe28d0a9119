//! Registered workers: their spec, whether the leader declared them lost, and the tasks
//! they hold (assigned or running).

use serde::{Deserialize, Serialize};
use slipway_farm::{TaskId, WorkerSpec};
use std::collections::BTreeSet;

/// Whether a worker counts for placement. Liveness between commits (leases) is leader
/// memory; `Lost` is the committed decision that the leader expired the lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WorkerStatus {
    Active,
    Lost { at_ms: u64, reason: String },
}

/// A worker as the replicated state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    pub spec: WorkerSpec,
    pub status: WorkerStatus,
    /// The last registration (of this or an earlier incarnation).
    pub registered_ms: u64,
    /// Every assignment ever made to this worker, across incarnations.
    pub assigned_total: u64,
    /// Tasks assigned to or running on this worker.
    pub held: BTreeSet<TaskId>,
    /// Drained by an operator: no new task is placed here (it still serves its blobs).
    #[serde(default)]
    pub draining: bool,
}

impl WorkerRecord {
    pub fn new(spec: WorkerSpec, at_ms: u64) -> WorkerRecord {
        WorkerRecord {
            spec,
            status: WorkerStatus::Active,
            registered_ms: at_ms,
            assigned_total: 0,
            held: BTreeSet::new(),
            draining: false,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == WorkerStatus::Active
    }

    /// Tasks assigned to or running on the worker.
    pub fn running(&self) -> u32 {
        u32::try_from(self.held.len()).unwrap_or(u32::MAX)
    }

    /// Slots not taken by a held task (0 when the worker is lost).
    pub fn free_slots(&self) -> u32 {
        if self.is_active() {
            self.spec.slots.saturating_sub(self.running())
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::worker_spec;

    #[test]
    fn free_slots_count_held_tasks_and_lost_workers_have_none() {
        let mut w = WorkerRecord::new(worker_spec("w1", &["linux/amd64"], &[], 2), 1);
        assert_eq!(w.free_slots(), 2);
        w.held.insert(TaskId::new());
        assert_eq!((w.running(), w.free_slots()), (1, 1));
        w.held.insert(TaskId::new());
        w.held.insert(TaskId::new());
        assert_eq!(w.free_slots(), 0, "never negative when slots shrank");
        w.status = WorkerStatus::Lost {
            at_ms: 2,
            reason: "lease expired".into(),
        };
        w.held.clear();
        assert_eq!(w.free_slots(), 0);
    }
}
