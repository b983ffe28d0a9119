//! `ADD https://…` sources in a real solve (root only), against a one-shot local server.

mod common;
mod solve_support;

use std::io::{Read, Write};
use std::net::TcpListener;

use slipway_graph::{Graph, HttpSource, Op, SourceOp, Vertex};
use slipway_progress::VertexStatus;
use slipway_worker::{SolveError, VertexError};
use solve_support::*;

/// Serves `body` to each of `count` requests; returns the URL.
fn serve(body: &'static [u8], count: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
        }
    });
    format!("http://{addr}/file.txt")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_source_downloads_checks_and_caches() {
    let reg = TestRegistry::start();
    let base = push_base(&reg, "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "http");
    let p = host();
    let body: &'static [u8] = b"downloaded content\n";
    let url = serve(body, 1);
    let sum = slipway_graph::Digest::of_bytes(body);
    let build = |checksum: Option<slipway_graph::Digest>| {
        let mut g = Graph::new();
        let from = image(&mut g, &base, &p);
        let http = g.add(
            Vertex::new(
                Op::Source(SourceOp::Http(HttpSource {
                    url: url.clone(),
                    filename: "file.txt".into(),
                    checksum,
                })),
                vec![],
                p.clone(),
            )
            .with_name("ADD url"),
        );
        let added = copy(&mut g, &from, &http, "/file.txt", "/added.txt", &p);
        output(&mut g, &added, &p);
        request(g)
    };
    let (r, _) = solve(&w.worker, build(Some(sum.clone()))).await;
    let img = r.unwrap().images.remove(0);
    let files = layer_files(w.worker.store(), img.layers.last().unwrap());
    assert_eq!(
        files.get("added.txt").map(Vec::as_slice),
        Some(body),
        "{files:?}"
    );
    // The server answered once and is gone: a pinned checksum is a cache hit.
    let (r, events) = solve(&w.worker, build(Some(sum))).await;
    r.unwrap();
    assert_eq!(statuses(&events, "ADD url"), vec![VertexStatus::Cached]);
    // A wrong checksum fails, naming the vertex.
    let url2 = serve(body, 1);
    let mut g = Graph::new();
    let http = g.add(
        Vertex::new(
            Op::Source(SourceOp::Http(HttpSource {
                url: url2,
                filename: "f".into(),
                checksum: Some(slipway_graph::Digest::of_bytes(b"other")),
            })),
            vec![],
            p.clone(),
        )
        .with_name("ADD bad"),
    );
    output(&mut g, &http, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    match r.unwrap_err() {
        SolveError::Vertex { name, source, .. } => {
            assert_eq!(name, "ADD bad");
            assert!(
                matches!(*source, VertexError::ChecksumMismatch { .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}
