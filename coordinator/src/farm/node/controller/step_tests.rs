//! [`Controller::step`] over small states: expiry from a new leader's table, placement and
//! unplaceable tasks, stitches handed out once, history checked once a second.

use super::step::{Action, Controller, HISTORY_CHECK_MS};
use crate::farm::node::leases::Leases;
use crate::farm::state::test_support::{build_spec, platform, result_for, task_spec, worker_spec};
use crate::farm::state::{Command, FarmState, HistoryConfig, Response};
use slipway_farm::{BuildId, BuildState, Placement, TaskId, WorkerSpec};

const TTL: u64 = 1_000;

fn ok(st: &mut FarmState, cmd: Command) {
    let r = st.apply(cmd.clone());
    assert_eq!(r, Response::Ok, "{cmd:?}");
}

fn register(st: &mut FarmState, name: &str, native: &[&str]) -> WorkerSpec {
    let spec = worker_spec(name, native, &[], 2);
    ok(
        st,
        Command::RegisterWorker {
            spec: spec.clone(),
            at_ms: 1,
        },
    );
    spec
}

fn submit(st: &mut FarmState, p: &str) -> (BuildId, TaskId) {
    let id = BuildId::new();
    let task = task_spec(id, platform(p));
    let t = task.id;
    ok(
        st,
        Command::SubmitBuild {
            id,
            spec: Box::new(build_spec(&[p])),
            tasks: vec![task],
            at_ms: 2,
        },
    );
    (id, t)
}

/// Applies every action's command (they must all apply) and returns the actions.
fn step_and_apply(
    c: &mut Controller,
    st: &mut FarmState,
    leases: &mut Leases,
    now: u64,
) -> Vec<Action> {
    let actions = c.step(st, leases, now);
    for a in &actions {
        if let Some(cmd) = a.command(now) {
            ok(st, cmd);
        }
    }
    actions
}

#[test]
fn a_new_leader_grants_a_full_ttl_then_expires_the_silent_worker() {
    let mut st = FarmState::new();
    let w = register(&mut st, "w1", &["linux/amd64"]);
    let mut c = Controller::new(HistoryConfig::default());
    let mut leases = Leases::new(TTL);
    assert!(c.step(&st, &mut leases, 50_000).is_empty());
    assert!(c.step(&st, &mut leases, 50_000 + TTL).is_empty());
    let actions = c.step(&st, &mut leases, 50_001 + TTL);
    assert_eq!(
        actions,
        vec![Action::ExpireWorker {
            worker: w.id.clone(),
            incarnation: w.incarnation,
            reason: format!("lease expired (no renewal within {TTL} ms)"),
        }]
    );
    // Until the driver drops the lease after the commit, the next step asks again.
    assert_eq!(c.step(&st, &mut leases, 50_002 + TTL), actions);
}

#[test]
fn places_ready_tasks_on_live_workers_and_fails_the_unplaceable_first() {
    let mut st = FarmState::new();
    let amd = register(&mut st, "w1", &["linux/amd64"]);
    let arm = register(&mut st, "w2", &["linux/arm64"]);
    let (_, on_amd) = submit(&mut st, "linux/amd64");
    let (_, on_arm) = submit(&mut st, "linux/arm64");
    let (_, on_riscv) = submit(&mut st, "linux/riscv64");
    let mut c = Controller::new(HistoryConfig::default());
    let mut leases = Leases::new(TTL);
    leases.grant(&amd.id, amd.incarnation, 1_000);
    // w2's lease ran out: it gets nothing, and nobody else runs arm64.
    leases.grant(&arm.id, arm.incarnation, 0);
    let actions = step_and_apply(&mut c, &mut st, &mut leases, 1_500);
    assert!(matches!(&actions[0], Action::ExpireWorker { worker, .. } if *worker == arm.id));
    let failed: Vec<TaskId> = actions
        .iter()
        .filter_map(|a| match a {
            Action::FailUnplaceable { task, message, .. } => {
                assert!(message.contains("no worker runs platform"), "{message}");
                Some(*task)
            }
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(failed.contains(&on_arm) && failed.contains(&on_riscv));
    assert_eq!(
        actions.last(),
        Some(&Action::Assign {
            task: on_amd,
            worker: amd.id.clone(),
            placement: Placement::Native,
        })
    );
    assert_eq!(actions.len(), 4, "{actions:?}");
    assert_eq!(st.running_count(&amd.id), 1);
}

#[test]
fn a_stitch_is_handed_out_once_until_it_reports_back() {
    let mut st = FarmState::new();
    let w = register(&mut st, "w1", &["linux/amd64"]);
    let (build, task) = submit(&mut st, "linux/amd64");
    let mut c = Controller::new(HistoryConfig::default());
    let mut leases = Leases::new(TTL);
    step_and_apply(&mut c, &mut st, &mut leases, 10);
    ok(
        &mut st,
        Command::TaskSucceeded {
            task,
            worker: w.id.clone(),
            result: result_for(&platform("linux/amd64")),
            at_ms: 20,
        },
    );
    let stitch = Action::Stitch { build };
    assert_eq!(c.step(&st, &mut leases, 30), vec![stitch.clone()]);
    assert_eq!(stitch.command(30), None);
    assert!(c.step(&st, &mut leases, 40).is_empty());
    assert_eq!(c.stitching().collect::<Vec<_>>(), vec![&build]);
    // The stitch ended without a commit (e.g. a push failed on a leader that lost office).
    c.stitch_done(&build);
    assert_eq!(c.step(&st, &mut leases, 50), vec![stitch]);
    c.stitch_done(&build);
    ok(
        &mut st,
        Command::BuildStitched {
            build,
            index: None,
            at_ms: 60,
        },
    );
    assert!(c.step(&st, &mut leases, 70).is_empty());
}

#[test]
fn the_history_is_checked_at_most_once_a_second() {
    let mut st = FarmState::new();
    let (old, _) = submit(&mut st, "linux/amd64");
    let (new, _) = submit(&mut st, "linux/amd64");
    for (build, at_ms) in [(old, 100), (new, 200)] {
        ok(&mut st, Command::CancelBuild { build, at_ms });
    }
    let history = HistoryConfig {
        max_entries: 1,
        ..HistoryConfig::default()
    };
    let mut c = Controller::new(history);
    let mut leases = Leases::new(TTL);
    let t = 5_000;
    let forget = Action::Forget { builds: vec![old] };
    assert_eq!(c.step(&st, &mut leases, t), vec![forget.clone()]);
    // The commit did not happen (e.g. no quorum): asked again a second later, not before.
    assert!(c
        .step(&st, &mut leases, t + HISTORY_CHECK_MS - 1)
        .is_empty());
    let actions = step_and_apply(&mut c, &mut st, &mut leases, t + HISTORY_CHECK_MS);
    assert_eq!(actions, vec![forget]);
    assert!(st.build(&old).is_none());
    assert!(matches!(
        st.build(&new).map(|b| &b.state),
        Some(BuildState::Canceled)
    ));
    assert!(c
        .step(&st, &mut leases, t + 3 * HISTORY_CHECK_MS)
        .is_empty());
}
