//! COPY semantics applied through `apply_file_op`, with the flags the Dockerfile frontend
//! sets (follow the source, copy directory contents, create the destination, wildcards).

use slipway_fsutil::{apply_file_op, ApplyOptions, FsError};
use slipway_graph::{
    Chmod, Chown, CopyAction, FileAction, FileOp, MkdirAction, MkfileAction, RmAction, UserSpec,
};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn copy(src: &str, dest: &str) -> CopyAction {
    let mut c = CopyAction::new(Some(0), src, dest);
    c.follow_symlinks = true;
    c.dir_contents_only = true;
    c.create_dest_path = true;
    c.allow_wildcard = true;
    c
}

fn run(actions: Vec<FileAction>, dest: &Path, src: &Path) -> Result<(), FsError> {
    let op = FileOp {
        base: None,
        actions,
    };
    apply_file_op(&op, dest, &[src], &ApplyOptions::default())
}

fn run_copy(c: CopyAction, dest: &Path, src: &Path) -> Result<(), FsError> {
    run(vec![FileAction::Copy(c)], dest, src)
}

struct Fixture {
    src: tempfile::TempDir,
    dest: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let src = tempfile::tempdir().unwrap();
    let s = src.path();
    write(s, "a.txt", "A");
    write(s, "b.txt", "B");
    write(s, "c.md", "C");
    write(s, "dir/x.txt", "X");
    write(s, "dir/sub/y.txt", "Y");
    write(s, "dir/sub/z.log", "Z");
    symlink("x.txt", s.join("dir/lnk")).unwrap();
    symlink("dir", s.join("dirlink")).unwrap();
    Fixture {
        src,
        dest: tempfile::tempdir().unwrap(),
    }
}

fn list(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn rec(root: &Path, rel: &str, out: &mut Vec<String>) {
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for n in names {
            let r = if rel.is_empty() {
                n.clone()
            } else {
                format!("{rel}/{n}")
            };
            let m = std::fs::symlink_metadata(root.join(&r)).unwrap();
            if m.is_dir() {
                out.push(format!("{r}/"));
                rec(root, &r, out);
            } else {
                out.push(r);
            }
        }
    }
    rec(root, "", &mut out);
    out
}

#[test]
fn file_to_file_and_into_dirs() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    run_copy(copy("a.txt", "/renamed"), d, s).unwrap();
    assert_eq!(read(d, "renamed"), "A");
    run_copy(copy("/a.txt", "/newdir/"), d, s).unwrap();
    assert_eq!(read(d, "newdir/a.txt"), "A");
    // An existing directory without the slash still receives the file inside it.
    run_copy(copy("b.txt", "/newdir"), d, s).unwrap();
    assert_eq!(read(d, "newdir/b.txt"), "B");
    run_copy(copy("c.md", "/deep/er/path/"), d, s).unwrap();
    assert_eq!(read(d, "deep/er/path/c.md"), "C");
    // Overwrite an existing file.
    run_copy(copy("b.txt", "/renamed"), d, s).unwrap();
    assert_eq!(read(d, "renamed"), "B");
}

#[test]
fn directory_copies_its_contents() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    run_copy(copy("dir", "/app"), d, s).unwrap();
    assert_eq!(
        list(&d.join("app")),
        vec!["lnk", "sub/", "sub/y.txt", "sub/z.log", "x.txt"]
    );
    assert_eq!(
        std::fs::read_link(d.join("app/lnk")).unwrap().to_str(),
        Some("x.txt")
    );
    // Without dir_contents_only the directory itself lands inside an existing dest.
    let mut c = copy("dir/sub", "/app");
    c.dir_contents_only = false;
    run_copy(c, d, s).unwrap();
    assert_eq!(read(d, "app/sub/y.txt"), "Y");
    let mut c = copy("dir/sub", "/other");
    c.dir_contents_only = false;
    run_copy(c, d, s).unwrap();
    assert_eq!(read(d, "other/y.txt"), "Y");
}

#[test]
fn globs_and_multiple_sources() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    run_copy(copy("*.txt", "/out/"), d, s).unwrap();
    assert_eq!(list(&d.join("out")), vec!["a.txt", "b.txt"]);
    run_copy(copy("[ab].tx?", "/q/"), d, s).unwrap();
    assert_eq!(list(&d.join("q")), vec!["a.txt", "b.txt"]);
    run_copy(copy("d*/s?b/*.log", "/logs/"), d, s).unwrap();
    assert_eq!(list(&d.join("logs")), vec!["z.log"]);
    match run_copy(copy("*.txt", "/single"), d, s) {
        Err(FsError::MultipleSourcesNeedDirDest { count: 2, .. }) => {}
        other => panic!("expected MultipleSourcesNeedDirDest, got {other:?}"),
    }
    // One match into a non-slash destination is a plain file copy.
    run_copy(copy("*.md", "/onlyone"), d, s).unwrap();
    assert_eq!(read(d, "onlyone"), "C");
}

