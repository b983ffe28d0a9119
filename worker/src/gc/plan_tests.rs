use std::time::Duration;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)
}

fn item(kind: ItemKind, id: &str, bytes: u64, age: Duration) -> UsageItem {
    UsageItem {
        kind,
        id: id.into(),
        bytes,
        last_used: now() - age,
        pinned: false,
        referenced: false,
        parent: None,
    }
}

fn snap(id: &str, parent: Option<&str>, age: Duration) -> UsageItem {
    UsageItem {
        parent: parent.map(String::from),
        ..item(ItemKind::Snapshot, id, 100, age)
    }
}

fn ids(items: &[UsageItem], order: &[usize]) -> Vec<String> {
    order.iter().map(|&i| items[i].id.clone()).collect()
}

#[test]
fn all_removes_everything_but_pinned_children_first() {
    let mut pinned = item(ItemKind::Blob, "b-pinned", 10, HOUR * 100);
    pinned.pinned = true;
    let items = vec![
        snap("base", None, HOUR),
        snap("child", Some("base"), HOUR),
        snap("grandchild", Some("child"), HOUR),
        pinned,
        item(ItemKind::Blob, "b-loose", 10, HOUR),
    ];
    let opts = GcOptions {
        all: true,
        ..GcOptions::default()
    };
    let order = plan(&items, &opts, now());
    assert_eq!(
        ids(&items, &order),
        ["grandchild", "child", "base", "b-loose"]
    );
}

#[test]
fn old_parent_of_a_recent_child_is_kept() {
    let items = vec![
        snap("base", None, HOUR * 48),
        snap("recent", Some("base"), HOUR),
        snap("stale", Some("base"), HOUR * 48),
        item(ItemKind::Blob, "b-old", 10, HOUR * 48),
        item(ItemKind::Blob, "b-new", 10, HOUR),
    ];
    let opts = GcOptions {
        keep_duration: Some(HOUR * 24),
        ..GcOptions::default()
    };
    assert_eq!(ids(&items, &plan(&items, &opts, now())), ["stale", "b-old"]);
}

#[test]
fn keep_bytes_removes_least_recently_used_until_under() {
    let items = vec![
        item(ItemKind::Blob, "oldest", 100, HOUR * 3),
        item(ItemKind::Blob, "middle", 100, HOUR * 2),
        item(ItemKind::Blob, "newest", 100, HOUR),
    ];
    let opts = GcOptions {
        keep_bytes: Some(150),
        ..GcOptions::default()
    };
    assert_eq!(
        ids(&items, &plan(&items, &opts, now())),
        ["oldest", "middle"]
    );
    let opts = GcOptions {
        keep_bytes: Some(300),
        ..GcOptions::default()
    };
    assert!(plan(&items, &opts, now()).is_empty());
}

#[test]
fn keep_bytes_takes_a_snapshot_with_its_descendants() {
    // base is old but its child is the newest: base's effective use is the child's.
    let items = vec![
        snap("base", None, HOUR * 10),
        snap("child", Some("base"), HOUR),
        item(ItemKind::Blob, "blob", 100, HOUR * 5),
    ];
    let opts = GcOptions {
        keep_bytes: Some(200),
        ..GcOptions::default()
    };
    assert_eq!(ids(&items, &plan(&items, &opts, now())), ["blob"]);
    let opts = GcOptions {
        keep_bytes: Some(50),
        ..GcOptions::default()
    };
    assert_eq!(
        ids(&items, &plan(&items, &opts, now())),
        ["child", "base", "blob"]
    );
}

#[test]
fn default_removes_only_dangling() {
    let mut recorded = snap("recorded", Some("base"), HOUR);
    recorded.referenced = true;
    let mut named = item(ItemKind::Blob, "named", 10, HOUR);
    named.referenced = true;
    let mut mount = item(ItemKind::CacheMount, "m", 10, HOUR * 1000);
    mount.referenced = true;
    let items = vec![
        snap("base", None, HOUR),
        recorded,
        snap("orphan", Some("base"), HOUR),
        named,
        item(ItemKind::Blob, "loose", 10, HOUR),
        mount,
    ];
    let opts = GcOptions {
        include_cache_mounts: true,
        ..GcOptions::default()
    };
    assert_eq!(
        ids(&items, &plan(&items, &opts, now())),
        ["orphan", "loose"]
    );
}

#[test]
fn cache_mounts_only_when_included() {
    let items = vec![item(ItemKind::CacheMount, "m", 10, HOUR * 1000)];
    let all = GcOptions {
        all: true,
        ..GcOptions::default()
    };
    assert!(plan(&items, &all, now()).is_empty());
    let with = GcOptions {
        include_cache_mounts: true,
        ..all
    };
    assert_eq!(ids(&items, &plan(&items, &with, now())), ["m"]);
}

#[test]
fn options_validate() {
    assert!(GcOptions::default().validate().is_ok());
    let zero = GcOptions {
        keep_duration: Some(Duration::ZERO),
        ..GcOptions::default()
    };
    assert!(zero.validate().is_err());
    let both = GcOptions {
        all: true,
        keep_bytes: Some(1),
        ..GcOptions::default()
    };
    assert!(both.validate().is_err());
}

#[test]
fn all_with_a_duration_removes_only_the_old() {
    let items = vec![
        item(ItemKind::Blob, "old", 10, HOUR * 48),
        item(ItemKind::Blob, "new", 10, HOUR),
        snap("orphaned-parent", Some("not-here"), HOUR * 48),
    ];
    let opts = GcOptions {
        all: true,
        keep_duration: Some(HOUR * 24),
        ..GcOptions::default()
    };
    assert_eq!(
        ids(&items, &plan(&items, &opts, now())),
        ["orphaned-parent", "old"]
    );
    let far = GcOptions {
        keep_duration: Some(Duration::from_secs(u64::MAX / 4)),
        ..opts
    };
    assert!(plan(&items, &far, now()).is_empty());
}
