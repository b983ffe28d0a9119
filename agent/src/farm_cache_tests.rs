//! [`FarmCache`] against the in-process fake coordinator (its `LookupCache` and `FindBlob`)
//! and a real data-plane server over a peer's content store.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use slipway_dataplane::{BlobServer, BlobStoreDir};
use slipway_graph::Digest;
use slipway_oci::ContentStore;
use slipway_proto::v1;
use slipway_tls::Security;
use tokio_util::sync::CancellationToken;

use super::config::AgentTimings;
use super::coordinators::Coordinators;
use super::fake_coordinator::Fake;
use super::farm_cache::FarmCache;
use slipway_worker::remote::{CacheLayer, RemoteCache, RemoteCacheError};

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
    let index = Fake::default();
    *index.hits.lock().unwrap() = vec![v1::CacheHit {
        key: key.clone(),
        layers: vec![layer(&held, body.len() as u64).into()],
    }];
    // Our own address is skipped; the peer answers.
    *index.peers.lock().unwrap() = vec!["127.0.0.1:9".into(), peer_addr];
    let grpc = index.serve().await;
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

    serving.abort();
}
