use std::path::PathBuf;

use super::passwd::UserFileError;

/// What went wrong running a container process.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("nothing to run: the command is empty")]
    EmptyCommand,
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },
    #[error("unable to find user {user}: {source}")]
    PasswdFile {
        user: String,
        #[source]
        source: UserFileError,
    },
    #[error("unable to find groups for spec {user}: {source}")]
    GroupFile {
        user: String,
        #[source]
        source: UserFileError,
    },
    #[error("invalid user {spec:?}: uids and gids must be in range 0-2147483647")]
    IdOutOfRange { spec: String },
    #[error("path {path} escapes the root filesystem or loops through symlinks")]
    PathEscape { path: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a symlink or not a directory: refusing to clear the runtime's state there")]
    NotARealDir { path: PathBuf },
    #[error("building the OCI runtime spec: {reason}")]
    Spec { reason: String },
    #[error("starting {binary}: {source} (install it or run scripts/setup.sh)")]
    RuntimeMissing {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{binary} {action} {id} failed: {detail}")]
    Runtime {
        binary: String,
        action: &'static str,
        id: String,
        detail: String,
    },
    #[error("process {command:?} did not complete successfully: {status}{}", tail_text(.tail))]
    Failed {
        command: String,
        status: FailedStatus,
        tail: Vec<String>,
    },
    #[error("process {command:?} was cancelled")]
    Cancelled { command: String },
}

/// How a failed process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedStatus {
    ExitCode(i32),
    /// Killed by this signal number.
    Signal(i32),
}

impl std::fmt::Display for FailedStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailedStatus::ExitCode(c) => write!(f, "exit code: {c}"),
            FailedStatus::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\nlast output lines:");
    for l in tail {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

impl ExecError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ExecError {
        let path = path.into();
        move |source| ExecError::Io { op, path, source }
    }
}

pub type Result<T, E = ExecError> = std::result::Result<T, E>;
