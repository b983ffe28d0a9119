//! Errors of the data plane.

use serde::{Deserialize, Serialize};
use slipway_oci::Digest;
use std::net::SocketAddr;
use std::path::PathBuf;

/// What a server reported when it refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteErrorKind {
    NotFound,
    DigestMismatch,
    SizeMismatch,
    OffsetBeyondEnd,
    BadRequest,
    Internal,
}

/// Why a transfer or the server failed.
#[derive(Debug, thiserror::Error)]
pub enum DataPlaneError {
    #[error("invalid digest {input:?}: {source}")]
    InvalidDigest {
        input: String,
        source: slipway_oci::DigestError,
    },
    #[error("TLS setup for the data plane: {source}")]
    Tls { source: slipway_tls::TlsError },
    #[error("the {side} TLS config cannot be used for QUIC: {source}")]
    QuicTls {
        side: &'static str,
        source: quinn::crypto::rustls::NoInitialCipherSuite,
    },
    #[error("cannot bind the data plane on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot resolve data-plane address {addr}: {source}")]
    Resolve {
        addr: String,
        source: std::io::Error,
    },
    #[error("data-plane address {addr} resolves to nothing")]
    NoAddress { addr: String },
    #[error("cannot connect to the data plane at {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: quinn::ConnectError,
    },
    #[error("data-plane connection to {addr}: {source}")]
    Connection {
        addr: SocketAddr,
        source: quinn::ConnectionError,
    },
    #[error("{op} {digest} with {peer}: {source}")]
    Stream {
        op: &'static str,
        digest: Digest,
        peer: SocketAddr,
        source: std::io::Error,
    },
    #[error("{op} {digest} with {peer}: protocol violation: {message}")]
    Protocol {
        op: &'static str,
        digest: Digest,
        peer: SocketAddr,
        message: String,
    },
    #[error("{op} {digest}: {peer} refused ({kind:?}): {message}")]
    Remote {
        op: &'static str,
        digest: Digest,
        peer: SocketAddr,
        kind: RemoteErrorKind,
        message: String,
    },
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{path} has {actual} bytes, expected {expected}")]
    SizeMismatch {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("downloaded {expected} from {peer} but the bytes hash to {actual}; the partial file was removed")]
    DigestMismatch {
        peer: SocketAddr,
        expected: Digest,
        actual: Digest,
    },
    #[error("the data-plane server on {addr} stopped unexpectedly")]
    ServerStopped { addr: SocketAddr },
}

impl DataPlaneError {
    /// True when the server answered that it does not have the blob.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            DataPlaneError::Remote {
                kind: RemoteErrorKind::NotFound,
                ..
            }
        )
    }
}
