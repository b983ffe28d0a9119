//! Resolving paths inside a root directory as if it were `/` (like a chroot, and like
//! containerd's `fs.RootPath`): symlinks are followed with absolute targets taken relative
//! to the root and `..` never climbing above it, so the result always lies inside the root.

use crate::error::{FsError, IoContext};
use std::path::{Path, PathBuf};

/// Linux's limit on symlinks followed while resolving one path.
const MAX_SYMLINKS: usize = 255;

/// Whether the last component of a path is itself followed when it is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowFinal {
    Follow,
    NoFollow,
}

/// Resolves `path` (absolute or relative, interpreted from the root) inside `root`,
/// following symlinks of every intermediate component (and of the last one with
/// [`FollowFinal::Follow`]). Missing components are kept lexically. The result is
/// `root` joined with a clean path that contains no `..`.
pub fn resolve_in_root(root: &Path, path: &str, follow: FollowFinal) -> Result<PathBuf, FsError> {
    let rel = resolve_rel(root, path, follow)?;
    Ok(if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    })
}

/// Like [`resolve_in_root`] but returns the clean path relative to the root (`""` is the
/// root itself).
pub fn resolve_rel(root: &Path, path: &str, follow: FollowFinal) -> Result<String, FsError> {
    // Components still to walk, stored reversed so `pop` yields the next one.
    let mut pending: Vec<String> = components_rev(path);
    let mut resolved: Vec<String> = Vec::new();
    let mut hops = 0usize;
    while let Some(comp) = pending.pop() {
        match comp.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let is_last = pending.iter().all(|c| c.is_empty() || c == ".");
        let mut candidate = root.to_path_buf();
        for r in &resolved {
            candidate.push(r);
        }
        candidate.push(&comp);
        let meta = match std::fs::symlink_metadata(&candidate) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => None,
            Err(e) => return Err(FsError::io("resolving path", candidate, e)),
        };
        let is_link = meta.as_ref().is_some_and(|m| m.file_type().is_symlink());
        if is_link && (!is_last || follow == FollowFinal::Follow) {
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(FsError::SymlinkLoop {
                    path: path.to_string(),
                });
            }
            let target = std::fs::read_link(&candidate).ctx("reading symlink", &candidate)?;
            let target = target.to_string_lossy().into_owned();
            if target.starts_with('/') {
                resolved.clear();
            }
            pending.extend(components_rev(&target));
            continue;
        }
        resolved.push(comp);
    }
    Ok(resolved.join("/"))
}

fn components_rev(path: &str) -> Vec<String> {
    path.split('/').rev().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn escapes_are_contained() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("a/up")).unwrap();
        symlink("b", root.join("a/rel")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let r = |p: &str, f| resolve_rel(root, p, f).unwrap();
        assert_eq!(r("/abs/passwd", FollowFinal::Follow), "etc/passwd");
        assert_eq!(r("a/up/x", FollowFinal::Follow), "x");
        assert_eq!(r("../../x", FollowFinal::Follow), "x");
        assert_eq!(r("a/rel", FollowFinal::Follow), "a/b");
        assert_eq!(r("a/rel", FollowFinal::NoFollow), "a/rel");
        assert_eq!(r("a/rel/new/file", FollowFinal::NoFollow), "a/b/new/file");
        assert_eq!(r("/", FollowFinal::Follow), "");
        assert!(matches!(
            resolve_rel(root, "loop1", FollowFinal::Follow),
            Err(FsError::SymlinkLoop { .. })
        ));
    }
}
