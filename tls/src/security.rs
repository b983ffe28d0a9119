//! How a farm process secures its connections, and the tonic configs derived from it.

use crate::error::TlsError;
use crate::material::TlsMaterial;
use std::path::Path;
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// The security mode of every farm connection (gRPC and the QUIC data plane).
#[derive(Clone, Debug)]
pub enum Security {
    /// Mutual TLS: both sides present a certificate signed by the CA of the material.
    Mtls(TlsMaterial),
    /// **Development only**: gRPC in plain text; QUIC with an ephemeral self-signed server
    /// certificate that clients accept unchecked. See the crate docs.
    Insecure,
}

impl Security {
    /// `Security::Mtls` with the identity `name` from the certs directory `dir`.
    pub fn load_mtls(dir: &Path, name: &str) -> Result<Security, TlsError> {
        TlsMaterial::load(dir, name).map(Security::Mtls)
    }

    /// The material, when mutual TLS is on.
    pub fn material(&self) -> Option<&TlsMaterial> {
        match self {
            Security::Mtls(m) => Some(m),
            Security::Insecure => None,
        }
    }

    /// The URI scheme for gRPC endpoints: `https` under mTLS, `http` when insecure.
    pub fn grpc_scheme(&self) -> &'static str {
        match self {
            Security::Mtls(_) => "https",
            Security::Insecure => "http",
        }
    }

    /// `scheme://host:port` for a gRPC address given as `host:port` (an address that already
    /// carries a scheme is returned unchanged).
    pub fn grpc_url(&self, addr: &str) -> String {
        if addr.contains("://") {
            addr.to_string()
        } else {
            format!("{}://{addr}", self.grpc_scheme())
        }
    }

    /// The tonic server TLS config: our identity, and client certificates required and checked
    /// against the CA (`client_ca_root`). `None` when insecure (serve plain HTTP/2).
    pub fn tonic_server_tls(&self) -> Option<ServerTlsConfig> {
        let m = self.material()?;
        Some(
            ServerTlsConfig::new()
                .identity(Identity::from_pem(m.cert_pem(), m.key_pem()))
                .client_ca_root(Certificate::from_pem(m.ca_pem())),
        )
    }

    /// The tonic client TLS config: trust the CA, present our identity. `domain` overrides the
    /// name checked against the server certificate (default: the host of the endpoint URI, which
    /// works for `127.0.0.1`, `localhost`, node names and the extra hosts of the certificates).
    /// `None` when insecure (connect with `http://`).
    pub fn tonic_client_tls(&self, domain: Option<&str>) -> Option<ClientTlsConfig> {
        let m = self.material()?;
        let config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(m.ca_pem()))
            .identity(Identity::from_pem(m.cert_pem(), m.key_pem()));
        Some(match domain {
            Some(domain) => config.domain_name(domain),
            None => config,
        })
    }
}
