//! Snapshots with real overlayfs mounts (root only).

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use common::*;
use nix::sys::stat::{mknod, Mode, SFlag};
use slipway_worker::snapshot::{
    BackendChoice, SnapshotBackend, SnapshotChanges, Snapshotter, SnapshotterConfig,
};

fn whiteout(path: &Path) {
    mknod(path, SFlag::S_IFCHR, Mode::from_bits_truncate(0o000), 0).unwrap();
}

/// base: /a, /d/x, /keep ; second: whiteout /a, adds /b.
fn two_layers(s: &Snapshotter) {
    let base = s.prepare_layer_dir(&chain_id(1), None).unwrap();
    fs::write(base.path().join("a"), "a").unwrap();
    fs::create_dir(base.path().join("d")).unwrap();
    fs::write(base.path().join("d/x"), "x").unwrap();
    fs::write(base.path().join("keep"), "keep").unwrap();
    s.commit(base).unwrap();
    let second = s
        .prepare_layer_dir(&chain_id(2), Some(&chain_id(1)))
        .unwrap();
    whiteout(&second.path().join("a"));
    fs::write(second.path().join("b"), "b").unwrap();
    s.commit(second).unwrap();
}

fn is_whiteout(p: &Path) -> bool {
    fs::symlink_metadata(p)
        .map(|m| m.file_type().is_char_device() && m.rdev() == 0)
        .unwrap_or(false)
}

#[tokio::test]
async fn overlay_active_snapshot_writes_only_to_upper() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let s = snapshotter(tmp.path());
    assert_eq!(s.backend(), SnapshotBackend::Overlay);
    two_layers(&s);
    assert_eq!(s.chain(&chain_id(2)).unwrap().len(), 2);

    let active = s.prepare_active(Some(&chain_id(2))).await.unwrap();
    let root = active.rootfs().to_path_buf();
    assert_eq!(mounts_under(tmp.path()).len(), 1);
    assert!(!root.join("a").exists());
    assert_eq!(fs::read_to_string(root.join("b")).unwrap(), "b");
    assert_eq!(fs::read_to_string(root.join("d/x")).unwrap(), "x");
    fs::write(root.join("new"), "new").unwrap();
    fs::remove_file(root.join("d/x")).unwrap();

    let changes = active.finish().await.unwrap();
    assert!(mounts_under(tmp.path()).is_empty());
    let SnapshotChanges::Upper(upper) = changes else {
        panic!("overlay gives an upper dir")
    };
    assert_eq!(fs::read_to_string(upper.path().join("new")).unwrap(), "new");
    assert!(is_whiteout(&upper.path().join("d/x")));
    assert!(!upper.path().join("keep").exists() && !upper.path().join("b").exists());
    // The committed layers are untouched.
    assert!(s.layer_dir(&chain_id(1)).unwrap().join("d/x").is_file());

    s.commit_changes(
        SnapshotChanges::Upper(upper),
        &chain_id(3),
        Some(&chain_id(2)),
    )
    .unwrap();
    assert_eq!(s.chain(&chain_id(3)).unwrap().len(), 3);
    assert!(s.layer_dir(&chain_id(3)).unwrap().join("new").is_file());
    assert_eq!(fs::read_dir(tmp.path().join("active")).unwrap().count(), 0);
}

#[tokio::test]
async fn copy_backend_merges_the_chain() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshotter::open(SnapshotterConfig {
        data_dir: tmp.path().into(),
        backend: BackendChoice::Copy,
    })
    .unwrap();
    assert_eq!(s.backend(), SnapshotBackend::Copy);
    two_layers(&s);
    let active = s.prepare_active(Some(&chain_id(2))).await.unwrap();
    assert!(mounts_under(tmp.path()).is_empty());
    let root = active.rootfs().to_path_buf();
    assert!(!root.join("a").exists());
    assert_eq!(fs::read_to_string(root.join("d/x")).unwrap(), "x");
    fs::write(root.join("new"), "new").unwrap();
    let SnapshotChanges::FullTree { root: tree, base } = active.finish().await.unwrap() else {
        panic!("copy gives a full tree")
    };
    assert_eq!(base, Some(chain_id(2)));
    for f in ["b", "keep", "new", "d/x"] {
        assert!(tree.path().join(f).is_file(), "{f}");
    }
    let full = SnapshotChanges::FullTree { root: tree, base };
    let err = s
        .commit_changes(full, &chain_id(3), Some(&chain_id(2)))
        .unwrap_err();
    assert!(matches!(
        err,
        slipway_worker::snapshot::SnapshotError::NotADiff { .. }
    ));
    assert!(!s.contains(&chain_id(3)));
    let active_dir = tmp.path().join("active");
    assert_eq!(fs::read_dir(active_dir).unwrap().count(), 0);
}

