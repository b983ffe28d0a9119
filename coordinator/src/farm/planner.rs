//! Cuts a lowered build into tasks: one task per graph output (one per platform), each
//! holding only the vertices that output needs.
//!
//! **Not supported yet:** cross-task inputs. Every task is self-contained (its graph has
//! all the vertices its output depends on, with the same digests) and `depends_on` is
//! always empty. Vertices shared by several outputs (e.g. a platform-independent stage) are
//! copied into each task and may be solved once per task; sharing them through a producer
//! task is future work.

use crate::MAIN_CONTEXT;
use serde::{Deserialize, Serialize};
use slipway_farm::{BuildId, BuildSpec, ContextRef, NamedContext, TaskId, TaskSpec};
use slipway_graph::{Digest, Graph, GraphError, Op, SourceOp};
use std::collections::{BTreeMap, BTreeSet};

/// Why a build cannot be cut into tasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum PlanError {
    #[error("build {build}: the graph has no outputs")]
    NoOutputs { build: BuildId },
    #[error("build {build}: platform {platform} is an output twice")]
    DuplicatePlatform { build: BuildId, platform: String },
    #[error("build {build}: invalid graph: {message}")]
    InvalidGraph { build: BuildId, message: String },
}

/// One [`TaskSpec`] per output of `graph`, in output order; named after the platform. The
/// task graph holds the output's root and its ancestors; `affinity` lists the digests whose
/// presence on a worker helps the task (source vertices, resolved base images, the context
/// tar when the task reads the context). The build's `--network` mode is applied first.
pub fn plan(build: BuildId, spec: &BuildSpec, graph: Graph) -> Result<Vec<TaskSpec>, PlanError> {
    let invalid = |e: GraphError| PlanError::InvalidGraph {
        build,
        message: e.to_string(),
    };
    graph.validate().map_err(invalid)?;
    // `--network`: every RUN that does not choose its own mode gets the build's.
    let graph = crate::graph_edit::apply_network(graph, spec.network).map_err(invalid)?;
    if graph.outputs.is_empty() {
        return Err(PlanError::NoOutputs { build });
    }
    let mut platforms = BTreeSet::new();
    let mut tasks = Vec::with_capacity(graph.outputs.len());
    for output in &graph.outputs {
        if !platforms.insert(&output.platform) {
            return Err(PlanError::DuplicatePlatform {
                build,
                platform: output.platform.to_string(),
            });
        }
        let mut keep = BTreeSet::new();
        if let Some(root) = &output.root {
            keep = graph.ancestors(root).map_err(invalid)?;
            keep.insert(root.clone());
        }
        let vertices: BTreeMap<_, _> = keep
            .iter()
            .filter_map(|d| graph.vertices.get(d).map(|v| (d.clone(), v.clone())))
            .collect();
        let task_graph = Graph {
            vertices,
            outputs: vec![output.clone()],
        };
        let (mut affinity, locals) = inputs_of(&task_graph);
        let context = if locals.contains(MAIN_CONTEXT) {
            spec.context.clone()
        } else {
            None
        };
        // The local `--build-context` directories this task's graph reads.
        let named_contexts: BTreeMap<String, ContextRef> = spec
            .named_contexts
            .iter()
            .filter(|(name, _)| locals.contains(name.as_str()))
            .filter_map(|(name, c)| match c {
                NamedContext::Local(c) => Some((name.clone(), c.clone())),
                NamedContext::Image(_) => None,
            })
            .collect();
        if let Some(c) = &context {
            affinity.push(c.digest.clone());
        }
        affinity.extend(named_contexts.values().map(|c| c.digest.clone()));
        tasks.push(TaskSpec {
            id: TaskId::new(),
            build,
            name: output.platform.to_string(),
            platform: output.platform.clone(),
            graph: task_graph,
            depends_on: Vec::new(),
            context,
            push: spec.push.clone(),
            no_cache: spec.no_cache,
            pull: spec.pull,
            source_date_epoch: spec.source_date_epoch,
            affinity,
            cache_from: spec.cache_from.clone(),
            cache_to: spec.cache_to.clone(),
            named_contexts,
        });
    }
    Ok(tasks)
}

