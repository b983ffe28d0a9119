//! Harness for the `slipway build` end-to-end tests: a CNCF distribution registry
//! (`docker-registry`) on a free loopback port, skopeo, busybox root filesystems from
//! `scripts/test-rootfs.sh`, and a runner for the built `slipway` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
pub const SKOPEO_BIN: &str = "/usr/bin/skopeo";

/// Fails (never skips) when the system tools are missing or we are not root.
pub fn require_tools() {
    for bin in [REGISTRY_BIN, SKOPEO_BIN] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: apt-get install -y docker-registry skopeo"
        );
    }
    assert!(
        nix_is_root(),
        "the build tests run as root (the worker needs it)"
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The workspace's test registry (`slipway_e2e::registry`), with its address at hand.
pub struct TestRegistry {
    inner: slipway_e2e::registry::Registry,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        require_tools();
        let inner = slipway_e2e::registry::Registry::start().expect("starting docker-registry");
        TestRegistry {
            addr: inner.addr().to_string(),
            inner,
        }
    }

    pub fn log(&self) -> String {
        self.inner.log()
    }
}

/// Runs skopeo (plain HTTP to the test registry), failing the test with its stderr.
pub fn skopeo(args: &[&str]) -> String {
    let out = Command::new(SKOPEO_BIN)
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `skopeo inspect --raw` of `docker://REF` as JSON.
pub fn inspect_raw(reference: &str) -> serde_json::Value {
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    serde_json::from_str(&raw).expect("manifest JSON")
}

/// The digest skopeo reports for `docker://REF`.
pub fn remote_digest(reference: &str) -> String {
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    v["Digest"].as_str().expect("Digest").to_string()
}

/// The workspace root (cli/..).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// Writes a busybox root filesystem for `arch` (amd64, arm64, armhf) into `dir`.
pub fn busybox_rootfs(dir: &Path, arch: &str) {
    let script = workspace().join("scripts/test-rootfs.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(dir)
        .arg(arch)
        .output()
        .expect("run test-rootfs.sh");
    assert!(
        out.status.success(),
        "test-rootfs.sh {arch} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One `slipway build` run's outcome.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `slipway build ARGS` with `data_dir` as its worker data directory.
pub fn slipway_build(data_dir: &Path, cwd: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .arg("build")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .current_dir(cwd)
        .env_remove("SLIPWAY_BUILDER")
        .env_remove("BUILDKIT_PROGRESS")
        .stdin(Stdio::null())
        .output()
        .expect("run slipway");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// As [`slipway_build`], failing the test when the build fails.
pub fn build_ok(data_dir: &Path, cwd: &Path, args: &[&str]) -> Run {
    let r = slipway_build(data_dir, cwd, args);
    assert!(r.success, "slipway build {args:?} failed:\n{}", r.stderr);
    r
}

/// Pushes a 3-platform busybox image (linux/amd64, linux/arm64, linux/arm/v7) built with
/// slipway itself from `FROM scratch` + `COPY`, as `REG/busybox:test`; returns its name.
pub fn seed_busybox(reg: &TestRegistry, data_dir: &Path) -> String {
    let ctx = tempfile::tempdir().expect("tempdir");
    for (arch, dir) in [
        ("amd64", "rootfs-amd64"),
        ("arm64", "rootfs-arm64"),
        ("armhf", "rootfs-armv7"),
    ] {
        busybox_rootfs(&ctx.path().join(dir), arch);
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nARG TARGETVARIANT\nCOPY rootfs-${TARGETARCH}${TARGETVARIANT}/ /\nCMD [\"sh\"]\n",
    )
    .expect("write Dockerfile");
    let name = format!("{}/busybox:test", reg.addr);
    build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "--platform",
            "linux/amd64,linux/arm64,linux/arm/v7",
            "-t",
            &name,
            "--push",
            ".",
        ],
    );
    name
}
