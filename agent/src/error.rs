//! Errors of the agent and of the tasks it runs.

use std::path::PathBuf;

use slipway_farm::TaskId;

use super::push::PushError;
use super::unpack::UnpackError;
use slipway_worker::SolveError;

/// Why the agent stopped or a conversation with the coordinators failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent configuration: {reason}")]
    InvalidConfig { reason: String },
    /// The agent is shutting down.
    #[error("the agent is shutting down")]
    Cancelled,
    #[error("{what} at coordinator {addr}: {}: {}", .status.code(), .status.message())]
    Rpc {
        what: &'static str,
        addr: String,
        status: Box<tonic::Status>,
    },
    #[error("{what}: {source}")]
    Proto {
        what: &'static str,
        #[source]
        source: slipway_proto::ProtoError,
    },
    #[error("data plane on {addr}: {source}")]
    DataPlane {
        addr: String,
        #[source]
        source: Box<slipway_dataplane::DataPlaneError>,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> AgentError {
        let path = path.into();
        move |source| AgentError::Io { op, path, source }
    }

    /// The gRPC code, when a coordinator answered with an error.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            AgentError::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

/// Why a task failed on this worker; its message is what `Finish` reports.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("task {task}: the context {digest} is on no reachable worker{}", tried_list(.tried))]
    ContextNotFound {
        task: TaskId,
        digest: String,
        /// `addr: error` of each worker tried.
        tried: Vec<String>,
    },
    #[error("task {task}: the context is a directory on the client's machine, but {reason}")]
    DirectoryContext { task: TaskId, reason: &'static str },
    #[error("task {task}: unpacking the context: {source}")]
    Unpack {
        task: TaskId,
        #[source]
        source: Box<UnpackError>,
    },
    #[error("{source}")]
    Solve {
        #[source]
        source: Box<SolveError>,
    },
    #[error("task {task}: the solve produced {count} images; a task produces one")]
    ImageCount { task: TaskId, count: usize },
    #[error("task {task}: {source}")]
    Push {
        task: TaskId,
        #[source]
        source: Box<PushError>,
    },
    #[error("task {task}: pushing the image: {message}")]
    PushFailed { task: TaskId, message: String },
    #[error("task {task}: {what} {value:?} is not a valid digest")]
    Digest {
        task: TaskId,
        what: &'static str,
        value: String,
    },
    #[error("task {task}: {what}: {source}")]
    Cache {
        task: TaskId,
        what: String,
        #[source]
        source: Box<slipway_worker::remote::RemoteCacheError>,
    },
    #[error("task {task}: {what}")]
    Unsupported { task: TaskId, what: String },
    #[error("task {task}: {source}")]
    Agent {
        task: TaskId,
        #[source]
        source: AgentError,
    },
}

fn tried_list(tried: &[String]) -> String {
    if tried.is_empty() {
        String::new()
    } else {
        format!(" (tried {})", tried.join("; "))
    }
}

impl TaskError {
    /// The failure the farm records: a failed step (its vertex, name, exit code and
    /// message) when a step failed, else the task's error as one message.
    pub fn failure(&self) -> slipway_farm::Failure {
        if let TaskError::Solve { source } = self {
            if let SolveError::Vertex {
                vertex,
                name,
                source,
            } = source.as_ref()
            {
                let exit_code = match source.as_ref() {
                    slipway_worker::solver::VertexError::Exec(
                        slipway_worker::executor::ExecError::Failed {
                            status: slipway_worker::executor::FailedStatus::ExitCode(code),
                            ..
                        },
                    ) => Some(*code),
                    _ => None,
                };
                return slipway_farm::Failure::Step(slipway_farm::StepFailure {
                    vertex: vertex.clone(),
                    name: name.clone(),
                    exit_code,
                    message: source.to_string(),
                    excerpt: None,
                });
            }
        }
        slipway_farm::Failure::Task {
            task: String::new(),
            message: self.to_string(),
        }
    }
}
