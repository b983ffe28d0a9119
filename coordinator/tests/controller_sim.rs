//! Simulation: the leader controller's pure step ([`Controller::step`]) drives the real
//! state machine (`FarmState::apply`) and 1,000 fake agents, one 100 ms tick at a time
//! (seeded RNG: every run is the same).
//! - Agents (mixed native/emulated platforms, 1–3 slots) register, open their assignment
//!   stream (which starts with every task the state assigns them), renew every 1–1.3 s, run
//!   each task for a random 1–15 s, report `TaskStarted` and the outcome (1 in 200 fails),
//!   and drop what a renewal answer cancels. Reports made while there is no leader wait for
//!   the next one.
//! - Agents die (their tasks stop; the lease is left to expire) and come back later as a
//!   new incarnation.
//! - The leader changes every 4–12 s after an election gap of 0.3–1.5 s: streams close, the
//!   new leader starts from an empty lease table (every registered worker gets a full TTL
//!   from its first step), each of the 3 nodes keeps its own controller (stitches in flight).
//! - Builds (1–3 platform images, some after a shared amd64 stage) arrive over 12 s.
//!
//! The coordinator's `Register`, `Renew` and `Assignments` handlers (worker_api.rs) are
//! mirrored in a few lines; the controller, the scheduler, the leases and the state are the
//! real code.
//!
//! Checked: every action's command applies (the step decided from that state); an expiry
//! never names an incarnation that is still running; no task is assigned while an agent
//! still runs it and no agent starts a task another one runs; after each step no live
//! worker with a free slot could run a ready task that waits; no task is ever unplaceable;
//! a leader stitches every finished build within a second; at the end every task is final
//! and every build finished, failed only by an injected task failure or by losing its
//! worker too often. (A worker cut off from the leader while it keeps running is not
//! simulated: the farm runs its tasks again elsewhere and ignores its late results.)

use slipway_coordinator::farm::node::controller::{Action, Controller};
use slipway_coordinator::farm::node::leases::Leases;
use slipway_coordinator::farm::scheduler::retry_backoff_ms;
use slipway_coordinator::farm::state::{Command, FarmState, HistoryConfig, Response};
use slipway_farm::{
    BuildId, BuildSpec, BuildState, Failure, TaskId, TaskKind, TaskResult, TaskSpec, TaskState,
    WorkerId,
};
use slipway_graph::Platform;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

#[path = "controller_sim/world.rs"]
mod world;

use world::{blob, make_agents, make_builds, Agent, Held, Rng, BUILDS, WORKERS};

const TICK_MS: u64 = 100;
const TTL_MS: u64 = 3_000;
const RENEW_MS: u64 = 1_000;
const NODES: usize = 3;
/// Per agent and tick, in millionths: about 350 deaths over the run.
const DEATH_PER_MILLION: u64 = 700;
/// The run must end before this (simulated) time.
const HORIZON_MS: u64 = 600_000;

#[derive(Default, Debug)]
struct Stats {
    assigned: usize,
    expired: usize,
    deaths: usize,
    leader_changes: usize,
    injected_failures: usize,
    max_waiting: usize,
    max_held: usize,
    steps: usize,
    resteps: usize,
    canceled_on_renew: usize,
}

struct Sim {
    rng: Rng,
    now: u64,
    state: FarmState,
    agents: Vec<Agent>,
    index: BTreeMap<WorkerId, usize>,
    leader: Option<usize>,
    /// While there is no leader: when the next one is elected; else when it was.
    election_ms: u64,
    next_change_ms: u64,
    controllers: Vec<Controller>,
    leases: Leases,
    /// Stitches under way: (ends at, node, build).
    stitches: Vec<(u64, usize, BuildId)>,
    /// When each build was first seen `Stitching`.
    stitching_since: BTreeMap<BuildId, u64>,
    /// Which agent runs a task right now.
    executing: BTreeMap<TaskId, usize>,
    /// Builds still to submit, in arrival order.
    arrivals: VecDeque<(u64, BuildId, Vec<TaskSpec>)>,
    submitted: BTreeMap<TaskId, BuildId>,
    /// Builds (and their tasks) as they were when the history forgot them.
    forgotten: BTreeMap<BuildId, BuildState>,
    forgotten_tasks: BTreeSet<TaskId>,
    /// Builds a task failure was injected into.
    failed_on_purpose: BTreeSet<BuildId>,
    stats: Stats,
}

