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
            path: None,
            digest: Digest::of_bytes(b"context tar"),
            size: 10,
            kind: Default::default(),
        }),
        pushes: vec![PushTarget {
            insecure: false,
            repository: "127.0.0.1:5000/app".into(),
            tags: vec!["1".into()],
        }],
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
        assert_eq!(task.pushes, spec().pushes);
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
        path: None,
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

fn keys(g: &Graph) -> BTreeSet<Digest> {
    g.vertices.keys().cloned().collect()
}

/// A `FROM --platform=$BUILDPLATFORM` stage (`gen`, amd64) copied into an amd64 and an
/// arm64 image.
struct SharedStage {
    graph: Graph,
    gen_base: Digest,
    gen: Digest,
    finals: [Digest; 2],
}

fn shared_stage() -> SharedStage {
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let gen_base = g.add(image("golang", &amd64, None));
    let gen = g.add(run("go build", &[&gen_base], &amd64));
    let base_a = g.add(image("alpine", &amd64, None));
    let base_b = g.add(image("alpine", &arm64, None));
    let final_a = g.add(run("install", &[&base_a, &gen], &amd64));
    let final_b = g.add(run("install", &[&base_b, &gen], &arm64));
    g.outputs.push(output(&amd64, Some(final_a.clone())));
    g.outputs.push(output(&arm64, Some(final_b.clone())));
    SharedStage {
        graph: g,
        gen_base,
        gen,
        finals: [final_a, final_b],
    }
}

#[test]
fn a_stage_two_images_share_becomes_one_stage_task_they_depend_on() {
    let s = shared_stage();
    let tasks = plan(BuildId::new(), &spec(), s.graph.clone()).unwrap();
    assert_eq!(tasks.len(), 3);
    let stage = &tasks[0];
    assert_eq!(stage.kind, TaskKind::Stage);
    assert_eq!(stage.platform, Platform::linux("amd64", ""));
    assert_eq!(stage.pushes, vec![], "a stage is not pushed");
    assert!(stage.depends_on.is_empty());
    assert_eq!(
        keys(&stage.graph),
        [s.gen_base.clone(), s.gen.clone()].into_iter().collect()
    );
    assert_eq!(stage.graph.outputs[0].root, Some(s.gen.clone()));
    stage.graph.validate().unwrap();
    for (task, root) in tasks[1..].iter().zip(&s.finals) {
        assert_eq!(task.kind, TaskKind::Image);
        assert_eq!(task.depends_on, vec![stage.id]);
        assert_eq!(task.pushes, spec().pushes);
        assert_eq!(task.graph.outputs[0].root.as_ref(), Some(root));
        // The stage's vertices stay in the image task's graph: they give its cache keys.
        assert!(task.graph.vertices.contains_key(&s.gen));
        assert!(task.graph.vertices.contains_key(&s.gen_base));
        task.graph.validate().unwrap();
    }
    assert_eq!(tasks[1].name, "linux/amd64");
    assert_eq!(tasks[2].name, "linux/arm64");
}

#[test]
fn a_stage_of_another_platform_is_cut_even_for_one_image() {
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let gen_base = g.add(image("golang", &amd64, None));
    let gen = g.add(run("go build", &[&gen_base], &amd64));
    let base = g.add(image("alpine", &arm64, None));
    let root = g.add(run("install", &[&base, &gen], &arm64));
    g.outputs.push(output(&arm64, Some(root)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].kind, TaskKind::Stage);
    assert_eq!(
        tasks[0].platform, amd64,
        "the stage runs on its own platform"
    );
    assert_eq!(tasks[1].platform, arm64);
    assert_eq!(tasks[1].depends_on, vec![tasks[0].id]);
}

