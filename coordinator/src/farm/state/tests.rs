//! Every command through [`FarmState::apply`]: guards, indexes, build lifecycle.

use super::test_support::{build_spec, fails, platform, result_for, task_spec, wid, worker_spec};
use super::*;

struct Farm {
    state: FarmState,
}

impl Farm {
    fn new() -> Farm {
        Farm {
            state: FarmState::new(),
        }
    }

    fn ok(&mut self, cmd: Command) {
        let r = self.state.apply(cmd.clone());
        assert_eq!(r, Response::Ok, "{cmd:?}");
    }

    fn ignored(&mut self, cmd: Command) -> String {
        match self.state.apply(cmd) {
            Response::Ignored { reason } => reason,
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    fn rejected(&mut self, cmd: Command) -> String {
        match self.state.apply(cmd) {
            Response::Rejected { reason } => reason,
            other => panic!("expected Rejected, got {other:?}"),
        }
    }

    fn register(
        &mut self,
        name: &str,
        native: &[&str],
        emulated: &[&str],
        slots: u32,
    ) -> WorkerSpec {
        let spec = worker_spec(name, native, emulated, slots);
        self.ok(Command::RegisterWorker {
            spec: spec.clone(),
            at_ms: 1,
        });
        spec
    }

    /// Submits a build with one task per platform; returns (build, tasks).
    fn submit(&mut self, platforms: &[&str]) -> (BuildId, Vec<TaskId>) {
        let id = BuildId::new();
        let tasks: Vec<TaskSpec> = platforms
            .iter()
            .map(|p| task_spec(id, platform(p)))
            .collect();
        let ids = tasks.iter().map(|t| t.id).collect();
        let mut distinct: Vec<&str> = platforms.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        self.ok(Command::SubmitBuild {
            id,
            spec: Box::new(build_spec(&distinct)),
            tasks,
            at_ms: 2,
        });
        (id, ids)
    }

    fn assign(&mut self, task: TaskId, worker: &str, placement: Placement) -> Response {
        self.state.apply(Command::Assign {
            task,
            worker: wid(worker),
            placement,
            at_ms: 3,
        })
    }

    fn succeed(&mut self, task: TaskId, worker: &str) -> Response {
        let platform = self.state.task(&task).map(|t| t.spec.platform.clone());
        let platform = platform.unwrap_or_else(|| super::test_support::platform("linux/amd64"));
        self.state.apply(Command::TaskSucceeded {
            task,
            worker: wid(worker),
            result: result_for(&platform),
            at_ms: 5,
        })
    }

    fn task_state(&self, task: TaskId) -> &TaskState {
        &self.state.task(&task).expect("known task").state
    }

    fn build_state(&self, build: BuildId) -> &BuildState {
        &self.state.build(&build).expect("known build").state
    }
}

#[test]
fn build_lifecycle_queued_running_stitching_succeeded() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &["linux/arm64"], 2);
    let (b, t) = f.submit(&["linux/amd64", "linux/arm64"]);
    assert_eq!(f.build_state(b), &BuildState::Queued);
    assert_eq!(f.state.ready_tasks().count(), 2);

    assert_eq!(f.assign(t[0], "w1", Placement::Native), Response::Ok);
    assert_eq!(f.build_state(b), &BuildState::Running);
    assert_eq!(f.state.pending_tasks().count(), 1);
    assert_eq!(f.state.running_count(&wid("w1")), 1);
    assert_eq!(f.assign(t[1], "w1", Placement::Emulated), Response::Ok);
    assert_eq!(f.state.tasks_assigned_to(&wid("w1")).len(), 2);

