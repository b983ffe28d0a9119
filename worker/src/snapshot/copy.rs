//! The copy backend: applies overlay-format layer directories onto a plain directory.
//!
//! Preserved: file types (regular, dir, symlink, fifo, devices, sockets as fifos are not
//! special), modes incl. setuid bits, ownership, mtimes/atimes, hard links within a
//! layer. Not preserved: extended attributes (e.g. file capabilities).

use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, AT_FDCWD};
use nix::sys::stat::{mknod, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use super::{Result, SnapshotError};

const OPAQUE_XATTR: &[u8] = b"trusted.overlay.opaque\0";

/// Applies the layer directory `layer` on top of `dest`.
pub(crate) fn apply_layer(layer: &Path, dest: &Path) -> Result<()> {
    let mut links = HashMap::new();
    apply_dir(layer, dest, &mut links)
}

fn apply_dir(
    src_dir: &Path,
    dst_dir: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    for entry in fs::read_dir(src_dir).map_err(SnapshotError::io("reading", src_dir))? {
        let entry = entry.map_err(SnapshotError::io("reading", src_dir))?;
        let src = entry.path();
        let dst = dst_dir.join(entry.file_name());
        let md = fs::symlink_metadata(&src).map_err(SnapshotError::io("inspecting", &src))?;
        let ft = md.file_type();
        if ft.is_char_device() && md.rdev() == 0 {
            remove_any(&dst)?;
            continue;
        }
        let existing = fs::symlink_metadata(&dst).ok();
        if ft.is_dir() {
            match existing {
                Some(m) if m.is_dir() => {
                    if is_opaque(&src)? {
                        clear_dir(&dst)?;
                    }
                }
                Some(_) => {
                    remove_any(&dst)?;
                    fs::create_dir(&dst).map_err(SnapshotError::io("creating", &dst))?;
                }
                None => fs::create_dir(&dst).map_err(SnapshotError::io("creating", &dst))?,
            }
            apply_dir(&src, &dst, links)?;
            set_metadata(&dst, &md)?;
            continue;
        }
        if existing.is_some() {
            remove_any(&dst)?;
        }
        let key = (md.dev(), md.ino());
        if md.nlink() > 1 {
            if let Some(first) = links.get(&key) {
                fs::hard_link(first, &dst).map_err(SnapshotError::io("linking", &dst))?;
                continue;
            }
        }
        if ft.is_file() {
            fs::copy(&src, &dst).map_err(SnapshotError::io("copying to", &dst))?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src).map_err(SnapshotError::io("reading link", &src))?;
            symlink(&target, &dst).map_err(SnapshotError::io("creating symlink", &dst))?;
        } else {
            let kind = if ft.is_char_device() {
                SFlag::S_IFCHR
            } else if ft.is_block_device() {
                SFlag::S_IFBLK
            } else if ft.is_socket() {
                SFlag::S_IFSOCK
            } else {
                SFlag::S_IFIFO
            };
            mknod(&dst, kind, Mode::from_bits_truncate(md.mode()), md.rdev())
                .map_err(|e| SnapshotError::io("creating node", &dst)(e.into()))?;
        }
        set_metadata(&dst, &md)?;
        if md.nlink() > 1 {
            links.insert(key, dst);
        }
    }
    Ok(())
}

/// Ownership, then mode (chown clears setuid), then times, never following symlinks.
fn set_metadata(path: &Path, md: &fs::Metadata) -> Result<()> {
    let io = |e: nix::Error| SnapshotError::io("setting metadata of", path)(e.into());
    fchownat(
        AT_FDCWD,
        path,
        Some(Uid::from_raw(md.uid())),
        Some(Gid::from_raw(md.gid())),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(io)?;
    if !md.file_type().is_symlink() {
        fs::set_permissions(path, fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(SnapshotError::io("setting mode of", path))?;
    }
    let atime = TimeSpec::new(md.atime(), md.atime_nsec());
    let mtime = TimeSpec::new(md.mtime(), md.mtime_nsec());
    nix::sys::stat::utimensat(
        AT_FDCWD,
        path,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io)
}

fn is_opaque(dir: &Path) -> Result<bool> {
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| {
        SnapshotError::io("inspecting", dir)(std::io::ErrorKind::InvalidInput.into())
    })?;
    let mut buf = [0u8; 4];
    // SAFETY: both strings are NUL-terminated and `buf` is valid for its length.
    let n = unsafe {
        nix::libc::lgetxattr(
            c.as_ptr(),
            OPAQUE_XATTR.as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    Ok(n == 1 && buf.first() == Some(&b'y'))
}

fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).map_err(SnapshotError::io("removing", path))
        }
        Ok(_) => fs::remove_file(path).map_err(SnapshotError::io("removing", path)),
        Err(_) => Ok(()),
    }
}

fn clear_dir(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(SnapshotError::io("reading", dir))? {
        remove_any(&entry.map_err(SnapshotError::io("reading", dir))?.path())?;
    }
    Ok(())
}
