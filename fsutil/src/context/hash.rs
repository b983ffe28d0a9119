//! Content hashing of context files: parallel over threads, with a stat-based cache so an
//! unchanged file (same size, mtime, ctime, inode, device) is not read again.

use crate::error::{FsError, IoContext};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use slipway_graph::Digest;
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The stat fields that decide whether a cached digest is still valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatKey {
    size: u64,
    mtime_sec: i64,
    mtime_nsec: i64,
    ctime_sec: i64,
    ctime_nsec: i64,
    ino: u64,
    dev: u64,
}

impl StatKey {
    pub(crate) fn of(meta: &Metadata) -> StatKey {
        StatKey {
            size: meta.size(),
            mtime_sec: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime_sec: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
            ino: meta.ino(),
            dev: meta.dev(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CachedFile {
    stat: StatKey,
    digest: Digest,
}

/// Digests of files from a previous walk, keyed by relative path. Serializable so it can be
/// kept between builds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashCache {
    files: BTreeMap<String, CachedFile>,
}

impl HashCache {
    /// Number of cached files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(crate) fn lookup(&self, path: &str, stat: &StatKey) -> Option<&Digest> {
        self.files
            .get(path)
            .filter(|c| c.stat == *stat)
            .map(|c| &c.digest)
    }

    pub(crate) fn insert(&mut self, path: String, stat: StatKey, digest: Digest) {
        self.files.insert(path, CachedFile { stat, digest });
    }
}

/// How many files a walk read and how many it took from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashStats {
    pub hashed: usize,
    pub reused: usize,
}

/// `sha256:<hex>` of a finished hasher.
pub(crate) fn finish(h: Sha256) -> Result<Digest, FsError> {
    Ok(format!("sha256:{}", hex::encode(h.finalize())).parse()?)
}

/// Hashes one file's content.
pub(crate) fn hash_file(path: &Path) -> Result<Digest, FsError> {
    let mut f = std::fs::File::open(path).ctx("opening file to hash", path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    loop {
        let n = f.read(&mut buf).ctx("reading file to hash", path)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or(&[]));
    }
    finish(h)
}

/// Hashes every path in `jobs` on up to `threads` threads; results keep the input order.
pub(crate) fn hash_parallel(jobs: &[PathBuf], threads: usize) -> Vec<Result<Digest, FsError>> {
    let threads = threads.clamp(1, 64).min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Digest, FsError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = jobs.get(i) else { break };
                let r = hash_file(path);
                if let Ok(mut guard) = results.lock() {
                    if let Some(slot) = guard.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let collected = results.into_inner().unwrap_or_else(|p| p.into_inner());
    collected
        .into_iter()
        .zip(jobs)
        .map(|(r, p)| {
            r.unwrap_or_else(|| {
                Err(FsError::io(
                    "hashing file",
                    p,
                    std::io::Error::other("hash worker did not finish"),
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_matches_serial() {
        let dir = tempfile::tempdir().unwrap();
        let mut jobs = Vec::new();
        for i in 0..9 {
            let p = dir.path().join(format!("f{i}"));
            std::fs::write(&p, format!("content {i}")).unwrap();
            jobs.push(p);
        }
        let par = hash_parallel(&jobs, 2);
        for (p, d) in jobs.iter().zip(par) {
            let want = Digest::of_bytes(&std::fs::read(p).unwrap());
            assert_eq!(d.unwrap(), want);
        }
        let missing = hash_parallel(&[dir.path().join("nope")], 2);
        assert!(matches!(missing.first(), Some(Err(FsError::Io { .. }))));
    }
}
