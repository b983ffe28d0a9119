//! End-to-end tests of the farm: real `slipway coordinator` and `slipway worker` processes
//! (3 coordinators, workers with different platform sets), mutual TLS from
//! `slipway certs init`, the local docker-registry, and skopeo reading what was pushed.
//!
//! Needs root, runc, qemu-user-static in binfmt_misc, docker-registry, skopeo
//! (scripts/setup.sh). Tests run one at a time (each starts a whole farm).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use slipway_e2e::builders::slipway::Slipway;
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use slipway_e2e::process::{run, run_stdout, tail};
use slipway_e2e::registry::Registry;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One farm at a time: each test starts several processes on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

struct Env {
    registry: Registry,
    slipway: Slipway,
}

fn env() -> Result<Env> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    Ok(Env { registry, slipway })
}

fn context(dir: &Path, dockerfile: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    std::fs::write(dir.join("hello.txt"), "hello from the context\n")?;
    Ok(())
}

/// `slipway build --builder ... --push` in the background.
fn spawn_build(cluster: &Cluster, ctx: &Path, args: &[&str], log: &Path) -> Result<Child> {
    let out = std::fs::File::create(log)?;
    cluster
        .cli()
        .arg("build")
        .args(["--progress", "plain"])
        .args(args)
        .arg(ctx)
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting slipway build")
}

fn skopeo_raw(tag: &str) -> Result<Value> {
    let out = run_stdout(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{tag}"),
    ]))?;
    serde_json::from_str(&out).with_context(|| format!("skopeo --raw is not JSON: {out}"))
}

fn builds(cluster: &Cluster) -> Result<Vec<Value>> {
    let out = run_stdout(cluster.cli().args(["builds", "ls", "--format", "json"]))?;
    let v: Value = serde_json::from_str(&out)?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

fn inspect(cluster: &Cluster, id: &str) -> Result<Value> {
    let out = run_stdout(
        cluster
            .cli()
            .args(["builds", "inspect", id, "--format", "json"]),
    )?;
    Ok(serde_json::from_str(&out)?)
}

fn three_platform_dockerfile(base: &str) -> String {
    format!(
        "FROM {base}\nCOPY hello.txt /hello.txt\nRUN uname -m > /arch && cat /hello.txt > /copied\n"
    )
}

#[test]
fn farm_builds_a_three_platform_image_that_skopeo_reads() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let cluster = Cluster::start(env.slipway.bin(), &ClusterOptions::default())?;
    let reg = env.registry.addr();
    let ctx = tempfile::tempdir()?;
    context(
        ctx.path(),
        &three_platform_dockerfile(&format!("{reg}/library/busybox:latest")),
    )?;
    let tag = format!("{reg}/farm/app:1");
    let out = run(cluster
        .cli()
        .args([
            "build",
            "--progress",
            "plain",
            "--platform",
            "linux/amd64,linux/arm64,linux/arm/v7",
            "-t",
            &tag,
            "--push",
        ])
        .arg(ctx.path()))?;
    let progress = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        progress.contains("[worker-"),
        "progress names no worker:\n{progress}"
    );

    let index = skopeo_raw(&tag)?;
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .context("no manifests in the index")?
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap_or(""),
                p["architecture"].as_str().unwrap_or("")
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm/v7", "linux/arm64"]);
    // skopeo reads each platform's image too.
    for (arch, variant) in [("amd64", None), ("arm64", None), ("arm", Some("v7"))] {
        let mut c = Command::new("skopeo");
        c.args([
            "inspect",
            "--tls-verify=false",
            "--override-os",
            "linux",
            "--override-arch",
            arch,
        ]);
        if let Some(v) = variant {
            c.args(["--override-variant", v]);
        }
        let out = run_stdout(c.arg(format!("docker://{tag}")))?;
        let v: Value = serde_json::from_str(&out)?;
        assert_eq!(v["Architecture"], arch, "{out}");
    }
    // Each platform ran on a worker that runs it (native or emulated).
    let list = builds(&cluster)?;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_str().context("build id")?;
    let detail = inspect(&cluster, id)?;
    for t in detail["tasks"].as_array().context("tasks")? {
        assert_eq!(t["state"], "succeeded", "{t}");
    }
    Ok(())
}

