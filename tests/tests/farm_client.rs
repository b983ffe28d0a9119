//! What a farm build's client brings and takes, with `--builder`:
//! - `--secret`: the client opens the build's session, the worker running the task asks the
//!   leader for the secrets its graph mounts and the leader relays the question to the
//!   client. The RUN sees the value (as a file and as a variable), and the value is nowhere
//!   in the farm afterwards: not in the Raft log or snapshots, not in the workers' data dirs
//!   (layers, cache, scratch) and not in any log. A required secret the client does not
//!   have fails the build, naming it.
//! - `--build-context`: a local directory is uploaded like the main context and read by
//!   `COPY --from=NAME` on the worker; a `docker-image://` context replaces `FROM NAME`.
//! - `-o type=local|oci`: the client fetches the result's blobs from the workers' data
//!   planes and writes the files as the embedded build does.
//! - `--ssh`: a step's connections to the agent socket reach the client's own ssh agent
//!   through the leader and the client's session (the client's key is listed).
//! - `--allow security.insecure`: travels with the build to a worker started with
//!   `--allow-insecure-entitlement security.insecure`, whose `RUN --security=insecure` can
//!   then mount; without `--allow` the step is refused, naming the flag.
//!
//! Needs root, runc, docker-registry, skopeo, openssh-client (scripts/setup.sh).

use anyhow::{bail, Result};
use sha2::Digest;
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use std::path::Path;

const VALUE: &str = "farm-s3cr3t-7f1c9a2e";

/// `slipway build --progress plain ARGS CONTEXT` on `cluster`: its progress (stderr), or
/// an error carrying it.
fn farm_build(cluster: &Cluster, args: &[&str], ctx: &Path) -> Result<String> {
    let out = cluster
        .cli()
        .args(["build", "--progress", "plain"])
        .args(args)
        .arg(ctx)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        bail!("slipway build {args:?} failed:\n{stderr}");
    }
    Ok(stderr)
}

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
    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("none", 1))?;
    let secret_flag = format!("id=tok,src={}", secret_file.display());
    let stderr = farm_build(&cluster, &["--secret", &secret_flag], ctx.path())?;
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
    let mut options = ClusterOptions::single("none", 1);
    options.workers[0].entitlements = "security.insecure".into();
    let cluster = Cluster::start(slipway.bin(), &options)?;
    let base = format!(
        "base=docker-image://{}/library/busybox:latest",
        registry.addr()
    );
    let extra_flag = format!("extra={}", extra.path().display());
    let stderr = farm_build(
        &cluster,
        &["--build-context", &base, "--build-context", &extra_flag],
        ctx.path(),
    )?;
    assert!(
        stderr.lines().any(|l| l.ends_with("NAMED-CONTEXT-OK")),
        "the RUN did not see the named context:\n{stderr}"
    );

    // --network none: the RUN sees only the loopback interface.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base\nRUN echo \"interfaces: $(ls /sys/class/net | tr '\\n' ' ')\"\n",
    )?;
    let stderr = farm_build(
        &cluster,
        &["--network", "none", "--build-context", &base],
        ctx.path(),
    )?;
    let line = stderr
        .lines()
        .find(|l| l.contains("interfaces: ") && !l.contains("RUN"))
        .unwrap_or_default();
    assert!(line.trim_end().ends_with("interfaces: lo"), "{stderr}");

    // RUN --security=insecure: granted with --allow (the worker allows it), refused without.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base\nRUN --security=insecure mkdir -p /m && mount -t tmpfs none /m && echo MOUNT-OK\n",
    )?;
    let stderr = farm_build(
        &cluster,
        &["--allow", "security.insecure", "--build-context", &base],
        ctx.path(),
    )?;
    assert!(
        stderr.lines().any(|l| l.ends_with("MOUNT-OK")),
        "the insecure RUN could not mount:\n{stderr}"
    );
    let err = farm_build(
        &cluster,
        &["--no-cache", "--build-context", &base],
        ctx.path(),
    )
    .expect_err("an insecure RUN without --allow must fail");
    assert!(
        err.to_string().contains("--allow security.insecure"),
        "{err}"
    );
    Ok(())
}

