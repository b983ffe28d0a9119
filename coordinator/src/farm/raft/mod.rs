//! Raft for the coordinators, the only module that knows openraft (0.9): a redb log store,
//! an in-memory [`FarmState`] state machine with JSON snapshots on disk, a tonic network
//! carrying serde_json-encoded openraft messages in the proto `Raft` service, and
//! [`RaftNode`], the API the rest of the coordinator uses.
//!
//! Files in `data_dir`: `raft-log.redb` (log entries, vote, committed and purged log ids)
//! and `raft-snapshot` (the last snapshot). A restarted node loads its snapshot, re-applies
//! the committed log after it and rejoins its cluster without `initialize`.

mod batcher;
mod config;
mod error;
mod info;
mod log_store;
mod log_writer;
mod network;
mod node;
mod service;
mod state_machine;
mod types;

pub use config::RaftConfig;
pub use error::RaftNodeError;
pub use info::{ClusterInfo, MemberInfo, Role};
pub use node::RaftNode;
pub use service::RaftService;
pub use types::{FarmState, NodeId};

#[cfg(test)]
mod tests;