#[test]
fn missing_sources() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    match run_copy(copy("nope.txt", "/x"), d, s) {
        Err(FsError::SourceNotFound { path }) => assert_eq!(path, "/nope.txt"),
        other => panic!("expected SourceNotFound, got {other:?}"),
    }
    match run_copy(copy("*.nothing", "/x/"), d, s) {
        Err(FsError::NoSourceMatched { pattern }) => assert_eq!(pattern, "*.nothing"),
        other => panic!("expected NoSourceMatched, got {other:?}"),
    }
    let mut c = copy("*.nothing", "/x/");
    c.allow_empty_wildcard = true;
    run_copy(c, d, s).unwrap();
    assert!(!d.join("x").exists());
    // A literal missing path fails even when empty wildcards are allowed.
    let mut c = copy("nope", "/x/");
    c.allow_empty_wildcard = true;
    assert!(matches!(
        run_copy(c, d, s),
        Err(FsError::SourceNotFound { .. })
    ));
    let mut c = copy("a.txt", "/x");
    c.src_input = Some(3);
    assert!(matches!(
        run_copy(c, d, s),
        Err(FsError::InputOutOfRange { index: 3, count: 1 })
    ));
    let mut c = copy("a.txt", "/no/parent/file");
    c.create_dest_path = false;
    assert!(matches!(
        run_copy(c, d, s),
        Err(FsError::DestParentMissing { .. })
    ));
    let mut c = copy("a.txt", "/x");
    c.required_paths = vec!["missing".into()];
    assert!(matches!(
        run_copy(c, d, s),
        Err(FsError::RequiredPathMissing { .. })
    ));
}

#[test]
fn chown_by_name_and_number() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    write(
        d,
        "etc/passwd",
        "root:x:0:0::/root:/bin/sh\napp:x:1500:1600::/home/app:/bin/sh\n",
    );
    write(d, "etc/group", "root:x:0:\nweb:x:33:\n");
    let mut c = copy("dir", "/owned/");
    c.chown = Some(Chown {
        user: UserSpec::Name("app".into()),
        group: None,
    });
    run_copy(c, d, s).unwrap();
    for p in ["owned", "owned/x.txt", "owned/sub/y.txt", "owned/lnk"] {
        let m = std::fs::symlink_metadata(d.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (1500, 1600), "{p}");
    }
    let mut c = copy("a.txt", "/num");
    c.chown = Some(Chown {
        user: UserSpec::Id(42),
        group: Some(UserSpec::Name("web".into())),
    });
    run_copy(c, d, s).unwrap();
    let m = std::fs::metadata(d.join("num")).unwrap();
    assert_eq!((m.uid(), m.gid()), (42, 33));
    let mut c = copy("a.txt", "/num2");
    c.chown = Some(Chown {
        user: UserSpec::Id(7),
        group: None,
    });
    run_copy(c, d, s).unwrap();
    let m = std::fs::metadata(d.join("num2")).unwrap();
    assert_eq!((m.uid(), m.gid()), (7, 7));
    let mut c = copy("a.txt", "/bad");
    c.chown = Some(Chown {
        user: UserSpec::Name("ghost".into()),
        group: None,
    });
    match run_copy(c, d, s) {
        Err(FsError::UnknownUser { name, .. }) => assert_eq!(name, "ghost"),
        other => panic!("expected UnknownUser, got {other:?}"),
    }
}

#[test]
fn ownership_and_mode_are_preserved_without_flags() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    std::os::unix::fs::lchown(s.join("a.txt"), Some(1234), Some(5678)).unwrap();
    std::fs::set_permissions(s.join("a.txt"), std::fs::Permissions::from_mode(0o4750)).unwrap();
    run_copy(copy("a.txt", "/p"), d, s).unwrap();
    let m = std::fs::metadata(d.join("p")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 5678, 0o4750));
}

