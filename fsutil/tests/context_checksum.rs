//! Context listings and checksums: content-addressed, mtime-blind, cache-aware.

use slipway_fsutil::{checksum, walk_context, ChecksumOptions, EntryKind, FsError, WalkOptions};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "alpha");
    write(dir.path(), "src/main.rs", "fn main() {}");
    write(dir.path(), "src/lib/mod.rs", "pub mod x;");
    symlink("src/main.rs", dir.path().join("link")).unwrap();
    dir
}

fn sum(root: &Path, sel: &[&str]) -> String {
    let l = walk_context(root, &WalkOptions::default()).unwrap().listing;
    checksum(&l, sel, &ChecksumOptions::default())
        .unwrap()
        .to_string()
}

fn set_mtime(p: &Path, secs: u64) {
    let f = std::fs::File::options().write(true).open(p).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn listing_is_sorted_and_content_addressed() {
    let dir = sample();
    let r = walk_context(dir.path(), &WalkOptions::default()).unwrap();
    assert_eq!(
        r.listing.paths(),
        vec![
            "a.txt",
            "link",
            "src",
            "src/lib",
            "src/lib/mod.rs",
            "src/main.rs"
        ]
    );
    let a = r.listing.get("a.txt").unwrap();
    assert_eq!(a.kind, EntryKind::File);
    assert_eq!(a.size, 5);
    assert_eq!(
        a.digest.as_ref().unwrap(),
        &slipway_graph::Digest::of_bytes(b"alpha")
    );
    let link = r.listing.get("link").unwrap();
    assert_eq!(link.kind, EntryKind::Symlink);
    assert_eq!(link.link_target.as_deref(), Some("src/main.rs"));
    assert!(link.digest.is_none());
    assert_eq!(r.listing.get("src").unwrap().kind, EntryKind::Dir);
    assert_eq!(r.stats.hashed, 3);
}

#[test]
fn second_walk_rehashes_only_changed_files() {
    let dir = sample();
    let first = walk_context(dir.path(), &WalkOptions::default()).unwrap();
    // The cache survives serialization.
    let json = serde_json::to_string(&first.cache).unwrap();
    let cache: slipway_fsutil::HashCache = serde_json::from_str(&json).unwrap();
    let opts = WalkOptions {
        previous: Some(&cache),
        ..WalkOptions::default()
    };
    let second = walk_context(dir.path(), &opts).unwrap();
    assert_eq!(second.stats.hashed, 0);
    assert_eq!(second.stats.reused, 3);
    assert_eq!(first.listing, second.listing);

    write(dir.path(), "a.txt", "ALPHA");
    let third = walk_context(dir.path(), &opts).unwrap();
    assert_eq!(third.stats.hashed, 1);
    assert_eq!(third.stats.reused, 2);
    assert_eq!(
        third.listing.get("a.txt").unwrap().digest.as_ref().unwrap(),
        &slipway_graph::Digest::of_bytes(b"ALPHA")
    );
}

#[test]
fn mtime_does_not_change_the_checksum() {
    let dir = sample();
    let before = sum(dir.path(), &["/"]);
    let before_file = sum(dir.path(), &["a.txt"]);
    set_mtime(&dir.path().join("a.txt"), 1_000_000);
    set_mtime(&dir.path().join("src/main.rs"), 2_000_000);
    assert_eq!(sum(dir.path(), &["/"]), before);
    assert_eq!(sum(dir.path(), &["a.txt"]), before_file);
}

#[test]
fn content_mode_owner_and_link_changes_do() {
    let dir = sample();
    let whole = sum(dir.path(), &["."]);
    let src = sum(dir.path(), &["src"]);
    let a = sum(dir.path(), &["/a.txt"]);

    write(dir.path(), "src/lib/mod.rs", "pub mod y;");
    assert_ne!(sum(dir.path(), &["src"]), src, "nested content");
    assert_ne!(sum(dir.path(), &["."]), whole);
    assert_eq!(sum(dir.path(), &["a.txt"]), a, "unrelated path unchanged");

    let p = dir.path().join("a.txt");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_ne!(sum(dir.path(), &["a.txt"]), a, "mode");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let a644 = sum(dir.path(), &["a.txt"]);
    std::os::unix::fs::lchown(&p, Some(4321), Some(4321)).unwrap();
    assert_ne!(sum(dir.path(), &["a.txt"]), a644, "owner");

    let l = sum(dir.path(), &["link"]);
    std::fs::remove_file(dir.path().join("link")).unwrap();
    symlink("a.txt", dir.path().join("link")).unwrap();
    assert_ne!(sum(dir.path(), &["link"]), l, "link target");

    let s = sum(dir.path(), &["src"]);
    write(dir.path(), "src/new.rs", "");
    assert_ne!(sum(dir.path(), &["src"]), s, "added child");
}

#[test]
fn selectors_wildcards_and_follow() {
    let dir = sample();
    write(dir.path(), "b.txt", "beta");
    let l = walk_context(dir.path(), &WalkOptions::default())
        .unwrap()
        .listing;
    let opts = ChecksumOptions::default();
    let star = checksum(&l, &["*.txt"], &opts).unwrap();
    assert_ne!(star, checksum(&l, &["a.txt"], &opts).unwrap());
    assert!(matches!(
        checksum(&l, &["*.md"], &opts),
        Err(FsError::NoSourceMatched { .. })
    ));
    let empty_ok = ChecksumOptions {
        allow_empty_wildcard: true,
        ..opts
    };
    assert!(checksum(&l, &["*.md"], &empty_ok).is_ok());
    assert!(matches!(
        checksum(&l, &["missing"], &opts),
        Err(FsError::SourceNotFound { .. })
    ));
    // Following the link checksums its target's content.
    let follow = ChecksumOptions {
        follow_links: true,
        ..opts
    };
    let via_link = checksum(&l, &["link"], &follow).unwrap();
    let no_follow = checksum(&l, &["link"], &opts).unwrap();
    assert_ne!(via_link, no_follow);
    write(dir.path(), "src/main.rs", "changed");
    let l2 = walk_context(dir.path(), &WalkOptions::default())
        .unwrap()
        .listing;
    assert_ne!(checksum(&l2, &["link"], &follow).unwrap(), via_link);
    assert_eq!(checksum(&l2, &["link"], &opts).unwrap(), no_follow);
}
