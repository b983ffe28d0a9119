//! The one-process farm behind `slipway build` without `--builder`: the farm's coordinator
//! (its state in memory, this process its only member) and one worker agent over the
//! worker's data dir, both in this process, reached by the very client code `--builder`
//! uses. There is no second build engine: the controller, planner, scheduler, stitcher and
//! agent that run a farm build run this one.
//!
//! The two talk gRPC and QUIC on loopback with mutual TLS from a CA made for this process
//! alone (its keys never leave the data dir's private, per-run directory), so no other
//! local user can reach either. The worker reads the build's context directories in place.

use anyhow::{Context, Result};
use slipway_coordinator::farm::node::{FarmNode, NodeConfig, StoreKind};
use slipway_graph::Entitlement;
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryConfig;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::farm::client::FarmOptions;

/// The name of the worker of a one-process farm.
pub const LOCAL_WORKER: &str = "local";
/// Tasks the local worker runs at once (each platform and shared stage is a task; an
/// embedded build runs them all at once, as one solve did).
const LOCAL_SLOTS: u32 = 16;
const COORDINATOR_NAME: &str = "coordinator-1";

/// What a one-process farm is made of.
#[derive(Debug, Clone)]
pub struct LocalFarmConfig {
    /// The build's data dir: the worker's store, snapshots and caches live in `worker/`.
    pub data_dir: PathBuf,
    pub registry: RegistryConfig,
    /// The entitlements the worker grants (the user's own machine: what the build asks).
    pub allow: BTreeSet<Entitlement>,
}

/// A running one-process farm.
pub struct LocalFarm {
    node: FarmNode,
    agent: JoinHandle<Result<(), slipway_agent::AgentError>>,
    cancel: CancellationToken,
    /// How the client reaches the coordinator.
    pub options: FarmOptions,
    /// The worker's content store: the client writes file outputs from it directly.
    pub store: std::sync::Arc<slipway_oci::ContentStore>,
    _tls: tempfile::TempDir,
}

impl LocalFarm {
    /// Starts the coordinator and the worker agent; returns once the worker is registered.
    pub async fn start(config: LocalFarmConfig) -> Result<LocalFarm> {
        // The worker first: opening it locks its data dir and clears what a killed
        // predecessor left there (its scratch dir included, where the identities go).
        let credentials = || CredentialStore::from_env().context("reading registry credentials");
        let worker_dir = config.data_dir.join("worker");
        let worker = slipway_worker::Worker::open(slipway_worker::WorkerConfig {
            data_dir: worker_dir.clone(),
            registry: config.registry.clone(),
            credentials: credentials()?,
            allowed_entitlements: config.allow.clone(),
            ..slipway_worker::WorkerConfig::default()
        })
        .with_context(|| {
            format!(
                "opening the worker's data directory {}",
                worker_dir.display()
            )
        })?;
        let tls = issue_identities(&worker_dir)?;
        let security = |name: &str| {
            slipway_tls::Security::load_mtls(tls.path(), name)
                .with_context(|| format!("loading the one-process farm's identity {name}"))
        };
        let node = FarmNode::start(NodeConfig {
            store: StoreKind::Memory,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: config.data_dir.join("coordinator"),
            security: security(COORDINATOR_NAME)?,
            registry: config.registry.clone(),
            credentials: credentials()?,
            ..NodeConfig::default()
        })
        .await
        .context("starting the build's coordinator")?;
        let addr = node.local_addr().to_string();

        let worker_id: slipway_farm::WorkerId = LOCAL_WORKER
            .parse()
            .map_err(|e| anyhow::anyhow!("worker name {LOCAL_WORKER:?}: {e}"))?;
        let mut agent_config =
            slipway_agent::AgentConfig::new(worker_id.clone(), vec![addr.clone()]);
        agent_config.security = security(LOCAL_WORKER)?;
        agent_config.slots = LOCAL_SLOTS;
        agent_config.in_place_contexts = true;
        let store = worker.store().clone();
        let cancel = CancellationToken::new();
        let agent = tokio::spawn(slipway_agent::Agent::run(
            agent_config,
            worker,
            cancel.clone(),
        ));
        let farm = LocalFarm {
            node,
            agent,
            cancel,
            store,
            options: FarmOptions {
                builder: Some(addr),
                tls_dir: Some(tls.path().to_path_buf()),
                insecure: false,
            },
            _tls: tls,
        };
        farm.wait_registered(&worker_id).await?;
        Ok(farm)
    }

    /// Waits until the agent registered and holds a lease (a build submitted before would
    /// find no worker).
    async fn wait_registered(&self, worker: &slipway_farm::WorkerId) -> Result<()> {
        let mut applied = self.node.raft().applied_watch();
        loop {
            if self.node.is_worker_live(worker) {
                return Ok(());
            }
            if self.agent.is_finished() {
                anyhow::bail!("the build's worker stopped before it registered");
            }
            tokio::select! {
                r = applied.changed() => r.context("the build's coordinator stopped")?,
                // The agent may fail without any state change.
                // The lease follows the registration within a controller tick.
                _ = tokio::time::sleep(std::time::Duration::from_millis(5)) => {}
            }
        }
    }

    /// Stops the agent (cancelling what still runs) and the coordinator.
    pub async fn stop(self) -> Result<()> {
        self.cancel.cancel();
        let agent = self.agent.await;
        let node = self.node.shutdown().await;
        match agent {
            Ok(r) => r.context("the build's worker")?,
            Err(e) => anyhow::bail!("the build's worker task failed: {e}"),
        }
        node.context("the build's coordinator")
    }
}

/// A CA and the coordinator's, the worker's and the client's certificates, in a private
/// directory of the worker's scratch dir: removed when the farm stops, and by the next
/// start after a kill (opening the worker clears its scratch dir).
fn issue_identities(worker_dir: &Path) -> Result<tempfile::TempDir> {
    let parent = worker_dir.join("tmp");
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("local-farm-tls-")
        .tempdir_in(&parent)
        .with_context(|| format!("creating a directory in {}", parent.display()))?;
    let options = slipway_tls::CertsOptions {
        names: vec![COORDINATOR_NAME.to_string(), LOCAL_WORKER.to_string()],
        ..Default::default()
    };
    slipway_tls::init_certs(dir.path(), &options)
        .context("issuing the one-process farm's certificates")?;
    Ok(dir)
}
