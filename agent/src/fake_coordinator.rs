//! A fake coordinator for the agent's unit tests: a tonic `WorkerApi` server in process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use slipway_farm::TaskSpec;
use slipway_proto::v1::{self, worker_api_server::WorkerApi};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status};

type AssignmentStream = ReceiverStream<Result<v1::Assignment, Status>>;
type AssignmentSender = mpsc::Sender<Result<v1::Assignment, Status>>;

/// What the fake was told.
#[derive(Default)]
pub(super) struct Seen {
    pub registers: Vec<v1::WorkerSpec>,
    pub renews: usize,
    pub started: Vec<String>,
    pub finished: Vec<v1::TaskOutcome>,
    pub recorded: Vec<String>,
    pub progress: usize,
}

/// An in-process coordinator: registrations, leases, assignments, reports and the cache
/// index as a leader answers them (the second renewal says the worker is unknown).
#[derive(Clone, Default)]
pub(super) struct Fake {
    seen: Arc<Mutex<Seen>>,
    /// Every assignment made, re-sent (unless finished) on each new stream, as the leader
    /// does; and the sender of the newest stream.
    assigned: Arc<Mutex<Vec<v1::Assignment>>>,
    stream: Arc<Mutex<Option<AssignmentSender>>>,
    /// What `FindBlob` answers.
    pub peers: Arc<Mutex<Vec<String>>>,
    /// What `LookupCache` knows, and how often it was asked.
    pub hits: Arc<Mutex<Vec<v1::CacheHit>>>,
    pub lookups: Arc<AtomicUsize>,
}

impl Fake {
    /// Serves the fake on a loopback port; its address.
    pub(super) async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(slipway_proto::limits::worker_api_server(self.clone()))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        addr
    }

    pub(super) fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Assigns `task` (sent on the open stream, if any).
    pub(super) fn assign(&self, task: &TaskSpec) {
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
        r: Request<v1::CacheQuery>,
    ) -> Result<Response<v1::CacheAnswer>, Status> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let keys = r.into_inner().keys;
        let hits = self
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| keys.contains(&h.key))
            .cloned()
            .collect();
        Ok(Response::new(v1::CacheAnswer { hits }))
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
