//! Request and response messages of WorkerApi and Control in parsed form. Each type here
//! is the validated counterpart of the `v1` message of the same name (refer to them as
//! `messages::TaskOutcome` vs `v1::TaskOutcome`). Single-field requests convert straight to
//! farm types: `v1::RegisterRequest → WorkerSpec`, `v1::SubmitRequest → BuildSpec`,
//! `v1::BuildRef`/`v1::WatchRequest → BuildId`.

use super::parse;
use crate::v1::task_outcome;
use crate::{v1, ProtoError};
use slipway_farm as farm;
use slipway_graph::Digest;
use uuid::Uuid;

/// `Assignments` stream item: a task to run, its attempt number, and the cache records of
/// the tasks it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub task: farm::TaskSpec,
    pub attempt: u32,
    pub inputs: Vec<farm::cache::CacheRecord>,
}

impl TryFrom<Assignment> for v1::Assignment {
    type Error = ProtoError;
    fn try_from(a: Assignment) -> Result<v1::Assignment, ProtoError> {
        Ok(v1::Assignment {
            task: Some(a.task.try_into()?),
            attempt: a.attempt,
            inputs: a.inputs.into_iter().map(Into::into).collect(),
        })
    }
}

impl TryFrom<v1::Assignment> for Assignment {
    type Error = ProtoError;
    fn try_from(a: v1::Assignment) -> Result<Assignment, ProtoError> {
        Ok(Assignment {
            task: parse::required(a.task, ("Assignment", "task"))?.try_into()?,
            attempt: a.attempt,
            inputs: super::cache::records(a.inputs)?,
        })
    }
}

/// `Finish`: a task's result, or the error that ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    pub task: farm::TaskId,
    pub worker: farm::WorkerId,
    pub outcome: Result<farm::TaskResult, farm::Failure>,
}

impl From<TaskOutcome> for v1::TaskOutcome {
    fn from(o: TaskOutcome) -> v1::TaskOutcome {
        v1::TaskOutcome {
            task_id: o.task.to_string(),
            worker_id: o.worker.to_string(),
            outcome: Some(match o.outcome {
                Ok(result) => task_outcome::Outcome::Result(result.into()),
                Err(failure) => task_outcome::Outcome::Failure(failure.into()),
            }),
        }
    }
}

impl TryFrom<v1::TaskOutcome> for TaskOutcome {
    type Error = ProtoError;
    fn try_from(o: v1::TaskOutcome) -> Result<TaskOutcome, ProtoError> {
        const M: &str = "TaskOutcome";
        Ok(TaskOutcome {
            task: parse::task_id(&o.task_id, (M, "task_id"))?,
            worker: parse::worker_id(&o.worker_id, (M, "worker_id"))?,
            outcome: match parse::required(o.outcome, (M, "outcome"))? {
                task_outcome::Outcome::Result(r) => Ok(r.try_into()?),
                task_outcome::Outcome::Error(message) => Err(farm::Failure::Task {
                    task: String::new(),
                    message,
                }),
                task_outcome::Outcome::Failure(f) => Err(f.try_into()?),
            },
        })
    }
}

/// `Started`: the worker began running the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub task: farm::TaskId,
    pub worker: farm::WorkerId,
}

impl From<TaskRef> for v1::TaskRef {
    fn from(r: TaskRef) -> v1::TaskRef {
        v1::TaskRef {
            task_id: r.task.to_string(),
            worker_id: r.worker.to_string(),
        }
    }
}

impl TryFrom<v1::TaskRef> for TaskRef {
    type Error = ProtoError;
    fn try_from(r: v1::TaskRef) -> Result<TaskRef, ProtoError> {
        Ok(TaskRef {
            task: parse::task_id(&r.task_id, ("TaskRef", "task_id"))?,
            worker: parse::worker_id(&r.worker_id, ("TaskRef", "worker_id"))?,
        })
    }
}

