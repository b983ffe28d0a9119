//! The farm-wide shared cache index end to end: real `slipway coordinator` and two amd64
//! `slipway worker` processes (1 slot each), the local docker-registry.
//!
//! A two-stage build runs on worker A (B drained); then A is drained (it keeps serving its
//! blobs) and the same build goes to B, whose own cache is empty: every step is answered
//! by the farm index, the layers come from A over the data plane, and no RUN executes on B.
//! Registry, local (written by the client) and inline caches exported by a farm build make
//! a fresh farm (empty data dirs, empty index) run nothing.
//!
//! Needs root, runc, docker-registry, skopeo (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use slipway_e2e::builders::slipway::Slipway;
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use slipway_e2e::process::{run, run_stdout};
use slipway_e2e::registry::Registry;
use std::process::Command;
use std::sync::Mutex;

/// Every RUN prints a marker (so an executed step shows in the plain progress) and writes
/// the time in nanoseconds (so a re-executed step would change the image's layers).
fn dockerfile(base: &str) -> String {
    format!(
        "FROM {base} AS b\n\
         RUN echo RAN-b && date +%s%N > /stamp-b\n\
         FROM {base}\n\
         COPY --from=b /stamp-b /stamp-b\n\
         RUN echo RAN-final && date +%s%N > /stamp-final\n"
    )
}

/// Progress lines a RUN printed (its marker), not the step names that contain it.
fn run_output(progress: &str) -> Vec<&str> {
    progress
        .lines()
        .filter(|l| l.contains("RAN-") && !l.contains("RUN echo"))
        .collect()
}

fn cli_json(cluster: &Cluster, args: &[&str]) -> Result<Value> {
    let out = run_stdout(cluster.cli().args(args).args(["--format", "json"]))?;
    serde_json::from_str(&out).with_context(|| format!("not JSON: {out}"))
}

fn drain(cluster: &Cluster, worker: &str, undo: bool) -> Result<()> {
    let mut cmd = cluster.cli();
    cmd.args(["workers", "drain", worker]);
    if undo {
        cmd.arg("--undo");
    }
    run(&mut cmd)?;
    Ok(())
}

/// `slipway build --builder ... --push`; returns the plain progress.
fn build(cluster: &Cluster, ctx: &std::path::Path, tag: &str) -> Result<String> {
    let out = run(cluster
        .cli()
        .args(["build", "--progress", "plain", "-t", tag, "--push"])
        .arg(ctx))?;
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// The newest build's only task: (worker, result) from `builds inspect`.
fn last_task(cluster: &Cluster) -> Result<(String, Value)> {
    let list = cli_json(cluster, &["builds", "ls"])?;
    let last = list
        .as_array()
        .and_then(|l| l.last())
        .context("no builds")?;
    let id = last["id"].as_str().context("build id")?;
    let d = cli_json(cluster, &["builds", "inspect", id])?;
    let task = &d["tasks"][0];
    let result = task["detail"]["Succeeded"]["result"].clone();
    if result.is_null() {
        bail!("the task did not succeed: {d}");
    }
    let worker = task["worker"]
        .as_str()
        .or_else(|| task["detail"]["Succeeded"]["worker"].as_str())
        .context("no worker in the task")?
        .to_string();
    Ok((worker, result))
}

fn layers(tag: &str) -> Result<Vec<String>> {
    let out = run_stdout(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{tag}"),
    ]))?;
    let m: Value = serde_json::from_str(&out).with_context(|| format!("not JSON: {out}"))?;
    Ok(m["layers"]
        .as_array()
        .context("no layers in the manifest")?
        .iter()
        .filter_map(|l| l["digest"].as_str().map(String::from))
        .collect())
}

