//! One task's record and its guarded transitions:
//! `Pending → Assigned → Running → Succeeded | Failed`, `Assigned | Running → Pending`
//! (worker lost, attempt + 1) and any non-final state to `Canceled`.
//!
//! Each transition checks that the command comes from the worker holding the task; a
//! command that arrives late or twice is refused with [`Refusal::Ignored`] and changes
//! nothing.

use super::Refusal;
use serde::{Deserialize, Serialize};
use slipway_farm::{Failure, Placement, TaskResult, TaskSpec, TaskState, WorkerId};

/// A task as the replicated state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub spec: TaskSpec,
    pub state: TaskState,
    /// 1 for the first run, + 1 each time the task went back to `Pending` because its
    /// worker was lost or restarted.
    pub attempt: u32,
    /// When the state last changed.
    pub updated_ms: u64,
    /// When the task last went back to `Pending` after losing its worker.
    pub requeued_ms: Option<u64>,
    /// Why it went back to `Pending` (e.g. `worker w1 lost: lease expired`).
    pub requeue_reason: Option<String>,
}

impl TaskRecord {
    pub fn new(spec: TaskSpec, at_ms: u64) -> TaskRecord {
        TaskRecord {
            spec,
            state: TaskState::Pending,
            attempt: 1,
            updated_ms: at_ms,
            requeued_ms: None,
            requeue_reason: None,
        }
    }

    /// A human name for messages: `task 0190… (linux/arm64)`.
    pub fn label(&self) -> String {
        format!("task {} ({})", self.spec.id, self.spec.name)
    }

    fn stale(&self, what: &str) -> Refusal {
        let holder = match self.state.worker() {
            Some(w) => format!(" on worker {w}"),
            None => String::new(),
        };
        Refusal::Ignored(format!(
            "{what}: {} is {}{holder}",
            self.label(),
            self.state.name()
        ))
    }

    /// `Pending → Assigned`.
    pub(super) fn assign(
        &mut self,
        worker: &WorkerId,
        placement: Placement,
        at_ms: u64,
    ) -> Result<(), Refusal> {
        if self.state != TaskState::Pending {
            return Err(self.stale(&format!("assign to {worker}")));
        }
        self.state = TaskState::Assigned {
            worker: worker.clone(),
            placement,
            at_ms,
        };
        self.updated_ms = at_ms;
        Ok(())
    }

    /// `Assigned → Running`, only from the worker holding the task.
    pub(super) fn start(&mut self, worker: &WorkerId, at_ms: u64) -> Result<(), Refusal> {
        match &self.state {
            TaskState::Assigned {
                worker: holder,
                placement,
                ..
            } if holder == worker => {
                self.state = TaskState::Running {
                    worker: worker.clone(),
                    placement: *placement,
                    at_ms,
                };
                self.updated_ms = at_ms;
                Ok(())
            }
            _ => Err(self.stale(&format!("started by {worker}"))),
        }
    }

    /// `Assigned | Running → Succeeded`, only from the worker holding the task (a result
    /// may overtake its `Started`). A second result is ignored.
    pub(super) fn succeed(
        &mut self,
        worker: &WorkerId,
        result: TaskResult,
        at_ms: u64,
    ) -> Result<(), Refusal> {
        if self.state.worker() != Some(worker) {
            return Err(self.stale(&format!("result from {worker}")));
        }
        if result.platform != self.spec.platform {
            return Err(Refusal::Rejected(format!(
                "result from {worker} is for platform {}, but {} builds {}",
                result.platform,
                self.label(),
                self.spec.platform
            )));
        }
        self.state = TaskState::Succeeded {
            worker: worker.clone(),
            result,
        };
        self.updated_ms = at_ms;
        Ok(())
    }

    /// Any non-final state → `Failed`. With `worker`, only from the worker holding the
    /// task; without, a leader decision (no worker can run it, too many attempts).
    pub(super) fn fail(
        &mut self,
        worker: Option<&WorkerId>,
        failure: Failure,
        at_ms: u64,
    ) -> Result<(), Refusal> {
        if self.state.is_final() {
            return Err(self.stale("failure"));
        }
        if let Some(w) = worker {
            if self.state.worker() != Some(w) {
                return Err(self.stale(&format!("failure from {w}")));
            }
        }
        self.state = TaskState::Failed {
            worker: worker.cloned(),
            failure,
        };
        self.updated_ms = at_ms;
        Ok(())
    }

