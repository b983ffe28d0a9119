//! USER in real containers (root only): the supplementary groups BuildKit v0.32 gives a
//! process, from the rootfs's /etc/group, with the primary group in front.

mod common;

use common::*;
use slipway_worker::executor::{ExecError, Executor, ProcessIo, RunSpec, Runc};
use slipway_worker::snapshot::Snapshotter;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The test rootfs's users with memberships: root and app in wheel, app in staff and, under a
/// second name with the same gid, in staff2.
const GROUP: &str = "root:x:0:root\nstaff:x:50:app\napp:x:1000:\nwheel:x:10:app,root\n# gone:x:77:app\nstaff2:x:50:app\nnogroup:x:65534:\n";

struct Env {
    _tmp: tempfile::TempDir,
    snaps: Snapshotter,
    runc: Runc,
    cgroup_parent: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        cgroup_children_then_remove(&self.cgroup_parent);
    }
}

fn env() -> Env {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let snaps = snapshotter(&tmp.path().join("data"));
    commit_copy(&snaps, &chain_id(1), None, &rootfs("amd64"));
    let cgroup_parent = format!("/slipway-test-{}", uuid::Uuid::new_v4().simple());
    let runc = runc_in(&tmp.path().join("runc"), &cgroup_parent);
    Env {
        _tmp: tmp,
        snaps,
        runc,
        cgroup_parent,
    }
}

/// Runs `script` as `user`; the output, or the error.
async fn run_as(
    runc: &Runc,
    rootfs: &std::path::Path,
    user: &str,
    script: &str,
) -> Result<String, ExecError> {
    let (tx, rx) = mpsc::channel(64);
    let out = tokio::spawn(collect(rx));
    let spec = RunSpec {
        rootfs: rootfs.to_path_buf(),
        args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        user: user.into(),
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
    r.map(|_| out)
}

/// The kernel's view of the process's groups (sorted, duplicates kept).
const GROUPS: &str = "grep '^Groups:' /proc/self/status | cut -f2";

#[tokio::test]
async fn supplementary_groups_come_from_etc_group_like_buildkit() {
    let e = env();
    let active = e.snaps.prepare_active(Some(&chain_id(1))).await.unwrap();
    std::fs::write(active.rootfs().join("etc/group"), GROUP).unwrap();
    let rootfs = active.rootfs().to_path_buf();

    // (USER, `Groups:` of /proc/self/status)
    let table = [
        // By name: the primary group and every group listing the name. The spec lists staff's
        // gid twice, as BuildKit's does; the runtime sets it once.
        ("app", "10 50 1000"),
        // A uid listed in passwd gets the same.
        ("1000", "10 50 1000"),
        // The default user is root by uid 0, so root's memberships apply too.
        ("", "0 10"),
        ("root", "0 10"),
        // An explicit group, or uid:gid, gives only that group.
        ("app:staff", "50"),
        ("app:65534", "65534"),
        ("1000:1000", "1000"),
        ("root:root", "0"),
        // A uid not in passwd: gid 0 and nothing else.
        ("4242", "0"),
    ];
    for (user, want) in table {
        let out = run_as(&e.runc, &rootfs, user, GROUPS)
            .await
            .unwrap_or_else(|err| panic!("USER {user:?}: {err}"));
        assert_eq!(out.trim_end(), want, "USER {user:?}");
    }

    let id = run_as(&e.runc, &rootfs, "app", "id").await.unwrap();
    assert!(
        id.starts_with("uid=1000(app) gid=1000(app) groups=")
            && id.contains("10(wheel)")
            && id.contains("50(staff)")
            && id.contains("1000(app)"),
        "{id}"
    );
    let err = run_as(&e.runc, &rootfs, "app:nope", "id")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find group nope: no matching entries in group file"
    );
    active.cleanup().await.unwrap();
}
