//! [`FarmState::apply`]: one function per command, each checking its guards before
//! changing anything, and the indexes (pending tasks, tasks held per worker) kept in step
//! with every task transition.

use super::{
    BuildRecord, Command, FarmState, Refusal, Response, TaskRecord, WorkerRecord, WorkerStatus,
    MAX_ATTEMPTS,
};
use slipway_farm::{
    BlobDescriptor, BuildId, BuildSpec, Failure, Placement, TaskId, TaskResult, TaskSpec,
    TaskState, WorkerId, WorkerSpec,
};
use slipway_graph::Digest;
use std::collections::BTreeSet;
use uuid::Uuid;

type Applied = Result<(), Refusal>;

impl FarmState {
    /// Applies one committed command. Deterministic; never panics.
    pub fn apply(&mut self, cmd: Command) -> Response {
        if let Command::Batch(cmds) = cmd {
            return Response::Batch(cmds.into_iter().map(|c| self.apply_one(c)).collect());
        }
        self.apply_one(cmd)
    }

    /// Applies one command that is not itself a batch (a nested batch is rejected).
    fn apply_one(&mut self, cmd: Command) -> Response {
        let out = match cmd {
            Command::RegisterWorker { spec, at_ms } => self.register_worker(spec, at_ms),
            Command::WorkerLost {
                worker,
                incarnation,
                at_ms,
                reason,
            } => self.worker_lost(&worker, incarnation, at_ms, &reason),
            Command::SubmitBuild {
                id,
                spec,
                tasks,
                at_ms,
            } => self.submit_build(id, *spec, tasks, at_ms),
            Command::Assign {
                task,
                worker,
                placement,
                at_ms,
            } => self.assign(task, &worker, placement, at_ms),
            Command::TaskStarted {
                task,
                worker,
                at_ms,
            } => self.with_task(task, |t| t.start(&worker, at_ms)),
            Command::TaskSucceeded {
                task,
                worker,
                result,
                at_ms,
            } => self.task_succeeded(task, &worker, result, at_ms),
            Command::TaskFailed {
                task,
                worker,
                failure,
                at_ms,
            } => self.task_failed(task, worker.as_ref(), failure, at_ms),
            Command::BuildStitched {
                build,
                index,
                at_ms,
            } => self.build_stitched(build, index, at_ms),
            Command::BuildFailed {
                build,
                failure,
                at_ms,
            } => self.end_build(build, at_ms, |b| b.fail(failure, at_ms)),
            Command::CancelBuild { build, at_ms } => {
                self.end_build(build, at_ms, |b| b.cancel(at_ms))
            }
            Command::RecordBlob { digest, worker } => self.record_blob(digest, worker),
            Command::RecordCache {
                worker, records, ..
            } => self.record_cache(&worker, records),
            Command::ForgetBlobs {
                worker, digests, ..
            } => self.forget_blobs(&worker, &digests),
            Command::DrainWorker { worker, drain, .. } => self.drain_worker(&worker, drain),
            Command::ForgetBuilds { builds, .. } => self.forget_builds(&builds),
            Command::Batch(inner) => Err(Refusal::Rejected(format!(
                "a batch of {} commands inside a batch (batches do not nest)",
                inner.len()
            ))),
        };
        match out {
            Ok(()) => Response::Ok,
            Err(r) => r.into(),
        }
    }

    fn register_worker(&mut self, spec: WorkerSpec, at_ms: u64) -> Applied {
        spec.validate()
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
        let Some(old) = self.workers.get_mut(&spec.id) else {
            self.workers
                .insert(spec.id.clone(), WorkerRecord::new(spec, at_ms));
            return Ok(());
        };
        if old.spec.incarnation == spec.incarnation {
            if old.is_active() && old.spec == spec {
                return Err(Refusal::Ignored(format!(
                    "worker {} is already registered with this incarnation",
                    spec.id
                )));
            }
            // Same process: it keeps its tasks (if it was declared lost they were
            // re-queued then); the spec may have changed (slots).
            old.spec = spec;
            old.status = WorkerStatus::Active;
            old.registered_ms = at_ms;
            return Ok(());
        }
        let held: Vec<TaskId> = old.held.iter().copied().collect();
        let id = spec.id.clone();
        old.spec = spec;
        old.status = WorkerStatus::Active;
        old.registered_ms = at_ms;
        let reason = format!("worker {id} restarted (new incarnation)");
        self.requeue_all(&held, &reason, at_ms);
        Ok(())
    }

