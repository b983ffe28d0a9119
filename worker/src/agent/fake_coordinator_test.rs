//! The agent against an in-process fake coordinator (a tonic `WorkerApi` server) and a
//! real worker (copy snapshots; the Dockerfile only COPYs, so no container runs): the
//! client's context upload is recorded, a duplicate assignment runs once, the task
//! finishes with its image, a lease the leader forgot is registered again, and a context
//! that only a peer holds is fetched from the peer's data plane and recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slipway_farm::{ContextRef, TaskId, TaskSpec};
use slipway_graph::Platform;
use slipway_proto::v1::{self, worker_api_server::WorkerApi};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{Agent, AgentConfig, AgentTimings};
use crate::executor::{BoxFuture, ExecError, Executor, ExitStatus, ProcessIo, RunSpec};
use crate::snapshot::BackendChoice;
use crate::{Worker, WorkerConfig};

type AssignmentStream = ReceiverStream<Result<v1::Assignment, Status>>;
type AssignmentSender = mpsc::Sender<Result<v1::Assignment, Status>>;

#[derive(Default)]
struct Seen {
    registers: Vec<v1::WorkerSpec>,
    renews: usize,
    started: Vec<String>,
    finished: Vec<v1::TaskOutcome>,
    recorded: Vec<String>,
    progress: usize,
}

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Seen>>,
    /// Every assignment made, re-sent (unless finished) on each new stream, as the leader
    /// does; and the sender of the newest stream.
    assigned: Arc<Mutex<Vec<v1::Assignment>>>,
    stream: Arc<Mutex<Option<AssignmentSender>>>,
    /// What `FindBlob` answers.
    peers: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Assigns `task` (sent on the open stream, if any).
    fn assign(&self, task: &TaskSpec) {
        let a = v1::Assignment {
            task: Some(v1::TaskSpec::try_from(task.clone()).unwrap()),
            attempt: 0,
            inputs: vec![],
        };
        self.assigned.lock().unwrap().push(a.clone());
        if let Some(tx) = self.stream.lock().unwrap().as_ref() {
            let _ = tx.try_send(Ok(a));
        }
    }
}

#[tonic::async_trait]
impl WorkerApi for Fake {
    async fn register(
        &self,
        r: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        let spec = r
            .into_inner()
            .spec
            .ok_or_else(|| Status::invalid_argument("spec"))?;
        self.seen().registers.push(spec);
        Ok(Response::new(v1::RegisterResponse {
            lease_ttl_ms: 3_000,
            renew_interval_ms: 50,
        }))
    }

    async fn renew(
        &self,
        _r: Request<v1::RenewRequest>,
    ) -> Result<Response<v1::RenewResponse>, Status> {
        let mut seen = self.seen();
        seen.renews += 1;
        // the second renewal: the leader forgot this worker
        let known = seen.renews != 2;
        Ok(Response::new(v1::RenewResponse {
            known,
            cancel: vec![],
            gc: vec![],
        }))
    }

    type AssignmentsStream = AssignmentStream;

    async fn assignments(
        &self,
        _r: Request<v1::AssignmentsRequest>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        let (tx, rx) = mpsc::channel(64);
        let finished: Vec<String> = self
            .seen()
            .finished
            .iter()
            .map(|o| o.task_id.clone())
            .collect();
        for a in self.assigned.lock().unwrap().iter() {
            let id = a.task.as_ref().map(|t| t.id.clone()).unwrap_or_default();
            if !finished.contains(&id) {
                let _ = tx.try_send(Ok(a.clone()));
            }
        }
        *self.stream.lock().unwrap() = Some(tx);
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn started(&self, r: Request<v1::TaskRef>) -> Result<Response<v1::Ack>, Status> {
        self.seen().started.push(r.into_inner().task_id);
        Ok(Response::new(v1::Ack {}))
    }

    async fn progress(
        &self,
        r: Request<tonic::Streaming<v1::ProgressReport>>,
    ) -> Result<Response<v1::Ack>, Status> {
        let mut s = r.into_inner();
        while let Some(_report) = s.message().await? {
            self.seen().progress += 1;
        }
        Ok(Response::new(v1::Ack {}))
    }

    async fn finish(&self, r: Request<v1::TaskOutcome>) -> Result<Response<v1::Ack>, Status> {
        self.seen().finished.push(r.into_inner());
        Ok(Response::new(v1::Ack {}))
    }

    async fn record_blob(&self, r: Request<v1::BlobLocation>) -> Result<Response<v1::Ack>, Status> {
        self.seen().recorded.push(r.into_inner().digest);
        Ok(Response::new(v1::Ack {}))
    }

    async fn find_blob(
        &self,
        _r: Request<v1::BlobRef>,
    ) -> Result<Response<v1::BlobLocations>, Status> {
        let data_addrs = self.peers.lock().unwrap().clone();
        Ok(Response::new(v1::BlobLocations { data_addrs }))
    }

    async fn lookup_cache(
        &self,
        _r: Request<v1::CacheQuery>,
    ) -> Result<Response<v1::CacheAnswer>, Status> {
        Ok(Response::new(v1::CacheAnswer { hits: vec![] }))
    }

    async fn record_cache(
        &self,
        _r: Request<v1::CacheRecords>,
    ) -> Result<Response<v1::Ack>, Status> {
        Ok(Response::new(v1::Ack {}))
    }

    async fn forget_blobs(
        &self,
        _r: Request<v1::ForgottenBlobs>,
    ) -> Result<Response<v1::Ack>, Status> {
        Ok(Response::new(v1::Ack {}))
    }

    async fn gc_done(&self, _r: Request<v1::GcResult>) -> Result<Response<v1::Ack>, Status> {
        Ok(Response::new(v1::Ack {}))
    }

    async fn get_secrets(
        &self,
        _r: Request<v1::SecretsRequest>,
    ) -> Result<Response<v1::SecretsResponse>, Status> {
        Ok(Response::new(v1::SecretsResponse { secrets: vec![] }))
    }

    type SshForwardStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<v1::SshFrame, Status>> + Send + 'static>,
    >;

    async fn ssh_forward(
        &self,
        _r: Request<tonic::Streaming<v1::SshFrame>>,
    ) -> Result<Response<Self::SshForwardStream>, Status> {
        Err(Status::unimplemented("no ssh forwarding in this test"))
    }
}

/// Refuses to run anything: the test's Dockerfile has no RUN.
struct NoRuns;

impl Executor for NoRuns {
    fn run<'a>(
        &'a self,
        _spec: RunSpec,
        _io: ProcessIo,
        _cancel: CancellationToken,
    ) -> BoxFuture<'a, crate::executor::Result<ExitStatus>> {
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

    let fake = Fake {
        seen: Arc::default(),
        assigned: Arc::default(),
        stream: Arc::default(),
        peers: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(slipway_proto::limits::worker_api_server(fake.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

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
        id: TaskId::new(),
        build: slipway_farm::BuildId::new(),
        name: "linux/amd64".into(),
        platform: platform.clone(),
        kind: Default::default(),
        graph: graph.clone(),
        depends_on: vec![],
        context: Some(ContextRef {
            digest: digest.clone(),
            size: size as u64,
            kind: Default::default(),
        }),
        push: None,
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
    server.abort();

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