#[tokio::test]
async fn dropped_and_crashed_snapshots_leave_no_mount() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let s = snapshotter(tmp.path());
    two_layers(&s);
    let active = s.prepare_active(Some(&chain_id(2))).await.unwrap();
    drop(active);
    assert!(mounts_under(tmp.path()).is_empty());
    assert_eq!(fs::read_dir(tmp.path().join("active")).unwrap().count(), 0);

    // A crash: the guard never runs. Reopening the data dir cleans up.
    let active = s.prepare_active(Some(&chain_id(2))).await.unwrap();
    std::mem::forget(active);
    assert_eq!(mounts_under(tmp.path()).len(), 1);
    let second = Snapshotter::open(SnapshotterConfig {
        data_dir: tmp.path().into(),
        ..Default::default()
    });
    assert!(matches!(
        second,
        Err(slipway_worker::snapshot::SnapshotError::Locked { .. })
    ));
    drop(s);
    let reopened = snapshotter(tmp.path());
    assert!(mounts_under(tmp.path()).is_empty());
    assert_eq!(fs::read_dir(tmp.path().join("active")).unwrap().count(), 0);
    assert!(reopened.contains(&chain_id(2)));

    let cleaned = reopened.prepare_active(Some(&chain_id(1))).await.unwrap();
    cleaned.cleanup().await.unwrap();
    assert!(mounts_under(tmp.path()).is_empty());
}

#[tokio::test]
async fn long_chain_mounts_with_relative_lowerdirs() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    // 100 layers under a ~250-byte data dir path: ~27 KB of absolute lowerdirs.
    let deep = tmp.path().join("d".repeat(120)).join("e".repeat(120));
    let s = snapshotter(&deep);
    let mut parent = None;
    for i in 1..=100u64 {
        let id = chain_id(i);
        let p = s.prepare_layer_dir(&id, parent.as_ref()).unwrap();
        fs::write(p.path().join(format!("f{i}")), i.to_string()).unwrap();
        fs::write(p.path().join("top"), i.to_string()).unwrap();
        s.commit(p).unwrap();
        parent = Some(id);
    }
    let active = s.prepare_active(parent.as_ref()).await.unwrap();
    let root = active.rootfs();
    assert_eq!(fs::read_to_string(root.join("top")).unwrap(), "100");
    assert_eq!(fs::read_to_string(root.join("f1")).unwrap(), "1");
    assert_eq!(fs::read_to_string(root.join("f57")).unwrap(), "57");
    active.cleanup().await.unwrap();
    assert!(mounts_under(tmp.path()).is_empty());
}

#[tokio::test]
async fn scratch_and_missing_parents() {
    require_root();
    let tmp = tempfile::tempdir().unwrap();
    let s = snapshotter(tmp.path());
    let err = s
        .prepare_layer_dir(&chain_id(2), Some(&chain_id(1)))
        .unwrap_err();
    assert!(err.to_string().contains("is not committed"), "{err}");
    assert!(s.prepare_active(Some(&chain_id(9))).await.is_err());
    let active = s.prepare_active(None).await.unwrap();
    fs::write(active.rootfs().join("f"), "f").unwrap();
    let SnapshotChanges::Upper(upper) = active.finish().await.unwrap() else {
        panic!("scratch gives an upper dir")
    };
    assert!(upper.path().join("f").is_file());
    // Committing the same chain ID twice keeps the first.
    let p = s.prepare_layer_dir(&chain_id(1), None).unwrap();
    s.commit(p).unwrap();
    let p = s.prepare_layer_dir(&chain_id(1), None).unwrap();
    fs::write(p.path().join("second"), "").unwrap();
    s.commit(p).unwrap();
    assert!(!s.layer_dir(&chain_id(1)).unwrap().join("second").exists());
    assert_eq!(fs::read_dir(tmp.path().join("staging")).unwrap().count(), 0);
}
