//! Disk-usage reports and collections the leader asks for (`slipway du|prune --builder`):
//! an order comes with a `Renew` answer, runs here, and is answered with `GcDone`. A
//! collection takes [`Shared::gc_lock`] for writing, so it waits for running solves and
//! new ones wait for it; the blobs it removes are reported (`ForgetBlobs`) as after an
//! idle collection.

use std::sync::Arc;
use std::time::Duration;

use slipway_proto::v1;

use super::gc::report_removed;
use super::shared::Shared;
use slipway_worker::gc::{self, GcOptions};

/// The wire form of `opts`.
pub fn options_to_wire(opts: &GcOptions) -> v1::GcOptions {
    v1::GcOptions {
        keep_bytes: opts.keep_bytes,
        keep_duration_ms: opts
            .keep_duration
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        all: opts.all,
        include_cache_mounts: opts.include_cache_mounts,
    }
}

/// The collection options a wire order asks for.
pub fn options_from_wire(o: &v1::GcOptions) -> GcOptions {
    GcOptions {
        keep_bytes: o.keep_bytes,
        keep_duration: o.keep_duration_ms.map(Duration::from_millis),
        all: o.all,
        include_cache_mounts: o.include_cache_mounts,
    }
}

/// Runs `order` in the background and answers it.
pub fn start(shared: &Arc<Shared>, order: v1::GcOrder) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let result = run(&shared, &order).await;
        let sent = shared
            .coordinators
            .call("GcDone", &shared.cancel, |mut c| {
                let r = result.clone();
                async move { c.gc_done(r).await }
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(order = %order.id, error = %e, "answering a disk-usage/prune order");
        }
    });
}

async fn run(shared: &Arc<Shared>, order: &v1::GcOrder) -> v1::GcResult {
    let mut result = v1::GcResult {
        worker_id: shared.spec.id.to_string(),
        order_id: order.id.clone(),
        ..Default::default()
    };
    if let Some(wire) = &order.prune {
        let opts = options_from_wire(wire);
        let _exclusive = shared.gc_lock.write().await;
        let worker = shared.env.worker.clone();
        let collected = tokio::task::spawn_blocking(move || gc::collect(&worker, &opts)).await;
        let report = match collected {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                result.error = format!("pruning: {e}");
                return result;
            }
            Err(e) => {
                result.error = format!("pruning: background task failed: {e}");
                return result;
            }
        };
        tracing::info!(
            order = %order.id,
            blobs = report.removed_blobs.len(),
            snapshots = report.removed_snapshots.len(),
            freed = report.bytes_freed,
            "pruned on the farm's request"
        );
        result.bytes_freed = report.bytes_freed;
        result.entries_removed = u64::try_from(report.removed.len()).unwrap_or(u64::MAX);
        report_removed(shared, report.removed_blobs).await;
    }
    let _shared_read = shared.gc_lock.read().await;
    let worker = shared.env.worker.clone();
    match tokio::task::spawn_blocking(move || gc::usage(&worker)).await {
        Ok(Ok(u)) => {
            result.bytes = u.total();
            result.entries = u64::try_from(u.items.len()).unwrap_or(u64::MAX);
            result.reclaimable = u.reclaimable();
        }
        Ok(Err(e)) => result.error = format!("reading disk usage: {e}"),
        Err(e) => result.error = format!("reading disk usage: background task failed: {e}"),
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_survive_the_wire() {
        for opts in [
            GcOptions::default(),
            GcOptions {
                keep_bytes: Some(10_000_000),
                keep_duration: Some(Duration::from_secs(3600)),
                all: false,
                include_cache_mounts: true,
            },
            GcOptions {
                all: true,
                ..GcOptions::default()
            },
        ] {
            assert_eq!(options_from_wire(&options_to_wire(&opts)), opts);
        }
    }
}
