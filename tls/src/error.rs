//! Errors of certificate generation, loading and TLS configuration.

use std::path::PathBuf;

/// Why certificates could not be created or loaded, or a TLS config could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("a CA already exists at {path}: refusing to overwrite it (use ExistingCa::Overwrite to replace it, or ExistingCa::Reuse to sign new certificates with it)")]
    CaExists { path: PathBuf },
    #[error("no CA at {path}: cannot reuse it (create one first)")]
    CaMissing { path: PathBuf },
    #[error("invalid certificate name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("cannot create directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid PEM ({what}): {source}")]
    Pem {
        path: PathBuf,
        what: &'static str,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{path}: no {what} found in the PEM file")]
    PemEmpty { path: PathBuf, what: &'static str },
    #[error("cannot generate {what}: {source}")]
    Generate { what: String, source: rcgen::Error },
    #[error("{path}: the CA key does not parse: {source}")]
    CaKey { path: PathBuf, source: rcgen::Error },
    #[error("{key} is not the key of the CA certificate {cert}")]
    CaKeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot build the {what} TLS config: {source}")]
    Rustls {
        what: &'static str,
        source: rustls::Error,
    },
    #[error("cannot build the client certificate verifier from the CA in {path}: {source}")]
    ClientVerifier {
        path: PathBuf,
        source: rustls::server::VerifierBuilderError,
    },
}
