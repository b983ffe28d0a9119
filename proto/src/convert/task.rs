//! Tasks: `BlobDescriptor`, `TaskSpec` (graph as JSON), `TaskResult`, `TaskState`, and
//! `TaskInfo` built from a task and its state.

use super::parse;
use super::worker::placement;
use crate::v1::task_state::State;
use crate::{v1, ProtoError};
use slipway_farm as farm;

impl From<farm::BlobDescriptor> for v1::BlobDescriptor {
    fn from(d: farm::BlobDescriptor) -> v1::BlobDescriptor {
        v1::BlobDescriptor {
            media_type: d.media_type,
            digest: d.digest.to_string(),
            size: d.size,
        }
    }
}

impl TryFrom<v1::BlobDescriptor> for farm::BlobDescriptor {
    type Error = ProtoError;
    fn try_from(d: v1::BlobDescriptor) -> Result<farm::BlobDescriptor, ProtoError> {
        Ok(farm::BlobDescriptor {
            digest: parse::digest(&d.digest, ("BlobDescriptor", "digest"))?,
            media_type: d.media_type,
            size: d.size,
        })
    }
}

/// Fallible both ways: the graph is serialised to JSON (which cannot fail for a graph made
/// of strings and digests, but is reported as [`ProtoError::Json`] rather than assumed).
impl TryFrom<farm::TaskSpec> for v1::TaskSpec {
    type Error = ProtoError;
    fn try_from(t: farm::TaskSpec) -> Result<v1::TaskSpec, ProtoError> {
        let graph_json = serde_json::to_vec(&t.graph).map_err(|source| ProtoError::Json {
            what: "TaskSpec.graph_json",
            source,
        })?;
        Ok(v1::TaskSpec {
            id: t.id.to_string(),
            build_id: t.build.to_string(),
            name: t.name,
            platform: t.platform.to_string(),
            kind: v1::TaskKind::from(t.kind) as i32,
            graph_json,
            depends_on: t.depends_on.iter().map(ToString::to_string).collect(),
            context: t.context.map(Into::into),
            push: t.pushes.first().cloned().map(Into::into),
            more_pushes: t.pushes.iter().skip(1).cloned().map(Into::into).collect(),
            no_cache: t.no_cache,
            pull: t.pull,
            source_date_epoch: t.source_date_epoch,
            affinity: t.affinity.iter().map(ToString::to_string).collect(),
            cache_from: t.cache_from.into_iter().map(Into::into).collect(),
            cache_to: t.cache_to.into_iter().map(Into::into).collect(),
            named_contexts: t
                .named_contexts
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            allow: t.allow.iter().map(ToString::to_string).collect(),
            docker_media_types: t.docker_media_types,
        })
    }
}

impl TryFrom<v1::TaskSpec> for farm::TaskSpec {
    type Error = ProtoError;
    fn try_from(t: v1::TaskSpec) -> Result<farm::TaskSpec, ProtoError> {
        const M: &str = "TaskSpec";
        let graph = serde_json::from_slice(&t.graph_json).map_err(|source| ProtoError::Json {
            what: "TaskSpec.graph_json",
            source,
        })?;
        Ok(farm::TaskSpec {
            id: parse::task_id(&t.id, (M, "id"))?,
            build: parse::build_id(&t.build_id, (M, "build_id"))?,
            name: t.name,
            platform: parse::platform(&t.platform, (M, "platform"))?,
            kind: task_kind(t.kind, (M, "kind"))?,
            graph,
            depends_on: t
                .depends_on
                .iter()
                .map(|s| parse::task_id(s, (M, "depends_on")))
                .collect::<Result<_, _>>()?,
            context: t.context.map(TryInto::try_into).transpose()?,
            pushes: t
                .push
                .into_iter()
                .map(Into::into)
                .chain(t.more_pushes.into_iter().map(Into::into))
                .collect(),
            no_cache: t.no_cache,
            pull: t.pull,
            source_date_epoch: t.source_date_epoch,
            affinity: t
                .affinity
                .iter()
                .map(|s| parse::digest(s, (M, "affinity")))
                .collect::<Result<_, _>>()?,
            cache_from: super::cache::imports(t.cache_from)?,
            cache_to: super::cache::exports(t.cache_to)?,
            named_contexts: t
                .named_contexts
                .into_iter()
                .map(|(k, v)| Ok((k, v.try_into()?)))
                .collect::<Result<_, ProtoError>>()?,
            allow: super::build::entitlements(&t.allow, "TaskSpec")?,
            docker_media_types: t.docker_media_types,
        })
    }
}

