//! Peak memory while pushing a large layer (ignored by default; see BENCHMARKS.md).
//!
//! SLIPWAY_BENCH_LAYER_MB (default 1024) sets the layer size. Run:
//!   CARGO_TARGET_DIR=target-oci cargo test -p slipway-oci --release --test registry_bench -- --ignored --nocapture

mod support;

use slipway_oci::registry::{PushOptions, UploadMode};
use std::time::Instant;
use support::image::{big_tar_layer, image_from_layers};
use support::{client, TestRegistry};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pushes a 1 GiB layer; run explicitly to measure peak RSS"]
async fn push_large_layer_peak_rss() {
    let mb: u64 = std::env::var("SLIPWAY_BENCH_LAYER_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let reg = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let layer = big_tar_layer(dir.path(), 42, mb * 1024 * 1024);
    let diff_id = layer.descriptor.digest.clone();
    let img = image_from_layers(dir.path(), "linux/amd64", vec![(layer, diff_id)]);
    let before = peak_rss_kib();
    println!(
        "generated {mb} MiB layer in {:?}; peak RSS so far {} MiB",
        t.elapsed(),
        before / 1024
    );
    for (mode, repo) in [
        (UploadMode::Monolithic, "bench/mono"),
        (UploadMode::Chunked, "bench/chunked"),
    ] {
        let t = Instant::now();
        let r = reg.reference(&format!("{repo}:1"));
        let report = client(mode)
            .push(
                &r,
                &img.plan(),
                &PushOptions {
                    tags: vec!["1".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let peak = peak_rss_kib() / 1024;
        println!(
            "{mode:?}: pushed {} MiB in {secs:.1}s ({:.0} MiB/s); process peak RSS {peak} MiB",
            report.bytes_uploaded / (1024 * 1024),
            report.bytes_uploaded as f64 / (1024.0 * 1024.0) / secs
        );
        assert!(
            peak < 150,
            "peak RSS {peak} MiB while pushing a {mb} MiB layer"
        );
    }
}