    f.ok(Command::TaskStarted {
        task: t[0],
        worker: wid("w1"),
        at_ms: 4,
    });
    assert!(matches!(f.task_state(t[0]), TaskState::Running { .. }));
    assert_eq!(f.succeed(t[0], "w1"), Response::Ok);
    assert_eq!(f.build_state(b), &BuildState::Running);
    // The result of an assigned (not yet started) task is accepted.
    assert_eq!(f.succeed(t[1], "w1"), Response::Ok);
    assert_eq!(f.build_state(b), &BuildState::Stitching);
    assert_eq!(f.state.builds_stitching().count(), 1);
    assert_eq!(f.state.running_count(&wid("w1")), 0);
    let summary = f.state.build_summary(&b).unwrap();
    assert_eq!((summary.tasks_total, summary.tasks_done), (2, 2));

    f.ok(Command::BuildStitched {
        build: b,
        index: None,
        at_ms: 6,
    });
    assert_eq!(f.build_state(b), &BuildState::Succeeded { index: None });
    assert_eq!(f.state.build(&b).unwrap().finished_ms, Some(6));
    f.ignored(Command::BuildStitched {
        build: b,
        index: None,
        at_ms: 7,
    });
    assert_eq!(f.state.worker(&wid("w1")).unwrap().assigned_total, 2);
}

#[test]
fn a_second_result_and_a_result_from_another_worker_are_ignored() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &[], 1);
    f.register("w2", &["linux/amd64"], &[], 1);
    let (_, t) = f.submit(&["linux/amd64"]);
    f.assign(t[0], "w1", Placement::Native);
    assert!(matches!(f.succeed(t[0], "w2"), Response::Ignored { .. }));
    assert_eq!(f.succeed(t[0], "w1"), Response::Ok);
    let before = f.state.clone();
    assert!(matches!(f.succeed(t[0], "w1"), Response::Ignored { .. }));
    assert_eq!(f.state, before, "an ignored command changes nothing");
    f.ignored(Command::TaskStarted {
        task: t[0],
        worker: wid("w1"),
        at_ms: 9,
    });
}

#[test]
fn assign_guards() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &["linux/arm64"], 1);
    let (_, t) = f.submit(&["linux/amd64", "linux/arm64", "linux/riscv64"]);
    let unknown = f.rejected(Command::Assign {
        task: TaskId::new(),
        worker: wid("w1"),
        placement: Placement::Native,
        at_ms: 3,
    });
    assert!(unknown.contains("unknown task"), "{unknown}");
    assert!(matches!(
        f.assign(t[0], "nobody", Placement::Native),
        Response::Rejected { .. }
    ));
    let r = f.assign(t[2], "w1", Placement::Native);
    assert!(
        matches!(&r, Response::Rejected { reason } if reason.contains("linux/riscv64")),
        "{r:?}"
    );
    let r = f.assign(t[1], "w1", Placement::Native);
    assert!(
        matches!(&r, Response::Rejected { reason } if reason.contains("Emulated")),
        "{r:?}"
    );
    assert_eq!(f.assign(t[0], "w1", Placement::Native), Response::Ok);
    let r = f.assign(t[1], "w1", Placement::Emulated);
    assert!(
        matches!(&r, Response::Rejected { reason } if reason.contains("no free slot")),
        "{r:?}"
    );
    let r = f.assign(t[0], "w1", Placement::Native);
    assert!(
        matches!(r, Response::Ignored { .. }),
        "already assigned: {r:?}"
    );
}

