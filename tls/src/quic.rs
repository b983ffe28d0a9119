//! rustls configs for QUIC (quinn): TLS 1.3 only, mutual TLS or the dev-only insecure mode.
//! Callers set `alpn_protocols` on the returned configs.

use crate::crypto_provider;
use crate::error::TlsError;
use crate::insecure::AcceptAnyServerCert;
use crate::security::Security;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

impl Security {
    /// A TLS 1.3 server config. mTLS: our identity, client certificates required and verified
    /// against the CA. Insecure: a fresh self-signed certificate for `localhost` (generated on
    /// every call) and no client authentication.
    pub fn rustls_server_config(&self) -> Result<ServerConfig, TlsError> {
        let provider = crypto_provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| TlsError::Rustls {
                what: "server",
                source,
            })?;
        let rustls_err = |source| TlsError::Rustls {
            what: "server",
            source,
        };
        match self {
            Security::Mtls(m) => {
                let roots = Arc::new(root_store(m.ca_certs(), &m.ca_path())?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|source| TlsError::ClientVerifier {
                        path: m.ca_path(),
                        source,
                    })?;
                builder
                    .with_client_cert_verifier(verifier)
                    .with_single_cert(m.cert_chain().to_vec(), m.private_key())
                    .map_err(rustls_err)
            }
            Security::Insecure => {
                let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
                    .map_err(|source| TlsError::Generate {
                    what: "the ephemeral self-signed certificate".to_string(),
                    source,
                })?;
                let key = rustls::pki_types::PrivatePkcs8KeyDer::from(
                    generated.signing_key.serialize_der(),
                );
                builder
                    .with_no_client_auth()
                    .with_single_cert(vec![generated.cert.der().clone()], key.into())
                    .map_err(rustls_err)
            }
        }
    }

    /// A TLS 1.3 client config. mTLS: trust only the CA and present our identity. Insecure:
    /// accept any server certificate ([`AcceptAnyServerCert`], dev only), no client certificate.
    pub fn rustls_client_config(&self) -> Result<ClientConfig, TlsError> {
        let provider = crypto_provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| TlsError::Rustls {
                what: "client",
                source,
            })?;
        match self {
            Security::Mtls(m) => builder
                .with_root_certificates(root_store(m.ca_certs(), &m.ca_path())?)
                .with_client_auth_cert(m.cert_chain().to_vec(), m.private_key())
                .map_err(|source| TlsError::Rustls {
                    what: "client",
                    source,
                }),
            Security::Insecure => Ok(builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(provider)))
                .with_no_client_auth()),
        }
    }
}

fn root_store(
    ca: &[rustls::pki_types::CertificateDer<'static>],
    path: &std::path::Path,
) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots.add(cert.clone()).map_err(|source| TlsError::Rustls {
            what: "CA trust store",
            source,
        })?;
    }
    if roots.is_empty() {
        return Err(TlsError::PemEmpty {
            path: path.to_path_buf(),
            what: "CA certificate",
        });
    }
    Ok(roots)
}
