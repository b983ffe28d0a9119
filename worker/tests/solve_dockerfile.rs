//! A Dockerfile lowered by the frontend and solved end to end (root only): the graph the
//! frontend emits (context source, COPY, RUN with a cache mount, image config, history)
//! becomes an image whose config and layers match.

mod common;
mod solve_support;

use slipway_frontend::{lower, ImageMeta, LowerOptions, StaticResolver};
use slipway_graph::{HistoryEntry, ImageConfig};
use slipway_progress::ProgressEvent;
use solve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dockerfile_builds_an_image() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let ctx_dir = tmp.path().join("ctx");
    std::fs::create_dir(&ctx_dir).unwrap();
    std::fs::write(ctx_dir.join("a.txt"), "from the context\n").unwrap();
    std::fs::write(ctx_dir.join("ignored.txt"), "never\n").unwrap();
    let w = worker(tmp.path(), "dockerfile");
    let dockerfile = format!(
        "FROM {base}\n\
         COPY a.txt /app/\n\
         RUN --mount=type=cache,target=/var/cache/x cat /app/a.txt > /app/out && echo run >> /var/cache/x/log\n\
         ENV FOO=bar\n\
         CMD [\"cat\", \"/app/out\"]\n\
         HEALTHCHECK --interval=5s CMD true\n"
    );
    let mut resolver = StaticResolver::new();
    resolver.insert(
        &base,
        ImageMeta {
            config: ImageConfig {
                env: vec!["PATH=/bin".into()],
                history: vec![HistoryEntry {
                    created_by: "busybox rootfs".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            digest: None,
            empty_rootfs: false,
        },
    );
    let opts = LowerOptions {
        context_excludes: vec!["ignored.txt".into()],
        ..Default::default()
    };
    let graph = lower(&dockerfile, &opts, &resolver).unwrap();
    let req = with_local(request(graph), "context", &ctx_dir);
    let (r, events) = solve(&w.worker, req).await;
    let img = r.unwrap().images.remove(0);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ProgressEvent::Warning { .. })),
        "{events:#?}"
    );
    assert_eq!(img.layers.len(), 3, "base, COPY, RUN");
    let store = w.worker.store();
    let copy = layer_files(store, &img.layers[1]);
    assert_eq!(
        copy.get("app/a.txt").map(Vec::as_slice),
        Some(&b"from the context\n"[..]),
        "{copy:?}"
    );
    let run = layer_files(store, &img.layers[2]);
    assert_eq!(
        run.get("app/out").map(Vec::as_slice),
        Some(&b"from the context\n"[..]),
        "{run:?}"
    );
    assert!(!run.keys().any(|k| k.starts_with("var")), "{run:?}");
    let config: serde_json::Value = serde_json::from_slice(
        &store
            .read_blob(&slipway_oci::Digest::try_from(img.config.digest()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["cat", "/app/out"])
    );
    let env = config["config"]["Env"].as_array().unwrap();
    assert!(env.contains(&serde_json::json!("FOO=bar")), "{env:?}");
    assert_eq!(
        config["config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"]),
        "{config}"
    );
    assert_eq!(
        config["config"]["Healthcheck"]["Interval"],
        5_000_000_000i64
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &store
            .read_blob(&slipway_oci::Digest::try_from(img.manifest.digest()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["config"]["digest"].as_str(),
        Some(img.config.digest().to_string().as_str())
    );
    assert_eq!(manifest["config"]["size"], img.config.size());
    let history = config["history"].as_array().unwrap();
    assert_eq!(history[0]["created_by"], "busybox rootfs");
    assert_eq!(
        history
            .iter()
            .filter(|h| h.get("empty_layer").is_none())
            .count(),
        3,
        "{history:?}"
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);

    // Unchanged: everything cached, no container.
    let runs = w.runs.load(std::sync::atomic::Ordering::SeqCst);
    let graph = lower(&dockerfile, &opts, &resolver).unwrap();
    let req = with_local(request(graph), "context", &ctx_dir);
    let (r, _) = solve(&w.worker, req).await;
    assert_eq!(r.unwrap().images[0].layers, img.layers);
    assert_eq!(w.runs.load(std::sync::atomic::Ordering::SeqCst), runs);
}