    fn worker_lost(
        &mut self,
        worker: &WorkerId,
        incarnation: Uuid,
        at_ms: u64,
        reason: &str,
    ) -> Applied {
        let w = self
            .workers
            .get_mut(worker)
            .ok_or_else(|| Refusal::Rejected(format!("unknown worker {worker}")))?;
        if w.spec.incarnation != incarnation {
            return Err(Refusal::Ignored(format!(
                "worker {worker}: incarnation {incarnation} was replaced by {}",
                w.spec.incarnation
            )));
        }
        if !w.is_active() {
            return Err(Refusal::Ignored(format!("worker {worker} is already lost")));
        }
        w.status = WorkerStatus::Lost {
            at_ms,
            reason: reason.to_string(),
        };
        let held: Vec<TaskId> = w.held.iter().copied().collect();
        self.requeue_all(&held, &format!("worker {worker} lost: {reason}"), at_ms);
        Ok(())
    }

    /// Puts each task back to `Pending`, or fails it (and its build) after
    /// [`MAX_ATTEMPTS`].
    fn requeue_all(&mut self, tasks: &[TaskId], reason: &str, at_ms: u64) {
        for &id in tasks {
            let (attempt, task) = self
                .tasks
                .get(&id)
                .map_or((0, String::new()), |t| (t.attempt, t.spec.name.clone()));
            if attempt >= MAX_ATTEMPTS {
                let failure = Failure::WorkerLost {
                    task,
                    attempts: attempt,
                    reason: reason.to_string(),
                };
                // Refusals here mean the task is no longer held: nothing to do.
                let _ = self.task_failed(id, None, failure, at_ms);
            } else {
                let _ = self.with_task(id, |t| t.requeue(reason, at_ms));
            }
        }
    }

    fn submit_build(
        &mut self,
        id: BuildId,
        spec: BuildSpec,
        tasks: Vec<TaskSpec>,
        at_ms: u64,
    ) -> Applied {
        if self.builds.contains_key(&id) {
            return Err(Refusal::Ignored(format!("build {id} is already submitted")));
        }
        let reject = |reason: String| Err(Refusal::Rejected(format!("build {id}: {reason}")));
        if let Err(e) = spec.validate() {
            return reject(e.to_string());
        }
        if tasks.is_empty() {
            return reject("has no tasks".to_string());
        }
        let mut seen = BTreeSet::new();
        for t in &tasks {
            if t.build != id {
                return reject(format!("task {} belongs to build {}", t.id, t.build));
            }
            if self.tasks.contains_key(&t.id) || !seen.insert(t.id) {
                return reject(format!("task id {} is used twice", t.id));
            }
            // Dependencies must come earlier in the list: this also rules out cycles.
            if let Some(d) = t
                .depends_on
                .iter()
                .find(|d| !seen.contains(*d) || **d == t.id)
            {
                return reject(format!(
                    "task {} depends on {d}, which is not an earlier task of this build",
                    t.id
                ));
            }
        }
        let ids = tasks.iter().map(|t| t.id).collect();
        for t in tasks {
            self.pending.insert(t.id);
            self.tasks.insert(t.id, TaskRecord::new(t, at_ms));
        }
        self.builds
            .insert(id, BuildRecord::new(id, spec, ids, at_ms));
        Ok(())
    }

    fn assign(
        &mut self,
        task: TaskId,
        worker: &WorkerId,
        placement: Placement,
        at_ms: u64,
    ) -> Applied {
        let t = self
            .tasks
            .get(&task)
            .ok_or_else(|| Refusal::Rejected(format!("unknown task {task}")))?;
        if t.state != TaskState::Pending {
            // Let the record explain (stale: assigned meanwhile, finished, canceled).
            return self.with_task(task, |t| t.assign(worker, placement, at_ms));
        }
        if !self.is_ready(t) {
            return Err(Refusal::Rejected(format!(
                "{} waits for its dependencies",
                t.label()
            )));
        }
        let w = self
            .workers
            .get(worker)
            .ok_or_else(|| Refusal::Rejected(format!("unknown worker {worker}")))?;
        if !w.is_active() {
            return Err(Refusal::Rejected(format!("worker {worker} is lost")));
        }
        if w.draining {
            return Err(Refusal::Rejected(format!("worker {worker} is draining")));
        }
        match w.spec.platforms.placement(&t.spec.platform) {
            None => {
                return Err(Refusal::Rejected(format!(
                    "worker {worker} does not run platform {}",
                    t.spec.platform
                )))
            }
            Some(p) if p != placement => {
                return Err(Refusal::Rejected(format!(
                    "worker {worker} runs platform {} {p:?}, not {placement:?}",
                    t.spec.platform
                )))
            }
            Some(_) => {}
        }
        if w.free_slots() == 0 {
            return Err(Refusal::Rejected(format!(
                "worker {worker} has no free slot ({} of {} taken)",
                w.running(),
                w.spec.slots
            )));
        }
        let build = t.spec.build;
        self.with_task(task, |t| t.assign(worker, placement, at_ms))?;
        if let Some(w) = self.workers.get_mut(worker) {
            w.assigned_total = w.assigned_total.saturating_add(1);
        }
        if let Some(b) = self.builds.get_mut(&build) {
            b.start(at_ms);
        }
        Ok(())
    }

