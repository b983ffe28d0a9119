//! Forwarding calls from a follower to the leader: one lazily connected tonic channel per
//! leader address, reused by every forwarded call. A forwarded call carries the
//! [`FORWARDED_BY`] header; a node that receives a forwarded call while not being the
//! leader answers `UNAVAILABLE` instead of forwarding again (no loops while leadership
//! moves), and the caller retries.

use super::error::NodeError;
use super::transport::endpoint;
use slipway_farm::NodeId;
use slipway_proto::limits::{control_client, worker_api_client};
use slipway_proto::v1::control_client::ControlClient;
use slipway_proto::v1::worker_api_client::WorkerApiClient;
use slipway_tls::Security;
use std::collections::HashMap;
use std::sync::Mutex;
use tonic::transport::Channel;

/// Metadata key set on forwarded calls: the id of the forwarding coordinator.
pub const FORWARDED_BY: &str = "x-slipway-forwarded-by";

/// Where a call is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// This node is the leader.
    Local,
    /// Forward to the leader at this address.
    Leader { id: NodeId, addr: String },
}

/// Channels to leaders, by address.
pub struct Forwarder {
    node_id: NodeId,
    security: Security,
    channels: Mutex<HashMap<String, Channel>>,
}

impl Forwarder {
    pub fn new(node_id: NodeId, security: Security) -> Forwarder {
        Forwarder {
            node_id,
            security,
            channels: Mutex::new(HashMap::new()),
        }
    }

    fn channel(&self, addr: &str) -> Result<Channel, NodeError> {
        let mut channels = match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let channel = endpoint(addr, &self.security)?.connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    pub fn control(&self, addr: &str) -> Result<ControlClient<Channel>, NodeError> {
        Ok(control_client(self.channel(addr)?))
    }

    pub fn worker_api(&self, addr: &str) -> Result<WorkerApiClient<Channel>, NodeError> {
        Ok(worker_api_client(self.channel(addr)?))
    }

    /// Wraps a message for forwarding, marked with this node's id.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        if let Ok(v) = self.node_id.to_string().parse() {
            req.metadata_mut().insert(FORWARDED_BY, v);
        }
        req
    }
}

/// Whether a request was forwarded by another coordinator.
pub fn was_forwarded<T>(req: &tonic::Request<T>) -> bool {
    req.metadata().contains_key(FORWARDED_BY)
}
