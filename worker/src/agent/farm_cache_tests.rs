//! [`FarmCache`] against an in-process fake coordinator (only `LookupCache` and `FindBlob`
//! answer) and a real data-plane server over a peer's content store.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slipway_dataplane::{BlobServer, BlobStoreDir};
use slipway_graph::Digest;
use slipway_oci::ContentStore;
use slipway_proto::v1::{self, worker_api_server::WorkerApi};
use slipway_tls::Security;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::config::AgentTimings;
use super::coordinators::Coordinators;
use super::farm_cache::FarmCache;
use crate::remote::{CacheLayer, RemoteCache, RemoteCacheError};

#[derive(Clone)]
struct Index {
    hits: Vec<v1::CacheHit>,
    holders: Vec<String>,
    lookups: Arc<AtomicUsize>,
}

fn no(what: &str) -> Status {
    Status::unimplemented(format!("{what} is not part of this fake"))
}

#[tonic::async_trait]
impl WorkerApi for Index {
    async fn register(
        &self,
        _r: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        Err(no("Register"))
    }
    async fn renew(
        &self,
        _r: Request<v1::RenewRequest>,
    ) -> Result<Response<v1::RenewResponse>, Status> {
        Err(no("Renew"))
    }
    type AssignmentsStream = tokio_stream::Empty<Result<v1::Assignment, Status>>;
    async fn assignments(
        &self,
        _r: Request<v1::AssignmentsRequest>,
    ) -> Result<Response<Self::AssignmentsStream>, Status> {
        Err(no("Assignments"))
    }
    async fn started(&self, _r: Request<v1::TaskRef>) -> Result<Response<v1::Ack>, Status> {
        Err(no("Started"))
    }
    async fn progress(
        &self,
        _r: Request<tonic::Streaming<v1::ProgressReport>>,
    ) -> Result<Response<v1::Ack>, Status> {
        Err(no("Progress"))
    }
    async fn finish(&self, _r: Request<v1::TaskOutcome>) -> Result<Response<v1::Ack>, Status> {
        Err(no("Finish"))
    }
    async fn record_blob(
        &self,
        _r: Request<v1::BlobLocation>,
    ) -> Result<Response<v1::Ack>, Status> {
        Err(no("RecordBlob"))
    }
    async fn find_blob(
        &self,
        _r: Request<v1::BlobRef>,
    ) -> Result<Response<v1::BlobLocations>, Status> {
        Ok(Response::new(v1::BlobLocations {
            data_addrs: self.holders.clone(),
        }))
    }
    async fn lookup_cache(
        &self,
        r: Request<v1::CacheQuery>,
    ) -> Result<Response<v1::CacheAnswer>, Status> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let keys = r.into_inner().keys;
        Ok(Response::new(v1::CacheAnswer {
            hits: self
                .hits
                .iter()
                .filter(|h| keys.contains(&h.key))
                .cloned()
                .collect(),
        }))
    }
    async fn record_cache(
        &self,
        _r: Request<v1::CacheRecords>,
    ) -> Result<Response<v1::Ack>, Status> {
        Err(no("RecordCache"))
    }
    async fn forget_blobs(
        &self,
        _r: Request<v1::ForgottenBlobs>,
    ) -> Result<Response<v1::Ack>, Status> {
        Err(no("ForgetBlobs"))
    }

    async fn gc_done(&self, _r: Request<v1::GcResult>) -> Result<Response<v1::Ack>, Status> {
        Err(no("GcDone"))
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

fn layer(digest: &slipway_oci::Digest, size: u64) -> CacheLayer {
    CacheLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        digest: digest.to_string(),
        size,
        diff_id: Digest::of_bytes(b"diff").to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn looks_up_memoizes_misses_and_fetches_from_a_peer() {
    slipway_tls::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    // The peer: a content store holding the layer, served by the data plane.
    let peer_store = ContentStore::open(tmp.path().join("peer")).unwrap();
    let body = b"a layer's bytes".repeat(1000);
    let held = peer_store.put_bytes(&body).unwrap();
    let dir = BlobStoreDir::open(peer_store.root()).unwrap();
    let server = BlobServer::bind("127.0.0.1:0".parse().unwrap(), &Security::Insecure, dir)
        .await
        .unwrap();
    let peer_addr = server.local_addr().to_string();
    let serving = tokio::spawn(async move { server.serve().await });

    let key = "ab".repeat(32);
    let index = Index {
        hits: vec![v1::CacheHit {
            key: key.clone(),
            layers: vec![layer(&held, body.len() as u64).into()],
        }],
        // Our own address is skipped; the peer answers.
        holders: vec!["127.0.0.1:9".into(), peer_addr],
        lookups: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = listener.local_addr().unwrap().to_string();
    let grpc_server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(slipway_proto::limits::worker_api_server(index.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    let timings = AgentTimings {
        request_timeout: Duration::from_secs(2),
        ..AgentTimings::default()
    };
    let coordinators = Arc::new(Coordinators::new(&[grpc], &Security::Insecure, timings).unwrap());
    let cache = FarmCache::new(
        coordinators,
        Security::Insecure,
        "127.0.0.1:9".into(),
        CancellationToken::new(),
    );

    let miss = "cd".repeat(32);
    assert_eq!(cache.lookup(&miss).await.unwrap(), None);
    assert_eq!(cache.lookup(&miss).await.unwrap(), None);
    assert_eq!(
        index.lookups.load(Ordering::SeqCst),
        1,
        "a miss is asked once"
    );
    let layers = cache.lookup(&key).await.unwrap().expect("a hit");
    assert_eq!(layers, vec![layer(&held, body.len() as u64)]);

    let local = ContentStore::open(tmp.path().join("local")).unwrap();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    cache.fetch(&layers[0], &local, &scratch).await.unwrap();
    assert_eq!(local.read_blob(&held).unwrap(), body);
    assert_eq!(cache.fetched_bytes(), body.len() as u64);
    // Already here: nothing moves.
    cache.fetch(&layers[0], &local, &scratch).await.unwrap();
    assert_eq!(cache.fetched_bytes(), body.len() as u64);
    assert_eq!(
        std::fs::read_dir(&scratch).unwrap().count(),
        0,
        "no download left behind"
    );

    // A blob no peer holds.
    let absent = layer(&slipway_oci::Digest::of(b"nobody has this"), 3);
    let e = cache.fetch(&absent, &local, &scratch).await.unwrap_err();
    assert!(matches!(e, RemoteCacheError::BlobUnavailable { .. }), "{e}");

    grpc_server.abort();
    serving.abort();
}
