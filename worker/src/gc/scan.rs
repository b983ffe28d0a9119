//! Finding the items of a data dir with their sizes and last uses. Snapshots are read
//! from the snapshotter's layout (see [`crate::snapshot`]): `chains/<algo>-<hex>` links to
//! `../snapshots/<n>`, whose `meta.json` holds `{chain_id, parent}`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{pins, records, GcError, ItemKind, UsageItem};
use crate::snapshot::ChainId;
use crate::Worker;

/// Longest parent chain followed (overlayfs stacks at most 500 layers).
pub(crate) const MAX_CHAIN_DEPTH: usize = 512;

#[derive(Deserialize)]
struct Meta {
    chain_id: ChainId,
    parent: Option<ChainId>,
}

/// Every item of `worker`'s data dir (cache mounts only with `cache_mounts`).
pub(crate) fn scan(worker: &Worker, cache_mounts: bool) -> Result<Vec<UsageItem>, GcError> {
    let mut items = snapshots(worker)?;
    items.extend(blobs(worker)?);
    if cache_mounts {
        items.extend(mounts(&worker.inner.data_dir.join("cache-mounts"))?);
    }
    Ok(items)
}

fn snapshots(worker: &Worker) -> Result<Vec<UsageItem>, GcError> {
    let root = worker.inner.snapshotter.data_dir();
    let chains = root.join("chains");
    let mut items = Vec::new();
    for entry in fs::read_dir(&chains).map_err(GcError::io("reading", &chains))? {
        let link = entry.map_err(GcError::io("reading", &chains))?.path();
        let Ok(target) = fs::read_link(&link) else {
            continue; // not a link: not the snapshotter's
        };
        let Some(n) = target.file_name() else {
            continue;
        };
        let dir = root.join("snapshots").join(n);
        let meta_path = dir.join("meta.json");
        let meta_md = match fs::metadata(&meta_path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // dangling
            Err(e) => return Err(GcError::io("reading", &meta_path)(e)),
        };
        let bytes = read_noatime(&meta_path).map_err(GcError::io("reading", &meta_path))?;
        let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| GcError::BadSnapshotMeta {
            path: meta_path.clone(),
            reason: e.to_string(),
        })?;
        let dir_md = fs::metadata(&dir).map_err(GcError::io("reading", &dir))?;
        items.push(UsageItem {
            kind: ItemKind::Snapshot,
            id: meta.chain_id.to_string(),
            bytes: dir_bytes(&dir)?,
            last_used: latest(&[mtime(&dir_md), mtime(&meta_md), atime(&meta_md)]),
            pinned: false,
            referenced: false,
            parent: meta.parent.map(|p| p.to_string()),
        });
    }
    mark_referenced(&mut items, records::recorded_chains(worker)?);
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Marks the recorded snapshots and their ancestors as referenced.
fn mark_referenced(items: &mut [UsageItem], recorded: Vec<ChainId>) {
    let index: HashMap<String, usize> = items
        .iter()
        .enumerate()
        .map(|(i, it)| (it.id.clone(), i))
        .collect();
    let mut seen = HashSet::new();
    for chain in recorded {
        let mut next = Some(chain.to_string());
        let mut depth = 0;
        while let Some(id) = next.take() {
            depth += 1;
            if depth > MAX_CHAIN_DEPTH || !seen.insert(id.clone()) {
                break;
            }
            if let Some(item) = index.get(&id).and_then(|&i| items.get_mut(i)) {
                item.referenced = true;
                next = item.parent.clone();
            }
        }
    }
}

fn blobs(worker: &Worker) -> Result<Vec<UsageItem>, GcError> {
    let store = &worker.inner.store;
    let pinned = pins::pinned(store)?;
    let named: HashSet<String> = records::layer_records(worker)?
        .into_iter()
        .filter(|(_, chain, _)| {
            chain
                .as_ref()
                .is_some_and(|c| worker.inner.snapshotter.contains(c))
        })
        .map(|(_, _, blob)| blob.digest)
        .collect();
    let mut items = Vec::new();
    for digest in store.list().map_err(GcError::store("listing blobs"))? {
        let path = store.blob_path(&digest);
        let md = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(GcError::io("reading", &path)(e)),
        };
        let id = digest.to_string();
        let is_pinned = pinned.contains(&digest);
        items.push(UsageItem {
            kind: ItemKind::Blob,
            referenced: is_pinned || named.contains(&id),
            id,
            bytes: md.blocks().saturating_mul(512),
            last_used: latest(&[mtime(&md), atime(&md)]),
            pinned: is_pinned,
            parent: None,
        });
    }
    Ok(items)
}

fn mounts(root: &Path) -> Result<Vec<UsageItem>, GcError> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(GcError::io("reading", root)(e)),
    };
    let mut items = Vec::new();
    for entry in entries {
        let path = entry.map_err(GcError::io("reading", root))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with(".tmp-") {
            continue; // being created (or a crash's leftover, removed on open)
        }
        let md = fs::symlink_metadata(&path).map_err(GcError::io("reading", &path))?;
        if !md.is_dir() {
            continue;
        }
        items.push(UsageItem {
            kind: ItemKind::CacheMount,
            id: name.to_string(),
            bytes: dir_bytes(&path)?,
            last_used: latest(&[mtime(&md), atime(&md)]),
            pinned: false,
            referenced: true,
            parent: None,
        });
    }
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// Allocated bytes under `dir` (itself included), hard links counted once.
pub(crate) fn dir_bytes(dir: &Path) -> Result<u64, GcError> {
    let mut total: u64 = 0;
    let mut links = HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let md = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(GcError::io("reading", &path)(e)),
        };
        if md.nlink() > 1 && !md.is_dir() && !links.insert((md.dev(), md.ino())) {
            continue;
        }
        total = total.saturating_add(md.blocks().saturating_mul(512));
        if md.is_dir() {
            for entry in fs::read_dir(&path).map_err(GcError::io("reading", &path))? {
                stack.push(entry.map_err(GcError::io("reading", &path))?.path());
            }
        }
    }
    Ok(total)
}

/// Reads a file without moving its atime (which is a last-use signal), falling back to a
/// plain read where `O_NOATIME` is refused (not the file's owner).
pub(crate) fn read_noatime(path: &Path) -> std::io::Result<Vec<u8>> {
    let open = |flags: i32| {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    };
    let mut f = match open(nix::fcntl::OFlag::O_NOATIME.bits()) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(nix::libc::EPERM) => open(0)?,
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    f.read_to_end(&mut out)?;
    Ok(out)
}

fn from_unix(secs: i64, nsec: i64) -> SystemTime {
    let nanos = u32::try_from(nsec).unwrap_or(0);
    match u64::try_from(secs) {
        Ok(s) => SystemTime::UNIX_EPOCH + Duration::new(s, nanos),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

fn mtime(md: &fs::Metadata) -> SystemTime {
    from_unix(md.mtime(), md.mtime_nsec())
}

fn atime(md: &fs::Metadata) -> SystemTime {
    from_unix(md.atime(), md.atime_nsec())
}

fn latest(times: &[SystemTime]) -> SystemTime {
    times
        .iter()
        .copied()
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_bytes_counts_hard_links_once() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("a"), vec![7u8; 64 * 1024]).unwrap();
        let one = dir_bytes(&d).unwrap();
        fs::hard_link(d.join("a"), d.join("b")).unwrap();
        assert_eq!(dir_bytes(&d).unwrap(), one);
        fs::write(d.join("c"), vec![7u8; 64 * 1024]).unwrap();
        assert!(dir_bytes(&d).unwrap() >= one + 64 * 1024);
    }
}
