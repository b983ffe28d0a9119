//! Errors of the coordinator process; every one becomes a `tonic::Status` in
//! [`super::status`] and nowhere else.

use crate::farm::planner::PlanError;
use crate::farm::raft::RaftNodeError;
use slipway_farm::{BuildId, FarmError, NodeId, TaskId, WorkerId};
use slipway_proto::ProtoError;

/// Why a coordinator call or the node itself failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Proto(#[from] ProtoError),
    #[error(transparent)]
    Invalid(#[from] FarmError),
    /// The Dockerfile did not lower; `rendered` names the file and line.
    #[error("{rendered}")]
    Dockerfile { rendered: String },
    #[error("planning the build: {source}")]
    Plan { source: PlanError },
    #[error("no worker runs platform {platform}")]
    NoWorkerForPlatform { platform: String },
    /// A build named a client directory to read in place on a farm that does not run in
    /// the client's process.
    #[error("build {name} is a directory read in place, which only a one-process farm (slipway build without --builder) can do; upload it instead")]
    DirectoryContext { name: String },
    #[error("build {build} is not known")]
    BuildNotFound { build: BuildId },
    /// A submission named a client-chosen build id that an earlier, different submission
    /// already uses.
    #[error("build id {build} is already used by a different submission")]
    BuildIdTaken { build: BuildId },
    #[error("task {task} is not known")]
    TaskNotFound { task: TaskId },
    #[error("worker {worker} is not registered (register again)")]
    WorkerNotRegistered { worker: WorkerId },
    /// The replicated state ignored the command (stale, duplicate or not allowed now).
    #[error("{what} was not applied: {reason}")]
    Refused { what: String, reason: String },
    #[error("no coordinator is the Raft leader yet; retry shortly")]
    NoLeader,
    /// A call forwarded by another coordinator reached a node that is not the leader either
    /// (leadership is changing); the caller retries.
    #[error("coordinator {node} is not the leader (leader: {leader})")]
    NotLeader { node: NodeId, leader: String },
    #[error("forwarding to the leader at {addr}: {source}")]
    Forward {
        addr: String,
        source: tonic::transport::Error,
    },
    #[error("raft: {source}")]
    Raft { source: RaftNodeError },
    #[error(transparent)]
    Session(#[from] super::sessions::SessionError),
    #[error("{what} is not implemented by the farm coordinators yet")]
    Unimplemented { what: &'static str },
    #[error("{what}: background task failed: {message}")]
    Join { what: &'static str, message: String },
    #[error("TLS for {what}: {message}")]
    Tls { what: &'static str, message: String },
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("serving gRPC: {source}")]
    Serve { source: tonic::transport::Error },
    #[error("invalid {what} {value:?}: {reason}")]
    Config {
        what: &'static str,
        value: String,
        reason: String,
    },
}

impl From<RaftNodeError> for NodeError {
    fn from(source: RaftNodeError) -> NodeError {
        NodeError::Raft { source }
    }
}

impl From<PlanError> for NodeError {
    fn from(source: PlanError) -> NodeError {
        NodeError::Plan { source }
    }
}
