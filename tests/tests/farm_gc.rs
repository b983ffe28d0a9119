//! Garbage collection on a farm worker and the shared cache index: a worker started with
//! `--gc-keep-storage` (here through `SLIPWAY_GC_KEEP_STORAGE`, 1 byte) removes its
//! results when idle and reports the removed blobs, so the farm's index forgets entries of
//! which no copy remains: the same build on another worker then runs its steps instead of
//! trying (and failing) to fetch them.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Result};
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use slipway_e2e::process::run;
use std::time::{Duration, Instant};

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

fn ran(progress: &str) -> usize {
    progress
        .lines()
        .filter(|l| l.contains("GC-RAN") && !l.contains("RUN echo"))
        .count()
}

#[test]
fn collected_blobs_leave_the_farm_cache_index() -> Result<()> {
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
    // Every worker process of this test collects down to 1 byte whenever it is idle.
    std::env::set_var("SLIPWAY_GC_KEEP_STORAGE", "1");
    let amd64 = WorkerOptions {
        emulate: "none".into(),
        slots: 1,
    };
    let cluster = Cluster::start(
        slipway.bin(),
        &ClusterOptions {
            coordinators: 1,
            workers: vec![amd64; 2],
            lease_ttl_ms: 3_000,
            isolated: None,
        },
    )?;
    std::env::remove_var("SLIPWAY_GC_KEEP_STORAGE");

    workers_drain(&cluster, "worker-2", false)?;
    let first = build_progress(&cluster, ctx.path())?;
    assert_eq!(ran(&first), 2, "{first}");
    // worker-1 falls idle, collects, and reports what it removed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cluster.log("worker-1").contains("garbage collected") {
        if Instant::now() > deadline {
            bail!("worker-1 never collected:\n{}", cluster.log("worker-1"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    // Give the ForgetBlobs commit a moment to apply.
    std::thread::sleep(Duration::from_secs(1));

    workers_drain(&cluster, "worker-1", false)?;
    workers_drain(&cluster, "worker-2", true)?;
    let second = build_progress(&cluster, ctx.path())?;
    // The index no longer names results whose only copy was removed: both steps run, and
    // no step tried to load a result from worker-1 first.
    assert_eq!(ran(&second), 2, "{second}");
    assert!(
        !second.contains("loading the cached result failed"),
        "the index still pointed at collected blobs:\n{second}"
    );
    Ok(())
}
