//! What a SIGKILLed worker leaves in its data dir (a runc container still running on an
//! overlay root filesystem mounted in the data dir, its bundle), and `Worker::open` on that
//! data dir removing it all (root only, real runc and overlayfs).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use slipway_worker::{Worker, WorkerConfig, WorkerError};

/// A container left running as a killed worker leaves it: in `<data>/runtime`'s state
/// root, its bundle in `<data>/runtime/bundles/<id>` with an overlay root filesystem over
/// the busybox rootfs mounted at `rootfs/` and a tmpfs mounted inside that.
struct Leftover {
    id: String,
    /// `sleep <n>`: the container's command line, to look for in `ps`.
    command: String,
    state: PathBuf,
    bundle: PathBuf,
}

/// The container's cgroup is `<cgroup_parent>/<id>`.
fn leave_container(data: &Path, cgroup_parent: &str) -> Leftover {
    let id = format!("slipway-leftover-{}", uuid::Uuid::new_v4().simple());
    let state = data.join("runtime/state");
    let bundle = data.join("runtime/bundles").join(&id);
    let [upper, work, root] = ["upper", "work", "rootfs"].map(|d| bundle.join(d));
    for d in [&state, &upper, &work, &root] {
        std::fs::create_dir_all(d).unwrap();
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        rootfs("amd64").display(),
        upper.display(),
        work.display()
    );
    nix::mount::mount(
        Some("overlay"),
        &root,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(options.as_str()),
    )
    .unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &root.join("tmp"),
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();

    let spec = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(spec.success());
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let command = format!("sleep {}", 40_000 + std::process::id() % 10_000);
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(command.split(' ').collect::<Vec<_>>());
    config["root"]["readonly"] = false.into();
    config["linux"]["cgroupsPath"] = format!("{cgroup_parent}/{id}").into();
    std::fs::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();

    // The detached container inherits runc's stdio: a file, not a pipe nobody closes.
    let log = data.join(format!("{id}.log"));
    let run = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "--detach", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(
        run.success(),
        "runc run: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let left = Leftover {
        id,
        command,
        state,
        bundle,
    };
    assert_eq!(left.containers(), vec![left.id.clone()]);
    assert!(left.running(), "the left container is not running");
    assert_eq!(mounts_under(data).len(), 2, "{:?}", mounts_under(data));
    left
}

impl Leftover {
    fn containers(&self) -> Vec<String> {
        let out = Command::new("runc")
            .arg("--root")
            .arg(&self.state)
            .args(["list", "-q"])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn running(&self) -> bool {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .any(|l| l.trim() == self.command)
    }

    /// Polls (the container's process may still be being reaped) until it is gone.
    fn assert_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running() {
            assert!(Instant::now() < deadline, "{} still runs", self.command);
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(self.containers().is_empty(), "{:?}", self.containers());
        assert!(!self.bundle.exists(), "{} left", self.bundle.display());
    }

    /// Test cleanup when an assertion failed before the worker removed it.
    fn force_remove(&self) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&self.state)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let root = self.bundle.join("rootfs");
        for m in [root.join("tmp"), root] {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn cgroup_parent() -> String {
    format!("/slipway-test-leftovers-{}", uuid::Uuid::new_v4().simple())
}

/// The removed containers' cgroups are gone too.
fn assert_no_cgroups_left(parent: &str) {
    let left = cgroup_children_then_remove(parent);
    assert!(left.is_empty(), "cgroups left: {left:?}");
}

fn config(data: &Path) -> WorkerConfig {
    WorkerConfig {
        data_dir: data.to_path_buf(),
        ..WorkerConfig::default()
    }
}

#[test]
fn open_removes_the_container_bundle_and_mounts_a_killed_worker_left() {
    require_root();
    require_tool("runc");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let cgroups = cgroup_parent();
    let left = leave_container(&data, &cgroups);
    // A symlink out of the data dir among the bundles: removed itself, never followed.
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("keep"), "keep").unwrap();
    std::os::unix::fs::symlink(&outside, data.join("runtime/bundles/link")).unwrap();

    let opened = Worker::open(config(&data));
    if opened.is_err() {
        left.force_remove();
    }
    let worker = opened.unwrap();

    left.assert_gone();
    assert!(
        mounts_under(&data).is_empty(),
        "mounts left: {:?}",
        mounts_under(&data)
    );
    let bundles: Vec<_> = std::fs::read_dir(data.join("runtime/bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(bundles.is_empty(), "bundles left: {bundles:?}");
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "keep"
    );
    assert_no_cgroups_left(&cgroups);
    drop(worker);
}

#[test]
fn a_second_worker_on_a_data_dir_in_use_is_refused_and_removes_nothing() {
    require_root();
    require_tool("runc");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let first = Worker::open(config(&data)).unwrap();
    // A container of the first worker's, as one of its RUN steps would be.
    let cgroups = cgroup_parent();
    let running = leave_container(&data, &cgroups);

    let second = Worker::open(config(&data));
    let still_running = running.running() && running.containers() == [running.id.clone()];
    let mounts = mounts_under(&data).len();
    if !matches!(second, Err(WorkerError::Locked { .. })) || !still_running || mounts != 2 {
        running.force_remove();
    }
    assert!(
        matches!(second, Err(WorkerError::Locked { .. })),
        "{second:?}"
    );
    assert!(
        still_running,
        "the second open touched the first's container"
    );
    assert_eq!(mounts, 2, "the second open touched the first's mounts");

    // Once the first is gone, the next open cleans up.
    drop(first);
    let third = Worker::open(config(&data)).unwrap();
    running.assert_gone();
    assert!(mounts_under(&data).is_empty(), "{:?}", mounts_under(&data));
    assert_no_cgroups_left(&cgroups);
    drop(third);
}
