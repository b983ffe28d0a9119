//! The coordinator process of the farm: [`FarmNode`] serves the `Control`, `WorkerApi` and
//! `Raft` services on one tonic server and runs the leader controller.
//!
//! - **Routing**: every Control and WorkerApi call is served by the Raft leader; a follower
//!   forwards it over a tonic client to the leader's address (server and client streams are
//!   proxied), see [`forward`]. `ClusterStatus` is the exception: each node answers with its
//!   own view. Errors become `tonic::Status` in one place, [`status`].
//! - **Leases** live in the leader's memory only ([`leases`]): the leader expires a worker
//!   when `now > last renewal + TTL`; a new leader grants every registered worker a full TTL
//!   from its election; renewals are not written through Raft.
//! - **Controller** ([`controller`]): expires leases (`WorkerLost`), places tasks with the
//!   pure scheduler (`Assign`, pushed down the worker's `Assignments` stream; an
//!   unplaceable task fails), stitches finished builds ([`stitching`]: index pushed by
//!   digest then tags) and commits `BuildStitched`.
//! - **Submission** ([`submit`]): validate, lower the Dockerfile (base images resolved from
//!   registries), plan one task per platform, refuse at once a platform no live worker runs,
//!   commit `SubmitBuild`.
//! - **Progress** goes worker → leader → every `Watch` stream of the build ([`progress`],
//!   [`watch`]); it is not Raft state.
//!
//! The state lives in a [`StateStore`]: the Raft group, or (a one-process farm, the
//! embedded build) one in-memory state this node always leads.

pub mod affinity;
pub mod assignments;
pub mod cache_api;
pub mod cache_export;
pub mod config;
pub mod control;
pub mod controller;
pub mod error;
pub mod forward;
pub mod gc_orders;
pub mod leases;
pub mod progress;
pub mod sessions;
mod shared;
pub mod status;
pub mod stitching;
pub mod submit;
pub mod transport;
pub mod views;
pub mod watch;
pub mod worker_api;

pub use config::{NodeConfig, StoreKind};
pub use error::NodeError;

use crate::farm::raft::{ClusterInfo, RaftConfig, RaftNode};
use crate::farm::store::{MemoryStore, StateStore};
use assignments::AssignmentHub;
use control::ControlService;
use forward::Forwarder;
use gc_orders::GcOrders;
use leases::Leases;
use progress::ProgressHub;
use sessions::Sessions;
use shared::Shared;
use slipway_farm::NodeId;
use slipway_oci::registry::RegistryClient;
use slipway_proto::limits::{control_server, worker_api_server};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::StreamExt as _;
use tokio_util::sync::CancellationToken;
use worker_api::WorkerApiService;

/// How long open streams may delay a shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running coordinator.
pub struct FarmNode {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    advertise: String,
    server: JoinHandle<Result<(), NodeError>>,
    controller: JoinHandle<()>,
}

