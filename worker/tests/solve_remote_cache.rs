//! Remote cache hits in the solver (root, real runc and overlayfs): results exported as
//! cache records by one worker are imported by a fresh one without running anything, and
//! `mode=min` records only the final stage.

mod common;
mod solve_support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use slipway_farm::cache::{CacheLayer, CacheMode, CacheRecord};
use slipway_graph::Graph;
use slipway_oci::ContentStore;
use slipway_progress::{ProgressEvent, VertexStatus};
use slipway_worker::remote::{RemoteCache, RemoteCacheError};
use slipway_worker::CacheExportOptions;
use solve_support::*;

/// A remote cache backed by another worker's content store.
#[derive(Debug)]
struct StoreCache {
    store: Arc<ContentStore>,
    records: HashMap<String, Vec<CacheLayer>>,
    fetched: AtomicUsize,
    fail_lookups: bool,
}

impl StoreCache {
    fn new(store: Arc<ContentStore>, records: &[CacheRecord]) -> StoreCache {
        StoreCache {
            store,
            records: records
                .iter()
                .map(|r| (r.key.clone(), r.layers.clone()))
                .collect(),
            fetched: AtomicUsize::new(0),
            fail_lookups: false,
        }
    }
}

impl RemoteCache for StoreCache {
    fn describe(&self) -> String {
        "test store cache".into()
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<Option<Vec<CacheLayer>>, RemoteCacheError>>
    {
        Box::pin(async move {
            if self.fail_lookups {
                return Err(RemoteCacheError::Transport {
                    origin: self.describe(),
                    reason: "connection refused".into(),
                });
            }
            Ok(self.records.get(key).cloned())
        })
    }

    fn fetch<'a>(
        &'a self,
        layer: &'a CacheLayer,
        store: &'a ContentStore,
        _tmp: &'a Path,
    ) -> futures_util::future::BoxFuture<'a, Result<(), RemoteCacheError>> {
        Box::pin(async move {
            let digest: slipway_oci::Digest = layer.digest.parse().unwrap();
            let f = self
                .store
                .open_blob(&digest)
                .map_err(|source| RemoteCacheError::Store {
                    origin: self.describe(),
                    source,
                })?;
            store
                .ingest(f, Some(&digest))
                .map_err(|source| RemoteCacheError::Store {
                    origin: self.describe(),
                    source,
                })?;
            self.fetched.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

/// A two-stage graph: `builder` writes /out; the final stage copies it and runs on it.
/// Returns the graph and the builder stage's last vertex.
fn two_stage(base: &str, tag: &str) -> (Graph, slipway_graph::Digest) {
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, base, &p);
    let built = run(&mut g, &from, &format!("echo built-{tag} > /out"), &p);
    let copied = copy(&mut g, &from, &built, "/out", "/out", &p);
    let last = run(&mut g, &copied, "cat /out > /final", &p);
    output(&mut g, &last, &p);
    (g, built)
}

fn cached_names(events: &[ProgressEvent]) -> Vec<String> {
    let mut v: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Vertex(v) if v.status == VertexStatus::Cached => Some(v.name.clone()),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

async fn export_on_a(
    reg: &TestRegistry,
    dir: &Path,
    mode: CacheMode,
) -> (TestWorker, Vec<CacheRecord>, Vec<String>, String) {
    let base = push_base(reg, "amd64").await;
    let (g, _) = two_stage(&base, "x");
    let a = worker(dir, &format!("cache-a-{mode:?}").to_lowercase());
    let mut req = request(g);
    req.cache_export = Some(CacheExportOptions {
        mode,
        compression: None,
    });
    let (r, _) = solve(&a.worker, req).await;
    let result = r.unwrap();
    assert_eq!(a.runs.load(Ordering::SeqCst), 2);
    let layers: Vec<String> = result.images[0]
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    (a, result.cache, layers, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_records_let_a_fresh_worker_run_nothing() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a, records, layers_a, base) =
        export_on_a(&reg, &tmp.path().join("a"), CacheMode::Max).await;
    // Both RUNs and the COPY have records; every blob they name is in A's store.
    assert_eq!(records.len(), 3, "{records:?}");
    for r in &records {
        assert_eq!(r.key.len(), 64);
        for l in &r.layers {
            assert!(a.worker.store().exists(&l.digest.parse().unwrap()));
        }
    }
    let remote = Arc::new(StoreCache::new(a.worker.store().clone(), &records));
    let b = worker(&tmp.path().join("b"), "cache-b-max");
    let (g, _) = two_stage(&base, "x");
    let mut req = request(g);
    req.cache_imports = vec![remote.clone()];
    let (r, events) = solve(&b.worker, req).await;
    let result = r.unwrap();
    assert_eq!(b.runs.load(Ordering::SeqCst), 0, "no container on B");
    let cached = cached_names(&events);
    for name in [
        "RUN echo built-x > /out",
        "COPY /out /out",
        "RUN cat /out > /final",
    ] {
        assert!(
            cached.iter().any(|c| c == name),
            "{name} not cached: {cached:?}"
        );
    }
    let layers_b: Vec<String> = result.images[0]
        .layers
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    assert_eq!(layers_a, layers_b, "the same blobs, byte for byte");
    assert!(remote.fetched.load(Ordering::SeqCst) >= 1, "blobs moved");
    // The image's files are really there (the snapshot was unpacked from the blobs).
    let files = layer_files(b.worker.store(), &result.images[0].layers[2]);
    assert_eq!(
        files.get("final").map(Vec::as_slice),
        Some(&b"built-x\n"[..])
    );
    // A second solve on B hits B's own index.
    let (g, _) = two_stage(&base, "x");
    let (r, _) = solve(&b.worker, request(g)).await;
    r.unwrap();
    assert_eq!(b.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn min_records_hold_only_the_final_stage() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a, records, _, base) = export_on_a(&reg, &tmp.path().join("a"), CacheMode::Min).await;
    // COPY and the last RUN are prefixes of the image; the builder's RUN is not.
    assert_eq!(records.len(), 2, "{records:?}");
    let remote = Arc::new(StoreCache::new(a.worker.store().clone(), &records));

    // The whole build: the final stage hits, so the builder stage is not needed at all.
    let b = worker(&tmp.path().join("b"), "cache-b-min");
    let (g, _) = two_stage(&base, "x");
    let mut req = request(g);
    req.cache_imports = vec![remote.clone()];
    let (r, _) = solve(&b.worker, req).await;
    r.unwrap();
    assert_eq!(b.runs.load(Ordering::SeqCst), 0);

    // The builder stage alone (`--target builder`): not in a min cache, so it runs.
    let c = worker(&tmp.path().join("c"), "cache-c-min");
    let (mut g, built) = two_stage(&base, "x");
    g.outputs[0].root = Some(built);
    let mut req = request(g);
    req.cache_imports = vec![remote];
    let (r, _) = solve(&c.worker, req).await;
    r.unwrap();
    assert_eq!(c.runs.load(Ordering::SeqCst), 1, "the builder's RUN ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_remote_cache_warns_and_the_build_runs() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let base = push_base(&reg, "amd64").await;
    let b = worker(tmp.path(), "cache-fail");
    let store = b.worker.store().clone();
    let mut remote = StoreCache::new(store, &[]);
    remote.fail_lookups = true;
    let (g, _) = two_stage(&base, "y");
    let mut req = request(g);
    req.cache_imports = vec![Arc::new(remote)];
    let (r, events) = solve(&b.worker, req).await;
    r.unwrap();
    assert_eq!(b.runs.load(Ordering::SeqCst), 2);
    let warnings: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Warning { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "warned once: {warnings:?}");
    assert!(warnings[0].contains("connection refused"), "{warnings:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hit_whose_blobs_are_gone_runs_the_step_instead() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (_a, records, _, base) = export_on_a(&reg, &tmp.path().join("a"), CacheMode::Max).await;
    // The records, but a store without their blobs (a peer that garbage-collected them).
    let empty = Arc::new(ContentStore::open(tmp.path().join("empty-store")).unwrap());
    let remote = Arc::new(StoreCache::new(empty, &records));
    let b = worker(&tmp.path().join("b"), "cache-b-gone");
    let (g, _) = two_stage(&base, "x");
    let mut req = request(g);
    req.cache_imports = vec![remote];
    let (r, events) = solve(&b.worker, req).await;
    let result = r.unwrap();
    assert!(b.runs.load(Ordering::SeqCst) >= 1, "the step ran");
    let files = layer_files(b.worker.store(), &result.images[0].layers[2]);
    assert_eq!(
        files.get("final").map(Vec::as_slice),
        Some(&b"built-x\n"[..])
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProgressEvent::Warning { message, .. }
            if message.contains("loading the cached result failed"))),
        "no warning"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_no_cache_only_the_pinned_imports_answer() {
    let reg = TestRegistry::start();
    let tmp = tempfile::tempdir().unwrap();
    let (a, records, _, base) = export_on_a(&reg, &tmp.path().join("a"), CacheMode::Max).await;
    let (_, built) = two_stage(&base, "x");
    // The builder stage's result, as a stage task hands it over, then a cache with all.
    let stage_key = {
        let c = worker(&tmp.path().join("k"), "cache-key-probe");
        let (mut g, _) = two_stage(&base, "x");
        g.outputs[0].root = Some(built);
        let mut req = request(g);
        req.cache_export = Some(CacheExportOptions {
            mode: CacheMode::Min,
            compression: None,
        });
        let (r, _) = solve(&c.worker, req).await;
        let r = r.unwrap();
        assert_eq!(r.cache.len(), 1, "{:?}", r.cache);
        r.cache[0].key.clone()
    };
    let stage: Vec<CacheRecord> = records
        .iter()
        .filter(|r| r.key == stage_key)
        .cloned()
        .collect();
    assert_eq!(
        stage.len(),
        1,
        "A recorded the builder's RUN under the same key"
    );
    for (pinned, runs) in [(1, 1), (0, 2)] {
        let b = worker(
            &tmp.path().join(format!("b{pinned}")),
            &format!("cache-pinned-{pinned}"),
        );
        let (g, _) = two_stage(&base, "x");
        let mut req = request(g);
        req.no_cache = true;
        req.cache_imports = vec![
            Arc::new(StoreCache::new(a.worker.store().clone(), &stage)),
            Arc::new(StoreCache::new(a.worker.store().clone(), &records)),
        ];
        req.pinned_imports = pinned;
        let (r, _) = solve(&b.worker, req).await;
        r.unwrap();
        assert_eq!(
            b.runs.load(Ordering::SeqCst),
            runs,
            "pinned_imports = {pinned}: only the final RUN runs when the stage is pinned"
        );
    }
}