#[test]
fn chmod_octal_and_symbolic() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    std::fs::set_permissions(s.join("a.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = copy("a.txt", "/oct");
    c.chmod = Some(Chmod::Octal(0o751));
    run_copy(c, d, s).unwrap();
    assert_eq!(
        std::fs::metadata(d.join("oct")).unwrap().mode() & 0o7777,
        0o751
    );
    let mut c = copy("a.txt", "/sym");
    c.chmod = Some(Chmod::Symbolic("u+x,g=rw".into()));
    run_copy(c, d, s).unwrap();
    assert_eq!(
        std::fs::metadata(d.join("sym")).unwrap().mode() & 0o7777,
        0o760
    );
    let mut c = copy("dir", "/tree");
    c.chmod = Some(Chmod::Symbolic("a=rX".into()));
    run_copy(c, d, s).unwrap();
    assert_eq!(
        std::fs::metadata(d.join("tree/sub")).unwrap().mode() & 0o7777,
        0o555
    );
    assert_eq!(
        std::fs::metadata(d.join("tree/x.txt")).unwrap().mode() & 0o7777,
        0o444
    );
    let mut c = copy("a.txt", "/badmode");
    c.chmod = Some(Chmod::Symbolic("u+q".into()));
    assert!(matches!(
        run_copy(c, d, s),
        Err(FsError::InvalidChmod { .. })
    ));
}

#[test]
fn parents_keep_the_matched_path() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    // COPY --parents dir/sub/*.txt /out/  →  src "/", include "dir/sub/*.txt".
    let mut c = copy("/", "/out/");
    c.include_patterns = vec!["dir/sub/*.txt".into()];
    run_copy(c, d, s).unwrap();
    assert_eq!(
        list(&d.join("out")),
        vec!["dir/", "dir/sub/", "dir/sub/y.txt"]
    );
    let mut c = copy("/", "/out2/");
    c.include_patterns = vec!["**/*.log".into(), "a.txt".into()];
    run_copy(c, d, s).unwrap();
    assert_eq!(
        list(&d.join("out2")),
        vec!["a.txt", "dir/", "dir/sub/", "dir/sub/z.log"]
    );
}

#[test]
fn exclude_patterns() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    let mut c = copy("dir", "/ex/");
    c.exclude_patterns = vec!["**/*.log".into(), "lnk".into()];
    run_copy(c, d, s).unwrap();
    assert_eq!(list(&d.join("ex")), vec!["sub/", "sub/y.txt", "x.txt"]);
    let mut c = copy("dir", "/ex2/");
    c.exclude_patterns = vec!["sub".into(), "!sub/y.txt".into()];
    run_copy(c, d, s).unwrap();
    assert_eq!(
        list(&d.join("ex2")),
        vec!["lnk", "sub/", "sub/y.txt", "x.txt"]
    );
}

#[test]
fn symlinks() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    // The source path itself is followed...
    run_copy(copy("dirlink", "/viafollow"), d, s).unwrap();
    assert!(std::fs::symlink_metadata(d.join("viafollow"))
        .unwrap()
        .is_dir());
    assert_eq!(read(d, "viafollow/x.txt"), "X");
    // ...unless follow_symlinks is off.
    let mut c = copy("dirlink", "/asis");
    c.follow_symlinks = false;
    run_copy(c, d, s).unwrap();
    assert_eq!(
        std::fs::read_link(d.join("asis")).unwrap().to_str(),
        Some("dir")
    );
    // Links inside a copied tree stay links.
    run_copy(copy("dir", "/t"), d, s).unwrap();
    assert!(std::fs::symlink_metadata(d.join("t/lnk"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn hardlinks_are_preserved_within_one_copy() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    write(s, "hl/one", "same");
    std::fs::hard_link(s.join("hl/one"), s.join("hl/two")).unwrap();
    run_copy(copy("hl", "/hl"), d, s).unwrap();
    let one = std::fs::metadata(d.join("hl/one")).unwrap();
    let two = std::fs::metadata(d.join("hl/two")).unwrap();
    assert_eq!(one.ino(), two.ino());
    assert_eq!(one.nlink(), 2);
    assert_ne!(
        one.ino(),
        std::fs::metadata(s.join("hl/one")).unwrap().ino()
    );
}

#[test]
fn timestamps() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    let mut c = copy("dir", "/ts");
    c.timestamp = Some(1_700_000_000);
    run_copy(c, d, s).unwrap();
    for p in ["ts/x.txt", "ts/sub", "ts/sub/y.txt", "ts/lnk"] {
        let m = std::fs::symlink_metadata(d.join(p)).unwrap();
        assert_eq!(m.mtime(), 1_700_000_000, "{p}");
    }
    // Without a timestamp the source mtime is kept.
    let src_file = std::fs::File::options()
        .write(true)
        .open(s.join("a.txt"))
        .unwrap();
    src_file
        .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_234_567))
        .unwrap();
    run_copy(copy("a.txt", "/keep"), d, s).unwrap();
    assert_eq!(
        std::fs::metadata(d.join("keep")).unwrap().mtime(),
        1_234_567
    );
}

