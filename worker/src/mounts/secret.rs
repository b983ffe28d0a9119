//! A secret for one RUN step: a file on a private tmpfs (never on the snapshot's disk),
//! bind-mounted read-only into the container and gone with the step.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

/// A secret's file on its own tmpfs; unmounted and removed on drop.
#[derive(Debug)]
pub struct SecretFile {
    dir: PathBuf,
    file: PathBuf,
    mounted: bool,
}

impl SecretFile {
    /// Mounts a small tmpfs in a fresh dir under `tmp_root` and writes `value` there as
    /// `secret`, owned by `uid:gid` with `mode`.
    pub fn create(
        tmp_root: &Path,
        value: &[u8],
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> std::io::Result<SecretFile> {
        let dir = tmp_root.join(format!("secret-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let mut guard = SecretFile {
            file: dir.join("secret"),
            dir,
            mounted: false,
        };
        let size = format!("size={},mode=0700", value.len().max(4096) + 4096);
        mount(
            Some("tmpfs"),
            &guard.dir,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(size.as_str()),
        )
        .map_err(std::io::Error::from)?;
        guard.mounted = true;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&guard.file)?;
        f.write_all(value)?;
        drop(f);
        std::os::unix::fs::chown(&guard.file, Some(uid), Some(gid))?;
        std::fs::set_permissions(&guard.file, std::fs::Permissions::from_mode(mode & 0o7777))?;
        Ok(guard)
    }

    /// The file to bind-mount.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        if self.mounted {
            if let Err(e) = umount2(&self.dir, MntFlags::MNT_DETACH) {
                tracing::warn!(dir = %self.dir.display(), error = %e, "unmounting a secret tmpfs");
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "removing a secret dir");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn secret_lives_on_tmpfs_and_goes_away() {
        if !nix::unistd::geteuid().is_root() {
            return; // mounting tmpfs needs root
        }
        let tmp = tempfile::tempdir().unwrap();
        let s = SecretFile::create(tmp.path(), b"hunter2", 1000, 50, 0o400).unwrap();
        let md = std::fs::metadata(s.path()).unwrap();
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (1000, 50, 0o400));
        assert_eq!(std::fs::read(s.path()).unwrap(), b"hunter2");
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = s.path().parent().unwrap().to_path_buf();
        assert!(info.contains(dir.to_str().unwrap()));
        drop(s);
        assert!(!dir.exists());
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!info.contains(dir.to_str().unwrap()));
    }
}
