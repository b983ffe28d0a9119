//! Builds: `ContextRef`, `PushTarget`, `BuildSpec`, `BuildState`, `BuildSummary`.

use super::parse::{self, platform_strings};
use crate::v1::build_state::State;
use crate::{v1, ProtoError};
use slipway_farm as farm;
use slipway_graph::NetworkMode;

impl From<farm::ContextRef> for v1::ContextRef {
    fn from(c: farm::ContextRef) -> v1::ContextRef {
        v1::ContextRef {
            digest: c.digest.to_string(),
            size: c.size,
            kind: match c.kind {
                farm::ContextKind::Tar => v1::ContextKind::Tar,
                farm::ContextKind::Manifest => v1::ContextKind::Manifest,
                farm::ContextKind::Directory => v1::ContextKind::Directory,
            } as i32,
            path: c
                .path
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

impl TryFrom<v1::ContextRef> for farm::ContextRef {
    type Error = ProtoError;
    fn try_from(c: v1::ContextRef) -> Result<farm::ContextRef, ProtoError> {
        Ok(farm::ContextRef {
            digest: parse::digest(&c.digest, ("ContextRef", "digest"))?,
            size: c.size,
            kind: match v1::ContextKind::try_from(c.kind) {
                Ok(v1::ContextKind::Tar) => farm::ContextKind::Tar,
                Ok(v1::ContextKind::Manifest) => farm::ContextKind::Manifest,
                Ok(v1::ContextKind::Directory) => farm::ContextKind::Directory,
                Err(_) => {
                    return Err(ProtoError::UnknownEnum {
                        message: "ContextRef",
                        field: "kind",
                        value: c.kind,
                    })
                }
            },
            path: (!c.path.is_empty()).then(|| std::path::PathBuf::from(c.path)),
        })
    }
}

impl From<farm::PushTarget> for v1::PushTarget {
    fn from(p: farm::PushTarget) -> v1::PushTarget {
        v1::PushTarget {
            repository: p.repository,
            tags: p.tags,
            insecure: p.insecure,
        }
    }
}

impl From<v1::PushTarget> for farm::PushTarget {
    fn from(p: v1::PushTarget) -> farm::PushTarget {
        farm::PushTarget {
            repository: p.repository,
            tags: p.tags,
            insecure: p.insecure,
        }
    }
}

impl From<farm::BuildSpec> for v1::BuildSpec {
    fn from(s: farm::BuildSpec) -> v1::BuildSpec {
        v1::BuildSpec {
            name: s.name,
            dockerfile: s.dockerfile,
            dockerfile_name: s.dockerfile_name,
            platforms: platform_strings(&s.platforms),
            build_args: s.build_args,
            target: s.target,
            labels: s.labels,
            no_cache: s.no_cache,
            pull: s.pull,
            source_date_epoch: s.source_date_epoch,
            context: s.context.map(Into::into),
            push: s.pushes.first().cloned().map(Into::into),
            more_pushes: s.pushes.iter().skip(1).cloned().map(Into::into).collect(),
            cache_from: s.cache_from.into_iter().map(Into::into).collect(),
            cache_to: s.cache_to.into_iter().map(Into::into).collect(),
            named_contexts: s
                .named_contexts
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
            network: match s.network {
                NetworkMode::Sandbox => String::new(),
                NetworkMode::None => "none".into(),
                NetworkMode::Host => "host".into(),
            },
            allow: s.allow.iter().map(ToString::to_string).collect(),
            client_platform: s.client_platform.map(|p| p.to_string()).unwrap_or_default(),
            context_excludes: s.context_excludes,
            docker_media_types: s.docker_media_types,
        }
    }
}

impl From<farm::NamedContext> for v1::NamedContext {
    fn from(c: farm::NamedContext) -> v1::NamedContext {
        use v1::named_context::Source;
        v1::NamedContext {
            source: Some(match c {
                farm::NamedContext::Image(r) => Source::Image(r),
                farm::NamedContext::Local(c) => Source::Local(c.into()),
            }),
        }
    }
}

impl TryFrom<v1::NamedContext> for farm::NamedContext {
    type Error = ProtoError;
    fn try_from(c: v1::NamedContext) -> Result<farm::NamedContext, ProtoError> {
        use v1::named_context::Source;
        Ok(
            match parse::required(c.source, ("NamedContext", "source"))? {
                Source::Image(r) => farm::NamedContext::Image(r),
                Source::Local(c) => farm::NamedContext::Local(c.try_into()?),
            },
        )
    }
}

impl TryFrom<v1::BuildSpec> for farm::BuildSpec {
    type Error = ProtoError;
    /// Checks the wire shape only; call [`farm::BuildSpec::validate`] for the farm's rules.
    fn try_from(s: v1::BuildSpec) -> Result<farm::BuildSpec, ProtoError> {
        Ok(farm::BuildSpec {
            name: s.name,
            dockerfile: s.dockerfile,
            dockerfile_name: s.dockerfile_name,
            platforms: parse::platforms(&s.platforms, ("BuildSpec", "platforms"))?,
            build_args: s.build_args,
            target: s.target,
            labels: s.labels,
            no_cache: s.no_cache,
            pull: s.pull,
            source_date_epoch: s.source_date_epoch,
            context: s.context.map(TryInto::try_into).transpose()?,
            pushes: s
                .push
                .into_iter()
                .map(Into::into)
                .chain(s.more_pushes.into_iter().map(Into::into))
                .collect(),
            cache_from: super::cache::imports(s.cache_from)?,
            cache_to: super::cache::exports(s.cache_to)?,
            named_contexts: s
                .named_contexts
                .into_iter()
                .map(|(k, v)| Ok((k, v.try_into()?)))
                .collect::<Result<_, ProtoError>>()?,
            network: match s.network.as_str() {
                "" | "default" => NetworkMode::Sandbox,
                "none" => NetworkMode::None,
                "host" => NetworkMode::Host,
                other => {
                    return Err(ProtoError::UnknownName {
                        message: "BuildSpec",
                        field: "network",
                        value: other.to_string(),
                    })
                }
            },
            allow: entitlements(&s.allow, "BuildSpec")?,
            client_platform: if s.client_platform.is_empty() {
                None
            } else {
                Some(parse::platform(
                    &s.client_platform,
                    ("BuildSpec", "client_platform"),
                )?)
            },
            context_excludes: s.context_excludes,
            docker_media_types: s.docker_media_types,
        })
    }
}

impl From<farm::BuildState> for v1::BuildState {
    fn from(s: farm::BuildState) -> v1::BuildState {
        let state = match s {
            farm::BuildState::Queued => State::Queued(v1::Empty {}),
            farm::BuildState::Running => State::Running(v1::Empty {}),
            farm::BuildState::Stitching => State::Stitching(v1::Empty {}),
            farm::BuildState::Succeeded { index } => State::Succeeded(v1::BuildStateSucceeded {
                index: index.map(Into::into),
            }),
            farm::BuildState::Failed { failure } => State::Failed(v1::BuildStateFailed {
                message: failure.to_string(),
                failure: Some(failure.into()),
            }),
            farm::BuildState::Canceled => State::Canceled(v1::Empty {}),
        };
        v1::BuildState { state: Some(state) }
    }
}

impl TryFrom<v1::BuildState> for farm::BuildState {
    type Error = ProtoError;
    fn try_from(s: v1::BuildState) -> Result<farm::BuildState, ProtoError> {
        Ok(match parse::required(s.state, ("BuildState", "state"))? {
            State::Queued(_) => farm::BuildState::Queued,
            State::Running(_) => farm::BuildState::Running,
            State::Stitching(_) => farm::BuildState::Stitching,
            State::Succeeded(v1::BuildStateSucceeded { index }) => farm::BuildState::Succeeded {
                index: index.map(TryInto::try_into).transpose()?,
            },
            State::Failed(v1::BuildStateFailed { message, failure }) => farm::BuildState::Failed {
                failure: super::failure::failed(failure, message, "")?,
            },
            State::Canceled(_) => farm::BuildState::Canceled,
        })
    }
}

impl From<farm::BuildSummary> for v1::BuildSummary {
    fn from(s: farm::BuildSummary) -> v1::BuildSummary {
        v1::BuildSummary {
            id: s.id.to_string(),
            name: s.name,
            platforms: platform_strings(&s.platforms),
            state: Some(s.state.into()),
            submitted_ms: s.submitted_ms,
            finished_ms: s.finished_ms,
            tasks_total: s.tasks_total,
            tasks_done: s.tasks_done,
        }
    }
}

impl TryFrom<v1::BuildSummary> for farm::BuildSummary {
    type Error = ProtoError;
    fn try_from(s: v1::BuildSummary) -> Result<farm::BuildSummary, ProtoError> {
        const M: &str = "BuildSummary";
        Ok(farm::BuildSummary {
            id: parse::build_id(&s.id, (M, "id"))?,
            name: s.name,
            platforms: parse::platforms(&s.platforms, (M, "platforms"))?,
            state: parse::required(s.state, (M, "state"))?.try_into()?,
            submitted_ms: s.submitted_ms,
            finished_ms: s.finished_ms,
            tasks_total: s.tasks_total,
            tasks_done: s.tasks_done,
        })
    }
}

/// Entitlement names of a wire list; an unknown name is refused.
pub fn entitlements(
    names: &[String],
    message: &'static str,
) -> Result<std::collections::BTreeSet<slipway_graph::Entitlement>, ProtoError> {
    names
        .iter()
        .map(|n| {
            n.parse().map_err(|_| ProtoError::UnknownName {
                message,
                field: "allow",
                value: n.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_graph::{Digest, Platform};

    fn descriptor() -> farm::BlobDescriptor {
        farm::BlobDescriptor {
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            digest: Digest::of_bytes(b"index"),
            size: 321,
        }
    }

    fn spec() -> farm::BuildSpec {
        farm::BuildSpec {
            client_platform: None,
            context_excludes: Vec::new(),
            docker_media_types: false,
            name: "app".into(),
            dockerfile: "FROM scratch\nCOPY . /\n".into(),
            dockerfile_name: "Dockerfile".into(),
            platforms: vec![Platform::linux("amd64", ""), Platform::linux("arm", "v7")],
            build_args: [("A".to_string(), "1".to_string())].into(),
            target: Some("final".into()),
            labels: [(
                "org.opencontainers.image.title".to_string(),
                "app".to_string(),
            )]
            .into(),
            no_cache: true,
            pull: true,
            source_date_epoch: Some(1_700_000_000),
            context: Some(farm::ContextRef {
                path: None,
                digest: Digest::of_bytes(b"context"),
                size: 10_240,
                kind: farm::ContextKind::Manifest,
            }),
            pushes: vec![
                farm::PushTarget {
                    insecure: false,
                    repository: "127.0.0.1:5000/app".into(),
                    tags: vec!["1".into(), "latest".into()],
                },
                farm::PushTarget {
                    insecure: true,
                    repository: "mirror.example:5000/app".into(),
                    tags: vec!["1".into()],
                },
            ],
            cache_from: crate::convert::cache::tests::imports_all(),
            cache_to: crate::convert::cache::tests::exports_all(),
            named_contexts: [
                (
                    "base".to_string(),
                    farm::NamedContext::Image("alpine:3.20".into()),
                ),
                (
                    "extra".to_string(),
                    farm::NamedContext::Local(farm::ContextRef {
                        path: None,
                        digest: Digest::of_bytes(b"extra"),
                        size: 99,
                        kind: farm::ContextKind::Manifest,
                    }),
                ),
            ]
            .into(),
            network: NetworkMode::None,
            allow: [slipway_graph::Entitlement::SecurityInsecure].into(),
        }
    }

    #[test]
    fn build_spec_round_trips() {
        for s in [spec(), farm::BuildSpec::default()] {
            let wire = v1::BuildSpec::from(s.clone());
            assert_eq!(farm::BuildSpec::try_from(wire).unwrap(), s);
        }
    }

    #[test]
    fn build_spec_rejects_bad_platform_and_digest() {
        let mut w = v1::BuildSpec::from(spec());
        w.platforms.push("linux/sparc".into());
        let e = farm::BuildSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidPlatform {
                    message: "BuildSpec",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("linux/sparc"), "{e}");

        let mut w = v1::BuildSpec::from(spec());
        if let Some(c) = w.context.as_mut() {
            c.digest = "sha256:short".into();
        }
        let e = farm::BuildSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidDigest {
                    message: "ContextRef",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn every_build_state_round_trips() {
        let states = [
            farm::BuildState::Queued,
            farm::BuildState::Running,
            farm::BuildState::Stitching,
            farm::BuildState::Succeeded { index: None },
            farm::BuildState::Succeeded {
                index: Some(descriptor()),
            },
            farm::BuildState::Failed {
                failure: farm::Failure::Task {
                    task: "t".into(),
                    message: "task linux/arm64 failed".into(),
                },
            },
            farm::BuildState::Canceled,
        ];
        for s in states {
            let wire = v1::BuildState::from(s.clone());
            assert_eq!(farm::BuildState::try_from(wire).unwrap(), s);
        }
        let e = farm::BuildState::try_from(v1::BuildState { state: None }).unwrap_err();
        assert!(
            matches!(e, ProtoError::MissingField { field: "state", .. }),
            "{e}"
        );
    }

    #[test]
    fn build_summary_round_trips_and_rejects() {
        let s = farm::BuildSummary {
            id: farm::BuildId::new(),
            name: "app".into(),
            platforms: vec![Platform::linux("arm64", "")],
            state: farm::BuildState::Running,
            submitted_ms: 1_000,
            finished_ms: Some(2_000),
            tasks_total: 3,
            tasks_done: 1,
        };
        let wire = v1::BuildSummary::from(s.clone());
        assert_eq!(farm::BuildSummary::try_from(wire.clone()).unwrap(), s);

        let mut w = wire.clone();
        w.id = "build-1".into();
        let e = farm::BuildSummary::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidId {
                    message: "BuildSummary",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = wire;
        w.state = None;
        let e = farm::BuildSummary::try_from(w).unwrap_err();
        assert!(
            matches!(e, ProtoError::MissingField { field: "state", .. }),
            "{e}"
        );
    }
}
