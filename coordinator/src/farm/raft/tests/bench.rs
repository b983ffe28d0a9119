//! Throughput of committed build submissions on 3 local nodes (BENCHMARKS goal: >= 1,000/s).
//! Run: `cargo test -p slipway-coordinator --release --lib farm::raft::tests::bench -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use slipway_farm::BuildId;

use crate::farm::raft::RaftConfig;
use crate::farm::state::test_support::{build_spec, platform, task_spec};
use crate::farm::state::{Command, Response};

use super::harness::{Cluster, TestResult};

/// Concurrent writers and submissions per writer; `SLIPWAY_RAFT_BENCH=<writers>x<each>`
/// overrides the default 64x80.
fn shape() -> (usize, usize) {
    std::env::var("SLIPWAY_RAFT_BENCH")
        .ok()
        .and_then(|v| {
            let (w, n) = v.split_once('x')?;
            Some((w.parse().ok()?, n.parse().ok()?))
        })
        .unwrap_or((64, 80))
}

fn submit(at_ms: u64) -> Command {
    let id = BuildId::new();
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    Command::SubmitBuild {
        id,
        spec: Box::new(build_spec(&platforms)),
        tasks: platforms
            .iter()
            .map(|p| task_spec(id, platform(p)))
            .collect(),
        at_ms,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn submissions_committed_per_second() -> TestResult {
    let cluster = Cluster::start(
        3,
        RaftConfig {
            write_timeout: Duration::from_secs(30),
            ..RaftConfig::default()
        },
    )
    .await?;
    let leader = cluster.wait_leader(None).await?;
    let node = Arc::new(cluster.node(leader)?.clone());
    let (writers_n, per_writer) = shape();
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..writers_n {
        let node = node.clone();
        writers.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for i in 0..per_writer {
                if node.write(submit((w * per_writer + i) as u64)).await? == Response::Ok {
                    ok += 1;
                }
            }
            anyhow::Ok(ok)
        }));
    }
    let mut committed = 0;
    for w in writers {
        committed += w.await??;
    }
    let elapsed = started.elapsed();
    assert_eq!(
        committed,
        writers_n * per_writer,
        "every submission was accepted"
    );
    let applied = node.metrics().applied_index;
    cluster.wait_applied(applied).await?;
    println!(
        "raft_submit: {committed} build submissions (3 tasks each) committed on 3 nodes in {:.2?} with {writers_n} concurrent writers: {:.0}/s",
        elapsed,
        committed as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
