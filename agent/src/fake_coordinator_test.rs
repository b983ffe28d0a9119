//! The agent against an in-process fake coordinator (a tonic `WorkerApi` server) and a
//! real worker (copy snapshots; the Dockerfile only COPYs, so no container runs): the
//! client's context upload is recorded, a duplicate assignment runs once, the task
//! finishes with its image, a lease the leader forgot is registered again, and a context
//! that only a peer holds is fetched from the peer's data plane and recorded.

use std::sync::Arc;
use std::time::Duration;

use slipway_farm::{ContextRef, TaskId, TaskSpec};
use slipway_graph::Platform;
use slipway_proto::v1;
use tokio_util::sync::CancellationToken;

use super::fake_coordinator::Fake;
use super::{Agent, AgentConfig, AgentTimings};
use slipway_worker::executor::{BoxFuture, ExecError, Executor, ExitStatus, ProcessIo, RunSpec};
use slipway_worker::snapshot::BackendChoice;
use slipway_worker::{Worker, WorkerConfig};

/// Refuses to run anything: the test's Dockerfile has no RUN.
struct NoRuns;

impl Executor for NoRuns {
    fn run<'a>(
        &'a self,
        _spec: RunSpec,
        _io: ProcessIo,
        _cancel: CancellationToken,
    ) -> BoxFuture<'a, slipway_worker::executor::Result<ExitStatus>> {
        Box::pin(async { Err(ExecError::EmptyCommand) })
    }
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn context_tar(data: &[u8]) -> (Vec<u8>, slipway_graph::Digest) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "a.txt", data).unwrap();
    let bytes = b.into_inner().unwrap();
    let digest = slipway_graph::Digest::of_bytes(&bytes);
    (bytes, digest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_an_assigned_task_once_and_re_registers() {
    let tmp = tempfile::tempdir().unwrap();
    let worker = Worker::with_executor(
        WorkerConfig {
            data_dir: tmp.path().join("data"),
            snapshot_backend: BackendChoice::Copy,
            ..WorkerConfig::default()
        },
        Arc::new(NoRuns),
    )
    .unwrap();

    let fake = Fake::default();
    let grpc = fake.serve().await;

    let mut config = AgentConfig::new(
        "agent-test".parse().unwrap(),
        // a dead address first: the agent moves on to the fake
        vec!["127.0.0.1:1".into(), grpc],
    );
    config.slots = 2;
    config.timings = AgentTimings {
        request_timeout: Duration::from_secs(2),
        backoff_max: Duration::from_millis(200),
        ..AgentTimings::default()
    };
    let cancel = CancellationToken::new();
    let agent = tokio::spawn(Agent::run(config, worker, cancel.clone()));

    wait_for("registration", || !fake.seen().registers.is_empty()).await;
    let spec = fake.seen().registers[0].clone();
    assert_eq!(spec.id, "agent-test");
    assert_eq!(spec.slots, 2);
    assert!(!spec.platforms.as_ref().unwrap().native.is_empty());

    // the client uploads the context to the worker's data plane
    let (tar, digest) = context_tar(b"from the context\n");
    let tar_path = tmp.path().join("ctx.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    let client = slipway_dataplane::BlobClient::connect(
        spec.data_addr.as_str(),
        &slipway_tls::Security::Insecure,
    )
    .await
    .unwrap();
    client.put(&digest, &tar_path).await.unwrap();
    wait_for("the upload to be recorded", || {
        fake.seen().recorded.contains(&digest.to_string())
    })
    .await;

    let platform = Platform::linux("amd64", "");
    let graph = slipway_frontend::lower(
        "FROM scratch\nCOPY a.txt /\n",
        &slipway_frontend::LowerOptions {
            platforms: vec![platform.clone()],
            ..Default::default()
        },
        &slipway_frontend::StaticResolver::new(),
    )
    .unwrap();
    let task_with = |digest: &slipway_graph::Digest, size: usize| TaskSpec {
        docker_media_types: false,
        id: TaskId::new(),
        build: slipway_farm::BuildId::new(),
        name: "linux/amd64".into(),
        platform: platform.clone(),
        kind: Default::default(),
        graph: graph.clone(),
        depends_on: vec![],
        context: Some(ContextRef {
            path: None,
            digest: digest.clone(),
            size: size as u64,
            kind: Default::default(),
        }),
        pushes: Vec::new(),
        no_cache: false,
        pull: false,
        source_date_epoch: None,
        affinity: vec![],
        cache_from: vec![],
        cache_to: vec![],
        named_contexts: Default::default(),
        allow: Default::default(),
    };
    let task = task_with(&digest, tar.len());
    fake.assign(&task);
    fake.assign(&task); // a duplicate while it runs
    wait_for("the outcome", || !fake.seen().finished.is_empty()).await;
    wait_for("a re-registration", || fake.seen().registers.len() >= 2).await;

    // a second task whose context only a peer's data plane holds
    let peer_dir = tmp.path().join("peer");
    let peer = slipway_dataplane::BlobServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        &slipway_tls::Security::Insecure,
        slipway_dataplane::BlobStoreDir::open(&peer_dir).unwrap(),
    )
    .await
    .unwrap();
    let (tar2, digest2) = context_tar(b"from a peer\n");
    let tar2_path = tmp.path().join("ctx2.tar");
    std::fs::write(&tar2_path, &tar2).unwrap();
    let to_peer = slipway_dataplane::BlobClient::connect(
        peer.local_addr().to_string().as_str(),
        &slipway_tls::Security::Insecure,
    )
    .await
    .unwrap();
    to_peer.put(&digest2, &tar2_path).await.unwrap();
    fake.peers
        .lock()
        .unwrap()
        .push(peer.local_addr().to_string());
    let task2 = task_with(&digest2, tar2.len());
    fake.assign(&task2);
    wait_for("the second outcome", || fake.seen().finished.len() >= 2).await;
    // give a wrongly re-run duplicate the time to show up
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel();
    agent.await.unwrap().unwrap();

    let seen = fake.seen();
    assert_eq!(
        seen.started,
        vec![task.id.to_string(), task2.id.to_string()],
        "each task started once"
    );
    assert_eq!(seen.finished.len(), 2, "each task finished once");
    for outcome in &seen.finished {
        let result = match &outcome.outcome {
            Some(v1::task_outcome::Outcome::Result(r)) => r.clone(),
            other => panic!("task failed: {other:?}"),
        };
        let result = slipway_farm::TaskResult::try_from(result).unwrap();
        assert_eq!(result.layers.len(), 1, "{result:?}");
        assert_eq!(result.platform, Platform::linux("amd64", ""));
        assert!(result.executed >= 1, "{result:?}");
    }
    assert_ne!(
        seen.finished[0].outcome, seen.finished[1].outcome,
        "different contexts, different layers"
    );
    assert!(
        seen.recorded.contains(&digest2.to_string()),
        "the fetched context is recorded: {:?}",
        seen.recorded
    );
    assert!(seen.progress > 0, "progress was streamed");
    assert_eq!(seen.registers[1].incarnation, spec.incarnation);
}
