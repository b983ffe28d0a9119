//! Submissions: the Dockerfile is lowered by the leader (base images resolved from
//! registries through [`RegistryResolver`]), cut into tasks by the planner, and refused at
//! once when a task's platform is run by no live registered worker.
//!
//! The build platform (`BUILDPLATFORM`) is the first target platform: the farm has no
//! single build machine, and the first platform's workers are the ones that surely exist.

use super::error::NodeError;
use crate::graph_edit::apply_labels;
use crate::resolver::RegistryResolver;
use slipway_farm::{BuildSpec, TaskSpec, WorkerSpec};
use slipway_frontend::{lower, LowerOptions, NamedContext};
use slipway_graph::{Graph, Platform};
use slipway_oci::registry::RegistryClient;
use std::sync::Arc;

/// The platform built when a spec names none.
pub fn default_platform() -> Platform {
    Platform::linux("amd64", "")
}

/// The target platforms of a spec (its own, or [`default_platform`]).
pub fn target_platforms(spec: &BuildSpec) -> Vec<Platform> {
    if spec.platforms.is_empty() {
        vec![default_platform()]
    } else {
        spec.platforms.clone()
    }
}

/// The frontend options for a submitted spec.
pub fn lower_options(spec: &BuildSpec) -> LowerOptions {
    let platforms = target_platforms(spec);
    LowerOptions {
        build_platform: platforms.first().cloned().unwrap_or_else(default_platform),
        platforms,
        build_args: spec.build_args.clone(),
        target: spec.target.clone().unwrap_or_default(),
        dockerfile_name: if spec.dockerfile_name.is_empty() {
            "Dockerfile".to_string()
        } else {
            spec.dockerfile_name.clone()
        },
        source_date_epoch: spec.source_date_epoch,
        named_contexts: spec
            .named_contexts
            .iter()
            .map(|(name, c)| {
                let lowered = match c {
                    slipway_farm::NamedContext::Image(r) => NamedContext::Image(r.clone()),
                    slipway_farm::NamedContext::Local(_) => NamedContext::Local(name.clone()),
                };
                (name.clone(), lowered)
            })
            .collect(),
        ..LowerOptions::default()
    }
}

/// Lowers the spec's Dockerfile (off the async runtime: the resolver blocks on registry
/// calls) and applies its labels.
pub async fn lower_spec(
    registry: Arc<RegistryClient>,
    spec: &BuildSpec,
) -> Result<Graph, NodeError> {
    let opts = lower_options(spec);
    let source = spec.dockerfile.clone();
    let resolver = RegistryResolver::new(registry, tokio::runtime::Handle::current());
    let mut graph = tokio::task::spawn_blocking(move || {
        lower(&source, &opts, &resolver).map_err(|e| NodeError::Dockerfile {
            rendered: e.render(&source).trim_end().to_string(),
        })
    })
    .await
    .map_err(|e| NodeError::Join {
        what: "lowering the Dockerfile",
        message: e.to_string(),
    })??;
    apply_labels(&mut graph, &spec.labels);
    Ok(graph)
}

/// Refuses platforms no live worker runs (natively or emulated), naming the first one.
pub fn check_platforms<'a>(
    platforms: impl IntoIterator<Item = &'a Platform>,
    live: &[WorkerSpec],
) -> Result<(), NodeError> {
    for platform in platforms {
        if !live
            .iter()
            .any(|w| w.platforms.placement(platform).is_some())
        {
            return Err(NodeError::NoWorkerForPlatform {
                platform: platform.to_string(),
            });
        }
    }
    Ok(())
}

/// [`check_platforms`] for the platforms of planned tasks.
pub fn check_tasks(tasks: &[TaskSpec], live: &[WorkerSpec]) -> Result<(), NodeError> {
    check_platforms(tasks.iter().map(|t| &t.platform), live)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::{BuildId, PlatformSupport, TaskId};

    fn task(p: Platform) -> TaskSpec {
        TaskSpec {
            id: TaskId::new(),
            build: BuildId::new(),
            name: p.to_string(),
            platform: p,
            kind: Default::default(),
            graph: Graph::new(),
            depends_on: vec![],
            context: None,
            push: None,
            no_cache: false,
            pull: false,
            source_date_epoch: None,
            affinity: vec![],
            cache_from: vec![],
            cache_to: vec![],
            named_contexts: Default::default(),
            allow: Default::default(),
        }
    }

    fn worker(native: &[Platform], emulated: &[Platform]) -> WorkerSpec {
        WorkerSpec {
            id: "w1".parse().unwrap(),
            incarnation: uuid::Uuid::new_v4(),
            platforms: PlatformSupport {
                native: native.to_vec(),
                emulated: emulated.to_vec(),
            },
            slots: 1,
            labels: Default::default(),
            data_addr: "127.0.0.1:1".into(),
        }
    }

    #[test]
    fn unknown_platforms_are_named() {
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm64", "");
        let riscv = Platform::linux("riscv64", "");
        let w = worker(std::slice::from_ref(&amd), std::slice::from_ref(&arm));
        let live = vec![w];
        assert!(check_tasks(&[task(amd.clone()), task(arm.clone())], &live).is_ok());
        let err = check_tasks(&[task(amd.clone()), task(riscv.clone())], &live).unwrap_err();
        assert_eq!(err.to_string(), "no worker runs platform linux/riscv64");
        assert!(check_platforms([&riscv], &live).is_err());
        assert!(check_platforms([&amd], &live).is_ok());
        assert!(check_tasks(&[task(arm)], &[]).is_err());
    }

    #[test]
    fn options_default_to_linux_amd64_and_the_first_platform_builds() {
        let mut spec = BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            ..BuildSpec::default()
        };
        let o = lower_options(&spec);
        assert_eq!(o.platforms, vec![default_platform()]);
        assert_eq!(o.dockerfile_name, "Dockerfile");
        spec.platforms = vec![Platform::linux("arm64", ""), default_platform()];
        spec.target = Some("final".into());
        let o = lower_options(&spec);
        assert_eq!(o.build_platform, Platform::linux("arm64", ""));
        assert_eq!(o.target, "final");
    }
}
