//! Which assigned tasks this worker holds: running (at most `slots` at once) or queued for
//! a free slot. Pure bookkeeping, no IO.
//!
//! A task is held at most once: an assignment of a task already running or queued is
//! ignored (the leader re-sends every non-final assignment when the `Assignments` stream
//! reconnects). An attempt that finished here and whose outcome was acknowledged is
//! remembered for a while, so that a stale re-send of it does not run it again; a new
//! attempt of the same task (after the leader re-queued it) does run.

use std::collections::{HashMap, VecDeque};

use slipway_farm::TaskId;
use tokio_util::sync::CancellationToken;

/// How many finished attempts are remembered.
const FINISHED_MEMORY: usize = 1024;

/// What became of an offered assignment.
#[derive(Debug)]
pub enum Offer<T> {
    /// Run it now (a slot was free): the payload and the token cancelling it.
    Start(T, CancellationToken),
    /// All slots are busy; it starts when one frees.
    Queued,
    /// The task is already running or queued here.
    Duplicate,
    /// This attempt already finished here.
    AlreadyFinished,
}

/// The tasks a worker holds. `T` is the assignment payload.
#[derive(Debug)]
pub struct TaskTable<T> {
    slots: usize,
    running: HashMap<TaskId, Running>,
    queue: VecDeque<(TaskId, u32, T)>,
    finished: VecDeque<(TaskId, u32)>,
}

#[derive(Debug)]
struct Running {
    attempt: u32,
    cancel: CancellationToken,
}

impl<T> TaskTable<T> {
    /// A table running at most `slots` tasks at once (at least one).
    pub fn new(slots: usize) -> TaskTable<T> {
        TaskTable {
            slots: slots.max(1),
            running: HashMap::new(),
            queue: VecDeque::new(),
            finished: VecDeque::new(),
        }
    }

    /// Offers attempt `attempt` of `task`.
    pub fn offer(&mut self, task: TaskId, attempt: u32, payload: T) -> Offer<T> {
        if self.running.contains_key(&task) || self.queue.iter().any(|(t, _, _)| *t == task) {
            return Offer::Duplicate;
        }
        if self.finished.contains(&(task, attempt)) {
            return Offer::AlreadyFinished;
        }
        if self.running.len() < self.slots {
            let cancel = self.start(task, attempt);
            Offer::Start(payload, cancel)
        } else {
            self.queue.push_back((task, attempt, payload));
            Offer::Queued
        }
    }

    fn start(&mut self, task: TaskId, attempt: u32) -> CancellationToken {
        let cancel = CancellationToken::new();
        self.running.insert(
            task,
            Running {
                attempt,
                cancel: cancel.clone(),
            },
        );
        cancel
    }

    /// `task` stopped running (its outcome was reported, or it was cancelled). Returns the
    /// queued tasks that now start, with their tokens.
    pub fn finish(&mut self, task: TaskId) -> Vec<(TaskId, T, CancellationToken)> {
        if let Some(r) = self.running.remove(&task) {
            if self.finished.len() >= FINISHED_MEMORY {
                self.finished.pop_front();
            }
            self.finished.push_back((task, r.attempt));
        }
        let mut started = Vec::new();
        while self.running.len() < self.slots {
            let Some((id, attempt, payload)) = self.queue.pop_front() else {
                break;
            };
            let cancel = self.start(id, attempt);
            started.push((id, payload, cancel));
        }
        started
    }

    /// Cancels `task` if running (its runner then calls [`TaskTable::finish`]) or drops
    /// it from the queue. Returns whether it was held.
    pub fn cancel(&mut self, task: TaskId) -> bool {
        if let Some(r) = self.running.get(&task) {
            r.cancel.cancel();
            return true;
        }
        let before = self.queue.len();
        self.queue.retain(|(t, _, _)| *t != task);
        before != self.queue.len()
    }

    /// Cancels everything (shutdown).
    pub fn cancel_all(&mut self) {
        for r in self.running.values() {
            r.cancel.cancel();
        }
        self.queue.clear();
    }

    /// Every task held (running or queued), as reported in lease renewals.
    pub fn held(&self) -> Vec<TaskId> {
        let mut ids: Vec<TaskId> = self.running.keys().copied().collect();
        ids.sort();
        ids.extend(self.queue.iter().map(|(t, _, _)| *t));
        ids
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started<T>(o: Offer<T>) -> (T, CancellationToken) {
        match o {
            Offer::Start(p, c) => (p, c),
            _ => panic!("expected Start"),
        }
    }

    #[test]
    fn a_duplicate_assignment_of_a_running_task_is_ignored() {
        let mut t = TaskTable::new(2);
        let a = TaskId::new();
        let _ = started(t.offer(a, 0, "a"));
        assert!(matches!(t.offer(a, 0, "a again"), Offer::Duplicate));
        assert!(matches!(t.offer(a, 1, "a, next attempt"), Offer::Duplicate));
        assert_eq!(t.running(), 1);
        assert_eq!(t.held(), vec![a]);
    }

    #[test]
    fn never_more_than_slots_at_once_and_queue_in_order() {
        let mut t = TaskTable::new(2);
        let ids: Vec<TaskId> = (0..5).map(|_| TaskId::new()).collect();
        let _ = started(t.offer(ids[0], 0, 0));
        let _ = started(t.offer(ids[1], 0, 1));
        assert!(matches!(t.offer(ids[2], 0, 2), Offer::Queued));
        assert!(matches!(t.offer(ids[3], 0, 3), Offer::Queued));
        assert!(
            matches!(t.offer(ids[3], 0, 3), Offer::Duplicate),
            "queued twice"
        );
        assert_eq!((t.running(), t.queued()), (2, 2));
        assert_eq!(t.held().len(), 4);

        let next = t.finish(ids[1]);
        assert_eq!(next.len(), 1);
        assert_eq!((next[0].0, next[0].1), (ids[2], 2));
        assert_eq!((t.running(), t.queued()), (2, 1));

        // finishing an unknown task starts nothing beyond the free slots
        assert!(t.finish(TaskId::new()).is_empty());
        assert_eq!(t.running(), 2);
        let next = t.finish(ids[0]);
        assert_eq!(next.iter().map(|n| n.1).collect::<Vec<_>>(), vec![3]);
        assert_eq!(t.queued(), 0);
    }

    #[test]
    fn a_finished_attempt_is_not_run_again_but_a_new_attempt_is() {
        let mut t = TaskTable::new(1);
        let a = TaskId::new();
        let _ = started(t.offer(a, 0, ()));
        t.finish(a);
        assert!(matches!(t.offer(a, 0, ()), Offer::AlreadyFinished));
        let _ = started(t.offer(a, 1, ()));
    }

    #[test]
    fn cancel_running_or_queued() {
        let mut t = TaskTable::new(1);
        let a = TaskId::new();
        let b = TaskId::new();
        let (_, token) = started(t.offer(a, 0, ()));
        assert!(matches!(t.offer(b, 0, ()), Offer::Queued));
        assert!(t.cancel(b));
        assert_eq!(t.queued(), 0);
        assert!(t.cancel(a));
        assert!(token.is_cancelled());
        assert!(!t.cancel(TaskId::new()));
        assert!(t.finish(a).is_empty());
    }

    #[test]
    fn zero_slots_means_one() {
        let mut t = TaskTable::new(0);
        let _ = started(t.offer(TaskId::new(), 0, ()));
        assert!(matches!(t.offer(TaskId::new(), 0, ()), Offer::Queued));
    }
}