#[test]
fn worker_lost_requeues_its_tasks_with_the_next_attempt() {
    let mut f = Farm::new();
    let w1 = f.register("w1", &["linux/amd64"], &[], 2);
    f.register("w2", &["linux/amd64"], &[], 2);
    let (b, t) = f.submit(&["linux/amd64", "linux/amd64"]);
    f.assign(t[0], "w1", Placement::Native);
    f.assign(t[1], "w1", Placement::Native);
    f.ok(Command::TaskStarted {
        task: t[0],
        worker: wid("w1"),
        at_ms: 4,
    });
    let stale = f.ignored(Command::WorkerLost {
        worker: wid("w1"),
        incarnation: Uuid::new_v4(),
        at_ms: 5,
        reason: "lease expired".into(),
    });
    assert!(stale.contains("incarnation"), "{stale}");
    f.ok(Command::WorkerLost {
        worker: wid("w1"),
        incarnation: w1.incarnation,
        at_ms: 5,
        reason: "lease expired".into(),
    });
    for id in &t {
        let task = f.state.task(id).unwrap();
        assert_eq!(task.state, TaskState::Pending);
        assert_eq!(task.attempt, 2);
        assert!(task
            .requeue_reason
            .as_deref()
            .unwrap()
            .contains("lease expired"));
    }
    assert_eq!(f.state.running_count(&wid("w1")), 0);
    assert_eq!(f.build_state(b), &BuildState::Running);
    // A lost worker gets no work and its late result is ignored.
    assert!(matches!(
        f.assign(t[0], "w1", Placement::Native),
        Response::Rejected { .. }
    ));
    assert!(matches!(f.succeed(t[0], "w1"), Response::Ignored { .. }));
    f.ignored(Command::WorkerLost {
        worker: wid("w1"),
        incarnation: w1.incarnation,
        at_ms: 6,
        reason: "again".into(),
    });
    assert_eq!(f.assign(t[0], "w2", Placement::Native), Response::Ok);
    // The same process registering again (it was only partitioned) is active again.
    f.ok(Command::RegisterWorker { spec: w1, at_ms: 7 });
    assert!(f.state.worker(&wid("w1")).unwrap().is_active());
}

#[test]
fn a_new_incarnation_requeues_the_old_ones_tasks() {
    let mut f = Farm::new();
    let old = f.register("w1", &["linux/amd64"], &[], 1);
    let (_, t) = f.submit(&["linux/amd64"]);
    f.assign(t[0], "w1", Placement::Native);
    let dup = f.ignored(Command::RegisterWorker {
        spec: old.clone(),
        at_ms: 2,
    });
    assert!(dup.contains("already registered"), "{dup}");
    assert!(matches!(f.task_state(t[0]), TaskState::Assigned { .. }));
    let new = WorkerSpec {
        incarnation: Uuid::new_v4(),
        ..old.clone()
    };
    f.ok(Command::RegisterWorker {
        spec: new,
        at_ms: 3,
    });
    let task = f.state.task(&t[0]).unwrap();
    assert_eq!((task.state.clone(), task.attempt), (TaskState::Pending, 2));
    assert!(f.state.tasks_assigned_to(&wid("w1")).is_empty());
    // The old incarnation's expiry is stale now.
    f.ignored(Command::WorkerLost {
        worker: wid("w1"),
        incarnation: old.incarnation,
        at_ms: 4,
        reason: "lease expired".into(),
    });
    let bad = WorkerSpec { slots: 0, ..old };
    assert!(f
        .rejected(Command::RegisterWorker {
            spec: bad,
            at_ms: 5
        })
        .contains("slots"));
}

#[test]
fn too_many_lost_workers_fail_the_task_and_build() {
    let mut f = Farm::new();
    let mut spec = f.register("w1", &["linux/amd64"], &[], 1);
    let (b, t) = f.submit(&["linux/amd64"]);
    for _ in 0..MAX_ATTEMPTS {
        assert_eq!(f.assign(t[0], "w1", Placement::Native), Response::Ok);
        spec.incarnation = Uuid::new_v4();
        f.ok(Command::RegisterWorker {
            spec: spec.clone(),
            at_ms: 9,
        });
    }
    let task = f.state.task(&t[0]).unwrap();
    assert!(
        matches!(&task.state, TaskState::Failed { failure, .. } if failure.to_string().contains("lost its worker 5 times")),
        "{:?}",
        task.state
    );
    assert!(matches!(f.build_state(b), BuildState::Failed { .. }));
    assert_eq!(f.state.pending_tasks().count(), 0);
}