    fn task_succeeded(
        &mut self,
        task: TaskId,
        worker: &WorkerId,
        result: TaskResult,
        at_ms: u64,
    ) -> Applied {
        self.with_task(task, |t| t.succeed(worker, result, at_ms))?;
        let Some(build) = self.tasks.get(&task).map(|t| t.spec.build) else {
            return Ok(());
        };
        let all_succeeded = self
            .tasks_of(&build)
            .iter()
            .all(|t| matches!(t.state, TaskState::Succeeded { .. }));
        if all_succeeded {
            if let Some(b) = self.builds.get_mut(&build) {
                b.all_tasks_succeeded();
            }
        }
        Ok(())
    }

    fn task_failed(
        &mut self,
        task: TaskId,
        worker: Option<&WorkerId>,
        failure: Failure,
        at_ms: u64,
    ) -> Applied {
        let Some(name) = self.tasks.get(&task).map(|t| t.spec.name.clone()) else {
            return Err(Refusal::Rejected(format!("unknown task {task}")));
        };
        let failure = failure.in_task(&name);
        self.with_task(task, |t| t.fail(worker, failure.clone(), at_ms))?;
        let Some(build) = self.tasks.get(&task).map(|t| t.spec.build) else {
            return Ok(());
        };
        // The build may already be final (e.g. canceled while the failure was in flight).
        let _ = self.end_build(build, at_ms, |b| b.fail(failure, at_ms));
        Ok(())
    }

    fn build_stitched(
        &mut self,
        build: BuildId,
        index: Option<BlobDescriptor>,
        at_ms: u64,
    ) -> Applied {
        self.builds
            .get_mut(&build)
            .ok_or_else(|| Refusal::Rejected(format!("unknown build {build}")))?
            .stitched(index, at_ms)
    }

    /// Moves the build to a final state with `end`, then cancels its unfinished tasks.
    fn end_build(
        &mut self,
        build: BuildId,
        at_ms: u64,
        end: impl FnOnce(&mut BuildRecord) -> Applied,
    ) -> Applied {
        let b = self
            .builds
            .get_mut(&build)
            .ok_or_else(|| Refusal::Rejected(format!("unknown build {build}")))?;
        end(b)?;
        let tasks = b.tasks.clone();
        for t in tasks {
            let _ = self.with_task(t, |t| {
                if t.cancel(at_ms) {
                    Ok(())
                } else {
                    Err(Refusal::Ignored("already final".to_string()))
                }
            });
        }
        Ok(())
    }

    fn record_blob(&mut self, digest: Digest, worker: WorkerId) -> Applied {
        if !self.workers.contains_key(&worker) {
            return Err(Refusal::Rejected(format!("unknown worker {worker}")));
        }
        if self.blobs.record(digest.clone(), worker.clone()) {
            Ok(())
        } else {
            Err(Refusal::Ignored(format!(
                "worker {worker} is already recorded as holding {digest}"
            )))
        }
    }

    /// Runs one transition of a task and keeps the indexes in step: the pending set and
    /// the holding worker's task set.
    fn with_task(
        &mut self,
        id: TaskId,
        transition: impl FnOnce(&mut TaskRecord) -> Applied,
    ) -> Applied {
        let task = self
            .tasks
            .get_mut(&id)
            .ok_or_else(|| Refusal::Rejected(format!("unknown task {id}")))?;
        let before_worker = task.state.worker().cloned();
        transition(task)?;
        let after_worker = task.state.worker().cloned();
        if task.state == TaskState::Pending {
            self.pending.insert(id);
        } else {
            self.pending.remove(&id);
        }
        if before_worker != after_worker {
            if let Some(w) = before_worker.and_then(|w| self.workers.get_mut(&w)) {
                w.held.remove(&id);
            }
            if let Some(w) = after_worker.and_then(|w| self.workers.get_mut(&w)) {
                w.held.insert(id);
            }
        }
        Ok(())
    }
}
