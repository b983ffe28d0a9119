//! A base image whose upper layer deletes files of the lower one (whiteouts and an opaque
//! directory) unpacks into snapshots that hide them (root only).

mod common;
mod solve_support;

use slipway_graph::Graph;
use solve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn base_image_whiteouts_hide_lower_files() {
    let reg = TestRegistry::start();
    let root = rootfs("amd64");
    let upper = layer_tar(&[
        ("etc/.wh.group", b""),
        ("home/.wh..wh..opq", b""),
        ("home/new", b"added"),
    ]);
    let reference = push_dir_and_tars(&reg, "layered:1", &root, &[upper], "amd64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker(tmp.path(), "whiteouts");
    let p = host();
    let mut g = Graph::new();
    let from = image(&mut g, &reference, &p);
    let step = run(
        &mut g,
        &from,
        "test ! -e /etc/group && test ! -e /home/app && test -f /home/new && test -f /etc/passwd && echo ok > /wh-ok",
        &p,
    );
    output(&mut g, &step, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    let img = r.unwrap().images.remove(0);
    assert_eq!(img.layers.len(), 3);
    let files = layer_files(w.worker.store(), &img.layers[2]);
    assert_eq!(
        files.get("wh-ok").map(Vec::as_slice),
        Some(&b"ok\n"[..]),
        "{files:?}"
    );
    // The pulled layers are exported as they were pulled.
    let upper_files = layer_files(w.worker.store(), &img.layers[1]);
    assert!(upper_files.contains_key("etc/.wh.group"), "{upper_files:?}");
}
