//! `Failure` (why a task or a build failed) and its parts.

use super::parse;
use crate::{v1, ProtoError};
use slipway_farm as farm;
use v1::failure::Kind;

impl From<farm::Failure> for v1::Failure {
    fn from(f: farm::Failure) -> v1::Failure {
        let named = |name: String, message: String| v1::NamedFailure { name, message };
        let kind = match f {
            farm::Failure::Step(s) => Kind::Step(v1::StepFailure {
                vertex: s.vertex.to_string(),
                name: s.name,
                exit_code: s.exit_code,
                message: s.message,
                excerpt: s.excerpt,
            }),
            farm::Failure::Task { task, message } => Kind::Task(named(task, message)),
            farm::Failure::Unplaceable { platform, message } => {
                Kind::Unplaceable(named(platform, message))
            }
            farm::Failure::WorkerLost {
                task,
                attempts,
                reason,
            } => Kind::WorkerLost(v1::WorkerLostFailure {
                task,
                attempts,
                reason,
            }),
            farm::Failure::Push {
                repository,
                message,
            } => Kind::Push(named(repository, message)),
            farm::Failure::Stitch { message } => Kind::Stitch(message),
            farm::Failure::CacheExport { message } => Kind::CacheExport(message),
        };
        v1::Failure { kind: Some(kind) }
    }
}

impl TryFrom<v1::Failure> for farm::Failure {
    type Error = ProtoError;
    fn try_from(f: v1::Failure) -> Result<farm::Failure, ProtoError> {
        Ok(match parse::required(f.kind, ("Failure", "kind"))? {
            Kind::Step(s) => farm::Failure::Step(farm::StepFailure {
                vertex: parse::digest(&s.vertex, ("StepFailure", "vertex"))?,
                name: s.name,
                exit_code: s.exit_code,
                message: s.message,
                excerpt: s.excerpt,
            }),
            Kind::Task(n) => farm::Failure::Task {
                task: n.name,
                message: n.message,
            },
            Kind::Unplaceable(n) => farm::Failure::Unplaceable {
                platform: n.name,
                message: n.message,
            },
            Kind::WorkerLost(w) => farm::Failure::WorkerLost {
                task: w.task,
                attempts: w.attempts,
                reason: w.reason,
            },
            Kind::Push(n) => farm::Failure::Push {
                repository: n.name,
                message: n.message,
            },
            Kind::Stitch(message) => farm::Failure::Stitch { message },
            Kind::CacheExport(message) => farm::Failure::CacheExport { message },
        })
    }
}

/// The failure of a `…Failed` state: typed when the sender sent one, else its one-line
/// message as a failure of `task` (an older sender).
pub fn failed(
    failure: Option<v1::Failure>,
    message: String,
    task: &str,
) -> Result<farm::Failure, ProtoError> {
    match failure {
        Some(f) => f.try_into(),
        None => Ok(farm::Failure::Task {
            task: task.to_string(),
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_graph::Digest;

    #[test]
    fn every_kind_round_trips() {
        let all = [
            farm::Failure::Step(farm::StepFailure {
                vertex: Digest::of_bytes(b"v"),
                name: "[1/2] RUN false".into(),
                exit_code: Some(2),
                message: "exit code: 2".into(),
                excerpt: Some("Dockerfile:1".into()),
            }),
            farm::Failure::Task {
                task: "linux/arm64".into(),
                message: "m".into(),
            },
            farm::Failure::Unplaceable {
                platform: "linux/s390x".into(),
                message: "m".into(),
            },
            farm::Failure::WorkerLost {
                task: "t".into(),
                attempts: 3,
                reason: "r".into(),
            },
            farm::Failure::Push {
                repository: "r/a".into(),
                message: "401".into(),
            },
            farm::Failure::Stitch {
                message: "m".into(),
            },
            farm::Failure::CacheExport {
                message: "m".into(),
            },
        ];
        for f in all {
            let wire = v1::Failure::from(f.clone());
            assert_eq!(farm::Failure::try_from(wire).unwrap(), f);
        }
        assert!(farm::Failure::try_from(v1::Failure { kind: None }).is_err());
        let bad = v1::Failure {
            kind: Some(Kind::Step(v1::StepFailure {
                vertex: "nope".into(),
                ..Default::default()
            })),
        };
        assert!(farm::Failure::try_from(bad).is_err());
        assert_eq!(
            failed(None, "boom".into(), "t").unwrap().to_string(),
            "t: boom"
        );
    }
}
