//! Registry and local cache export/import end to end (the real `slipway` binary in embedded
//! mode, the local docker-registry): a cache exported with `mode=max` lets a build with
//! empty data dirs run no RUN step; with `mode=min` only the final stage's steps are in
//! the cache. `type=local` and `type=inline` round-trip the same way.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use slipway_e2e::builders::slipway::Slipway;
use slipway_e2e::registry::Registry;
use std::path::Path;
use std::process::Command;

/// Every RUN prints a marker, so an executed step shows in the plain progress log. The
/// builder writes a file the final stage does not copy, so its layer differs from the
/// COPY's (else the two layers are the same blob and the builder's result is a prefix of
/// the final image).
fn dockerfile(base: &str) -> String {
    format!(
        "FROM {base} AS builder\n\
         RUN echo RAN-builder && echo built > /out && echo tmp > /scratch\n\
         FROM {base}\n\
         COPY --from=builder /out /out\n\
         RUN echo RAN-final && cat /out > /final\n"
    )
}

struct Env {
    registry: Registry,
    slipway: Slipway,
    ctx: tempfile::TempDir,
}

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

/// `slipway build` with a fresh data dir (nothing cached locally); returns the progress.
fn build_fresh(env: &Env, args: &[&str]) -> Result<String> {
    let data = tempfile::Builder::new()
        .prefix("slipway-cache-e2e")
        .tempdir()?;
    build_in(env, data.path(), args)
}

fn build_in(env: &Env, data: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(env.slipway.bin())
        .args(["build", "--progress", "plain", "--data-dir"])
        .arg(data)
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

fn ran(progress: &str, stage: &str) -> bool {
    // The RUN's own output line, not the step's name (which also contains the text).
    progress
        .lines()
        .any(|l| l.ends_with(&format!(" RAN-{stage}")) && !l.contains("RUN echo"))
}

#[test]
fn registry_cache_max_and_min_from_empty_data_dirs() -> Result<()> {
    let env = env()?;
    let reg = env.registry.addr().to_string();
    let (max, min) = (
        format!("{reg}/cache/app:max"),
        format!("{reg}/cache/app:min"),
    );
    let first = build_fresh(
        &env,
        &[
            "--cache-to",
            &format!("type=registry,ref={max},mode=max"),
            "--cache-to",
            &format!("type=registry,ref={min},mode=min"),
        ],
    )?;
    assert!(ran(&first, "builder") && ran(&first, "final"), "{first}");

    // mode=max, new data dir: nothing runs.
    let again = build_fresh(&env, &["--cache-from", &format!("type=registry,ref={max}")])?;
    assert!(!ran(&again, "builder") && !ran(&again, "final"), "{again}");
    assert!(again.contains("CACHED"), "{again}");
    // The builder stage alone is in a max cache too.
    let target = build_fresh(&env, &["--target", "builder", "--cache-from", &max])?;
    assert!(!ran(&target, "builder"), "{target}");

    // mode=min: the final stage's steps are cached (the whole build runs nothing), but the
    // builder stage is not in the cache: built alone, it runs.
    let final_stage = build_fresh(&env, &["--cache-from", &min])?;
    assert!(!ran(&final_stage, "final"), "{final_stage}");
    let builder = build_fresh(&env, &["--target", "builder", "--cache-from", &min])?;
    assert!(ran(&builder, "builder"), "{builder}");

    // A missing cache is a warning, not a failure.
    let missing = build_fresh(&env, &["--cache-from", &format!("{reg}/cache/none:x")])?;
    assert!(missing.contains("failed to import cache"), "{missing}");
    assert!(ran(&missing, "final"), "{missing}");
    Ok(())
}

#[test]
fn local_and_inline_caches_round_trip() -> Result<()> {
    let env = env()?;
    let reg = env.registry.addr().to_string();
    let dir = tempfile::tempdir()?;
    let dest = dir.path().join("cache");
    let tag = format!("{reg}/cache/inline:1");
    build_fresh(
        &env,
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", dest.display()),
            "--cache-to",
            "type=inline",
            "-t",
            &tag,
            "--push",
        ],
    )?;
    assert!(dest.join("index.json").is_file(), "no OCI layout written");
    let local = build_fresh(
        &env,
        &[
            "--cache-from",
            &format!("type=local,src={}", dest.display()),
        ],
    )?;
    assert!(!ran(&local, "builder") && !ran(&local, "final"), "{local}");
    // The pushed image carries its own (min) cache.
    let inline = build_fresh(&env, &["--cache-from", &tag])?;
    assert!(!ran(&inline, "final"), "{inline}");
    Ok(())
}
