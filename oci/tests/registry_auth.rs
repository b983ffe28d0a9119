//! Basic auth against a `docker-registry` protected by an htpasswd file: anonymous access is
//! refused with an error naming the reference; explicit and docker-config credentials work.

mod support;

use base64::Engine as _;
use slipway_oci::auth::{CredentialStore, Credentials, DockerConfig};
use slipway_oci::registry::{PushOptions, RegistryClient, RegistryConfig, RegistryError};
use support::image::small_image;
use support::{RegistryOptions, TestRegistry};

fn with_credentials(store: CredentialStore) -> RegistryClient {
    RegistryClient::new(RegistryConfig::default(), store)
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let reg = TestRegistry::start_with(RegistryOptions {
        basic_auth: Some(("slipway".into(), "s3cret".into())),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let img = small_image(dir.path(), "linux/amd64", "auth");
    let r = reg.reference("secure/app:v1");
    let opts = PushOptions {
        tags: vec!["v1".into()],
        ..Default::default()
    };

    // Anonymous: refused, and the error names what was asked for.
    let anon = with_credentials(CredentialStore::new());
    let err = anon.push(&r, &img.plan(), &opts).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{}/secure/app", reg.addr)),
        "{err}"
    );

    // Wrong password: refused too.
    let mut wrong = CredentialStore::new();
    wrong.set(&reg.addr, Credentials::basic("slipway", "nope"));
    let err = with_credentials(wrong).pull_manifest(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");

    // Explicit credentials (flags).
    let mut flags = CredentialStore::new();
    flags.set(&reg.addr, Credentials::basic("slipway", "s3cret"));
    let c = with_credentials(flags);
    let report = c.push(&r, &img.plan(), &opts).await.unwrap();
    assert_eq!(report.blobs_uploaded, 2);
    assert_eq!(c.resolve(&r).await.unwrap(), img.manifest.digest());

    // Anonymous pull of what now exists: 401 naming the reference.
    let err = anon.pull_manifest(&r).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("{}/secure/app:v1", reg.addr)),
        "{err}"
    );

    // ~/.docker/config.json style credentials (base64 `auth` field keyed by host:port).
    let cfg_dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("slipway:s3cret");
    let path = cfg_dir.path().join("config.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"auths":{{"http://{}":{{"auth":"{auth}"}}}}}}"#,
            reg.addr
        ),
    )
    .unwrap();
    let c = with_credentials(CredentialStore::with_docker_config(
        DockerConfig::load(&path).unwrap(),
    ));
    let pulled = c
        .pull_image(&r, &"linux/amd64".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(pulled.bytes, img.manifest.bytes);
    let blob = &img.layers[0];
    let out = dir.path().join("layer");
    c.pull_blob_to_file(&r, blob, &out).await.unwrap();

    // skopeo agrees with the credentials.
    let src = format!("docker://{}/secure/app:v1", reg.addr);
    support::skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "slipway:s3cret",
        &src,
    ]);

    // A credential helper (`credsStore`), run as docker runs it: the registry's host:port on
    // stdin, the login as JSON on stdout.
    let helpers = tempfile::tempdir().unwrap();
    let helper = helpers.path().join("docker-credential-teststore");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\n\
             [ \"$server\" = '{}' ] || {{ echo 'credentials not found in native keychain'; exit 1; }}\n\
             echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"slipway\",\"Secret\":\"s3cret\"}}'\n",
            reg.addr
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let store_cfg = cfg_dir.path().join("store.json");
    std::fs::write(&store_cfg, r#"{"credsStore":"teststore","auths":{}}"#).unwrap();
    let c = with_credentials(CredentialStore::with_docker_config(
        DockerConfig::load(&store_cfg)
            .unwrap()
            .with_helper_dir(helpers.path()),
    ));
    assert_eq!(c.resolve(&r).await.unwrap(), img.manifest.digest());
}
