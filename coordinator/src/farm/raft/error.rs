//! Errors of the Raft node. openraft's own errors are large, so they travel boxed.

use std::path::PathBuf;
use std::time::Duration;

use openraft::error::{ChangeMembershipError, Fatal, InitializeError};
use openraft::BasicNode;

use super::types::NodeId;

/// What went wrong in [`super::RaftNode`].
#[derive(Debug, thiserror::Error)]
pub enum RaftNodeError {
    /// This node is not the leader; `leader` is the leader's id and address when known.
    #[error("not the leader; the leader is {}", describe_leader(.leader))]
    ForwardToLeader { leader: Option<(NodeId, String)> },

    /// The operation did not finish in time (e.g. a node cut off from the majority cannot commit).
    #[error("raft {operation} did not complete within {after:?}")]
    Timeout {
        operation: &'static str,
        after: Duration,
    },

    /// A leader could not reach a quorum to confirm its leadership.
    #[error("leader could not reach a quorum of {cluster}")]
    NoQuorum { cluster: String },

    #[error("opening the raft log {path}: {source}")]
    OpenLog {
        path: PathBuf,
        source: Box<redb::Error>,
    },

    #[error("raft storage: {source}")]
    Storage {
        source: Box<openraft::StorageError<NodeId>>,
    },

    #[error("raft snapshot file {path}: {source}")]
    SnapshotFile {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("raft snapshot file {path} is malformed: {message}")]
    SnapshotMalformed { path: PathBuf, message: String },

    #[error("creating the raft data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("invalid raft configuration: {source}")]
    Config { source: Box<openraft::ConfigError> },

    /// The raft core stopped (shut down, or a storage failure).
    #[error("raft stopped: {source}")]
    Fatal { source: Box<Fatal<NodeId>> },

    #[error("initializing the cluster: {source}")]
    Initialize {
        source: Box<InitializeError<NodeId, BasicNode>>,
    },

    /// `initialize` must list this node itself with the address it was opened with.
    #[error("initial members must include this node {node_id} at {addr}")]
    SelfNotInMembers { node_id: NodeId, addr: String },

    #[error("changing membership: {source}")]
    ChangeMembership {
        source: Box<ChangeMembershipError<NodeId>>,
    },

    #[error("node {node_id} is not a member of the cluster")]
    UnknownNode { node_id: NodeId },

    /// The state machine's answer to a group-committed entry did not hold one response per
    /// command, so no writer of the entry can tell what happened to its command.
    #[error("raft entry of {commands} commands was answered with {answer}")]
    BatchMismatch { commands: usize, answer: String },

    #[error("invalid peer address {addr}: {message}")]
    PeerAddress { addr: String, message: String },

    /// A one-process farm (the embedded build) has one member and no Raft group.
    #[error("{operation}: this farm runs in one process and has no other members")]
    SingleProcess { operation: &'static str },
}

fn describe_leader(leader: &Option<(NodeId, String)>) -> String {
    match leader {
        Some((id, addr)) => format!("node {id} at {addr}"),
        None => "unknown".to_string(),
    }
}

impl From<Fatal<NodeId>> for RaftNodeError {
    fn from(source: Fatal<NodeId>) -> Self {
        RaftNodeError::Fatal {
            source: Box::new(source),
        }
    }
}

impl From<openraft::error::ForwardToLeader<NodeId, BasicNode>> for RaftNodeError {
    fn from(f: openraft::error::ForwardToLeader<NodeId, BasicNode>) -> Self {
        let leader = match (f.leader_id, f.leader_node) {
            (Some(id), Some(node)) => Some((id, node.addr)),
            _ => None,
        };
        RaftNodeError::ForwardToLeader { leader }
    }
}
