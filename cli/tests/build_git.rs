//! Git through `slipway build` (embedded), against a local `git daemon`:
//! - `ADD <git ref>`: the Dockerfile's git URL (with a tag and a subdir in its fragment, or
//!   as queries) is checked out by the worker and copied where the ADD says, without `.git`;
//! - a git URL as the build context: checked out on the client (a subdir as the context
//!   root, `-f` relative to it), `.dockerignore` applied.

mod support;

use slipway_e2e::git::{commit, git, GitServer};
use support::*;

#[test]
fn add_from_a_git_repository_lands_in_the_image() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (repo, remote) = server.repo("tools.git");
    commit(
        &repo,
        &[("README", "tools v1\n"), ("bin/hello.sh", "echo hello\n")],
        "one",
    );
    git(&repo, &["tag", "v1"]);
    commit(&repo, &[("README", "tools v2\n")], "two");

    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM scratch\n\
             ADD {remote}#v1 /src\n\
             ADD {remote}#v1:bin /usr/local/bin/\n\
             ADD --keep-git-dir=true {remote}?branch=main /head\n"
        ),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("rootfs");
    build_ok(
        data.path(),
        ctx.path(),
        &[
            "--progress=plain",
            "-o",
            &format!("type=local,dest={}", dest.display()),
            ".",
        ],
    );
    let read =
        |p: &str| std::fs::read_to_string(dest.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("src/README"), "tools v1\n");
    assert_eq!(read("src/bin/hello.sh"), "echo hello\n");
    assert!(
        !dest.join("src/.git").exists(),
        ".git is left out by default"
    );
    assert_eq!(read("usr/local/bin/hello.sh"), "echo hello\n");
    assert!(
        !dest.join("usr/local/bin/README").exists(),
        "only the subdir"
    );
    assert_eq!(read("head/README"), "tools v2\n");
    assert!(
        dest.join("head/.git/HEAD").is_file(),
        "--keep-git-dir keeps .git"
    );

    // A tag that does not exist fails the build, naming it.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM scratch\nADD {remote}#v9 /src\n"),
    )
    .unwrap();
    let r = slipway_build(data.path(), ctx.path(), &["--progress=plain", "."]);
    assert!(!r.success);
    assert!(r.stderr.contains("\"v9\""), "{}", r.stderr);
}

#[test]
fn a_git_url_is_a_build_context() {
    require_tools();
    let tmp = tempfile::tempdir().unwrap();
    let server = GitServer::start(&tmp.path().join("repos"));
    let (repo, remote) = server.repo("site.git");
    commit(
        &repo,
        &[
            ("app/Dockerfile", "FROM scratch\nCOPY . /site/\n"),
            ("app/ci.Dockerfile", "FROM scratch\nCOPY index.html /ci/\n"),
            ("app/index.html", "<h1>v1</h1>\n"),
            ("app/secret.env", "TOKEN=x\n"),
            ("app/.dockerignore", "secret.env\n"),
            ("README", "outside the subdir\n"),
        ],
        "site",
    );
    git(&repo, &["tag", "v1"]);
    commit(&repo, &[("app/index.html", "<h1>v2</h1>\n")], "v2");
    let data = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("a");
    build_ok(
        data.path(),
        cwd.path(),
        &[
            "--progress=plain",
            "-o",
            &format!("type=local,dest={}", dest.display()),
            &format!("{remote}#v1:app"),
        ],
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&dest.join("site/index.html")), "<h1>v1</h1>\n");
    assert!(
        !dest.join("site/secret.env").exists(),
        ".dockerignore applies"
    );
    assert!(
        !dest.join("site/README").exists(),
        "only the subdir is the context"
    );
    assert!(!dest.join("site/.git").exists());

    // -f names a file of the checkout; no fragment: the default branch.
    let dest = out.path().join("b");
    build_ok(
        data.path(),
        cwd.path(),
        &[
            "--progress=plain",
            "-f",
            "ci.Dockerfile",
            "-o",
            &format!("type=local,dest={}", dest.display()),
            &format!("{remote}?subdir=app"),
        ],
    );
    assert_eq!(read(&dest.join("ci/index.html")), "<h1>v2</h1>\n");
}
