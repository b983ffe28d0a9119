//! An arm64 RUN through QEMU emulation in a real solve (root only).

mod common;
mod solve_support;

use slipway_graph::{Graph, Platform};
use slipway_worker::emulation::EmulationMode;
use solve_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn arm64_run_prints_aarch64() {
    require_tool("qemu-aarch64-static");
    let reg = TestRegistry::start();
    let base = push_base(&reg, "arm64").await;
    let tmp = tempfile::tempdir().unwrap();
    let w = worker_with(tmp.path(), "emulation", |c| {
        c.emulation = EmulationMode::Auto
    });
    let p = Platform::linux("arm64", "");
    let mut g = Graph::new();
    let from = image(&mut g, &base, &p);
    let step = run(&mut g, &from, "uname -m > /arch", &p);
    output(&mut g, &step, &p);
    let (r, _) = solve(&w.worker, request(g)).await;
    let result = r.unwrap();
    let img = &result.images[0];
    assert_eq!(img.platform, p);
    let files = layer_files(w.worker.store(), img.layers.last().unwrap());
    assert_eq!(
        files.get("arch").map(Vec::as_slice),
        Some(&b"aarch64\n"[..]),
        "{files:?}"
    );
    let config: serde_json::Value = serde_json::from_slice(
        &w.worker
            .store()
            .read_blob(&slipway_oci::Digest::try_from(img.config.digest()).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(config["architecture"], "arm64");
}
