//! Applying metadata to created paths: ownership, mode, times, xattrs; and `mkdir -p`
//! inside a root with ownership and times for the directories it creates.

use super::chmod::ModeChange;
use super::{ApplyOptions, OwnershipPolicy, XattrPolicy};
use crate::error::{FsError, IoContext};
use crate::xattr::{read_xattrs, set_xattr};
use nix::fcntl::{AtFlags, AT_FDCWD};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};
use std::fs::Metadata;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// A resolved owner for created files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// What to do to each copied path besides its content.
#[derive(Debug, Clone)]
pub(crate) struct MetaSpec<'a> {
    pub owner: Option<Owner>,
    pub mode: Option<ModeChange>,
    pub timestamp: Option<i64>,
    pub opts: &'a ApplyOptions,
}

/// Sets owner (unless the policy skips it), then mode (never on symlinks), then times.
pub(crate) fn set_owner(path: &Path, owner: Owner, opts: &ApplyOptions) -> Result<(), FsError> {
    if opts.ownership == OwnershipPolicy::Skip {
        return Ok(());
    }
    fchownat(
        AT_FDCWD,
        path,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx("chown", path)
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), FsError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
        .ctx("chmod", path)
}

/// Sets access and modification time of `path` itself (not a symlink's target).
pub(crate) fn set_times(path: &Path, atime: (i64, i64), mtime: (i64, i64)) -> Result<(), FsError> {
    let a = TimeSpec::new(atime.0, atime.1);
    let m = TimeSpec::new(mtime.0, mtime.1);
    utimensat(AT_FDCWD, path, &a, &m, UtimensatFlags::NoFollowSymlink).ctx("setting times", path)
}

/// Copies the metadata of a source (`meta`, from `src`) onto `target`, as changed by `spec`.
pub(crate) fn copy_file_info(
    meta: &Metadata,
    src: &Path,
    target: &Path,
    spec: &MetaSpec<'_>,
) -> Result<(), FsError> {
    let owner = spec.owner.unwrap_or(Owner {
        uid: meta.uid(),
        gid: meta.gid(),
    });
    set_owner(target, owner, spec.opts)?;
    let is_link = meta.file_type().is_symlink();
    if !is_link {
        let mut mode = meta.mode() & 0o7777;
        if let Some(change) = &spec.mode {
            mode = change.apply(mode, meta.is_dir());
        }
        set_mode(target, mode)?;
    }
    copy_xattrs(src, target, spec.opts)?;
    copy_times(meta, target, spec)
}

/// The source's access and modification times onto `target`, or `spec`'s timestamp.
pub(crate) fn copy_times(
    meta: &Metadata,
    target: &Path,
    spec: &MetaSpec<'_>,
) -> Result<(), FsError> {
    match spec.timestamp {
        Some(t) => set_times(target, (t, 0), (t, 0)),
        None => set_times(
            target,
            (meta.atime(), meta.atime_nsec()),
            (meta.mtime(), meta.mtime_nsec()),
        ),
    }
}

pub(crate) fn copy_xattrs(src: &Path, target: &Path, opts: &ApplyOptions) -> Result<(), FsError> {
    if opts.xattrs == XattrPolicy::Skip {
        return Ok(());
    }
    let attrs = match read_xattrs(src) {
        Ok(a) => a,
        Err(e) if opts.xattrs == XattrPolicy::Strict => return Err(e),
        Err(_) => return Ok(()),
    };
    for (name, value) in attrs {
        match set_xattr(target, &name, &value) {
            Ok(()) => {}
            Err(e) if opts.xattrs == XattrPolicy::Strict => return Err(e),
            Err(_) => {}
        }
    }
    Ok(())
}

/// Creates `rel` (already resolved, relative to `root`) and any missing parents with
/// `mode`; each directory it creates gets `owner` and `timestamp` when given.
pub(crate) fn mkdir_all(
    root: &Path,
    rel: &str,
    mode: u32,
    owner: Option<Owner>,
    timestamp: Option<i64>,
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    let mut cur = root.to_path_buf();
    let mut created = Vec::new();
    for comp in rel.split('/').filter(|c| !c.is_empty()) {
        cur.push(comp);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => return Err(FsError::NotADirectory { path: cur }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::io("stat", cur, e)),
        }
        std::fs::create_dir(&cur).ctx("mkdir", &cur)?;
        set_mode(&cur, mode)?;
        if let Some(o) = owner {
            set_owner(&cur, o, opts)?;
        }
        created.push(cur.clone());
    }
    // Times last, deepest first, so creating a child does not bump its parent's mtime.
    if let Some(t) = timestamp {
        for dir in created.iter().rev() {
            set_times(dir, (t, 0), (t, 0))?;
        }
    }
    Ok(())
}
