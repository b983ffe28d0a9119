//! Submissions: the Dockerfile is lowered by the leader (base images resolved from
//! registries through [`RegistryResolver`]), cut into tasks by the planner, and refused at
//! once when a task's platform is run by no live registered worker.
//!
//! The build platform (`BUILDPLATFORM`) is one the farm runs natively ([`build_platform`]):
//! the client's own platform when a live worker runs it natively, else the native platform
//! with the most slots; never an emulated one while a native one exists. A one-process
//! farm (the embedded build) therefore decides exactly as a farm of that one machine.

use super::error::NodeError;
use crate::graph_edit::apply_labels;
use crate::resolver::RegistryResolver;
use slipway_farm::{BuildSpec, TaskSpec, WorkerSpec};
use slipway_frontend::{lower, LowerOptions, NamedContext};
use slipway_graph::{Graph, Platform};
use slipway_oci::registry::RegistryClient;
use std::sync::Arc;

/// The platform built when a spec names none and its client said nothing of its own.
pub fn default_platform() -> Platform {
    Platform::linux("amd64", "")
}

/// The target platforms of a spec: its own, else its client's platform, else
/// [`default_platform`].
pub fn target_platforms(spec: &BuildSpec) -> Vec<Platform> {
    if !spec.platforms.is_empty() {
        return spec.platforms.clone();
    }
    vec![spec
        .client_platform
        .clone()
        .unwrap_or_else(default_platform)]
}

/// `BUILDPLATFORM` for a spec on a farm whose live workers are `live`: the client's
/// platform when some live worker runs it natively; else the natively run platform with
/// the most slots (ties: the first target platform among them, then the smallest name);
/// with no native worker at all, the client's platform or the first target.
pub fn build_platform(spec: &BuildSpec, live: &[WorkerSpec]) -> Platform {
    let targets = target_platforms(spec);
    let native = |p: &Platform| live.iter().any(|w| w.platforms.native.contains(p));
    if let Some(client) = spec.client_platform.as_ref().filter(|p| native(p)) {
        return client.clone();
    }
    let mut capacity: std::collections::BTreeMap<String, (u64, Platform)> = Default::default();
    for w in live {
        for p in &w.platforms.native {
            let entry = capacity
                .entry(p.to_string())
                .or_insert_with(|| (0, p.clone()));
            entry.0 += u64::from(w.slots);
        }
    }
    let best = capacity.into_values().max_by(|(a, pa), (b, pb)| {
        a.cmp(b)
            .then_with(|| targets.contains(pa).cmp(&targets.contains(pb)))
            // max_by keeps the last of equals: prefer the smaller name.
            .then_with(|| pb.to_string().cmp(&pa.to_string()))
    });
    match best {
        Some((_, p)) => p,
        None => spec
            .client_platform
            .clone()
            .unwrap_or_else(|| targets[0].clone()),
    }
}

/// The frontend options for a submitted spec on a farm whose live workers are `live`.
pub fn lower_options(spec: &BuildSpec, live: &[WorkerSpec]) -> LowerOptions {
    let platforms = target_platforms(spec);
    LowerOptions {
        build_platform: build_platform(spec, live),
        context_excludes: spec.context_excludes.clone(),
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
    }
}

/// Lowers the spec's Dockerfile (off the async runtime: the resolver blocks on registry
/// calls) and applies its labels.
pub async fn lower_spec(
    registry: Arc<RegistryClient>,
    spec: &BuildSpec,
    live: &[WorkerSpec],
) -> Result<Graph, NodeError> {
    let opts = lower_options(spec, live);
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

/// Refuses contexts and `--cache-from type=local` caches that are directories of the
/// client's machine unless this coordinator runs in the client's process (`in_place`),
/// where its worker reads them in place.
pub fn check_contexts(spec: &BuildSpec, in_place: bool) -> Result<(), NodeError> {
    if in_place {
        return Ok(());
    }
    for import in &spec.cache_from {
        if let slipway_farm::cache::CacheImport::Local { src } = import {
            return Err(NodeError::DirectoryContext {
                name: format!("cache --cache-from type=local,src={}", src.display()),
            });
        }
    }
    let named = spec.named_contexts.iter().filter_map(|(n, c)| match c {
        slipway_farm::NamedContext::Local(c) => Some((n.as_str(), c)),
        slipway_farm::NamedContext::Image(_) => None,
    });
    for (name, c) in spec.context.iter().map(|c| ("context", c)).chain(named) {
        if c.kind == slipway_farm::ContextKind::Directory {
            return Err(NodeError::DirectoryContext {
                name: name.to_string(),
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
            pushes: Vec::new(),
            no_cache: false,
            pull: false,
            source_date_epoch: None,
            affinity: vec![],
            cache_from: vec![],
            cache_to: vec![],
            named_contexts: Default::default(),
            allow: Default::default(),
            docker_media_types: false,
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
    fn options_default_to_the_client_platform() {
        let mut spec = BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            ..BuildSpec::default()
        };
        let o = lower_options(&spec, &[]);
        assert_eq!(o.platforms, vec![default_platform()]);
        assert_eq!(o.dockerfile_name, "Dockerfile");
        let arm = Platform::linux("arm64", "");
        spec.client_platform = Some(arm.clone());
        assert_eq!(lower_options(&spec, &[]).platforms, vec![arm.clone()]);
        spec.platforms = vec![arm.clone(), default_platform()];
        spec.target = Some("final".into());
        spec.context_excludes = vec!["*.md".into()];
        let o = lower_options(&spec, &[]);
        assert_eq!(o.target, "final");
        assert_eq!(o.context_excludes, vec!["*.md".to_string()]);
    }

    #[test]
    fn build_platform_is_native_preferring_the_client() {
        let amd = Platform::linux("amd64", "");
        let arm = Platform::linux("arm64", "");
        let v7 = Platform::linux("arm", "v7");
        let mut spec = BuildSpec {
            dockerfile: "FROM scratch\n".into(),
            platforms: vec![arm.clone()],
            client_platform: Some(amd.clone()),
            ..BuildSpec::default()
        };
        // An amd64 farm emulating arm64: an arm64-only build still builds on amd64.
        let amd_farm = [worker(
            std::slice::from_ref(&amd),
            &[arm.clone(), v7.clone()],
        )];
        assert_eq!(build_platform(&spec, &amd_farm), amd);
        // The client's platform is not native anywhere: the most native capacity wins.
        let mut big_arm = worker(std::slice::from_ref(&arm), &[]);
        big_arm.slots = 8;
        let mixed = [
            worker(std::slice::from_ref(&v7), std::slice::from_ref(&amd)),
            big_arm,
        ];
        assert_eq!(build_platform(&spec, &mixed), arm);
        // Never an emulated platform while a native one exists.
        spec.client_platform = Some(v7.clone());
        let only_emulating = [worker(
            std::slice::from_ref(&arm),
            std::slice::from_ref(&v7),
        )];
        assert_eq!(build_platform(&spec, &only_emulating), arm);
        // Equal capacity: a target platform first.
        spec.client_platform = None;
        let even = [
            worker(std::slice::from_ref(&amd), &[]),
            worker(std::slice::from_ref(&arm), &[]),
        ];
        assert_eq!(build_platform(&spec, &even), arm);
        // No worker at all: the client's platform, else the first target.
        assert_eq!(build_platform(&spec, &[]), arm);
    }
}
