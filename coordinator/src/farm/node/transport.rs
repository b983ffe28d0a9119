//! gRPC endpoints to other coordinators under the node's [`Security`].

use super::error::NodeError;
use slipway_tls::Security;
use std::time::Duration;
use tonic::transport::Endpoint;

/// A lazily connecting endpoint for `addr` (`host:port`, or a URL).
pub fn endpoint(addr: &str, security: &Security) -> Result<Endpoint, NodeError> {
    let url = security.grpc_url(addr);
    let mut ep = Endpoint::from_shared(url.clone())
        .map_err(|e| NodeError::Config {
            what: "coordinator address",
            value: url.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    if let Some(tls) = security.tonic_client_tls(None) {
        ep = ep.tls_config(tls).map_err(|e| NodeError::Tls {
            what: "a client connection",
            message: e.to_string(),
        })?;
    }
    Ok(ep)
}