/// The digests of the graph's source vertices (plus resolved image manifests) and the
/// names of the local contexts it reads.
fn inputs_of(graph: &Graph) -> (Vec<Digest>, BTreeSet<String>) {
    let mut digests = BTreeSet::new();
    let mut locals = BTreeSet::new();
    for (digest, vertex) in &graph.vertices {
        let Op::Source(source) = &vertex.op else {
            continue;
        };
        digests.insert(digest.clone());
        match source {
            SourceOp::Image(image) => {
                if let Some(resolved) = &image.resolved {
                    digests.insert(resolved.clone());
                }
            }
            SourceOp::Local(local) => {
                locals.insert(local.name.clone());
            }
            SourceOp::Http(_) => {}
        }
    }
    (digests.into_iter().collect(), locals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_farm::{ContextRef, PushTarget};
    use slipway_graph::op::{ImageSource, LocalContext};
    use slipway_graph::{
        ExecOp, ExecOutput, GraphOutput, ImageConfig, Input, NetworkMode, Platform, SecurityMode,
        Vertex,
    };

    fn image(reference: &str, p: &Platform, resolved: Option<Digest>) -> Vertex {
        Vertex::new(
            Op::Source(SourceOp::Image(ImageSource {
                reference: reference.into(),
                resolved,
            })),
            vec![],
            p.clone(),
        )
    }

    fn context(p: &Platform) -> Vertex {
        Vertex::new(
            Op::Source(SourceOp::Local(LocalContext {
                name: "context".into(),
                ..LocalContext::default()
            })),
            vec![],
            p.clone(),
        )
    }

    fn run(cmd: &str, inputs: &[&Digest], p: &Platform) -> Vertex {
        Vertex::new(
            Op::Exec(ExecOp {
                args: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
                env: vec![],
                cwd: "/".into(),
                user: String::new(),
                network: NetworkMode::Sandbox,
                security: SecurityMode::Sandbox,
                rootfs: Some(0),
                output: ExecOutput::Rootfs,
                mounts: vec![],
                secret_env: vec![],
            }),
            inputs.iter().map(|d| Input::of((*d).clone())).collect(),
            p.clone(),
        )
    }

    fn output(p: &Platform, root: Option<Digest>) -> GraphOutput {
        GraphOutput {
            platform: p.clone(),
            target: String::new(),
            root,
            image: ImageConfig::default(),
        }
    }

    struct TwoPlatforms {
        graph: Graph,
        amd: Vec<Digest>,
        arm: Vec<Digest>,
        manifest: Digest,
    }

    /// amd64: alpine (resolved) → RUN; arm64: alpine → RUN reading the context.
    fn two_platforms() -> TwoPlatforms {
        let amd64 = Platform::linux("amd64", "");
        let arm64 = Platform::linux("arm64", "");
        let manifest = Digest::of_bytes(b"alpine manifest");
        let mut g = Graph::new();
        let base_a = g.add(image(
            "docker.io/library/alpine:3",
            &amd64,
            Some(manifest.clone()),
        ));
        let run_a = g.add(run("make", &[&base_a], &amd64));
        let base_b = g.add(image("docker.io/library/alpine:3", &arm64, None));
        let ctx = g.add(context(&arm64));
        let run_b = g.add(run("make", &[&base_b, &ctx], &arm64));
        g.outputs.push(output(&amd64, Some(run_a.clone())));
        g.outputs.push(output(&arm64, Some(run_b.clone())));
        TwoPlatforms {
            graph: g,
            amd: vec![base_a, run_a],
            arm: vec![base_b, ctx, run_b],
            manifest,
        }
    }

    fn spec() -> BuildSpec {
        BuildSpec {
            context: Some(ContextRef {
                digest: Digest::of_bytes(b"context tar"),
                size: 10,
                kind: Default::default(),
            }),
            push: Some(PushTarget {
                repository: "127.0.0.1:5000/app".into(),
                tags: vec!["1".into()],
            }),
            no_cache: true,
            source_date_epoch: Some(7),
            ..BuildSpec::default()
        }
    }

    #[test]
    fn one_task_per_output_with_only_its_ancestors() {
        let t = two_platforms();
        let build = BuildId::new();
        let tasks = plan(build, &spec(), t.graph.clone()).unwrap();
        assert_eq!(tasks.len(), 2);
        let (a, b) = (&tasks[0], &tasks[1]);
        assert_ne!(a.id, b.id);
        assert_eq!(a.name, "linux/amd64");
        assert_eq!(b.name, "linux/arm64");
        assert_eq!(a.build, build);
        let keys = |g: &Graph| g.vertices.keys().cloned().collect::<BTreeSet<_>>();
        assert_eq!(keys(&a.graph), t.amd.iter().cloned().collect());
        assert_eq!(keys(&b.graph), t.arm.iter().cloned().collect());
        assert_eq!(a.graph.outputs, vec![t.graph.outputs[0].clone()]);
        a.graph.validate().unwrap();
        b.graph.validate().unwrap();
        for task in &tasks {
            assert!(task.depends_on.is_empty());
            assert_eq!(task.push, spec().push);
            assert!(task.no_cache);
            assert_eq!(task.source_date_epoch, Some(7));
        }
    }

    #[test]
    fn affinity_is_sources_resolved_images_and_the_context_when_read() {
        let t = two_platforms();
        let tasks = plan(BuildId::new(), &spec(), t.graph.clone()).unwrap();
        let ctx_tar = Digest::of_bytes(b"context tar");
        let a: BTreeSet<_> = tasks[0].affinity.iter().cloned().collect();
        assert_eq!(
            a,
            [t.amd[0].clone(), t.manifest.clone()].into_iter().collect()
        );
        assert_eq!(
            tasks[0].context, None,
            "the amd64 task never reads the context"
        );
        let b: BTreeSet<_> = tasks[1].affinity.iter().cloned().collect();
        assert_eq!(
            b,
            [t.arm[0].clone(), t.arm[1].clone(), ctx_tar]
                .into_iter()
                .collect()
        );
        assert_eq!(tasks[1].context, spec().context);
    }

    #[test]
    fn a_task_carries_only_the_local_named_contexts_its_graph_reads() {
        let p = Platform::linux("amd64", "");
        let mut g = Graph::new();
        let extra = g.add(Vertex::new(
            Op::Source(SourceOp::Local(LocalContext {
                name: "extra".into(),
                ..LocalContext::default()
            })),
            vec![],
            p.clone(),
        ));
        let base = g.add(image("busybox", &p, None));
        let run_it = g.add(run("cat /x", &[&base, &extra], &p));
        g.outputs.push(output(&p, Some(run_it)));
        let local = |seed: &[u8]| ContextRef {
            digest: Digest::of_bytes(seed),
            size: 1,
            kind: Default::default(),
        };
        let spec = BuildSpec {
            named_contexts: [
                ("extra".to_string(), NamedContext::Local(local(b"extra"))),
                ("unused".to_string(), NamedContext::Local(local(b"unused"))),
                ("img".to_string(), NamedContext::Image("alpine".into())),
            ]
            .into(),
            ..spec()
        };
        let tasks = plan(BuildId::new(), &spec, g).unwrap();
        let names: Vec<&String> = tasks[0].named_contexts.keys().collect();
        assert_eq!(names, ["extra"]);
        assert_eq!(tasks[0].context, None, "the main context is not read");
        assert!(tasks[0].affinity.contains(&Digest::of_bytes(b"extra")));
        assert!(!tasks[0].affinity.contains(&Digest::of_bytes(b"unused")));
    }

    #[test]
    fn the_builds_network_mode_reaches_every_run_that_sets_none() {
        let t = two_platforms();
        let spec = BuildSpec {
            network: NetworkMode::None,
            ..spec()
        };
        let tasks = plan(BuildId::new(), &spec, t.graph).unwrap();
        let modes: Vec<NetworkMode> = tasks
            .iter()
            .flat_map(|t| t.graph.vertices.values())
            .filter_map(|v| match &v.op {
                Op::Exec(e) => Some(e.network),
                _ => None,
            })
            .collect();
        assert_eq!(modes, vec![NetworkMode::None; 2]);
        for t in &tasks {
            t.graph.validate().unwrap();
        }
    }

    #[test]
    fn empty_filesystem_output_gets_an_empty_graph() {
        let p = Platform::linux("amd64", "");
        let mut g = Graph::new();
        g.outputs.push(output(&p, None));
        let tasks = plan(BuildId::new(), &BuildSpec::default(), g).unwrap();
        assert_eq!(tasks.len(), 1);
        assert!(tasks[0].graph.vertices.is_empty());
        assert!(tasks[0].affinity.is_empty());
    }

    #[test]
    fn refuses_no_outputs_duplicates_and_invalid_graphs() {
        let build = BuildId::new();
        let err = plan(build, &BuildSpec::default(), Graph::new()).unwrap_err();
        assert_eq!(err, PlanError::NoOutputs { build });

        let p = Platform::linux("amd64", "");
        let mut g = Graph::new();
        g.outputs.push(output(&p, None));
        g.outputs.push(output(&p, None));
        let err = plan(build, &BuildSpec::default(), g).unwrap_err();
        assert!(err.to_string().contains("linux/amd64"), "{err}");

        let mut g = Graph::new();
        g.outputs.push(output(&p, Some(Digest::of_bytes(b"ghost"))));
        let err = plan(build, &BuildSpec::default(), g).unwrap_err();
        assert!(matches!(err, PlanError::InvalidGraph { .. }), "{err}");
    }
}
