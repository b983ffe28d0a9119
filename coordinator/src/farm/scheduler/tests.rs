//! The scheduler's preferences, fairness, limits and its input built from the state.

use super::*;
use crate::farm::state::test_support::{build_spec, platform, task_spec, wid, worker_spec};
use crate::farm::state::{FarmState, Response};
use slipway_farm::{BuildId, PlatformSupport};
use slipway_graph::Digest;
use std::collections::{BTreeMap, BTreeSet};

fn worker(name: &str, native: &[&str], emulated: &[&str], slots: u32, running: u32) -> WorkerLoad {
    WorkerLoad {
        id: wid(name),
        platforms: PlatformSupport {
            native: native.iter().map(|p| platform(p)).collect(),
            emulated: emulated.iter().map(|p| platform(p)).collect(),
        },
        slots,
        running,
        held: BTreeSet::new(),
    }
}

fn task(build: BuildId, submitted: u64, p: &str) -> PendingTask {
    PendingTask {
        id: TaskId::new(),
        build,
        build_submitted_ms: submitted,
        platform: platform(p),
        affinity: vec![],
        not_before_ms: 0,
    }
}

fn assigned(decisions: &[Decision]) -> Vec<(TaskId, String, Placement)> {
    decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Assign {
                task,
                worker,
                placement,
            } => Some((*task, worker.to_string(), *placement)),
            Decision::Unplaceable { .. } => None,
        })
        .collect()
}

fn per_worker(decisions: &[Decision]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, w, _) in assigned(decisions) {
        *m.entry(w).or_insert(0) += 1;
    }
    m
}

#[test]
fn native_is_preferred_over_emulated_even_when_busier() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("emu", &["linux/amd64"], &["linux/arm64"], 8, 0));
    input.add_worker(worker("arm", &["linux/arm64"], &[], 2, 1));
    let b = BuildId::new();
    let t1 = task(b, 1, "linux/arm64");
    let t2 = task(b, 1, "linux/arm64");
    input.add_task(t1.clone());
    input.add_task(t2.clone());
    let d = assigned(&schedule(&input, 0));
    assert_eq!(d.len(), 2);
    assert_eq!(d[0], (t1.id, "arm".into(), Placement::Native));
    // The native worker is full now: the second task is emulated.
    assert_eq!(d[1], (t2.id, "emu".into(), Placement::Emulated));
}

#[test]
fn affinity_beats_load_within_a_tier_but_not_native() {
    let ctx = Digest::of_bytes(b"context");
    let base = Digest::of_bytes(b"base");
    let mut input = ScheduleInput::new();
    input.add_worker(worker("idle", &["linux/amd64"], &[], 4, 0));
    let mut one = worker("one", &["linux/amd64"], &[], 4, 2);
    one.held.insert(ctx.clone());
    input.add_worker(one);
    input.add_worker(worker("both", &["linux/amd64"], &[], 4, 3));
    input.record_held(&wid("both"), &ctx);
    input.record_held(&wid("both"), &base);
    let mut emu = worker("emu", &["linux/arm64"], &["linux/amd64"], 4, 0);
    emu.held = [ctx.clone(), base.clone()].into_iter().collect();
    input.add_worker(emu);
    let mut t = task(BuildId::new(), 1, "linux/amd64");
    t.affinity = vec![ctx.clone(), base.clone()];
    input.add_task(t.clone());
    let d = assigned(&schedule(&input, 0));
    assert_eq!(d, vec![(t.id, "both".into(), Placement::Native)]);

    // When the best holder is full, the next best holder wins over the idle worker.
    input.set_running(&wid("both"), 4);
    let d = assigned(&schedule(&input, 0));
    assert_eq!(d, vec![(t.id, "one".into(), Placement::Native)]);
}

