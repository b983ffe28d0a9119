//! [`RaftNode`]: the coordinator's handle on its Raft group member. Everything else in the
//! coordinator talks to Raft through this type only.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ChangeMembershipError, CheckIsLeaderError, ClientWriteError, RaftError};
use openraft::raft::ClientWriteResponse;
use openraft::{BasicNode, ChangeMembers};
use slipway_proto::v1::raft_server::RaftServer;
use tokio::sync::watch;

use super::batcher::{BatchFailure, BatchOptions, Batcher, ClientWriteFailure};
use super::config::RaftConfig;
use super::error::RaftNodeError;
use super::info::ClusterInfo;
use super::log_store::LogStore;
use super::network::Network;
use super::service::RaftService;
use super::state_machine::{Shared, StateMachine};
use super::types::{Command, FarmState, NodeId, Raft, Response, TypeConfig};

/// A running member of the coordinators' Raft group. Cheap to clone (all clones share it).
#[derive(Clone)]
pub struct RaftNode {
    pub(super) raft: Raft,
    batcher: Batcher,
    shared: Arc<Shared>,
    committed: Arc<AtomicU64>,
    isolated: Arc<AtomicBool>,
    cluster: watch::Receiver<ClusterInfo>,
    node_id: NodeId,
    addr: String,
    write_timeout: Duration,
    catch_up_timeout: Duration,
}

