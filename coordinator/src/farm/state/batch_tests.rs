//! [`Command::Batch`]: one Raft entry carrying several commands (group commit).

use super::test_support::{build_spec, platform, task_spec, wid, worker_spec};
use super::*;

fn submit(platforms: &[&str]) -> (Command, Vec<TaskId>) {
    let id = BuildId::new();
    let tasks: Vec<TaskSpec> = platforms
        .iter()
        .map(|p| task_spec(id, platform(p)))
        .collect();
    let ids = tasks.iter().map(|t| t.id).collect();
    let cmd = Command::SubmitBuild {
        id,
        spec: Box::new(build_spec(platforms)),
        tasks,
        at_ms: 2,
    };
    (cmd, ids)
}

/// Commands whose outcomes depend on the ones before them: a duplicate registration, an
/// assignment of a task submitted earlier in the same batch, an unknown task.
fn dependent_commands() -> Vec<Command> {
    let worker = worker_spec("w1", &["linux/amd64"], &[], 2);
    let (submit, tasks) = submit(&["linux/amd64"]);
    vec![
        Command::RegisterWorker {
            spec: worker.clone(),
            at_ms: 1,
        },
        Command::RegisterWorker {
            spec: worker,
            at_ms: 1,
        },
        submit,
        Command::Assign {
            task: tasks[0],
            worker: wid("w1"),
            placement: Placement::Native,
            at_ms: 3,
        },
        Command::TaskStarted {
            task: TaskId::new(),
            worker: wid("w1"),
            at_ms: 4,
        },
    ]
}

#[test]
fn batch_applies_in_order_like_separate_entries() {
    let cmds = dependent_commands();
    let mut one_by_one = FarmState::new();
    let expected: Vec<Response> = cmds.iter().map(|c| one_by_one.apply(c.clone())).collect();

    let mut batched = FarmState::new();
    let got = batched.apply(Command::Batch(cmds));

    assert_eq!(got, Response::Batch(expected.clone()));
    assert_eq!(batched, one_by_one);
    // The outcomes really depend on order: Ok, duplicate Ignored, Ok, Ok (the task was
    // submitted earlier in the batch), Rejected (unknown task).
    assert!(expected[0].is_ok());
    assert!(matches!(expected[1], Response::Ignored { .. }));
    assert!(expected[2].is_ok() && expected[3].is_ok());
    assert!(matches!(expected[4], Response::Rejected { .. }));
    assert_eq!(batched.running_count(&wid("w1")), 1);
}

#[test]
fn batch_in_reverse_order_gives_other_outcomes() {
    // The assignment comes before the submission of its task: rejected, so order matters.
    let mut cmds = dependent_commands();
    cmds.swap(2, 3);
    let mut state = FarmState::new();
    let Response::Batch(got) = state.apply(Command::Batch(cmds)) else {
        panic!("a batch answers Response::Batch");
    };
    assert!(matches!(got[2], Response::Rejected { .. }), "{got:?}");
    assert!(got[3].is_ok());
    assert_eq!(state.running_count(&wid("w1")), 0);
    assert_eq!(state.pending_tasks().count(), 1);
}

#[test]
fn nested_batch_is_rejected_and_the_rest_applies() {
    let (first, _) = submit(&["linux/amd64"]);
    let (nested, _) = submit(&["linux/arm64"]);
    let (last, _) = submit(&["linux/arm64"]);
    let mut state = FarmState::new();
    let got = state.apply(Command::Batch(vec![
        first,
        Command::Batch(vec![nested]),
        last,
    ]));
    let Response::Batch(got) = got else {
        panic!("a batch answers Response::Batch, got {got:?}");
    };
    assert_eq!(got.len(), 3);
    assert!(got[0].is_ok() && got[2].is_ok());
    match &got[1] {
        Response::Rejected { reason } => assert!(reason.contains("do not nest"), "{reason}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    // The nested submission was not applied: two builds, not three.
    assert_eq!(state.builds().count(), 2);
}

#[test]
fn empty_batch_changes_nothing() {
    let mut state = FarmState::new();
    assert_eq!(
        state.apply(Command::Batch(Vec::new())),
        Response::Batch(Vec::new())
    );
    assert_eq!(state, FarmState::new());
}

#[test]
fn batch_round_trips_through_serde() {
    let cmd = Command::Batch(dependent_commands());
    let json = serde_json::to_vec(&cmd).expect("serializes");
    let back: Command = serde_json::from_slice(&json).expect("deserializes");
    assert_eq!(back, cmd);
}
