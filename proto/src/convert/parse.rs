//! Parsing of the string fields of wire messages (ids, platforms, digests), each failure
//! naming the message and field. Public so that services can parse request fields such as
//! `BuildRef.build_id` the same way.

use crate::ProtoError;
use slipway_farm::{BuildId, TaskId, WorkerId};
use slipway_graph::{Digest, Platform};
use uuid::Uuid;

/// Where a value sits in a wire message: `("TaskSpec", "platform")`.
pub type At = (&'static str, &'static str);

/// `value`, or [`ProtoError::MissingField`] when the message field is unset.
pub fn required<T>(value: Option<T>, (message, field): At) -> Result<T, ProtoError> {
    value.ok_or(ProtoError::MissingField { message, field })
}

pub fn build_id(s: &str, (message, field): At) -> Result<BuildId, ProtoError> {
    s.parse()
        .map_err(|e: slipway_farm::FarmError| invalid_id(s, e, (message, field)))
}

pub fn task_id(s: &str, (message, field): At) -> Result<TaskId, ProtoError> {
    s.parse()
        .map_err(|e: slipway_farm::FarmError| invalid_id(s, e, (message, field)))
}

pub fn worker_id(s: &str, (message, field): At) -> Result<WorkerId, ProtoError> {
    s.parse()
        .map_err(|e: slipway_farm::FarmError| invalid_id(s, e, (message, field)))
}

/// A worker incarnation.
pub fn uuid(s: &str, (message, field): At) -> Result<Uuid, ProtoError> {
    Uuid::parse_str(s).map_err(|e| ProtoError::InvalidId {
        message,
        field,
        value: s.to_string(),
        reason: e.to_string(),
    })
}

pub fn platform(s: &str, (message, field): At) -> Result<Platform, ProtoError> {
    s.parse().map_err(|source| ProtoError::InvalidPlatform {
        message,
        field,
        source,
    })
}

pub fn platforms(list: &[String], at: At) -> Result<Vec<Platform>, ProtoError> {
    list.iter().map(|s| platform(s, at)).collect()
}

pub fn digest(s: &str, (message, field): At) -> Result<Digest, ProtoError> {
    s.parse().map_err(|source| ProtoError::InvalidDigest {
        message,
        field,
        source,
    })
}

fn invalid_id(value: &str, e: slipway_farm::FarmError, (message, field): At) -> ProtoError {
    let reason = match e {
        slipway_farm::FarmError::InvalidId { reason, .. } => reason,
        other => other.to_string(),
    };
    ProtoError::InvalidId {
        message,
        field,
        value: value.to_string(),
        reason,
    }
}

/// Platforms as their canonical strings.
pub(crate) fn platform_strings(list: &[Platform]) -> Vec<String> {
    list.iter().map(Platform::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_message_and_field() {
        let e = platform("linux/sparc", ("TaskSpec", "platform")).unwrap_err();
        assert!(matches!(
            e,
            ProtoError::InvalidPlatform {
                field: "platform",
                ..
            }
        ));
        assert!(e.to_string().starts_with("TaskSpec.platform: "), "{e}");
        let e = worker_id("a b", ("TaskRef", "worker_id")).unwrap_err();
        assert!(e.to_string().contains("TaskRef.worker_id"), "{e}");
        let e = digest("sha256:xyz", ("BlobRef", "digest")).unwrap_err();
        assert!(matches!(
            e,
            ProtoError::InvalidDigest {
                message: "BlobRef",
                ..
            }
        ));
        let e = required::<u8>(None, ("Assignment", "task")).unwrap_err();
        assert_eq!(e.to_string(), "Assignment.task is missing");
        assert!(uuid("nope", ("RenewRequest", "incarnation")).is_err());
        assert_eq!(
            platform("linux/arm", ("X", "y")).unwrap().to_string(),
            "linux/arm/v7"
        );
    }
}