impl RaftNode {
    /// Opens the log and snapshot in `config.data_dir` (created if missing) and starts the
    /// Raft core. A node with existing data rejoins its cluster; a new one waits for
    /// [`RaftNode::initialize`] (on one node) or to be added by the leader.
    pub async fn open(config: RaftConfig) -> Result<RaftNode, RaftNodeError> {
        if config.addr.is_empty() {
            return Err(RaftNodeError::PeerAddress {
                addr: config.addr,
                message: "this node's raft address is empty".to_string(),
            });
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|source| RaftNodeError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let openraft_config = Arc::new(config.openraft()?);
        let log_store = LogStore::open(&config.data_dir)?;
        let committed = log_store.committed_index();
        let (state_machine, shared) = StateMachine::open(&config.data_dir)?;
        let isolated = Arc::new(AtomicBool::new(false));
        let network = Network {
            node_id: config.node_id,
            tls: config.tls.clone(),
            isolated: isolated.clone(),
        };
        let raft = Raft::new(
            config.node_id,
            openraft_config,
            network,
            log_store,
            state_machine,
        )
        .await?;
        let cluster = spawn_cluster_watch(&raft, committed.clone(), shared.applied_watch());
        let batcher = Batcher::spawn(
            raft.clone(),
            BatchOptions {
                commit_timeout: config.write_timeout,
                ..BatchOptions::default()
            },
        );
        Ok(RaftNode {
            raft,
            batcher,
            cluster,
            shared,
            committed,
            isolated,
            node_id: config.node_id,
            addr: config.addr,
            write_timeout: config.write_timeout,
            catch_up_timeout: config.catch_up_timeout,
        })
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Creates the cluster with `members` (id → raft address) as voters. Call it on one node
    /// only, which must be among `members` with the address it was opened with. Calling it
    /// again on an initialized node fails with `Initialize` (not allowed).
    pub async fn initialize(&self, members: BTreeMap<NodeId, String>) -> Result<(), RaftNodeError> {
        if members.get(&self.node_id) != Some(&self.addr) {
            return Err(RaftNodeError::SelfNotInMembers {
                node_id: self.node_id,
                addr: self.addr.clone(),
            });
        }
        let nodes: BTreeMap<NodeId, BasicNode> = members
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
        match self.raft.initialize(nodes).await {
            Ok(()) => Ok(()),
            Err(RaftError::APIError(e)) => Err(RaftNodeError::Initialize {
                source: Box::new(e),
            }),
            Err(RaftError::Fatal(f)) => Err(f.into()),
        }
    }

    /// Whether this node has a membership (initialized, joined, or restarted with data).
    pub async fn is_initialized(&self) -> Result<bool, RaftNodeError> {
        Ok(self.raft.is_initialized().await?)
    }

    /// Adds node `id` at `addr`: as a learner first, waiting until it has caught up with the
    /// log, then as a voter. Must be called on the leader.
    pub async fn add_node(&self, id: NodeId, addr: String) -> Result<ClusterInfo, RaftNodeError> {
        let node = BasicNode::new(addr);
        self.membership_change("add learner", || {
            self.raft.add_learner(id, node.clone(), true)
        })
        .await?;
        let voters = BTreeSet::from([id]);
        self.membership_change("change membership", || {
            self.raft
                .change_membership(ChangeMembers::AddVoterIds(voters.clone()), false)
        })
        .await?;
        Ok(self.metrics())
    }

    /// Removes node `id` (voter or learner) from the cluster. Must be called on the leader.
    pub async fn remove_node(&self, id: NodeId) -> Result<ClusterInfo, RaftNodeError> {
        let info = self.metrics();
        let Some(member) = info.members.iter().find(|m| m.id == id) else {
            return Err(RaftNodeError::UnknownNode { node_id: id });
        };
        let voter = member.voter;
        let ids = BTreeSet::from([id]);
        self.membership_change("change membership", || {
            let change = if voter {
                ChangeMembers::RemoveVoters(ids.clone())
            } else {
                ChangeMembers::RemoveNodes(ids.clone())
            };
            self.raft.change_membership(change, false)
        })
        .await?;
        Ok(self.metrics())
    }

    /// Runs a membership change, retrying while an earlier one is still being committed
    /// (e.g. right after an election), within `catch_up_timeout`.
    async fn membership_change<F, Fut>(
        &self,
        operation: &'static str,
        mut change: F,
    ) -> Result<(), RaftNodeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ClientWriteResponse<TypeConfig>, ClientWriteFailure>>,
    {
        let attempts = async {
            loop {
                match change().await {
                    Ok(_) => return Ok(()),
                    Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                        ChangeMembershipError::InProgress(_),
                    ))) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    Err(e) => return Err(self.client_write_error(e)),
                }
            }
        };
        with_timeout(operation, self.catch_up_timeout, attempts).await?
    }

    /// Commits `cmd` through Raft and returns the state machine's response. Fails with
    /// `ForwardToLeader` on a follower and `Timeout` when no quorum commits it in time; after
    /// a timeout the command may still commit later (commands must tolerate duplicates).
    ///
    /// Concurrent writes are grouped into one Raft entry (group commit, see
    /// `batcher.rs`); each caller still gets the response to its own command.
    pub async fn write(&self, cmd: Command) -> Result<Response, RaftNodeError> {
        let write = self.batcher.write(cmd);
        match with_timeout("write", self.write_timeout, write).await? {
            Ok(response) => Ok(response),
            Err(BatchFailure::Raft(e)) => Err(self.client_write_error(*e)),
            Err(BatchFailure::Timeout(after)) => Err(RaftNodeError::Timeout {
                operation: "write",
                after,
            }),
            Err(BatchFailure::Mismatch { commands, answer }) => {
                Err(RaftNodeError::BatchMismatch { commands, answer })
            }
        }
    }

    /// Confirms with a quorum that this node is still the leader and waits until its state
    /// has applied everything committed before the call: reads after it are linearizable.
    pub async fn ensure_linearizable(&self) -> Result<(), RaftNodeError> {
        let check = self.raft.ensure_linearizable();
        match with_timeout("linearizable read", self.write_timeout, check).await? {
            Ok(_) => Ok(()),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(self.forward(f.leader_id))
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q))) => {
                Err(RaftNodeError::NoQuorum { cluster: q.cluster })
            }
            Err(RaftError::Fatal(f)) => Err(f.into()),
        }
    }

    /// Reads the locally applied state (not linearizable by itself: see
    /// [`RaftNode::ensure_linearizable`]).
    pub fn read<T>(&self, f: impl FnOnce(&FarmState) -> T) -> T {
        f(&self.shared.read().state)
    }

    /// The cluster as this node sees it now.
    pub fn metrics(&self) -> ClusterInfo {
        let m = self.raft.metrics().borrow().clone();
        let applied = *self.shared.applied_watch().borrow();
        ClusterInfo::from_metrics(&m, self.committed.load(Ordering::Relaxed), applied)
    }

    /// Whether this node currently believes it is the leader.
    pub fn is_leader(&self) -> bool {
        self.raft.metrics().borrow().current_leader == Some(self.node_id)
    }

    /// The index of the last applied log entry; changes on every apply and snapshot install.
    pub fn applied_watch(&self) -> watch::Receiver<u64> {
        self.shared.applied_watch()
    }

    /// The cluster view, updated whenever the leader, term, role, membership or applied
    /// index changes (wakes leader controllers on elections).
    pub fn cluster_watch(&self) -> watch::Receiver<ClusterInfo> {
        self.cluster.clone()
    }

    /// The proto `Raft` service of this node, to add to the coordinator's tonic server.
    pub fn raft_service(&self) -> RaftServer<RaftService> {
        RaftService::new(self.raft.clone(), self.isolated.clone()).into_server()
    }

    /// Fault injection for partition tests: while `true`, this node neither sends nor
    /// accepts Raft RPCs (as if its network to the other coordinators were cut).
    pub fn set_isolated(&self, isolated: bool) {
        self.isolated.store(isolated, Ordering::Relaxed);
    }

    /// Stops the Raft core; later calls fail with `Fatal`. The data directory is released
    /// once every clone of this node and of its service has been dropped.
    pub async fn shutdown(&self) -> Result<(), RaftNodeError> {
        // A join error here means the core task had already panicked; it is stopped either way.
        let _ = self.raft.shutdown().await;
        Ok(())
    }

    fn forward(&self, leader_id: Option<NodeId>) -> RaftNodeError {
        let leader = leader_id.and_then(|id| {
            let info = self.metrics();
            info.addr_of(id).map(|a| (id, a.to_string()))
        });
        RaftNodeError::ForwardToLeader { leader }
    }

    fn client_write_error(&self, e: ClientWriteFailure) -> RaftNodeError {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                match (f.leader_id, f.leader_node) {
                    (Some(id), Some(node)) => RaftNodeError::ForwardToLeader {
                        leader: Some((id, node.addr)),
                    },
                    (id, _) => self.forward(id),
                }
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                RaftNodeError::ChangeMembership {
                    source: Box::new(c),
                }
            }
            RaftError::Fatal(f) => f.into(),
        }
    }
}

/// Publishes a [`ClusterInfo`] whenever openraft's metrics change; ends with the Raft core.
fn spawn_cluster_watch(
    raft: &Raft,
    committed: Arc<AtomicU64>,
    applied: watch::Receiver<u64>,
) -> watch::Receiver<ClusterInfo> {
    let mut metrics = raft.metrics();
    let view = move |m: &openraft::RaftMetrics<NodeId, BasicNode>| {
        ClusterInfo::from_metrics(m, committed.load(Ordering::Relaxed), *applied.borrow())
    };
    let initial = view(&metrics.borrow_and_update());
    let (tx, rx) = watch::channel(initial);
    tokio::spawn(async move {
        while metrics.changed().await.is_ok() {
            let info = view(&metrics.borrow_and_update());
            tx.send_if_modified(|current| {
                let changed = *current != info;
                if changed {
                    *current = info;
                }
                changed
            });
        }
    });
    rx
}

/// Bounds an openraft call by `after`.
async fn with_timeout<T>(
    operation: &'static str,
    after: Duration,
    fut: impl Future<Output = T>,
) -> Result<T, RaftNodeError> {
    tokio::time::timeout(after, fut)
        .await
        .map_err(|_| RaftNodeError::Timeout { operation, after })
}