#[test]
fn least_loaded_by_ratio_then_input_order() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("a", &["linux/amd64"], &[], 2, 1)); // 50 %
    input.add_worker(worker("b", &["linux/amd64"], &[], 8, 2)); // 25 %
    input.add_worker(worker("c", &["linux/amd64"], &[], 4, 1)); // 25 %
    input.add_task(task(BuildId::new(), 1, "linux/amd64"));
    let d = assigned(&schedule(&input, 0));
    assert_eq!(
        d[0].1, "b",
        "lowest ratio, first in input order among equals"
    );
}

#[test]
fn never_more_than_free_slots_and_work_conserving() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("w1", &["linux/amd64"], &[], 2, 1));
    input.add_worker(worker("w2", &["linux/amd64"], &["linux/arm64"], 3, 0));
    input.add_worker(worker("full", &["linux/amd64"], &[], 2, 5));
    let b = BuildId::new();
    for _ in 0..10 {
        input.add_task(task(b, 1, "linux/amd64"));
        input.add_task(task(b, 1, "linux/arm64"));
    }
    let decisions = schedule(&input, 0);
    let counts = per_worker(&decisions);
    assert_eq!(counts.get("w1"), Some(&1));
    assert_eq!(counts.get("w2"), Some(&3));
    assert_eq!(counts.get("full"), None);
    assert_eq!(decisions.len(), 4, "every free slot is used, no more");
    for d in &decisions {
        input.apply(d);
    }
    assert_eq!(input.task_count(), 16);
    assert!(schedule(&input, 0).is_empty());
}

#[test]
fn both_amd64_workers_get_work_from_a_queue() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("amd-1", &["linux/amd64"], &[], 1, 0));
    input.add_worker(worker("amd-2", &["linux/amd64"], &[], 1, 0));
    for i in 0..5 {
        input.add_task(task(BuildId::new(), i, "linux/amd64"));
    }
    let counts = per_worker(&schedule(&input, 0));
    assert_eq!(counts.get("amd-1"), Some(&1));
    assert_eq!(counts.get("amd-2"), Some(&1));
}

#[test]
fn builds_take_turns_oldest_first() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("w", &["linux/amd64"], &[], 6, 0));
    let old = BuildId::new();
    let young = BuildId::new();
    let big: Vec<PendingTask> = (0..10).map(|_| task(old, 10, "linux/amd64")).collect();
    let small: Vec<PendingTask> = (0..2).map(|_| task(young, 20, "linux/amd64")).collect();
    // Added young first: order comes from submission time, not insertion.
    for t in small.iter().chain(&big) {
        input.add_task(t.clone());
    }
    let d = assigned(&schedule(&input, 0));
    let order: Vec<TaskId> = d.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(
        order,
        vec![
            big[0].id,
            small[0].id,
            big[1].id,
            small[1].id,
            big[2].id,
            big[3].id
        ]
    );
}

#[test]
fn a_build_keeps_its_turn_past_tasks_that_cannot_run_now() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("amd", &["linux/amd64"], &[], 2, 0));
    input.add_worker(worker("arm", &["linux/arm64"], &[], 1, 1));
    let a = BuildId::new();
    let b = BuildId::new();
    let a_arm = task(a, 1, "linux/arm64");
    let a_amd = task(a, 1, "linux/amd64");
    let b_amd = task(b, 2, "linux/amd64");
    let b_amd2 = task(b, 2, "linux/amd64");
    for t in [&a_arm, &a_amd, &b_amd, &b_amd2] {
        input.add_task(t.clone());
    }
    let d = assigned(&schedule(&input, 0));
    let tasks: BTreeSet<TaskId> = d.iter().map(|(t, _, _)| *t).collect();
    assert!(
        tasks.contains(&a_amd.id),
        "a's arm task waits, its amd task runs"
    );
    assert_eq!(d.len(), 2);
}

