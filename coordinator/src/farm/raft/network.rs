//! openraft's network over tonic: each RPC is the proto `Raft` service's method with the
//! serde_json of openraft's request in `RaftPayload.data`; the reply carries the serde_json
//! of `Result<response, RaftError>` as produced by the peer's openraft.

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_proto::v1::raft_client::RaftClient;
use slipway_proto::v1::RaftPayload;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::types::{NodeId, TypeConfig};

/// Creates a [`PeerClient`] per peer. `isolated` cuts every outgoing RPC (fault injection).
#[derive(Clone)]
pub struct Network {
    pub(crate) node_id: NodeId,
    pub(crate) tls: Option<ClientTlsConfig>,
    pub(crate) isolated: Arc<AtomicBool>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            node_id: self.node_id,
            target,
            addr: node.addr.clone(),
            tls: self.tls.clone(),
            isolated: self.isolated.clone(),
            client: None,
        }
    }
}

/// The connection to one peer; the channel is created lazily and reused.
pub struct PeerClient {
    node_id: NodeId,
    target: NodeId,
    addr: String,
    tls: Option<ClientTlsConfig>,
    isolated: Arc<AtomicBool>,
    client: Option<RaftClient<Channel>>,
}

/// Why an RPC did not get an answer from the peer's openraft.
#[derive(Debug, thiserror::Error)]
enum TransportError {
    #[error("invalid peer address {addr}: {source}")]
    Endpoint {
        addr: String,
        source: tonic::transport::Error,
    },
    #[error("raft rpc to {addr}: {status}")]
    Status {
        addr: String,
        status: Box<tonic::Status>,
    },
    #[error("encoding raft {what}: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("raft network of this node is isolated (fault injection)")]
    Isolated,
}

impl TransportError {
    /// Connection-level failures make openraft back off; others are plain network errors.
    fn into_rpc<E: Error>(self) -> RPCError<NodeId, BasicNode, E> {
        let unreachable = match &self {
            TransportError::Endpoint { .. } | TransportError::Isolated => true,
            TransportError::Status { status, .. } => status.code() == tonic::Code::Unavailable,
            TransportError::Json { .. } => false,
        };
        if unreachable {
            RPCError::Unreachable(Unreachable::new(&self))
        } else {
            RPCError::Network(NetworkError::new(&self))
        }
    }
}

#[derive(Clone, Copy)]
enum Method {
    AppendEntries,
    Vote,
    InstallSnapshot,
}

impl PeerClient {
    fn client(&mut self) -> Result<RaftClient<Channel>, TransportError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let endpoint_error = |source| TransportError::Endpoint {
            addr: self.addr.clone(),
            source,
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", self.addr))
            .map_err(endpoint_error)?
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_while_idle(true);
        if let Some(tls) = &self.tls {
            endpoint = endpoint.tls_config(tls.clone()).map_err(endpoint_error)?;
        }
        let client = slipway_proto::limits::raft_client(endpoint.connect_lazy());
        self.client = Some(client.clone());
        Ok(client)
    }

    /// Sends one request and decodes the peer's `Result<Resp, RaftError<E>>`.
    async fn call<Req, Resp, E>(
        &mut self,
        method: Method,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        let ttl = option.hard_ttl();
        match tokio::time::timeout(ttl, self.exchange::<Req, Resp, E>(method, req)).await {
            Ok(Ok(Ok(resp))) => Ok(resp),
            Ok(Ok(Err(remote))) => {
                Err(RPCError::RemoteError(RemoteError::new(self.target, remote)))
            }
            Ok(Err(transport)) => {
                if matches!(
                    transport,
                    TransportError::Status { .. } | TransportError::Endpoint { .. }
                ) {
                    // Reconnect next time: the peer may have restarted.
                    self.client = None;
                }
                Err(transport.into_rpc())
            }
            Err(_) => Err(RPCError::Timeout(Timeout {
                action: match method {
                    Method::AppendEntries => RPCTypes::AppendEntries,
                    Method::Vote => RPCTypes::Vote,
                    Method::InstallSnapshot => RPCTypes::InstallSnapshot,
                },
                id: self.node_id,
                target: self.target,
                timeout: ttl,
            })),
        }
    }

    async fn exchange<Req, Resp, E>(
        &mut self,
        method: Method,
        req: &Req,
    ) -> Result<Result<Resp, RaftError<NodeId, E>>, TransportError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: Error + DeserializeOwned,
    {
        if self.isolated.load(Ordering::Relaxed) {
            return Err(TransportError::Isolated);
        }
        let data = serde_json::to_vec(req).map_err(|source| TransportError::Json {
            what: "request",
            source,
        })?;
        let mut client = self.client()?;
        let payload = RaftPayload { data };
        let reply = match method {
            Method::AppendEntries => client.append_entries(payload).await,
            Method::Vote => client.vote(payload).await,
            Method::InstallSnapshot => client.install_snapshot(payload).await,
        };
        let reply = reply.map_err(|status| TransportError::Status {
            addr: self.addr.clone(),
            status: Box::new(status),
        })?;
        serde_json::from_slice(&reply.into_inner().data).map_err(|source| TransportError::Json {
            what: "response",
            source,
        })
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Method::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Method::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Method::Vote, &rpc, &option).await
    }
}
