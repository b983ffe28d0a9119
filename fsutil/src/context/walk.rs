//! Walking a context directory with fsutil's rules: excluded paths are left out, an
//! excluded directory is still descended into when an exception could re-include
//! something below it, and the parents of a re-included path are listed with it.

use super::hash::{hash_parallel, HashCache, HashStats, StatKey};
use super::{ContextEntry, EntryKind, Listing};
use crate::error::{FsError, IoContext};
use crate::pattern::{MatchInfo, PatternMatcher};
use crate::xattr::read_xattrs;
use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How to walk a context.
#[derive(Debug, Clone)]
pub struct WalkOptions<'a> {
    /// Paths to leave out (the `.dockerignore` patterns).
    pub excludes: Option<&'a PatternMatcher>,
    /// Digests from an earlier walk of the same directory.
    pub previous: Option<&'a HashCache>,
    /// Threads used for hashing file contents.
    pub threads: usize,
}

impl Default for WalkOptions<'_> {
    fn default() -> Self {
        WalkOptions {
            excludes: None,
            previous: None,
            threads: 2,
        }
    }
}

/// The listing, the cache to pass to the next walk, and what the walk hashed.
#[derive(Debug, Clone)]
pub struct WalkResult {
    pub listing: Listing,
    pub cache: HashCache,
    pub stats: HashStats,
}

struct Walker<'a> {
    root: &'a Path,
    excludes: Option<&'a PatternMatcher>,
    out: Vec<ContextEntry>,
    /// Stat keys of the files in `out`, by index.
    file_stats: Vec<(usize, StatKey)>,
    /// Excluded ancestors not yet listed (listed once something below is included).
    pending: Vec<(ContextEntry, Option<StatKey>)>,
}

/// Walks `root` and returns its sorted listing with file digests.
pub fn walk_context(root: &Path, opts: &WalkOptions<'_>) -> Result<WalkResult, FsError> {
    let meta = std::fs::metadata(root).ctx("reading context directory", root)?;
    if !meta.is_dir() {
        return Err(FsError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut w = Walker {
        root,
        excludes: opts.excludes.filter(|m| !m.is_empty()),
        out: Vec::new(),
        file_stats: Vec::new(),
        pending: Vec::new(),
    };
    w.walk_dir("", &MatchInfo::default())?;

    let mut stats = HashStats::default();
    let mut cache = HashCache::default();
    let mut jobs: Vec<(usize, StatKey, PathBuf)> = Vec::new();
    for (idx, key) in std::mem::take(&mut w.file_stats) {
        let Some(entry) = w.out.get_mut(idx) else {
            continue;
        };
        match opts.previous.and_then(|c| c.lookup(&entry.path, &key)) {
            Some(d) => {
                entry.digest = Some(d.clone());
                cache.insert(entry.path.clone(), key, d.clone());
                stats.reused += 1;
            }
            None => jobs.push((idx, key, root.join(&entry.path))),
        }
    }
    let paths: Vec<PathBuf> = jobs.iter().map(|(_, _, p)| p.clone()).collect();
    for ((idx, key, _), result) in jobs.into_iter().zip(hash_parallel(&paths, opts.threads)) {
        let digest = result?;
        if let Some(entry) = w.out.get_mut(idx) {
            cache.insert(entry.path.clone(), key, digest.clone());
            entry.digest = Some(digest);
            stats.hashed += 1;
        }
    }
    let mut listing = Listing { entries: w.out };
    listing.sort();
    Ok(WalkResult {
        listing,
        cache,
        stats,
    })
}

impl Walker<'_> {
    fn walk_dir(&mut self, rel_dir: &str, parent: &MatchInfo) -> Result<(), FsError> {
        let abs = if rel_dir.is_empty() {
            self.root.to_path_buf()
        } else {
            self.root.join(rel_dir)
        };
        let mut names = Vec::new();
        for ent in std::fs::read_dir(&abs).ctx("reading directory", &abs)? {
            let ent = ent.ctx("reading directory", &abs)?;
            let name = ent
                .file_name()
                .into_string()
                .map_err(|n| FsError::InvalidPath {
                    path: abs.join(n).display().to_string(),
                    reason: "file name is not UTF-8",
                })?;
            names.push(name);
        }
        names.sort();
        for name in names {
            let rel = if rel_dir.is_empty() {
                name
            } else {
                format!("{rel_dir}/{name}")
            };
            let path = self.root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).ctx("stat", &path)?;
            let (excluded, info) = match self.excludes {
                Some(m) => m.matches_using_parent_results(&rel, parent),
                None => (false, MatchInfo::default()),
            };
            let is_dir = meta.is_dir();
            if excluded {
                if is_dir && self.may_reinclude_below(&rel) {
                    let depth = self.pending.len();
                    let entry = entry_of(&path, rel.clone(), &meta)?;
                    self.pending.push((entry, None));
                    self.walk_dir(&rel, &info)?;
                    self.pending.truncate(depth);
                }
                continue;
            }
            let entry = entry_of(&path, rel.clone(), &meta)?;
            let key = (entry.kind == EntryKind::File).then(|| StatKey::of(&meta));
            self.emit(entry, key);
            if is_dir {
                self.walk_dir(&rel, &info)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, entry: ContextEntry, key: Option<StatKey>) {
        for (p, k) in std::mem::take(&mut self.pending) {
            self.push(p, k);
        }
        self.push(entry, key);
    }

    fn push(&mut self, entry: ContextEntry, key: Option<StatKey>) {
        if let Some(k) = key {
            self.file_stats.push((self.out.len(), k));
        }
        self.out.push(entry);
    }

    /// Whether an exception pattern could re-include something below the excluded `dir`
    /// (fsutil skips the directory otherwise).
    fn may_reinclude_below(&self, dir: &str) -> bool {
        let Some(m) = self.excludes else { return false };
        let prefix = format!("{dir}/");
        m.patterns()
            .iter()
            .filter(|p| p.is_exclusion())
            .any(|p| !p.is_literal() || p.as_str().starts_with(&prefix))
    }
}

fn entry_of(path: &Path, rel: String, meta: &Metadata) -> Result<ContextEntry, FsError> {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_file() {
        EntryKind::File
    } else if ft.is_fifo() {
        EntryKind::Fifo
    } else if ft.is_char_device() {
        EntryKind::CharDevice
    } else if ft.is_block_device() {
        EntryKind::BlockDevice
    } else {
        EntryKind::Socket
    };
    let link_target = if kind == EntryKind::Symlink {
        Some(
            std::fs::read_link(path)
                .ctx("reading symlink", path)?
                .to_string_lossy()
                .into_owned(),
        )
    } else {
        None
    };
    let xattrs = read_xattrs(path)?
        .into_iter()
        .map(|(k, v)| (k, hex::encode(v)))
        .collect();
    Ok(ContextEntry {
        path: rel,
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if kind == EntryKind::File {
            meta.size()
        } else {
            0
        },
        link_target,
        digest: None,
        xattrs,
    })
}
