//! Garbage collection of a worker's data dir (`slipway prune`, buildx's `prune`), so that
//! a worker's disk does not grow forever, and disk usage (`slipway du`).
//!
//! What is collected, each an *item* with a size and a last-use time:
//!
//! - **snapshots**: committed layer dirs (`snapshots/snapshots/<n>`), keyed by chain ID. A
//!   snapshot is removed only together with every snapshot built on it (its descendants),
//!   children first, so no kept snapshot ever has a missing parent.
//! - **blobs**: the content store's blobs (`content/blobs/sha256/<hex>`). Blobs reachable
//!   from a content-store reference (a named image: index → manifests → config + layers)
//!   are *pinned* and never removed.
//! - **cache mounts** (`cache-mounts/<id>-<hash>`, `RUN --mount=type=cache`): only with
//!   [`GcOptions::include_cache_mounts`].
//!
//! After removal, cache-index records that point at something gone (a result or image
//! record whose snapshot is gone, a layer record whose snapshot or blob is gone) are
//! deleted too. They would be harmless (every lookup checks existence) but take space.
//!
//! **Last use** is read from the file system, since the solver does not record uses:
//! the later of a snapshot dir's mtime and its `meta.json`'s atime and mtime (the
//! snapshotter reads `meta.json` whenever it walks a chain through that layer, e.g. to run
//! a step on it), a blob file's mtime and atime, a cache mount dir's mtime and atime.
//! With the usual `relatime` mount option an atime moves at most once a day after the
//! first read, and with `noatime` never, so "last use" is then the creation time: a cache
//! hit that only checks that a snapshot exists does not count as a use. GC's own reads
//! do not move atimes (`O_NOATIME`).
//!
//! **Concurrency**: collection must not run while a solve runs on the same worker (a
//! solve could be using a snapshot or blob being removed). The caller guarantees it: the
//! embedded CLI holds the data dir's lock by having opened the [`Worker`]; a farm agent
//! must call [`collect`] only when no task runs. Both functions block (they walk the data
//! dir): async callers use `spawn_blocking`.

mod apply;
mod error;
mod pins;
mod plan;
mod records;
mod scan;

pub use error::GcError;

use std::time::{Duration, SystemTime};

use crate::Worker;

/// What to remove. The default removes only *dangling* data: snapshots that no cache
/// record leads to and unpinned blobs that no layer record names. Snapshots of local
/// contexts and HTTP sources are never recorded (their chain ID is derived from their
/// content key), so they are dangling once built: the next build copies the context (or
/// downloads the file) again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcOptions {
    /// Remove least-recently-used items until the total size of the collected kinds
    /// (snapshots and blobs, plus cache mounts when included) is at most this many bytes.
    /// Pinned blobs count towards the total but are kept.
    pub keep_bytes: Option<u64>,
    /// Remove items not used for this long.
    pub keep_duration: Option<Duration>,
    /// Remove everything not pinned (with `keep_duration`: everything not pinned and not
    /// used for that long).
    pub all: bool,
    /// Also remove cache mounts (otherwise they are neither removed nor counted).
    pub include_cache_mounts: bool,
}

impl GcOptions {
    /// Refuses meaningless combinations.
    pub fn validate(&self) -> Result<(), GcError> {
        if self.keep_duration == Some(Duration::ZERO) {
            return Err(GcError::InvalidOptions {
                option: "keep_duration",
                reason: "a zero duration would remove everything; use all instead".into(),
            });
        }
        if self.all && self.keep_bytes.is_some() {
            return Err(GcError::InvalidOptions {
                option: "keep_bytes",
                reason: "all removes everything not pinned, so a size to keep has no effect".into(),
            });
        }
        Ok(())
    }
}

/// The kind of a collectable item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    Snapshot,
    Blob,
    CacheMount,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Snapshot => "snapshot",
            ItemKind::Blob => "blob",
            ItemKind::CacheMount => "cache mount",
        }
    }
}

