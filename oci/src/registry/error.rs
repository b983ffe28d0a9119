//! Registry errors: every variant names the reference it concerns.

use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::path::PathBuf;

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid image reference {input:?}: {source}")]
    InvalidReference {
        input: String,
        source: oci_client::ParseError,
    },
    #[error("{reference}: authentication required (401 Unauthorized); log in or pass credentials")]
    Unauthorized { reference: String },
    #[error("{reference}: access denied (403 Forbidden)")]
    Denied { reference: String },
    #[error("{reference}: not found (404{})", code_suffix(code))]
    NotFound {
        reference: String,
        code: Option<String>,
    },
    #[error("{reference}: registry answered HTTP {status}: {message}")]
    Status {
        reference: String,
        status: u16,
        message: String,
    },
    #[error("{reference}: connection failed: {source}")]
    Connection {
        reference: String,
        source: reqwest::Error,
    },
    #[error("{reference}: gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        reference: String,
        attempts: u32,
        last: Box<RegistryError>,
    },
    #[error("{reference}: digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        reference: String,
        expected: String,
        actual: String,
    },
    #[error("{reference}: size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        reference: String,
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("{reference}: malformed manifest: {detail}")]
    MalformedManifest { reference: String, detail: String },
    #[error("{reference}: unsupported manifest media type {media_type:?}")]
    UnsupportedMediaType {
        reference: String,
        media_type: String,
    },
    #[error("{reference}: no manifest for platform {platform} (index has: {available})")]
    NoMatchingPlatform {
        reference: String,
        platform: String,
        available: String,
    },
    #[error("{reference}: registry broke the distribution protocol: {detail}")]
    Protocol { reference: String, detail: String },
    #[error("{reference}: {path}: {source}")]
    Io {
        reference: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{reference}: {source}")]
    Auth {
        reference: String,
        source: Box<crate::auth::AuthError>,
    },
    #[error("{reference}: cannot {operation} across registries ({from} → {to})")]
    CrossRegistry {
        reference: String,
        operation: &'static str,
        from: String,
        to: String,
    },
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(", {c}")).unwrap_or_default()
}

impl RegistryError {
    /// Whether retrying the same request may succeed (5xx, 429, connection failures).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Status { status, .. } => *status == 429 || (500..600).contains(status),
            RegistryError::Connection { .. } => true,
            _ => false,
        }
    }

    /// Translates an `oci-client` error into ours, naming `reference`.
    pub(crate) fn from_oci(reference: &str, err: OciDistributionError) -> RegistryError {
        let reference = reference.to_string();
        match err {
            OciDistributionError::UnauthorizedError { .. } => {
                RegistryError::Unauthorized { reference }
            }
            OciDistributionError::AuthenticationFailure(message) => RegistryError::Status {
                reference,
                status: 401,
                message,
            },
            OciDistributionError::RegistryError { envelope, .. } => {
                let first = envelope.errors.first();
                let message = first.map(|e| e.message.clone()).unwrap_or_default();
                match first.map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized) => RegistryError::Unauthorized { reference },
                    Some(OciErrorCode::Denied) => RegistryError::Denied { reference },
                    Some(
                        c @ (OciErrorCode::ManifestUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound),
                    ) => RegistryError::NotFound {
                        reference,
                        code: Some(format!("{c:?}")),
                    },
                    Some(OciErrorCode::Toomanyrequests) => RegistryError::Status {
                        reference,
                        status: 429,
                        message,
                    },
                    Some(code) => RegistryError::Status {
                        reference,
                        status: 400,
                        message: format!("{code:?}: {message}"),
                    },
                    None => RegistryError::Status {
                        reference,
                        status: 400,
                        message,
                    },
                }
            }
            OciDistributionError::ServerError { code, message, .. } => {
                status_error(reference, code, message)
            }
            OciDistributionError::RequestError(e) => from_reqwest(reference, e),
            OciDistributionError::DigestError(
                oci_client::errors::DigestError::VerificationError { expected, actual },
            ) => RegistryError::DigestMismatch {
                reference,
                expected,
                actual,
            },
            OciDistributionError::IoError(source) => RegistryError::Io {
                reference,
                path: PathBuf::new(),
                source,
            },
            OciDistributionError::ManifestParsingError(detail)
            | OciDistributionError::VersionedParsingError(detail) => {
                RegistryError::MalformedManifest { reference, detail }
            }
            OciDistributionError::UnsupportedMediaTypeError(media_type) => {
                RegistryError::UnsupportedMediaType {
                    reference,
                    media_type,
                }
            }
            other => RegistryError::Protocol {
                reference,
                detail: other.to_string(),
            },
        }
    }
}

pub(crate) fn status_error(reference: String, status: u16, message: String) -> RegistryError {
    match status {
        401 => RegistryError::Unauthorized { reference },
        403 => RegistryError::Denied { reference },
        404 => RegistryError::NotFound {
            reference,
            code: None,
        },
        _ => RegistryError::Status {
            reference,
            status,
            message: message.chars().take(500).collect(),
        },
    }
}

pub(crate) fn from_reqwest(reference: String, e: reqwest::Error) -> RegistryError {
    match e.status() {
        Some(s) => status_error(reference, s.as_u16(), e.to_string()),
        None if e.is_builder() || e.is_decode() => RegistryError::Protocol {
            reference,
            detail: e.to_string(),
        },
        None => RegistryError::Connection {
            reference,
            source: e,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_codes_map_to_variants() {
        let env: oci_client::errors::OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        )
        .unwrap();
        let e = RegistryError::from_oci(
            "r/x:1",
            OciDistributionError::RegistryError {
                envelope: env,
                url: "u".into(),
            },
        );
        assert!(matches!(&e, RegistryError::NotFound { reference, .. } if reference == "r/x:1"));
        assert!(e.to_string().contains("r/x:1"));
        let e = RegistryError::from_oci(
            "r/x:1",
            OciDistributionError::ServerError {
                code: 503,
                url: "u".into(),
                message: "busy".into(),
            },
        );
        assert!(e.is_transient());
        let e = RegistryError::from_oci(
            "r/x:1",
            OciDistributionError::ServerError {
                code: 403,
                url: "u".into(),
                message: String::new(),
            },
        );
        assert!(matches!(e, RegistryError::Denied { .. }));
        assert!(!e.is_transient());
    }
}
