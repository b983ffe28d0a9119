//! The pure scheduler: which ready task goes to which live worker.
//!
//! [`schedule`] takes a [`ScheduleInput`] (live workers with their load, platforms and held
//! blobs; ready tasks per build) and `now_ms`, and returns [`Decision`]s for the leader to
//! commit. Preferences, in order:
//! 1. native over emulated: a worker running the platform natively when one has a free
//!    slot;
//! 2. affinity: within that tier, the worker holding most of the task's affinity digests
//!    (base images, context);
//! 3. least loaded: the lowest running / slots;
//! 4. fairness: builds take turns (round-robin, oldest build first), so a large build does
//!    not starve a small one.
//!
//! It never places more tasks on a worker than its free slots, and it is work-conserving:
//! when it returns, no worker with a free slot can run any ready task left in the input
//! (except tasks in retry backoff, see [`RETRY_BACKOFF_MS`]). A task whose platform no live
//! worker runs at all is [`Decision::Unplaceable`], with a message naming the platform.

mod input;
mod placer;
#[cfg(test)]
mod tests;

pub use input::{
    retry_backoff_ms, PendingTask, ScheduleInput, WorkerLoad, RETRY_BACKOFF_MAX_MS,
    RETRY_BACKOFF_MS,
};
pub use placer::Placer;

use crate::farm::state::Command;
use serde::{Deserialize, Serialize};
use slipway_farm::{Placement, TaskId, WorkerId};
use slipway_graph::Platform;

/// One placement decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Assign {
        task: TaskId,
        worker: WorkerId,
        placement: Placement,
    },
    /// No live worker runs the task's platform, natively or emulated.
    Unplaceable {
        task: TaskId,
        platform: Platform,
        /// e.g. `no worker runs platform linux/riscv64`.
        message: String,
    },
}

impl Decision {
    /// The command that commits the decision: `Assign`, or `TaskFailed` (which fails the
    /// build) for an unplaceable task.
    pub fn to_command(&self, at_ms: u64) -> Command {
        match self {
            Decision::Assign {
                task,
                worker,
                placement,
            } => Command::Assign {
                task: *task,
                worker: worker.clone(),
                placement: *placement,
                at_ms,
            },
            Decision::Unplaceable {
                task,
                platform,
                message,
            } => unplaceable(*task, platform, message, at_ms),
        }
    }
}

/// The command failing `task`, which no live worker can run on `platform`.
pub fn unplaceable(task: TaskId, platform: &Platform, message: &str, at_ms: u64) -> Command {
    Command::TaskFailed {
        task,
        worker: None,
        failure: slipway_farm::Failure::Unplaceable {
            platform: platform.to_string(),
            message: message.to_string(),
        },
        at_ms,
    }
}

/// Every decision of one round: unplaceable tasks first, then assignments until no ready
/// task fits a free slot.
pub fn schedule(input: &ScheduleInput, now_ms: u64) -> Vec<Decision> {
    Placer::new(input, now_ms).collect()
}
