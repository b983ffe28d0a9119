//! Cache mounts across concurrent builds on a farm worker (real `slipway coordinator` and
//! `slipway worker` processes, the local docker-registry): `sharing=locked` excludes the
//! second build while the first holds the cache; `sharing=shared` (the control) lets both
//! in at once, which shows the two builds really ran concurrently.
//!
//! Needs root, runc, docker-registry (scripts/setup.sh).

use anyhow::{bail, Context, Result};
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn dockerfile(base: &str, sharing: &str) -> String {
    format!(
        "FROM {base}\nARG N\n\
         RUN --mount=type=cache,target=/c,id=excl-{sharing},sharing={sharing} \
         if [ -e /c/busy ]; then echo OVERLAP >> /c/log; fi; touch /c/busy; \
         echo start-$N >> /c/log; sleep 3; rm -f /c/busy; echo end-$N >> /c/log\n"
    )
}

/// The `log` file of the worker's cache mount whose directory name starts with `prefix`.
fn cache_log(worker_dir: &Path, prefix: &str) -> Result<String> {
    let root = worker_dir.join("cache-mounts");
    for entry in std::fs::read_dir(&root).with_context(|| format!("{}", root.display()))? {
        let p: PathBuf = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with(prefix) && !name.contains(".private-") {
            return std::fs::read_to_string(p.join("log"))
                .with_context(|| format!("{}/log", p.display()));
        }
    }
    bail!("no cache mount {prefix}* under {}", root.display())
}

/// Whether a second step started before the first one ended, read from the cache's log
/// order (the steps' own `OVERLAP` check races when both start at the same moment).
fn overlapped(log: &str) -> bool {
    let mut inside = 0usize;
    for line in log.lines() {
        if line.starts_with("start-") {
            inside += 1;
            if inside > 1 {
                return true;
            }
        } else if line.starts_with("end-") {
            inside = inside.saturating_sub(1);
        }
    }
    false
}

/// Two builds of the same Dockerfile (differing in `N`) started together; returns the
/// cache mount's log.
fn two_concurrent_builds(cluster: &Cluster, reg: &str, sharing: &str) -> Result<String> {
    let work = tempfile::tempdir()?;
    std::fs::write(
        work.path().join("Dockerfile"),
        dockerfile(&format!("{reg}/library/busybox:latest"), sharing),
    )?;
    let mut children = Vec::new();
    for n in 1..=2 {
        let log = work.path().join(format!("build-{n}.log"));
        let out = std::fs::File::create(&log)?;
        let child = cluster
            .cli()
            .args(["build", "--progress", "plain", "--build-arg"])
            .arg(format!("N={sharing}{n}"))
            .arg(work.path())
            .stdout(Stdio::null())
            .stderr(out)
            .spawn()
            .context("starting slipway build")?;
        children.push((child, log));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    for (mut child, log) in children {
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!(
                        "build failed:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("build timed out");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    cache_log(&cluster.dir().join("worker-1"), &format!("excl-{sharing}"))
}

#[test]
fn locked_cache_mount_makes_the_second_build_wait() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("none", 2))?;
    let reg = registry.addr().to_string();

    // Control: with sharing=shared both steps are inside the cache at once.
    let shared = two_concurrent_builds(&cluster, &reg, "shared")?;
    assert!(
        overlapped(&shared),
        "the two builds did not run concurrently, so the test proves nothing:\n{shared}"
    );

    // sharing=locked: the second waits until the first releases the cache.
    let locked = two_concurrent_builds(&cluster, &reg, "locked")?;
    let lines: Vec<&str> = locked.lines().collect();
    assert!(
        !locked.contains("OVERLAP") && !overlapped(&locked),
        "{locked}"
    );
    assert_eq!(lines.len(), 4, "{locked}");
    for pair in lines.chunks(2) {
        let (start, end) = (pair[0], pair[1]);
        assert!(start.starts_with("start-"), "{locked}");
        assert_eq!(
            end.strip_prefix("end-"),
            start.strip_prefix("start-"),
            "interleaved:\n{locked}"
        );
    }
    Ok(())
}

#[test]
fn overlap_is_read_from_the_log_order() {
    // Both started before either touched the marker (seen on CI): still an overlap.
    assert!(overlapped(
        "start-shared2\nstart-shared1\nend-shared1\nend-shared2\n"
    ));
    assert!(!overlapped("start-a\nend-a\nstart-b\nend-b\n"));
}
