//! Layer entries from an overlayfs upper directory: a 0:0 character device is a deletion
//! (`.wh.name`), a directory with `trusted.overlay.opaque=y` (or `user.overlay.opaque`) hides
//! everything below it from lower layers (`.wh..wh..opq`). overlay's own xattrs are dropped.
//! Uppers written with `redirect_dir` or `metacopy` cannot be expressed as a tar and are refused.

use super::entry::{sort_entries, walk_sorted, EntryKind, FsEntry};
use super::sys;
use super::LayerError;
use crate::layer::apply::{OPAQUE_WHITEOUT, WHITEOUT_PREFIX};
use std::path::Path;

const OPAQUE_XATTRS: &[&str] = &["trusted.overlay.opaque", "user.overlay.opaque"];
const REFUSED_XATTRS: &[&str] = &[
    "trusted.overlay.redirect",
    "user.overlay.redirect",
    "trusted.overlay.metacopy",
    "user.overlay.metacopy",
];

/// The entries of the layer an overlayfs upper directory stands for.
pub fn overlay_entries(upper: &Path) -> Result<Vec<FsEntry>, LayerError> {
    let mut out = Vec::new();
    for rel in walk_sorted(upper) {
        let rel = rel?;
        let full = upper.join(&rel);
        let entry = FsEntry::from_disk(upper, &rel)?;
        match entry.kind {
            EntryKind::Char { major: 0, minor: 0 } => {
                out.push(FsEntry::whiteout(sibling(&entry.path, WHITEOUT_PREFIX)));
                continue;
            }
            EntryKind::Dir | EntryKind::File { .. } => {
                let raw = sys::lxattrs(&full).map_err(|source| LayerError::Io {
                    path: full.clone(),
                    op: "list xattrs",
                    source,
                })?;
                if let Some((k, _)) = raw
                    .iter()
                    .find(|(k, _)| REFUSED_XATTRS.contains(&k.as_str()))
                {
                    return Err(LayerError::OverlayFeature {
                        path: full,
                        xattr: k.clone(),
                    });
                }
                let opaque = entry.kind == EntryKind::Dir
                    && raw
                        .iter()
                        .any(|(k, v)| OPAQUE_XATTRS.contains(&k.as_str()) && v == b"y");
                let path = entry.path.clone();
                out.push(entry);
                if opaque {
                    let mut marker = path;
                    marker.push(b'/');
                    marker.extend_from_slice(OPAQUE_WHITEOUT.as_bytes());
                    out.push(FsEntry::whiteout(marker));
                }
            }
            _ => out.push(entry),
        }
    }
    sort_entries(&mut out);
    Ok(out)
}

/// `a/b/name` -> `a/b/<prefix>name`.
pub fn sibling(path: &[u8], prefix: &str) -> Vec<u8> {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => {
            let mut out = path[..=i].to_vec();
            out.extend_from_slice(prefix.as_bytes());
            out.extend_from_slice(&path[i + 1..]);
            out
        }
        None => {
            let mut out = prefix.as_bytes().to_vec();
            out.extend_from_slice(path);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sibling;

    #[test]
    fn whiteout_names() {
        assert_eq!(sibling(b"a/b/c", ".wh."), b"a/b/.wh.c");
        assert_eq!(sibling(b"c", ".wh."), b".wh.c");
    }
}
