//! QEMU emulation through binfmt_misc with real runc containers (root only).

mod common;

use common::*;
use slipway_graph::Platform;
use slipway_worker::emulation::{self, EmulationConfig, EmulationMode, PlatformSupport};
use slipway_worker::executor::{Executor, ProcessIo, RunSpec};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn require_qemu() {
    require_tool("qemu-aarch64-static");
    require_tool("qemu-arm-static");
    assert!(
        std::path::Path::new("/usr/share/binfmts/qemu-aarch64").is_file(),
        "qemu-user-static's binfmt definitions are missing: run scripts/setup.sh"
    );
}

/// Serialises the tests that remove and re-register the riscv64/s390x handlers with the
/// tests that check them (the arm tests use other handlers).
static HANDLERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn handlers_lock() -> std::sync::MutexGuard<'static, ()> {
    HANDLERS.lock().unwrap_or_else(|e| e.into_inner())
}

fn auto() -> emulation::WorkerPlatforms {
    require_root();
    require_qemu();
    emulation::prepare(EmulationMode::Auto, &EmulationConfig::default()).unwrap()
}

#[test]
fn auto_registers_qemu_handlers_with_fix_binary() {
    let _g = handlers_lock();
    let platforms = auto();
    for p in [
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/riscv64",
        "linux/ppc64le",
        "linux/s390x",
    ] {
        let p: Platform = p.parse().unwrap();
        assert_eq!(
            platforms.support(&p).unwrap(),
            PlatformSupport::Emulated,
            "{p:?}"
        );
    }
    assert_eq!(
        platforms.support(&Platform::host()).unwrap(),
        PlatformSupport::Native
    );
    // 32-bit x86 runs natively exactly when the kernel has IA32 emulation.
    let config = std::process::Command::new("zgrep")
        .args(["-q", "^CONFIG_IA32_EMULATION=y", "/proc/config.gz"])
        .status();
    if Platform::host().architecture == "amd64" && std::path::Path::new("/proc/config.gz").exists()
    {
        let ia32 = config.map(|s| s.success()).unwrap_or(false);
        assert_eq!(
            platforms.native.contains(&Platform::linux("386", "")),
            ia32,
            "{platforms}"
        );
    }
    // Detection alone (Off) sees the same handlers, all with the F flag.
    let detected = emulation::prepare(EmulationMode::Off, &EmulationConfig::default()).unwrap();
    assert_eq!(detected, platforms);
    assert!(detected.unusable.is_empty());
    let text = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64").unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("flags: ") && l.contains('F')),
        "{text}"
    );
}

#[test]
fn unknown_platform_error_says_how_to_enable_it() {
    // A binfmt_misc with no handlers (as on a machine without qemu-user-static).
    let empty = tempfile::tempdir().unwrap();
    let config = EmulationConfig {
        binfmt_misc_dir: empty.path().into(),
        ..Default::default()
    };
    let platforms = emulation::detect(&config).unwrap();
    assert!(platforms.emulated.is_empty());
    let err = platforms
        .support(&"linux/arm64".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/arm64 cannot run on this worker (native: linux/amd64"),
        "{err}"
    );
    assert!(
        err.contains("apt-get install qemu-user-static") && err.contains("--emulate auto"),
        "{err}"
    );
}

async fn uname_in(arch: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let snaps = snapshotter(&tmp.path().join("data"));
    commit_copy(&snaps, &chain_id(1), None, &rootfs(arch));
    let cgroup_parent = format!("/slipway-test-{}", uuid::Uuid::new_v4().simple());
    let runc = runc_in(&tmp.path().join("runc"), &cgroup_parent);
    let active = snaps.prepare_active(Some(&chain_id(1))).await.unwrap();
    let (tx, rx) = mpsc::channel(16);
    let out = tokio::spawn(collect(rx));
    let spec = RunSpec {
        rootfs: active.rootfs().into(),
        args: vec!["uname".into(), "-m".into()],
        ..Default::default()
    };
    let r = runc
        .run(
            spec,
            ProcessIo { output: Some(tx) },
            CancellationToken::new(),
        )
        .await;
    let out = out.await.unwrap();
    r.unwrap_or_else(|e| panic!("uname in {arch}: {e}"));
    active.cleanup().await.unwrap();
    assert!(runc.list().await.unwrap().is_empty());
    assert!(cgroup_children_then_remove(&cgroup_parent).is_empty());
    out
}

#[tokio::test]
async fn arm64_rootfs_runs_through_qemu() {
    let platforms = auto();
    assert_eq!(
        platforms.support(&"linux/arm64".parse().unwrap()).unwrap(),
        PlatformSupport::Emulated
    );
    assert_eq!(uname_in("arm64").await, "aarch64\n");
}

#[tokio::test]
async fn armhf_rootfs_runs_through_qemu() {
    let platforms = auto();
    let armv7: Platform = "linux/arm/v7".parse().unwrap();
    assert_eq!(
        platforms.support(&armv7).unwrap(),
        PlatformSupport::Emulated
    );
    let out = uname_in("armhf").await;
    assert_eq!(Some(out.trim_end()), armv7.uname_machine());
}

/// Auto really registers: a removed handler comes back, and one registered without the
/// F flag (unusable in containers) is replaced by one with it.
#[test]
fn auto_registers_missing_and_replaces_handlers_without_fix_binary() {
    let _g = handlers_lock();
    auto();
    let dir = std::path::Path::new("/proc/sys/fs/binfmt_misc");
    let riscv: Platform = "linux/riscv64".parse().unwrap();
    let s390x: Platform = "linux/s390x".parse().unwrap();

    std::fs::write(dir.join("qemu-riscv64"), "-1").unwrap();
    std::fs::write(dir.join("qemu-s390x"), "-1").unwrap();
    let def = std::fs::read_to_string("/usr/share/binfmts/qemu-s390x").unwrap();
    let field = |k: &str| {
        def.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_string()
    };
    let line = format!(
        ":qemu-s390x:M:0:{}:{}:{}:",
        field("magic "),
        field("mask "),
        field("interpreter ")
    );
    std::fs::write(dir.join("register"), line).unwrap();

    let before = emulation::detect(&EmulationConfig::default()).unwrap();
    assert!(before.support(&riscv).is_err());
    assert!(before.unusable.contains(&s390x), "{before:?}");
    let err = before.support(&s390x).unwrap_err().to_string();
    assert!(err.contains("lacks the F (fix-binary) flag"), "{err}");

    let after = emulation::prepare(EmulationMode::Auto, &EmulationConfig::default()).unwrap();
    assert_eq!(after.support(&riscv).unwrap(), PlatformSupport::Emulated);
    assert_eq!(after.support(&s390x).unwrap(), PlatformSupport::Emulated);
    assert!(after.unusable.is_empty());
    let text = std::fs::read_to_string(dir.join("qemu-s390x")).unwrap();
    assert!(text.contains("flags: PF"), "{text}");
}