/// One snapshot, blob or cache mount on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageItem {
    pub kind: ItemKind,
    /// Chain ID (snapshot), `sha256:<hex>` (blob) or directory name (cache mount).
    pub id: String,
    /// Disk space used (allocated blocks; hard links within the item counted once).
    pub bytes: u64,
    pub last_used: SystemTime,
    /// A blob reachable from a content-store reference: never removed.
    pub pinned: bool,
    /// Something leads to it: a snapshot is (an ancestor of) a cache record's snapshot, a
    /// blob is pinned or named by a layer record; cache mounts always are.
    pub referenced: bool,
    /// A snapshot's parent chain ID.
    pub parent: Option<String>,
}

/// Item count and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindUsage {
    pub count: u64,
    pub bytes: u64,
}

impl KindUsage {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// What a worker's data dir holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub snapshots: KindUsage,
    /// All blobs, pinned ones included.
    pub blobs: KindUsage,
    /// The pinned subset of `blobs`.
    pub pinned_blobs: KindUsage,
    pub cache_mounts: KindUsage,
    /// Every item, snapshots first, then blobs, then cache mounts.
    pub items: Vec<UsageItem>,
}

impl DiskUsage {
    fn from_items(items: Vec<UsageItem>) -> DiskUsage {
        let mut u = DiskUsage::default();
        for item in &items {
            match item.kind {
                ItemKind::Snapshot => u.snapshots.add(item.bytes),
                ItemKind::Blob => {
                    u.blobs.add(item.bytes);
                    if item.pinned {
                        u.pinned_blobs.add(item.bytes);
                    }
                }
                ItemKind::CacheMount => u.cache_mounts.add(item.bytes),
            }
        }
        u.items = items;
        u
    }

    /// Bytes of every item.
    pub fn total(&self) -> u64 {
        self.snapshots
            .bytes
            .saturating_add(self.blobs.bytes)
            .saturating_add(self.cache_mounts.bytes)
    }

    /// Bytes that `collect` with `all` and cache mounts included would free.
    pub fn reclaimable(&self) -> u64 {
        self.total().saturating_sub(self.pinned_blobs.bytes)
    }
}

/// What [`collect`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// `sha256:<hex>` of every removed blob (for the farm's cache index to forget).
    pub removed_blobs: Vec<String>,
    /// Chain IDs of removed snapshots, children before parents.
    pub removed_snapshots: Vec<String>,
    /// Directory names of removed cache mounts.
    pub removed_cache_mounts: Vec<String>,
    /// Every removed item, in removal order.
    pub removed: Vec<UsageItem>,
    /// Cache-index records deleted because what they named is gone.
    pub removed_records: usize,
    pub bytes_freed: u64,
    /// `sha256:<hex>` of the pinned blobs (kept).
    pub kept_pinned: Vec<String>,
    /// Bytes of the collected kinds left afterwards.
    pub bytes_remaining: u64,
}

/// The data dir's snapshots, blobs and cache mounts with their sizes and last uses.
pub fn usage(worker: &Worker) -> Result<DiskUsage, GcError> {
    let items = scan::scan(worker, true)?;
    Ok(DiskUsage::from_items(items))
}

/// Removes what `opts` selects (see [`GcOptions`]) and the cache records left pointing at
/// it. The caller guarantees that no solve runs on `worker` meanwhile.
pub fn collect(worker: &Worker, opts: &GcOptions) -> Result<GcReport, GcError> {
    opts.validate()?;
    let items = scan::scan(worker, opts.include_cache_mounts)?;
    let order = plan::plan(&items, opts, SystemTime::now());
    let mut report = apply::remove(worker, &items, &order)?;
    report.removed_records = records::clean(worker)?;
    report.kept_pinned = items
        .iter()
        .filter(|i| i.pinned)
        .map(|i| i.id.clone())
        .collect();
    let total: u64 = items.iter().map(|i| i.bytes).sum();
    report.bytes_remaining = total.saturating_sub(report.bytes_freed);
    Ok(report)
}