#[test]
fn unplaceable_names_the_platform_and_other_work_continues() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("w", &["linux/amd64"], &["linux/arm64"], 0, 0));
    let b = BuildId::new();
    let risc = task(b, 1, "linux/riscv64");
    input.add_task(risc.clone());
    input.add_task(task(b, 1, "linux/amd64"));
    let d = schedule(&input, 0);
    assert_eq!(
        d,
        vec![Decision::Unplaceable {
            task: risc.id,
            platform: platform("linux/riscv64"),
            message: "no worker runs platform linux/riscv64".into(),
        }],
        "the amd64 task waits for a slot, it is not unplaceable"
    );
    let cmd = d[0].to_command(9);
    assert!(matches!(
        cmd,
        Command::TaskFailed {
            worker: None,
            at_ms: 9,
            ..
        }
    ));
}

#[test]
fn tasks_in_retry_backoff_wait() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("w", &["linux/amd64"], &[], 1, 0));
    let mut t = task(BuildId::new(), 1, "linux/amd64");
    t.not_before_ms = 1_000;
    input.add_task(t);
    assert!(schedule(&input, 999).is_empty());
    assert_eq!(schedule(&input, 1_000).len(), 1);
    assert_eq!(retry_backoff_ms(2), RETRY_BACKOFF_MS);
    assert_eq!(retry_backoff_ms(3), 2 * RETRY_BACKOFF_MS);
    assert_eq!(retry_backoff_ms(40), RETRY_BACKOFF_MAX_MS);
}

#[test]
fn input_updates_replace_and_remove() {
    let mut input = ScheduleInput::new();
    input.add_worker(worker("w", &["linux/amd64"], &[], 1, 0));
    input.add_worker(worker("w", &["linux/arm64"], &[], 1, 0));
    assert_eq!(input.workers().count(), 1);
    let t = task(BuildId::new(), 1, "linux/amd64");
    input.add_task(t.clone());
    let d = schedule(&input, 0);
    assert!(matches!(&d[..], [Decision::Unplaceable { .. }]), "{d:?}");
    assert_eq!(input.remove_task(&t.id), Some(t.clone()));
    assert_eq!(input.remove_task(&t.id), None);
    assert!(schedule(&input, 0).is_empty());
    assert!(!input.set_running(&wid("ghost"), 1));
}

#[test]
fn from_state_uses_live_active_workers_ready_tasks_and_blobs() {
    let mut state = FarmState::new();
    let reg = |state: &mut FarmState, spec| {
        assert_eq!(
            state.apply(Command::RegisterWorker { spec, at_ms: 1 }),
            Response::Ok
        )
    };
    reg(&mut state, worker_spec("live", &["linux/amd64"], &[], 2));
    reg(&mut state, worker_spec("holder", &["linux/amd64"], &[], 2));
    reg(&mut state, worker_spec("dead", &["linux/amd64"], &[], 8));
    let ctx = Digest::of_bytes(b"ctx");
    state.apply(Command::RecordBlob {
        digest: ctx.clone(),
        worker: wid("holder"),
    });
    let b = BuildId::new();
    let mut t1 = task_spec(b, platform("linux/amd64"));
    t1.affinity = vec![ctx.clone()];
    let t2 = task_spec(b, platform("linux/amd64"));
    let t3 = task_spec(b, platform("linux/amd64"));
    let ids = [t1.id, t2.id, t3.id];
    assert!(state
        .apply(Command::SubmitBuild {
            id: b,
            spec: Box::new(build_spec(&["linux/amd64"])),
            tasks: vec![t1, t2, t3],
            at_ms: 5,
        })
        .is_ok());
    let live = [wid("live"), wid("holder")];
    let input = ScheduleInput::from_state(&state, &live);
    assert_eq!(input.workers().count(), 2, "dead has no lease");
    assert_eq!(input.task_count(), 3);
    assert_eq!(input.task(&ids[0]).map(|t| t.build_submitted_ms), Some(5));
    let decisions = schedule(&input, 10);
    assert_eq!(decisions.len(), 3);
    assert!(
        matches!(&decisions[0], Decision::Assign { worker, .. } if worker.as_str() == "holder")
    );
    for d in &decisions {
        assert_eq!(state.apply(d.to_command(11)), Response::Ok, "{d:?}");
    }
    assert_eq!(
        state.running_count(&wid("live")) + state.running_count(&wid("holder")),
        3
    );
    let again = ScheduleInput::from_state(&state, &live);
    assert_eq!(again.task_count(), 0);
    assert_eq!(again.worker(&wid("holder")).map(|w| w.held.len()), Some(1));

    // A task re-queued after a worker loss waits out its backoff.
    let holder_inc = state
        .worker(&wid("holder"))
        .map(|w| w.spec.incarnation)
        .unwrap();
    assert!(state
        .apply(Command::WorkerLost {
            worker: wid("holder"),
            incarnation: holder_inc,
            at_ms: 100,
            reason: "lease expired".into(),
        })
        .is_ok());
    let after = ScheduleInput::from_state(&state, &live);
    assert!(
        after.worker(&wid("holder")).is_none(),
        "lost workers are out"
    );
    assert!(after
        .tasks()
        .all(|t| t.not_before_ms == 100 + RETRY_BACKOFF_MS));
    assert!(schedule(&after, 150).is_empty());
    assert!(!schedule(&after, 100 + RETRY_BACKOFF_MS).is_empty());

    // A draining worker keeps its tasks but is offered no new ones.
    assert!(state
        .apply(Command::DrainWorker {
            worker: wid("live"),
            drain: true,
            at_ms: 101,
        })
        .is_ok());
    let drained = ScheduleInput::from_state(&state, &live);
    assert!(
        drained.worker(&wid("live")).is_none(),
        "draining workers are out"
    );
    assert!(schedule(&drained, 100 + RETRY_BACKOFF_MS)
        .iter()
        .all(|d| !matches!(d, Decision::Assign { .. })));
}