impl Sim {
    fn new(seed: u64) -> Sim {
        let mut rng = Rng(seed);
        let agents = make_agents(&mut rng);
        let arrivals = make_builds(&mut rng);
        let history = HistoryConfig {
            max_age_ms: 10_000,
            max_entries: 300,
        };
        Sim {
            index: agents
                .iter()
                .enumerate()
                .map(|(i, a)| (a.spec.id.clone(), i))
                .collect(),
            agents,
            rng,
            now: 0,
            state: FarmState::new(),
            leader: Some(0),
            election_ms: 0,
            next_change_ms: 6_000,
            controllers: vec![Controller::new(history); NODES],
            leases: Leases::new(TTL_MS),
            stitches: Vec::new(),
            stitching_since: BTreeMap::new(),
            executing: BTreeMap::new(),
            arrivals,
            submitted: BTreeMap::new(),
            forgotten: BTreeMap::new(),
            forgotten_tasks: BTreeSet::new(),
            failed_on_purpose: BTreeSet::new(),
            stats: Stats::default(),
        }
    }

    /// Applies through the leader; `None` while there is none.
    fn commit(&mut self, cmd: Command) -> Option<Response> {
        self.leader?;
        let r = self.state.apply(cmd.clone());
        assert!(
            !matches!(r, Response::Rejected { .. }),
            "at {} ms the state rejected {cmd:?}: {r:?}",
            self.now
        );
        Some(r)
    }

    fn registered(&self, i: usize) -> bool {
        let a = &self.agents[i];
        self.state
            .worker(&a.spec.id)
            .is_some_and(|w| w.is_active() && w.spec.incarnation == a.spec.incarnation)
    }

    fn leadership(&mut self) {
        let now = self.now;
        if self.leader.is_some() && now >= self.next_change_ms {
            // The leader steps down: it forgets its leases and closes every stream.
            self.leader = None;
            self.election_ms = now + self.rng.range(300, 1_500);
            for a in &mut self.agents {
                a.stream_open = false;
            }
        }
        if self.leader.is_none() && now >= self.election_ms {
            self.leader = Some(self.rng.range(0, NODES as u64 - 1) as usize);
            self.election_ms = now;
            self.leases = Leases::new(TTL_MS);
            self.next_change_ms = now + self.rng.range(4_000, 12_000);
            self.stats.leader_changes += 1;
            for a in &mut self.agents {
                a.retry_ms = now + self.rng.range(0, 500);
            }
        }
    }

    fn stitches(&mut self) {
        let now = self.now;
        let (done, left): (Vec<_>, Vec<_>) =
            self.stitches.drain(..).partition(|(at, _, _)| *at <= now);
        self.stitches = left;
        // A leader stitches what waits: each build within a second of its election or
        // of entering `Stitching` (a stitch takes at most 400 ms).
        let stitching: Vec<BuildId> = self.state.builds_stitching().map(|b| b.id).collect();
        self.stitching_since.retain(|b, _| stitching.contains(b));
        for b in stitching {
            let since = *self.stitching_since.entry(b).or_insert(now);
            let waited = now.saturating_sub(since.max(self.election_ms));
            assert!(
                self.leader.is_none() || waited <= 1_000,
                "at {now} ms build {b} has waited {waited} ms for its stitch under the leader"
            );
        }
        for (_, node, build) in done {
            self.controllers[node].stitch_done(&build);
            // A node commits only while it leads.
            if self.leader == Some(node) {
                self.commit(Command::BuildStitched {
                    build,
                    index: None,
                    at_ms: now,
                });
            }
        }
    }

