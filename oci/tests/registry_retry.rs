//! Retries: a proxy that answers 503 to its first connections is retried through; one that
//! always fails makes the client give up after the configured number of attempts.

mod support;

use slipway_oci::registry::{PushOptions, RegistryError, UploadMode};
use support::image::small_image;
use support::proxy::FlakyProxy;
use support::{client, TestRegistry};

#[tokio::test]
async fn transient_503s_are_retried() {
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let img = small_image(dir.path(), "linux/arm64", "retry");
    let opts = PushOptions {
        tags: vec!["v1".into()],
        ..Default::default()
    };

    // Push through a proxy failing its first 3 connections.
    let proxy = FlakyProxy::start(&reg.addr, 3).await;
    let via: slipway_oci::registry::Reference =
        format!("{}/flaky/app:v1", proxy.addr).parse().unwrap();
    let report = client(UploadMode::Chunked)
        .push(&via, &img.plan(), &opts)
        .await
        .unwrap();
    assert_eq!(proxy.failures_served(), 3);
    assert_eq!(report.blobs_uploaded, 2);

    // Pull through another flaky proxy, with a fresh client (no pooled connections).
    let proxy = FlakyProxy::start(&reg.addr, 2).await;
    let via: slipway_oci::registry::Reference =
        format!("{}/flaky/app:v1", proxy.addr).parse().unwrap();
    let pulled = client(UploadMode::Monolithic)
        .pull_manifest(&via)
        .await
        .unwrap();
    assert_eq!(proxy.failures_served(), 2);
    assert_eq!(pulled.digest, img.manifest.digest());
    let direct = client(UploadMode::Monolithic)
        .resolve(&reg.reference("flaky/app:v1"))
        .await
        .unwrap();
    assert_eq!(direct, report.digest);
}

#[tokio::test]
async fn gives_up_after_the_bound() {
    let reg = TestRegistry::start();
    let proxy = FlakyProxy::start(&reg.addr, usize::MAX).await;
    let via: slipway_oci::registry::Reference =
        format!("{}/down/app:v1", proxy.addr).parse().unwrap();
    let err = client(UploadMode::Monolithic)
        .pull_manifest(&via)
        .await
        .unwrap_err();
    match &err {
        RegistryError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert!(last.is_transient(), "{last:?}");
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert!(err.to_string().contains("down/app:v1"), "{err}");
    assert!(proxy.failures_served() >= 4);
}
