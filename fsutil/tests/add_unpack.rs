//! ADD of local archives: auto-extraction for each compression, safety against hostile
//! archives, and plain copy for files that are not archives.

use slipway_fsutil::{apply_file_op, ApplyOptions, FsError};
use slipway_graph::{CopyAction, FileAction, FileOp};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Entry kinds for building test archives (raw names, so hostile ones are possible).
enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn header(name: &str, kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    let bytes = name.as_bytes();
    let old = h.as_old_mut();
    old.name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(1000);
    h.set_gid(1000);
    h.set_mtime(1_600_000_000);
    h
}

fn tar_bytes(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::Dir(n) => {
                let mut h = header(n, tar::EntryType::Directory, 0, 0o755);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            E::File(n, data) => {
                let mut h = header(n, tar::EntryType::Regular, data.len() as u64, 0o640);
                h.set_cksum();
                b.append(&h, data.as_bytes()).unwrap();
            }
            E::Link(n, target) | E::Hard(n, target) => {
                let kind = if matches!(e, E::Link(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                let mode = if matches!(e, E::Link(..)) {
                    0o777
                } else {
                    0o640
                };
                let mut h = header(n, kind, 0, mode);
                let t = target.as_bytes();
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn compress(kind: &str, data: &[u8]) -> Vec<u8> {
    match kind {
        "plain" => data.to_vec(),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "zstd" => zstd::encode_all(data, 3).unwrap(),
        other => panic!("unknown compression {other}"),
    }
}

fn add(src: &str, dest: &str) -> FileOp {
    let mut c = CopyAction::new(Some(0), src, dest);
    c.follow_symlinks = true;
    c.dir_contents_only = true;
    c.create_dest_path = true;
    c.allow_wildcard = true;
    c.attempt_unpack = true;
    FileOp {
        base: None,
        actions: vec![FileAction::Copy(c)],
    }
}

fn apply(op: &FileOp, dest: &Path, src: &Path) -> Result<(), FsError> {
    apply_file_op(op, dest, &[src], &ApplyOptions::default())
}

#[test]
fn extracts_every_compression() {
    let archive = tar_bytes(&[
        E::Dir("pkg/"),
        E::File("pkg/bin", "#!/bin/sh\n"),
        E::Link("pkg/latest", "bin"),
        E::Hard("pkg/bin2", "pkg/bin"),
        E::File("./top.txt", "top"),
    ]);
    for kind in ["plain", "gzip", "bzip2", "xz", "zstd"] {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.tar.any"), compress(kind, &archive)).unwrap();
        apply(&add("a.tar.any", "/opt/"), dest.path(), src.path()).unwrap();
        let d = dest.path().join("opt");
        assert_eq!(
            std::fs::read_to_string(d.join("pkg/bin")).unwrap(),
            "#!/bin/sh\n",
            "{kind}"
        );
        assert_eq!(
            std::fs::read_to_string(d.join("top.txt")).unwrap(),
            "top",
            "{kind}"
        );
        assert_eq!(
            std::fs::read_link(d.join("pkg/latest")).unwrap().to_str(),
            Some("bin")
        );
        let m = std::fs::metadata(d.join("pkg/bin")).unwrap();
        assert_eq!(
            m.ino(),
            std::fs::metadata(d.join("pkg/bin2")).unwrap().ino(),
            "{kind}"
        );
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.mtime()),
            (0o640, 1000, 1_600_000_000)
        );
        assert!(
            !d.join("a.tar.any").exists(),
            "{kind}: archive itself not copied"
        );
    }
}

#[test]
fn timestamp_clamps_archive_mtimes() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(
        src.path().join("a.tgz"),
        compress("gzip", &tar_bytes(&[E::File("f", "x")])),
    )
    .unwrap();
    let mut op = add("a.tgz", "/x/");
    if let Some(FileAction::Copy(c)) = op.actions.first_mut() {
        c.timestamp = Some(1_500_000_000);
    }
    apply(&op, dest.path(), src.path()).unwrap();
    assert_eq!(
        std::fs::metadata(dest.path().join("x/f")).unwrap().mtime(),
        1_500_000_000
    );
}

#[test]
fn non_archives_are_copied() {
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("notes.tar"), "not really a tar").unwrap();
    apply(&add("notes.tar", "/d/"), dest.path(), src.path()).unwrap();
    assert_eq!(
        std::fs::read_to_string(dest.path().join("d/notes.tar")).unwrap(),
        "not really a tar"
    );
    // Without attempt_unpack an archive is copied as is.
    let archive = compress("gzip", &tar_bytes(&[E::File("f", "x")]));
    std::fs::write(src.path().join("a.tgz"), &archive).unwrap();
    let mut op = add("a.tgz", "/raw/");
    if let Some(FileAction::Copy(c)) = op.actions.first_mut() {
        c.attempt_unpack = false;
    }
    apply(&op, dest.path(), src.path()).unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("raw/a.tgz")).unwrap(),
        archive
    );
}

#[test]
fn hostile_archives_are_refused_or_contained() {
    let outside = tempfile::tempdir().unwrap();
    let out_abs = outside.path().to_str().unwrap().to_string();
    let refused: Vec<Vec<u8>> = vec![
        tar_bytes(&[E::File("../../../escape", "x")]),
        tar_bytes(&[E::File("a/../../escape", "x")]),
        tar_bytes(&[E::Link("evil", "../../../../../../..")]),
        tar_bytes(&[E::Dir("d/"), E::Link("d/evil", "../../x")]),
        tar_bytes(&[E::Hard("evil", "../../etc/passwd")]),
    ];
    for (i, archive) in refused.iter().enumerate() {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("h.tar"), archive).unwrap();
        match apply(&add("h.tar", "/x/"), dest.path(), src.path()) {
            Err(FsError::UnsafeArchiveEntry { .. }) => {}
            other => panic!("archive {i}: expected UnsafeArchiveEntry, got {other:?}"),
        }
    }
    // An absolute symlink is allowed but resolves inside the extraction dir: writing
    // through it stays inside, as do absolute entry names.
    let src = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let archive = tar_bytes(&[
        E::Link("out", &out_abs),
        E::File("out/pwned", "x"),
        E::File("/abs.txt", "abs"),
    ]);
    std::fs::write(src.path().join("h.tar"), archive).unwrap();
    apply(&add("h.tar", "/x/"), dest.path(), src.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing escaped"
    );
    let x = dest.path().join("x");
    assert_eq!(
        std::fs::read_to_string(x.join(out_abs.trim_start_matches('/')).join("pwned")).unwrap(),
        "x"
    );
    assert_eq!(std::fs::read_to_string(x.join("abs.txt")).unwrap(), "abs");
    // A destination that is a symlink to outside the root is resolved inside the root.
    let dest2 = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&out_abs, dest2.path().join("link")).unwrap();
    std::fs::write(src.path().join("ok.tar"), tar_bytes(&[E::File("f", "y")])).unwrap();
    apply(&add("ok.tar", "/link/"), dest2.path(), src.path()).unwrap();
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing escaped"
    );
    let inside = dest2.path().join(out_abs.trim_start_matches('/'));
    assert_eq!(std::fs::read_to_string(inside.join("f")).unwrap(), "y");
}
