//! `slipway build` refusals: bad flags name the flag, Dockerfile errors show their line.

mod support;

use support::*;

#[test]
fn bad_flags_name_the_flag() {
    let data = tempfile::tempdir().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["-o", "type=foo", "."], "--output: unknown type \"foo\""),
        (&["--progress=fancy", "."], "--progress: "),
        (
            &["--network=bridge", "."],
            "--network: unknown mode \"bridge\"",
        ),
        (&["--secret", "src=/x", "."], "--secret: "),
        (
            &["--allow", "network.host,device", "."],
            "--allow: unknown entitlement \"device\"",
        ),
        (
            &["--load", "--platform", "linux/amd64,linux/arm64", "."],
            "--output type=docker",
        ),
        (
            &["--builder", "farm:1234", "."],
            "the farm uses mutual TLS: pass --tls-dir",
        ),
        (
            &["--builder", "127.0.0.1:9", "--insecure", "."],
            "no coordinator answered",
        ),
        (
            &[
                "--platform",
                "linux/amd64",
                "-o",
                "type=docker,dest=a.tar",
                "--platform",
                "linux/arm64",
                ".",
            ],
            "--output type=docker",
        ),
    ];
    for (args, want) in cases {
        let r = slipway_build(data.path(), ctx.path(), args);
        assert!(!r.success, "{args:?} succeeded");
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
    }
}

#[test]
fn dockerfile_errors_show_the_line() {
    require_tools();
    let data = tempfile::tempdir().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nFROBNICATE the widgets\n",
    )
    .unwrap();
    let r = slipway_build(data.path(), ctx.path(), &["--progress=plain", "."]);
    assert!(!r.success);
    assert!(r.stderr.contains("Dockerfile:2"), "{}", r.stderr);
    assert!(r.stderr.contains("FROBNICATE the widgets"), "{}", r.stderr);
}
