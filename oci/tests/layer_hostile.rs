//! A table of hostile layer tars: each is refused with a clear error naming the entry, and a
//! sentinel directory outside the root is untouched.

mod layer_common;

use layer_common::{raw_tar, snapshot, Raw};
use slipway_oci::layer::{apply_layer, ApplyError, ApplyOptions};
use std::path::Path;

struct Case {
    name: &'static str,
    entries: fn(outside: &str) -> Vec<Raw>,
    finish: bool,
    opts: ApplyOptions,
    expect: fn(&ApplyError) -> bool,
    /// Text the error message must contain (the offending entry).
    mentions: &'static str,
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        allow_devices: true,
        preserve_ownership: true,
        max_entry_size: 1 << 30,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "dotdot at start",
            entries: |_| vec![Raw::file("../x", b"pwned")],
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::Traversal { .. }),
            mentions: "../x",
        },
        Case {
            name: "dotdot in the middle",
            entries: |_| vec![Raw::dir("a/"), Raw::file("a/../../x", b"pwned")],
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::Traversal { .. }),
            mentions: "a/../../x",
        },
        Case {
            name: "absolute path",
            entries: |outside| vec![Raw::file(&format!("{outside}/abs"), b"pwned")],
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::Absolute { .. }),
            mentions: "/abs",
        },
        Case {
            name: "symlink to an absolute outside dir, then write through it",
            entries: |outside| {
                vec![
                    Raw::symlink("evil", outside),
                    Raw::file("evil/file", b"pwned"),
                ]
            },
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::SymlinkEscape { .. }),
            mentions: "evil/file",
        },
        Case {
            name: "relative symlink climbing out, then write through it",
            entries: |_| {
                vec![
                    Raw::dir("d/"),
                    Raw::symlink("d/up", "../../.."),
                    Raw::file("d/up/file", b"pwned"),
                ]
            },
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::SymlinkEscape { .. }),
            mentions: "d/up/file",
        },
        Case {
            name: "hardlink to a path outside via ..",
            entries: |_| vec![Raw::hardlink("link", "../../etc/passwd")],
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::HardlinkTarget { .. }),
            mentions: "link",
        },
        Case {
            name: "hardlink to an absolute path",
            entries: |outside| vec![Raw::hardlink("link", &format!("{outside}/sentinel"))],
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::HardlinkTarget { .. }),
            mentions: "sentinel",
        },
        Case {
            name: "hardlink through a symlink pointing outside",
            entries: |outside| {
                vec![
                    Raw::symlink("s", outside),
                    Raw::hardlink("link", "s/sentinel"),
                ]
            },
            finish: true,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::SymlinkEscape { .. }),
            mentions: "link",
        },
        Case {
            name: "device node when devices are not allowed (non-root)",
            entries: |_| vec![Raw::char_dev("dev/mem", 1, 1)],
            finish: true,
            opts: ApplyOptions {
                allow_devices: false,
                preserve_ownership: false,
                ..opts()
            },
            expect: |e| matches!(e, ApplyError::DeviceRefused { .. }),
            mentions: "dev/mem",
        },
        Case {
            name: "huge header size beyond the limit",
            entries: |_| {
                let mut r = Raw::file("big", b"0123456789");
                r.size = Some(1 << 40);
                vec![r]
            },
            finish: false,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::TooLarge { .. }),
            mentions: "big",
        },
        Case {
            name: "header size larger than the remaining stream",
            entries: |_| {
                let mut r = Raw::file("short", b"0123456789");
                r.size = Some(1 << 20);
                vec![r]
            },
            finish: false,
            opts: opts(),
            expect: |e| matches!(e, ApplyError::Truncated { .. }),
            mentions: "short",
        },
    ]
}

fn sentinel_dir(base: &Path) -> std::path::PathBuf {
    let outside = base.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("sentinel"), b"untouched").unwrap();
    outside
}

#[test]
fn hostile_tars_are_refused_and_nothing_escapes() {
    let mut failures = Vec::new();
    for case in cases() {
        let base = tempfile::tempdir().unwrap();
        let outside = sentinel_dir(base.path());
        let root = base.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let before = snapshot(&outside, true);
        let tar = raw_tar(&(case.entries)(outside.to_str().unwrap()), case.finish);
        let result = apply_layer(&tar[..], &root, &case.opts);
        match result {
            Ok(_) => failures.push(format!("{}: was accepted", case.name)),
            Err(e) => {
                if !(case.expect)(&e) {
                    failures.push(format!("{}: unexpected error {e:?}", case.name));
                }
                if !e.to_string().contains(case.mentions) {
                    failures.push(format!(
                        "{}: message {:?} does not name {:?}",
                        case.name,
                        e.to_string(),
                        case.mentions
                    ));
                }
            }
        }
        if snapshot(&outside, true) != before {
            failures.push(format!("{}: the sentinel directory changed", case.name));
        }
        if base.path().join("x").exists() || base.path().join("file").exists() {
            failures.push(format!("{}: a file appeared next to the root", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn symlinks_inside_the_root_are_followed_for_parents() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let tar = raw_tar(
        &[
            Raw::dir("usr/"),
            Raw::dir("usr/lib/"),
            Raw::symlink("lib", "usr/lib"),
            Raw::file("lib/x.so", b"elf"),
        ],
        true,
    );
    apply_layer(&tar[..], &root, &opts()).unwrap();
    assert_eq!(std::fs::read(root.join("usr/lib/x.so")).unwrap(), b"elf");
    assert!(std::fs::symlink_metadata(root.join("lib"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_dangling_symlink_is_stored_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let outside = sentinel_dir(base.path());
    let root = base.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let target = outside.join("sentinel");
    // A symlink to the sentinel, then a regular file with the same name: the file replaces the
    // link, it is never written through it.
    let tar = raw_tar(
        &[
            Raw::symlink("s", target.to_str().unwrap()),
            Raw::file("s", b"replaced"),
        ],
        true,
    );
    apply_layer(&tar[..], &root, &opts()).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    assert_eq!(std::fs::read(root.join("s")).unwrap(), b"replaced");
}

#[test]
fn whiteouts_delete_and_opaque_dirs_hide_lower_content() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    std::fs::create_dir_all(root.join("d/sub")).unwrap();
    std::fs::write(root.join("gone"), b"x").unwrap();
    std::fs::write(root.join("d/old"), b"x").unwrap();
    std::fs::write(root.join("d/sub/old"), b"x").unwrap();
    let tar = raw_tar(
        &[
            Raw::file(".wh.gone", b""),
            Raw::dir("d/"),
            Raw::file("d/.wh..wh..opq", b""),
            Raw::file("d/new", b"n"),
            Raw::file(".wh.never-existed", b""),
        ],
        true,
    );
    apply_layer(&tar[..], &root, &opts()).unwrap();
    assert!(!root.join("gone").exists());
    assert!(!root.join("d/old").exists() && !root.join("d/sub").exists());
    assert_eq!(std::fs::read(root.join("d/new")).unwrap(), b"n");
    assert!(!root.join("d/.wh..wh..opq").exists() && !root.join(".wh.gone").exists());
}
