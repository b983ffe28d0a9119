//! The one place where coordinator errors become gRPC statuses.
//!
//! Codes: bad input → `INVALID_ARGUMENT`; a build that cannot run on the current cluster
//! (no worker for a platform) or a command the state refuses → `FAILED_PRECONDITION`;
//! unknown ids → `NOT_FOUND`; a client-chosen build id taken by another submission →
//! `ALREADY_EXISTS`; no leader / leadership moving / leader unreachable / no
//! quorum within the write timeout → `UNAVAILABLE` (clients retry); not implemented → `UNIMPLEMENTED`; anything else →
//! `INTERNAL`.

use super::error::NodeError;
use crate::farm::raft::RaftNodeError;
use tonic::{Code, Status};

/// The gRPC code of an error.
pub fn code(err: &NodeError) -> Code {
    match err {
        NodeError::Proto(_)
        | NodeError::Invalid(_)
        | NodeError::Dockerfile { .. }
        | NodeError::Plan { .. }
        | NodeError::DirectoryContext { .. } => Code::InvalidArgument,
        NodeError::NoWorkerForPlatform { .. } | NodeError::Refused { .. } => {
            Code::FailedPrecondition
        }
        NodeError::BuildNotFound { .. }
        | NodeError::TaskNotFound { .. }
        | NodeError::WorkerNotRegistered { .. } => Code::NotFound,
        NodeError::NoLeader | NodeError::NotLeader { .. } | NodeError::Forward { .. } => {
            Code::Unavailable
        }
        NodeError::Raft { source } => match source {
            RaftNodeError::ForwardToLeader { .. }
            | RaftNodeError::Timeout { .. }
            | RaftNodeError::NoQuorum { .. }
            | RaftNodeError::Fatal { .. } => Code::Unavailable,
            RaftNodeError::UnknownNode { .. } => Code::NotFound,
            RaftNodeError::PeerAddress { .. } | RaftNodeError::SelfNotInMembers { .. } => {
                Code::InvalidArgument
            }
            RaftNodeError::Initialize { .. }
            | RaftNodeError::ChangeMembership { .. }
            | RaftNodeError::SingleProcess { .. } => Code::FailedPrecondition,
            _ => Code::Internal,
        },
        NodeError::BuildIdTaken { .. } => Code::AlreadyExists,
        NodeError::Session(_) => Code::FailedPrecondition,
        NodeError::Unimplemented { .. } => Code::Unimplemented,
        NodeError::Join { .. }
        | NodeError::Tls { .. }
        | NodeError::Listen { .. }
        | NodeError::Serve { .. }
        | NodeError::Config { .. } => Code::Internal,
    }
}

impl From<NodeError> for Status {
    fn from(err: NodeError) -> Status {
        Status::new(code(&err), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::BuildId;

    #[test]
    fn codes_follow_the_error_kind() {
        let s = Status::from(NodeError::NoWorkerForPlatform {
            platform: "linux/riscv64".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert_eq!(s.message(), "no worker runs platform linux/riscv64");
        let s = Status::from(NodeError::BuildNotFound {
            build: BuildId::new(),
        });
        assert_eq!(s.code(), Code::NotFound);
        assert_eq!(Status::from(NodeError::NoLeader).code(), Code::Unavailable);
        let s = Status::from(NodeError::Unimplemented { what: "Prune" });
        assert_eq!(s.code(), Code::Unimplemented);
        assert!(s.message().contains("Prune"));
        let s = Status::from(NodeError::Dockerfile {
            rendered: "Dockerfile:1: unknown instruction: FORM".into(),
        });
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().starts_with("Dockerfile:1"));
        let s = Status::from(NodeError::Refused {
            what: "cancel".into(),
            reason: "the build already finished".into(),
        });
        assert_eq!(s.code(), Code::FailedPrecondition);
        let s = Status::from(NodeError::from(RaftNodeError::ForwardToLeader {
            leader: None,
        }));
        assert_eq!(s.code(), Code::Unavailable);
        let s = Status::from(NodeError::from(RaftNodeError::UnknownNode { node_id: 9 }));
        assert_eq!(s.code(), Code::NotFound);
    }
}
