//! Harness for the `slipway build` end-to-end tests: a CNCF distribution registry
//! (`docker-registry`) on a free loopback port, skopeo, busybox root filesystems from
//! `scripts/test-rootfs.sh`, and a runner for the built `slipway` binary.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// A running `docker-registry serve`, killed on drop.
pub struct TestRegistry {
    child: Child,
    dir: tempfile::TempDir,
    pub addr: String,
}

impl TestRegistry {
    pub fn start() -> TestRegistry {
        require_tools();
        let dir = tempfile::tempdir().expect("tempdir");
        let addr = format!("127.0.0.1:{}", free_port());
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log");
        let log2 = log.try_clone().expect("log clone");
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("spawn docker-registry");
        let mut reg = TestRegistry { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited early ({status}):\n{}", reg.log());
            }
            if matches!(http_status(&reg.addr, "/v2/"), Some(200) | Some(401)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not answer:\n{}",
                reg.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    String::from_utf8_lossy(buf.get(..n)?)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
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
