//! Layer entries from two plain trees: what `upper` adds or changes relative to `lower`, and
//! whiteouts for what it deletes. Neither tree's symlinks are followed.
//!
//! Entries compare by kind, mode, uid/gid, xattrs, link target, device numbers, size and mtime
//! (seconds and nanoseconds). When everything matches but the mtime has no sub-second part (a
//! filesystem with coarse timestamps, or a copy that kept only seconds), file contents are
//! compared too, as BuildKit's double walk does.

use super::entry::{sort_entries, walk_sorted, EntryKind, FsEntry};
use super::overlay::sibling;
use super::LayerError;
use crate::layer::apply::WHITEOUT_PREFIX;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The entries of the layer that turns `lower` into `upper`.
pub fn diff_entries(lower: &Path, upper: &Path) -> Result<Vec<FsEntry>, LayerError> {
    let mut out = Vec::new();
    // Paths that are real directories in both trees: only below them may the other tree's
    // entries be looked up (so no lookup ever passes through a symlink).
    let mut both_dirs: HashSet<PathBuf> = HashSet::new();
    for rel in walk_sorted(upper) {
        let rel = rel?;
        let u = FsEntry::from_disk(upper, &rel)?;
        let l = lookup(lower, &rel, &both_dirs)?;
        let changed = match &l {
            None => true,
            Some(l) => differs(l, &u)?,
        };
        if matches!((&l, &u.kind), (Some(l), EntryKind::Dir) if l.kind == EntryKind::Dir) {
            both_dirs.insert(rel.clone());
        }
        if changed {
            out.push(u);
        }
    }
    let mut walker = walkdir::WalkDir::new(lower)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter();
    while let Some(e) = walker.next() {
        let e = e.map_err(|e| LayerError::Walk {
            path: e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| lower.to_path_buf()),
            message: e.to_string(),
        })?;
        let Ok(rel) = e.path().strip_prefix(lower).map(Path::to_path_buf) else {
            continue;
        };
        let parent_ok = rel
            .parent()
            .is_none_or(|p| p.as_os_str().is_empty() || both_dirs.contains(p));
        if !parent_ok {
            // The upper replaced an ancestor by a non-directory: applying it removes this too.
            if e.file_type().is_dir() {
                walker.skip_current_dir();
            }
            continue;
        }
        if std::fs::symlink_metadata(upper.join(&rel)).is_err() {
            let raw = std::os::unix::ffi::OsStrExt::as_bytes(rel.as_os_str()).to_vec();
            out.push(FsEntry::whiteout(sibling(&raw, WHITEOUT_PREFIX)));
            if e.file_type().is_dir() {
                walker.skip_current_dir();
            }
        }
    }
    sort_entries(&mut out);
    Ok(out)
}

fn lookup(
    root: &Path,
    rel: &Path,
    both_dirs: &HashSet<PathBuf>,
) -> Result<Option<FsEntry>, LayerError> {
    let parent_ok = rel
        .parent()
        .is_none_or(|p| p.as_os_str().is_empty() || both_dirs.contains(p));
    if !parent_ok || std::fs::symlink_metadata(root.join(rel)).is_err() {
        return Ok(None);
    }
    FsEntry::from_disk(root, rel).map(Some)
}

fn differs(l: &FsEntry, u: &FsEntry) -> Result<bool, LayerError> {
    let kinds_differ = match (&l.kind, &u.kind) {
        (EntryKind::File { size: a, .. }, EntryKind::File { size: b, .. }) => a != b,
        (a, b) => a != b,
    };
    if kinds_differ
        || l.mode != u.mode
        || l.uid != u.uid
        || l.gid != u.gid
        || l.xattrs != u.xattrs
        || l.mtime != u.mtime
        || l.mtime_nsec != u.mtime_nsec
    {
        return Ok(true);
    }
    match (&l.kind, &u.kind) {
        (EntryKind::File { source: a, .. }, EntryKind::File { source: b, .. })
            if u.mtime_nsec == 0 =>
        {
            Ok(!same_content(a, b)?)
        }
        _ => Ok(false),
    }
}

fn same_content(a: &Path, b: &Path) -> Result<bool, LayerError> {
    let open = |p: &Path| {
        std::fs::File::open(p).map_err(|source| LayerError::Io {
            path: p.into(),
            op: "open",
            source,
        })
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let na = read_full(&mut fa, &mut ba, a)?;
        let nb = read_full(&mut fb, &mut bb, b)?;
        if na != nb || ba.get(..na) != bb.get(..nb) {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8], path: &Path) -> Result<usize, LayerError> {
    let mut n = 0;
    while n < buf.len() {
        let got = f
            .read(buf.get_mut(n..).unwrap_or_default())
            .map_err(|source| LayerError::Io {
                path: path.into(),
                op: "read",
                source,
            })?;
        if got == 0 {
            break;
        }
        n += got;
    }
    Ok(n)
}
