//! TLS for the slipway farm: a development certificate authority and the rustls / tonic
//! configurations every farm process uses.
//!
//! * [`init_certs`] creates a dev CA (`ca.pem`, `ca-key.pem`) and signs one certificate per node
//!   (`<name>.pem`, `<name>-key.pem`) plus a `client.pem` / `client-key.pem` for the CLI. Node
//!   certificates carry both the server and the client extended key usage, so one identity serves
//!   a node's listeners and its outgoing connections.
//! * [`TlsMaterial::load`] reads the CA and one identity back, naming the file on any error.
//! * [`Security`] is what processes are configured with: `Mtls(material)` (both sides present a
//!   certificate signed by the CA) or `Insecure` (dev only, see below). It builds tonic
//!   [`ServerTlsConfig`](tonic::transport::ServerTlsConfig) /
//!   [`ClientTlsConfig`](tonic::transport::ClientTlsConfig) and rustls configs for QUIC (quinn).
//!
//! # Insecure mode (development only)
//! `Security::Insecure` means gRPC runs over plain HTTP/2 and QUIC (which cannot run without
//! TLS) uses an ephemeral self-signed server certificate, while clients accept *any* server
//! certificate ([`AcceptAnyServerCert`]). Traffic is encrypted but nobody is authenticated: a
//! man in the middle is trivially possible. Never use it outside a trusted dev machine.
//!
//! # Crypto provider
//! Every config here is built with an explicit ring provider, so none of them needs a process
//! default. Other libraries (reqwest, tonic internals) do: call [`install_crypto_provider`] early.

mod certs;
mod error;
mod files;
mod insecure;
mod material;
mod quic;
mod security;

pub use certs::{
    init_certs, CertsOptions, ExistingCa, IssuedCerts, IssuedIdentity, CA_CERT_FILE, CA_KEY_FILE,
    CLIENT_NAME,
};
pub use error::TlsError;
pub use insecure::AcceptAnyServerCert;
pub use material::TlsMaterial;
pub use security::Security;

use std::sync::Arc;

/// The crypto provider used for every config in this crate (ring).
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs ring as the process-wide rustls provider; a no-op when one is installed already.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
