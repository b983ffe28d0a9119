//! URL build contexts through `slipway build` (embedded), served by a local HTTP server:
//! a gzip tarball is the context (its Dockerfile at the root, or `-f` inside it), a plain
//! Dockerfile URL builds with an empty context, and hostile or unsupported archives are
//! refused with the reason.

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use support::*;

/// Serves `files` (path → body) over HTTP/1.1 on a loopback port until the test ends.
fn serve(files: HashMap<&'static str, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            match files.get(path) {
                Some(body) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(body);
                }
                None => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                }
            }
        }
    });
    format!("http://{addr}")
}

fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, path, *data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// A tar whose one entry is named `name` verbatim (the tar crate refuses to write `..`).
fn raw_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[test]
fn url_contexts_are_tarballs_or_dockerfiles() {
    require_tools();
    let base = serve(HashMap::from([
        (
            "/ctx.tar.gz",
            tar_gz(&[
                ("Dockerfile", b"FROM scratch\nCOPY hello.txt /\n"),
                ("alt.Dockerfile", b"FROM scratch\nCOPY hello.txt /alt/\n"),
                ("hello.txt", b"from the tarball\n"),
            ]),
        ),
        (
            "/Dockerfile",
            b"FROM scratch\nCOPY <<EOF /made.txt\nno context needed\nEOF\n".to_vec(),
        ),
        ("/ctx.tar.bz2", b"BZh91AY&SY".to_vec()),
        ("/evil.tar", raw_tar("../escape.txt", b"x")),
    ]));
    let data = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let local = |name: &str| format!("type=local,dest={}", out.path().join(name).display());
    build_ok(
        data.path(),
        cwd.path(),
        &[
            "--progress=plain",
            "-o",
            &local("a"),
            &format!("{base}/ctx.tar.gz"),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("a/hello.txt")).unwrap(),
        "from the tarball\n"
    );
    build_ok(
        data.path(),
        cwd.path(),
        &[
            "--progress=plain",
            "-f",
            "alt.Dockerfile",
            "-o",
            &local("b"),
            &format!("{base}/ctx.tar.gz"),
        ],
    );
    assert!(out.path().join("b/alt/hello.txt").is_file());
    build_ok(
        data.path(),
        cwd.path(),
        &[
            "--progress=plain",
            "-o",
            &local("c"),
            &format!("{base}/Dockerfile"),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.path().join("c/made.txt")).unwrap(),
        "no context needed\n"
    );

    for (path, want) in [
        ("/ctx.tar.bz2", "bzip2 or xz"),
        ("/evil.tar", "escape.txt"),
        ("/missing.tar", "404"),
    ] {
        let r = slipway_build(data.path(), cwd.path(), &[&format!("{base}{path}")]);
        assert!(!r.success, "{path} was accepted");
        assert!(r.stderr.contains(want), "{path}: {}", r.stderr);
    }
    assert!(
        !cwd.path().join("escape.txt").exists() && !data.path().join("escape.txt").exists(),
        "nothing written outside the context"
    );
}
