//! Stopping `slipway build` mid-RUN. SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal
//! closed) each cancel: the command exits non-zero saying "canceled", and no process, runc
//! container, runtime bundle or mount of the build remains. After a SIGKILL (nothing can be
//! cleaned) the next build on the same data dir removes what the killed one left.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A build whose one RUN step sleeps until it is stopped.
struct SleepingBuild {
    /// The step's `sleep` argument, one per test (tests run at once).
    secs: u32,
    reg: TestRegistry,
    data: tempfile::TempDir,
    base: String,
    ctx: tempfile::TempDir,
    /// On the step's command line, to find its processes in `ps`.
    marker: String,
}

impl SleepingBuild {
    fn new(name: &str, secs: u32) -> SleepingBuild {
        let reg = TestRegistry::start();
        let data = tempfile::tempdir().unwrap();
        let base = seed_busybox(&reg, data.path());
        let ctx = tempfile::tempdir().unwrap();
        let marker = format!("slipway-cancel-{name}-{}", std::process::id());
        std::fs::write(
            ctx.path().join("Dockerfile"),
            // The step prints `running-42` once it runs (the progress shows the command
            // itself, unexpanded, as soon as the step starts).
            format!("FROM {base}\nRUN echo running-$((40+2)) && sleep {secs} && echo {marker}\n"),
        )
        .unwrap();
        SleepingBuild {
            secs,
            reg,
            data,
            base,
            ctx,
            marker,
        }
    }

    fn stderr_path(&self, n: u32) -> PathBuf {
        self.ctx.path().join(format!("stderr-{n}.log"))
    }

    /// Starts `slipway build` in `dir` (the n-th build of this test), stderr to a file.
    fn spawn(&self, dir: &Path, n: u32) -> Child {
        Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args([
                "build",
                "--progress=plain",
                "--platform",
                "linux/amd64",
                "--data-dir",
            ])
            .arg(self.data.path())
            .arg(".")
            .current_dir(dir)
            .env_remove("SLIPWAY_BUILDER")
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(self.stderr_path(n)).unwrap())
            .spawn()
            .unwrap()
    }

    fn stderr(&self, n: u32) -> String {
        std::fs::read_to_string(self.stderr_path(n)).unwrap_or_default()
    }

    /// Starts the sleeping build and returns once its RUN step runs.
    fn start_running(&self) -> Child {
        let mut child = self.spawn(self.ctx.path(), 1);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.stderr(1).contains(" running-42") {
            assert!(
                Instant::now() < deadline,
                "the RUN step never started:\n{}",
                self.stderr(1)
            );
            assert!(child.try_wait().unwrap().is_none(), "slipway exited early");
            std::thread::sleep(Duration::from_millis(100));
        }
        child
    }

    fn runtime(&self) -> PathBuf {
        self.data.path().join("worker/runtime")
    }

    /// The runc containers in the build's own runtime state root.
    fn containers(&self) -> Vec<String> {
        let list = Command::new("runc")
            .arg("--root")
            .arg(self.runtime().join("state"))
            .args(["list", "-q"])
            .output()
            .unwrap();
        assert!(
            list.status.success(),
            "runc list: {}",
            String::from_utf8_lossy(&list.stderr)
        );
        String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn bundles(&self) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(self.runtime().join("bundles"))
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default()
    }

    fn mounts(&self) -> Vec<String> {
        let data_path = self.data.path().to_string_lossy().to_string();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&data_path))
            .map(str::to_string)
            .collect()
    }

    /// Processes of the step (its command line carries the marker, or is the sleep).
    fn step_processes(&self) -> Vec<String> {
        let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&self.marker) || l.trim() == format!("sleep {}", self.secs))
            .map(str::to_string)
            .collect()
    }

    fn assert_nothing_left(&self) {
        let ps = self.step_processes();
        assert!(ps.is_empty(), "still running:\n{}", ps.join("\n"));
        let mounts = self.mounts();
        assert!(mounts.is_empty(), "mounts left:\n{}", mounts.join("\n"));
        let containers = self.containers();
        assert!(
            containers.is_empty(),
            "runc containers left: {containers:?}"
        );
        let bundles = self.bundles();
        assert!(bundles.is_empty(), "runtime bundles left: {bundles:?}");
    }
}

fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "slipway did not stop after {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn send(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal}");
}

/// Stops a build mid-RUN with `signal` (a `kill` name: INT, TERM, HUP) and checks that it
/// cancels and leaves nothing behind.
fn signal_cancels_the_build_and_leaves_nothing_running(signal: &str, secs: u32) {
    let build = SleepingBuild::new(&signal.to_lowercase(), secs);
    let mut child = build.start_running();
    assert_eq!(build.containers().len(), 1, "{:?}", build.containers());
    send(&child, signal);
    let status = wait_exit(&mut child, &format!("SIG{signal}"));
    let stderr = build.stderr(1);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("canceled"), "{stderr}");
    build.assert_nothing_left();
    drop(build.reg);
}

#[test]
fn sigint_cancels_the_build_and_leaves_nothing_running() {
    signal_cancels_the_build_and_leaves_nothing_running("INT", 3171);
}

#[test]
fn sigterm_cancels_the_build_and_leaves_nothing_running() {
    signal_cancels_the_build_and_leaves_nothing_running("TERM", 3172);
}

#[test]
fn sighup_cancels_the_build_and_leaves_nothing_running() {
    signal_cancels_the_build_and_leaves_nothing_running("HUP", 3173);
}

#[test]
fn after_sigkill_the_next_build_on_the_data_dir_removes_what_the_first_left() {
    let build = SleepingBuild::new("kill", 3174);
    let mut first = build.start_running();
    send(&first, "KILL");
    assert!(!wait_exit(&mut first, "SIGKILL").success());
    // The killed build could clean nothing: its step's container, bundle and mounts stay.
    let left = build.containers();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(
        !build.step_processes().is_empty(),
        "the step died with slipway"
    );
    assert!(!build.bundles().is_empty());
    assert!(!build.mounts().is_empty());

    let second_ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        second_ctx.path().join("Dockerfile"),
        format!("FROM {}\nRUN echo second build\n", build.base),
    )
    .unwrap();
    let mut second = build.spawn(second_ctx.path(), 2);
    // Its start removes the first's container and kills its step.
    let deadline = Instant::now() + Duration::from_secs(60);
    while build.containers().iter().any(|c| left.contains(c)) || !build.step_processes().is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the second build's start did not remove the first's container {left:?}:\n{}",
            build.stderr(2)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = wait_exit(&mut second, "its build");
    assert!(status.success(), "{}", build.stderr(2));
    build.assert_nothing_left();
    drop(build.reg);
}