    /// `Assigned | Running → Pending` with the next attempt number.
    pub(super) fn requeue(&mut self, reason: &str, at_ms: u64) -> Result<(), Refusal> {
        if self.state.worker().is_none() {
            return Err(self.stale("re-queue"));
        }
        self.state = TaskState::Pending;
        self.attempt = self.attempt.saturating_add(1);
        self.updated_ms = at_ms;
        self.requeued_ms = Some(at_ms);
        self.requeue_reason = Some(reason.to_string());
        Ok(())
    }

    /// Any non-final state → `Canceled`; false when the task was already final.
    pub(super) fn cancel(&mut self, at_ms: u64) -> bool {
        if self.state.is_final() {
            return false;
        }
        self.state = TaskState::Canceled;
        self.updated_ms = at_ms;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::{fails, result_for, task_spec, wid};
    use slipway_farm::BuildId;
    use slipway_graph::Platform;

    fn record() -> TaskRecord {
        TaskRecord::new(task_spec(BuildId::new(), Platform::linux("amd64", "")), 1)
    }

    #[test]
    fn happy_path_and_duplicates() {
        let mut t = record();
        let w = wid("w1");
        t.assign(&w, Placement::Native, 2).unwrap();
        assert!(matches!(
            t.assign(&w, Placement::Native, 3),
            Err(Refusal::Ignored(_))
        ));
        assert!(matches!(t.start(&wid("w2"), 3), Err(Refusal::Ignored(_))));
        t.start(&w, 3).unwrap();
        assert!(matches!(t.start(&w, 4), Err(Refusal::Ignored(_))));
        let r = result_for(&t.spec.platform);
        t.succeed(&w, r.clone(), 5).unwrap();
        assert!(matches!(t.succeed(&w, r, 6), Err(Refusal::Ignored(_))));
        assert!(matches!(t.state, TaskState::Succeeded { .. }));
        assert_eq!(t.updated_ms, 5);
    }

    #[test]
    fn result_may_overtake_started_but_not_come_from_elsewhere() {
        let mut t = record();
        let w = wid("w1");
        t.assign(&w, Placement::Emulated, 2).unwrap();
        let r = result_for(&t.spec.platform);
        assert!(matches!(
            t.succeed(&wid("w2"), r.clone(), 3),
            Err(Refusal::Ignored(_))
        ));
        let wrong = result_for(&Platform::linux("arm64", ""));
        assert!(matches!(t.succeed(&w, wrong, 3), Err(Refusal::Rejected(_))));
        t.succeed(&w, r, 3).unwrap();
    }

    #[test]
    fn requeue_counts_attempts_and_only_from_held_states() {
        let mut t = record();
        assert!(t.requeue("lost", 2).is_err());
        t.assign(&wid("w1"), Placement::Native, 2).unwrap();
        t.requeue("worker w1 lost", 3).unwrap();
        assert_eq!(t.state, TaskState::Pending);
        assert_eq!(t.attempt, 2);
        assert_eq!(t.requeued_ms, Some(3));
        assert_eq!(t.requeue_reason.as_deref(), Some("worker w1 lost"));
    }

    #[test]
    fn failure_from_a_worker_must_be_the_holder() {
        let mut t = record();
        t.assign(&wid("w1"), Placement::Native, 2).unwrap();
        assert!(t.fail(Some(&wid("w2")), fails("boom"), 3).is_err());
        t.fail(Some(&wid("w1")), fails("boom"), 3).unwrap();
        assert!(t.fail(None, fails("again"), 4).is_err());
        assert!(!t.cancel(5));
        let mut p = record();
        p.fail(None, fails("no worker runs platform linux/amd64"), 2)
            .unwrap();
        let mut c = record();
        assert!(c.cancel(2));
        assert_eq!(c.state, TaskState::Canceled);
    }
}