#[test]
fn unknown_platform_fails_at_once_naming_it() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let cluster = Cluster::start(env.slipway.bin(), &ClusterOptions::default())?;
    let ctx = tempfile::tempdir()?;
    context(ctx.path(), "FROM scratch\nCOPY hello.txt /\n")?;
    let start = Instant::now();
    let out = cluster
        .cli()
        .args([
            "build",
            "--progress",
            "plain",
            "--platform",
            "linux/riscv64",
        ])
        .arg(ctx.path())
        .output()?;
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "riscv64 build succeeded:\n{stderr}");
    assert!(stderr.contains("linux/riscv64"), "{stderr}");
    // The refusal comes from submission: no build was recorded.
    assert!(builds(&cluster)?.is_empty());
    eprintln!("refused in {took:?}");
    assert!(took < Duration::from_secs(5), "refusal took {took:?}");
    Ok(())
}

#[test]
fn leader_killed_while_twenty_builds_run_loses_and_duplicates_nothing() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let mut cluster = Cluster::start(env.slipway.bin(), &ClusterOptions::default())?;
    let reg = env.registry.addr().to_string();
    let work = tempfile::tempdir()?;
    let mut children = Vec::new();
    for i in 0..20 {
        let ctx = work.path().join(format!("ctx-{i}"));
        context(
            &ctx,
            &format!("FROM {reg}/library/busybox:latest\nRUN echo build-{i} > /id && sleep 2\n"),
        )?;
        let tag = format!("{reg}/farm/many:{i}");
        let log = work.path().join(format!("build-{i}.log"));
        let child = spawn_build(
            &cluster,
            &ctx,
            &["--platform", "linux/amd64", "-t", &tag, "--push"],
            &log,
        )?;
        children.push((i, tag, log, child));
    }
    // Let the builds be submitted and start, then kill the leader.
    let deadline = Instant::now() + Duration::from_secs(60);
    while builds(&cluster)?.len() < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let leader = cluster.leader()?;
    cluster.kill_coordinator(leader)?;
    let new_leader = cluster.wait_leader(Some(leader), Duration::from_secs(30))?;
    assert_ne!(new_leader, leader);

    for (i, tag, log, mut child) in children {
        let status = child.wait()?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if !status.success() {
            bail!(
                "build {i} failed after the leader was killed:\n{}",
                tail(text.as_bytes(), 30)
            );
        }
        let manifest = skopeo_raw(&tag)?;
        assert!(
            manifest["layers"].is_array() || manifest["manifests"].is_array(),
            "{manifest}"
        );
    }
    let list = builds(&cluster)?;
    assert_eq!(list.len(), 20, "builds: {list:?}");
    for b in &list {
        assert_eq!(b["state_name"], "succeeded", "{b}");
        let id = b["id"].as_str().context("id")?;
        let d = inspect(&cluster, id)?;
        let tasks = d["tasks"].as_array().context("tasks")?;
        assert_eq!(tasks.len(), 1, "{d}");
        assert_eq!(tasks[0]["state"], "succeeded", "{d}");
    }
    Ok(())
}

/// What the RUN step of the rerun test prints first.
const RERUN_MARK: &str = "RERUN-STEP-STARTED";

/// The worker holding a running task of the build, from `builds inspect`.
fn running_worker(cluster: &Cluster, id: &str) -> Result<Option<String>> {
    let d = inspect(cluster, id)?;
    for t in d["tasks"].as_array().context("tasks")? {
        if t["state"] == "running" {
            return Ok(t["worker"].as_str().map(String::from));
        }
    }
    Ok(None)
}

