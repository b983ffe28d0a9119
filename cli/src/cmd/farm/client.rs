//! A Control API client for the farm: tries each coordinator address in turn and moves on to
//! the next one when a coordinator is down (any coordinator forwards to the leader).

use anyhow::{Context, Result};
use slipway_proto::v1;
use slipway_proto::v1::control_client::ControlClient;
use slipway_tls::Security;
use std::path::PathBuf;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// How to reach the farm: `--builder`, `--tls-dir`, `--insecure`.
#[derive(Debug, Clone, Default)]
pub struct FarmOptions {
    /// Comma-separated coordinator addresses (`host:port`).
    pub builder: Option<String>,
    pub tls_dir: Option<PathBuf>,
    pub insecure: bool,
}

impl FarmOptions {
    pub fn addresses(&self) -> Result<Vec<String>> {
        let b = self.builder.as_deref().unwrap_or("").trim();
        if b.is_empty() {
            anyhow::bail!("no farm address: pass --builder ADDR[,ADDR] or set SLIPWAY_BUILDER");
        }
        Ok(b.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }

    /// The client identity (`client.pem` in `--tls-dir`), or plaintext with `--insecure`.
    pub fn security(&self) -> Result<Security> {
        security_from(
            self.insecure,
            self.tls_dir.as_deref(),
            slipway_tls::CLIENT_NAME,
        )
    }
}

/// mTLS with `name`'s certificate from `tls_dir`, or `Insecure` when asked explicitly.
pub fn security_from(
    insecure: bool,
    tls_dir: Option<&std::path::Path>,
    name: &str,
) -> Result<Security> {
    if insecure {
        return Ok(Security::Insecure);
    }
    let dir = tls_dir.context(
        "the farm uses mutual TLS: pass --tls-dir DIR (made by `slipway certs init`) or, for local \
         development only, --insecure",
    )?;
    Security::load_mtls(dir, name).with_context(|| format!("loading TLS identity {name:?}"))
}

/// Opens a channel to `addr` with `security`.
pub async fn channel(addr: &str, security: &Security) -> Result<Channel> {
    let mut ep = Endpoint::from_shared(security.grpc_url(addr))
        .with_context(|| format!("coordinator address {addr:?}"))?
        .connect_timeout(Duration::from_secs(3))
        .tcp_nodelay(true);
    if let Some(tls) = security.tonic_client_tls(None) {
        ep = ep
            .tls_config(tls)
            .with_context(|| format!("TLS settings for {addr}"))?;
    }
    ep.connect()
        .await
        .with_context(|| format!("connecting to coordinator {addr}"))
}

/// A connected Control client.
pub struct FarmClient {
    pub addrs: Vec<String>,
    pub security: Security,
    /// Index into `addrs` of the coordinator in use.
    current: usize,
    client: ControlClient<Channel>,
    /// The connection to the coordinator in use (shared by every client made on it).
    channel: Channel,
}

impl FarmClient {
    /// Connects to the first coordinator that answers.
    pub async fn connect(opts: &FarmOptions) -> Result<FarmClient> {
        let addrs = opts.addresses()?;
        let security = opts.security()?;
        FarmClient::connect_from(addrs, security, 0).await
    }

    async fn connect_from(
        addrs: Vec<String>,
        security: Security,
        start: usize,
    ) -> Result<FarmClient> {
        let mut errors = Vec::new();
        for i in 0..addrs.len() {
            let idx = (start + i) % addrs.len();
            match channel(&addrs[idx], &security).await {
                Ok(ch) => {
                    return Ok(FarmClient {
                        client: slipway_proto::limits::control_client(ch.clone()),
                        channel: ch,
                        addrs,
                        security,
                        current: idx,
                    })
                }
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        anyhow::bail!("no coordinator answered: {}", errors.join("; "))
    }

    /// Moves to the next coordinator that answers (after the current one failed).
    pub async fn failover(&mut self) -> Result<()> {
        let next =
            FarmClient::connect_from(self.addrs.clone(), self.security.clone(), self.current + 1)
                .await?;
        *self = next;
        Ok(())
    }

    /// A WorkerApi client to the coordinator in use (for what the client records there:
    /// uploaded blobs), on the same connection.
    pub async fn worker_api(
        &self,
    ) -> Result<slipway_proto::v1::worker_api_client::WorkerApiClient<Channel>> {
        Ok(slipway_proto::limits::worker_api_client(
            self.channel.clone(),
        ))
    }

    pub fn control(&mut self) -> &mut ControlClient<Channel> {
        &mut self.client
    }

    pub async fn cluster_status(&mut self) -> Result<v1::ClusterStatusResponse> {
        Ok(self
            .client
            .cluster_status(v1::ClusterStatusRequest {})
            .await
            .map_err(status_error)?
            .into_inner())
    }

    pub async fn list_workers(&mut self) -> Result<Vec<v1::WorkerInfo>> {
        Ok(self
            .client
            .list_workers(v1::ListWorkersRequest {})
            .await
            .map_err(status_error)?
            .into_inner()
            .workers)
    }

    pub async fn list_builds(&mut self) -> Result<Vec<v1::BuildSummary>> {
        Ok(self
            .client
            .list_builds(v1::ListBuildsRequest {})
            .await
            .map_err(status_error)?
            .into_inner()
            .builds)
    }

    pub async fn get_build(&mut self, id: &str) -> Result<v1::BuildDetail> {
        Ok(self
            .client
            .get_build(v1::BuildRef {
                build_id: id.to_string(),
            })
            .await
            .map_err(status_error)?
            .into_inner())
    }

    pub async fn cancel(&mut self, id: &str) -> Result<v1::BuildSummary> {
        Ok(self
            .client
            .cancel(v1::BuildRef {
                build_id: id.to_string(),
            })
            .await
            .map_err(status_error)?
            .into_inner())
    }
}

/// A gRPC status as an error whose text is the server's message.
pub fn status_error(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{} ({:?})", s.message(), s.code())
}

/// Whether a failed call is worth retrying on another coordinator.
pub fn is_transient(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Aborted
            | tonic::Code::Cancelled
    )
}