#[test]
fn task_failed_fails_the_build_and_cancels_the_rest() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64", "linux/arm64"], &[], 4);
    let (b, t) = f.submit(&["linux/amd64", "linux/arm64", "linux/s390x"]);
    f.assign(t[0], "w1", Placement::Native);
    f.assign(t[1], "w1", Placement::Native);
    f.ignored(Command::TaskFailed {
        task: t[0],
        worker: Some(wid("w2")),
        failure: fails("not mine"),
        at_ms: 4,
    });
    f.ok(Command::TaskFailed {
        task: t[0],
        worker: Some(wid("w1")),
        failure: fails("RUN make: exit code 2"),
        at_ms: 4,
    });
    let state = f.build_state(b).clone();
    assert!(
        matches!(&state, BuildState::Failed { failure } if failure.to_string().contains("exit code 2") && failure.to_string().contains("linux/amd64")),
        "{state:?}"
    );
    assert_eq!(f.task_state(t[1]), &TaskState::Canceled);
    assert_eq!(f.task_state(t[2]), &TaskState::Canceled);
    assert_eq!(f.state.running_count(&wid("w1")), 0);
    assert_eq!(f.state.pending_tasks().count(), 0);
    assert!(matches!(f.succeed(t[1], "w1"), Response::Ignored { .. }));
    // A leader decision (no worker) on a pending task of another build.
    let (b2, t2) = f.submit(&["linux/riscv64"]);
    f.ok(Command::TaskFailed {
        task: t2[0],
        worker: None,
        failure: fails("no worker runs platform linux/riscv64"),
        at_ms: 5,
    });
    assert!(
        matches!(f.build_state(b2), BuildState::Failed { failure } if failure.to_string().contains("riscv64"))
    );
}

#[test]
fn cancel_and_build_failed() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &[], 1);
    let (b, t) = f.submit(&["linux/amd64"]);
    f.assign(t[0], "w1", Placement::Native);
    f.ok(Command::CancelBuild { build: b, at_ms: 4 });
    assert_eq!(f.build_state(b), &BuildState::Canceled);
    assert_eq!(f.task_state(t[0]), &TaskState::Canceled);
    assert_eq!(f.state.running_count(&wid("w1")), 0);
    f.ignored(Command::CancelBuild { build: b, at_ms: 5 });
    f.ignored(Command::BuildFailed {
        build: b,
        failure: fails("late"),
        at_ms: 5,
    });
    assert!(f
        .rejected(Command::CancelBuild {
            build: BuildId::new(),
            at_ms: 5
        })
        .contains("unknown build"));

    let (b2, t2) = f.submit(&["linux/amd64"]);
    f.assign(t2[0], "w1", Placement::Native);
    f.succeed(t2[0], "w1");
    assert_eq!(f.build_state(b2), &BuildState::Stitching);
    f.ok(Command::BuildFailed {
        build: b2,
        failure: fails("push index: 401"),
        at_ms: 6,
    });
    assert!(matches!(f.build_state(b2), BuildState::Failed { .. }));
    assert!(
        matches!(f.task_state(t2[0]), TaskState::Succeeded { .. }),
        "a finished task keeps its result"
    );
}