/// `s` without ANSI colour sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The sum of `bytes=N` over the worker's "bytes fetched from peers" log lines.
fn bytes_fetched(log: &str) -> u64 {
    strip_ansi(log)
        .lines()
        .filter(|l| l.contains("farm cache: bytes fetched from peers"))
        .filter_map(|l| {
            let rest = &l[l.find("bytes=")? + "bytes=".len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// One farm at a time: each test starts several processes on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

struct Env {
    registry: Registry,
    slipway: Slipway,
    ctx: tempfile::TempDir,
}

/// The registry (busybox seeded), the binary and a context holding [`dockerfile`].
fn env() -> Result<Env> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        dockerfile(&format!("{}/library/busybox:latest", registry.addr())),
    )?;
    Ok(Env {
        registry,
        slipway,
        ctx,
    })
}

/// One coordinator and `workers` amd64 workers with one slot each.
fn farm(env: &Env, workers: usize) -> Result<Cluster> {
    let amd64 = WorkerOptions {
        emulate: "none".into(),
        slots: 1,
        entitlements: String::new(),
    };
    Cluster::start(
        env.slipway.bin(),
        &ClusterOptions {
            coordinators: 1,
            workers: vec![amd64; workers],
            lease_ttl_ms: 3_000,
            isolated: None,
        },
    )
}

#[test]
fn a_drained_workers_results_answer_the_same_build_on_another_worker() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let reg = env.registry.addr();
    let ctx = &env.ctx;
    let cluster = farm(&env, 2)?;
    let (a, b) = ("worker-1", "worker-2");

    // 1. On A (B drained).
    drain(&cluster, b, false)?;
    let workers = cli_json(&cluster, &["workers", "ls"])?;
    let drained: Vec<&str> = workers
        .as_array()
        .context("workers")?
        .iter()
        .filter(|w| w["draining"] == true)
        .filter_map(|w| w["id"].as_str())
        .collect();
    assert_eq!(drained, [b], "{workers}");
    let tag1 = format!("{reg}/farm-cache/app:1");
    let first = build(&cluster, ctx.path(), &tag1)?;
    let ran = run_output(&first);
    assert!(
        ran.iter().any(|l| l.contains("RAN-b")) && ran.iter().any(|l| l.contains("RAN-final")),
        "both RUNs should have printed on A:\n{first}"
    );
    let (w1, r1) = last_task(&cluster)?;
    assert_eq!(w1, a, "the first build ran on A: {r1}");
    assert!(
        r1["cache"].as_array().is_some_and(|c| !c.is_empty()),
        "A reported no cache records: {r1}"
    );

    // 2. A drained (still serving its blobs), B back: the same build lands on B.
    drain(&cluster, b, true)?;
    drain(&cluster, a, false)?;
    let tag2 = format!("{reg}/farm-cache/app:2");
    let second = build(&cluster, ctx.path(), &tag2)?;
    let (w2, r2) = last_task(&cluster)?;
    assert_eq!(w2, b, "the second build ran on B: {r2}");

    // Nothing ran on B: no RUN printed its marker, the solver executed no vertex, and the
    // image is the first one's layer for layer (a re-run RUN writes a new time stamp).
    assert_eq!(
        run_output(&second),
        Vec::<&str>::new(),
        "a RUN executed on B:\n{second}"
    );
    // Every step reported is CACHED: as many `#N CACHED` lines as steps.
    let steps = second
        .lines()
        .filter(|l| l.starts_with('#') && l.contains("] "))
        .count();
    let cached = second
        .lines()
        .filter(|l| l.starts_with('#') && l.ends_with(" CACHED"))
        .count();
    assert!(steps >= 3, "too few steps reported:\n{second}");
    assert_eq!(cached, steps, "not every step is CACHED:\n{second}");
    assert_eq!(r2["executed"], 0, "B executed vertices: {r2}");
    assert_eq!(layers(&tag2)?, layers(&tag1)?, "B's image differs from A's");

    // The layers came from A's data plane.
    let log_b = cluster.log(b);
    assert!(
        log_b.contains("cache blob fetched from a peer"),
        "B fetched no cache blob from a peer:\n{log_b}"
    );
    let fetched = bytes_fetched(&log_b);
    assert!(fetched > 0, "B counted no bytes from peers:\n{log_b}");
    Ok(())
}

/// An embedded `slipway build` with a fresh data dir; returns the progress.
fn build_embedded(env: &Env, args: &[&str]) -> Result<String> {
    let data = tempfile::Builder::new()
        .prefix("slipway-farm-cache")
        .tempdir()?;
    let out = Command::new(env.slipway.bin())
        .args(["build", "--progress", "plain", "--data-dir"])
        .arg(data.path())
        .args(["--insecure-registry", env.registry.addr()])
        .args(args)
        .arg(env.ctx.path())
        .output()
        .context("running slipway build")?;
    let progress = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("slipway build {args:?} failed:\n{progress}");
    }
    Ok(progress)
}