impl From<farm::TaskKind> for v1::TaskKind {
    fn from(k: farm::TaskKind) -> v1::TaskKind {
        match k {
            farm::TaskKind::Image => v1::TaskKind::Image,
            farm::TaskKind::Stage => v1::TaskKind::Stage,
        }
    }
}

/// A wire `TaskKind` field (an `i32`; unset is `Image`); unknown values are refused.
pub fn task_kind(value: i32, (message, field): parse::At) -> Result<farm::TaskKind, ProtoError> {
    match v1::TaskKind::try_from(value) {
        Ok(v1::TaskKind::Image) => Ok(farm::TaskKind::Image),
        Ok(v1::TaskKind::Stage) => Ok(farm::TaskKind::Stage),
        Err(_) => Err(ProtoError::UnknownEnum {
            message,
            field,
            value,
        }),
    }
}

impl From<farm::TaskResult> for v1::TaskResult {
    fn from(r: farm::TaskResult) -> v1::TaskResult {
        v1::TaskResult {
            platform: r.platform.to_string(),
            manifest: Some(r.manifest.into()),
            config: Some(r.config.into()),
            layers: r.layers.into_iter().map(Into::into).collect(),
            cached: r.cached,
            executed: r.executed,
            cache: r.cache.into_iter().map(Into::into).collect(),
        }
    }
}

impl TryFrom<v1::TaskResult> for farm::TaskResult {
    type Error = ProtoError;
    fn try_from(r: v1::TaskResult) -> Result<farm::TaskResult, ProtoError> {
        const M: &str = "TaskResult";
        Ok(farm::TaskResult {
            platform: parse::platform(&r.platform, (M, "platform"))?,
            manifest: parse::required(r.manifest, (M, "manifest"))?.try_into()?,
            config: parse::required(r.config, (M, "config"))?.try_into()?,
            layers: r
                .layers
                .into_iter()
                .map(TryInto::try_into)
                .collect::<Result<_, _>>()?,
            cached: r.cached,
            executed: r.executed,
            cache: super::cache::records(r.cache)?,
        })
    }
}

fn held(worker: farm::WorkerId, p: farm::Placement, at_ms: u64) -> v1::TaskStateHeld {
    v1::TaskStateHeld {
        worker: worker.to_string(),
        placement: v1::Placement::from(p) as i32,
        at_ms,
    }
}

impl From<farm::TaskState> for v1::TaskState {
    fn from(s: farm::TaskState) -> v1::TaskState {
        let state = match s {
            farm::TaskState::Pending => State::Pending(v1::Empty {}),
            farm::TaskState::Assigned {
                worker,
                placement,
                at_ms,
            } => State::Assigned(held(worker, placement, at_ms)),
            farm::TaskState::Running {
                worker,
                placement,
                at_ms,
            } => State::Running(held(worker, placement, at_ms)),
            farm::TaskState::Succeeded { worker, result } => {
                State::Succeeded(v1::TaskStateSucceeded {
                    worker: worker.to_string(),
                    result: Some(result.into()),
                })
            }
            farm::TaskState::Failed { worker, failure } => State::Failed(v1::TaskStateFailed {
                worker: worker.map(|w| w.to_string()),
                message: failure.to_string(),
                failure: Some(failure.into()),
            }),
            farm::TaskState::Canceled => State::Canceled(v1::Empty {}),
        };
        v1::TaskState { state: Some(state) }
    }
}

impl TryFrom<v1::TaskState> for farm::TaskState {
    type Error = ProtoError;
    fn try_from(s: v1::TaskState) -> Result<farm::TaskState, ProtoError> {
        const H: &str = "TaskStateHeld";
        Ok(match parse::required(s.state, ("TaskState", "state"))? {
            State::Pending(_) => farm::TaskState::Pending,
            State::Assigned(h) => farm::TaskState::Assigned {
                worker: parse::worker_id(&h.worker, (H, "worker"))?,
                placement: placement(h.placement, (H, "placement"))?,
                at_ms: h.at_ms,
            },
            State::Running(h) => farm::TaskState::Running {
                worker: parse::worker_id(&h.worker, (H, "worker"))?,
                placement: placement(h.placement, (H, "placement"))?,
                at_ms: h.at_ms,
            },
            State::Succeeded(v1::TaskStateSucceeded { worker, result }) => {
                farm::TaskState::Succeeded {
                    worker: parse::worker_id(&worker, ("TaskStateSucceeded", "worker"))?,
                    result: parse::required(result, ("TaskStateSucceeded", "result"))?
                        .try_into()?,
                }
            }
            State::Failed(v1::TaskStateFailed {
                worker,
                message,
                failure,
            }) => farm::TaskState::Failed {
                worker: worker
                    .map(|w| parse::worker_id(&w, ("TaskStateFailed", "worker")))
                    .transpose()?,
                failure: super::failure::failed(failure, message, "")?,
            },
            State::Canceled(_) => farm::TaskState::Canceled,
        })
    }
}

