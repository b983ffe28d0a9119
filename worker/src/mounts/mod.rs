//! What RUN steps mount besides their root filesystem: persistent cache directories
//! ([`cache`]), secrets on private tmpfs ([`secret`]), ssh agent proxies ([`ssh`]), plus small helpers for the temp
//! dirs of a solve.

pub mod cache;
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
/// (secret tmpfs), then removes its contents.
pub fn clear_tmp(dir: &Path) -> std::io::Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir) && p != dir)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