#[test]
fn a_task_after_a_stage_prefers_the_worker_holding_the_stage() {
    use crate::farm::state::test_support::result_for;
    use slipway_farm::{BlobDescriptor, Placement, TaskResult};
    let mut state = FarmState::new();
    for name in ["a", "b"] {
        let spec = worker_spec(name, &["linux/amd64"], &[], 4);
        assert_eq!(
            state.apply(Command::RegisterWorker { spec, at_ms: 1 }),
            Response::Ok
        );
    }
    let b = BuildId::new();
    let stage = task_spec(b, platform("linux/amd64"));
    let mut image = task_spec(b, platform("linux/amd64"));
    image.depends_on = vec![stage.id];
    let (stage_id, image_id) = (stage.id, image.id);
    assert!(state
        .apply(Command::SubmitBuild {
            id: b,
            spec: Box::new(build_spec(&["linux/amd64"])),
            tasks: vec![stage, image],
            at_ms: 1,
        })
        .is_ok());
    let live = [wid("a"), wid("b")];
    let input = ScheduleInput::from_state(&state, &live);
    assert_eq!(input.task_count(), 1, "the image task waits for its stage");
    // The stage ran on b, whose layer the farm knows b holds.
    let layer = Digest::of_bytes(b"stage layer");
    for cmd in [
        Command::Assign {
            task: stage_id,
            worker: wid("b"),
            placement: Placement::Native,
            at_ms: 2,
        },
        Command::RecordBlob {
            digest: layer.clone(),
            worker: wid("b"),
        },
        Command::TaskSucceeded {
            task: stage_id,
            worker: wid("b"),
            result: TaskResult {
                layers: vec![BlobDescriptor {
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                    digest: layer.clone(),
                    size: 1,
                }],
                ..result_for(&platform("linux/amd64"))
            },
            at_ms: 3,
        },
    ] {
        assert!(state.apply(cmd).is_ok());
    }
    let input = ScheduleInput::from_state(&state, &live);
    assert_eq!(
        input.task(&image_id).map(|t| t.affinity.clone()),
        Some(vec![layer])
    );
    let decisions = schedule(&input, 10);
    assert!(
        matches!(&decisions[..], [Decision::Assign { worker, .. }] if worker.as_str() == "b"),
        "{decisions:?}"
    );
}
