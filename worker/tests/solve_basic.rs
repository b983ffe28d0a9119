//! Solving graphs with real runc/overlayfs (root only): RUN layers, parallelism, failures,
//! the local cache and local contexts.

mod common;
mod solve_support;

use std::sync::atomic::Ordering;
use std::time::Instant;

use slipway_graph::Graph;
use slipway_progress::VertexStatus;
use slipway_worker::SolveError;
use solve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_writes_a_file_into_its_layer() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "layer");
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let step = run(
        &mut g,
        &from,
        "echo hello > /greeting && mkdir -p /d && echo x > /d/f",
        &p,
    );
    output(&mut g, &step, &p);
    let (r, events) = solve(&w.worker, request(g)).await;
    let result = r.unwrap();
    assert_eq!(result.images.len(), 1);
    let img = &result.images[0];
    assert_eq!(img.layers.len(), 2, "base layer + RUN layer");
    let store = w.worker.store();
    let files = layer_files(store, &img.layers[1]);
    assert_eq!(
        files.get("greeting").map(Vec::as_slice),
        Some(&b"hello\n"[..]),
        "{files:?}"
    );
    assert_eq!(files.get("d/f").map(Vec::as_slice), Some(&b"x\n"[..]));
    // Nothing of the executor's mounts (/etc/hosts, /proc...) shows in the layer.
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        vec!["d/", "d/f", "greeting"],
        "{files:?}"
    );
    let base_files = layer_files(store, &img.layers[0]);
    assert!(base_files.contains_key("bin/busybox"));
    let manifest = slipway_oci::Digest::try_from(img.manifest.digest()).unwrap();
    assert!(store.exists(&manifest));
    let config: serde_json::Value = serde_json::from_slice(
        &store
            .read_blob(&slipway_oci::Digest::try_from(img.config.digest()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    let name = "RUN echo hello > /greeting && mkdir -p /d && echo x > /d/f";
    let st = statuses(&events, name);
    assert!(
        matches!(
            st.as_slice(),
            [VertexStatus::Started, VertexStatus::Done { .. }]
        ),
        "{st:?}"
    );
    assert_eq!(w.runs.load(Ordering::SeqCst), 1);
    assert!(mounts_under(tmp.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn independent_vertices_run_in_parallel_and_once() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "parallel");
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let left = run(&mut g, &from, "sleep 2; echo l > /left", &p);
    let right = run(&mut g, &from, "sleep 2; echo r > /right", &p);
    let join = copy(&mut g, &left, &right, "/right", "/right", &p);
    output(&mut g, &join, &p);
    // A second output needing the same vertices: they still run once.
    output(&mut g, &left, &p);
    let started = Instant::now();
    let (r, events) = solve(&w.worker, request(g)).await;
    let result = r.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(w.runs.load(Ordering::SeqCst), 2, "each RUN once");
    assert!(
        elapsed.as_secs_f64() < 3.9,
        "took {elapsed:?}: not parallel"
    );
    let l_start = time_of(&events, "RUN sleep 2; echo l > /left", |s| {
        *s == VertexStatus::Started
    });
    let r_start = time_of(&events, "RUN sleep 2; echo r > /right", |s| {
        *s == VertexStatus::Started
    });
    let l_done = time_of(&events, "RUN sleep 2; echo l > /left", |s| {
        matches!(s, VertexStatus::Done { .. })
    });
    let r_done = time_of(&events, "RUN sleep 2; echo r > /right", |s| {
        matches!(s, VertexStatus::Done { .. })
    });
    assert!(
        l_start < r_done && r_start < l_done,
        "the two RUNs did not overlap"
    );
    assert_eq!(result.images.len(), 2);
    let top = layer_files(w.worker.store(), result.images[0].layers.last().unwrap());
    assert_eq!(
        top.get("right").map(Vec::as_slice),
        Some(&b"r\n"[..]),
        "{top:?}"
    );
    assert_eq!(result.images[0].layers.len(), 3);
    assert_eq!(result.images[1].layers.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_run_names_the_vertex_and_cancels_dependents() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "fail");
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let bad = run(
        &mut g,
        &from,
        "echo first line; echo second line >&2; exit 3",
        &p,
    );
    let after = run(&mut g, &bad, "echo never", &p);
    output(&mut g, &after, &p);
    // An independent, slow branch in flight is cancelled by the failure.
    let slow = run(&mut g, &from, "sleep 1; exec sleep 30", &p);
    output(&mut g, &slow, &p);
    let started = Instant::now();
    let (r, events) = solve(&w.worker, request(g)).await;
    assert!(
        started.elapsed().as_secs() < 20,
        "the slow branch was not cancelled"
    );
    let slow_st = statuses(&events, "RUN sleep 1; exec sleep 30");
    assert_eq!(
        slow_st.last(),
        Some(&VertexStatus::Cancelled),
        "{slow_st:?}"
    );
    let err = r.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SolveError::Vertex { .. }), "{err:?}");
    assert!(text.contains("RUN echo first line"), "{text}");
    assert!(text.contains("exit code: 3"), "{text}");
    assert!(text.contains("second line"), "{text}");
    assert!(
        statuses(&events, "RUN echo never").is_empty(),
        "the dependent must not start"
    );
    assert_eq!(
        w.runs.load(Ordering::SeqCst),
        2,
        "the failing RUN and the slow one"
    );
    let st = statuses(&events, "RUN echo first line; echo second line >&2; exit 3");
    assert!(
        matches!(st.last(), Some(VertexStatus::Error { .. })),
        "{st:?}"
    );
    assert!(mounts_under(tmp.path()).is_empty());
    assert!(w.runc.bundles().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn second_solve_is_cached_and_a_context_change_reruns_only_dependents() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let ctx_dir = tmp.path().join("ctx");
    std::fs::create_dir(&ctx_dir).unwrap();
    std::fs::write(ctx_dir.join("a.txt"), "A1").unwrap();
    std::fs::write(ctx_dir.join("b.txt"), "B1").unwrap();
    let w = worker(tmp.path(), "cache");
    let p = host();
    let build = || {
        let mut g = Graph::new();
        let from = image(&mut g, &base, &p);
        let prep = run(&mut g, &from, "echo prep > /prep", &p);
        let ctx = local(&mut g, "context", &p);
        let a = copy(&mut g, &prep, &ctx, "a.txt", "/a.txt", &p);
        let use_a = run(&mut g, &a, "cat /a.txt > /a.out", &p);
        let b = copy(&mut g, &use_a, &ctx, "b.txt", "/b.txt", &p);
        let use_b = run(&mut g, &b, "cat /b.txt > /b.out", &p);
        output(&mut g, &use_b, &p);
        with_local(request(g), "context", &ctx_dir)
    };
    let (r1, _) = solve(&w.worker, build()).await;
    let first = r1.unwrap();
    assert_eq!(w.runs.load(Ordering::SeqCst), 3);

    let (r2, events) = solve(&w.worker, build()).await;
    let second = r2.unwrap();
    assert_eq!(
        w.runs.load(Ordering::SeqCst),
        3,
        "no container on a fully cached solve"
    );
    for e in &events {
        if let slipway_progress::ProgressEvent::Vertex(v) = e {
            assert_eq!(v.status, VertexStatus::Cached, "{} was not cached", v.name);
        }
    }
    assert_eq!(
        first.images[0].manifest, second.images[0].manifest,
        "same image"
    );

    // b.txt changes: only COPY b.txt and the RUN after it run again.
    std::fs::write(ctx_dir.join("b.txt"), "B2").unwrap();
    let (r3, events) = solve(&w.worker, build()).await;
    let third = r3.unwrap();
    assert_eq!(w.runs.load(Ordering::SeqCst), 4);
    assert_eq!(
        statuses(&events, "RUN echo prep > /prep"),
        vec![VertexStatus::Cached]
    );
    assert_eq!(
        statuses(&events, "COPY a.txt /a.txt"),
        vec![VertexStatus::Cached]
    );
    assert_eq!(
        statuses(&events, "RUN cat /a.txt > /a.out"),
        vec![VertexStatus::Cached]
    );
    assert!(matches!(
        statuses(&events, "COPY b.txt /b.txt").as_slice(),
        [VertexStatus::Started, VertexStatus::Done { .. }]
    ));
    assert!(matches!(
        statuses(&events, "RUN cat /b.txt > /b.out").as_slice(),
        [VertexStatus::Started, VertexStatus::Done { .. }]
    ));
    let top = layer_files(w.worker.store(), third.images[0].layers.last().unwrap());
    assert_eq!(
        top.get("b.out").map(Vec::as_slice),
        Some(&b"B2"[..]),
        "{top:?}"
    );
    // Lower layers are reused blobs.
    assert_eq!(first.images[0].layers[..4], third.images[0].layers[..4]);

    // no_cache runs everything again.
    let mut req = build();
    req.no_cache = true;
    let (r4, _) = solve(&w.worker, req).await;
    r4.unwrap();
    assert_eq!(w.runs.load(Ordering::SeqCst), 7);
    // ... and its results replace the old ones in the cache.
    let (r5, events) = solve(&w.worker, build()).await;
    r5.unwrap();
    assert_eq!(w.runs.load(Ordering::SeqCst), 7);
    assert_eq!(
        statuses(&events, "RUN cat /b.txt > /b.out"),
        vec![VertexStatus::Cached]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_stacks_the_layers_of_its_inputs() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "merge");
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let mk = g.add(
        slipway_graph::Vertex::new(
            slipway_graph::Op::File(slipway_graph::FileOp {
                base: None,
                actions: vec![slipway_graph::FileAction::Mkfile(
                    slipway_graph::MkfileAction {
                        path: "/linked".into(),
                        mode: 0o644,
                        data: "L".into(),
                        chown: None,
                        timestamp: None,
                    },
                )],
            }),
            vec![],
            p.clone(),
        )
        .with_name("mkfile /linked"),
    );
    let merged = g.add(
        slipway_graph::Vertex::new(
            slipway_graph::Op::Merge(slipway_graph::MergeOp {}),
            vec![slipway_graph::Input::of(from), slipway_graph::Input::of(mk)],
            p.clone(),
        )
        .with_name("COPY --link"),
    );
    let after = run(&mut g, &merged, "cat /linked > /seen", &p);
    output(&mut g, &after, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    let img = r.unwrap().images.remove(0);
    assert_eq!(img.layers.len(), 3);
    let linked = layer_files(w.worker.store(), &img.layers[1]);
    assert_eq!(linked.keys().collect::<Vec<_>>(), vec!["linked"]);
    let top = layer_files(w.worker.store(), &img.layers[2]);
    assert_eq!(
        top.get("seen").map(Vec::as_slice),
        Some(&b"L"[..]),
        "{top:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copy_snapshot_backend_commits_diffs_with_whiteouts() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker_with(tmp.path(), "copybackend", |c| {
        c.snapshot_backend = slipway_worker::snapshot::BackendChoice::Copy
    });
    assert_eq!(
        w.worker.snapshotter().backend(),
        slipway_worker::snapshot::SnapshotBackend::Copy
    );
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let step = run(&mut g, &from, "echo new > /new && rm /etc/group", &p);
    let check = run(
        &mut g,
        &step,
        "test ! -e /etc/group && cat /new > /checked",
        &p,
    );
    output(&mut g, &check, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    let img = r.unwrap().images.remove(0);
    assert_eq!(img.layers.len(), 3);
    let files = layer_files(w.worker.store(), &img.layers[1]);
    assert!(files.contains_key("new"), "{files:?}");
    assert!(files.contains_key("etc/.wh.group"), "{files:?}");
    let top = layer_files(w.worker.store(), &img.layers[2]);
    assert_eq!(
        top.get("checked").map(Vec::as_slice),
        Some(&b"new\n"[..]),
        "{top:?}"
    );
    assert!(mounts_under(tmp.path()).is_empty());
}
