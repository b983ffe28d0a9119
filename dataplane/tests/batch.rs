//! Batch presence checks and quiet uploads over a real quinn connection (insecure mode).

use slipway_dataplane::{
    BlobClient, BlobServer, BlobStoreDir, Digest, PutOptions, PutOutcome, MAX_BATCH,
};
use slipway_tls::Security;
use std::net::SocketAddr;
use std::sync::Arc;

fn install() {
    slipway_tls::install_crypto_provider();
}

#[tokio::test]
async fn missing_answers_in_batches_and_quiet_puts_are_not_announced() {
    install();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStoreDir::open(dir.path()).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = BlobServer::bind(addr, &Security::Insecure, store)
        .await
        .unwrap();
    let mut announced = server.received();
    let client = Arc::new(
        BlobClient::connect(server.local_addr(), &Security::Insecure)
            .await
            .unwrap(),
    );

    // More than two batches' worth of blobs; every third one is stored first.
    let blobs: Vec<Vec<u8>> = (0..(2 * MAX_BATCH + 100))
        .map(|i| format!("blob {i}").into_bytes())
        .collect();
    let digests: Vec<Digest> = blobs.iter().map(|b| Digest::of(b)).collect();
    let quiet = PutOptions { announce: false };
    let mut uploads = tokio::task::JoinSet::new();
    for (i, (b, d)) in blobs.iter().zip(&digests).enumerate() {
        if i % 3 == 0 {
            let (c, b, d) = (client.clone(), b.clone(), *d);
            uploads.spawn(async move { c.put_bytes(&d, &b, &quiet).await });
        }
    }
    let mut stored = 0;
    while let Some(r) = uploads.join_next().await {
        assert!(matches!(r.unwrap().unwrap(), PutOutcome::Stored { .. }));
        stored += 1;
    }
    let want: Vec<Digest> = digests
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 0)
        .map(|(_, d)| *d)
        .collect();
    let got = client.missing(&digests).await.unwrap();
    assert_eq!(got, want);
    assert!(client.missing(&[]).await.unwrap().is_empty());

    // Quiet puts fed nothing to subscribers; an announced one does.
    assert!(announced.try_recv().is_err());
    let loud = b"announced".to_vec();
    let loud_digest = Digest::of(&loud);
    client
        .put_bytes(&loud_digest, &loud, &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(announced.recv().await, Some(loud_digest));

    // The server counted exactly the uploaded bytes.
    let sent: u64 =
        blobs.iter().step_by(3).map(|b| b.len() as u64).sum::<u64>() + loud.len() as u64;
    assert_eq!(server.stats().bytes_received, sent);
    assert_eq!(server.stats().blobs_received, stored + 1);
    assert_eq!(client.stats().bytes_sent, sent);

    // A wrong digest in put_bytes is refused and leaves nothing.
    let wrong = Digest::of(b"other");
    assert!(client.put_bytes(&wrong, b"bytes", &quiet).await.is_err());
    assert_eq!(client.missing(&[wrong]).await.unwrap(), vec![wrong]);
}
