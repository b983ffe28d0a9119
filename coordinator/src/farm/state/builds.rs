//! One build's record and its guarded transitions:
//! `Queued → Running → Stitching → Succeeded`, and any non-final state to `Failed` or
//! `Canceled`.

use super::Refusal;
use serde::{Deserialize, Serialize};
use slipway_farm::{BlobDescriptor, BuildId, BuildSpec, BuildState, Failure, TaskId};

/// A build as the replicated state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    pub id: BuildId,
    pub spec: BuildSpec,
    pub state: BuildState,
    pub submitted_ms: u64,
    /// The first assignment of one of its tasks.
    pub started_ms: Option<u64>,
    pub finished_ms: Option<u64>,
    /// Its tasks, in the order they were submitted.
    pub tasks: Vec<TaskId>,
}

impl BuildRecord {
    pub fn new(id: BuildId, spec: BuildSpec, tasks: Vec<TaskId>, at_ms: u64) -> BuildRecord {
        BuildRecord {
            id,
            spec,
            state: BuildState::Queued,
            submitted_ms: at_ms,
            started_ms: None,
            finished_ms: None,
            tasks,
        }
    }

    fn stale(&self, what: &str) -> Refusal {
        Refusal::Ignored(format!(
            "{what}: build {} is {}",
            self.id,
            self.state.name()
        ))
    }

    /// `Queued → Running` on the first assignment; a no-op in any other state.
    pub(super) fn start(&mut self, at_ms: u64) {
        if self.state == BuildState::Queued {
            self.state = BuildState::Running;
            self.started_ms = Some(at_ms);
        }
    }

    /// `Queued | Running → Stitching` once every task succeeded.
    pub(super) fn all_tasks_succeeded(&mut self) {
        if matches!(self.state, BuildState::Queued | BuildState::Running) {
            self.state = BuildState::Stitching;
        }
    }

    /// `Stitching → Succeeded`.
    pub(super) fn stitched(
        &mut self,
        index: Option<BlobDescriptor>,
        at_ms: u64,
    ) -> Result<(), Refusal> {
        if self.state != BuildState::Stitching {
            return Err(self.stale("stitched"));
        }
        self.state = BuildState::Succeeded { index };
        self.finished_ms = Some(at_ms);
        Ok(())
    }

    /// Any non-final state → `Failed`.
    pub(super) fn fail(&mut self, failure: Failure, at_ms: u64) -> Result<(), Refusal> {
        if self.state.is_final() {
            return Err(self.stale("fail"));
        }
        self.state = BuildState::Failed { failure };
        self.finished_ms = Some(at_ms);
        Ok(())
    }

    /// Any non-final state → `Canceled`.
    pub(super) fn cancel(&mut self, at_ms: u64) -> Result<(), Refusal> {
        if self.state.is_final() {
            return Err(self.stale("cancel"));
        }
        self.state = BuildState::Canceled;
        self.finished_ms = Some(at_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::farm::state::test_support::fails;

    fn record() -> BuildRecord {
        BuildRecord::new(
            BuildId::new(),
            BuildSpec::default(),
            vec![TaskId::new()],
            10,
        )
    }

    #[test]
    fn queued_running_stitching_succeeded() {
        let mut b = record();
        assert!(b.stitched(None, 11).is_err(), "not stitching yet");
        b.start(11);
        b.start(12);
        assert_eq!(b.state, BuildState::Running);
        assert_eq!(b.started_ms, Some(11));
        b.all_tasks_succeeded();
        assert_eq!(b.state, BuildState::Stitching);
        b.stitched(None, 13).unwrap();
        assert_eq!(b.state, BuildState::Succeeded { index: None });
        assert_eq!(b.finished_ms, Some(13));
        assert!(b.stitched(None, 14).is_err(), "a second stitch is ignored");
        assert!(b.fail(fails("late"), 14).is_err());
        assert!(b.cancel(14).is_err());
        b.all_tasks_succeeded();
        assert!(b.state.is_final());
    }

    #[test]
    fn fail_and_cancel_from_any_non_final_state() {
        let mut b = record();
        b.fail(fails("boom"), 11).unwrap();
        assert_eq!(
            b.state,
            BuildState::Failed {
                failure: fails("boom")
            }
        );
        assert!(b.cancel(12).is_err());
        let mut c = record();
        c.start(11);
        c.all_tasks_succeeded();
        c.cancel(12).unwrap();
        assert_eq!(c.state, BuildState::Canceled);
        c.start(13);
        assert_eq!(c.state, BuildState::Canceled, "start never revives a build");
    }
}