    fn arrivals(&mut self) {
        while self.leader.is_some() && self.arrivals.front().is_some_and(|a| a.0 <= self.now) {
            let Some((_, id, tasks)) = self.arrivals.pop_front() else {
                break;
            };
            let platforms: Vec<Platform> = tasks
                .iter()
                .filter(|t| t.kind == TaskKind::Image)
                .map(|t| t.platform.clone())
                .collect();
            for t in &tasks {
                self.submitted.insert(t.id, id);
            }
            let spec = BuildSpec {
                name: format!("build {id}"),
                dockerfile: "FROM scratch\n".into(),
                dockerfile_name: "Dockerfile".into(),
                platforms,
                ..BuildSpec::default()
            };
            let cmd = Command::SubmitBuild {
                id,
                spec: Box::new(spec),
                tasks,
                at_ms: self.now,
            };
            assert_eq!(self.commit(cmd), Some(Response::Ok));
        }
    }

    /// An agent sends a report: now to the leader, or later.
    fn report(&mut self, i: usize, cmd: Command) {
        if self.leader.is_some() && self.agents[i].outbox.is_empty() {
            self.commit(cmd);
        } else {
            self.agents[i].outbox.push_back(cmd);
        }
    }

    fn start(&mut self, i: usize, task: TaskId, mut held: Held) {
        if let Some(other) = self.executing.insert(task, i) {
            panic!(
                "at {} ms {task} starts on {} while {} runs it",
                self.now, self.agents[i].spec.id, self.agents[other].spec.id
            );
        }
        held.until_ms = self.now + self.rng.range(1_000, 15_000);
        self.agents[i].running.insert(task, held);
        let worker = self.agents[i].spec.id.clone();
        let at_ms = self.now;
        self.report(
            i,
            Command::TaskStarted {
                task,
                worker,
                at_ms,
            },
        );
    }

    /// An assignment reaches the agent: it runs it, queues it, or ignores a duplicate.
    fn accept(&mut self, i: usize, task: TaskId) {
        let Some(t) = self.state.task(&task) else {
            return;
        };
        let held = Held {
            attempt: t.attempt,
            platform: t.spec.platform.clone(),
            until_ms: 0,
        };
        let a = &mut self.agents[i];
        if a.holds(&task) || a.finished.contains(&(task, held.attempt)) {
            return;
        }
        if a.running.len() < a.spec.slots as usize {
            self.start(i, task, held);
        } else {
            a.queued.push_back((task, held));
        }
    }

    fn finish(&mut self, i: usize, task: TaskId) {
        let Some(held) = self.agents[i].running.remove(&task) else {
            return;
        };
        self.executing.remove(&task);
        let worker = self.agents[i].spec.id.clone();
        self.agents[i].finished.insert((task, held.attempt));
        let cmd = if self.rng.range(0, 199) == 0 {
            if let Some(b) = self.submitted.get(&task) {
                self.failed_on_purpose.insert(*b);
            }
            self.stats.injected_failures += 1;
            Command::TaskFailed {
                task,
                worker: Some(worker),
                failure: Failure::Task {
                    task: String::new(),
                    message: "exit code 1".into(),
                },
                at_ms: self.now,
            }
        } else {
            let seed = format!("{task} {}", held.attempt);
            Command::TaskSucceeded {
                task,
                worker,
                result: TaskResult {
                    platform: held.platform,
                    manifest: blob(&seed),
                    config: blob(&format!("config {seed}")),
                    layers: vec![blob(&format!("layer {seed}"))],
                    cached: 0,
                    executed: 1,
                    cache: Vec::new(),
                },
                at_ms: self.now,
            }
        };
        self.report(i, cmd);
        let a = &mut self.agents[i];
        if a.running.len() < a.spec.slots as usize {
            if let Some((next, held)) = a.queued.pop_front() {
                self.start(i, next, held);
            }
        }
    }

    fn die(&mut self, i: usize) {
        let restart = self.now + self.rng.range(1_000, 15_000);
        let a = &mut self.agents[i];
        for t in a.running.keys() {
            self.executing.remove(t);
        }
        a.running.clear();
        a.queued.clear();
        a.outbox.clear();
        a.finished.clear();
        (a.up, a.registered, a.stream_open) = (false, false, false);
        a.restart_ms = restart;
        self.stats.deaths += 1;
    }

