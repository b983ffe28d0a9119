//! Shared helpers for the worker's root-only integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use slipway_worker::executor::{Runc, RuncConfig, RuntimeKind};
use slipway_worker::snapshot::{ChainId, Snapshotter, SnapshotterConfig};

/// Fails (never skips) when a tool the test needs is missing.
pub fn require_tool(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(found, "{name} is not installed: run scripts/setup.sh");
}

pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "the worker's integration tests run as root (run scripts/setup.sh, then cargo test as root)");
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A busybox rootfs for `arch` (amd64, arm64, armhf), built once per target dir with
/// scripts/test-rootfs.sh.
pub fn rootfs(arch: &str) -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rootfs-{arch}"));
    if dir.join("bin/busybox").is_file() && dir.join("etc/group").is_file() {
        return dir;
    }
    require_tool("dpkg");
    require_tool("apt-get");
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/test-rootfs.sh"))
        .arg(&dir)
        .arg(arch)
        .output()
        .expect("running scripts/test-rootfs.sh");
    assert!(
        out.status.success(),
        "scripts/test-rootfs.sh {} {arch} failed (run scripts/setup.sh):\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

pub fn chain_id(n: u64) -> ChainId {
    format!("sha256:{n:064x}").parse().unwrap()
}

/// Commits a copy of `src` as the layer `id` (on `parent`).
pub fn commit_copy(s: &Snapshotter, id: &ChainId, parent: Option<&ChainId>, src: &Path) {
    let prepared = s.prepare_layer_dir(id, parent).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(prepared.path())
        .status()
        .unwrap();
    assert!(status.success());
    s.commit(prepared).unwrap();
}

pub fn snapshotter(dir: &Path) -> Snapshotter {
    Snapshotter::open(SnapshotterConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    })
    .unwrap()
}

/// The OCI runtime under test: runc, or crun with `SLIPWAY_TEST_RUNTIME=crun`.
pub fn runc_in(state: &Path, cgroup_parent: &str) -> Runc {
    let kind = match std::env::var("SLIPWAY_TEST_RUNTIME").as_deref() {
        Ok("crun") => RuntimeKind::Crun,
        Ok("runc") | Err(_) => RuntimeKind::Runc,
        Ok(other) => panic!("SLIPWAY_TEST_RUNTIME={other}: expected runc or crun"),
    };
    require_tool(kind.binary_name());
    Runc::new(
        state,
        RuncConfig {
            kind,
            cgroup_parent: cgroup_parent.into(),
            ..Default::default()
        },
    )
    .unwrap()
}

/// The child cgroups of `parent` (a path below each v1 hierarchy), then removes `parent`.
pub fn cgroup_children_then_remove(parent: &str) -> Vec<PathBuf> {
    let mut children = Vec::new();
    for hierarchy in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let dir = hierarchy.path().join(parent.trim_start_matches('/'));
        if let Ok(rd) = std::fs::read_dir(&dir) {
            children.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            let _ = std::fs::remove_dir(&dir);
        }
    }
    children
}

/// Mount points at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.display().to_string();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&d))
        .map(String::from)
        .collect()
}

/// Collects an output channel into one string.
pub async fn collect(
    mut rx: tokio::sync::mpsc::Receiver<slipway_worker::executor::OutputChunk>,
) -> String {
    let mut s = String::new();
    while let Some(c) = rx.recv().await {
        s.push_str(&String::from_utf8_lossy(&c.data));
    }
    s
}
