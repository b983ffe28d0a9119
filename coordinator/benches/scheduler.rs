//! One placement decision at 1,000 workers and 10,000 pending tasks (issue #5: p99 < 1 ms).
//!
//! `cargo bench -p slipway-coordinator --bench scheduler` prints, before criterion's
//! report, p50/p99 of single decisions timed one by one, then criterion measures:
//! - `first_decision`: a new round (`Placer::new`: load and free-slot counters) plus its
//!   first decision, every worker with a free slot;
//! - `decision_in_round`: one decision inside a round (setup excluded);
//! - `from_state_and_round`: building the input from a `FarmState` with 1,000 workers and
//!   10,000 ready tasks, then a whole round (what the leader does per tick).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use slipway_coordinator::farm::scheduler::{
    schedule, PendingTask, Placer, ScheduleInput, WorkerLoad,
};
use slipway_coordinator::farm::state::{Command, FarmState};
use slipway_farm::{BuildId, BuildSpec, PlatformSupport, TaskId, TaskSpec, WorkerId, WorkerSpec};
use slipway_graph::{Digest, Graph, Platform};
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::{Duration, Instant};

const WORKERS: usize = 1_000;
const TASKS: usize = 10_000;

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
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn platforms() -> Vec<Platform> {
    [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
        "linux/s390x",
    ]
    .into_iter()
    .map(|s| s.parse().expect("valid platform"))
    .collect()
}

fn support(i: usize, ps: &[Platform]) -> PlatformSupport {
    match i % 10 {
        0..=4 => PlatformSupport {
            native: vec![ps[0].clone()],
            emulated: ps[1..].to_vec(),
        },
        5..=8 => PlatformSupport {
            native: vec![ps[1].clone(), ps[2].clone()],
            emulated: vec![ps[0].clone()],
        },
        _ => PlatformSupport {
            native: vec![ps[3].clone(), ps[4].clone()],
            emulated: vec![],
        },
    }
}

fn worker_id(i: usize) -> WorkerId {
    format!("w{i:04}").parse().expect("valid worker id")
}

struct Setup {
    ps: Vec<Platform>,
    bases: Vec<Digest>,
    tasks: Vec<(BuildId, u64, Platform, Vec<Digest>)>,
}

fn setup() -> Setup {
    let mut rng = Rng(0x00be_0c4a_11ce_0042);
    let ps = platforms();
    let bases: Vec<Digest> = (0..50)
        .map(|i| Digest::of_bytes(format!("base {i}").as_bytes()))
        .collect();
    let mut tasks = Vec::with_capacity(TASKS);
    let mut build = BuildId::new();
    for i in 0..TASKS {
        if i % 5 == 0 {
            build = BuildId::new();
        }
        let ctx = Digest::of_bytes(format!("ctx {build}").as_bytes());
        tasks.push((
            build,
            (i / 5) as u64,
            ps[rng.below(ps.len())].clone(),
            vec![bases[rng.below(bases.len())].clone(), ctx],
        ));
    }
    Setup { ps, bases, tasks }
}

fn input(s: &Setup) -> ScheduleInput {
    let mut rng = Rng(7);
    let mut input = ScheduleInput::new();
    for i in 0..WORKERS {
        let held: BTreeSet<Digest> = (0..5)
            .map(|_| s.bases[rng.below(s.bases.len())].clone())
            .collect();
        input.add_worker(WorkerLoad {
            id: worker_id(i),
            platforms: support(i, &s.ps),
            slots: 4,
            running: (i % 4) as u32,
            held,
        });
    }
    for (build, at, platform, affinity) in &s.tasks {
        input.add_task(PendingTask {
            id: TaskId::new(),
            build: *build,
            build_submitted_ms: *at,
            platform: platform.clone(),
            affinity: affinity.clone(),
            not_before_ms: 0,
        });
    }
    input
}

fn state(s: &Setup) -> (FarmState, Vec<WorkerId>) {
    let mut state = FarmState::new();
    let mut ids = Vec::new();
    for i in 0..WORKERS {
        let spec = WorkerSpec {
            id: worker_id(i),
            incarnation: uuid::Uuid::new_v4(),
            platforms: support(i, &s.ps),
            slots: 4,
            labels: BTreeMap::new(),
            data_addr: format!("10.0.0.{}:7000", i % 250),
        };
        ids.push(spec.id.clone());
        state.apply(Command::RegisterWorker { spec, at_ms: 1 });
    }
    let mut by_build: BTreeMap<BuildId, Vec<TaskSpec>> = BTreeMap::new();
    for (build, _, platform, affinity) in &s.tasks {
        by_build.entry(*build).or_default().push(TaskSpec {
            id: TaskId::new(),
            build: *build,
            name: platform.to_string(),
            platform: platform.clone(),
            kind: Default::default(),
            graph: Graph::new(),
            depends_on: vec![],
            context: None,
            pushes: Vec::new(),
            no_cache: false,
            pull: false,
            source_date_epoch: None,
            affinity: affinity.clone(),
            cache_from: vec![],
            cache_to: vec![],
            named_contexts: Default::default(),
            allow: Default::default(),
            docker_media_types: false,
        });
    }
    for (id, tasks) in by_build {
        state.apply(Command::SubmitBuild {
            id,
            spec: Box::new(BuildSpec {
                dockerfile: "FROM scratch\n".into(),
                dockerfile_name: "Dockerfile".into(),
                ..BuildSpec::default()
            }),
            tasks,
            at_ms: 2,
        });
    }
    (state, ids)
}

/// Times 2,000 decisions one by one (each a new round's setup plus its first decision,
/// on inputs that follow the previous decisions) and prints p50/p99.
fn print_percentiles(s: &Setup) {
    let mut input = input(s);
    let mut times: Vec<Duration> = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let start = Instant::now();
        let d = Placer::new(&input, 0).next();
        times.push(start.elapsed());
        match d {
            Some(d) => input.apply(&d),
            None => break,
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "scheduler: {WORKERS} workers, {TASKS} pending tasks: one decision (round setup + first decision) \
         p50 {:?}, p99 {:?}, max {:?} over {} decisions",
        at(0.5),
        at(0.99),
        times.last().copied().unwrap_or_default(),
        times.len()
    );
}

fn bench(c: &mut Criterion) {
    let s = setup();
    print_percentiles(&s);
    let input = input(&s);
    c.bench_function("first_decision", |b| {
        b.iter(|| black_box(Placer::new(black_box(&input), 0).next()))
    });
    c.bench_function("decision_in_round", |b| {
        b.iter_batched_ref(
            || Placer::new(&input, 0),
            |placer| black_box(placer.next()),
            BatchSize::SmallInput,
        )
    });
    let (state, live) = state(&s);
    let mut group = c.benchmark_group("round");
    group.sample_size(10);
    group.bench_function("from_state_and_round", |b| {
        b.iter(|| {
            let input = ScheduleInput::from_state(black_box(&state), &live);
            black_box(schedule(&input, 0).len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
