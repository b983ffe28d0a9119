//! The simulated world of `controller_sim`: the seeded RNG, 1,000 agents with mixed
//! platforms and slots, and the builds that arrive.

use slipway_coordinator::farm::state::Command;
use slipway_farm::{
    BlobDescriptor, BuildId, PlatformSupport, TaskId, TaskKind, TaskSpec, WorkerSpec,
};
use slipway_graph::{Digest, Graph, Platform};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use uuid::Uuid;

pub const WORKERS: usize = 1_000;
pub const BUILDS: usize = 2_000;

/// xorshift64*: tiny, seeded, good enough for a simulation.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

pub fn p(s: &str) -> Platform {
    s.parse().expect("valid platform")
}

pub fn blob(seed: &str) -> BlobDescriptor {
    BlobDescriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: Digest::of_bytes(seed.as_bytes()),
        size: 42,
    }
}

/// A task the agent holds: which attempt and platform, and (running) when it ends.
#[derive(Clone)]
pub struct Held {
    pub attempt: u32,
    pub platform: Platform,
    pub until_ms: u64,
}

pub struct Agent {
    pub spec: WorkerSpec,
    /// The process runs.
    pub up: bool,
    /// The leader accepted this incarnation's registration.
    pub registered: bool,
    pub stream_open: bool,
    /// The next registration or stream attempt is not before this (backoff).
    pub retry_ms: u64,
    pub next_renew_ms: u64,
    pub running: BTreeMap<TaskId, Held>,
    pub queued: VecDeque<(TaskId, Held)>,
    /// (task, attempt) this incarnation finished: a re-sent assignment is ignored.
    pub finished: BTreeSet<(TaskId, u32)>,
    /// Reports no leader has taken yet.
    pub outbox: VecDeque<Command>,
    pub restart_ms: u64,
}

impl Agent {
    pub fn holds(&self, task: &TaskId) -> bool {
        self.running.contains_key(task) || self.queued.iter().any(|(t, _)| t == task)
    }
}

pub fn make_agents(rng: &mut Rng) -> Vec<Agent> {
    let foreign = [
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
                    if emulate { foreign.to_vec() } else { vec![] },
                ),
                10..=16 => (
                    vec!["linux/arm64", "linux/arm/v7"],
                    if emulate { vec!["linux/amd64"] } else { vec![] },
                ),
                17 | 18 => (vec!["linux/ppc64le"], vec![]),
                _ => (vec!["linux/s390x"], vec!["linux/amd64"]),
            };
            let name = format!("w{i:04}");
            Agent {
                spec: WorkerSpec {
                    id: name.parse().expect("valid worker id"),
                    incarnation: rng.uuid(),
                    platforms: PlatformSupport {
                        native: native.into_iter().map(p).collect(),
                        emulated: emulated.into_iter().map(p).collect(),
                    },
                    slots: rng.range(1, 3) as u32,
                    labels: BTreeMap::new(),
                    data_addr: format!("{name}:7000"),
                },
                up: true,
                registered: false,
                stream_open: false,
                retry_ms: rng.range(0, 999),
                next_renew_ms: u64::MAX,
                running: BTreeMap::new(),
                queued: VecDeque::new(),
                finished: BTreeSet::new(),
                outbox: VecDeque::new(),
                restart_ms: 0,
            }
        })
        .collect()
}

/// A task with nothing set but what the scheduler and the state look at (built through
/// serde so that the simulation names only those fields).
fn task_template() -> TaskSpec {
    let t = serde_json::json!({
        "id": TaskId(Uuid::nil()),
        "build": BuildId(Uuid::nil()),
        "name": "",
        "platform": p("linux/amd64"),
        "graph": Graph::new(),
        "depends_on": [],
        "no_cache": false,
        "pull": false,
        "affinity": [],
    });
    serde_json::from_value(t).expect("a minimal task spec")
}

pub fn make_builds(rng: &mut Rng) -> VecDeque<(u64, BuildId, Vec<TaskSpec>)> {
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
    let template = task_template();
    let mut next_id = 1u128;
    let mut id = || {
        next_id += 1;
        Uuid::from_u128(next_id)
    };
    let mut at_ms = 1_000;
    (0..BUILDS)
        .map(|_| {
            at_ms += rng.range(0, 12);
            let build = BuildId(id());
            let mut tasks = Vec::new();
            let mut stage = None;
            if rng.range(0, 9) < 3 {
                let mut t = template.clone();
                (t.id, t.build, t.kind) = (TaskId(id()), build, TaskKind::Stage);
                t.name = "stage build".into();
                stage = Some(t.id);
                tasks.push(t);
            }
            let mut chosen: BTreeSet<usize> = BTreeSet::new();
            for _ in 0..rng.range(1, 3) {
                // Weighted: amd64 and arm64 most, the rest sometimes.
                chosen.insert(match rng.range(0, 99) {
                    0..=44 => 0,
                    45..=79 => 1,
                    80..=89 => 2,
                    90..=94 => 3,
                    _ => 4,
                });
            }
            for &i in &chosen {
                let mut t = template.clone();
                (t.id, t.build) = (TaskId(id()), build);
                t.platform = platforms[i].clone();
                t.name = t.platform.to_string();
                t.depends_on = stage.into_iter().collect();
                t.affinity = vec![Digest::of_bytes(format!("base {}", i).as_bytes())];
                tasks.push(t);
            }
            (at_ms, build, tasks)
        })
        .collect()
}
