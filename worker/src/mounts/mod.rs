//! What RUN steps mount besides their root filesystem: persistent cache directories
//! ([`cache`]), secrets on private tmpfs ([`secret`]), ssh agent proxies ([`ssh`]), plus small helpers for the temp
//! dirs of a solve.

pub mod cache;
pub mod mountinfo;
pub mod secret;
pub mod ssh;

pub use cache::{CacheMountLease, CacheMountSpec, CacheMounts};
pub use secret::SecretFile;
pub use ssh::SshProxy;

use std::path::{Path, PathBuf};

/// Removes a file or directory tree when dropped (errors are logged).
#[derive(Debug)]
pub struct RemoveOnDrop(pub PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let r = match std::fs::symlink_metadata(&self.0) {
            Ok(md) if md.is_dir() => std::fs::remove_dir_all(&self.0),
            Ok(_) => std::fs::remove_file(&self.0),
            Err(_) => return,
        };
        if let Err(e) = r {
            tracing::warn!(path = %self.0.display(), error = %e, "removing a temp path");
        }
    }
}

/// Empties the worker's `tmp/` after a crash: unmounts whatever is mounted below it
/// (secret tmpfs), then removes its contents (symlinks themselves, never their targets).
pub fn clear_tmp(dir: &Path) -> std::io::Result<()> {
    mountinfo::detach_below(dir).map_err(std::io::Error::other)?;
    remove_entries(dir).map(drop)
}

/// Removes everything in `dir` (not `dir` itself) and returns how many entries there were.
/// A symlink is removed itself, never followed (`remove_dir_all` does not follow symlinks
/// either), so nothing outside `dir` is touched; unmount what is mounted below first.
pub(crate) fn remove_entries(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
        n += 1;
    }
    Ok(n)
}
