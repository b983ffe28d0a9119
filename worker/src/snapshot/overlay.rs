//! Mounting overlayfs, including chains whose lowerdir option exceeds a page.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use super::store::{CommittedLayer, MAX_CHAIN};
use super::{ChainId, Result, SnapshotError};

/// How the lowerdir paths are spelled in the mount options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OverlayOptions {
    /// Absolute paths; mounted directly.
    Absolute(String),
    /// Paths relative to `base`; mounted from a child process that chdirs there.
    Relative { base: PathBuf, data: String },
}

/// The option-size limit containerd uses: a page minus room for the kernel's own use.
pub(crate) fn option_limit() -> usize {
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    usize::try_from(page).unwrap_or(4096).saturating_sub(512)
}

/// Builds the options for `chain` (top first) with `upper`/`work`, choosing absolute
/// paths when they fit in `limit` bytes and paths relative to `snapshots` otherwise.
pub(crate) fn build_options(
    top: &ChainId,
    chain: &[CommittedLayer],
    snapshots: &Path,
    upper: &Path,
    work: &Path,
    limit: usize,
) -> Result<OverlayOptions> {
    let tail = format!(",upperdir={},workdir={}", upper.display(), work.display());
    let abs: Vec<String> = chain.iter().map(|l| l.dir.display().to_string()).collect();
    let absolute = format!("lowerdir={}{tail}", abs.join(":"));
    if chain.len() <= MAX_CHAIN && absolute.len() <= limit {
        return Ok(OverlayOptions::Absolute(absolute));
    }
    let rel: Vec<&str> = chain.iter().map(|l| l.rel_dir.as_str()).collect();
    let relative = format!("lowerdir={}{tail}", rel.join(":"));
    if chain.len() > MAX_CHAIN || relative.len() > limit {
        return Err(SnapshotError::ChainTooLong {
            chain_id: top.clone(),
            layers: chain.len(),
            limit: MAX_CHAIN,
            option_len: relative.len(),
            option_limit: limit,
        });
    }
    Ok(OverlayOptions::Relative {
        base: snapshots.to_path_buf(),
        data: relative,
    })
}

pub(crate) fn mount_overlay(options: &OverlayOptions, target: &Path) -> Result<()> {
    let err = |source| SnapshotError::Mount {
        target: target.to_path_buf(),
        source,
    };
    match options {
        OverlayOptions::Absolute(data) => mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(err),
        OverlayOptions::Relative { base, data } => mount_from(base, data, target).map_err(err),
    }
}

/// Mounts from a forked child whose working directory is `base`, so that relative lower
/// dirs resolve there without changing this (multi-threaded) process's cwd. The child
/// only makes async-signal-safe system calls on strings built before the fork.
fn mount_from(base: &Path, data: &str, target: &Path) -> nix::Result<()> {
    let c = |b: &[u8]| CString::new(b).map_err(|_| nix::Error::EINVAL);
    let base_c = c(base.as_os_str().as_bytes())?;
    let target_c = c(target.as_os_str().as_bytes())?;
    let data_c = c(data.as_bytes())?;
    let overlay_c = c(b"overlay")?;
    // SAFETY: the child calls only chdir, mount and _exit (async-signal-safe) on memory
    // allocated before the fork, and never returns into Rust code.
    match unsafe { fork() }? {
        ForkResult::Child => unsafe {
            if nix::libc::chdir(base_c.as_ptr()) != 0 {
                nix::libc::_exit(nix::libc::ENOENT & 0x7f);
            }
            let rc = nix::libc::mount(
                overlay_c.as_ptr(),
                target_c.as_ptr(),
                overlay_c.as_ptr(),
                0,
                data_c.as_ptr().cast(),
            );
            let code = if rc == 0 {
                0
            } else {
                *nix::libc::__errno_location() & 0x7f
            };
            nix::libc::_exit(code)
        },
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(WaitStatus::Exited(_, code)) => return Err(nix::Error::from_raw(code)),
                Ok(WaitStatus::Signaled(..)) => return Err(nix::Error::EINTR),
                Ok(_) => continue,
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e),
            }
        },
    }
}

/// Unmounts `target`; a busy mount is detached instead (lazy unmount), so cleanup
/// always completes.
pub(crate) fn unmount(target: &Path) -> Result<()> {
    match umount2(target, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => Ok(()), // not a mount point
        Err(nix::Error::EBUSY) => {
            umount2(target, MntFlags::MNT_DETACH).map_err(|source| SnapshotError::Unmount {
                target: target.to_path_buf(),
                source,
            })
        }
        Err(source) => Err(SnapshotError::Unmount {
            target: target.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(n: usize, prefix: &str) -> Vec<CommittedLayer> {
        (0..n)
            .map(|i| CommittedLayer {
                chain_id: format!("sha256:{:064x}", i).parse().unwrap(),
                dir: PathBuf::from(format!("{prefix}/snapshots/{i}/fs")),
                rel_dir: format!("{i}/fs"),
            })
            .collect()
    }

    fn top() -> ChainId {
        format!("sha256:{}", "b".repeat(64)).parse().unwrap()
    }

    #[test]
    fn short_chain_uses_absolute_paths_top_first() {
        let chain = layers(2, "/d");
        let o = build_options(
            &top(),
            &chain,
            Path::new("/d/snapshots"),
            Path::new("/u"),
            Path::new("/w"),
            3584,
        )
        .unwrap();
        assert_eq!(
            o,
            OverlayOptions::Absolute(
                "lowerdir=/d/snapshots/0/fs:/d/snapshots/1/fs,upperdir=/u,workdir=/w".into()
            )
        );
    }

    #[test]
    fn long_chain_switches_to_relative_paths_then_fails() {
        let prefix = format!("/{}", "x".repeat(200));
        let chain = layers(40, &prefix);
        let o = build_options(
            &top(),
            &chain,
            Path::new("/s"),
            Path::new("/u"),
            Path::new("/w"),
            3584,
        )
        .unwrap();
        assert!(
            matches!(o, OverlayOptions::Relative { ref data, .. } if data.starts_with("lowerdir=0/fs:1/fs:"))
        );
        let chain = layers(MAX_CHAIN + 1, "/d");
        let e = build_options(
            &top(),
            &chain,
            Path::new("/s"),
            Path::new("/u"),
            Path::new("/w"),
            1 << 20,
        )
        .unwrap_err();
        assert!(matches!(e, SnapshotError::ChainTooLong { layers, .. } if layers == MAX_CHAIN + 1));
    }
}
