//! Garbage collection on a farm worker and the shared cache index: a worker started with
//! `--gc-keep-storage` (here through `SLIPWAY_GC_KEEP_STORAGE`, 1 byte) removes its
//! results when idle and reports the removed blobs, so the farm's index forgets entries of
//! which no copy remains: the same build on another worker then runs its steps instead of
//! trying (and failing) to fetch them.
//!
//! `slipway du|prune --builder` ask the workers through the leader; a prune's removed blobs
//! leave the index the same way.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Result};
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use slipway_e2e::process::run;
use std::time::{Duration, Instant};

/// The tests of this file one at a time: the first sets a process-wide variable that the
/// workers it starts inherit.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registry with busybox, a two-step context, and a farm of one coordinator and two
/// amd64 workers (collecting down to `gc_keep` bytes when idle, if given).
struct Farm {
    cluster: Cluster,
    ctx: tempfile::TempDir,
    _registry: slipway_e2e::registry::Registry,
}

impl Farm {
    fn start(gc_keep: Option<&str>) -> Result<Farm> {
        let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
        let ctx = tempfile::tempdir()?;
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!(
                "FROM {}/library/busybox:latest\nRUN echo GC-RAN && echo one > /one\n\
                 RUN echo GC-RAN && echo two > /two\n",
                registry.addr()
            ),
        )?;
        if let Some(keep) = gc_keep {
            std::env::set_var("SLIPWAY_GC_KEEP_STORAGE", keep);
        }
        let amd64 = WorkerOptions {
            emulate: "none".into(),
            slots: 1,
            entitlements: String::new(),
        };
        let cluster = Cluster::start(
            slipway.bin(),
            &ClusterOptions {
                coordinators: 1,
                workers: vec![amd64; 2],
                lease_ttl_ms: 3_000,
                isolated: None,
            },
        );
        std::env::remove_var("SLIPWAY_GC_KEEP_STORAGE");
        Ok(Farm {
            cluster: cluster?,
            ctx,
            _registry: registry,
        })
    }
}

fn workers_drain(cluster: &Cluster, worker: &str, undo: bool) -> Result<()> {
    let mut cmd = cluster.cli();
    cmd.args(["workers", "drain", worker]);
    if undo {
        cmd.arg("--undo");
    }
    run(&mut cmd).map(|_| ())
}

fn build_progress(cluster: &Cluster, ctx: &std::path::Path) -> Result<String> {
    let out = run(cluster
        .cli()
        .args(["build", "--progress", "plain"])
        .arg(ctx))?;
    Ok(String::from_utf8_lossy(&out.stderr).to_string())
}

/// What a worker logs once the leader committed the `ForgetBlobs` of its collection.
const FORGOTTEN: &str = "the coordinators forgot the removed blobs";

/// Waits (up to a minute) until `name`'s log has a line containing `what`.
fn wait_for_log(cluster: &Cluster, name: &str, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cluster.log(name).contains(what) {
        if Instant::now() > deadline {
            bail!("{name} never logged {what:?}:\n{}", cluster.log(name));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn ran(progress: &str) -> usize {
    progress
        .lines()
        .filter(|l| l.contains("GC-RAN") && !l.contains("RUN echo"))
        .count()
}

#[test]
fn collected_blobs_leave_the_farm_cache_index() -> Result<()> {
    let _serial = serial();
    // Every worker process of this test collects down to 1 byte whenever it is idle.
    let f = Farm::start(Some("1"))?;
    let (cluster, ctx) = (&f.cluster, &f.ctx);

    workers_drain(cluster, "worker-2", false)?;
    let first = build_progress(cluster, ctx.path())?;
    assert_eq!(ran(&first), 2, "{first}");
    // worker-1 falls idle, collects, and reports what it removed: the line comes once the
    // leader committed `ForgetBlobs`.
    wait_for_log(cluster, "worker-1", FORGOTTEN)?;
    assert!(
        cluster.log("worker-1").contains("garbage collected"),
        "{}",
        cluster.log("worker-1")
    );

    workers_drain(cluster, "worker-1", false)?;
    workers_drain(cluster, "worker-2", true)?;
    let second = build_progress(cluster, ctx.path())?;
    // The index no longer names results whose only copy was removed: both steps run, and
    // no step tried to load a result from worker-1 first.
    assert_eq!(ran(&second), 2, "{second}");
    assert!(
        !second.contains("loading the cached result failed"),
        "the index still pointed at collected blobs:\n{second}"
    );
    Ok(())
}

/// `slipway du --builder` lines: worker → entries.
fn du_entries(cluster: &Cluster) -> Result<std::collections::BTreeMap<String, u64>> {
    let out = run(cluster.cli().arg("du"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut m = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("worker-")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) == Some(&"error:") {
            bail!("du: {line}");
        }
        let entries = f.get(1).and_then(|e| e.parse().ok());
        let Some(entries) = entries else {
            bail!("du: unexpected line {line:?} in\n{text}");
        };
        m.insert(f[0].to_string(), entries);
    }
    Ok(m)
}

#[test]
fn du_and_prune_with_builder_measure_and_empty_the_workers() -> Result<()> {
    let _serial = serial();
    let f = Farm::start(None)?;
    let (cluster, ctx) = (&f.cluster, &f.ctx);
    workers_drain(cluster, "worker-2", false)?;
    let first = build_progress(cluster, ctx.path())?;
    assert_eq!(ran(&first), 2, "{first}");

    let before = du_entries(cluster)?;
    assert_eq!(before.len(), 2, "both live workers answer: {before:?}");
    let (w1, w2) = (before["worker-1"], before["worker-2"]);
    assert!(w1 > w2, "the worker that built holds more: {before:?}");

    let out = run(cluster
        .cli()
        .args(["prune", "--all", "--force", "--worker", "worker-1"]))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.starts_with("worker-1: deleted "))
        .unwrap_or_default();
    let deleted: u64 = line
        .trim_start_matches("worker-1: deleted ")
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(deleted > 0, "prune removed nothing:\n{text}");
    assert!(!text.contains("worker-2"), "only the named worker: {text}");

    let after = du_entries(cluster)?;
    assert!(
        after["worker-1"] < w1,
        "worker-1 holds as much as before: {before:?} → {after:?}"
    );
    assert!(
        cluster
            .log("worker-1")
            .contains("pruned on the farm's request"),
        "{}",
        cluster.log("worker-1")
    );
    // The removed blobs left the farm's index (the worker answers the prune order only
    // after the leader committed its `ForgetBlobs`): the same build runs its steps again.
    wait_for_log(cluster, "worker-1", FORGOTTEN)?;
    let second = build_progress(cluster, ctx.path())?;
    assert_eq!(ran(&second), 2, "{second}");
    assert!(
        !second.contains("loading the cached result failed"),
        "the index still pointed at pruned blobs:\n{second}"
    );

    let unknown = cluster.cli().args(["du", "--worker", "nobody"]).output()?;
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("nobody"), "{err}");
    Ok(())
}
