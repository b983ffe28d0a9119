//! `ADD <git ref>` sources in a real solve (root only), against repositories served by a
//! local `git daemon`: references resolve to commits, `.git` is left out unless asked for,
//! `subdir` narrows the result, a checksum is enforced, an unknown reference fails naming
//! it, and a checkout already in a snapshot is a cache hit until the branch moves.

mod common;
mod solve_support;

use slipway_e2e::git::{commit, git, GitServer};
use slipway_graph::{GitSource, Graph, Op, SourceOp, Vertex};
use slipway_progress::VertexStatus;
use slipway_worker::{SolveError, VertexError};
use solve_support::*;

/// Solves a graph whose output is `src` alone; the image's only layer's files.
async fn checkout(
    w: &TestWorker,
    src: GitSource,
) -> (
    Result<std::collections::BTreeMap<String, Vec<u8>>, SolveError>,
    Vec<slipway_progress::ProgressEvent>,
) {
    let p = host();
    let mut g = Graph::new();
    let v = g.add(Vertex::new(Op::Source(SourceOp::Git(src)), vec![], p.clone()).with_name("git"));
    output(&mut g, &v, &p);
    let (r, events) = solve(&w.worker, request(g)).await;
    let files = r.map(|r| {
        assert_eq!(r.images[0].layers.len(), 1);
        layer_files(w.worker.store(), &r.images[0].layers[0])
    });
    (files, events)
}

