//! Mount points that the runtime had to create in the root filesystem (e.g. `/etc/hosts`
//! in an image without one) are removed after the run, so they do not end up in the
//! step's diff.

use std::fs;
use std::path::{Path, PathBuf};

use super::rootpath::resolve;
use super::Result;

/// The first missing path component of each mount destination, as host paths.
#[derive(Debug, Default)]
pub(crate) struct MountStubs(Vec<PathBuf>);

impl MountStubs {
    pub(crate) fn record(rootfs: &Path, destinations: &[String]) -> Result<MountStubs> {
        let mut out = Vec::new();
        for dest in destinations {
            let host = resolve(rootfs, dest)?;
            let mut first_missing = None;
            let mut p = host.as_path();
            while p.starts_with(rootfs) && p != rootfs {
                if fs::symlink_metadata(p).is_ok() {
                    break;
                }
                first_missing = Some(p.to_path_buf());
                match p.parent() {
                    Some(parent) => p = parent,
                    None => break,
                }
            }
            if let Some(m) = first_missing {
                if !out.contains(&m) {
                    out.push(m);
                }
            }
        }
        Ok(MountStubs(out))
    }

    /// Removes each recorded path that is still only a stub: an empty file, or a directory
    /// holding nothing but stubs. Anything with content is left alone.
    pub(crate) fn remove(&self) {
        for p in &self.0 {
            if is_stub(p) {
                let r = if p.is_dir() { fs::remove_dir_all(p) } else { fs::remove_file(p) };
                if let Err(e) = r {
                    tracing::warn!(path = %p.display(), error = %e, "removing a mount stub");
                }
            }
        }
    }
}

fn is_stub(p: &Path) -> bool {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_file() => md.len() == 0,
        Ok(md) if md.is_dir() => fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok()).all(|e| is_stub(&e.path())))
            .unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_created_stubs_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "x").unwrap();
        let dests = ["/etc/hosts", "/etc/resolv.conf", "/cache/a", "/data"].map(String::from);
        let stubs = MountStubs::record(root, &dests).unwrap();
        assert_eq!(stubs.0, vec![root.join("etc/resolv.conf"), root.join("cache"), root.join("data")]);
        fs::write(root.join("etc/resolv.conf"), "").unwrap();
        fs::create_dir_all(root.join("cache/a")).unwrap();
        fs::create_dir(root.join("data")).unwrap();
        fs::write(root.join("data/kept"), "content").unwrap();
        stubs.remove();
        assert!(!root.join("etc/resolv.conf").exists());
        assert!(!root.join("cache").exists());
        assert!(root.join("data/kept").exists());
        assert!(root.join("etc/hosts").exists());
    }
}
