//! `--secret` with `--builder`: the client opens the build's session, the worker running
//! the task asks the leader for the secrets its graph mounts and the leader relays the
//! question to the client. The RUN sees the value (as a file and as a variable), and the
//! value is nowhere in the farm afterwards: not in the coordinators' Raft log or
//! snapshots, not in the workers' data dirs (layers, cache, scratch) and not in any log.
//! A required secret the client does not have fails the build, naming it.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Result};
use sha2::Digest;
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};
use std::path::Path;

const VALUE: &str = "farm-s3cr3t-7f1c9a2e";

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            std::fs::read(e.path())
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

#[test]
fn farm_runs_mount_the_clients_secrets_and_the_farm_keeps_none() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let secrets = tempfile::tempdir()?;
    let secret_file = secrets.path().join("token");
    std::fs::write(&secret_file, VALUE)?;
    // The Dockerfile (which the farm does keep) names the value only by its hash.
    let sha = hex::encode(sha2::Sha256::digest(VALUE.as_bytes()));
    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {reg}/library/busybox:latest\n\
             RUN --mount=type=secret,id=tok test \"$(sha256sum /run/secrets/tok | cut -c1-64)\" = {sha} && echo SECRET-FILE-OK\n\
             RUN --mount=type=secret,id=tok,env=TOKEN test \"$(printf %s \"$TOKEN\" | sha256sum | cut -c1-64)\" = {sha} && echo SECRET-ENV-OK\n",
            reg = registry.addr()
        ),
    )?;
    let amd64 = WorkerOptions {
        emulate: "none".into(),
        slots: 1,
    };
    let cluster = Cluster::start(
        slipway.bin(),
        &ClusterOptions {
            coordinators: 1,
            workers: vec![amd64],
            lease_ttl_ms: 3_000,
            isolated: None,
        },
    )?;
    let out = cluster
        .cli()
        .args(["build", "--progress", "plain", "--secret"])
        .arg(format!("id=tok,src={}", secret_file.display()))
        .arg(ctx.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("the build failed:\n{stderr}");
    }
    for want in ["SECRET-FILE-OK", "SECRET-ENV-OK"] {
        assert!(
            stderr.lines().any(|l| l.ends_with(want)),
            "{want} missing:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains(VALUE),
        "the secret reached the output:\n{stderr}"
    );
    let leaked = files_containing(cluster.dir(), VALUE.as_bytes());
    assert!(
        leaked.is_empty(),
        "the secret is on the farm's disks: {leaked:?}"
    );
    // The scan does see what the farm keeps: the Dockerfile's hash is in the Raft store.
    let kept = files_containing(cluster.dir(), sha.as_bytes());
    assert!(!kept.is_empty(), "the scan found not even the Dockerfile");

    // A required secret the client does not have fails the build, naming it.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {}/library/busybox:latest\nRUN --mount=type=secret,id=absent,required=true true\n",
            registry.addr()
        ),
    )?;
    let out = cluster
        .cli()
        .args(["build", "--progress", "plain", "--secret"])
        .arg(format!("id=tok,src={}", secret_file.display()))
        .arg(ctx.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "a missing required secret succeeded:\n{stderr}"
    );
    assert!(stderr.contains("absent"), "{stderr}");
    Ok(())
}