#[test]
fn destination_symlinks_cannot_escape_the_root() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    let outside = tempfile::tempdir().unwrap();
    let out_abs = outside.path().to_str().unwrap().to_string();
    // /app -> <absolute outside dir>, /rel -> ../../../../.. , /etc -> outside too
    symlink(&out_abs, d.join("app")).unwrap();
    symlink("../../../../../../..", d.join("rel")).unwrap();
    run_copy(copy("a.txt", "/app/"), d, s).unwrap();
    run_copy(copy("dir", "/rel/x/"), d, s).unwrap();
    run(
        vec![
            FileAction::Mkfile(MkfileAction {
                path: "/app/made".into(),
                mode: 0o644,
                data: "m".into(),
                chown: None,
                timestamp: None,
            }),
            FileAction::Mkdir(MkdirAction {
                path: "/rel/mk/dir".into(),
                mode: 0o755,
                make_parents: true,
                chown: None,
                timestamp: None,
            }),
        ],
        d,
        s,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing escaped"
    );
    let inside = d.join(out_abs.trim_start_matches('/'));
    assert_eq!(read(&inside, "a.txt"), "A");
    assert_eq!(read(&inside, "made"), "m");
    assert_eq!(read(d, "x/x.txt"), "X");
    assert!(d.join("mk/dir").is_dir());
    // rm through a symlinked parent removes inside the root only.
    std::fs::write(outside.path().join("victim"), "v").unwrap();
    run(
        vec![FileAction::Rm(RmAction {
            path: "/app/victim".into(),
            allow_not_found: true,
            allow_wildcard: false,
        })],
        d,
        s,
    )
    .unwrap();
    assert!(outside.path().join("victim").exists());
    // A destination that is a symlink is resolved inside the root (like BuildKit's
    // RootPath): the file lands at the link's target within the root, never outside.
    symlink(outside.path().join("victim"), d.join("target")).unwrap();
    run_copy(copy("a.txt", "/target"), d, s).unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim")).unwrap(),
        "v"
    );
    assert_eq!(read(&inside, "victim"), "A");
    assert!(std::fs::symlink_metadata(d.join("target"))
        .unwrap()
        .file_type()
        .is_symlink());
    // Inside a copied tree, an existing symlink at a file's target is replaced.
    std::fs::create_dir_all(d.join("tree")).unwrap();
    symlink(outside.path().join("victim"), d.join("tree/x.txt")).unwrap();
    run_copy(copy("dir", "/tree/"), d, s).unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.path().join("victim")).unwrap(),
        "v"
    );
    assert_eq!(read(d, "tree/x.txt"), "X");
    assert!(!std::fs::symlink_metadata(d.join("tree/x.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn mkdir_mkfile_rm() {
    let f = fixture();
    let (s, d) = (f.src.path(), f.dest.path());
    let mk = |path: &str, parents: bool| {
        FileAction::Mkdir(MkdirAction {
            path: path.into(),
            mode: 0o750,
            make_parents: parents,
            chown: Some(Chown {
                user: UserSpec::Id(11),
                group: Some(UserSpec::Id(12)),
            }),
            timestamp: Some(1_000),
        })
    };
    run(vec![mk("/a/b/c", true), mk("/a", false)], d, s).unwrap();
    for p in ["a", "a/b", "a/b/c"] {
        let m = std::fs::metadata(d.join(p)).unwrap();
        assert_eq!(
            (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
            (0o750, 11, 12, 1_000),
            "{p}"
        );
    }
    assert!(matches!(
        run(vec![mk("/no/such/dir", false)], d, s),
        Err(FsError::Io { .. })
    ));
    run(
        vec![FileAction::Mkfile(MkfileAction {
            path: "/a/file".into(),
            mode: 0o600,
            data: "hello".into(),
            chown: None,
            timestamp: Some(5),
        })],
        d,
        s,
    )
    .unwrap();
    let m = std::fs::metadata(d.join("a/file")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.mtime()), (0o600, 5));
    assert_eq!(read(d, "a/file"), "hello");
    write(d, "logs/1.log", "");
    write(d, "logs/2.log", "");
    write(d, "logs/keep.txt", "");
    let rm = |path: &str, nf: bool, wc: bool| {
        FileAction::Rm(RmAction {
            path: path.into(),
            allow_not_found: nf,
            allow_wildcard: wc,
        })
    };
    run(vec![rm("/logs/*.log", false, true)], d, s).unwrap();
    assert_eq!(list(&d.join("logs")), vec!["keep.txt"]);
    run(vec![rm("/logs/*.none", false, true)], d, s).unwrap();
    assert!(matches!(
        run(vec![rm("/missing", false, false)], d, s),
        Err(FsError::SourceNotFound { .. })
    ));
    run(
        vec![rm("/missing", true, false), rm("/a", false, false)],
        d,
        s,
    )
    .unwrap();
    assert!(!d.join("a").exists());
    assert!(matches!(
        run(vec![rm("/", true, false)], d, s),
        Err(FsError::InvalidPath { .. })
    ));
}
