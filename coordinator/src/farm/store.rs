//! Where a coordinator's replicated state lives: the seam between the coordinator core and
//! Raft. Two backends behind one closed enum:
//! - [`StateStore::Raft`]: the farm's Raft group ([`RaftNode`]), replicated and durable;
//! - [`StateStore::Memory`]: one in-memory [`FarmState`] for a one-process farm (the
//!   embedded `slipway build`), where this node is always the leader and every command is
//!   applied as it is written.
//!
//! Both apply commands with the same pure [`FarmState::apply`], so the controller, the
//! services and the planner cannot tell them apart.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use super::raft::{ClusterInfo, MemberInfo, RaftNode, RaftNodeError, Role};
use super::state::{Command, FarmState, Response};
use slipway_farm::NodeId;

/// The replicated state of one coordinator.
#[derive(Clone)]
pub enum StateStore {
    Raft(RaftNode),
    Memory(MemoryStore),
}

impl StateStore {
    /// Reads the locally applied state.
    pub fn read<T>(&self, f: impl FnOnce(&FarmState) -> T) -> T {
        match self {
            StateStore::Raft(r) => r.read(f),
            StateStore::Memory(m) => m.read(f),
        }
    }

    /// Commits `cmd` and returns the state's answer to it.
    pub async fn write(&self, cmd: Command) -> Result<Response, RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.write(cmd).await,
            StateStore::Memory(m) => Ok(m.write(cmd)),
        }
    }

    pub fn metrics(&self) -> ClusterInfo {
        match self {
            StateStore::Raft(r) => r.metrics(),
            StateStore::Memory(m) => m.info(),
        }
    }

    pub fn is_leader(&self) -> bool {
        match self {
            StateStore::Raft(r) => r.is_leader(),
            StateStore::Memory(_) => true,
        }
    }

    /// Changes on every applied command (or log entry).
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        match self {
            StateStore::Raft(r) => r.applied_watch(),
            StateStore::Memory(m) => m.applied.subscribe(),
        }
    }

    /// Changes whenever the leader, term, role or membership changes.
    pub fn cluster_watch(&self) -> watch::Receiver<ClusterInfo> {
        match self {
            StateStore::Raft(r) => r.cluster_watch(),
            StateStore::Memory(m) => m.cluster.subscribe(),
        }
    }

    pub async fn add_node(&self, id: NodeId, addr: String) -> Result<ClusterInfo, RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.add_node(id, addr).await,
            StateStore::Memory(_) => Err(RaftNodeError::SingleProcess {
                operation: "adding a coordinator",
            }),
        }
    }

    pub async fn remove_node(&self, id: NodeId) -> Result<ClusterInfo, RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.remove_node(id).await,
            StateStore::Memory(_) => Err(RaftNodeError::SingleProcess {
                operation: "removing a coordinator",
            }),
        }
    }

    pub async fn is_initialized(&self) -> Result<bool, RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.is_initialized().await,
            StateStore::Memory(_) => Ok(true),
        }
    }

    pub async fn initialize(&self, members: BTreeMap<NodeId, String>) -> Result<(), RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.initialize(members).await,
            StateStore::Memory(_) => Ok(()),
        }
    }

    pub async fn shutdown(&self) -> Result<(), RaftNodeError> {
        match self {
            StateStore::Raft(r) => r.shutdown().await,
            StateStore::Memory(_) => Ok(()),
        }
    }

    /// The Raft handle, for what only a Raft group has (its gRPC service, fault injection).
    pub fn raft(&self) -> Option<&RaftNode> {
        match self {
            StateStore::Raft(r) => Some(r),
            StateStore::Memory(_) => None,
        }
    }
}

/// One [`FarmState`] in memory: this node leads a cluster of itself.
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<RwLock<(FarmState, u64)>>,
    applied: Arc<watch::Sender<u64>>,
    cluster: Arc<watch::Sender<ClusterInfo>>,
    node_id: NodeId,
    addr: String,
}

impl MemoryStore {
    /// An empty state led by `node_id`, reached at `addr`.
    pub fn new(node_id: NodeId, addr: String) -> MemoryStore {
        let (applied, _) = watch::channel(0);
        let info = cluster_of_one(node_id, &addr, 0);
        let (cluster, _) = watch::channel(info);
        MemoryStore {
            state: Arc::new(RwLock::new((FarmState::default(), 0))),
            applied: Arc::new(applied),
            cluster: Arc::new(cluster),
            node_id,
            addr,
        }
    }

    fn read<T>(&self, f: impl FnOnce(&FarmState) -> T) -> T {
        // A poisoned lock still holds a consistent state: apply never panics midway.
        let guard = match self.state.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&guard.0)
    }

    fn write(&self, cmd: Command) -> Response {
        let (response, index) = {
            let mut guard = match self.state.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let response = guard.0.apply(cmd);
            guard.1 += 1;
            (response, guard.1)
        };
        self.applied.send_replace(index);
        response
    }

    fn info(&self) -> ClusterInfo {
        let applied = match self.state.read() {
            Ok(g) => g.1,
            Err(poisoned) => poisoned.into_inner().1,
        };
        cluster_of_one(self.node_id, &self.addr, applied)
    }
}

fn cluster_of_one(node_id: NodeId, addr: &str, applied: u64) -> ClusterInfo {
    ClusterInfo {
        node_id,
        role: Role::Leader,
        leader: Some(node_id),
        term: 1,
        commit_index: applied,
        applied_index: applied,
        members: vec![MemberInfo {
            id: node_id,
            addr: addr.to_string(),
            voter: true,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_applies_commands_and_announces_each() {
        let store = StateStore::Memory(MemoryStore::new(1, "in-process".into()));
        let mut applied = store.applied_watch();
        assert!(store.is_leader());
        assert!(store.is_initialized().await.unwrap());
        let r = store
            .write(Command::ForgetBuilds {
                builds: vec![],
                at_ms: 1,
            })
            .await
            .unwrap();
        assert!(matches!(r, Response::Ignored { .. }), "{r:?}");
        applied.changed().await.unwrap();
        assert_eq!(*applied.borrow(), 1);
        assert_eq!(store.metrics().applied_index, 1);
        assert_eq!(
            store.metrics().leader_addr(),
            Some((1, "in-process".into()))
        );
        assert!(store.add_node(2, "x:1".into()).await.is_err());
        assert_eq!(store.read(|st| st.builds().count()), 0);
    }
}
