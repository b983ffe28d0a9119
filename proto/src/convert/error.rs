//! Why a wire message could not become a farm value.

use slipway_graph::{DigestError, PlatformError};

/// A wire message that does not describe a valid farm value. `message` is the protobuf
/// message name (`TaskSpec`), `field` the field within it (`platform`).
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("{message}.{field} is missing")]
    MissingField {
        message: &'static str,
        field: &'static str,
    },
    #[error("{message}.{field}: invalid id {value:?}: {reason}")]
    InvalidId {
        message: &'static str,
        field: &'static str,
        value: String,
        reason: String,
    },
    #[error("{message}.{field}: {source}")]
    InvalidPlatform {
        message: &'static str,
        field: &'static str,
        source: PlatformError,
    },
    #[error("{message}.{field}: {source}")]
    InvalidDigest {
        message: &'static str,
        field: &'static str,
        source: DigestError,
    },
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{message}.{field}: {value:?} is not a cache key (64 lower-case hex digits)")]
    InvalidCacheKey {
        message: &'static str,
        field: &'static str,
        value: String,
    },
    #[error("{message}.{field}: unknown enum value {value}")]
    UnknownEnum {
        message: &'static str,
        field: &'static str,
        value: i32,
    },
    #[error("{message}.{field}: unknown value {value:?}")]
    UnknownName {
        message: &'static str,
        field: &'static str,
        value: String,
    },
}

impl From<ProtoError> for tonic::Status {
    fn from(e: ProtoError) -> tonic::Status {
        tonic::Status::invalid_argument(e.to_string())
    }
}
