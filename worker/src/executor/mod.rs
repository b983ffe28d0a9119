//! Running a process in a container through an OCI runtime.
//!
//! [`Runc`] writes an OCI bundle (`config.json` generated with oci-spec's runtime types
//! plus the generated `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`), runs
//! `runc run --bundle B ID` in the foreground with the output piped to the caller, and
//! always removes the container and bundle afterwards, also on cancellation.

mod error;
mod etc_files;
mod mount_stubs;
mod output;
mod passwd;
mod rootpath;
mod runc;
mod spec;
mod user;

pub use error::{ExecError, FailedStatus, Result};
pub use output::{OutputChunk, OutputStream};
pub use passwd::UserFileError;
pub use runc::{Runc, RuncConfig, RuntimeKind};
pub use user::{resolve_user, ResolvedUser};

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// `PATH` when the image and the step set none (BuildKit's default on Linux).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run and in which container.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// The root filesystem (e.g. an [`ActiveSnapshot`](crate::snapshot::ActiveSnapshot)'s).
    pub rootfs: PathBuf,
    /// argv; must not be empty.
    pub args: Vec<String>,
    /// `KEY=value` pairs; `PATH` defaults to [`DEFAULT_PATH`], `HOME` to the user's.
    pub env: Vec<String>,
    /// Absolute working directory; created (owned by the user) if missing. Empty means `/`.
    pub cwd: String,
    /// `USER` as in a Dockerfile: `name|uid[:group|gid]`; empty means root.
    pub user: String,
    /// Empty means [`DEFAULT_HOSTNAME`].
    pub hostname: String,
    pub network: NetworkMode,
    pub security: Security,
    /// Extra mounts, applied after the standard ones.
    pub mounts: Vec<MountSpec>,
    pub resources: Resources,
    /// Extra `/etc/hosts` entries (`host`, `ip`), as `--add-host`.
    pub extra_hosts: Vec<(String, String)>,
}

pub const DEFAULT_HOSTNAME: &str = "slipway";

/// The container's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A new network namespace with only the loopback interface up.
    #[default]
    None,
    /// The host's network namespace; `/etc/resolv.conf` comes from the host.
    Host,
}

/// The container's privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Security {
    /// Docker's default capabilities, masked and read-only paths, read-only /sys, no devices.
    #[default]
    Sandbox,
    /// `RUN --security=insecure`, as BuildKit: every capability this process holds, nothing
    /// masked, writable /sys, all devices allowed (plus fuse, kvm, tun, loop nodes).
    Insecure,
}

/// An extra mount requested by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSpec {
    Bind {
        source: PathBuf,
        target: String,
        access: Access,
    },
    Tmpfs {
        target: String,
        size_bytes: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Optional cgroup limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    pub memory_bytes: Option<i64>,
    pub pids: Option<i64>,
}

/// How the process ended when it exited 0 (non-zero exits are [`ExecError::Failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    pub code: i32,
}

/// Where the process's output goes: complete lines (with their newline) or, for very
/// long lines and the final unterminated piece, chunks. `None` discards (the last lines
/// are still kept for error messages).
#[derive(Debug, Clone, Default)]
pub struct ProcessIo {
    pub output: Option<mpsc::Sender<OutputChunk>>,
}

/// A boxed future, so that the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs processes in containers.
pub trait Executor: Send + Sync {
    /// Runs `spec` to completion. Returns `Ok` only for exit code 0; a non-zero exit is
    /// [`ExecError::Failed`] with the code and the last output lines. When `cancel` fires
    /// the process is killed and everything is removed before [`ExecError::Cancelled`].
    fn run<'a>(
        &'a self,
        spec: RunSpec,
        io: ProcessIo,
        cancel: CancellationToken,
    ) -> BoxFuture<'a, Result<ExitStatus>>;
}
