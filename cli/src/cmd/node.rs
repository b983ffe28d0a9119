//! `slipway coordinator` and `slipway worker`: the farm's long-running processes.

use super::farm::client::security_from;
use anyhow::{Context, Result};
use clap::Args;
use slipway_coordinator::farm::state::HistoryConfig;
use slipway_graph::Platform;
use slipway_oci::auth::CredentialStore;
use slipway_oci::registry::RegistryConfig;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Flags shared by every farm process and client: how to authenticate.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Directory made by `slipway certs init` (ca.pem, NAME.pem, NAME-key.pem).
    #[arg(long = "tls-dir", env = "SLIPWAY_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// This process's certificate name in `--tls-dir`.
    #[arg(long = "tls-name")]
    pub tls_name: Option<String>,
    /// Plaintext gRPC and unauthenticated QUIC: local development only.
    #[arg(long, env = "SLIPWAY_INSECURE")]
    pub insecure: bool,
}

#[derive(Args, Debug)]
pub struct CoordinatorArgs {
    /// This coordinator's Raft node id (1, 2, 3...).
    #[arg(long)]
    pub id: u64,
    /// Address to serve gRPC on (Control, Worker and Raft services).
    #[arg(long, default_value = "127.0.0.1:7420")]
    pub listen: String,
    /// Address the others reach this node at (default: --listen).
    #[arg(long)]
    pub advertise: Option<String>,
    #[arg(long = "data-dir", default_value = "/var/lib/slipway/coordinator")]
    pub data_dir: PathBuf,
    /// Every initial member as `ID=ADDR`, comma separated (this node included); the member
    /// with the smallest id initialises the cluster. Empty: wait to be added (AddNode).
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Worker lease time-to-live in milliseconds.
    #[arg(long = "lease-ttl-ms", default_value_t = 5000)]
    pub lease_ttl_ms: u64,
    /// A registry reached over plain HTTP (repeatable; loopback always is).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Finished builds are forgotten this many seconds after they finished (BuildKit's
    /// history `maxAge`).
    #[arg(long = "history-max-age", default_value_t = 48 * 3600)]
    pub history_max_age_secs: u64,
    /// At most this many finished builds are kept (the newest; BuildKit's history
    /// `maxEntries`).
    #[arg(long = "history-max-entries", default_value_t = 500)]
    pub history_max_entries: usize,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// This worker's stable name, e.g. worker-2.
    #[arg(long)]
    pub id: String,
    /// Coordinator addresses, comma separated.
    #[arg(long, value_delimiter = ',', env = "SLIPWAY_BUILDER")]
    pub coordinators: Vec<String>,
    #[arg(long = "data-dir", default_value = "/var/lib/slipway/worker")]
    pub data_dir: PathBuf,
    /// Where the QUIC data plane listens (UDP).
    #[arg(long = "data-listen", default_value = "127.0.0.1:7430")]
    pub data_listen: String,
    /// The data-plane address peers use (default: --data-listen).
    #[arg(long = "data-advertise")]
    pub data_advertise: Option<String>,
    /// Tasks run at once.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Garbage-collect down to this size (`20GB`, `512MiB`) whenever the worker is idle;
    /// removed blobs are reported so the farm's cache index forgets them. Default: never.
    #[arg(long = "gc-keep-storage", env = "SLIPWAY_GC_KEEP_STORAGE")]
    pub gc_keep_storage: Option<String>,
    /// Emulated platforms to offer, comma separated (default: every platform QEMU runs
    /// here; `none` for none). Each must be runnable here.
    #[arg(long, value_delimiter = ',')]
    pub emulate: Vec<String>,
    /// A label `KEY=VALUE` (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// A registry reached over plain HTTP (repeatable; loopback always is).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// An entitlement this worker grants builds that ask for it with `--allow`
    /// (repeatable, or comma separated): `network.host`, `security.insecure`.
    #[arg(long = "allow-insecure-entitlement", value_delimiter = ',')]
    pub allow_insecure_entitlements: Vec<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// `ID=ADDR` list → map.
pub fn parse_peers(peers: &[String]) -> Result<BTreeMap<u64, String>> {
    let mut out = BTreeMap::new();
    for p in peers {
        let (id, addr) = p
            .split_once('=')
            .with_context(|| format!("--peers {p:?}: expected ID=ADDR"))?;
        let id: u64 = id
            .parse()
            .with_context(|| format!("--peers {p:?}: {id:?} is not a node id"))?;
        if id == 0 || addr.is_empty() {
            anyhow::bail!("--peers {p:?}: expected ID=ADDR with ID >= 1");
        }
        if out.insert(id, addr.to_string()).is_some() {
            anyhow::bail!("--peers: node {id} is given twice");
        }
    }
    Ok(out)
}

/// `--emulate` values → platforms (`None` = whatever the probe finds).
pub fn parse_emulate(values: &[String]) -> Result<Option<Vec<Platform>>> {
    if values.is_empty() {
        return Ok(None);
    }
    if values.len() == 1 && values[0] == "none" {
        return Ok(Some(Vec::new()));
    }
    values
        .iter()
        .map(|v| {
            v.parse::<Platform>()
                .map_err(|e| anyhow::anyhow!("--emulate {v:?}: {e}"))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

impl TlsArgs {
    fn security(&self, default_name: &str) -> Result<slipway_tls::Security> {
        security_from(
            self.insecure,
            self.tls_dir.as_deref(),
            self.tls_name.as_deref().unwrap_or(default_name),
        )
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run_coordinator(a: CoordinatorArgs) -> Result<()> {
    let security = a.tls.security(&format!("coordinator-{}", a.id))?;
    let listen: std::net::SocketAddr = a
        .listen
        .parse()
        .with_context(|| format!("--listen {:?}: expected IP:PORT", a.listen))?;
    let peers = parse_peers(&a.peers)?;
    if !peers.is_empty() && !peers.contains_key(&a.id) {
        anyhow::bail!("--peers does not name this node ({})", a.id);
    }
    let config = slipway_coordinator::farm::node::NodeConfig {
        node_id: a.id,
        listen,
        advertise: a.advertise.clone().or_else(|| Some(a.listen.clone())),
        data_dir: a.data_dir.clone(),
        peers,
        security,
        lease_ttl_ms: a.lease_ttl_ms,
        registry: RegistryConfig {
            insecure: a.insecure_registries.clone(),
            ..RegistryConfig::default()
        },
        credentials: CredentialStore::from_env().context("reading registry credentials")?,
        history: HistoryConfig {
            max_age_ms: a.history_max_age_secs.saturating_mul(1000),
            max_entries: a.history_max_entries,
        },
        ..Default::default()
    };
    config
        .history
        .validate()
        .context("--history-max-age / --history-max-entries")?;
    runtime()?.block_on(async move {
        let node = slipway_coordinator::farm::node::FarmNode::start(config)
            .await
            .context("starting the coordinator")?;
        tracing::info!(node = a.id, addr = %node.local_addr(), "coordinator serving");
        let stop = node.shutdown_token();
        tokio::spawn(async move {
            super::signals::interrupted().await;
            stop.cancel();
        });
        node.wait().await.context("coordinator")?;
        Ok(())
    })
}

pub fn run_worker(a: WorkerArgs) -> Result<()> {
    let security = a.tls.security(&a.id)?;
    let worker_id: slipway_farm::WorkerId =
        a.id.parse().map_err(|e| anyhow::anyhow!("--id: {e}"))?;
    if a.coordinators.is_empty() {
        anyhow::bail!("--coordinators: no coordinator address given");
    }
    let data_listen: std::net::SocketAddr = a
        .data_listen
        .parse()
        .with_context(|| format!("--data-listen {:?}: expected IP:PORT", a.data_listen))?;
    let emulated = parse_emulate(&a.emulate)?;
    let registry = RegistryConfig {
        insecure: a.insecure_registries.clone(),
        ..RegistryConfig::default()
    };
    let worker_config = slipway_worker::WorkerConfig {
        // The runtime state and bundles live in the data dir too (`<data dir>/runtime`), so
        // workers sharing a machine (and what a killed one leaves behind) never meet.
        data_dir: a.data_dir.clone(),
        registry,
        credentials: CredentialStore::from_env().context("reading registry credentials")?,
        allowed_entitlements: super::build::flags::entitlements(
            "--allow-insecure-entitlement",
            &a.allow_insecure_entitlements,
        )?,
        ..slipway_worker::WorkerConfig::default()
    };
    let mut config = slipway_agent::AgentConfig::new(worker_id, a.coordinators.clone());
    config.security = security;
    config.slots = a.slots;
    config.labels = super::build::flags::labels(&a.labels)?;
    config.data_listen = data_listen;
    config.data_advertise = a.data_advertise.clone().unwrap_or_default();
    config.emulated = emulated;
    if let Some(size) = &a.gc_keep_storage {
        let keep = super::prune::parse_size(size)
            .map_err(|e| anyhow::anyhow!("--gc-keep-storage: {e}"))?;
        config.gc = Some(slipway_worker::gc::GcOptions {
            keep_bytes: Some(keep),
            ..Default::default()
        });
    }
    runtime()?.block_on(async move {
        let worker = slipway_worker::Worker::open(worker_config).with_context(|| {
            format!(
                "opening the worker's data directory {}",
                a.data_dir.display()
            )
        })?;
        let cancel = tokio_util::sync::CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            super::signals::interrupted().await;
            stop.cancel();
        });
        slipway_agent::Agent::run(config, worker, cancel)
            .await
            .context("worker agent")?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_reject() {
        let m = parse_peers(&["1=a:1".into(), "2=b:2".into()]).unwrap();
        assert_eq!(m.get(&2).map(String::as_str), Some("b:2"));
        assert!(parse_peers(&["x=a".into()]).is_err());
        assert!(parse_peers(&["1=a".into(), "1=b".into()]).is_err());
        assert!(parse_peers(&["0=a".into()]).is_err());
    }

    #[test]
    fn emulate_values() {
        assert_eq!(parse_emulate(&[]).unwrap(), None);
        assert_eq!(parse_emulate(&["none".into()]).unwrap(), Some(vec![]));
        assert_eq!(
            parse_emulate(&["linux/arm64".into()]).unwrap(),
            Some(vec![Platform::linux("arm64", "")])
        );
        assert!(parse_emulate(&["linux/".into()]).is_err());
    }
}
