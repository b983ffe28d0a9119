//! The hand parser against oci-spec's regex parser on many references.

use super::parse_plain;
use oci_client::Reference;

const D64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn inputs() -> Vec<String> {
    let mut v: Vec<String> = [
        "busybox",
        "alpine:3.20",
        "library/alpine",
        "docker.io/alpine",
        "docker.io/library/alpine:latest",
        "index.docker.io/alpine",
        "index.docker.io/foo/bar:1",
        "opensuse/leap:15.3",
        "test.com:tag",
        "test.com:5000",
        "test.com/repo:tag",
        "test:5000/repo",
        "localhost/x",
        "localhost:5000/x",
        "localhost:5000/x:y",
        "localhost:5000",
        "localhost",
        "127.0.0.1:5000/a/b:c",
        "127.0.0.1:5000/a/b",
        "ghcr.io/owner/repo/sub:v1.2.3-rc_1",
        "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
        "b.gcr.io/test.example.com/my-app:test.example.com",
        "xn--n3h.com/myimage:xn--n3h.com",
        "foo_bar.com:8080",
        "foo/foo_bar.com:8080",
        "Foo.com/bar",
        "FOO.COM:5000/bar:TAG",
        "a__b/c---d/e.f/g_h",
        "a___b",
        "a..b",
        "a._b",
        "-a/b",
        "a-/b",
        "a/b-",
        "_a",
        "a/_b",
        "lowercase:Uppercase",
        "UPPER/Case:x",
        "Upper",
        "a/B",
        "",
        ":justtag",
        "a:",
        "a:.tag",
        "a:-tag",
        "a:_tag",
        "a/",
        "/a",
        "a//b",
        "host:/a",
        "host:abc/a",
        "-host.com/a",
        "host-.com/a",
        "host..com/a",
        "a b",
        "ümlaut/x",
        "a:täg",
        "a@b",
        "a@",
        "@sha256:00",
        "a:t:u",
        "a:5000/b:c:d",
        "[::1]:5000/a",
        "validname@invaliddigest:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "repo@sha256:ffffffffffffffffffffffffffffffffff",
        "repo@sha256:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "repo@sha512:ffff",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for base in [
        "a",
        "docker.io/a",
        "localhost:5000/x",
        "127.0.0.1:5000/a/b:c",
        "ghcr.io/o/r:1.0",
        "busybox:latest",
    ] {
        v.push(format!("{base}@sha256:{D64}"));
        v.push(format!("{base}@sha256:{}", &D64[1..]));
        v.push(format!("{base}@sha512:{D64}{D64}"));
        v.push(format!("{base}@sha256:{D64}@sha256:{D64}"));
    }
    v.push(format!("a:{}", "t".repeat(128)));
    v.push(format!("a:{}", "t".repeat(129)));
    v.push(format!("reg.io/{}", "a".repeat(255)));
    v.push(format!("reg.io/{}", "a".repeat(256)));
    v.push("a".repeat(248));
    v.push("a".repeat(247));
    v
}

#[test]
fn hand_parser_agrees_with_regex_parser() {
    let mut fast = 0;
    for input in inputs() {
        let by_regex = input.parse::<Reference>().ok();
        match parse_plain(&input) {
            Some(by_hand) => {
                fast += 1;
                assert_eq!(Some(&by_hand), by_regex.as_ref(), "{input:?}");
                assert_eq!(
                    by_hand.to_string(),
                    by_regex.map(|r| r.to_string()).unwrap_or_default()
                );
            }
            // Left to the regex parser: only inputs outside the plain subset.
            None => assert!(
                by_regex.is_none()
                    || !input.is_ascii()
                    || input.contains(|c: char| c.is_ascii_uppercase())
                    || input.contains("@sha512"),
                "{input:?} is plain but the hand parser declined it"
            ),
        }
    }
    assert!(fast >= 35, "only {fast} inputs took the hand path");
}

#[test]
fn common_forms_take_the_hand_path() {
    let r = parse_plain(&format!("127.0.0.1:5000/a/b:c@sha256:{D64}")).unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag(), r.digest()),
        (
            "127.0.0.1:5000",
            "a/b",
            Some("c"),
            Some(format!("sha256:{D64}").as_str())
        )
    );
    let r = parse_plain("alpine").unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag()),
        ("docker.io", "library/alpine", Some("latest"))
    );
    assert!(parse_plain("UPPER/Case:x").is_none());
}
