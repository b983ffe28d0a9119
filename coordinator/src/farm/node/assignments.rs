//! The leader's open `Assignments` streams, one per worker: the controller sends each
//! committed `Assign` down the stream of the worker holding the task. A worker that opens a
//! new stream (reconnect, new incarnation) replaces its previous one.

use crate::farm::state::FarmState;
use slipway_farm::{TaskId, TaskState, WorkerId};
use slipway_proto::convert::messages;
use slipway_proto::v1::Assignment;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;
use uuid::Uuid;

/// What an `Assignments` stream yields.
pub type AssignmentItem = Result<Assignment, tonic::Status>;

/// Task `task` as an `Assignment` message (its graph encoded as JSON), with the cache records
/// of the tasks it depends on (all succeeded: a task is assigned only when ready). `None`
/// when `task` is unknown; a task that cannot be encoded is logged and yields `None` too.
pub fn assignment_of(st: &FarmState, task: &TaskId) -> Option<Assignment> {
    let record = st.task(task)?;
    let inputs = record
        .spec
        .depends_on
        .iter()
        .filter_map(|d| match &st.task(d)?.state {
            TaskState::Succeeded { result, .. } => Some(result.cache.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    let parsed = messages::Assignment {
        task: record.spec.clone(),
        attempt: record.attempt,
        inputs,
    };
    match Assignment::try_from(parsed) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::error!(task = %record.spec.id, error = %e, "encoding an assignment");
            None
        }
    }
}

struct Open {
    incarnation: Uuid,
    tx: mpsc::UnboundedSender<AssignmentItem>,
}

/// Open assignment streams by worker.
#[derive(Default)]
pub struct AssignmentHub {
    streams: Mutex<HashMap<WorkerId, Open>>,
}

impl AssignmentHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<WorkerId, Open>> {
        match self.streams.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Opens (or replaces) the worker's stream.
    pub fn open(
        &self,
        worker: &WorkerId,
        incarnation: Uuid,
    ) -> (
        mpsc::UnboundedSender<AssignmentItem>,
        mpsc::UnboundedReceiver<AssignmentItem>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().insert(
            worker.clone(),
            Open {
                incarnation,
                tx: tx.clone(),
            },
        );
        (tx, rx)
    }

    /// Sends an assignment to the worker's open stream; `false` when it has none (it gets
    /// the task when it opens one: the stream starts with every task it holds).
    pub fn send(&self, worker: &WorkerId, incarnation: Uuid, assignment: Assignment) -> bool {
        let mut streams = self.lock();
        let Some(open) = streams.get(worker) else {
            return false;
        };
        if open.incarnation != incarnation {
            return false;
        }
        if open.tx.send(Ok(assignment)).is_err() {
            streams.remove(worker);
            return false;
        }
        true
    }

    /// Whether the worker has an open stream.
    pub fn is_open(&self, worker: &WorkerId) -> bool {
        self.lock().get(worker).is_some_and(|o| !o.tx.is_closed())
    }

    /// Closes every stream (the node stopped being the leader): workers reconnect to the new
    /// leader.
    pub fn close_all(&self, status: tonic::Status) {
        for (_, open) in self.lock().drain() {
            let _ = open.tx.send(Err(status.clone()));
        }
    }

    /// Closes one worker's stream (its lease expired).
    pub fn close(&self, worker: &WorkerId) {
        self.lock().remove(worker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_stream_replaces_the_old_one() {
        let hub = AssignmentHub::default();
        let w: WorkerId = "w1".parse().unwrap();
        let inc = Uuid::new_v4();
        assert!(!hub.send(&w, inc, Assignment::default()));
        let (_tx1, mut rx1) = hub.open(&w, inc);
        let (_tx2, mut rx2) = hub.open(&w, inc);
        assert!(hub.send(
            &w,
            inc,
            Assignment {
                attempt: 2,
                ..Default::default()
            }
        ));
        assert!(!hub.send(&w, Uuid::new_v4(), Assignment::default()));
        assert_eq!(rx2.recv().await.unwrap().unwrap().attempt, 2);
        assert!(rx1.try_recv().is_err());
        hub.close_all(tonic::Status::unavailable("gone"));
        assert!(rx2.recv().await.unwrap().is_err());
    }
}
