//! The coordinator process's configuration.

use crate::farm::state::HistoryConfig;
use slipway_farm::NodeId;
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryConfig;
use slipway_tls::Security;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a coordinator keeps the farm's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StoreKind {
    /// A Raft group (log and snapshots in `data_dir`).
    #[default]
    Raft,
    /// One in-memory state, this node its only member: a one-process farm.
    Memory,
}

/// How one coordinator runs.
pub struct NodeConfig {
    /// Raft, or in memory for a one-process farm.
    pub store: StoreKind,
    /// This coordinator's Raft node id (1, 2, 3...).
    pub node_id: NodeId,
    /// Where the gRPC server (Control, WorkerApi, Raft) listens; port 0 picks a free port.
    pub listen: SocketAddr,
    /// `host:port` the other coordinators and workers reach this node at; `None` uses the
    /// address actually bound (fine on one machine).
    pub advertise: Option<String>,
    /// Raft log, state machine and snapshots.
    pub data_dir: PathBuf,
    /// The initial cluster, this node included (`id → host:port`). When non-empty, the node
    /// with the smallest id initializes the cluster at start (a no-op if it already was);
    /// empty: the node waits to be added (`AddNode`) or for [`super::FarmNode::initialize`].
    pub peers: BTreeMap<NodeId, String>,
    pub security: Security,
    /// A worker is lost when it has not renewed for this long.
    pub lease_ttl_ms: u64,
    /// How often workers are told to renew (default: a third of the TTL).
    pub renew_interval_ms: Option<u64>,
    /// Registry settings for resolving base images and pushing indexes.
    pub registry: RegistryConfig,
    pub credentials: CredentialStore,
    /// The leader controller's tick (it also runs on every applied log entry).
    pub tick: Duration,
    pub raft_heartbeat_ms: u64,
    pub raft_election_timeout_ms: (u64, u64),
    /// How many finished builds (and for how long) the replicated state keeps.
    pub history: HistoryConfig,
}

impl Default for NodeConfig {
    fn default() -> NodeConfig {
        NodeConfig {
            store: StoreKind::Raft,
            node_id: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], 7600)),
            advertise: None,
            data_dir: PathBuf::from("/var/lib/slipway/coordinator"),
            peers: BTreeMap::new(),
            security: Security::Insecure,
            lease_ttl_ms: 10_000,
            renew_interval_ms: None,
            registry: RegistryConfig::default(),
            credentials: CredentialStore::default(),
            tick: Duration::from_millis(50),
            raft_heartbeat_ms: 100,
            raft_election_timeout_ms: (400, 800),
            history: HistoryConfig::default(),
        }
    }
}

impl NodeConfig {
    pub fn renew_interval_ms(&self) -> u64 {
        self.renew_interval_ms
            .unwrap_or(self.lease_ttl_ms / 3)
            .max(1)
    }
}
