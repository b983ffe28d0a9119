//! `--build-context` with `--builder`: a local directory is uploaded like the main context
//! and read by `COPY --from=NAME` on the worker; a `docker-image://` context replaces a
//! `FROM NAME` as in BuildKit.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Result};
use slipway_e2e::cluster::{Cluster, ClusterOptions, WorkerOptions};

#[test]
fn farm_builds_read_local_and_image_build_contexts() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let ctx = tempfile::tempdir()?;
    let extra = tempfile::tempdir()?;
    std::fs::write(extra.path().join("note.txt"), "from-named-context\n")?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base\nCOPY --from=extra note.txt /note.txt\n\
         RUN grep -q from-named-context /note.txt && echo NAMED-CONTEXT-OK\n",
    )?;
    let cluster = Cluster::start(
        slipway.bin(),
        &ClusterOptions {
            coordinators: 1,
            workers: vec![WorkerOptions {
                emulate: "none".into(),
                slots: 1,
            }],
            lease_ttl_ms: 3_000,
            isolated: None,
        },
    )?;
    let out = cluster
        .cli()
        .args(["build", "--progress", "plain", "--build-context"])
        .arg(format!(
            "base=docker-image://{}/library/busybox:latest",
            registry.addr()
        ))
        .arg("--build-context")
        .arg(format!("extra={}", extra.path().display()))
        .arg(ctx.path())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("the build failed:\n{stderr}");
    }
    assert!(
        stderr.lines().any(|l| l.ends_with("NAMED-CONTEXT-OK")),
        "the RUN did not see the named context:\n{stderr}"
    );
    Ok(())
}
