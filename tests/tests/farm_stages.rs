//! Stage tasks in the farm: a `FROM --platform=$BUILDPLATFORM` stage that two platform
//! images copy from is planned as one task of its own, run once on a worker of the build
//! platform, and its result reaches both image tasks (possibly on other workers) through
//! the data plane, even with `--no-cache`. The pushed index and the client's local output
//! hold only the platform images.
//!
//! Needs root, runc, qemu-user-static in binfmt_misc, docker-registry, skopeo
//! (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use slipway_e2e::process::run_stdout;
use std::process::Command;

#[test]
fn a_build_platform_stage_runs_once_for_two_platform_images() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let options = ClusterOptions {
        coordinators: 1,
        workers: vec![
            WorkerOptions {
                emulate: "none".into(),
                slots: 1,
                entitlements: String::new(),
            },
            WorkerOptions {
                emulate: "linux/arm64".into(),
                slots: 1,
                entitlements: String::new(),
            },
        ],
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(slipway.bin(), &options)?;
    let reg = registry.addr();
    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM --platform=$BUILDPLATFORM {reg}/library/busybox:latest AS gen\n\
             RUN cat /proc/sys/kernel/random/uuid > /stamp && uname -m > /gen-arch\n\
             FROM {reg}/library/busybox:latest\n\
             COPY --from=gen /stamp /gen-arch /\n\
             RUN uname -m > /arch\n"
        ),
    )?;
    let tag = format!("{reg}/farm/stages:1");
    let out_dir = tempfile::tempdir()?;
    let local = out_dir.path().join("rootfs");
    let out = cluster
        .cli()
        .args(["build", "--progress", "plain", "--no-cache"])
        .args(["--platform", "linux/amd64,linux/arm64"])
        .args(["-t", &tag, "--push"])
        .arg("-o")
        .arg(format!("type=local,dest={}", local.display()))
        .arg(ctx.path())
        .output()?;
    let progress = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("the build failed:\n{progress}");
    }

    // Three tasks: the stage on the build platform (the first target), then the images,
    // which depend on it.
    let list: Value = serde_json::from_str(&run_stdout(
        cluster.cli().args(["builds", "ls", "--format", "json"]),
    )?)?;
    let id = list[0]["id"].as_str().context("build id")?;
    let detail: Value = serde_json::from_str(&run_stdout(
        cluster
            .cli()
            .args(["builds", "inspect", id, "--format", "json"]),
    )?)?;
    let tasks = detail["tasks"].as_array().context("tasks")?;
    assert_eq!(tasks.len(), 3, "{detail:#}");
    let stages: Vec<&Value> = tasks.iter().filter(|t| t["kind"] == "stage").collect();
    assert_eq!(stages.len(), 1, "{detail:#}");
    let stage = stages[0];
    assert_eq!(stage["platform"], "linux/amd64", "{stage}");
    for t in tasks.iter().filter(|t| t["kind"] == "image") {
        assert_eq!(t["state"], "succeeded", "{t}");
        assert_eq!(t["depends_on"], serde_json::json!([stage["id"]]), "{t}");
    }

    // The index names the two platform images only.
    let index: Value = serde_json::from_str(&run_stdout(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{tag}"),
    ]))?)?;
    let mut archs: Vec<&str> = index["manifests"]
        .as_array()
        .context("no manifests")?
        .iter()
        .filter_map(|m| m["platform"]["architecture"].as_str())
        .collect();
    archs.sort();
    assert_eq!(archs, ["amd64", "arm64"], "{index:#}");

    // The stage ran once, natively: both images carry the same stamp made on x86_64.
    let read = |platform: &str, file: &str| -> Result<String> {
        let path = local.join(platform).join(file);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let (stamp_amd, stamp_arm) = (read("linux_amd64", "stamp")?, read("linux_arm64", "stamp")?);
    assert_eq!(stamp_amd.trim().len(), 36, "{stamp_amd:?}");
    assert_eq!(stamp_amd, stamp_arm, "the stage ran once per platform");
    for p in ["linux_amd64", "linux_arm64"] {
        assert_eq!(read(p, "gen-arch")?.trim(), "x86_64");
    }
    assert_eq!(read("linux_arm64", "arch")?.trim(), "aarch64");
    assert_eq!(read("linux_amd64", "arch")?.trim(), "x86_64");
    Ok(())
}
