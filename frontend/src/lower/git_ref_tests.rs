//! BuildKit's tables (`dfgitutil/git_ref_test.go`, `gitutil/git_url_test.go`,
//! `sshutil/scpurl_test.go`), then cases for what those tables leave out.

use super::*;

enum Want {
    /// BuildKit: `isGit == false`.
    NotGit,
    Git(GitRef),
    /// BuildKit: `isGit == true` and an error containing the text.
    Fails(GitRefError, &'static str),
}
use Want::{Fails, Git, NotGit};

const EX: &str = "https://example.com/foo.git";
const BK: &str = "https://github.com/moby/buildkit.git";
const DOCKER: &str = "https://github.com/docker/docker.git";
const R: &str = "https://example.com/r.git";

fn git(remote: &str, short_name: &str) -> GitRef {
    GitRef {
        remote: remote.to_owned(),
        short_name: short_name.to_owned(),
        ..GitRef::default()
    }
}

fn bk() -> GitRef {
    git(BK, "buildkit")
}

fn r() -> GitRef {
    git(R, "r")
}

impl GitRef {
    fn at(mut self, reference: &str) -> GitRef {
        self.reference = reference.to_owned();
        self
    }

    fn sub(mut self, subdir: &str) -> GitRef {
        self.subdir = subdir.to_owned();
        self
    }
}

fn check<const N: usize>(cases: [(&str, Want); N]) {
    for (input, want) in cases {
        let got = parse_git_ref(input);
        match want {
            NotGit => assert_eq!(got, Ok(None), "{input}"),
            Git(want) => assert_eq!(got, Ok(Some(want)), "{input}"),
            Fails(want, text) => {
                assert!(want.to_string().contains(text), "{input}: {want}");
                assert_eq!(got, Err(want), "{input}");
            }
        }
    }
}

fn ref_conflict(a: &str, b: &str) -> GitRefError {
    GitRefError::RefConflict {
        a: a.into(),
        b: b.into(),
    }
}

#[test]
fn buildkit_parse_git_ref() {
    let gh = |reference: &str| GitRef {
        indistinguishable_from_local: true,
        ..git("github.com/moby/buildkit", "buildkit").at(reference)
    };
    let bool_err = GitRefError::InvalidBool {
        key: "fetch-by-commit".into(),
        value: "invalid".into(),
    };
    let unexpected = GitRefError::UnexpectedQuery {
        key: "invalid".into(),
    };
    check([
        ("https://example.com/", NotGit),
        ("https://example.com/foo", NotGit),
        ("https://example.com/foo.git", Git(git(EX, "foo"))),
        ("https://example.com/foo.git#deadbeef", Git(git(EX, "foo").at("deadbeef"))),
        ("https://example.com/foo.git#release/1.2", Git(git(EX, "foo").at("release/1.2"))),
        ("https://example.com/foo.git/", NotGit),
        ("https://example.com/foo.git.bar", NotGit),
        (
            "git://example.com/foo",
            Git(GitRef { unencrypted_tcp: true, ..git("git://example.com/foo", "foo") }),
        ),
        ("github.com/moby/buildkit", Git(gh(""))),
        ("github.com/moby/buildkit#master", Git(gh("master"))),
        ("custom.xyz/moby/buildkit.git", NotGit),
        ("https://github.com/moby/buildkit", NotGit),
        (BK, Git(bk())),
        (
            "https://foo:bar@github.com/moby/buildkit.git",
            Git(git("https://foo:bar@github.com/moby/buildkit.git", "buildkit")),
        ),
        ("git@github.com:moby/buildkit", Git(git("git@github.com:moby/buildkit", "buildkit"))),
        (
            "git@github.com:moby/buildkit.git",
            Git(git("git@github.com:moby/buildkit.git", "buildkit")),
        ),
        (
            "git@bitbucket.org:atlassianlabs/atlassian-docker.git",
            Git(git("git@bitbucket.org:atlassianlabs/atlassian-docker.git", "atlassian-docker")),
        ),
        (
            "https://github.com/foo/bar.git#baz/qux:quux/quuz",
            Git(git("https://github.com/foo/bar.git", "bar").at("baz/qux").sub("quux/quuz")),
        ),
        ("http://github.com/docker/docker.git:#branch", NotGit),
        (
            "https://github.com/docker/docker.git#:myfolder",
            Git(git(DOCKER, "docker").sub("myfolder")),
        ),
        ("./.git", NotGit),
        (".git", NotGit),
        (
            "https://github.com/docker/docker.git?ref=v1.0.0&subdir=/subdir",
            Git(git(DOCKER, "docker").at("v1.0.0").sub("/subdir")),
        ),
        (
            "https://github.com/moby/buildkit.git?subdir=/subdir#v1.0.0",
            Git(bk().at("v1.0.0").sub("/subdir")),
        ),
        ("https://github.com/moby/buildkit.git?tag=v1.0.0", Git(bk().at("refs/tags/v1.0.0"))),
        ("github.com/moby/buildkit?tag=v1.0.0", Git(gh("refs/tags/v1.0.0"))),
        ("https://github.com/moby/buildkit.git?branch=v1.0", Git(bk().at("refs/heads/v1.0"))),
        (
            "https://github.com/moby/buildkit.git?ref=v1.0.0#v1.2.3",
            Fails(ref_conflict("v1.2.3", "v1.0.0"), "ref conflicts"),
        ),
        (
            "https://github.com/moby/buildkit.git?ref=v1.0.0&tag=v1.2.3",
            Fails(ref_conflict("v1.0.0", "refs/tags/v1.2.3"), "ref conflicts"),
        ),
        (
            "https://github.com/moby/buildkit.git?tag=v1.0.0&branch=v1.0",
            Fails(GitRefError::BranchAndTag, "branch conflicts with tag"),
        ),
        (
            "git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0",
            Git(git("git@github.com:moby/buildkit.git", "buildkit").at("v1.0.0").sub("/subdir")),
        ),
        (
            "https://github.com/moby/buildkit.git?mtime=commit",
            Git(GitRef { mtime: "commit".into(), ..bk() }),
        ),
        (
            "https://github.com/moby/buildkit.git?mtime=checkout",
            Git(GitRef { mtime: "checkout".into(), ..bk() }),
        ),
        (
            "https://github.com/moby/buildkit.git?mtime=invalid",
            Fails(GitRefError::InvalidMtime { value: "invalid".into() }, "invalid mtime value"),
        ),
        (
            "https://github.com/moby/buildkit.git?fetch-by-commit=true&checksum=deadbeef#refs/heads/branch",
            Git(GitRef {
                checksum: "deadbeef".into(),
                fetch_by_commit: true,
                ..bk().at("refs/heads/branch")
            }),
        ),
        (
            "https://github.com/moby/buildkit.git?fetch-by-commit&checksum=deadbeef",
            Git(GitRef { checksum: "deadbeef".into(), fetch_by_commit: true, ..bk() }),
        ),
        ("https://github.com/moby/buildkit.git?fetch-by-commit=false", Git(bk())),
        (
            "https://github.com/moby/buildkit.git?fetch-by-commit=invalid",
            Fails(bool_err, "invalid fetch-by-commit value"),
        ),
        (
            "https://github.com/moby/buildkit.git?invalid=123",
            Fails(unexpected, "unexpected query \"invalid\""),
        ),
    ]);
}

/// `gitutil.TestParseURL`, each result as `scheme|host|path|ref:subdir|query|user`
/// (`-`: no fragment, no query).
#[test]
fn buildkit_parse_url() {
    let show = |u: GitUrl| {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let opts =
            fragment_opts(&text(&u.fragment)).map_or("-".into(), |(r, s)| format!("{r}:{s}"));
        let query: Vec<String> = (u.query.iter())
            .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{}={}", text(k), text(v))))
            .collect();
        let query = if query.is_empty() {
            "-".into()
        } else {
            query.join("&")
        };
        let (host, path, user) = (text(&u.host), text(&u.path), u.user.unwrap_or_default());
        format!("{}|{host}|{path}|{opts}|{query}|{user}", u.scheme)
    };
    for (input, want) in [
        (
            "http://github.com/moby/buildkit",
            "http|github.com|/moby/buildkit|-|-|",
        ),
        (
            "https://github.com/moby/buildkit",
            "https|github.com|/moby/buildkit|-|-|",
        ),
        (
            "http://github.com/moby/buildkit#v1.0.0",
            "http|github.com|/moby/buildkit|v1.0.0:|-|",
        ),
        (
            "http://github.com/moby/buildkit#v1.0.0:subdir",
            "http|github.com|/moby/buildkit|v1.0.0:subdir|-|",
        ),
        (
            "http://foo:bar@github.com/moby/buildkit#v1.0.0",
            "http|github.com|/moby/buildkit|v1.0.0:|-|foo:bar",
        ),
        (
            "ssh://git@github.com/moby/buildkit.git",
            "ssh|github.com|/moby/buildkit.git|-|-|git",
        ),
        (
            "ssh://git@github.com:22/moby/buildkit.git",
            "ssh|github.com:22|/moby/buildkit.git|-|-|git",
        ),
        (
            "git@github.com:moby/buildkit.git",
            "ssh|github.com|moby/buildkit.git|-|-|git",
        ),
        (
            "git@github.com:moby/buildkit.git#v1.0.0",
            "ssh|github.com|moby/buildkit.git|v1.0.0:|-|git",
        ),
        (
            "git@github.com:moby/buildkit.git#v1.0.0:hack",
            "ssh|github.com|moby/buildkit.git|v1.0.0:hack|-|git",
        ),
        (
            "nonstandarduser@example.com:/srv/repos/weird/project.git",
            "ssh|example.com|/srv/repos/weird/project.git|-|-|nonstandarduser",
        ),
        (
            "ssh://root@subdomain.example.hostname:2222/root/my/really/weird/path/foo.git",
            "ssh|subdomain.example.hostname:2222|/root/my/really/weird/path/foo.git|-|-|root",
        ),
        (
            "git://host.xz:1234/path/to/repo.git",
            "git|host.xz:1234|/path/to/repo.git|-|-|",
        ),
        (
            "ssh://someuser@192.168.0.123:456/~/repo-in-my-home-dir.git",
            "ssh|192.168.0.123:456|/~/repo-in-my-home-dir.git|-|-|someuser",
        ),
        ("httpx://github.com/moby/buildkit", "error"),
        (
            "HTTP://github.com/moby/buildkit",
            "http|github.com|/moby/buildkit|-|-|",
        ),
        (
            "https://github.com/moby/buildkit?ref=v1.0.0&foo=bar#v1.2.3",
            "https|github.com|/moby/buildkit|v1.2.3:|foo=bar&ref=v1.0.0|",
        ),
        (
            "git@github.com:moby/buildkit.git?subdir=/subdir#v1.0.0",
            "ssh|github.com|moby/buildkit.git|v1.0.0:|subdir=/subdir|git",
        ),
        // Not in BuildKit's table: repeated keys keep their order; "+" is a space.
        ("git://h/r?b=2&a=x+y&b=1", "git|h|/r|-|a=x y&b=2&b=1|"),
    ] {
        assert_eq!(
            parse_url(input).map_or("error".into(), show),
            want,
            "{input}"
        );
    }
}

/// `sshutil.TestIsImplicitSSHTransport` and `TestParseSCPStyleURL`.
#[test]
fn buildkit_scp_style_urls() {
    for (input, implicit) in [
        ("http://github.com/moby/buildkit", false),
        ("github.com/moby/buildkit", false),
        ("github.com:moby/buildkit.git", false),
        ("helloworld.net", false),
        ("git@helloworld.net", false),
        ("git@helloworld.net/foo/bar.git", false),
        ("bad:user@helloworld.net:foo/bar.git", false),
        ("", false),
        ("git@github.com:moby/buildkit.git", true),
        (
            "nonstandarduser@example.com:/srv/repos/weird/project.git",
            true,
        ),
        ("other_Funky-username52@example.com:path/to/repo.git/", true),
        (
            "other_Funky-username52@example.com:/to/really:odd:repo.git/",
            true,
        ),
        ("teddy@4houses-down.com:/~/catnip.git/", true),
        (
            "ssh://root@subdomain.example.hostname:2222/root/my/really/weird/path/foo.git",
            false,
        ),
        ("ssh://git@github.com:22/moby/buildkit.git", false),
    ] {
        assert_eq!(parse_scp(input).is_some(), implicit, "{input}");
    }
    let u = parse_scp("git@github.com:moby/buildkit.git#v1.0").unwrap();
    assert_eq!(u.user.as_deref(), Some("git"));
    assert_eq!(
        (&u.host[..], &u.path[..]),
        (&b"github.com"[..], &b"moby/buildkit.git"[..])
    );
    assert_eq!(u.fragment, b"v1.0");
}

#[test]
fn query_rules_do_not_depend_on_order() {
    let err = |e: GitRefError| Fails(e, "");
    let sub = |a: &str, b: &str| GitRefError::SubdirConflict {
        a: a.into(),
        b: b.into(),
    };
    let sum = |a: &str, b: &str| GitRefError::ChecksumConflict {
        a: a.into(),
        b: b.into(),
    };
    let many = |key: &str| GitRefError::QueryMultipleValues { key: key.into() };
    let empty = |key: &str| GitRefError::QueryNoValue { key: key.into() };
    check([
        (
            "https://example.com/r.git?subdir=x#main:y",
            err(sub("y", "x")),
        ),
        (
            "https://example.com/r.git?subdir=y#main:./y/",
            Git(r().at("main").sub("y")),
        ),
        (
            "https://example.com/r.git?ref=main#main",
            Git(r().at("main")),
        ),
        (
            "https://example.com/r.git?branch=dev#refs/heads/dev",
            Git(r().at("refs/heads/dev")),
        ),
        (
            "https://example.com/r.git?branch=dev#dev",
            err(ref_conflict("dev", "refs/heads/dev")),
        ),
        (
            "https://example.com/r.git?tag=refs/tags/v1",
            Git(r().at("refs/tags/v1")),
        ),
        (
            "https://example.com/r.git?branch=v1&tag=v1",
            err(GitRefError::BranchAndTag),
        ),
        (
            "https://example.com/r.git?checksum=a&commit=b",
            err(sum("a", "b")),
        ),
        (
            "https://example.com/r.git?commit=b&checksum=a",
            err(sum("a", "b")),
        ),
        (
            "https://example.com/r.git?commit=a&checksum=a",
            Git(GitRef {
                checksum: "a".into(),
                ..r()
            }),
        ),
        ("https://example.com/r.git?ref=a&ref=b", err(many("ref"))),
        (
            "https://example.com/r.git?submodules&submodules",
            err(many("submodules")),
        ),
        ("https://example.com/r.git?tag=", err(empty("tag"))),
        ("https://example.com/r.git?nope", err(empty("nope"))),
        ("https://example.com/r.git?mtime", err(empty("mtime"))),
        (
            "https://example.com/r.git?keep-git-dir=&submodules=F&fetch-by-commit=1",
            Git(GitRef {
                keep_git_dir: Some(true),
                submodules: Some(false),
                fetch_by_commit: true,
                ..r()
            }),
        ),
        (
            "https://example.com/r.git?keep-git-dir=False",
            Git(GitRef {
                keep_git_dir: Some(false),
                ..r()
            }),
        ),
        (
            "https://example.com/r.git?submodules=yes",
            err(GitRefError::InvalidBool {
                key: "submodules".into(),
                value: "yes".into(),
            }),
        ),
    ]);
}

#[test]
fn url_details() {
    let same = |remote: &str, short: &str| Git(git(remote, short));
    let not_utf8 = GitRefError::NotUtf8 {
        part: "fragment".into(),
    };
    check([
        // Schemes: case-insensitive, unknown ones are not git, ssh:// needs no ".git".
        (
            "HTTPS://Example.com/R.git",
            same("https://Example.com/R.git", "R"),
        ),
        (
            "ssh://git@example.com:22/r",
            same("ssh://git@example.com:22/r", "r"),
        ),
        (
            "http://example.com/r.git",
            Git(GitRef {
                unencrypted_tcp: true,
                ..git("http://example.com/r.git", "r")
            }),
        ),
        ("ftp://example.com/r.git", NotGit),
        ("git+ssh://git@example.com/r.git", NotGit),
        ("../r.git", NotGit),
        // Go's escaping: the path as written when valid, else re-escaped; decoded for ".git".
        (
            "https://example.com/a%2Fb.git",
            same("https://example.com/a%2Fb.git", "a%2Fb"),
        ),
        (
            "https://example.com/r%2Egit",
            same("https://example.com/r%2Egit", "r%2Egit"),
        ),
        (
            "https://example.com/a b.git",
            same("https://example.com/a%20b.git", "a%20b"),
        ),
        (
            "https://example.com/é.git",
            same("https://example.com/%C3%A9.git", "%C3%A9"),
        ),
        (
            "https://us%65r:p%40ss@example.com/r.git",
            same("https://user:p%40ss@example.com/r.git", "r"),
        ),
        (
            "https://user:@example.com/r.git",
            same("https://user:@example.com/r.git", "r"),
        ),
        (
            "https://[fe80::1%25en0]:443/r.git",
            same("https://[fe80::1%25en0]:443/r.git", "r"),
        ),
        // A bare "?" stays in the remote, as in Go.
        (
            "https://example.com/r.git?",
            same("https://example.com/r.git?", "r.git?"),
        ),
        // Malformed URLs are not git references (hosts as Go 1.26 checks them).
        ("https://example.com/r%zz.git", NotGit),
        ("https://example.com/r.git#%zz", NotGit),
        ("https://exa mple.com/r.git", NotGit),
        ("https://ex%41mple.com/r.git", NotGit),
        (
            "https://ex%C3%A9mple.com/r.git",
            same("https://ex%C3%A9mple.com/r.git", "r"),
        ),
        ("https://example.com:80:80/r.git", NotGit),
        ("https://::1/r.git", NotGit),
        ("https://[1.2.3.4]/r.git", NotGit),
        ("https://a[::1]/r.git", NotGit),
        ("https://[::1%25]/r.git", NotGit),
        ("https://us er@example.com/r.git", NotGit),
        ("https://example.com/r\t.git", NotGit),
        ("github.com/a%zz", NotGit),
        // Fragments are decoded; the subdir is cleaned.
        (
            "https://example.com/r.git#v%2F1:a/../b/",
            Git(r().at("v/1").sub("b")),
        ),
        ("https://example.com/r.git#main:../..", Git(r().at("main"))),
        (
            "https://example.com/r.git#%ff",
            Fails(not_utf8, "not valid UTF-8"),
        ),
        // A URL drops the query pairs Go cannot decode; an scp-like query must decode whole.
        (
            "https://example.com/r.git?ref=%zz&tag=v1",
            Git(r().at("refs/tags/v1")),
        ),
        ("https://example.com/r.git?a;b", Git(r())),
        ("git@example.com:r.git?ref=%zz", NotGit),
        ("git@example.com:r.git?a;b", NotGit),
        ("git@example.com:r\n.git", NotGit),
        ("@example.com:r.git", NotGit),
        // No "/" in the remote: BuildKit's short name is all of it.
        (
            "git@example.com:r.git?ref=a+b",
            Git(git("git@example.com:r.git", "git@example.com:r").at("a b")),
        ),
        // The deprecated github.com form keeps no scheme.
        (
            "github.com/a b",
            Git(GitRef {
                indistinguishable_from_local: true,
                ..git("github.com/a%20b", "a%20b")
            }),
        ),
    ]);
}
