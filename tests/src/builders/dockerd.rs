//! dockerd 20.10 (Debian's docker.io) with BuildKit, started privately for the test run:
//! its own data root, exec root and socket, no iptables, no bridge.

use super::BuildRequest;
use crate::process::{require_binary, run, tail};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const DOCKERD: &str = "/usr/sbin/dockerd";
const DOCKER: &str = "/usr/bin/docker";

pub struct Dockerd {
    child: Child,
    dir: TempDir,
    host: String,
}

impl Dockerd {
    /// Starts dockerd; `insecure_registry` is the loopback registry it may pull from over http.
    pub fn start(insecure_registry: &str) -> Result<Self> {
        require_binary(DOCKERD, "dockerd (Debian docker.io)")?;
        require_binary(DOCKER, "docker CLI (Debian docker.io)")?;
        // Short path: the socket path must fit in sun_path.
        let dir = tempfile::Builder::new()
            .prefix("sw-dockerd")
            .tempdir_in("/tmp")?;
        let host = format!("unix://{}/docker.sock", dir.path().display());
        let log = std::fs::File::create(dir.path().join("dockerd.log"))?;
        let child = Command::new(DOCKERD)
            .arg("--data-root")
            .arg(dir.path().join("root"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .args([
                "-H",
                &host,
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
            ])
            .args(["--insecure-registry", insecure_registry])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("could not start dockerd")?;
        let mut d = Dockerd { child, dir, host };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = d.child.try_wait()? {
                bail!(
                    "dockerd exited ({status}) during startup:\n{}",
                    d.log_tail()
                );
            }
            let ok = d
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if matches!(ok, Ok(s) if s.success()) {
                return Ok(d);
            }
            if Instant::now() > deadline {
                bail!(
                    "dockerd did not answer on {} within 60s:\n{}",
                    d.host,
                    d.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log_tail(&self) -> String {
        tail(
            &std::fs::read(self.dir.path().join("dockerd.log")).unwrap_or_default(),
            30,
        )
    }

    /// `unix://…/docker.sock` of this daemon (for `DOCKER_HOST`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A `docker` command talking to this daemon, BuildKit on.
    pub fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_BUILDKIT", "1")
            .env("DOCKER_CONFIG", self.dir.path().join("cli-config"));
        c
    }

    /// `docker build --network none ...` to `req.tag` (kept in the daemon's image store).
    pub fn build(&self, req: &BuildRequest) -> Result<()> {
        run(self
            .docker()
            .args(["build", "--progress", "plain", "--network", "none"])
            .args(req.common_flags())
            .arg(&req.context))
        .map(|_| ())
    }

    /// `docker push TAG` (to the insecure loopback registry).
    pub fn push(&self, tag: &str) -> Result<()> {
        run(self.docker().args(["push", "-q", tag])).map(|_| ())
    }

    /// `docker save` + `skopeo copy docker-archive: oci:` into `layout:reference`. Returns the
    /// image config's `config` object read from the archive itself: the conversion to OCI drops
    /// Docker-only fields (Healthcheck, OnBuild, Shell).
    pub fn export(&self, tag: &str, layout: &Path, reference: &str) -> Result<Value> {
        let archive = self.dir.path().join("save.tar");
        run(self.docker().args(["save", "-o"]).arg(&archive).arg(tag))?;
        let res = run(Command::new("skopeo").args([
            "copy",
            "-q",
            &format!("docker-archive:{}", archive.display()),
            &format!("oci:{}:{reference}", layout.display()),
        ]))
        .and_then(|_| archive_config(&archive));
        let _ = std::fs::remove_file(&archive);
        res
    }

    /// `docker builder prune -af` (drops BuildKit's cache, including cache mounts).
    pub fn prune(&self) -> Result<()> {
        run(self.docker().args(["builder", "prune", "-af"])).map(|_| ())
    }
}

/// The `config` object of the (only) image in a docker-archive, read through `tar -xOf`.
fn archive_config(archive: &Path) -> Result<Value> {
    let read = |member: &str| -> Result<Value> {
        let out = run(Command::new("tar").arg("-xOf").arg(archive).arg(member))?;
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("{member} in {} is not JSON", archive.display()))
    };
    let manifest = read("manifest.json")?;
    let Some(config) = manifest
        .get(0)
        .and_then(|m| m.get("Config"))
        .and_then(Value::as_str)
    else {
        bail!("{}: manifest.json names no Config", archive.display());
    };
    Ok(read(config)?.get("config").cloned().unwrap_or(Value::Null))
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its containerd and unmount its overlays.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Leftover overlay mounts would make the temp dir removal fail.
        let root = self.dir.path().display().to_string();
        if let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") {
            let mut targets: Vec<&str> = mounts
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter(|m| m.starts_with(&root))
                .collect();
            targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for t in targets {
                let _ = Command::new("umount").arg("-l").arg(t).status();
            }
        }
    }
}