#[test]
fn worker_killed_during_a_run_step_its_task_reruns_elsewhere() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let opts = ClusterOptions {
        workers: vec![
            WorkerOptions {
                emulate: "linux/arm64".into(),
                slots: 2,
                entitlements: String::new(),
            },
            WorkerOptions {
                emulate: "linux/arm64".into(),
                slots: 2,
                entitlements: String::new(),
            },
        ],
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(env.slipway.bin(), &opts)?;
    let reg = env.registry.addr().to_string();
    let ctx = tempfile::tempdir()?;
    context(
        ctx.path(),
        &format!(
            "FROM {reg}/library/busybox:latest\nRUN echo {RERUN_MARK} && sleep 6 && uname -m > /arch\n"
        ),
    )?;
    let log = ctx.path().join("build.log");
    let tag = format!("{reg}/farm/rerun:1");
    let mut child = spawn_build(
        &cluster,
        ctx.path(),
        &["--platform", "linux/arm64", "-t", &tag, "--push"],
        &log,
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (id, worker) = loop {
        if Instant::now() > deadline {
            bail!(
                "the task never ran:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        // The RUN step printed its line: it runs inside the container (for 6 s more).
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        let started = log_text
            .lines()
            .any(|l| l.contains(RERUN_MARK) && !l.contains("echo"));
        if let (true, Some(b)) = (started, builds(&cluster)?.first()) {
            let id = b["id"].as_str().context("id")?.to_string();
            if let Some(w) = running_worker(&cluster, &id)? {
                break (id, w);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let n: u32 = worker
        .strip_prefix("worker-")
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("worker name {worker}"))?;
    cluster.kill_worker(n)?;
    let status = child.wait()?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success(),
        "build failed after {worker} was killed:\n{text}"
    );
    let d = inspect(&cluster, &id)?;
    let task = &d["tasks"][0];
    assert_eq!(task["state"], "succeeded", "{d}");
    assert_ne!(task["worker"].as_str(), Some(worker.as_str()), "{d}");
    assert!(task["attempt"].as_u64().unwrap_or(0) >= 2, "{d}");
    skopeo_raw(&tag)?;
    Ok(())
}

#[test]
fn two_amd64_workers_both_take_work_from_a_queue() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let opts = ClusterOptions {
        workers: vec![
            WorkerOptions {
                emulate: "none".into(),
                slots: 1,
                entitlements: String::new(),
            },
            WorkerOptions {
                emulate: "none".into(),
                slots: 1,
                entitlements: String::new(),
            },
        ],
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(env.slipway.bin(), &opts)?;
    let reg = env.registry.addr().to_string();
    let work = tempfile::tempdir()?;
    let mut children = Vec::new();
    for i in 0..6 {
        let ctx = work.path().join(format!("ctx-{i}"));
        context(
            &ctx,
            &format!("FROM {reg}/library/busybox:latest\nRUN echo {i} > /n && sleep 1\n"),
        )?;
        let log = work.path().join(format!("b{i}.log"));
        children.push((
            log.clone(),
            spawn_build(&cluster, &ctx, &["--platform", "linux/amd64"], &log)?,
        ));
    }
    for (log, mut c) in children {
        let st = c.wait()?;
        assert!(
            st.success(),
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    let workers = cluster.workers()?;
    let assigned: Vec<u64> = workers
        .as_array()
        .context("workers")?
        .iter()
        .map(|w| w["assigned_total"].as_u64().unwrap_or(0))
        .collect();
    eprintln!("assignments per worker: {assigned:?}");
    assert_eq!(assigned.len(), 2);
    assert!(
        assigned.iter().all(|&a| a >= 2),
        "a worker sat idle: {assigned:?}"
    );
    assert_eq!(assigned.iter().sum::<u64>(), 6);
    Ok(())
}

#[test]
fn a_cut_off_coordinator_cannot_commit_and_catches_up_when_healed() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let opts = ClusterOptions {
        isolated: Some(3),
        ..ClusterOptions::default()
    };
    let mut cluster = Cluster::start(env.slipway.bin(), &opts)?;
    // Make sure the isolated node is not the leader.
    if cluster.leader()? == 3 {
        cluster.kill_coordinator(3)?;
        cluster.wait_leader(Some(3), Duration::from_secs(30))?;
        let commit = commit_index(&cluster.status(None)?)?;
        cluster.start_coordinator(3)?;
        // Back as a follower of the new leader, with everything committed before.
        wait_caught_up(&cluster, 3, commit, "after its restart")?;
    }
    cluster.cut_off()?;
    let before = cluster.status(Some(3)).ok();
    // A build submitted through the cut-off node alone cannot be committed.
    let ctx = tempfile::tempdir()?;
    context(ctx.path(), "FROM scratch\nCOPY hello.txt /\n")?;
    let iso = cluster.addr(3).context("addr 3")?.to_string();
    let out = cluster
        .cli()
        .env("SLIPWAY_BUILDER", &iso)
        .args(["build", "--progress", "plain", "--platform", "linux/amd64"])
        .arg(ctx.path())
        .stdout(Stdio::null())
        .output()?;
    assert!(
        !out.status.success(),
        "a build was accepted through a cut-off coordinator"
    );
    // The others go on: a build through them succeeds.
    let others = format!(
        "{},{}",
        cluster.addr(1).unwrap_or(""),
        cluster.addr(2).unwrap_or("")
    );
    let out = cluster
        .cli()
        .env("SLIPWAY_BUILDER", &others)
        .args(["build", "--progress", "plain", "--platform", "linux/amd64"])
        .arg(ctx.path())
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut leader_status = Value::Null;
    for id in [1, 2] {
        if let Ok(s) = cluster.status(Some(id)) {
            leader_status = s;
            break;
        }
    }
    let leader_commit = leader_status["commit_index"]
        .as_u64()
        .context("commit index")?;
    if let Some(b) = &before {
        assert!(b["commit_index"].as_u64().unwrap_or(0) < leader_commit);
    }
    cluster.heal()?;
    wait_caught_up(&cluster, 3, leader_commit, "after healing")
}

fn commit_index(status: &Value) -> Result<u64> {
    status["commit_index"]
        .as_u64()
        .with_context(|| format!("no commit index in {status}"))
}

/// Waits (30 s at most) until coordinator `id` follows a leader other than itself and has
/// applied the log up to `index`.
fn wait_caught_up(cluster: &Cluster, id: u64, index: u64, when: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match cluster.status(Some(id)) {
            Ok(s) => {
                let follows = s["leader"].as_u64().is_some_and(|l| l != id);
                if follows && s["applied_index"].as_u64().unwrap_or(0) >= index {
                    return Ok(());
                }
                s.to_string()
            }
            Err(e) => format!("{e:#}"),
        };
        if Instant::now() > deadline {
            bail!("coordinator {id} did not catch up to index {index} {when}: {last}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn dev_cluster_up_and_down() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let registry = Registry::start()?;
    let slipway = Slipway::locate(registry.addr())?;
    let dir = tempfile::tempdir()?;
    let d = dir.path().join("farm");
    let out = run(Command::new(slipway.bin())
        .args(["dev-cluster", "up", "--dir"])
        .arg(&d)
        .args(["--coordinators", "3", "--workers", "3"]))?;
    let builder = std::fs::read_to_string(d.join("builder"))?
        .trim()
        .to_string();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), builder);
    for n in 1..=3 {
        assert!(d.join(format!("coordinator-{n}.pid")).is_file());
        assert!(d.join(format!("worker-{n}.pid")).is_file());
    }
    let farm_json = |args: &[&str]| -> Result<Value> {
        let out = run_stdout(
            Command::new(slipway.bin())
                .args(args)
                .args(["--format", "json", "--builder", &builder, "--tls-dir"])
                .arg(d.join("certs")),
        )?;
        Ok(serde_json::from_str(&out)?)
    };
    let v = farm_json(&["cluster", "status"])?;
    assert!(
        v["leader"].as_u64().is_some_and(|l| (1..=3).contains(&l)),
        "{v}"
    );
    let w = farm_json(&["workers", "ls"])?;
    let ids: Vec<&str> = w
        .as_array()
        .context("workers")?
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 3, "{w}");
    let pids: Vec<i32> = (1..=3)
        .flat_map(|n| [format!("coordinator-{n}.pid"), format!("worker-{n}.pid")])
        .filter_map(|f| std::fs::read_to_string(d.join(f)).ok()?.trim().parse().ok())
        .collect();
    run(Command::new(slipway.bin())
        .args(["dev-cluster", "down", "--dir"])
        .arg(&d))?;
    for p in pids {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists(),
            "pid {p} still runs"
        );
    }
    Ok(())
}
