//! Simulation: the scheduler places 10,000 tasks of builds arriving over time on 1,000
//! workers with mixed platform sets; tasks finish after random durations (seeded RNG, so
//! every run is the same). Checked at every step: every decision is valid, no worker holds
//! more tasks than slots, an emulated placement only happens when no native worker for the
//! platform has a free slot, and after each round no worker with a free slot could run a
//! task that still waits. Per-decision timings are printed (p50/p99), not asserted: the
//! benchmark (`cargo bench -p slipway-coordinator --bench scheduler`) measures them in a
//! release build.

use slipway_coordinator::farm::scheduler::{
    Decision, PendingTask, Placer, ScheduleInput, WorkerLoad,
};
use slipway_farm::{BuildId, Placement, PlatformSupport, TaskId, WorkerId};
use slipway_graph::{Digest, Platform};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

const WORKERS: usize = 1_000;
const TASKS: usize = 10_000;

/// xorshift64*: tiny, seeded, good enough for a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn p(s: &str) -> Platform {
    s.parse().expect("valid platform")
}

struct SimWorker {
    id: WorkerId,
    support: PlatformSupport,
    slots: u32,
    running: u32,
}

struct Sim {
    workers: Vec<SimWorker>,
    index: HashMap<WorkerId, usize>,
    platforms: Vec<Platform>,
    /// Waiting (arrived, not placed) tasks per platform.
    waiting: HashMap<Platform, usize>,
}

impl Sim {
    fn free_capable(&self, platform: &Platform, only: Option<Placement>) -> Option<&SimWorker> {
        self.workers.iter().find(|w| {
            w.running < w.slots
                && match only {
                    Some(pl) => w.support.placement(platform) == Some(pl),
                    None => w.support.placement(platform).is_some(),
                }
        })
    }
}

fn make_workers(rng: &mut Rng) -> Vec<SimWorker> {
    let all_foreign = [
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
    ];
    (0..WORKERS)
        .map(|i| {
            let emulate = rng.next().is_multiple_of(2);
            let (native, emulated): (Vec<&str>, Vec<&str>) = match i % 20 {
                0..=9 => (
                    vec!["linux/amd64"],
                    if emulate {
                        all_foreign.to_vec()
                    } else {
                        vec![]
                    },
                ),
                10..=16 => (
                    vec!["linux/arm64", "linux/arm/v7"],
                    if emulate { vec!["linux/amd64"] } else { vec![] },
                ),
                17 | 18 => (vec!["linux/ppc64le"], vec![]),
                _ => (vec!["linux/s390x"], vec!["linux/amd64"]),
            };
            SimWorker {
                id: format!("w{i:04}").parse().expect("valid worker id"),
                support: PlatformSupport {
                    native: native.into_iter().map(p).collect(),
                    emulated: emulated.into_iter().map(p).collect(),
                },
                slots: rng.range(1, 4) as u32,
                running: 0,
            }
        })
        .collect()
}

struct Arrival {
    at_ms: u64,
    tasks: Vec<PendingTask>,
}

