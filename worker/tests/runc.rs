//! The runc executor with real containers (root only).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use slipway_worker::executor::{
    Access, ExecError, Executor, FailedStatus, MountSpec, NetworkMode, OutputChunk, ProcessIo,
    Resources, RunSpec, Runc,
};
use slipway_worker::snapshot::{ActiveSnapshot, SnapshotChanges, Snapshotter};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Env {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    snaps: Snapshotter,
    runc: Runc,
    cgroup_parent: String,
}

fn env(arch: &str) -> Env {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let snaps = snapshotter(&data);
    commit_copy(&snaps, &chain_id(1), None, &rootfs(arch));
    let cgroup_parent = format!("/slipway-test-{}", uuid::Uuid::new_v4().simple());
    let runc = runc_in(&tmp.path().join("runc"), &cgroup_parent);
    Env {
        _tmp: tmp,
        data,
        snaps,
        runc,
        cgroup_parent,
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

async fn run(
    runc: &Runc,
    spec: RunSpec,
) -> (
    Result<slipway_worker::executor::ExitStatus, ExecError>,
    String,
) {
    let (tx, rx) = mpsc::channel(64);
    let out = tokio::spawn(collect(rx));
    let r = runc
        .run(
            spec,
            ProcessIo { output: Some(tx) },
            CancellationToken::new(),
        )
        .await;
    (r, out.await.unwrap())
}

impl Drop for Env {
    fn drop(&mut self) {
        cgroup_children_then_remove(&self.cgroup_parent);
    }
}

impl Env {
    async fn active(&self) -> ActiveSnapshot {
        self.snaps.prepare_active(Some(&chain_id(1))).await.unwrap()
    }

    fn spec(&self, active: &ActiveSnapshot, script: &str) -> RunSpec {
        RunSpec {
            rootfs: active.rootfs().to_path_buf(),
            args: sh(script),
            ..Default::default()
        }
    }

    async fn assert_clean(&self) {
        assert!(
            self.runc.list().await.unwrap().is_empty(),
            "runc containers left"
        );
        assert!(self.runc.bundles().unwrap().is_empty(), "bundles left");
        assert!(mounts_under(&self.data).is_empty(), "mounts left");
    }
}

#[tokio::test]
async fn uname_in_amd64_rootfs() {
    let e = env("amd64");
    let active = e.active().await;
    let (r, out) = run(
        &e.runc,
        RunSpec {
            args: vec!["uname".into(), "-m".into()],
            ..e.spec(&active, "")
        },
    )
    .await;
    assert_eq!(r.unwrap().code, 0);
    assert_eq!(out, "x86_64\n");
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}

#[tokio::test]
async fn failure_reports_exit_code_and_last_lines() {
    let e = env("amd64");
    let active = e.active().await;
    let script = "i=1; while [ $i -le 15 ]; do echo line $i; i=$((i+1)); done; echo oops; exit 3";
    let (r, out) = run(&e.runc, e.spec(&active, script)).await;
    assert!(out.contains("line 1\n") && out.contains("oops"));
    match r {
        Err(ExecError::Failed {
            status,
            tail,
            command,
        }) => {
            assert_eq!(status, FailedStatus::ExitCode(3));
            assert_eq!(tail.len(), 10);
            assert_eq!(tail.first().map(String::as_str), Some("line 7"));
            assert_eq!(tail.last().map(String::as_str), Some("oops"));
            assert!(command.starts_with("/bin/sh -c i=1"));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let (r, _) = run(&e.runc, e.spec(&active, "echo to-stderr >&2; exit 4")).await;
    assert!(
        matches!(r, Err(ExecError::Failed { status: FailedStatus::ExitCode(4), ref tail, .. }) if tail == &["to-stderr"]),
        "{r:?}"
    );
    let (r, _) = run(
        &e.runc,
        RunSpec {
            args: vec!["/no/such/binary".into()],
            ..e.spec(&active, "")
        },
    )
    .await;
    let msg = r.unwrap_err().to_string();
    assert!(
        msg.contains("did not complete successfully") && msg.contains("no/such/binary"),
        "{msg}"
    );
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}

#[tokio::test]
async fn user_names_resolve_from_the_rootfs() {
    let e = env("amd64");
    let active = e.active().await;
    let (r, out) = run(
        &e.runc,
        RunSpec {
            user: "app".into(),
            ..e.spec(&active, "id; echo $HOME")
        },
    )
    .await;
    r.unwrap();
    assert!(
        out.starts_with("uid=1000(app) gid=1000(app) groups=") && out.contains("50(staff)"),
        "{out}"
    );
    assert!(out.ends_with("/home/app\n"), "{out}");
    let (r, out) = run(
        &e.runc,
        RunSpec {
            user: "nobody:staff".into(),
            ..e.spec(&active, "id -u; id -g")
        },
    )
    .await;
    r.unwrap();
    assert_eq!(out, "65534\n50\n");
    let (r, _) = run(
        &e.runc,
        RunSpec {
            user: "foo".into(),
            ..e.spec(&active, "id")
        },
    )
    .await;
    assert_eq!(
        r.unwrap_err().to_string(),
        "unable to find user foo: no matching entries in passwd file"
    );
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}

#[tokio::test]
async fn workdir_is_created_with_the_users_ownership() {
    let e = env("amd64");
    let active = e.active().await;
    let spec = RunSpec {
        user: "app".into(),
        cwd: "/srv/app/work".into(),
        ..e.spec(&active, "pwd; touch mine")
    };
    let (r, out) = run(&e.runc, spec).await;
    r.unwrap();
    assert_eq!(out, "/srv/app/work\n");
    let SnapshotChanges::Upper(upper) = active.finish().await.unwrap() else {
        panic!("overlay")
    };
    for d in ["srv", "srv/app", "srv/app/work", "srv/app/work/mine"] {
        let md = fs::metadata(upper.path().join(d)).unwrap();
        assert_eq!((md.uid(), md.gid()), (1000, 1000), "{d}");
    }
    e.assert_clean().await;
}

#[tokio::test]
async fn network_none_has_only_loopback_up() {
    let e = env("amd64");
    let active = e.active().await;
    let (r, out) = run(
        &e.runc,
        e.spec(&active, "ls /sys/class/net; ip -o link show lo"),
    )
    .await;
    r.unwrap();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("lo"), "{out}");
    let lo = lines.next().unwrap_or_default();
    assert!(lo.contains("lo:") && lo.contains(",UP"), "{out}");
    assert_eq!(lines.next(), None, "{out}");

    let host_ifaces = fs::read_dir("/sys/class/net").unwrap().count();
    let (r, out) = run(
        &e.runc,
        RunSpec {
            network: NetworkMode::Host,
            ..e.spec(&active, "ls /sys/class/net | wc -l; cat /etc/resolv.conf")
        },
    )
    .await;
    r.unwrap();
    let expected = format!(
        "{host_ifaces}\n{}",
        fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
    );
    assert_eq!(out, expected);
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}

#[tokio::test]
async fn hosts_resolv_and_hostname_are_generated_and_leave_no_trace() {
    let e = env("amd64");
    let active = e.active().await;
    let spec = RunSpec {
        hostname: "builder-1".into(),
        extra_hosts: vec![("db".into(), "10.1.2.3".into())],
        ..e.spec(
            &active,
            "exec 2>&1; hostname; cat /etc/hostname /etc/hosts /etc/resolv.conf; echo x > /etc/hosts",
        )
    };
    let (r, out) = run(&e.runc, spec).await;
    let err = r.unwrap_err().to_string();
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(
        out.starts_with("builder-1\nbuilder-1\n127.0.0.1\tlocalhost builder-1\n"),
        "{out}"
    );
    assert!(
        out.contains("10.1.2.3\tdb\n") && out.contains("nameserver 127.0.0.1\n"),
        "{out}"
    );
    let rootfs_etc = rootfs("amd64").join("etc");
    let SnapshotChanges::Upper(upper) = active.finish().await.unwrap() else {
        panic!("overlay")
    };
    // Mount stubs are gone; /etc may be copied up but keeps its times and is empty.
    let etc = upper.path().join("etc");
    if etc.exists() {
        assert_eq!(fs::read_dir(&etc).unwrap().count(), 0);
        assert_eq!(
            fs::metadata(&etc).unwrap().mtime(),
            fs::metadata(&rootfs_etc).unwrap().mtime()
        );
    }
    e.assert_clean().await;
}

#[tokio::test]
async fn writes_land_in_the_upper_dir_only() {
    let e = env("amd64");
    let active = e.active().await;
    let (r, _) = run(&e.runc, e.spec(&active, "echo hi > /newfile; rm /bin/cat")).await;
    r.unwrap();
    let SnapshotChanges::Upper(upper) = active.finish().await.unwrap() else {
        panic!("overlay")
    };
    let mut names: Vec<String> = fs::read_dir(upper.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.retain(|n| n != "etc" || fs::read_dir(upper.path().join("etc")).unwrap().count() > 0);
    assert_eq!(names, ["bin", "newfile"]);
    assert_eq!(
        fs::read_to_string(upper.path().join("newfile")).unwrap(),
        "hi\n"
    );
    assert_eq!(fs::read_dir(upper.path().join("bin")).unwrap().count(), 1);
    assert!(e
        .snaps
        .layer_dir(&chain_id(1))
        .unwrap()
        .join("bin/cat")
        .exists());
    assert!(!e
        .snaps
        .layer_dir(&chain_id(1))
        .unwrap()
        .join("newfile")
        .exists());
    e.assert_clean().await;
}

#[tokio::test]
async fn extra_mounts_and_resources() {
    let e = env("amd64");
    let active = e.active().await;
    let host = tempfile::tempdir().unwrap();
    fs::write(host.path().join("in"), "from host").unwrap();
    let rw = tempfile::tempdir().unwrap();
    let spec = RunSpec {
        mounts: vec![
            MountSpec::Bind { source: host.path().into(), target: "/ro".into(), access: Access::ReadOnly },
            MountSpec::Bind { source: rw.path().into(), target: "/rw".into(), access: Access::ReadWrite },
            MountSpec::Tmpfs { target: "/scratch".into(), size_bytes: Some(1 << 20) },
        ],
        resources: Resources { memory_bytes: Some(256 << 20), pids: Some(64) },
        ..e.spec(&active, "cat /ro/in; echo out > /rw/out; touch /ro/x 2>/dev/null && echo ro-writable; df -k /scratch | tail -n1")
    };
    let (r, out) = run(&e.runc, spec).await;
    r.unwrap();
    assert!(out.starts_with("from host"), "{out}");
    assert!(!out.contains("ro-writable"), "{out}");
    assert!(out.contains(" 1024 "), "tmpfs size: {out}");
    assert_eq!(fs::read_to_string(rw.path().join("out")).unwrap(), "out\n");
    let SnapshotChanges::Upper(upper) = active.finish().await.unwrap() else {
        panic!("overlay")
    };
    for stub in ["ro", "rw", "scratch"] {
        assert!(
            !upper.path().join(stub).exists(),
            "mount stub {stub} left in the diff"
        );
    }
    e.assert_clean().await;
}

#[tokio::test]
async fn cancellation_leaves_nothing_behind() {
    let e = env("amd64");
    let active = e.active().await;
    let cancel = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(8);
    // Cancel once the process has printed its line (it runs inside the container).
    let c = cancel.clone();
    let out = tokio::spawn(async move {
        let (mut text, mut cancelled_at) = (String::new(), None);
        while let Some(chunk) = rx.recv().await {
            text.push_str(&String::from_utf8_lossy(&chunk.data));
            if cancelled_at.is_none() && text.contains("started\n") {
                cancelled_at = Some(Instant::now());
                c.cancel();
            }
        }
        (text, cancelled_at)
    });
    let run = e.runc.run(
        e.spec(&active, "echo started; sleep 600"),
        ProcessIo { output: Some(tx) },
        cancel,
    );
    let r = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the container printed its line and was cancelled within 120 s");
    let returned = Instant::now();
    assert!(matches!(r, Err(ExecError::Cancelled { .. })), "{r:?}");
    let (text, cancelled_at) = out.await.unwrap();
    assert_eq!(text, "started\n");
    let cancelled_at = cancelled_at.expect("cancelled after the output");
    assert!(returned - cancelled_at < Duration::from_secs(20));
    active.cleanup().await.unwrap();
    e.assert_clean().await;
    // Cancelled before the container exists: still nothing left.
    let active = e.active().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = e
        .runc
        .run(e.spec(&active, "sleep 600"), ProcessIo::default(), cancel)
        .await;
    assert!(matches!(r, Err(ExecError::Cancelled { .. })), "{r:?}");
    active.cleanup().await.unwrap();
    e.assert_clean().await;
    assert!(
        cgroup_children_then_remove(&e.cgroup_parent).is_empty(),
        "container cgroups left"
    );
}

#[tokio::test]
async fn resource_limits_apply_to_the_container_cgroup() {
    let e = env("amd64");
    let active = e.active().await;
    let spec = RunSpec {
        resources: Resources {
            memory_bytes: Some(256 << 20),
            pids: Some(64),
        },
        ..e.spec(&active, "grep :pids: /proc/self/cgroup; sleep 3")
    };
    let (tx, mut rx) = mpsc::channel(8);
    let runc = e.runc.clone();
    let task = tokio::spawn(async move {
        runc.run(
            spec,
            ProcessIo { output: Some(tx) },
            CancellationToken::new(),
        )
        .await
    });
    let line = String::from_utf8(rx.recv().await.expect("the cgroup line").data).unwrap();
    let path = line.trim_end().split(':').nth(2).unwrap().to_string();
    assert!(
        path.starts_with(&format!("{}/slipway-", e.cgroup_parent)),
        "{path}"
    );
    let read =
        |f: &str| fs::read_to_string(format!("/sys/fs/cgroup/{f}")).map(|s| s.trim().to_string());
    assert_eq!(read(&format!("pids{path}/pids.max")).unwrap(), "64");
    assert_eq!(
        read(&format!("memory{path}/memory.limit_in_bytes")).unwrap(),
        "268435456"
    );
    task.await.unwrap().unwrap();
    assert!(
        !Path::new(&format!("/sys/fs/cgroup/pids{path}")).exists(),
        "cgroup left behind"
    );
    assert!(cgroup_children_then_remove(&e.cgroup_parent).is_empty());
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}

#[tokio::test]
async fn invalid_specs_fail_before_running_and_leave_nothing() {
    let e = env("amd64");
    let active = e.active().await;
    let cases = [
        (
            RunSpec {
                args: vec![],
                ..e.spec(&active, "")
            },
            "nothing to run",
        ),
        (
            RunSpec {
                cwd: "rel".into(),
                ..e.spec(&active, "true")
            },
            "working directory",
        ),
        (
            RunSpec {
                hostname: "bad host".into(),
                ..e.spec(&active, "true")
            },
            "hostname",
        ),
        (
            RunSpec {
                user: "ghost".into(),
                ..e.spec(&active, "true")
            },
            "unable to find user ghost",
        ),
        (
            RunSpec {
                mounts: vec![MountSpec::Tmpfs {
                    target: "rel".into(),
                    size_bytes: None,
                }],
                ..e.spec(&active, "true")
            },
            "mount target",
        ),
    ];
    for (spec, want) in cases {
        let (r, _) = run(&e.runc, spec).await;
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains(want), "{msg}");
        assert!(e.runc.bundles().unwrap().is_empty());
    }
    active.cleanup().await.unwrap();
    e.assert_clean().await;
}
