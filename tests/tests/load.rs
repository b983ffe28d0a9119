//! `slipway build --load`: the image lands in a docker daemon (a private dockerd 20.10) and
//! runs there, built embedded and on a farm.
//!
//! Needs root, runc, docker-registry, dockerd/docker (docker.io) (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use slipway_e2e::builders::dockerd::Dockerd;
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use std::process::Command;

fn check(out: std::process::Output, what: &str) -> Result<String> {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("{what} failed:\n{stderr}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

#[test]
fn load_puts_the_image_into_docker() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let dockerd = Dockerd::start(registry.addr()).context("dockerd cannot run here")?;
    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {}/library/busybox:latest\nRUN echo loaded-by-slipway > /hello\n",
            registry.addr()
        ),
    )?;
    let load = |cmd: &mut Command, extra: &[&std::ffi::OsStr], tag: &str| -> Result<()> {
        let out = cmd
            .env("DOCKER_HOST", dockerd.host())
            .env("SLIPWAY_DOCKER", "/usr/bin/docker")
            .arg("build")
            .args(extra)
            .args(["--progress", "plain", "--load", "-t", tag])
            .arg(ctx.path())
            .output()?;
        let stdout = check(out, &format!("--load -t {tag}"))?;
        assert!(stdout.contains(&format!("Loaded image: {tag}")), "{stdout}");
        let ran = dockerd
            .docker()
            .args(["run", "--rm", "--network", "none", tag, "cat", "/hello"])
            .output()?;
        assert_eq!(check(ran, "docker run")?, "loaded-by-slipway\n");
        Ok(())
    };

    load(
        &mut Command::new(slipway.bin()),
        &["--data-dir".as_ref(), slipway.data_dir().as_os_str()],
        "slipway-load/embedded:1",
    )?;

    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("none", 1))?;
    load(&mut cluster.cli(), &[], "slipway-load/farm:1")?;
    Ok(())
}