#[test]
fn nothing_is_cut_without_a_process_to_run_once() {
    // Both images read the same context and the same build-platform image, with no RUN
    // before the images' own steps: cheaper to redo than to fetch.
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let ctx = g.add(context(&amd64));
    let a = g.add(run("a", &[&ctx], &amd64));
    let b = g.add(run("b", &[&ctx], &arm64));
    g.outputs.push(output(&amd64, Some(a)));
    g.outputs.push(output(&arm64, Some(b)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.iter().all(|t| t.kind == TaskKind::Image));
    assert!(tasks.iter().all(|t| t.depends_on.is_empty()));
}

#[test]
fn a_stage_used_only_through_a_longer_shared_chain_is_not_cut_on_its_own() {
    // gen1 → gen2, both needed by both images; only gen2 (the edge) is cut, and gen1's
    // result reaches the images inside gen2's.
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let base = g.add(image("golang", &amd64, None));
    let gen1 = g.add(run("fetch", &[&base], &amd64));
    let gen2 = g.add(run("build", &[&gen1], &amd64));
    let a = g.add(run("a", &[&gen2], &amd64));
    let b = g.add(run("b", &[&gen2], &arm64));
    g.outputs.push(output(&amd64, Some(a)));
    g.outputs.push(output(&arm64, Some(b)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[0].graph.outputs[0].root, Some(gen2));
}

#[test]
fn nested_stages_depend_on_each_other_and_images_on_both() {
    // gen1 (amd64) feeds gen2 (arm64), which both images use.
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let base = g.add(image("golang", &amd64, None));
    let gen1 = g.add(run("fetch", &[&base], &amd64));
    let arm_base = g.add(image("alpine", &arm64, None));
    let gen2 = g.add(run("build", &[&arm_base, &gen1], &arm64));
    let a = g.add(run("a", &[&gen2], &amd64));
    let b = g.add(run("b", &[&gen2], &arm64));
    g.outputs.push(output(&amd64, Some(a)));
    g.outputs.push(output(&arm64, Some(b)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert_eq!(tasks.len(), 4);
    let (s1, s2) = (&tasks[0], &tasks[1]);
    assert_eq!(s1.graph.outputs[0].root, Some(gen1));
    assert_eq!(s1.platform, amd64);
    assert_eq!(s2.graph.outputs[0].root, Some(gen2));
    assert_eq!(s2.platform, arm64);
    assert_eq!(s2.depends_on, vec![s1.id]);
    for image in &tasks[2..] {
        let deps: BTreeSet<_> = image.depends_on.iter().copied().collect();
        assert_eq!(deps, [s1.id, s2.id].into_iter().collect());
    }
}

#[test]
fn roots_and_discarded_runs_are_never_cut() {
    let amd64 = Platform::linux("amd64", "");
    let arm64 = Platform::linux("arm64", "");
    // An arm64 image whose root is an amd64 RUN stays one image task.
    let mut g = Graph::new();
    let base = g.add(image("golang", &amd64, None));
    let root = g.add(run("go build", &[&base], &amd64));
    g.outputs.push(output(&arm64, Some(root)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert_eq!(tasks.len(), 1);
    // A shared RUN that keeps nothing has no result to hand over.
    let mut g = Graph::new();
    let base = g.add(image("golang", &amd64, None));
    let mut discard = run("check", &[&base], &amd64);
    if let Op::Exec(e) = &mut discard.op {
        e.output = ExecOutput::Discard;
    }
    let discard = g.add(discard);
    let a = g.add(run("a", &[&discard], &amd64));
    let b = g.add(run("b", &[&discard], &arm64));
    g.outputs.push(output(&amd64, Some(a)));
    g.outputs.push(output(&arm64, Some(b)));
    let tasks = plan(BuildId::new(), &spec(), g).unwrap();
    assert!(tasks.iter().all(|t| t.kind == TaskKind::Image));
}

#[test]
fn a_stage_task_keeps_only_the_caches_that_hold_every_result() {
    use slipway_farm::cache::{CacheExport, CacheExportTarget, CacheMode};
    let registry = |r: &str, mode| CacheExport {
        mode,
        ..CacheExport::new(CacheExportTarget::Registry {
            reference: r.into(),
        })
    };
    let spec = BuildSpec {
        cache_to: vec![
            registry("reg/min", CacheMode::Min),
            registry("reg/max", CacheMode::Max),
            CacheExport::new(CacheExportTarget::Inline),
        ],
        ..spec()
    };
    let tasks = plan(BuildId::new(), &spec, shared_stage().graph).unwrap();
    assert_eq!(tasks[0].cache_to, vec![registry("reg/max", CacheMode::Max)]);
    assert_eq!(tasks[1].cache_to, spec.cache_to);
}
