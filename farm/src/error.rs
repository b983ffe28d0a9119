//! Errors of parsing or validating farm values.

/// A farm value that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FarmError {
    #[error("invalid {kind} id {value:?}: {reason}")]
    InvalidId {
        kind: &'static str,
        value: String,
        reason: String,
    },
    #[error("worker {worker}: {reason}")]
    InvalidWorker { worker: String, reason: String },
    #[error("build spec: {reason}")]
    InvalidBuild { reason: String },
}
