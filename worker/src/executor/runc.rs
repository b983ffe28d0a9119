//! The runc (or crun) backend.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::error::FailedStatus;
use super::etc_files::{check_hostname, hosts, resolv_conf};
use super::mount_stubs::MountStubs;
use super::output::{pump, OutputStream, Tail};
use super::rootpath::mkdir_all_owned;
use super::spec::{self, EtcFiles, SpecInput};
use super::user::resolve_user;
use super::{
    BoxFuture, ExecError, Executor, ExitStatus, ProcessIo, Result, RunSpec, DEFAULT_HOSTNAME,
    DEFAULT_PATH,
};

/// Which OCI runtime binary; both share runc's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    #[default]
    Runc,
    Crun,
}

impl RuntimeKind {
    pub fn binary_name(self) -> &'static str {
        match self {
            RuntimeKind::Runc => "runc",
            RuntimeKind::Crun => "crun",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuncConfig {
    pub kind: RuntimeKind,
    /// Overrides the binary looked up in `PATH` by `kind`.
    pub binary: Option<PathBuf>,
    /// Copied into containers on the host network.
    pub host_resolv_conf: PathBuf,
    /// Containers' cgroups are `<cgroup_parent>/<container id>`.
    pub cgroup_parent: String,
}

impl Default for RuncConfig {
    fn default() -> Self {
        RuncConfig {
            kind: RuntimeKind::Runc,
            binary: None,
            host_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            cgroup_parent: "/slipway".into(),
        }
    }
}

/// Runs containers with `runc run` (or crun). See the module docs of
/// [`executor`](super).
#[derive(Debug, Clone)]
pub struct Runc {
    config: RuncConfig,
    binary: PathBuf,
    /// The runtime's state root (`state/`, its `--root`) and the bundles (`bundles/`).
    state_dir: PathBuf,
}

/// How long to keep retrying `kill` while the runtime is still creating the container.
const KILL_RETRIES: usize = 50;
const KILL_INTERVAL: Duration = Duration::from_millis(100);

impl Runc {
    /// Checks that the runtime binary exists and creates the state dirs under
    /// `state_dir`: the runtime's state root (`--root`) and the bundles live there, and
    /// only this executor's containers are in it (a worker passes `<data dir>/runtime`,
    /// so two workers or builds never see each other's containers).
    pub fn new(state_dir: impl Into<PathBuf>, config: RuncConfig) -> Result<Runc> {
        let state_dir = state_dir.into();
        let name = config.kind.binary_name();
        let binary = match &config.binary {
            Some(b) => b.clone(),
            None => find_in_path(name).ok_or_else(|| ExecError::RuntimeMissing {
                binary: name.into(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not found in PATH"),
            })?,
        };
        for d in [state_dir.join("state"), state_dir.join("bundles")] {
            fs::create_dir_all(&d).map_err(ExecError::io("creating", &d))?;
        }
        Ok(Runc {
            config,
            binary,
            state_dir,
        })
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// IDs of this executor's containers known to the runtime.
    pub async fn list(&self) -> Result<Vec<String>> {
        let out = self
            .command(&["list", "-q"])
            .output()
            .await
            .map_err(|e| self.missing(e))?;
        if !out.status.success() {
            return Err(self.runtime_err("list", "", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Bundle dirs currently present (there is one per running container).
    pub fn bundles(&self) -> Result<Vec<PathBuf>> {
        let dir = self.state_dir.join("bundles");
        let rd = fs::read_dir(&dir).map_err(ExecError::io("reading", &dir))?;
        Ok(rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
    }

    /// Removes the containers a killed predecessor on this state dir left running (its
    /// `runc run` and the guard that deletes the container died with it; the container did
    /// not): `kill ID KILL`, then `delete --force ID`, each. Listed again afterwards, since
    /// an orphaned `runc run` may still have been creating one; a container still listed
    /// after a few rounds is an error. Blocking: for a worker's start, before anything
    /// runs. Returns the IDs removed.
    pub fn remove_leftover_containers(&self) -> Result<Vec<String>> {
        const ROUNDS: usize = 3;
        let mut removed = Vec::new();
        // Nothing was ever started here since the last clean start: no container state and
        // no bundle (a bundle is written before its container is created). Asking the
        // runtime would cost a process start on every build.
        let empty = |dir: PathBuf| fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        if empty(self.state_dir.join("state")) && empty(self.state_dir.join("bundles")) {
            return Ok(removed);
        }
        for _ in 0..ROUNDS {
            let ids = self.list_blocking()?;
            if ids.is_empty() {
                return Ok(removed);
            }
            for id in ids {
                // Fails for a container that is no longer running; delete --force covers both.
                let _ = self
                    .blocking_command(&["kill", &id, "KILL"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let out = self
                    .blocking_command(&["delete", "--force", &id])
                    .output()
                    .map_err(|e| self.missing(e))?;
                if !out.status.success() {
                    return Err(self.runtime_err("delete", &id, &out.stderr));
                }
                tracing::info!(%id, "removed a container a killed worker left");
                removed.push(id);
            }
        }
        match self.list_blocking()?.first() {
            None => Ok(removed),
            Some(id) => Err(ExecError::Runtime {
                binary: self.binary.display().to_string(),
                action: "delete",
                id: id.clone(),
                detail: format!("still listed after {ROUNDS} rounds of delete --force"),
            }),
        }
    }

    fn list_blocking(&self) -> Result<Vec<String>> {
        let out = self
            .blocking_command(&["list", "-q"])
            .output()
            .map_err(|e| self.missing(e))?;
        if !out.status.success() {
            return Err(self.runtime_err("list", "", &out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Removes the bundles left in `bundles/`: call it after
    /// [`Runc::remove_leftover_containers`] and after unmounting what is mounted below the
    /// state dir. A symlinked state or bundles dir is refused and entries are removed
    /// without following symlinks, so nothing outside the state dir is touched. Returns
    /// how many there were.
    pub fn remove_leftover_bundles(&self) -> Result<usize> {
        let bundles = self.state_dir.join("bundles");
        for dir in [&self.state_dir, &bundles] {
            let md = fs::symlink_metadata(dir).map_err(ExecError::io("inspecting", dir))?;
            if !md.is_dir() {
                return Err(ExecError::NotARealDir { path: dir.clone() });
            }
        }
        crate::mounts::remove_entries(&bundles).map_err(ExecError::io("clearing", &bundles))
    }

    fn blocking_command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(&self.binary);
        c.arg("--root").arg(self.state_dir.join("state")).args(args);
        c.stdin(Stdio::null());
        c
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(self.state_dir.join("state")).args(args);
        c.stdin(Stdio::null());
        c
    }

    fn missing(&self, source: std::io::Error) -> ExecError {
        ExecError::RuntimeMissing {
            binary: self.binary.display().to_string(),
            source,
        }
    }

    fn runtime_err(&self, action: &'static str, id: &str, stderr: &[u8]) -> ExecError {
        ExecError::Runtime {
            binary: self.binary.display().to_string(),
            action,
            id: id.into(),
            detail: String::from_utf8_lossy(stderr).trim().to_string(),
        }
    }

    async fn run_container(
        &self,
        spec: RunSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> Result<ExitStatus> {
        if spec.args.is_empty() {
            return Err(ExecError::EmptyCommand);
        }
        let command = spec.args.join(" ");
        let id = format!("slipway-{}", uuid::Uuid::new_v4().simple());
        let bundle = self.state_dir.join("bundles").join(&id);
        fs::create_dir(&bundle).map_err(ExecError::io("creating", &bundle))?;
        // From here the guard deletes the container and the bundle however we leave.
        let mut guard = ContainerGuard {
            binary: self.binary.clone(),
            state: self.state_dir.join("state"),
            id: id.clone(),
            bundle: bundle.clone(),
            stubs: MountStubs::default(),
        };
        let cgroups_path = format!("{}/{}", self.config.cgroup_parent.trim_end_matches('/'), id);
        let resolv = self.config.host_resolv_conf.clone();
        let prepared_bundle = bundle.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            prepare_bundle(&spec, &prepared_bundle, &resolv, cgroups_path)
        })
        .await
        .map_err(|e| ExecError::Spec {
            reason: format!("preparing the bundle: {e}"),
        })
        .and_then(|r| r);
        guard.stubs = match prepared {
            Ok(stubs) => stubs,
            Err(e) => {
                guard.finish();
                return Err(e);
            }
        };

        let spawned = self
            .command(&["run", "--bundle"])
            .arg(&bundle)
            .arg(&id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                guard.finish();
                return Err(self.missing(e));
            }
        };
        let tail = Tail::default();
        let pumps = [
            child.stdout.take().map(|r| {
                tokio::spawn(pump(
                    r,
                    OutputStream::Stdout,
                    io.output.clone(),
                    tail.clone(),
                ))
            }),
            child.stderr.take().map(|r| {
                tokio::spawn(pump(
                    r,
                    OutputStream::Stderr,
                    io.output.clone(),
                    tail.clone(),
                ))
            }),
        ];

        let status = tokio::select! {
            status = child.wait() => Some(status.map_err(ExecError::io("waiting for", &self.binary))?),
            () = cancel.cancelled() => None,
        };
        let Some(status) = status else {
            tracing::debug!(%id, "cancelled, killing the container");
            self.kill_until_exit(&mut child, &id).await;
            for p in pumps.into_iter().flatten() {
                p.abort();
            }
            guard.release().await;
            return Err(ExecError::Cancelled { command });
        };
        for p in pumps.into_iter().flatten() {
            let _ = p.await;
        }
        guard.release().await;
        match status.code() {
            Some(0) => Ok(ExitStatus { code: 0 }),
            Some(code) => Err(ExecError::Failed {
                command,
                status: FailedStatus::ExitCode(code),
                tail: tail.lines(),
            }),
            None => {
                let sig = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
                Err(ExecError::Failed {
                    command,
                    status: FailedStatus::Signal(sig),
                    tail: tail.lines(),
                })
            }
        }
    }

    /// `kill ID KILL` until `runc run` exits; the container may still be being created
    /// when the first kill comes, so it is retried. As a last resort the runtime process
    /// itself is killed (the guard's `delete --force` then removes the container).
    async fn kill_until_exit(&self, child: &mut tokio::process::Child, id: &str) {
        for _ in 0..KILL_RETRIES {
            let _ = self
                .command(&["kill", id, "KILL"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
            if let Ok(Ok(_)) = tokio::time::timeout(KILL_INTERVAL, child.wait()).await {
                return;
            }
        }
        tracing::warn!(%id, "runtime did not exit after kill, killing it");
        let _ = child.kill().await;
    }
}

impl Executor for Runc {
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<ExitStatus>> {
        Box::pin(self.run_container(spec, io, cancel))
    }
}

/// Writes config.json and the /etc files into the bundle, creates the working directory
/// and records the mount points the runtime will have to create.
fn prepare_bundle(
    spec: &RunSpec,
    bundle: &Path,
    host_resolv: &Path,
    cgroups_path: String,
) -> Result<MountStubs> {
    if !spec.rootfs.is_absolute() {
        return Err(ExecError::InvalidSpec {
            field: "rootfs",
            value: spec.rootfs.display().to_string(),
            reason: "must be absolute",
        });
    }
    if !spec.cwd.is_empty() && !spec.cwd.starts_with('/') {
        return Err(ExecError::InvalidSpec {
            field: "working directory",
            value: spec.cwd.clone(),
            reason: "must be absolute",
        });
    }
    let hostname = if spec.hostname.is_empty() {
        DEFAULT_HOSTNAME
    } else {
        spec.hostname.as_str()
    };
    check_hostname(hostname)?;
    let user = resolve_user(&spec.rootfs, &spec.user)?;
    let mut env = spec.env.clone();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(DEFAULT_PATH.into());
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    if !spec.cwd.is_empty() {
        mkdir_all_owned(&spec.rootfs, &spec.cwd, user.uid, user.gid)?;
    }
    let etc = EtcFiles {
        hosts: bundle.join("hosts"),
        resolv_conf: bundle.join("resolv.conf"),
        hostname: bundle.join("hostname"),
    };
    let write = |p: &Path, s: String| fs::write(p, s).map_err(ExecError::io("writing", p));
    write(&etc.hosts, hosts(hostname, &spec.extra_hosts))?;
    write(&etc.resolv_conf, resolv_conf(spec.network, host_resolv)?)?;
    write(&etc.hostname, format!("{hostname}\n"))?;
    let input = SpecInput {
        rootfs: &spec.rootfs,
        args: &spec.args,
        env,
        cwd: &spec.cwd,
        user: &user,
        hostname,
        network: spec.network,
        etc: &etc,
        mounts: &spec.mounts,
        resources: spec.resources,
        cgroups_path,
        security: spec::SpecSecurity::resolve(spec.security)?,
    };
    let destinations: Vec<String> = spec::mounts(&input)?
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    let stubs = MountStubs::record(&spec.rootfs, &destinations)?;
    let config = spec::build(&input)?;
    let path = bundle.join("config.json");
    let json = serde_json::to_vec_pretty(&config).map_err(|e| ExecError::Spec {
        reason: e.to_string(),
    })?;
    fs::write(&path, json).map_err(ExecError::io("writing", &path))?;
    Ok(stubs)
}

/// Deletes the container (forced), removes mount stubs and the bundle. `release` does it
/// asynchronously; dropping an unreleased guard (e.g. the run future was dropped) does it
/// synchronously.
struct ContainerGuard {
    binary: PathBuf,
    state: PathBuf,
    id: String,
    bundle: PathBuf,
    stubs: MountStubs,
}

impl ContainerGuard {
    async fn release(&mut self) {
        let _ = Command::new(&self.binary)
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "--force", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        self.finish();
    }

    fn finish(&mut self) {
        self.stubs.remove();
        self.stubs = MountStubs::default();
        if let Err(e) = fs::remove_dir_all(&self.bundle) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(bundle = %self.bundle.display(), error = %e, "removing bundle");
            }
        }
        self.id.clear();
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = std::process::Command::new(&self.binary)
                .arg("--root")
                .arg(&self.state)
                .args(["delete", "--force", &self.id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            self.finish();
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
