//! What every service and the controller of one node share: the Raft node, the leader's
//! in-memory tables (leases, assignment streams, progress channels), and the routing of a
//! call to this node or to the leader.

use super::assignments::AssignmentHub;
use super::error::NodeError;
use super::forward::{was_forwarded, Forwarder, Route};
use super::gc_orders::GcOrders;
use super::leases::Leases;
use super::progress::ProgressHub;
use super::sessions::Sessions;
use crate::farm::state::{Command, Response};
use crate::farm::store::StateStore;
use slipway_farm::NodeId;
use slipway_oci::registry::RegistryClient;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

pub struct Shared {
    pub node_id: NodeId,
    /// The replicated state (Raft, or one in-memory state for a one-process farm).
    pub raft: StateStore,
    pub leases: Mutex<Leases>,
    pub assignments: AssignmentHub,
    pub progress: ProgressHub,
    pub forwarder: Forwarder,
    pub registry: Arc<RegistryClient>,
    pub renew_interval_ms: u64,
    /// Disk-usage and prune orders owed to workers (leader memory).
    pub gc_orders: GcOrders,
    /// Open client sessions by build (leader memory; secrets pass through here).
    pub sessions: Sessions,
    pub shutdown: CancellationToken,
    /// Whether builds may name directories read in place (a one-process farm only).
    pub in_place_contexts: bool,
}

impl Shared {
    pub fn leases(&self) -> MutexGuard<'_, Leases> {
        match self.leases.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Where a call is served: here when this node leads, else the leader (a call that was
    /// already forwarded is never forwarded again).
    pub fn route<T>(&self, req: &tonic::Request<T>) -> Result<Route, NodeError> {
        let info = self.raft.metrics();
        if info.leader == Some(self.node_id) {
            return Ok(Route::Local);
        }
        let leader = info.leader_addr();
        if was_forwarded(req) {
            return Err(NodeError::NotLeader {
                node: self.node_id,
                leader: match leader {
                    Some((id, addr)) => format!("node {id} at {addr}"),
                    None => "unknown".to_string(),
                },
            });
        }
        match leader {
            Some((id, addr)) => Ok(Route::Leader { id, addr }),
            None => Err(NodeError::NoLeader),
        }
    }

    /// Commits a command; a command the state refuses becomes [`NodeError::Refused`].
    pub async fn commit(&self, what: &str, cmd: Command) -> Result<(), NodeError> {
        match self.raft.write(cmd).await? {
            Response::Ok => Ok(()),
            Response::Ignored { reason } | Response::Rejected { reason } => {
                Err(NodeError::Refused {
                    what: what.to_string(),
                    reason,
                })
            }
            // RaftNode::write answers each command on its own, never with a batch.
            Response::Batch(_) => Err(NodeError::Refused {
                what: what.to_string(),
                reason: "a batch response to a single command".to_string(),
            }),
        }
    }

    /// Commits a command whose refusal is expected (stale or duplicate); returns whether
    /// the state applied it.
    pub async fn commit_lenient(&self, cmd: Command) -> Result<bool, NodeError> {
        Ok(self.raft.write(cmd).await?.is_ok())
    }
}

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