    /// `Register` as worker_api.rs serves it: commit, then a full lease.
    fn register(&mut self, i: usize) {
        let spec = self.agents[i].spec.clone();
        let (id, inc) = (spec.id.clone(), spec.incarnation);
        let at_ms = self.now;
        let applied = self.commit(Command::RegisterWorker { spec, at_ms }) == Some(Response::Ok);
        assert!(applied || self.registered(i), "{id} could not register");
        self.leases.grant(&id, inc, self.now);
        let next = self.next_renewal();
        let a = &mut self.agents[i];
        (a.registered, a.stream_open) = (true, false);
        a.next_renew_ms = next;
    }

    /// `Assignments` as worker_api.rs serves it: every non-final task assigned here.
    fn open_stream(&mut self, i: usize) {
        if !self.registered(i) {
            self.agents[i].registered = false;
            return;
        }
        self.agents[i].stream_open = true;
        let held: Vec<TaskId> = self
            .state
            .tasks_assigned_to(&self.agents[i].spec.id)
            .into_iter()
            .filter(|t| !t.state.is_final())
            .map(|t| t.spec.id)
            .collect();
        for t in held {
            self.accept(i, t);
        }
    }

    /// When an agent renewing now renews next: the period plus the call's own time.
    fn next_renewal(&mut self) -> u64 {
        self.now + RENEW_MS + self.rng.range(0, 300)
    }

    /// `Renew` as worker_api.rs serves it, and what the agent does with the answer.
    fn renew(&mut self, i: usize) {
        self.agents[i].next_renew_ms = self.next_renewal();
        if self.leader.is_none() {
            return;
        }
        let (id, inc) = (
            self.agents[i].spec.id.clone(),
            self.agents[i].spec.incarnation,
        );
        let a = &self.agents[i];
        let here: Vec<TaskId> = a
            .running
            .keys()
            .copied()
            .chain(a.queued.iter().map(|(t, _)| *t))
            .collect();
        let cancel: Vec<TaskId> = here
            .iter()
            .filter(|t| {
                self.state
                    .task(t)
                    .is_none_or(|r| r.state.worker() != Some(&id))
            })
            .copied()
            .collect();
        let resend: Vec<TaskId> = self
            .state
            .tasks_assigned_to(&id)
            .into_iter()
            .filter(|t| match &t.state {
                TaskState::Assigned { at_ms, .. } => {
                    !here.contains(&t.spec.id) && self.now.saturating_sub(*at_ms) > RENEW_MS
                }
                _ => false,
            })
            .map(|t| t.spec.id)
            .collect();
        let is_registered = self.registered(i);
        if self.leases.get(&id).is_none() && is_registered {
            self.leases.grant(&id, inc, self.now);
        }
        let known = is_registered && self.leases.renew(&id, inc, self.now);
        if !known {
            self.agents[i].registered = false;
            self.agents[i].retry_ms = self.now;
        }
        for t in cancel {
            self.stats.canceled_on_renew += 1;
            let a = &mut self.agents[i];
            a.queued.retain(|(q, _)| *q != t);
            if a.running.remove(&t).is_some() {
                self.executing.remove(&t);
            }
        }
        if known && self.agents[i].stream_open {
            for t in resend {
                self.accept(i, t);
            }
        }
        // Slots the cancellations freed.
        while self.agents[i].running.len() < self.agents[i].spec.slots as usize {
            let Some((next, held)) = self.agents[i].queued.pop_front() else {
                break;
            };
            self.start(i, next, held);
        }
    }

    fn agents(&mut self) {
        let now = self.now;
        for i in 0..self.agents.len() {
            if !self.agents[i].up {
                if now >= self.agents[i].restart_ms {
                    let inc = self.rng.uuid();
                    let a = &mut self.agents[i];
                    (a.spec.incarnation, a.up, a.retry_ms) = (inc, true, now);
                    a.next_renew_ms = u64::MAX;
                }
                continue;
            }
            if self.rng.range(0, 999_999) < DEATH_PER_MILLION {
                self.die(i);
                continue;
            }
            let done: Vec<TaskId> = self.agents[i]
                .running
                .iter()
                .filter(|(_, h)| h.until_ms <= now)
                .map(|(t, _)| *t)
                .collect();
            for t in done {
                self.finish(i, t);
            }
            // A renewal is tried every period; without a leader it fails and waits for the
            // next one.
            if self.agents[i].registered && now >= self.agents[i].next_renew_ms {
                self.renew(i);
            }
            if self.leader.is_none() {
                continue;
            }
            while let Some(cmd) = self.agents[i].outbox.pop_front() {
                self.commit(cmd);
            }
            let a = &self.agents[i];
            if !a.registered && now >= a.retry_ms {
                self.register(i);
            } else if a.registered && !a.stream_open && now >= a.retry_ms {
                self.open_stream(i);
            }
        }
    }

