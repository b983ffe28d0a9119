//! Garbage collection between tasks. With a storage limit (`slipway worker
//! --gc-keep-storage`), whenever the worker falls idle it removes the least recently used
//! snapshots and unpinned blobs above the limit, then tells the coordinators which blobs
//! it no longer holds (`ForgetBlobs`), so the farm's cache index drops entries of which no
//! copy remains.
//!
//! Tasks hold [`Shared::gc_lock`] for reading while they run; collection takes it for
//! writing, so it never overlaps a solve (a task assigned meanwhile waits for it).

use std::sync::Arc;

use slipway_proto::v1::ForgottenBlobs;

use super::shared::Shared;
use slipway_worker::gc::{collect, GcOptions};

/// Collects if a limit is configured and no task is running or queued.
pub fn after_task(shared: &Arc<Shared>) {
    let Some(opts) = shared.gc.clone() else {
        return;
    };
    {
        let table = shared.table();
        if table.running() > 0 || table.queued() > 0 {
            tracing::debug!(
                running = table.running(),
                queued = table.queued(),
                "not idle: no collection"
            );
            return;
        }
    }
    tracing::info!("worker idle: collecting garbage");
    tokio::spawn(run(shared.clone(), opts));
}

async fn run(shared: Arc<Shared>, opts: GcOptions) {
    let _exclusive = shared.gc_lock.write().await;
    let worker = shared.env.worker.clone();
    let report = match tokio::task::spawn_blocking(move || collect(&worker, &opts)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "garbage collection failed");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "garbage collection task failed");
            return;
        }
    };
    tracing::info!(
        blobs = report.removed_blobs.len(),
        snapshots = report.removed_snapshots.len(),
        freed = report.bytes_freed,
        remaining = report.bytes_remaining,
        "garbage collected"
    );
    report_removed(&shared, report.removed_blobs).await;
}

/// Tells the coordinators which blobs this worker no longer holds (`ForgetBlobs`).
pub async fn report_removed(shared: &Shared, digests: Vec<String>) {
    if digests.is_empty() {
        return;
    }
    let blobs = digests.len();
    let request = ForgottenBlobs {
        worker_id: shared.spec.id.to_string(),
        digests,
    };
    let sent = shared
        .coordinators
        .call("ForgetBlobs", &shared.cancel, |mut c| {
            let r = request.clone();
            async move { c.forget_blobs(r).await }
        })
        .await;
    match sent {
        Ok(_) => tracing::info!(blobs, "the coordinators forgot the removed blobs"),
        Err(e) => tracing::warn!(error = %e, "telling the coordinators which blobs were removed"),
    }
}