#[test]
fn farm_builds_write_local_and_oci_outputs_on_the_client() -> Result<()> {
    let (_registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let ctx = tempfile::tempdir()?;
    std::fs::write(ctx.path().join("hello"), "hello from the farm\n")?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY hello /hello\n",
    )?;
    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("linux/arm64", 1))?;
    let out_dir = tempfile::tempdir()?;

    // Two platforms into a local directory: one subdirectory each.
    let local = out_dir.path().join("rootfs");
    let local_flag = format!("type=local,dest={}", local.display());
    farm_build(
        &cluster,
        &["--platform", "linux/amd64,linux/arm64", "-o", &local_flag],
        ctx.path(),
    )?;
    for p in ["linux_amd64", "linux_arm64"] {
        let got = std::fs::read_to_string(local.join(p).join("hello"))?;
        assert_eq!(got, "hello from the farm\n", "{p}");
    }

    // An OCI layout tar that skopeo reads.
    let tar = out_dir.path().join("image.tar");
    let oci_flag = format!("type=oci,dest={}", tar.display());
    farm_build(
        &cluster,
        &["--platform", "linux/amd64", "-o", &oci_flag],
        ctx.path(),
    )?;
    let inspect = std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci-archive:{}", tar.display()))
        .output()?;
    assert!(
        inspect.status.success(),
        "skopeo cannot read the OCI tar: {}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let raw = String::from_utf8_lossy(&inspect.stdout);
    assert!(raw.contains("schemaVersion"), "{raw}");
    Ok(())
}

/// The worker-side agent socket of a running task (`<worker data>/tmp/ssh-*/0.sock`).
fn worker_agent_socket(dir: &Path) -> Option<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name() == "0.sock"
                && e.path()
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n.to_string_lossy().starts_with("ssh-"))
        })
        .map(|e| e.path().to_path_buf())
}

#[test]
fn farm_runs_reach_the_clients_ssh_agent() -> Result<()> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    let agent = slipway_e2e::sshagent::SshAgent::start()?;
    let keys = tempfile::tempdir()?;
    let key = keys.path().join("id");
    let made = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "slipway-farm-key",
            "-f",
        ])
        .arg(&key)
        .status()?;
    assert!(made.success(), "ssh-keygen failed");
    let added = std::process::Command::new("ssh-add")
        .env("SSH_AUTH_SOCK", agent.socket())
        .arg(&key)
        .output()?;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {}/library/busybox:latest\n\
             RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo SSH-MOUNTED && sleep 6\n",
            registry.addr()
        ),
    )?;
    let cluster = Cluster::start(slipway.bin(), &ClusterOptions::single("none", 1))?;
    let mut build = cluster
        .cli()
        .args(["build", "--progress", "plain", "--ssh"])
        .arg(format!("default={}", agent.socket().display()))
        .arg(ctx.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // While the step runs, the worker's agent socket answers with the client's keys: the
    // agent protocol travels worker → leader → client session → the client's agent.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let socket = loop {
        if let Some(s) = worker_agent_socket(cluster.dir()) {
            break s;
        }
        if std::time::Instant::now() > deadline || build.try_wait()?.is_some() {
            let out = build.wait_with_output()?;
            bail!(
                "no worker agent socket appeared:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let listed = std::process::Command::new("ssh-add")
        .env("SSH_AUTH_SOCK", &socket)
        .arg("-l")
        .output()?;
    let keys_seen = String::from_utf8_lossy(&listed.stdout).to_string();
    let out = build.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "the build failed:\n{stderr}");
    assert!(
        stderr.lines().any(|l| l.ends_with("SSH-MOUNTED")),
        "{stderr}"
    );
    assert!(
        keys_seen.contains("slipway-farm-key"),
        "the forwarded agent did not list the client's key: {keys_seen:?} {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    Ok(())
}