#[test]
fn a_farm_build_exports_registry_and_local_caches_a_fresh_farm_imports() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let reg = env.registry.addr();
    let cluster = farm(&env, 1)?;
    let cache = format!("{reg}/farm-cache/app:cache");

    // The worker pushes the records' blobs, the leader writes the cache manifest.
    let out = run(cluster
        .cli()
        .args([
            "build",
            "--progress",
            "plain",
            "-t",
            &format!("{reg}/farm-cache/app:exported"),
            "--push",
            "--cache-to",
            &format!("type=registry,ref={cache},mode=max"),
        ])
        .arg(env.ctx.path()))?;
    let first = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !run_output(&first).is_empty(),
        "the RUNs ran on the farm:\n{first}"
    );
    let manifest = run_stdout(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{cache}"),
    ]))?;
    let m: Value = serde_json::from_str(&manifest)?;
    assert!(
        m["layers"].as_array().is_some_and(|l| l.len() >= 2),
        "the cache manifest names no layers: {manifest}"
    );

    // An embedded build with nothing cached imports it: mode=max, so even the first stage
    // alone runs nothing.
    let again = build_embedded(
        &env,
        &["--cache-from", &format!("type=registry,ref={cache}")],
    )?;
    assert_eq!(run_output(&again), Vec::<&str>::new(), "{again}");
    assert!(again.contains("CACHED"), "{again}");
    let stage_b = build_embedded(&env, &["--target", "b", "--cache-from", &cache])?;
    assert_eq!(run_output(&stage_b), Vec::<&str>::new(), "{stage_b}");

    // A new farm (empty data dirs, empty index) importing the cache runs nothing either.
    let fresh = farm(&env, 1)?;
    let out = run(fresh
        .cli()
        .args(["build", "--progress", "plain", "--cache-from"])
        .arg(format!("type=registry,ref={cache}"))
        .arg(env.ctx.path()))?;
    let on_fresh = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(run_output(&on_fresh), Vec::<&str>::new(), "{on_fresh}");
    assert!(on_fresh.contains("CACHED"), "{on_fresh}");
    drop(fresh);

    // type=local is the client's: it writes the cache from the blobs it fetches from the
    // workers, and a fresh farm imports it through its index and runs nothing.
    let dest = tempfile::tempdir()?;
    let cache_dir = dest.path().join("cache");
    run(cluster
        .cli()
        .args(["build", "--progress", "plain", "--cache-to"])
        .arg(format!("type=local,dest={},mode=max", cache_dir.display()))
        .arg(env.ctx.path()))?;
    assert!(
        cache_dir.join("index.json").is_file(),
        "no local cache written"
    );
    drop(cluster);
    let fresh = farm(&env, 1)?;
    let out = run(fresh
        .cli()
        .args(["build", "--progress", "plain", "--cache-from"])
        .arg(format!("type=local,src={}", cache_dir.display()))
        .arg(env.ctx.path()))?;
    let from_local = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(run_output(&from_local), Vec::<&str>::new(), "{from_local}");
    assert!(from_local.contains("CACHED"), "{from_local}");
    assert!(from_local.contains("imported "), "{from_local}");
    Ok(())
}

#[test]
fn a_farm_builds_inline_cache_answers_a_fresh_farm() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let reg = env.registry.addr();
    let image = format!("{reg}/farm-cache/inline:1");
    let cluster = farm(&env, 1)?;
    // The worker writes the records into its image's config before pushing it.
    let out = run(cluster
        .cli()
        .args(["build", "--progress", "plain", "-t", &image, "--push"])
        .args(["--cache-to", "type=inline"])
        .arg(env.ctx.path()))?;
    let first = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!run_output(&first).is_empty(), "the RUNs ran:\n{first}");
    let config = run_stdout(Command::new("skopeo").args([
        "inspect",
        "--config",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ]))?;
    let c: Value = serde_json::from_str(&config)?;
    let records = c["slipway.cache.v1"]["records"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        records > 0,
        "no inline cache in the pushed config: {config}"
    );
    drop(cluster);

    // A new farm (empty data dirs, empty index) imports it from the image itself.
    let fresh = farm(&env, 1)?;
    let out = run(fresh
        .cli()
        .args(["build", "--progress", "plain", "--cache-from"])
        .arg(format!("type=registry,ref={image}"))
        .arg(env.ctx.path()))?;
    let on_fresh = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(run_output(&on_fresh), Vec::<&str>::new(), "{on_fresh}");
    assert!(on_fresh.contains("CACHED"), "{on_fresh}");
    Ok(())
}
