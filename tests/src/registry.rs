//! A throwaway `docker-registry` (CNCF distribution) on a free loopback port: the one
//! registry harness of the workspace (the oci and cli integration tests use it too). Its
//! access log is kept, so tests can count the requests a client made.

use crate::process::require_binary;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BIN: &str = "/usr/bin/docker-registry";

/// Bearer-token auth: the registry trusts tokens of `issuer` for `service`, signed by the
/// certificate at `cert`, and sends clients to `realm`.
#[derive(Debug, Clone)]
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub cert: PathBuf,
}

/// How a test registry runs.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Require HTTP basic auth with this user and password (htpasswd, bcrypt).
    pub basic_auth: Option<(String, String)>,
    /// Require bearer tokens.
    pub token_auth: Option<TokenAuth>,
}

/// A running registry; stopped and deleted on drop.
pub struct Registry {
    child: Child,
    addr: String,
    dir: TempDir,
}

impl Registry {
    /// Starts a registry on 127.0.0.1 with a free port and waits until `/v2/` answers.
    pub fn start() -> Result<Self> {
        Registry::start_with(&RegistryOptions::default())
    }

    pub fn start_with(opts: &RegistryOptions) -> Result<Self> {
        require_binary(BIN, "docker-registry")?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let dir = tempfile::Builder::new()
            .prefix("slipway-e2e-registry")
            .tempdir()?;
        let mut config = format!(
            "version: 0.1\n\
             log:\n  level: info\n  accesslog:\n    disabled: false\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: {addr}\n",
            dir.path().join("storage").display()
        );
        if let Some((user, pass)) = &opts.basic_auth {
            let hash = bcrypt::hash(pass, 5).context("hashing the test password")?;
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{hash}\n"))?;
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        if let Some(t) = &opts.token_auth {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm,
                t.service,
                t.issuer,
                t.cert.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("could not start docker-registry")?;
        let mut reg = Registry { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = reg.child.try_wait()? {
                bail!("docker-registry exited ({status}):\n{}", reg.log());
            }
            if matches!(reg.status("/v2/"), Some(200 | 401)) {
                return Ok(reg);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "docker-registry did not answer on http://{}/v2/ within 20s:\n{}",
            reg.addr,
            reg.log()
        )
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Everything the registry logged (its access log included).
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

    /// Where the registry stores its blobs and repositories.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// A directory that lives as long as the registry.
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The HTTP status of `GET path`, if the registry answers at all.
    pub fn status(&self, path: &str) -> Option<u16> {
        http_status(&self.addr, path)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP status of a plain `GET path` to `addr`.
pub fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(buf.get(..n)?).to_string();
    head.split_whitespace().nth(1)?.parse().ok()
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(l.local_addr()?.port())
}
