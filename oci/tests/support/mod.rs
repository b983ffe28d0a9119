//! Test harness for the registry tests: a real CNCF distribution registry (`docker-registry`)
//! on a free loopback port, synthetic images, skopeo, and a flaky/bearer proxy.
#![allow(dead_code)]

pub mod canned;
pub mod image;
pub mod proxy;
pub mod token;

use slipway_e2e::registry::{Registry, RegistryOptions as E2eOptions, TokenAuth};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
pub const SKOPEO_BIN: &str = "/usr/bin/skopeo";

/// Fails (never skips) when the system tools are missing.
pub fn require_tools() {
    for bin in [REGISTRY_BIN, SKOPEO_BIN] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: run the project setup (apt-get install -y docker-registry skopeo)"
        );
    }
}

/// Installs ring as the rustls provider (reqwest/oci-client are built without one).
pub fn crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Options for a test registry.
#[derive(Default)]
pub struct RegistryOptions {
    /// Require HTTP basic auth with this user and password (htpasswd, bcrypt).
    pub basic_auth: Option<(String, String)>,
    /// Require bearer tokens from this realm, signed by the certificate at `cert_path`.
    pub token_auth: Option<(String, PathBuf)>,
}

/// The workspace's test registry (`slipway_e2e::registry`), with its address at hand.
pub struct TestRegistry {
    inner: Registry,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        TestRegistry::start_with(RegistryOptions::default())
    }

    pub fn start_with(opts: RegistryOptions) -> TestRegistry {
        require_tools();
        crypto();
        let token_auth = opts.token_auth.map(|(realm, cert)| TokenAuth {
            realm,
            service: token::SERVICE.to_string(),
            issuer: token::ISSUER.to_string(),
            cert,
        });
        let inner = Registry::start_with(&E2eOptions {
            basic_auth: opts.basic_auth,
            token_auth,
        })
        .expect("starting docker-registry");
        TestRegistry {
            addr: inner.addr().to_string(),
            inner,
        }
    }

    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// Access-log request lines (`"METHOD /path HTTP/1.1" status`) containing `needle`.
    pub fn requests(&self, needle: &str) -> Vec<String> {
        self.inner.requests(needle)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.inner.data_dir()
    }

    pub fn scratch(&self) -> &Path {
        self.inner.scratch()
    }

    pub fn reference(&self, repo_and_tag: &str) -> slipway_oci::registry::Reference {
        format!("{}/{}", self.addr, repo_and_tag)
            .parse()
            .expect("reference")
    }
}

pub fn free_port() -> u16 {
    slipway_e2e::registry::free_port().expect("free port")
}

/// Runs skopeo, failing the test with its stderr on a non-zero exit.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new(SKOPEO_BIN)
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A registry client for loopback registries with quick retries.
pub fn client(upload: slipway_oci::registry::UploadMode) -> slipway_oci::registry::RegistryClient {
    use slipway_oci::registry::{RegistryClient, RegistryConfig, RetryConfig};
    let config = RegistryConfig {
        upload,
        retry: RetryConfig {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
        },
        ..RegistryConfig::default()
    };
    RegistryClient::new(config, slipway_oci::auth::CredentialStore::new())
}
