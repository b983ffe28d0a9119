//! Round trips through a real overlayfs: changes made in the merged view -> layer produced from
//! the upper dir -> applied onto a copy of the lower dir == the merged view. Also the plain
//! two-tree diff of the same change. Needs root (mount); fails clearly otherwise.

mod layer_common;

use layer_common::snapshot;
use slipway_oci::layer::{
    apply_layer, write_diff_layer, write_overlay_layer, ApplyOptions, CompressionOptions,
    LayerOptions,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn sh(script: &str, dir: &Path) {
    let st = Command::new("sh")
        .arg("-ec")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "script failed: {script}");
}

fn set_xattr(p: &Path, key: &str, value: &[u8]) {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let k = std::ffi::CString::new(key).unwrap();
    // SAFETY: valid C strings and buffer.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(rc, 0, "setxattr {key} on {}", p.display());
}

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = nix::mount::umount(&self.0);
    }
}

#[test]
fn overlay_upper_and_tree_diff_round_trip() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test mounts overlayfs and must run as root"
    );
    let base = tempfile::tempdir().unwrap();
    let b = base.path();
    for d in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(b.join(d)).unwrap();
    }
    let lower = b.join("lower");
    sh(
        "mkdir -p d/sub keep deep/er/est; echo a > a.txt; echo x > d/x; echo y > d/sub/y; \
         echo k > keep/k; echo del > del.txt; echo z > deep/er/est/z; ln -s a.txt link; \
         echo h > hard1; ln hard1 hard2; chmod 0755 keep",
        &lower,
    );
    let merged = b.join("merged");
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        b.join("upper").display(),
        b.join("work").display()
    );
    nix::mount::mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(opts.as_str()),
    )
    .expect("mount -t overlay (overlayfs must be available)");
    let guard = Mount(merged.clone());
    sh(
        "echo changed > a.txt; rm del.txt; rm -rf d; mkdir d; echo new > d/new; rm -rf deep/er; \
         echo added > added.txt; mkdir -p n/e/w; echo w > n/e/w/f; ln -sf d/new link; \
         chmod 0700 keep; mkfifo pipe; echo s > suid; chmod 4755 suid; \
         echo l1 > l1; ln l1 l2",
        &merged,
    );
    set_xattr(&merged.join("added.txt"), "user.slipway", b"yes");
    std::fs::set_permissions(merged.join("n"), std::fs::Permissions::from_mode(0o750)).unwrap();
    // Freeze the merged view as a plain tree for the diff test and the comparison.
    let frozen = b.join("frozen");
    sh(
        &format!("cp -a {}/. {}/", merged.display(), {
            std::fs::create_dir(&frozen).unwrap();
            frozen.display()
        }),
        b,
    );
    let expected = snapshot(&merged, false);
    drop(guard);

    let layer_opts = LayerOptions {
        compression: CompressionOptions::gzip(),
        ..Default::default()
    };
    let (blob, info) = write_overlay_layer(&b.join("upper"), Vec::new(), &layer_opts).unwrap();
    let target = b.join("target");
    sh(
        &format!("cp -a {}/. {}/", lower.display(), {
            std::fs::create_dir(&target).unwrap();
            target.display()
        }),
        b,
    );
    let stats = apply_layer(&blob[..], &target, &ApplyOptions::default()).unwrap();
    assert_eq!(stats.diff_id, info.diff_id);
    let got = snapshot(&target, false);
    assert_eq!(
        got, expected,
        "overlay layer applied onto lower != merged view"
    );
    assert!(
        !target.join("d/x").exists(),
        "opaque dir kept lower content"
    );
    assert!(!target.join("deep/er").exists());

    let (blob, _) = write_diff_layer(&lower, &frozen, Vec::new(), &layer_opts).unwrap();
    let target2 = b.join("target2");
    sh(
        &format!("cp -a {}/. {}/", lower.display(), {
            std::fs::create_dir(&target2).unwrap();
            target2.display()
        }),
        b,
    );
    apply_layer(&blob[..], &target2, &ApplyOptions::default()).unwrap();
    assert_eq!(
        snapshot(&target2, false),
        snapshot(&frozen, false),
        "tree-diff layer applied onto lower != upper tree"
    );
}

#[test]
fn unchanged_trees_give_an_empty_diff() {
    let base = tempfile::tempdir().unwrap();
    let b = base.path();
    std::fs::create_dir(b.join("lower")).unwrap();
    sh(
        "mkdir -p x/y; echo 1 > x/y/f; ln -s f x/l",
        &b.join("lower"),
    );
    sh("cp -a lower upper", b);
    let entries = slipway_oci::layer::diff_entries(&b.join("lower"), &b.join("upper")).unwrap();
    assert!(entries.is_empty(), "{entries:?}");
    // Same size, same mtime to the second, different content: still detected.
    sh(
        "echo 2 > upper/x/y/f; touch -d @1000000 lower/x/y/f upper/x/y/f",
        b,
    );
    let entries = slipway_oci::layer::diff_entries(&b.join("lower"), &b.join("upper")).unwrap();
    let names: Vec<String> = entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.path).into_owned())
        .collect();
    assert!(names.contains(&"x/y/f".to_string()), "{names:?}");
}
