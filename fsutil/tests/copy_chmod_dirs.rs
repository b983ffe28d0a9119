//! The modes of the directories COPY/ADD --chmod creates, as BuildKit v0.32 (fsutil's copy)
//! gives them: the directories made for the destination get an octal --chmod's permission
//! bits (0755 for a symbolic one or none), directories of the copied tree get the --chmod like
//! files do, a destination that was there keeps its mode, and archives ADD unpacks ignore it.

use slipway_fsutil::{apply_file_op, ApplyOptions};
use slipway_graph::{Chmod, CopyAction, FileAction, FileOp, MkdirAction};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn set_mode(root: &Path, rel: &str, mode: u32) {
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(root: &Path, rel: &str) -> u32 {
    std::fs::symlink_metadata(root.join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .mode()
        & 0o7777
}

/// COPY as the Dockerfile frontend spells it.
fn copy(src: &str, dest: &str, chmod: Option<Chmod>) -> CopyAction {
    let mut c = CopyAction::new(Some(0), src, dest);
    c.follow_symlinks = true;
    c.dir_contents_only = true;
    c.create_dest_path = true;
    c.allow_wildcard = true;
    c.allow_empty_wildcard = true;
    c.chmod = chmod;
    c
}

fn run(actions: Vec<FileAction>, dest: &Path, src: &Path) {
    let op = FileOp {
        base: None,
        actions,
    };
    apply_file_op(&op, dest, &[src], &ApplyOptions::default()).unwrap();
}

/// A context with `dir/` (0755, sub/ 0750, files 0644 and 0755) and `f.txt` (0644).
fn context() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    let s = t.path();
    write(s, "f.txt", "F");
    write(s, "dir/x.txt", "X");
    write(s, "dir/run.sh", "R");
    write(s, "dir/sub/y.txt", "Y");
    set_mode(s, "f.txt", 0o644);
    set_mode(s, "dir", 0o755);
    set_mode(s, "dir/x.txt", 0o644);
    set_mode(s, "dir/run.sh", 0o755);
    set_mode(s, "dir/sub", 0o750);
    set_mode(s, "dir/sub/y.txt", 0o644);
    t
}

fn oct(m: u32) -> Option<Chmod> {
    Some(Chmod::Octal(m))
}

fn sym(s: &str) -> Option<Chmod> {
    Some(Chmod::Symbolic(s.into()))
}

/// COPY source, destination, --chmod, and the (path, mode) pairs expected in the result.
type Row = (
    &'static str,
    &'static str,
    Option<Chmod>,
    Vec<(&'static str, u32)>,
);

#[test]
fn created_directory_modes_table() {
    let table: Vec<Row> = vec![
        // COPY --chmod=600 dir/ /dst/: the destination is made 0600 (no x bit), the tree's
        // directories and files all get 0600.
        (
            "dir/",
            "/dst/",
            oct(0o600),
            vec![
                ("dst", 0o600),
                ("dst/sub", 0o600),
                ("dst/x.txt", 0o600),
                ("dst/run.sh", 0o600),
                ("dst/sub/y.txt", 0o600),
            ],
        ),
        // Without a trailing slash the destination directory is made the same way.
        (
            "dir",
            "/nodash",
            oct(0o750),
            vec![("nodash", 0o750), ("nodash/sub", 0o750)],
        ),
        // COPY --chmod=600 file /a/b/c/: every parent made for it is 0600.
        (
            "f.txt",
            "/a/b/c/",
            oct(0o600),
            vec![
                ("a", 0o600),
                ("a/b", 0o600),
                ("a/b/c", 0o600),
                ("a/b/c/f.txt", 0o600),
            ],
        ),
        // A file copied to a new name: its parents take the mode too.
        (
            "f.txt",
            "/p/q/renamed",
            oct(0o640),
            vec![("p", 0o640), ("p/q", 0o640), ("p/q/renamed", 0o640)],
        ),
        // Special bits go to the copied paths only; made directories get the permission bits.
        (
            "f.txt",
            "/s/t/",
            oct(0o4755),
            vec![("s", 0o755), ("s/t", 0o755), ("s/t/f.txt", 0o4755)],
        ),
        (
            "dir/",
            "/sticky/",
            oct(0o1777),
            vec![("sticky", 0o777), ("sticky/sub", 0o1777)],
        ),
        // Wildcards: the destination directory likewise.
        (
            "*.txt",
            "/w/",
            oct(0o700),
            vec![("w", 0o700), ("w/f.txt", 0o700)],
        ),
        // A symbolic --chmod: made directories are 0755, the tree's are changed from their
        // own mode (X gives directories x), files likewise.
        (
            "dir/",
            "/sym/deep/",
            sym("u=rwX,go="),
            vec![
                ("sym", 0o755),
                ("sym/deep", 0o755),
                ("sym/deep/sub", 0o700),
                ("sym/deep/x.txt", 0o600),
                ("sym/deep/run.sh", 0o700),
                ("sym/deep/sub/y.txt", 0o600),
            ],
        ),
        (
            "f.txt",
            "/symf/a/",
            sym("u+x"),
            vec![("symf", 0o755), ("symf/a", 0o755), ("symf/a/f.txt", 0o744)],
        ),
        (
            "dir/",
            "/symg/",
            sym("g+w,o-rwx"),
            vec![("symg", 0o755), ("symg/sub", 0o770), ("symg/run.sh", 0o770)],
        ),
        // No --chmod: 0755 parents, source modes kept.
        (
            "dir/",
            "/plain/x/",
            None,
            vec![("plain", 0o755), ("plain/x", 0o755), ("plain/x/sub", 0o750)],
        ),
    ];
    for (src, dest, chmod, expected) in table {
        let ctx = context();
        let out = tempfile::tempdir().unwrap();
        run(
            vec![FileAction::Copy(copy(src, dest, chmod.clone()))],
            out.path(),
            ctx.path(),
        );
        for (path, want) in expected {
            let got = mode(out.path(), path);
            assert_eq!(
                got, want,
                "COPY --chmod={chmod:?} {src} {dest}: {path} is {got:o}, want {want:o}"
            );
        }
    }
}

#[test]
fn an_existing_destination_keeps_its_mode_and_gets_the_source_times() {
    let ctx = context();
    let src_time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::open(ctx.path().join("dir"))
        .unwrap()
        .set_modified(src_time)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join("exist")).unwrap();
    set_mode(out.path(), "exist", 0o711);
    run(
        vec![FileAction::Copy(copy("dir/", "/exist/", oct(0o600)))],
        out.path(),
        ctx.path(),
    );
    assert_eq!(mode(out.path(), "exist"), 0o711);
    assert_eq!(mode(out.path(), "exist/sub"), 0o600);
    let mtime = std::fs::metadata(out.path().join("exist"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, src_time);
}

#[test]
fn include_patterns_make_their_parents_with_the_mode() {
    // COPY --parents --chmod=600 dir/sub/*.txt /out/: src "/", include "dir/sub/*.txt".
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let mut c = copy("/", "/out/", oct(0o600));
    c.include_patterns = vec!["dir/sub/*.txt".into()];
    run(vec![FileAction::Copy(c)], out.path(), ctx.path());
    for (path, want) in [
        ("out", 0o600),
        ("out/dir", 0o600),
        ("out/dir/sub", 0o600),
        ("out/dir/sub/y.txt", 0o600),
    ] {
        assert_eq!(mode(out.path(), path), want, "{path}");
    }
    assert!(!out.path().join("out/dir/x.txt").exists());
}

#[test]
fn add_unpacks_archives_without_the_chmod() {
    let ctx = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o750);
    dir.set_size(0);
    dir.set_uid(0);
    dir.set_gid(0);
    dir.set_mtime(1);
    b.append_data(&mut dir, "inner/", std::io::empty()).unwrap();
    let mut file = tar::Header::new_gnu();
    file.set_mode(0o640);
    file.set_size(2);
    file.set_uid(0);
    file.set_gid(0);
    file.set_mtime(1);
    b.append_data(&mut file, "inner/a.txt", &b"hi"[..]).unwrap();
    std::fs::write(ctx.path().join("a.tar"), b.into_inner().unwrap()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut c = copy("a.tar", "/arch/x/", oct(0o600));
    c.attempt_unpack = true;
    run(vec![FileAction::Copy(c)], out.path(), ctx.path());
    for (path, want) in [
        ("arch", 0o755),
        ("arch/x", 0o755),
        ("arch/x/inner", 0o750),
        ("arch/x/inner/a.txt", 0o640),
    ] {
        assert_eq!(mode(out.path(), path), want, "{path}");
    }
}

#[test]
fn mkdir_drops_special_bits_like_buildkit() {
    let out = tempfile::tempdir().unwrap();
    let mk = |path: &str, make_parents| {
        FileAction::Mkdir(MkdirAction {
            path: path.into(),
            mode: 0o1777,
            make_parents,
            chown: None,
            timestamp: None,
        })
    };
    run(
        vec![mk("/one", false), mk("/two/three", true)],
        out.path(),
        out.path(),
    );
    for path in ["one", "two", "two/three"] {
        assert_eq!(mode(out.path(), path), 0o777, "{path}");
    }
}