fn make_builds(rng: &mut Rng, platforms: &[Platform], bases: &[Digest]) -> Vec<Arrival> {
    let mut arrivals = Vec::new();
    let mut total = 0;
    let mut at_ms = 0;
    while total < TASKS {
        let build = BuildId::new();
        let n = (rng.range(1, 9) as usize).min(TASKS - total);
        total += n;
        at_ms += rng.range(0, 100);
        let ctx = Digest::of_bytes(format!("context {build}").as_bytes());
        let tasks = (0..n)
            .map(|_| {
                // Weighted: amd64 and arm64 most, the rest sometimes.
                let platform = match rng.range(0, 99) {
                    0..=44 => &platforms[0],
                    45..=79 => &platforms[1],
                    80..=89 => &platforms[2],
                    90..=94 => &platforms[3],
                    _ => &platforms[4],
                };
                let base = &bases[rng.range(0, bases.len() as u64 - 1) as usize];
                PendingTask {
                    id: TaskId::new(),
                    build,
                    build_submitted_ms: at_ms,
                    platform: platform.clone(),
                    affinity: vec![base.clone(), ctx.clone()],
                    not_before_ms: 0,
                }
            })
            .collect();
        arrivals.push(Arrival { at_ms, tasks });
    }
    arrivals
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[test]
fn thousand_workers_ten_thousand_tasks() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let platforms: Vec<Platform> = [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
    ]
    .into_iter()
    .map(p)
    .collect();
    let bases: Vec<Digest> = (0..20)
        .map(|i| Digest::of_bytes(format!("base image {i}").as_bytes()))
        .collect();
    let workers = make_workers(&mut rng);
    let mut input = ScheduleInput::new();
    for w in &workers {
        let held: BTreeSet<Digest> = (0..3)
            .map(|_| bases[rng.range(0, bases.len() as u64 - 1) as usize].clone())
            .collect();
        input.add_worker(WorkerLoad {
            id: w.id.clone(),
            platforms: w.support.clone(),
            slots: w.slots,
            running: 0,
            held,
        });
    }
    let mut sim = Sim {
        index: workers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.id.clone(), i))
            .collect(),
        workers,
        platforms: platforms.clone(),
        waiting: HashMap::new(),
    };
    let arrivals = make_builds(&mut rng, &platforms, &bases);
    let task_platform: HashMap<TaskId, Platform> = arrivals
        .iter()
        .flat_map(|a| a.tasks.iter().map(|t| (t.id, t.platform.clone())))
        .collect();
    assert_eq!(task_platform.len(), TASKS);

    let mut next_arrival = 0;
    // (finish time, task, worker index)
    let mut finishing: BinaryHeap<Reverse<(u64, TaskId, usize)>> = BinaryHeap::new();
    let mut placed: HashSet<TaskId> = HashSet::new();
    let mut timings: Vec<Duration> = Vec::with_capacity(TASKS);
    let mut rounds = 0usize;
    let mut emulated = 0usize;
    let mut now: u64 = 0;

    loop {
        let arrival_at = arrivals.get(next_arrival).map(|a| a.at_ms);
        let finish_at = finishing.peek().map(|Reverse((t, _, _))| *t);
        now = match (arrival_at, finish_at) {
            (None, None) => break,
            (Some(a), None) => a,
            (None, Some(f)) => f,
            (Some(a), Some(f)) => a.min(f),
        };
        while let Some(Reverse((t, _, w))) = finishing.peek().copied() {
            if t != now {
                break;
            }
            finishing.pop();
            let worker = &mut sim.workers[w];
            worker.running -= 1;
            assert!(input.set_running(&worker.id, worker.running));
        }
        while let Some(a) = arrivals.get(next_arrival).filter(|a| a.at_ms == now) {
            for t in &a.tasks {
                *sim.waiting.entry(t.platform.clone()).or_default() += 1;
                input.add_task(t.clone());
            }
            next_arrival += 1;
        }

        // One round: time each decision (the round's setup counts for its first one).
        rounds += 1;
        let mut start = Instant::now();
        let mut decisions = Vec::new();
        for d in Placer::new(&input, now) {
            timings.push(start.elapsed());
            decisions.push(d);
            start = Instant::now();
        }

        for d in &decisions {
            let Decision::Assign {
                task,
                worker,
                placement,
            } = d
            else {
                panic!("every platform has workers, yet {d:?}");
            };
            let platform = &task_platform[task];
            let w = sim.index[worker];
            assert_eq!(
                sim.workers[w].support.placement(platform),
                Some(*placement),
                "{worker} runs {platform} as placed"
            );
            assert!(
                sim.workers[w].running < sim.workers[w].slots,
                "{worker} would exceed its {} slots",
                sim.workers[w].slots
            );
            if *placement == Placement::Emulated {
                emulated += 1;
                if let Some(native) = sim.free_capable(platform, Some(Placement::Native)) {
                    panic!("{task} emulated on {worker} while {} runs {platform} natively with a free slot", native.id);
                }
            }
            assert!(placed.insert(*task), "{task} placed twice");
            sim.workers[w].running += 1;
            if let Some(n) = sim.waiting.get_mut(platform) {
                *n -= 1;
            }
            input.apply(d);
            let duration = rng.range(10, 600) * 100;
            finishing.push(Reverse((now + duration, *task, w)));
        }

        // Work-conserving: nothing that waits could run on a free worker.
        for platform in &sim.platforms {
            if sim.waiting.get(platform).copied().unwrap_or(0) > 0 {
                if let Some(w) = sim.free_capable(platform, None) {
                    panic!(
                        "at {now} ms {} has a free slot and runs {platform}, but {} tasks of it wait",
                        w.id, sim.waiting[platform]
                    );
                }
            }
        }
        assert_eq!(input.task_count(), sim.waiting.values().sum::<usize>());
    }

    assert_eq!(placed.len(), TASKS, "every task placed once");
    assert_eq!(input.task_count(), 0);
    assert!(sim.workers.iter().all(|w| w.running == 0));
    timings.sort();
    eprintln!(
        "scheduler sim: {} workers, {} tasks, {} rounds, {} emulated placements, simulated {:.0} s; \
         per decision p50 {:?} p99 {:?} max {:?} (debug builds are slower; see the bench)",
        WORKERS,
        TASKS,
        rounds,
        emulated,
        now as f64 / 1000.0,
        percentile(&timings, 0.5),
        percentile(&timings, 0.99),
        timings.last().copied().unwrap_or_default(),
    );
}
