//! `slipway du --builder` and `slipway prune --builder`: disk usage and pruning on the
//! farm's workers. The leader hands each live worker (or the one named by `--worker`) an
//! order with its next lease renewal and answers once every worker reported; a worker
//! that did not answer is listed with the reason and makes the command fail.

use super::client::{status_error, FarmClient, FarmOptions};
use super::status::block_on;
use crate::cmd::prune::human_size;
use anyhow::{Context, Result};
use slipway_agent::gc_orders::options_to_wire;
use slipway_proto::v1;
use slipway_worker::gc::GcOptions;

/// Fails naming the workers that did not answer (after their lines were printed).
fn check_errors<'a>(errors: impl Iterator<Item = (&'a str, &'a str)>) -> Result<()> {
    let failed: Vec<String> = errors
        .filter(|(_, e)| !e.is_empty())
        .map(|(w, e)| format!("{w}: {e}"))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} worker(s) did not answer: {}",
            failed.len(),
            failed.join("; ")
        )
    }
}

pub fn du(opts: &FarmOptions, worker: Option<String>) -> Result<()> {
    let answer = block_on(async {
        let mut client = FarmClient::connect(opts).await?;
        let r = client
            .control()
            .disk_usage(v1::DiskUsageRequest { worker_id: worker })
            .await
            .map_err(status_error)
            .context("asking the farm's workers for their disk usage")?;
        Ok(r.into_inner())
    })?;
    println!(
        "{:<24} {:>8} {:>12} {:>10}",
        "WORKER", "ENTRIES", "RECLAIMABLE", "SIZE"
    );
    let mut total = 0u64;
    for w in &answer.workers {
        if w.error.is_empty() {
            total = total.saturating_add(w.bytes);
            println!(
                "{:<24} {:>8} {:>12} {:>10}",
                w.worker_id,
                w.entries,
                human_size(w.reclaimable),
                human_size(w.bytes)
            );
        } else {
            println!("{:<24} error: {}", w.worker_id, w.error);
        }
    }
    println!("Total:\t{}", human_size(total));
    check_errors(
        answer
            .workers
            .iter()
            .map(|w| (w.worker_id.as_str(), w.error.as_str())),
    )
}

pub fn prune(opts: &FarmOptions, worker: Option<String>, gc: &GcOptions) -> Result<()> {
    let answer = block_on(async {
        let mut client = FarmClient::connect(opts).await?;
        let r = client
            .control()
            .prune(v1::PruneRequest {
                worker_id: worker,
                options: Some(options_to_wire(gc)),
            })
            .await
            .map_err(status_error)
            .context("pruning the farm's workers")?;
        Ok(r.into_inner())
    })?;
    let mut freed = 0u64;
    for w in &answer.workers {
        if w.error.is_empty() {
            freed = freed.saturating_add(w.bytes_freed);
            println!(
                "{}: deleted {} items, {} freed, {} left",
                w.worker_id,
                w.entries_removed,
                human_size(w.bytes_freed),
                human_size(w.bytes_remaining)
            );
        } else {
            println!("{}: error: {}", w.worker_id, w.error);
        }
    }
    println!("Total:\t{}", human_size(freed));
    check_errors(
        answer
            .workers
            .iter()
            .map(|w| (w.worker_id.as_str(), w.error.as_str())),
    )
}