/// `Renew`: a worker incarnation's lease renewal with the tasks it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewRequest {
    pub worker: farm::WorkerId,
    pub incarnation: Uuid,
    pub running: Vec<farm::TaskId>,
}

impl From<RenewRequest> for v1::RenewRequest {
    fn from(r: RenewRequest) -> v1::RenewRequest {
        v1::RenewRequest {
            worker_id: r.worker.to_string(),
            incarnation: r.incarnation.to_string(),
            running: r.running.iter().map(ToString::to_string).collect(),
        }
    }
}

impl TryFrom<v1::RenewRequest> for RenewRequest {
    type Error = ProtoError;
    fn try_from(r: v1::RenewRequest) -> Result<RenewRequest, ProtoError> {
        const M: &str = "RenewRequest";
        Ok(RenewRequest {
            worker: parse::worker_id(&r.worker_id, (M, "worker_id"))?,
            incarnation: parse::uuid(&r.incarnation, (M, "incarnation"))?,
            running: r
                .running
                .iter()
                .map(|t| parse::task_id(t, (M, "running")))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `RenewResponse`: whether the incarnation is known and the tasks to stop. (Its disk-usage
/// and prune orders are read from the wire type by the worker agent.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewResponse {
    pub known: bool,
    pub cancel: Vec<farm::TaskId>,
}

impl From<RenewResponse> for v1::RenewResponse {
    fn from(r: RenewResponse) -> v1::RenewResponse {
        v1::RenewResponse {
            known: r.known,
            cancel: r.cancel.iter().map(ToString::to_string).collect(),
            gc: Vec::new(),
        }
    }
}

impl TryFrom<v1::RenewResponse> for RenewResponse {
    type Error = ProtoError;
    fn try_from(r: v1::RenewResponse) -> Result<RenewResponse, ProtoError> {
        Ok(RenewResponse {
            known: r.known,
            cancel: r
                .cancel
                .iter()
                .map(|t| parse::task_id(t, ("RenewResponse", "cancel")))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `Assignments`: which worker incarnation opens the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentsRequest {
    pub worker: farm::WorkerId,
    pub incarnation: Uuid,
}

impl From<AssignmentsRequest> for v1::AssignmentsRequest {
    fn from(r: AssignmentsRequest) -> v1::AssignmentsRequest {
        v1::AssignmentsRequest {
            worker_id: r.worker.to_string(),
            incarnation: r.incarnation.to_string(),
        }
    }
}

impl TryFrom<v1::AssignmentsRequest> for AssignmentsRequest {
    type Error = ProtoError;
    fn try_from(r: v1::AssignmentsRequest) -> Result<AssignmentsRequest, ProtoError> {
        const M: &str = "AssignmentsRequest";
        Ok(AssignmentsRequest {
            worker: parse::worker_id(&r.worker_id, (M, "worker_id"))?,
            incarnation: parse::uuid(&r.incarnation, (M, "incarnation"))?,
        })
    }
}

/// `RecordBlob`: a worker now holds a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLocation {
    pub digest: Digest,
    pub worker: farm::WorkerId,
}

impl From<BlobLocation> for v1::BlobLocation {
    fn from(b: BlobLocation) -> v1::BlobLocation {
        v1::BlobLocation {
            digest: b.digest.to_string(),
            worker_id: b.worker.to_string(),
        }
    }
}

impl TryFrom<v1::BlobLocation> for BlobLocation {
    type Error = ProtoError;
    fn try_from(b: v1::BlobLocation) -> Result<BlobLocation, ProtoError> {
        Ok(BlobLocation {
            digest: parse::digest(&b.digest, ("BlobLocation", "digest"))?,
            worker: parse::worker_id(&b.worker_id, ("BlobLocation", "worker_id"))?,
        })
    }
}

/// `ProgressReport` with its ids checked; the event stays JSON (slipway-progress decodes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReport {
    pub task: farm::TaskId,
    pub worker: farm::WorkerId,
    pub event_json: Vec<u8>,
}

impl From<ProgressReport> for v1::ProgressReport {
    fn from(p: ProgressReport) -> v1::ProgressReport {
        v1::ProgressReport {
            task_id: p.task.to_string(),
            worker_id: p.worker.to_string(),
            event_json: p.event_json,
        }
    }
}

impl TryFrom<v1::ProgressReport> for ProgressReport {
    type Error = ProtoError;
    fn try_from(p: v1::ProgressReport) -> Result<ProgressReport, ProtoError> {
        const M: &str = "ProgressReport";
        Ok(ProgressReport {
            task: parse::task_id(&p.task_id, (M, "task_id"))?,
            worker: parse::worker_id(&p.worker_id, (M, "worker_id"))?,
            event_json: p.event_json,
        })
    }
}

impl From<farm::WorkerSpec> for v1::RegisterRequest {
    fn from(spec: farm::WorkerSpec) -> v1::RegisterRequest {
        v1::RegisterRequest {
            spec: Some(spec.into()),
        }
    }
}

impl TryFrom<v1::RegisterRequest> for farm::WorkerSpec {
    type Error = ProtoError;
    fn try_from(r: v1::RegisterRequest) -> Result<farm::WorkerSpec, ProtoError> {
        parse::required(r.spec, ("RegisterRequest", "spec"))?.try_into()
    }
}

impl From<farm::BuildSpec> for v1::SubmitRequest {
    fn from(spec: farm::BuildSpec) -> v1::SubmitRequest {
        v1::SubmitRequest {
            spec: Some(spec.into()),
            build_id: String::new(),
        }
    }
}

impl TryFrom<v1::SubmitRequest> for farm::BuildSpec {
    type Error = ProtoError;
    fn try_from(r: v1::SubmitRequest) -> Result<farm::BuildSpec, ProtoError> {
        parse::required(r.spec, ("SubmitRequest", "spec"))?.try_into()
    }
}

impl From<farm::BuildId> for v1::BuildRef {
    fn from(id: farm::BuildId) -> v1::BuildRef {
        v1::BuildRef {
            build_id: id.to_string(),
        }
    }
}

impl TryFrom<v1::BuildRef> for farm::BuildId {
    type Error = ProtoError;
    fn try_from(r: v1::BuildRef) -> Result<farm::BuildId, ProtoError> {
        parse::build_id(&r.build_id, ("BuildRef", "build_id"))
    }
}

impl From<farm::BuildId> for v1::WatchRequest {
    fn from(id: farm::BuildId) -> v1::WatchRequest {
        v1::WatchRequest {
            build_id: id.to_string(),
        }
    }
}

impl TryFrom<v1::WatchRequest> for farm::BuildId {
    type Error = ProtoError;
    fn try_from(r: v1::WatchRequest) -> Result<farm::BuildId, ProtoError> {
        parse::build_id(&r.build_id, ("WatchRequest", "build_id"))
    }
}

impl From<farm::BuildId> for v1::SubmitResponse {
    fn from(id: farm::BuildId) -> v1::SubmitResponse {
        v1::SubmitResponse {
            build_id: id.to_string(),
        }
    }
}

impl TryFrom<v1::SubmitResponse> for farm::BuildId {
    type Error = ProtoError;
    fn try_from(r: v1::SubmitResponse) -> Result<farm::BuildId, ProtoError> {
        parse::build_id(&r.build_id, ("SubmitResponse", "build_id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::task::tests::{result, task};

    fn w() -> farm::WorkerId {
        "worker-1".parse().unwrap()
    }

    #[test]
    fn worker_api_messages_round_trip() {
        let a = Assignment {
            task: task(),
            attempt: 3,
            inputs: result().cache,
        };
        assert!(!a.inputs.is_empty());
        let wire = v1::Assignment::try_from(a.clone()).unwrap();
        assert_eq!(Assignment::try_from(wire).unwrap(), a);

        let failure = farm::Failure::Task {
            task: "t".into(),
            message: "exit code 2".into(),
        };
        for outcome in [Ok(result()), Err(failure)] {
            let o = TaskOutcome {
                task: farm::TaskId::new(),
                worker: w(),
                outcome,
            };
            assert_eq!(
                TaskOutcome::try_from(v1::TaskOutcome::from(o.clone())).unwrap(),
                o
            );
        }

        let r = TaskRef {
            task: farm::TaskId::new(),
            worker: w(),
        };
        assert_eq!(TaskRef::try_from(v1::TaskRef::from(r.clone())).unwrap(), r);

        let r = RenewRequest {
            worker: w(),
            incarnation: Uuid::now_v7(),
            running: vec![farm::TaskId::new(), farm::TaskId::new()],
        };
        assert_eq!(
            RenewRequest::try_from(v1::RenewRequest::from(r.clone())).unwrap(),
            r
        );

        let r = RenewResponse {
            known: false,
            cancel: vec![farm::TaskId::new()],
        };
        assert_eq!(
            RenewResponse::try_from(v1::RenewResponse::from(r.clone())).unwrap(),
            r
        );

        let r = AssignmentsRequest {
            worker: w(),
            incarnation: Uuid::now_v7(),
        };
        let back = AssignmentsRequest::try_from(v1::AssignmentsRequest::from(r.clone()));
        assert_eq!(back.unwrap(), r);

        let b = BlobLocation {
            digest: Digest::of_bytes(b"layer"),
            worker: w(),
        };
        assert_eq!(
            BlobLocation::try_from(v1::BlobLocation::from(b.clone())).unwrap(),
            b
        );

        let p = ProgressReport {
            task: farm::TaskId::new(),
            worker: w(),
            event_json: br#"{"log":"hi"}"#.to_vec(),
        };
        let back = ProgressReport::try_from(v1::ProgressReport::from(p.clone()));
        assert_eq!(back.unwrap(), p);
    }

    #[test]
    fn control_messages_round_trip() {
        let id = farm::BuildId::new();
        assert_eq!(farm::BuildId::try_from(v1::BuildRef::from(id)).unwrap(), id);
        assert_eq!(
            farm::BuildId::try_from(v1::WatchRequest::from(id)).unwrap(),
            id
        );
        assert_eq!(
            farm::BuildId::try_from(v1::SubmitResponse::from(id)).unwrap(),
            id
        );
        let spec = farm::BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            ..farm::BuildSpec::default()
        };
        let back = farm::BuildSpec::try_from(v1::SubmitRequest::from(spec.clone()));
        assert_eq!(back.unwrap(), spec);
    }

    #[test]
    fn rejections_name_the_field() {
        let e = Assignment::try_from(v1::Assignment {
            task: None,
            attempt: 1,
            inputs: vec![],
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "Assignment.task is missing");

        let e = TaskOutcome::try_from(v1::TaskOutcome {
            task_id: farm::TaskId::new().to_string(),
            worker_id: "w".into(),
            outcome: None,
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::MissingField {
                    field: "outcome",
                    ..
                }
            ),
            "{e}"
        );

        let e = RenewRequest::try_from(v1::RenewRequest {
            worker_id: "w".into(),
            incarnation: Uuid::now_v7().to_string(),
            running: vec!["not-a-task".into()],
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidId {
                    field: "running",
                    ..
                }
            ),
            "{e}"
        );

        let e = farm::BuildId::try_from(v1::BuildRef {
            build_id: String::new(),
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("BuildRef.build_id"), "{e}");

        let e = farm::WorkerSpec::try_from(v1::RegisterRequest { spec: None }).unwrap_err();
        assert!(matches!(
            e,
            ProtoError::MissingField {
                message: "RegisterRequest",
                ..
            }
        ));

        let status = tonic::Status::from(e);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(status.message(), "RegisterRequest.spec is missing");
    }
}
