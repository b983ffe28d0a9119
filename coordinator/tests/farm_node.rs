//! Three in-process coordinators on ephemeral ports and a fake worker driven through the
//! real WorkerApi client: a FROM-scratch build reaches Succeeded (no push), and a platform
//! no worker runs is refused at once, naming the platform; a retried submission (same
//! client-chosen id) names the first build; finished builds beyond the history limit are
//! forgotten; disk-usage and prune calls reach the workers and come back.
//!
//! The fake worker is a test driver: it "runs" a task by reporting Started, one progress
//! event and a result with made-up descriptors.

use slipway_coordinator::farm::node::{FarmNode, NodeConfig};
use slipway_coordinator::farm::state::HistoryConfig;
use slipway_proto::limits::{control_client, worker_api_client};
use slipway_proto::v1;
use slipway_proto::v1::build_event::Event;
use slipway_proto::v1::build_state::State as BuildStateKind;
use slipway_tls::Security;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

async fn channel(addr: &str) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

struct Cluster {
    nodes: Vec<FarmNode>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Cluster {
    async fn start() -> Cluster {
        Cluster::start_with(HistoryConfig::default()).await
    }

    async fn start_with(history: HistoryConfig) -> Cluster {
        let mut nodes = Vec::new();
        let mut dirs = Vec::new();
        for id in 1..=3u64 {
            let dir = tempfile::tempdir().unwrap();
            let node = FarmNode::start(NodeConfig {
                node_id: id,
                listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().to_path_buf(),
                security: Security::Insecure,
                lease_ttl_ms: 3_000,
                history: history.clone(),
                ..NodeConfig::default()
            })
            .await
            .unwrap();
            nodes.push(node);
            dirs.push(dir);
        }
        let members: BTreeMap<u64, String> = nodes
            .iter()
            .map(|n| (n.node_id(), n.advertise().to_string()))
            .collect();
        nodes[0].initialize(members).await.unwrap();
        let c = Cluster { nodes, _dirs: dirs };
        c.leader().await;
        c
    }

    /// The index of the leader, once every node knows it.
    async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let leaders: Vec<Option<u64>> = self.nodes.iter().map(|n| n.cluster().leader).collect();
            if let Some(Some(l)) = leaders.first() {
                if leaders.iter().all(|x| *x == Some(*l)) {
                    if let Some(i) = self.nodes.iter().position(|n| n.node_id() == *l) {
                        return i;
                    }
                }
            }
            assert!(Instant::now() < deadline, "no leader elected: {leaders:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A node that is not the leader (calls through it are forwarded).
    async fn follower_addr(&self) -> String {
        let l = self.leader().await;
        self.nodes[(l + 1) % 3].advertise().to_string()
    }

    async fn stop(self) {
        for n in self.nodes {
            n.shutdown().await.unwrap();
        }
    }
}

/// Registers a worker running linux/amd64 and answers every assignment with a result.
async fn fake_worker(addr: &str) -> tokio::task::JoinHandle<()> {
    let mut api = worker_api_client(channel(addr).await);
    let incarnation = uuid::Uuid::new_v4().to_string();
    let spec = v1::WorkerSpec {
        id: "fake-1".into(),
        incarnation: incarnation.clone(),
        platforms: Some(v1::PlatformSupport {
            native: vec!["linux/amd64".into()],
            emulated: vec![],
        }),
        slots: 2,
        labels: BTreeMap::new(),
        data_addr: "127.0.0.1:1".into(),
    };
    let reg = api
        .register(v1::RegisterRequest { spec: Some(spec) })
        .await
        .unwrap()
        .into_inner();
    assert!(reg.lease_ttl_ms > 0 && reg.renew_interval_ms > 0);
    let mut assignments = api
        .assignments(v1::AssignmentsRequest {
            worker_id: "fake-1".into(),
            incarnation: incarnation.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut renewer = api.clone();
    let inc = incarnation.clone();
    let interval = Duration::from_millis(reg.renew_interval_ms);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            let r = renewer
                .renew(v1::RenewRequest {
                    worker_id: "fake-1".into(),
                    incarnation: inc.clone(),
                    running: vec![],
                })
                .await;
            let Ok(r) = r else {
                return;
            };
            // Disk-usage and prune orders: answered with made-up figures (a prune
            // frees what its keep_bytes leaves over 1000 bytes).
            for order in r.into_inner().gc {
                let freed = order
                    .prune
                    .as_ref()
                    .map_or(0, |p| 1000 - p.keep_bytes.unwrap_or(0).min(1000));
                let result = v1::GcResult {
                    worker_id: "fake-1".into(),
                    order_id: order.id,
                    bytes: 1000 - freed,
                    entries: 3,
                    reclaimable: 900,
                    bytes_freed: freed,
                    entries_removed: u64::from(freed > 0),
                    ..Default::default()
                };
                if renewer.gc_done(result).await.is_err() {
                    return;
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(a)) = assignments.next().await {
            let task = a.task.unwrap();
            let tref = v1::TaskRef {
                task_id: task.id.clone(),
                worker_id: "fake-1".into(),
            };
            api.started(tref).await.unwrap();
            let report = v1::ProgressReport {
                task_id: task.id.clone(),
                worker_id: "fake-1".into(),
                event_json: br#"{"fake":true}"#.to_vec(),
            };
            api.progress(tokio_stream::iter(vec![report]))
                .await
                .unwrap();
            let blob = |what: &str| v1::BlobDescriptor {
                media_type: OCI_MANIFEST.into(),
                digest: slipway_graph::Digest::of_bytes(format!("{what}{}", task.id).as_bytes())
                    .to_string(),
                size: 42,
            };
            let outcome = v1::TaskOutcome {
                task_id: task.id.clone(),
                worker_id: "fake-1".into(),
                outcome: Some(v1::task_outcome::Outcome::Result(v1::TaskResult {
                    platform: task.platform.clone(),
                    manifest: Some(blob("manifest")),
                    config: Some(blob("config")),
                    layers: vec![],
                    cached: 0,
                    executed: 1,
                    cache: vec![],
                })),
            };
            api.finish(outcome).await.unwrap();
        }
    })
}

fn spec(platforms: &[&str]) -> v1::BuildSpec {
    v1::BuildSpec {
        name: "scratch".into(),
        dockerfile: "FROM scratch\nLABEL farm=yes\n".into(),
        dockerfile_name: "Dockerfile".into(),
        platforms: platforms.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scratch_build_succeeds_through_a_follower() {
    let cluster = Cluster::start().await;
    let follower = cluster.follower_addr().await;
    let _worker = fake_worker(&follower).await;
    let mut control = control_client(channel(&follower).await);

    let build_id = submit_amd64(&mut control).await;
    let mut events = control
        .watch(v1::WatchRequest {
            build_id: build_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut last_build = None;
    let mut saw_task = false;
    let watched = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(ev) = events.next().await {
            match ev.unwrap().event {
                Some(Event::Build(b)) => last_build = Some(b),
                Some(Event::Task(t)) => {
                    assert_eq!(t.platform, "linux/amd64");
                    saw_task = true;
                }
                Some(Event::Progress(_)) | None => {}
            }
        }
    })
    .await;
    assert!(watched.is_ok(), "the watch stream did not end");
    assert!(saw_task);
    let state = last_build
        .and_then(|b| b.state)
        .and_then(|s| s.state)
        .expect("a final build summary");
    assert!(
        matches!(state, BuildStateKind::Succeeded(_)),
        "build ended as {state:?}"
    );

    let detail = control
        .get_build(v1::BuildRef { build_id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.tasks.len(), 1);
    assert_eq!(detail.tasks[0].worker.as_deref(), Some("fake-1"));
    assert!(detail.tasks[0].result.is_some());

    let workers = control
        .list_workers(v1::ListWorkersRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(workers.workers.len(), 1);
    assert!(workers.workers[0].alive);
    assert_eq!(workers.workers[0].assigned_total, 1);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_platform_no_worker_runs_fails_at_once() {
    let cluster = Cluster::start().await;
    let follower = cluster.follower_addr().await;
    let _worker = fake_worker(&follower).await;
    let mut control = control_client(channel(&follower).await);
    let started = Instant::now();
    let err = control
        .submit(v1::SubmitRequest {
            spec: Some(spec(&["linux/amd64", "linux/riscv64"])),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(err.message(), "no worker runs platform linux/riscv64");
    cluster.stop().await;
}

/// Submits the scratch build for linux/amd64; returns its id.
async fn submit_amd64(
    control: &mut slipway_proto::v1::control_client::ControlClient<Channel>,
) -> String {
    control
        .submit(v1::SubmitRequest {
            spec: Some(spec(&["linux/amd64"])),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .build_id
}

/// Waits until `build` reaches a final state; returns the state.
async fn wait_final(
    control: &mut slipway_proto::v1::control_client::ControlClient<Channel>,
    build_id: &str,
) -> BuildStateKind {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let detail = control
            .get_build(v1::BuildRef {
                build_id: build_id.to_string(),
            })
            .await
            .unwrap()
            .into_inner();
        let state = detail.summary.and_then(|s| s.state).and_then(|s| s.state);
        if let Some(st) = state {
            if matches!(
                st,
                BuildStateKind::Succeeded(_)
                    | BuildStateKind::Failed(_)
                    | BuildStateKind::Canceled(_)
            ) {
                return st;
            }
        }
        assert!(Instant::now() < deadline, "build {build_id} did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_submission_names_the_first_build() {
    let cluster = Cluster::start().await;
    let follower = cluster.follower_addr().await;
    let _worker = fake_worker(&follower).await;
    let mut control = control_client(channel(&follower).await);
    let id = uuid::Uuid::now_v7().to_string();
    let submit = |spec: v1::BuildSpec| v1::SubmitRequest {
        spec: Some(spec),
        build_id: id.clone(),
    };
    let first = control
        .submit(submit(spec(&["linux/amd64"])))
        .await
        .unwrap()
        .into_inner()
        .build_id;
    assert_eq!(first, id, "the client's id names the build");
    let again = control
        .submit(submit(spec(&["linux/amd64"])))
        .await
        .unwrap()
        .into_inner()
        .build_id;
    assert_eq!(again, id);
    wait_final(&mut control, &id).await;
    // Even after it finished, a retry does not start a second build.
    control
        .submit(submit(spec(&["linux/amd64"])))
        .await
        .unwrap();
    let builds = control
        .list_builds(v1::ListBuildsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .builds;
    assert_eq!(builds.len(), 1, "{builds:?}");
    let detail = control
        .get_build(v1::BuildRef {
            build_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(detail.tasks.len(), 1, "the task ran once");

    // The same id with another spec is a client error, not a silent answer.
    let mut other = spec(&["linux/amd64"]);
    other.dockerfile = "FROM scratch\nLABEL other=yes\n".into();
    let err = control.submit(submit(other)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::AlreadyExists, "{err:?}");
    assert!(err.message().contains(&id), "{}", err.message());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finished_builds_beyond_the_history_limit_are_forgotten() {
    let cluster = Cluster::start_with(HistoryConfig {
        max_entries: 2,
        ..HistoryConfig::default()
    })
    .await;
    let follower = cluster.follower_addr().await;
    let _worker = fake_worker(&follower).await;
    let mut control = control_client(channel(&follower).await);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = submit_amd64(&mut control).await;
        wait_final(&mut control, &id).await;
        ids.push(id);
    }
    // The leader looks once a second; the oldest build goes, on every coordinator.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = control
            .get_build(v1::BuildRef {
                build_id: ids[0].clone(),
            })
            .await;
        match r {
            Err(s) if s.code() == tonic::Code::NotFound => break,
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "build {} was never forgotten",
            ids[0]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed: Vec<String> = control
        .list_builds(v1::ListBuildsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .builds
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.contains(&ids[1]) && listed.contains(&ids[2]),
        "{listed:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn disk_usage_and_prune_reach_the_workers_through_a_follower() {
    let cluster = Cluster::start().await;
    let follower = cluster.follower_addr().await;
    let _worker = fake_worker(&follower).await;
    let mut control = control_client(channel(&follower).await);

    let du = control
        .disk_usage(v1::DiskUsageRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(du.workers.len(), 1, "{du:?}");
    let w = &du.workers[0];
    assert_eq!(
        (w.worker_id.as_str(), w.bytes, w.entries),
        ("fake-1", 1000, 3)
    );
    assert!(w.error.is_empty(), "{}", w.error);

    let pruned = control
        .prune(v1::PruneRequest {
            worker_id: Some("fake-1".into()),
            options: Some(v1::GcOptions {
                keep_bytes: Some(400),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pruned.workers.len(), 1, "{pruned:?}");
    assert_eq!(
        pruned.workers[0].bytes_freed, 600,
        "the options reached the worker"
    );
    assert_eq!(pruned.workers[0].bytes_remaining, 400);

    let unknown = control
        .disk_usage(v1::DiskUsageRequest {
            worker_id: Some("nobody".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(
        unknown.message().contains("nobody"),
        "{}",
        unknown.message()
    );
    cluster.stop().await;
}
