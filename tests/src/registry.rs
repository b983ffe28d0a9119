//! A throwaway `docker-registry` (CNCF distribution) on a free loopback port.

use crate::process::require_binary;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const BIN: &str = "/usr/bin/docker-registry";

/// A running registry; stopped and deleted on drop.
pub struct Registry {
    child: Child,
    addr: String,
    _dir: TempDir,
}

impl Registry {
    /// Starts a registry on 127.0.0.1 with a free port and waits until `/v2/` answers.
    pub fn start() -> Result<Self> {
        require_binary(BIN, "docker-registry")?;
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let dir = tempfile::Builder::new()
            .prefix("slipway-e2e-registry")
            .tempdir()?;
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(BIN)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("could not start docker-registry")?;
        let mut reg = Registry {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = reg.child.try_wait()? {
                let log = std::fs::read_to_string(reg._dir.path().join("registry.log"))
                    .unwrap_or_default();
                bail!("docker-registry exited ({status}):\n{log}");
            }
            if reg.answers() {
                return Ok(reg);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "docker-registry did not answer on http://{}/v2/ within 15s",
            reg.addr
        )
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(&self.addr) else {
            return false;
        };
        let req = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        if s.write_all(req.as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).unwrap_or(0);
        let head = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).to_string();
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a free loopback port")?;
    Ok(l.local_addr()?.port())
}