    fn execute(&mut self, node: usize, action: Action) {
        let now = self.now;
        if let Action::Stitch { build } = action {
            let done = now + self.rng.range(20, 400);
            self.stitches.push((done, node, build));
            return;
        }
        match &action {
            Action::ExpireWorker {
                worker,
                incarnation,
                ..
            } => {
                let a = &self.agents[self.index[worker]];
                assert!(
                    !(a.up && a.spec.incarnation == *incarnation),
                    "at {now} ms the leader expired {worker}, which is up and renews"
                );
                self.stats.expired += 1;
            }
            Action::Assign { task, worker, .. } => {
                if let Some(&other) = self.executing.get(task) {
                    panic!(
                        "at {now} ms {task} is assigned to {worker} while {} still runs it",
                        self.agents[other].spec.id
                    );
                }
                self.stats.assigned += 1;
            }
            Action::FailUnplaceable { task, message, .. } => {
                panic!("at {now} ms every platform has live workers, yet {task}: {message}")
            }
            Action::Forget { builds } => {
                for b in builds {
                    let Some(record) = self.state.build(b) else {
                        continue;
                    };
                    self.forgotten.insert(*b, record.state.clone());
                    for t in self.state.tasks_of(b) {
                        assert!(
                            t.state.is_final(),
                            "forgetting {} while it is {:?}",
                            t.spec.id,
                            t.state
                        );
                        self.forgotten_tasks.insert(t.spec.id);
                    }
                }
            }
            Action::Stitch { .. } => {}
        }
        let Some(cmd) = action.command(now) else {
            return;
        };
        let r = self.commit(cmd);
        assert_eq!(r, Some(Response::Ok), "at {now} ms {action:?}");
        match action {
            Action::ExpireWorker { worker, .. } => {
                self.leases.remove(&worker);
                let i = self.index[&worker];
                self.agents[i].stream_open = false;
            }
            Action::Assign { task, worker, .. } => {
                let i = self.index[&worker];
                let inc = self.state.worker(&worker).map(|w| w.spec.incarnation);
                let a = &self.agents[i];
                if a.up && a.stream_open && Some(a.spec.incarnation) == inc {
                    self.accept(i, task);
                }
            }
            _ => {}
        }
    }

    /// Held tasks of each worker with a live lease (`None` for the others).
    fn held_on_live(&self) -> Vec<Option<u32>> {
        self.agents
            .iter()
            .map(|a| match self.state.worker(&a.spec.id) {
                Some(w) if w.is_active() && self.leases.is_live(&a.spec.id, self.now) => {
                    Some(w.running())
                }
                _ => None,
            })
            .collect()
    }

    /// One wake-up of the leader's loop: a step, its actions; again when the actions freed
    /// a slot (a failed build cancels its other tasks: the real loop wakes on that applied
    /// entry too), then the work-conserving check.
    fn controller_round(&mut self) {
        let Some(node) = self.leader else {
            return;
        };
        for round in 0.. {
            assert!(
                round < 5,
                "at {} ms the controller does not settle",
                self.now
            );
            let before = self.held_on_live();
            let actions = self.controllers[node].step(&self.state, &mut self.leases, self.now);
            self.stats.steps += 1;
            for a in actions {
                self.execute(node, a);
            }
            let after = self.held_on_live();
            let freed = after
                .iter()
                .zip(&before)
                .any(|(a, b)| matches!((a, b), (Some(a), Some(b)) if a < b));
            if !freed {
                break;
            }
            self.stats.resteps += 1;
        }
        self.check_work_conserving();
    }

