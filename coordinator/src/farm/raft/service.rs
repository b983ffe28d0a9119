//! The tonic server side of the proto `Raft` service: decode the openraft request from
//! `RaftPayload.data`, hand it to the local openraft node, and encode its
//! `Result<response, RaftError>` back (errors of openraft travel inside the payload; only
//! undecodable payloads and an isolated node are gRPC errors).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use slipway_proto::v1::raft_server::{Raft as RaftRpc, RaftServer};
use slipway_proto::v1::RaftPayload;
use tonic::{Request, Response, Status};

use super::types::Raft;

/// The proto `Raft` service of one node; add [`RaftService::into_server`] to a tonic router.
#[derive(Clone)]
pub struct RaftService {
    raft: Raft,
    isolated: Arc<AtomicBool>,
}

impl RaftService {
    pub(crate) fn new(raft: Raft, isolated: Arc<AtomicBool>) -> Self {
        RaftService { raft, isolated }
    }

    /// The tonic server with slipway's raised message size limits.
    pub fn into_server(self) -> RaftServer<RaftService> {
        slipway_proto::limits::raft_server(self)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        req: Request<RaftPayload>,
        what: &str,
    ) -> Result<T, Status> {
        if self.isolated.load(Ordering::Relaxed) {
            return Err(Status::unavailable(
                "raft node is isolated (fault injection)",
            ));
        }
        serde_json::from_slice(&req.into_inner().data)
            .map_err(|e| Status::invalid_argument(format!("malformed raft {what} request: {e}")))
    }
}

fn encode<T: Serialize>(reply: &T, what: &str) -> Result<Response<RaftPayload>, Status> {
    let data = serde_json::to_vec(reply)
        .map_err(|e| Status::internal(format!("encoding raft {what} reply: {e}")))?;
    Ok(Response::new(RaftPayload { data }))
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = self.decode(request, "append-entries")?;
        encode(&self.raft.append_entries(rpc).await, "append-entries")
    }

    async fn vote(&self, request: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let rpc = self.decode(request, "vote")?;
        encode(&self.raft.vote(rpc).await, "vote")
    }

    async fn install_snapshot(
        &self,
        request: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let rpc = self.decode(request, "install-snapshot")?;
        encode(&self.raft.install_snapshot(rpc).await, "install-snapshot")
    }
}