/// The `TaskInfo` of `task` in `state` on its `attempt`: `worker` is the worker holding or
/// having finished the task, `message` the failure message, `result` the success result.
pub fn task_info(task: &farm::TaskSpec, state: &farm::TaskState, attempt: u32) -> v1::TaskInfo {
    let (worker, message, result) = match state {
        farm::TaskState::Pending | farm::TaskState::Canceled => (None, String::new(), None),
        farm::TaskState::Assigned { worker, .. } | farm::TaskState::Running { worker, .. } => {
            (Some(worker.to_string()), String::new(), None)
        }
        farm::TaskState::Succeeded { worker, result } => (
            Some(worker.to_string()),
            String::new(),
            Some(result.clone().into()),
        ),
        farm::TaskState::Failed { worker, failure } => (
            worker.as_ref().map(ToString::to_string),
            failure.to_string(),
            None,
        ),
    };
    v1::TaskInfo {
        id: task.id.to_string(),
        name: task.name.clone(),
        platform: task.platform.to_string(),
        state: Some(state.clone().into()),
        worker,
        message,
        result,
        attempt,
        kind: v1::TaskKind::from(task.kind) as i32,
        depends_on: task.depends_on.iter().map(ToString::to_string).collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use slipway_graph::{Digest, Graph, GraphOutput, ImageConfig, MergeOp, Op, Platform, Vertex};

    fn descriptor(what: &[u8]) -> farm::BlobDescriptor {
        farm::BlobDescriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: Digest::of_bytes(what),
            size: what.len() as u64,
        }
    }

    pub(crate) fn task() -> farm::TaskSpec {
        let platform = Platform::linux("arm64", "");
        let mut graph = Graph::new();
        let root = graph.add(Vertex::new(Op::Merge(MergeOp {}), vec![], platform.clone()));
        graph.outputs.push(GraphOutput {
            platform: platform.clone(),
            target: "final".into(),
            root: Some(root),
            image: ImageConfig::default(),
        });
        farm::TaskSpec {
            docker_media_types: false,
            id: farm::TaskId::new(),
            build: farm::BuildId::new(),
            name: "linux/arm64".into(),
            platform,
            kind: farm::TaskKind::Stage,
            graph,
            depends_on: vec![farm::TaskId::new()],
            context: Some(farm::ContextRef {
                path: None,
                digest: Digest::of_bytes(b"ctx"),
                size: 3,
                kind: farm::ContextKind::Tar,
            }),
            pushes: vec![farm::PushTarget {
                insecure: false,
                repository: "127.0.0.1:5000/app".into(),
                tags: vec![],
            }],
            no_cache: false,
            pull: true,
            source_date_epoch: None,
            affinity: vec![Digest::of_bytes(b"base")],
            cache_from: crate::convert::cache::tests::imports_all(),
            cache_to: crate::convert::cache::tests::exports_all(),
            named_contexts: [(
                "extra".to_string(),
                farm::ContextRef {
                    path: None,
                    digest: Digest::of_bytes(b"extra"),
                    size: 5,
                    kind: farm::ContextKind::Manifest,
                },
            )]
            .into(),
            allow: [slipway_graph::Entitlement::NetworkHost].into(),
        }
    }

    pub(crate) fn result() -> farm::TaskResult {
        farm::TaskResult {
            platform: Platform::linux("arm", "v7"),
            manifest: descriptor(b"manifest"),
            config: descriptor(b"config"),
            layers: vec![descriptor(b"l1"), descriptor(b"l2")],
            cached: 2,
            executed: 5,
            cache: vec![
                crate::convert::cache::tests::record("a"),
                crate::convert::cache::tests::record("b"),
            ],
        }
    }

    #[test]
    fn blob_descriptor_round_trips_and_rejects_bad_digest() {
        let d = descriptor(b"x");
        let wire = v1::BlobDescriptor::from(d.clone());
        assert_eq!(farm::BlobDescriptor::try_from(wire.clone()).unwrap(), d);
        let e = farm::BlobDescriptor::try_from(v1::BlobDescriptor {
            digest: "md5:00".into(),
            ..wire
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidDigest {
                    field: "digest",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn task_spec_round_trips_with_its_graph() {
        let t = task();
        let wire = v1::TaskSpec::try_from(t.clone()).unwrap();
        assert_eq!(wire.platform, "linux/arm64");
        assert!(!wire.graph_json.is_empty());
        assert_eq!(farm::TaskSpec::try_from(wire).unwrap(), t);
    }

    #[test]
    fn task_spec_rejections() {
        let good = v1::TaskSpec::try_from(task()).unwrap();

        let mut w = good.clone();
        w.graph_json = b"{not json".to_vec();
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::Json {
                    what: "TaskSpec.graph_json",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good.clone();
        w.id = "7".into();
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(e, ProtoError::InvalidId { field: "id", .. }),
            "{e}"
        );

        let mut w = good.clone();
        w.depends_on = vec!["x".into()];
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidId {
                    field: "depends_on",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good.clone();
        w.platform = "linux/riscv128".into();
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidPlatform {
                    field: "platform",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good.clone();
        w.kind = 7;
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::UnknownEnum {
                    field: "kind",
                    value: 7,
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good.clone();
        w.allow = vec!["device".into()];
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(e, ProtoError::UnknownName { field: "allow", .. }),
            "{e}"
        );

        let mut w = good;
        w.affinity = vec!["sha256:nothex".into()];
        let e = farm::TaskSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidDigest {
                    field: "affinity",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn task_result_round_trips_and_requires_manifest() {
        let r = result();
        let wire = v1::TaskResult::from(r.clone());
        assert_eq!(farm::TaskResult::try_from(wire.clone()).unwrap(), r);
        let e = farm::TaskResult::try_from(v1::TaskResult {
            manifest: None,
            ..wire
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::MissingField {
                    field: "manifest",
                    ..
                }
            ),
            "{e}"
        );
    }

    fn states() -> Vec<farm::TaskState> {
        let w: farm::WorkerId = "w1".parse().unwrap();
        vec![
            farm::TaskState::Pending,
            farm::TaskState::Assigned {
                worker: w.clone(),
                placement: farm::Placement::Native,
                at_ms: 5,
            },
            farm::TaskState::Running {
                worker: w.clone(),
                placement: farm::Placement::Emulated,
                at_ms: 6,
            },
            farm::TaskState::Succeeded {
                worker: w.clone(),
                result: result(),
            },
            farm::TaskState::Failed {
                worker: Some(w),
                failure: farm::Failure::Task {
                    task: "t".into(),
                    message: "exit code 1".into(),
                },
            },
            farm::TaskState::Failed {
                worker: None,
                failure: farm::Failure::Task {
                    task: "t".into(),
                    message: "no worker".into(),
                },
            },
            farm::TaskState::Canceled,
        ]
    }

    #[test]
    fn every_task_state_round_trips() {
        for s in states() {
            let wire = v1::TaskState::from(s.clone());
            assert_eq!(farm::TaskState::try_from(wire).unwrap(), s);
        }
    }

    #[test]
    fn task_state_rejections() {
        let e = farm::TaskState::try_from(v1::TaskState { state: None }).unwrap_err();
        assert!(
            matches!(e, ProtoError::MissingField { field: "state", .. }),
            "{e}"
        );

        let held = v1::TaskStateHeld {
            worker: "w1".into(),
            placement: 0,
            at_ms: 1,
        };
        let e = farm::TaskState::try_from(v1::TaskState {
            state: Some(State::Running(held.clone())),
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::MissingField {
                    field: "placement",
                    ..
                }
            ),
            "{e}"
        );

        let e = farm::TaskState::try_from(v1::TaskState {
            state: Some(State::Assigned(v1::TaskStateHeld {
                worker: "".into(),
                placement: v1::Placement::Native as i32,
                ..held
            })),
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidId {
                    field: "worker",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn task_info_flattens_the_state() {
        let t = task();
        let infos: Vec<v1::TaskInfo> = states().iter().map(|s| task_info(&t, s, 2)).collect();
        assert_eq!(infos[0].worker, None);
        assert_eq!(infos[2].worker.as_deref(), Some("w1"));
        assert!(infos[3].result.is_some());
        assert_eq!(infos[4].message, "t: exit code 1");
        assert_eq!(infos[5].worker, None);
        for (info, state) in infos.iter().zip(states()) {
            assert_eq!(info.attempt, 2);
            assert_eq!(info.platform, "linux/arm64");
            let back = farm::TaskState::try_from(info.state.clone().unwrap()).unwrap();
            assert_eq!(back, state);
        }
    }
}
