//! Real quinn transfers on 127.0.0.1, under mutual TLS and in insecure mode.

use slipway_dataplane::{
    BlobClient, BlobServer, BlobStoreDir, DataPlaneError, Digest, PutOutcome, RemoteErrorKind,
};
use slipway_tls::{init_certs, CertsOptions, Security};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

const MB: usize = 1024 * 1024;

/// Deterministic, incompressible-looking bytes (xorshift64).
fn blob_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Farm {
    _certs: tempfile::TempDir,
    server_sec: Security,
    client_sec: Security,
    certs_path: PathBuf,
}

fn mtls() -> Farm {
    let certs = tempfile::tempdir().unwrap();
    init_certs(
        certs.path(),
        &CertsOptions {
            names: vec!["worker-1".into(), "worker-2".into()],
            ..CertsOptions::default()
        },
    )
    .unwrap();
    Farm {
        server_sec: Security::load_mtls(certs.path(), "worker-1").unwrap(),
        client_sec: Security::load_mtls(certs.path(), "worker-2").unwrap(),
        certs_path: certs.path().to_path_buf(),
        _certs: certs,
    }
}

async fn server(security: &Security) -> (BlobServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStoreDir::open(dir.path()).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = BlobServer::bind(addr, security, store).await.unwrap();
    (server, dir)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn install() {
    slipway_tls::install_crypto_provider();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_then_get_50_mb_under_mtls() {
    install();
    let farm = mtls();
    let (server, server_dir) = server(&farm.server_sec).await;
    let mut uploads = server.received();
    let work = tempfile::tempdir().unwrap();
    let bytes = blob_bytes(50 * MB, 7);
    let digest = Digest::of(&bytes);
    let src = write(work.path(), "src", &bytes);

    let client = BlobClient::connect(server.local_addr(), &farm.client_sec)
        .await
        .unwrap();
    assert!(!client.has(&digest).await.unwrap());
    let put = client.put(&digest, &src).await.unwrap();
    assert_eq!(
        put,
        PutOutcome::Stored {
            bytes: 50 * MB as u64
        }
    );
    assert_eq!(client.stats().bytes_sent, 50 * MB as u64);
    assert_eq!(client.stats().blobs_sent, 1);
    assert_eq!(server.stats().bytes_received, 50 * MB as u64);
    assert_eq!(uploads.recv().await, Some(digest));
    assert!(client.has(&digest).await.unwrap());
    let stored = server_dir.path().join("blobs/sha256").join(digest.hex());
    assert_eq!(Digest::of(&std::fs::read(&stored).unwrap()), digest);

    // A second upload sends nothing.
    let again = client.put(&digest, &src).await.unwrap();
    assert_eq!(
        again,
        PutOutcome::AlreadyPresent {
            size: 50 * MB as u64
        }
    );
    assert_eq!(client.stats().bytes_sent, 50 * MB as u64);

    // Download it with another client (the graph digest type works too).
    let other = BlobClient::connect(
        format!("localhost:{}", server.local_addr().port()),
        &farm.client_sec,
    )
    .await
    .unwrap();
    let dest = work.path().join("dest");
    let graph_digest: slipway_graph::Digest = digest.to_string().parse().unwrap();
    let got = other.get(&graph_digest, &dest).await.unwrap();
    assert_eq!(got.size, 50 * MB as u64);
    assert_eq!(got.resumed_from, 0);
    assert_eq!(got.bytes_received, 50 * MB as u64);
    assert_eq!(other.stats().bytes_received, 50 * MB as u64);
    assert!(std::fs::read(&dest).unwrap() == bytes);
    assert!(!work.path().join("dest.partial").exists());
    client.close().await;
    other.close().await;
}

#[tokio::test]
async fn insecure_mode_transfers() {
    install();
    let (server, _dir) = server(&Security::Insecure).await;
    let work = tempfile::tempdir().unwrap();
    let bytes = blob_bytes(3 * MB + 17, 3);
    let digest = Digest::of(&bytes);
    let src = write(work.path(), "src", &bytes);
    let client = BlobClient::connect(server.local_addr(), &Security::Insecure)
        .await
        .unwrap();
    client.put(&digest, &src).await.unwrap();
    let dest = work.path().join("dest");
    client.get(&digest, &dest).await.unwrap();
    assert!(std::fs::read(&dest).unwrap() == bytes);
}

#[tokio::test]
async fn an_upload_under_the_wrong_digest_is_rejected_and_leaves_nothing() {
    install();
    let farm = mtls();
    let (server, server_dir) = server(&farm.server_sec).await;
    let work = tempfile::tempdir().unwrap();
    let src = write(work.path(), "src", &blob_bytes(2 * MB, 1));
    let claimed = Digest::of(b"something else");
    let client = BlobClient::connect(server.local_addr(), &farm.client_sec)
        .await
        .unwrap();
    let err = client.put(&claimed, &src).await.unwrap_err();
    assert!(
        matches!(
            err,
            DataPlaneError::Remote {
                kind: RemoteErrorKind::DigestMismatch,
                ..
            }
        ),
        "{err}"
    );
    assert!(!client.has(&claimed).await.unwrap());
    let ingest: Vec<_> = std::fs::read_dir(server_dir.path().join("ingest"))
        .unwrap()
        .collect();
    assert!(ingest.is_empty(), "{ingest:?}");
    assert!(!server_dir
        .path()
        .join("blobs/sha256")
        .join(claimed.hex())
        .exists());
    assert_eq!(server.stats().blobs_received, 0);
}

#[tokio::test]
async fn a_download_resumes_from_the_partial_file() {
    install();
    let farm = mtls();
    let (server, _dir) = server(&farm.server_sec).await;
    let bytes = blob_bytes(5 * MB, 11);
    let digest = Digest::of(&bytes);
    std::fs::write(server.store().blob_path(&digest), &bytes).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("blob");
    let partial = work.path().join("blob.partial");
    std::fs::write(&partial, &bytes[..MB + 5]).unwrap();

    let client = BlobClient::connect(server.local_addr(), &farm.client_sec)
        .await
        .unwrap();
    let got = client.get(&digest, &dest).await.unwrap();
    assert_eq!(got.resumed_from, (MB + 5) as u64);
    assert_eq!(got.bytes_received, (4 * MB - 5) as u64);
    assert_eq!(client.stats().bytes_received, (4 * MB - 5) as u64);
    assert_eq!(server.stats().bytes_sent, (4 * MB - 5) as u64);
    assert!(std::fs::read(&dest).unwrap() == bytes);
    assert!(!partial.exists());
}

#[tokio::test]
async fn a_corrupt_partial_file_fails_verification_then_a_retry_succeeds() {
    install();
    let (server, _dir) = server(&Security::Insecure).await;
    let bytes = blob_bytes(MB, 5);
    let digest = Digest::of(&bytes);
    std::fs::write(server.store().blob_path(&digest), &bytes).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("blob");
    let partial = work.path().join("blob.partial");
    std::fs::write(&partial, vec![0u8; 1000]).unwrap();
    let client = BlobClient::connect(server.local_addr(), &Security::Insecure)
        .await
        .unwrap();
    let err = client.get(&digest, &dest).await.unwrap_err();
    assert!(
        matches!(err, DataPlaneError::DigestMismatch { .. }),
        "{err}"
    );
    assert!(!partial.exists());
    assert!(!dest.exists());
    let got = client.get(&digest, &dest).await.unwrap();
    assert_eq!(got.resumed_from, 0);
    assert!(std::fs::read(&dest).unwrap() == bytes);

    // A partial file longer than the blob restarts from zero.
    std::fs::write(&partial, vec![1u8; MB + 1]).unwrap();
    let got = client.get(&digest, &dest).await.unwrap();
    assert_eq!((got.resumed_from, got.bytes_received), (0, MB as u64));
}

#[tokio::test]
async fn a_missing_blob_is_not_found() {
    install();
    let (server, _dir) = server(&Security::Insecure).await;
    let work = tempfile::tempdir().unwrap();
    let client = BlobClient::connect(server.local_addr(), &Security::Insecure)
        .await
        .unwrap();
    let err = client
        .get(&Digest::of(b"nope"), &work.path().join("x"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

/// Under mTLS a client must present a certificate of the farm CA.
async fn refused(server_sec: &Security, client_sec: &Security, name: Option<&str>) -> bool {
    let (server, _dir) = server(server_sec).await;
    let connected = match name {
        Some(n) => BlobClient::connect_named(server.local_addr(), client_sec, n).await,
        None => BlobClient::connect(server.local_addr(), client_sec).await,
    };
    match connected {
        Err(_) => true,
        // TLS 1.3: the client may finish its side before the server rejects its certificate.
        Ok(client) => client.has(&Digest::of(b"x")).await.is_err(),
    }
}

#[tokio::test]
async fn mtls_refuses_clients_without_a_farm_certificate() {
    install();
    let farm = mtls();
    assert!(refused(&farm.server_sec, &Security::Insecure, None).await);
    let stranger_certs = tempfile::tempdir().unwrap();
    init_certs(
        stranger_certs.path(),
        &CertsOptions {
            names: vec!["worker-1".into()],
            ..CertsOptions::default()
        },
    )
    .unwrap();
    let stranger = Security::load_mtls(stranger_certs.path(), "worker-1").unwrap();
    assert!(refused(&farm.server_sec, &stranger, None).await);
    // The CLI identity is accepted.
    let cli = Security::load_mtls(&farm.certs_path, "client").unwrap();
    assert!(!refused(&farm.server_sec, &cli, None).await);
}

#[tokio::test]
async fn mtls_clients_check_the_server_name() {
    install();
    let farm = mtls();
    assert!(refused(&farm.server_sec, &farm.client_sec, Some("evil.example")).await);
    assert!(!refused(&farm.server_sec, &farm.client_sec, Some("worker-1")).await);
    // An mTLS client does not trust an insecure server's self-signed certificate.
    assert!(refused(&Security::Insecure, &farm.client_sec, None).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_by_a_server_shutdown_resumes_from_a_new_server() {
    install();
    let (first, dir) = server(&Security::Insecure).await;
    let size = 64 * MB;
    let bytes = blob_bytes(size, 13);
    let digest = Digest::of(&bytes);
    std::fs::write(first.store().blob_path(&digest), &bytes).unwrap();
    let work = tempfile::tempdir().unwrap();
    let dest = work.path().join("blob");
    let partial = work.path().join("blob.partial");

    let client = BlobClient::connect(first.local_addr(), &Security::Insecure)
        .await
        .unwrap();
    let download = {
        let dest = dest.clone();
        tokio::spawn(async move { client.get(&digest, &dest).await })
    };
    // Cut the transfer once some bytes arrived.
    let started = std::time::Instant::now();
    while std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(started.elapsed().as_secs() < 30, "no bytes arrived");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    first.shutdown();
    let err = download.await.unwrap().unwrap_err();
    assert!(
        !dest.exists(),
        "cut transfer must not produce the blob ({err})"
    );
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(kept > 0 && kept < size as u64, "kept {kept}");
    drop(first);

    let store = BlobStoreDir::open(dir.path()).unwrap();
    let second = BlobServer::bind("127.0.0.1:0".parse().unwrap(), &Security::Insecure, store)
        .await
        .unwrap();
    let client = BlobClient::connect(second.local_addr(), &Security::Insecure)
        .await
        .unwrap();
    let got = client.get(&digest, &dest).await.unwrap();
    assert_eq!(got.resumed_from, kept);
    assert_eq!(got.bytes_received, size as u64 - kept);
    assert_eq!(second.stats().bytes_sent, size as u64 - kept);
    assert!(std::fs::read(&dest).unwrap() == bytes);
}

#[tokio::test]
async fn serve_returns_after_shutdown() {
    install();
    let (server, _dir) = server(&Security::Insecure).await;
    server.shutdown();
    tokio::time::timeout(std::time::Duration::from_secs(5), server.serve())
        .await
        .expect("serve must return once the server is shut down")
        .unwrap();
}
