//! Removing the planned items. A snapshot goes by deleting its chain link first (the
//! snapshotter's commit point, so it is no longer committed) and then its directory; a
//! crash in between leaves an orphan directory the snapshotter removes when it opens.

use std::fs;
use std::path::Path;

use slipway_oci::{Digest, StoreError};

use super::{GcError, GcReport, ItemKind, UsageItem};
use crate::Worker;

/// Removes `items[i]` for each `i` of `order`, in that order.
pub(crate) fn remove(
    worker: &Worker,
    items: &[UsageItem],
    order: &[usize],
) -> Result<GcReport, GcError> {
    let mut report = GcReport::default();
    for item in order.iter().filter_map(|&i| items.get(i)) {
        let removed = match item.kind {
            ItemKind::Snapshot => remove_snapshot(worker, &item.id)?,
            ItemKind::Blob => remove_blob(worker, &item.id)?,
            ItemKind::CacheMount => {
                remove_dir(&worker.inner.data_dir.join("cache-mounts").join(&item.id))?
            }
        };
        if !removed {
            continue;
        }
        match item.kind {
            ItemKind::Snapshot => report.removed_snapshots.push(item.id.clone()),
            ItemKind::Blob => report.removed_blobs.push(item.id.clone()),
            ItemKind::CacheMount => report.removed_cache_mounts.push(item.id.clone()),
        }
        report.bytes_freed = report.bytes_freed.saturating_add(item.bytes);
        report.removed.push(item.clone());
    }
    Ok(report)
}

fn remove_snapshot(worker: &Worker, chain_id: &str) -> Result<bool, GcError> {
    let root = worker.inner.snapshotter.data_dir();
    let link = root.join("chains").join(chain_id.replacen(':', "-", 1));
    let target = match fs::read_link(&link) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(GcError::io("reading", &link)(e)),
    };
    let Some(n) = target.file_name() else {
        return Err(GcError::BadSnapshotMeta {
            path: link,
            reason: format!("link target {}", target.display()),
        });
    };
    let dir = root.join("snapshots").join(n);
    fs::remove_file(&link).map_err(GcError::io("removing", &link))?;
    remove_dir(&dir)?;
    Ok(true)
}

fn remove_blob(worker: &Worker, digest: &str) -> Result<bool, GcError> {
    let Ok(d) = digest.parse::<Digest>() else {
        return Ok(false);
    };
    match worker.inner.store.delete(&d) {
        Ok(()) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(e) => Err(GcError::store("removing a blob")(e)),
    }
}

fn remove_dir(dir: &Path) -> Result<bool, GcError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(GcError::io("removing", dir)(e)),
    }
}