fn names(files: &std::collections::BTreeMap<String, Vec<u8>>) -> Vec<&str> {
    files
        .keys()
        .map(|k| k.trim_end_matches('/'))
        .filter(|k| !k.is_empty() && *k != ".")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn git_sources_check_out_refs_subdirs_and_checksums() {
    common::require_tool("git");
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (repo, remote) = server.repo("app.git");
    let first = commit(
        &repo,
        &[("README", "v1\n"), ("docs/guide.md", "guide\n")],
        "one",
    );
    git(&repo, &["tag", "-a", "v1", "-m", "release 1"]);
    let second = commit(&repo, &[("README", "v2\n")], "two");
    let w = worker(&tmp.path().join("w"), "git");
    let src = |reference: &str| GitSource {
        remote: remote.clone(),
        reference: reference.into(),
        ..GitSource::default()
    };

    // The default branch, without .git.
    let (files, _) = checkout(&w, src("")).await;
    let files = files.unwrap();
    assert_eq!(files.get("README").map(Vec::as_slice), Some(&b"v2\n"[..]));
    assert!(
        names(&files).iter().all(|n| !n.starts_with(".git")),
        "{:?}",
        names(&files)
    );

    // An annotated tag names its commit; a full commit id and an abbreviated one work too.
    for reference in ["v1", first.as_str(), &first[..10]] {
        let (files, _) = checkout(&w, src(reference)).await;
        let files = files.unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(
            files.get("README").map(Vec::as_slice),
            Some(&b"v1\n"[..]),
            "{reference}"
        );
    }

    // subdir: only that directory's files, at the root.
    let (files, _) = checkout(
        &w,
        GitSource {
            subdir: "docs".into(),
            ..src("v1")
        },
    )
    .await;
    assert_eq!(names(&files.unwrap()), ["guide.md"]);

    // keep_git_dir: .git is there, and git can read the commit from it.
    let (files, _) = checkout(
        &w,
        GitSource {
            keep_git_dir: true,
            ..src("main")
        },
    )
    .await;
    let files = files.unwrap();
    assert!(files.contains_key(".git/HEAD"), "{:?}", names(&files));
    assert_eq!(
        String::from_utf8_lossy(&files[".git/HEAD"]).trim(),
        second,
        "a detached HEAD at the commit"
    );

    // A checksum that matches passes; one that does not fails naming both.
    let (files, _) = checkout(
        &w,
        GitSource {
            checksum: second[..12].into(),
            ..src("main")
        },
    )
    .await;
    files.unwrap();
    let (files, _) = checkout(
        &w,
        GitSource {
            checksum: first.clone(),
            ..src("main")
        },
    )
    .await;
    let err = files.unwrap_err().to_string();
    assert!(err.contains(&first) && err.contains(&second), "{err}");

    // An unknown reference, a subdir that is not there, a subdir that leaves the repo.
    let (files, _) = checkout(&w, src("no-such-branch")).await;
    let err = files.unwrap_err();
    assert!(
        matches!(&err, SolveError::Vertex { source, .. } if matches!(**source, VertexError::Git { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such-branch"), "{err}");
    for subdir in ["missing", "../.."] {
        let (files, _) = checkout(
            &w,
            GitSource {
                subdir: subdir.into(),
                ..src("main")
            },
        )
        .await;
        let err = files.unwrap_err().to_string();
        assert!(err.contains(subdir), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_checkout_is_cached_until_the_branch_moves() {
    common::require_tool("git");
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (repo, remote) = server.repo("moving.git");
    commit(&repo, &[("f", "1\n")], "one");
    let w = worker(&tmp.path().join("w"), "git-cache");
    let src = GitSource {
        remote,
        reference: "main".into(),
        ..GitSource::default()
    };
    let (files, events) = checkout(&w, src.clone()).await;
    assert_eq!(files.unwrap()["f"], b"1\n");
    assert!(statuses(&events, "git").contains(&VertexStatus::Started));
    let (files, events) = checkout(&w, src.clone()).await;
    assert_eq!(files.unwrap()["f"], b"1\n");
    assert_eq!(statuses(&events, "git"), vec![VertexStatus::Cached]);
    commit(&repo, &[("f", "2\n")], "two");
    let (files, events) = checkout(&w, src).await;
    assert_eq!(files.unwrap()["f"], b"2\n");
    assert!(statuses(&events, "git").contains(&VertexStatus::Started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submodules_are_checked_out_unless_skipped() {
    common::require_tool("git");
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (lib, lib_remote) = server.repo("lib.git");
    commit(&lib, &[("lib.txt", "library\n")], "lib");
    let (app, remote) = server.repo("app.git");
    commit(&app, &[("main.txt", "app\n")], "app");
    git(
        &app,
        &[
            "-c",
            "protocol.allow=always",
            "submodule",
            "add",
            "-q",
            &lib_remote,
            "vendor/lib",
        ],
    );
    git(&app, &["commit", "-q", "-m", "submodule"]);
    let w = worker(&tmp.path().join("w"), "git-sub");
    let src = GitSource {
        remote,
        ..GitSource::default()
    };
    let (files, _) = checkout(&w, src.clone()).await;
    let files = files.unwrap();
    assert_eq!(
        files.get("vendor/lib/lib.txt").map(Vec::as_slice),
        Some(&b"library\n"[..])
    );
    let (files, _) = checkout(
        &w,
        GitSource {
            skip_submodules: true,
            ..src
        },
    )
    .await;
    let files = files.unwrap();
    assert!(
        !files.contains_key("vendor/lib/lib.txt"),
        "{:?}",
        names(&files)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mtime_commit_gives_every_file_the_commit_time() {
    common::require_tool("git");
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (repo, remote) = server.repo("times.git");
    commit(&repo, &[("a/b.txt", "b\n"), ("c.txt", "c\n")], "one");
    std::os::unix::fs::symlink("c.txt", repo.join("link")).unwrap();
    git(&repo, &["add", "-A"]);
    // A commit made long ago, so checkout times and commit times differ.
    let made = std::process::Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["commit", "-q", "-m", "old", "--author", "t <t@example.com>"])
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_DATE", "2001-02-03T04:05:06Z")
        .status()
        .unwrap();
    assert!(made.success());
    let when: u64 = git(&repo, &["log", "-1", "--format=%ct"]).parse().unwrap();
    assert_eq!(when, 981_173_106);
    let w = worker(&tmp.path().join("w"), "git-mtime");
    let p = host();
    let mtimes = |src: GitSource| {
        let mut g = Graph::new();
        let v = g.add(Vertex::new(
            Op::Source(SourceOp::Git(src)),
            vec![],
            p.clone(),
        ));
        output(&mut g, &v, &p);
        let w = &w;
        async move {
            let (r, _) = solve(&w.worker, request(g)).await;
            let r = r.unwrap();
            let layer = &r.images[0].layers[0];
            let d = slipway_oci::Digest::try_from(layer.digest()).unwrap();
            let blob = w.worker.store().open_blob(&d).unwrap();
            let mut tar = tar::Archive::new(slipway_oci::layer::decompress(blob).unwrap());
            tar.entries()
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.path().unwrap().display().to_string(),
                        e.header().mtime().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let src = GitSource {
        remote,
        mtime_commit: true,
        ..GitSource::default()
    };
    let got = mtimes(src.clone()).await;
    assert!(got.len() >= 4, "{got:?}");
    for (path, mtime) in &got {
        assert_eq!(*mtime, when, "{path}");
    }
    // Without it, the checkout's own times (now, not 2001).
    let got = mtimes(GitSource {
        mtime_commit: false,
        ..src
    })
    .await;
    let files: Vec<_> = got.iter().filter(|(p, _)| p.ends_with(".txt")).collect();
    assert!(!files.is_empty());
    assert!(
        files.iter().all(|(_, m)| *m > when + 100_000_000),
        "{files:?}"
    );
}