#[test]
fn submit_guards_and_duplicates() {
    let mut f = Farm::new();
    let (b, _) = f.submit(&["linux/amd64"]);
    let dup = f.ignored(Command::SubmitBuild {
        id: b,
        spec: Box::new(build_spec(&["linux/amd64"])),
        tasks: vec![task_spec(b, platform("linux/amd64"))],
        at_ms: 3,
    });
    assert!(dup.contains("already submitted"));
    assert_eq!(f.state.builds().count(), 1);

    let id = BuildId::new();
    let none = f.rejected(Command::SubmitBuild {
        id,
        spec: Box::new(build_spec(&[])),
        tasks: vec![],
        at_ms: 3,
    });
    assert!(none.contains("no tasks"));
    let foreign = task_spec(BuildId::new(), platform("linux/amd64"));
    assert!(f
        .rejected(Command::SubmitBuild {
            id,
            spec: Box::new(build_spec(&[])),
            tasks: vec![foreign],
            at_ms: 3,
        })
        .contains("belongs to"));
    let t = task_spec(id, platform("linux/amd64"));
    assert!(f
        .rejected(Command::SubmitBuild {
            id,
            spec: Box::new(build_spec(&[])),
            tasks: vec![t.clone(), t.clone()],
            at_ms: 3,
        })
        .contains("used twice"));
    let mut later = task_spec(id, platform("linux/amd64"));
    let first = task_spec(id, platform("linux/amd64"));
    later.depends_on = vec![first.id];
    assert!(f
        .rejected(Command::SubmitBuild {
            id,
            spec: Box::new(build_spec(&[])),
            tasks: vec![later.clone(), first.clone()],
            at_ms: 3,
        })
        .contains("not an earlier task"));
    let empty_dockerfile = BuildSpec {
        dockerfile: String::new(),
        ..build_spec(&[])
    };
    assert!(f
        .rejected(Command::SubmitBuild {
            id,
            spec: Box::new(empty_dockerfile),
            tasks: vec![first.clone()],
            at_ms: 3,
        })
        .contains("empty"));
    assert!(f.state.build(&id).is_none());

    // Dependencies hold a task back until they succeed.
    f.ok(Command::SubmitBuild {
        id,
        spec: Box::new(build_spec(&[])),
        tasks: vec![first.clone(), later.clone()],
        at_ms: 3,
    });
    let ready: Vec<TaskId> = f.state.ready_tasks().map(|t| t.spec.id).collect();
    assert!(ready.contains(&first.id) && !ready.contains(&later.id));
    f.register("w1", &["linux/amd64"], &[], 2);
    let r = f.assign(later.id, "w1", Placement::Native);
    assert!(
        matches!(&r, Response::Rejected { reason } if reason.contains("dependencies")),
        "{r:?}"
    );
    f.assign(first.id, "w1", Placement::Native);
    f.succeed(first.id, "w1");
    assert_eq!(f.assign(later.id, "w1", Placement::Native), Response::Ok);
}

#[test]
fn blobs_are_recorded_for_known_workers() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &[], 1);
    let d = slipway_graph::Digest::of_bytes(b"context");
    f.ok(Command::RecordBlob {
        digest: d.clone(),
        worker: wid("w1"),
    });
    f.ignored(Command::RecordBlob {
        digest: d.clone(),
        worker: wid("w1"),
    });
    f.rejected(Command::RecordBlob {
        digest: d.clone(),
        worker: wid("w9"),
    });
    let at: Vec<_> = f
        .state
        .blob_locations(&d)
        .iter()
        .map(|w| w.spec.data_addr.clone())
        .collect();
    assert_eq!(at, ["w1:7000"]);
}

#[test]
fn state_round_trips_through_json_as_a_snapshot() {
    let mut f = Farm::new();
    f.register("w1", &["linux/amd64"], &["linux/arm/v7"], 2);
    let (_, t) = f.submit(&["linux/amd64", "linux/arm/v7"]);
    f.assign(t[0], "w1", Placement::Native);
    f.succeed(t[0], "w1");
    f.ok(Command::RecordBlob {
        digest: slipway_graph::Digest::of_bytes(b"x"),
        worker: wid("w1"),
    });
    let json = serde_json::to_vec(&f.state).unwrap();
    let back: FarmState = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, f.state);
    let cmd = Command::CancelBuild {
        build: BuildId::new(),
        at_ms: 1,
    };
    let cmd_json = serde_json::to_string(&cmd).unwrap();
    assert_eq!(serde_json::from_str::<Command>(&cmd_json).unwrap(), cmd);
}
