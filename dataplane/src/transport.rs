//! quinn endpoints from a [`Security`]: TLS 1.3 with our ALPN, raised windows, keep-alive.

use crate::error::DataPlaneError;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};
use slipway_tls::Security;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The ALPN protocol of the data plane.
pub const ALPN: &[u8] = b"slipway-blob/1";

const STREAM_WINDOW: u32 = 16 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 64 * 1024 * 1024;
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

fn transport() -> Arc<TransportConfig> {
    let mut t = TransportConfig::default();
    t.stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(u64::from(CONNECTION_WINDOW))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(IdleTimeout::from(VarInt::from_u32(
            IDLE_TIMEOUT.as_millis() as u32,
        ))));
    Arc::new(t)
}

pub(crate) fn server_endpoint(
    addr: SocketAddr,
    security: &Security,
) -> Result<quinn::Endpoint, DataPlaneError> {
    let mut tls = security
        .rustls_server_config()
        .map_err(|source| DataPlaneError::Tls { source })?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicServerConfig::try_from(tls).map_err(|source| DataPlaneError::QuicTls {
        side: "server",
        source,
    })?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(transport());
    quinn::Endpoint::server(config, addr).map_err(|source| DataPlaneError::Bind { addr, source })
}

pub(crate) fn client_endpoint(
    peer: SocketAddr,
    security: &Security,
) -> Result<quinn::Endpoint, DataPlaneError> {
    let mut tls = security
        .rustls_client_config()
        .map_err(|source| DataPlaneError::Tls { source })?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).map_err(|source| DataPlaneError::QuicTls {
        side: "client",
        source,
    })?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    let local: SocketAddr = if peer.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    };
    let mut endpoint = quinn::Endpoint::client(local).map_err(|source| DataPlaneError::Bind {
        addr: local,
        source,
    })?;
    endpoint.set_default_client_config(config);
    Ok(endpoint)
}
