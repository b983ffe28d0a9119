use super::*;
use crate::context::{walk_context, WalkOptions};

fn dir(path: &str) -> ManifestEntry {
    ManifestEntry {
        path: path.into(),
        kind: EntryKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 1,
        mtime_nsec: 0,
        link_target: None,
        digest: None,
    }
}

fn file(path: &str, content: &[u8]) -> ManifestEntry {
    ManifestEntry {
        kind: EntryKind::File,
        mode: 0o644,
        size: content.len() as u64,
        digest: Some(Digest::of_bytes(content)),
        ..dir(path)
    }
}

fn link(path: &str, target: &str) -> ManifestEntry {
    ManifestEntry {
        kind: EntryKind::Symlink,
        mode: 0o777,
        link_target: Some(target.into()),
        ..dir(path)
    }
}

fn round_trip(m: &ContextManifest) -> ContextManifest {
    let enc = m.encode().unwrap();
    assert_eq!(enc.index.digest, Digest::of_bytes(&enc.index.bytes));
    let refs = parse_index(&enc.index.bytes).unwrap();
    assert_eq!(refs.len(), enc.pages.len());
    let pages = refs
        .iter()
        .zip(&enc.pages)
        .map(|(r, p)| {
            assert_eq!(r.digest, Digest::of_bytes(&p.bytes));
            parse_page(&p.bytes, r).unwrap()
        })
        .collect();
    ContextManifest::from_pages(pages).unwrap()
}

#[test]
fn walked_context_round_trips_through_index_and_pages() {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::create_dir(ctx.path().join("src")).unwrap();
    std::fs::write(ctx.path().join("src/a.txt"), "a").unwrap();
    std::os::unix::fs::symlink("a.txt", ctx.path().join("src/link")).unwrap();
    let walk = walk_context(ctx.path(), &WalkOptions::default()).unwrap();
    let m = ContextManifest::from_listing(ctx.path(), &walk.listing).unwrap();
    let paths: Vec<&str> = m.entries().iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["Dockerfile", "src", "src/a.txt", "src/link"]);
    assert!(m.entries().iter().all(|e| e.mtime > 0));
    assert_eq!(m.files().count(), 2);
    assert_eq!(m.file_bytes(), 14);
    assert_eq!(round_trip(&m), m);
    // same manifest, same bytes
    assert_eq!(m.encode().unwrap(), m.encode().unwrap());
}

#[test]
fn pages_are_content_defined_so_one_change_touches_one_page() {
    let mut entries = vec![dir("d")];
    for i in 0..5000 {
        entries.push(file(&format!("d/f{i:05}"), format!("{i}").as_bytes()));
    }
    let m = ContextManifest::new(entries.clone()).unwrap();
    let enc = m.encode().unwrap();
    assert!(enc.pages.len() > 10, "{} pages", enc.pages.len());
    assert_eq!(round_trip(&m), m);

    // change one file and add one: at most two pages differ
    entries[2500] = file("d/f02499", b"changed");
    entries.insert(4000, file("d/f03998x", b"new"));
    let m2 = ContextManifest::new(entries).unwrap();
    let enc2 = m2.encode().unwrap();
    let old: HashSet<&Digest> = enc.pages.iter().map(|p| &p.digest).collect();
    let new_pages = enc2
        .pages
        .iter()
        .filter(|p| !old.contains(&p.digest))
        .count();
    assert!(new_pages <= 2, "{new_pages} pages changed");
    assert_ne!(enc.index.digest, enc2.index.digest);
}

#[test]
fn hostile_paths_are_refused() {
    for bad in [
        "",
        "/etc/passwd",
        "..",
        "../x",
        "a/../../x",
        "./a",
        "a//b",
        "a/",
        "a/.",
        "nul\0byte",
    ] {
        let e = ContextManifest::new(vec![file(bad, b"x")]).unwrap_err();
        assert!(matches!(e, ManifestError::Entry { .. }), "{bad:?}: {e}");
    }
}

#[test]
fn writing_through_a_symlink_or_an_unlisted_parent_is_refused() {
    // "l" is a symlink, so "l/evil" would be written through it
    let e = ContextManifest::new(vec![link("l", "/etc"), file("l/evil", b"x")]).unwrap_err();
    assert!(e.to_string().contains("parent"), "{e}");
    let e = ContextManifest::new(vec![file("f", b"x"), file("f/g", b"x")]).unwrap_err();
    assert!(e.to_string().contains("parent"), "{e}");
    let e = ContextManifest::new(vec![file("missing/x", b"x")]).unwrap_err();
    assert!(e.to_string().contains("parent"), "{e}");
}

#[test]
fn duplicates_disorder_and_bad_entries_are_refused() {
    let cases: Vec<(Vec<ManifestEntry>, &str)> = vec![
        (vec![file("a", b"1"), file("a", b"2")], "order"),
        (vec![file("b", b"1"), file("a", b"2")], "order"),
        (vec![dir("d"), dir("d")], "order"),
        (
            vec![ManifestEntry {
                digest: None,
                ..file("a", b"1")
            }],
            "digest",
        ),
        (
            vec![ManifestEntry {
                mode: 0o100644,
                ..file("a", b"1")
            }],
            "mode",
        ),
        (
            vec![ManifestEntry {
                link_target: None,
                ..link("l", "x")
            }],
            "target",
        ),
        (
            vec![ManifestEntry {
                kind: EntryKind::CharDevice,
                ..dir("dev")
            }],
            "only files",
        ),
        (
            vec![ManifestEntry {
                mtime_nsec: 2_000_000_000,
                ..file("a", b"1")
            }],
            "mtime",
        ),
    ];
    for (entries, want) in cases {
        let e = ContextManifest::new(entries.clone()).unwrap_err();
        assert!(e.to_string().contains(want), "{entries:?}: {e}");
    }
}

#[test]
fn hostile_blobs_are_refused() {
    // wrong media type, unknown fields, garbage
    for index in [
        &br#"{"mediaType":"application/json","pages":[]}"#[..],
        br#"{"mediaType":"application/vnd.slipway.context.manifest.v1+json","pages":[],"x":1}"#,
        b"not json",
    ] {
        assert!(parse_index(index).is_err());
    }
    let m = ContextManifest::new(vec![file("a", b"1"), file("b", b"2")]).unwrap();
    let enc = m.encode().unwrap();
    let r = parse_index(&enc.index.bytes).unwrap();
    let (Some(r), Some(page)) = (r.first(), enc.pages.first()) else {
        panic!("one page expected");
    };
    // entry count and size must match the index
    let wrong_count = PageRef {
        entries: 3,
        ..r.clone()
    };
    assert!(matches!(
        parse_page(&page.bytes, &wrong_count),
        Err(ManifestError::PageEntries { .. })
    ));
    let truncated = page.bytes.get(..page.bytes.len() - 4).unwrap();
    let short = PageRef {
        size: truncated.len() as u64,
        ..r.clone()
    };
    assert!(parse_page(truncated, &short).is_err());
    assert!(matches!(
        parse_page(truncated, r),
        Err(ManifestError::PageSize { .. })
    ));
    // a page that is not gzip
    let plain = br#"{"entries":[]}"#;
    let not_gz = PageRef {
        size: plain.len() as u64,
        entries: 0,
        digest: Digest::of_bytes(plain),
    };
    assert!(matches!(
        parse_page(plain, &not_gz),
        Err(ManifestError::Gzip { .. })
    ));
}