impl FarmNode {
    /// Binds the listener, opens Raft in `data_dir`, starts serving and the controller.
    /// With `peers`, the node with the smallest id initializes the cluster (once).
    pub async fn start(config: NodeConfig) -> Result<FarmNode, NodeError> {
        slipway_tls::install_crypto_provider();
        config.history.validate().map_err(|e| NodeError::Config {
            what: "build history",
            value: format!("{:?}", config.history),
            reason: e.to_string(),
        })?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| NodeError::Listen {
                addr: config.listen.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| NodeError::Listen {
            addr: config.listen.to_string(),
            source,
        })?;
        let advertise = config
            .advertise
            .clone()
            .unwrap_or_else(|| local_addr.to_string());
        let raft = match config.store {
            StoreKind::Raft => {
                let (emin, emax) = config.raft_election_timeout_ms;
                StateStore::Raft(
                    RaftNode::open(RaftConfig {
                        node_id: config.node_id,
                        addr: advertise.clone(),
                        data_dir: config.data_dir.clone(),
                        tls: config.security.tonic_client_tls(None),
                        heartbeat_interval: Duration::from_millis(config.raft_heartbeat_ms),
                        election_timeout_min: Duration::from_millis(emin),
                        election_timeout_max: Duration::from_millis(emax),
                        ..RaftConfig::default()
                    })
                    .await?,
                )
            }
            StoreKind::Memory => {
                StateStore::Memory(MemoryStore::new(config.node_id, advertise.clone()))
            }
        };
        let shutdown = CancellationToken::new();
        let renew_interval_ms = config.renew_interval_ms();
        let shared = Arc::new(Shared {
            node_id: config.node_id,
            raft: raft.clone(),
            leases: Mutex::new(Leases::new(config.lease_ttl_ms)),
            assignments: AssignmentHub::default(),
            progress: ProgressHub::default(),
            forwarder: Forwarder::new(config.node_id, config.security.clone()),
            registry: Arc::new(RegistryClient::new(config.registry, config.credentials)),
            renew_interval_ms,
            gc_orders: GcOrders::default(),
            sessions: Sessions::default(),
            shutdown: shutdown.clone(),
            in_place_contexts: config.store == StoreKind::Memory,
        });

        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = config.security.tonic_server_tls() {
            builder = builder.tls_config(tls).map_err(|e| NodeError::Tls {
                what: "the gRPC server",
                message: e.to_string(),
            })?;
        }
        let router = builder
            .add_service(control_server(ControlService { s: shared.clone() }))
            .add_service(worker_api_server(WorkerApiService { s: shared.clone() }))
            .add_optional_service(raft.raft().map(RaftNode::raft_service));
        let stop = shutdown.clone();
        let server = tokio::spawn(async move {
            router
                .serve_with_incoming_shutdown(
                    // Replies go out at once: without TCP_NODELAY, Nagle's algorithm holds a
                    // small response until the client's delayed ACK (40 ms on Linux).
                    TcpListenerStream::new(listener).map(|conn| {
                        conn.inspect(|c| {
                            if let Err(e) = c.set_nodelay(true) {
                                tracing::debug!(error = %e, "setting TCP_NODELAY");
                            }
                        })
                    }),
                    stop.cancelled_owned(),
                )
                .await
                .map_err(|source| NodeError::Serve { source })
        });
        let controller = tokio::spawn(controller::run(
            shared.clone(),
            config.tick,
            config.history.clone(),
        ));

        let node = FarmNode {
            shared,
            local_addr,
            advertise,
            server,
            controller,
        };
        let first = config.peers.keys().next().copied();
        if first == Some(config.node_id) && !node.shared.raft.is_initialized().await? {
            node.initialize(config.peers.clone()).await?;
        }
        Ok(node)
    }

    /// Creates the cluster with these members (id → `host:port`), this node included.
    pub async fn initialize(&self, members: BTreeMap<NodeId, String>) -> Result<(), NodeError> {
        Ok(self.shared.raft.initialize(members).await?)
    }

    pub fn node_id(&self) -> NodeId {
        self.shared.node_id
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address the others reach this node at.
    pub fn advertise(&self) -> &str {
        &self.advertise
    }

    /// The node's state store (status; its Raft handle for fault injection in tests).
    pub fn raft(&self) -> &StateStore {
        &self.shared.raft
    }

    pub fn cluster(&self) -> ClusterInfo {
        self.shared.raft.metrics()
    }

    /// Whether worker `id` is registered and holds a live lease (the placement of builds
    /// considers it).
    pub fn is_worker_live(&self, id: &slipway_farm::WorkerId) -> bool {
        let registered = self
            .shared
            .raft
            .read(|st| st.worker(id).is_some_and(|w| w.is_active()));
        registered && self.shared.leases().is_live(id, shared::now_ms())
    }

    pub fn is_leader(&self) -> bool {
        self.shared.raft.is_leader()
    }

    /// Serves until the server stops (an error, or the [`FarmNode::shutdown_token`] was
    /// cancelled), then stops the controller and Raft.
    pub async fn wait(self) -> Result<(), NodeError> {
        let FarmNode {
            shared,
            mut server,
            controller,
            ..
        } = self;
        let served = tokio::select! {
            r = &mut server => Some(r),
            _ = shared.shutdown.cancelled() => None,
        };
        shared.shutdown.cancel();
        shared.assignments.close_all(tonic::Status::unavailable(
            "the coordinator is shutting down",
        ));
        // Graceful shutdown waits for open streams (proxied Watch/Assignments); give them a
        // moment, then cut them.
        let served = match served {
            Some(r) => r,
            None => match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    server.abort();
                    Ok(Ok(()))
                }
            },
        };
        let _ = controller.await;
        let _ = shared.raft.shutdown().await;
        match served {
            Ok(r) => r,
            Err(e) => Err(NodeError::Join {
                what: "the gRPC server",
                message: e.to_string(),
            }),
        }
    }

    /// A token that stops the node when cancelled (e.g. from a signal handler).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Stops serving, the controller and Raft.
    pub async fn shutdown(self) -> Result<(), NodeError> {
        self.shared.shutdown.cancel();
        self.wait().await
    }
}
