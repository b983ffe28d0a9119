//! Bearer tokens driven by WWW-Authenticate: `docker-registry` in `auth: token` mode points
//! at a test token server; oci-client does the exchange with our basic credentials.

mod support;

use slipway_oci::auth::{CredentialStore, Credentials};
use slipway_oci::registry::{PushOptions, RegistryClient, RegistryConfig, RegistryError};
use support::image::small_image;
use support::token::TokenServer;
use support::{RegistryOptions, TestRegistry};

#[tokio::test]
async fn token_exchange_with_basic_credentials() {
    support::crypto();
    let scratch = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(scratch.path(), "robot", "hunter2").await;
    let reg = TestRegistry::start_with(RegistryOptions {
        token_auth: Some((tokens.realm.clone(), tokens.cert_path.clone())),
        ..Default::default()
    });
    let img = small_image(scratch.path(), "linux/arm64", "bearer");
    let r = reg.reference("tok/app:v1");
    let opts = PushOptions {
        tags: vec!["v1".into()],
        ..Default::default()
    };

    // Anonymous: the token server refuses, the registry answers 401, the error names the ref.
    let anon = RegistryClient::new(RegistryConfig::default(), CredentialStore::new());
    let err = anon.pull_manifest(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{}/tok/app:v1", reg.addr)),
        "{err}"
    );
    assert!(tokens.refused() >= 1);
    assert_eq!(tokens.issued(), 0);

    // With credentials: tokens are issued and the registry accepts them for push and pull.
    let mut store = CredentialStore::new();
    store.set(&reg.addr, Credentials::basic("robot", "hunter2"));
    let c = RegistryClient::new(RegistryConfig::default(), store);
    let report = c.push(&r, &img.plan(), &opts).await.unwrap();
    assert_eq!(report.blobs_uploaded, 2);
    assert!(tokens.issued() >= 1, "a token was exchanged");
    let pulled = c
        .pull_image(&r, &"linux/arm64/v8".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(pulled.bytes, img.manifest.bytes);
    // The registry authenticated the requests by the token's subject.
    assert!(
        reg.log().contains("auth.user.name=slipway"),
        "{}",
        reg.log()
    );
}
