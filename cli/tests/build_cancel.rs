//! Ctrl-C during `slipway build`: the command exits non-zero saying "canceled", and no
//! process, runc container, runtime bundle or mount of the build remains.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

#[test]
fn sigint_cancels_the_build_and_leaves_nothing_running() {
    let reg = TestRegistry::start();
    let data = tempfile::tempdir().unwrap();
    let base = seed_busybox(&reg, data.path());
    let ctx = tempfile::tempdir().unwrap();
    let marker = format!("slipway-cancel-{}", std::process::id());
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {base}\nRUN echo started && sleep 317 && echo {marker}\n"),
    )
    .unwrap();
    let stderr_path = ctx.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .args([
            "build",
            "--progress=plain",
            "--platform",
            "linux/amd64",
            "--data-dir",
        ])
        .arg(data.path())
        .arg(".")
        .current_dir(ctx.path())
        .env_remove("SLIPWAY_BUILDER")
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&stderr_path)
        .unwrap_or_default()
        .contains(" started")
    {
        assert!(
            Instant::now() < deadline,
            "the RUN step never started:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        assert!(child.try_wait().unwrap().is_none(), "slipway exited early");
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "slipway did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("canceled"), "{stderr}");
    // No process of the step survives (its command line carries the marker).
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(
        !ps.lines()
            .any(|l| l.contains(&marker) || l.trim() == "sleep 317"),
        "still running:\n{ps}"
    );
    // No mount under the worker's data dir remains.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let data_path = data.path().to_string_lossy().to_string();
    assert!(
        !mountinfo.lines().any(|l| l.contains(&data_path)),
        "mounts left under {data_path}:\n{mountinfo}"
    );
    // No runc container and no bundle (temporary runtime dir) of ours remains.
    let runtime = std::path::Path::new("/run/slipway/runtime");
    let list = Command::new("runc")
        .arg("--root")
        .arg(runtime.join("state"))
        .args(["list", "-q"])
        .output()
        .unwrap();
    let containers = String::from_utf8_lossy(&list.stdout);
    assert!(
        containers.trim().is_empty(),
        "runc containers left: {containers}"
    );
    let bundles: Vec<_> = std::fs::read_dir(runtime.join("bundles"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(bundles.is_empty(), "runtime bundles left: {bundles:?}");
    eprintln!("{stderr}");
}
