//! Test harness for the registry tests: a real CNCF distribution registry (`docker-registry`)
//! on a free loopback port, synthetic images, skopeo, and a flaky/bearer proxy.
#![allow(dead_code)]

pub mod canned;
pub mod image;
pub mod proxy;
pub mod token;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A running `docker-registry serve`, killed on drop.
pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        TestRegistry::start_with(RegistryOptions::default())
    }

    pub fn start_with(opts: RegistryOptions) -> TestRegistry {
        require_tools();
        crypto();
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: debug\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            data = dir.path().join("data").display(),
        );
        if let Some((user, pass)) = &opts.basic_auth {
            let hash = bcrypt::hash(pass, 5).expect("bcrypt");
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n")).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        if let Some((realm, cert)) = &opts.token_auth {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                token::SERVICE,
                token::ISSUER,
                cert.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let log2 = log.try_clone().expect("log clone");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("spawn docker-registry");
        let mut reg = TestRegistry { child, dir, addr };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("docker-registry exited early ({status}):\n{}", self.log());
            }
            if let Some(code) = http_status(&self.addr, "/v2/") {
                if code == 200 || code == 401 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer /v2/:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Access-log request lines (`"METHOD /path HTTP/1.1" status`) containing `needle`.
    pub fn requests(&self, needle: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("HTTP/1.1\" ") && l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    pub fn reference(&self, repo_and_tag: &str) -> slipway_oci::registry::Reference {
        format!("{}/{}", self.addr, repo_and_tag)
            .parse()
            .expect("reference")
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Status code of a plain `GET path` (None if nothing answers).
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
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