    /// No worker with a live lease and a free slot could run a ready task that waits (out
    /// of its retry backoff).
    fn check_work_conserving(&mut self) {
        let now = self.now;
        let mut waiting: BTreeMap<&Platform, usize> = BTreeMap::new();
        for t in self.state.ready_tasks() {
            let not_before = match (t.requeued_ms, t.attempt) {
                (Some(at), a) if a >= 2 => at.saturating_add(retry_backoff_ms(a)),
                _ => 0,
            };
            if not_before <= now {
                *waiting.entry(&t.spec.platform).or_default() += 1;
            }
        }
        self.stats.max_waiting = self.stats.max_waiting.max(waiting.values().sum());
        let held: usize = self.state.workers().map(|w| w.running() as usize).sum();
        self.stats.max_held = self.stats.max_held.max(held);
        for w in self.state.workers() {
            let capable = w.is_active()
                && !w.draining
                && w.free_slots() > 0
                && self.leases.is_live(&w.spec.id, now);
            if !capable {
                continue;
            }
            if let Some((p, n)) = waiting
                .iter()
                .find(|(p, _)| w.spec.platforms.placement(p).is_some())
            {
                panic!(
                    "at {now} ms {} has {} free slots and runs {p}, but {n} ready tasks of it wait",
                    w.spec.id,
                    w.free_slots()
                );
            }
        }
    }

    fn all_ended(&self) -> bool {
        self.arrivals.is_empty()
            && self.submitted.keys().all(|t| {
                self.forgotten_tasks.contains(t)
                    || self.state.task(t).is_some_and(|r| r.state.is_final())
            })
            && self.state.builds().all(|b| b.state.is_final())
    }
}

#[test]
fn thousand_workers_with_deaths_and_leader_changes_lose_no_task() {
    let started = Instant::now();
    let mut sim = Sim::new(0x5eed_c0de_0005_0001);
    while !sim.all_ended() {
        assert!(
            sim.now < HORIZON_MS,
            "the run did not end by {HORIZON_MS} ms"
        );
        sim.now += TICK_MS;
        sim.leadership();
        sim.stitches();
        sim.arrivals();
        sim.agents();
        sim.controller_round();
    }

    // Every task ended; every build finished, and failed only for a reason it was given.
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut builds: BTreeMap<BuildId, BuildState> = sim.forgotten.clone();
    builds.extend(sim.state.builds().map(|b| (b.id, b.state.clone())));
    assert_eq!(builds.len(), BUILDS);
    for (id, state) in &builds {
        *outcomes.entry(state.name()).or_default() += 1;
        match state {
            BuildState::Succeeded { .. } => {}
            BuildState::Failed { failure } => assert!(
                sim.failed_on_purpose.contains(id) || matches!(failure, Failure::WorkerLost { .. }),
                "build {id} failed: {failure}"
            ),
            other => panic!("build {id} ended {other:?}"),
        }
    }
    for (t, b) in &sim.submitted {
        let ended = sim.forgotten_tasks.contains(t)
            || sim.state.task(t).is_some_and(|r| r.state.is_final());
        assert!(ended, "task {t} of build {b} never ended");
    }
    assert!(
        sim.executing.is_empty()
            || sim.executing.keys().all(|t| {
                sim.forgotten_tasks.contains(t)
                    || sim.state.task(t).is_some_and(|r| r.state.is_final())
            })
    );
    assert!(sim.stats.deaths > 100, "{:?}", sim.stats);
    assert!(sim.stats.expired > 50, "{:?}", sim.stats);
    assert!(sim.stats.leader_changes >= 3, "{:?}", sim.stats);
    assert!(
        sim.stats.max_waiting > 0,
        "no task ever waited: {:?}",
        sim.stats
    );
    eprintln!(
        "controller sim: {WORKERS} workers, {} tasks of {BUILDS} builds ({outcomes:?}), \
         simulated {:.0} s in {:.1?}; {:?}",
        sim.submitted.len(),
        sim.now as f64 / 1000.0,
        started.elapsed(),
        sim.stats,
    );
}
