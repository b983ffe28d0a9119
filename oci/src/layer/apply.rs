//! Applying a layer tar (gzip, zstd or plain, detected by magic) onto a directory, safely.
//!
//! Never uses `tar::Entry::unpack`: every entry is created with `*at` calls relative to a parent
//! directory that was resolved inside the root (see [`super::resolve`]). Whiteouts (`.wh.name`)
//! delete, `.wh..wh..opq` empties the directory of what lower layers put there.

use super::compression::decompress;
use super::resolve::{cname, resolve_dir, EntryName, Resolved};
use super::sys;
use crate::digest::{Digest, HashingReader};
use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// How to apply a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Create character and block devices. Default: only when running as root.
    pub allow_devices: bool,
    /// chown entries to the archive's uid/gid. Default: only when running as root.
    pub preserve_ownership: bool,
    /// Largest regular file accepted, in bytes (a bound on hostile header sizes).
    pub max_entry_size: u64,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        let root = sys::is_root();
        ApplyOptions {
            allow_devices: root,
            preserve_ownership: root,
            max_entry_size: 256 << 30,
        }
    }
}

/// What applying a layer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyStats {
    pub entries: u64,
    /// Digest of the uncompressed tar stream (the layer's diffID).
    pub diff_id: Digest,
    pub uncompressed_size: u64,
}

/// Why a layer could not be applied. Every entry-level variant names the entry.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("opening layer root {path}: {source}")]
    Root { path: PathBuf, source: io::Error },
    #[error("reading layer archive: {source}")]
    Read { source: io::Error },
    #[error("layer entry {entry:?}: absolute paths are refused")]
    Absolute { entry: String },
    #[error("layer entry {entry:?}: `..` components are refused (path traversal)")]
    Traversal { entry: String },
    #[error("layer entry {entry:?}: invalid name")]
    BadName { entry: String },
    #[error("layer entry {entry:?}: parent {component:?} is a symlink to {target:?}, which leaves the root")]
    SymlinkEscape {
        entry: String,
        component: String,
        target: String,
    },
    #[error("layer entry {entry:?}: too many levels of symlinks in its parents")]
    SymlinkLoop { entry: String },
    #[error("layer entry {entry:?}: parent {component:?} exists and is not a directory")]
    NotADirectory { entry: String, component: String },
    #[error("layer entry {entry:?}: hardlink target {target:?} {reason}")]
    HardlinkTarget {
        entry: String,
        target: String,
        reason: &'static str,
    },
    #[error("layer entry {entry:?}: device nodes are refused (not root, or allow_devices is off)")]
    DeviceRefused { entry: String },
    #[error("layer entry {entry:?}: size {size} exceeds the limit of {limit} bytes")]
    TooLarge {
        entry: String,
        size: u64,
        limit: u64,
    },
    #[error("layer entry {entry:?}: archive ends after {got} of {size} bytes")]
    Truncated { entry: String, got: u64, size: u64 },
    #[error("layer entry {entry:?}: unsupported tar entry type {kind:?}")]
    Unsupported { entry: String, kind: char },
    #[error("layer entry {entry:?}: {op}: {source}")]
    Io {
        entry: String,
        op: &'static str,
        source: io::Error,
    },
}

/// Applies the layer read from `layer` (compressed or not) onto `root`.
pub fn apply_layer<R: Read>(
    layer: R,
    root: &Path,
    opts: &ApplyOptions,
) -> Result<ApplyStats, ApplyError> {
    let root_fd = sys::open_root(root).map_err(|source| ApplyError::Root {
        path: root.into(),
        source,
    })?;
    let reader = decompress(layer).map_err(|source| ApplyError::Read { source })?;
    let mut hashing = HashingReader::new(reader);
    let mut state = State {
        root: root_fd,
        opts,
        written: HashSet::new(),
        dirs: Vec::new(),
    };
    let mut entries = 0u64;
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let iter = archive
            .entries()
            .map_err(|source| ApplyError::Read { source })?;
        for entry in iter {
            let mut entry = entry.map_err(|source| ApplyError::Read { source })?;
            state.apply_entry(&mut entry)?;
            entries += 1;
        }
    }
    // Drain the end-of-archive padding so the diffID covers the whole stream.
    io::copy(&mut hashing, &mut io::sink()).map_err(|source| ApplyError::Read { source })?;
    state.finish_dirs()?;
    let (_, diff_id, uncompressed_size) = hashing.finish();
    Ok(ApplyStats {
        entries,
        diff_id,
        uncompressed_size,
    })
}

struct State<'a> {
    root: OwnedFd,
    opts: &'a ApplyOptions,
    /// Paths created by this layer (kept by an opaque whiteout in the same layer).
    written: HashSet<Vec<u8>>,
    /// Directory mtimes, set at the end (children change them).
    dirs: Vec<(EntryName, i64, u32)>,
}

/// Metadata common to all entry kinds, from the header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    xattrs: Vec<(String, Vec<u8>)>,
}

impl State<'_> {
    fn apply_entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), ApplyError> {
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader) {
            return Ok(());
        }
        let name = EntryName::parse(&raw, &shown)?;
        let Some((parents, base)) = name.split_last() else {
            return Ok(()); // "./": the root itself keeps its own metadata.
        };
        let base_str = String::from_utf8_lossy(base);
        if base_str == OPAQUE_WHITEOUT {
            return self.opaque(parents, &shown);
        }
        if base_str.starts_with(WHITEOUT_META_PREFIX) {
            return Ok(()); // aufs bookkeeping (.wh..wh.plnk etc.), not content.
        }
        if let Some(hidden) = base.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(parents, hidden, &shown);
        }
        let meta = read_meta(entry, &shown)?;
        let parent =
            resolve_dir(&self.root, parents, true, &shown)?.ok_or_else(|| ApplyError::BadName {
                entry: shown.clone(),
            })?;
        let c = cname(base, &shown)?;
        let io = |op: &'static str| {
            let e = shown.clone();
            move |source: io::Error| ApplyError::Io {
                entry: e,
                op,
                source,
            }
        };
        let existing = sys::lstat_at(&parent.fd, &c).map_err(io("lstat"))?;
        let is_dir_entry = matches!(kind, tar::EntryType::Directory);
        if let Some(st) = existing {
            if !(is_dir_entry && sys::is_dir(&st)) {
                remove_entry(&parent, base, &st).map_err(io("replace existing"))?;
            }
        }
        self.written.insert(parent.child_key(base));
        match kind {
            tar::EntryType::Directory => {
                if existing.filter(sys::is_dir).is_none() {
                    sys::mkdir_at(&parent.fd, &c, 0o700).map_err(io("mkdir"))?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(io("size"))?;
                if size > self.opts.max_entry_size {
                    return Err(ApplyError::TooLarge {
                        entry: shown,
                        size,
                        limit: self.opts.max_entry_size,
                    });
                }
                let mut f = sys::create_file_at(&parent.fd, &c, 0o600).map_err(io("create"))?;
                let got = io::copy(&mut entry.take(size), &mut f).map_err(io("write"))?;
                if got != size {
                    let _ = sys::unlink_at(&parent.fd, &c);
                    return Err(ApplyError::Truncated {
                        entry: shown,
                        got,
                        size,
                    });
                }
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                let t = cname(&target, &shown)?;
                sys::symlink_at(&t, &parent.fd, &c).map_err(io("symlink"))?;
            }
            tar::EntryType::Link => return self.hardlink(entry, &parent, &c, &shown),
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let fmt = match kind {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                if fmt != libc::S_IFIFO && !self.opts.allow_devices {
                    return Err(ApplyError::DeviceRefused { entry: shown });
                }
                let major = entry.header().device_major().ok().flatten().unwrap_or(0);
                let minor = entry.header().device_minor().ok().flatten().unwrap_or(0);
                sys::mknod_at(&parent.fd, &c, fmt | 0o600, major, minor).map_err(io("mknod"))?;
            }
            other => {
                return Err(ApplyError::Unsupported {
                    entry: shown,
                    kind: char::from(other.as_byte()),
                })
            }
        }
        self.set_meta(&parent, base, &c, kind, &meta, &shown)?;
        if is_dir_entry {
            self.dirs.push((name, meta.mtime.0, meta.mtime.1));
        }
        Ok(())
    }

    fn set_meta(
        &self,
        parent: &Resolved,
        base: &[u8],
        c: &std::ffi::CStr,
        kind: tar::EntryType,
        meta: &Meta,
        shown: &str,
    ) -> Result<(), ApplyError> {
        let io = |op: &'static str| {
            let e = shown.to_string();
            move |source: io::Error| ApplyError::Io {
                entry: e,
                op,
                source,
            }
        };
        let path = sys::proc_path(&parent.fd, base);
        for (k, v) in &meta.xattrs {
            sys::lsetxattr(&path, k, v).map_err(io("set xattr"))?;
        }
        if self.opts.preserve_ownership {
            sys::chown_at(&parent.fd, c, meta.uid, meta.gid).map_err(io("chown"))?;
        }
        let symlink = matches!(kind, tar::EntryType::Symlink);
        if !symlink {
            sys::chmod_at(&parent.fd, c, meta.mode & 0o7777).map_err(io("chmod"))?;
        }
        if !matches!(kind, tar::EntryType::Directory) {
            sys::set_mtime_at(&parent.fd, c, meta.mtime.0, meta.mtime.1).map_err(io("utimes"))?;
        }
        Ok(())
    }

    fn hardlink<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        parent: &Resolved,
        c: &std::ffi::CStr,
        shown: &str,
    ) -> Result<(), ApplyError> {
        let raw = entry.link_name_bytes().unwrap_or_default().into_owned();
        let target_shown = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason| ApplyError::HardlinkTarget {
            entry: shown.to_string(),
            target: target_shown.clone(),
            reason,
        };
        let target = match EntryName::parse(&raw, shown) {
            Ok(t) => t,
            Err(ApplyError::Absolute { .. }) => return Err(refuse("is absolute")),
            Err(ApplyError::Traversal { .. }) => return Err(refuse("leaves the root (`..`)")),
            Err(e) => return Err(e),
        };
        let Some((tparents, tbase)) = target.split_last() else {
            return Err(refuse("is the root directory"));
        };
        let tparent = resolve_dir(&self.root, tparents, false, shown)?
            .ok_or_else(|| refuse("does not exist"))?;
        let tc = cname(tbase, shown)?;
        match sys::lstat_at(&tparent.fd, &tc) {
            Ok(Some(st)) if sys::is_dir(&st) => return Err(refuse("is a directory")),
            Ok(Some(_)) => {}
            Ok(None) => return Err(refuse("does not exist")),
            Err(source) => {
                return Err(ApplyError::Io {
                    entry: shown.to_string(),
                    op: "lstat link target",
                    source,
                })
            }
        }
        sys::link_at(&tparent.fd, &tc, &parent.fd, c).map_err(|source| ApplyError::Io {
            entry: shown.to_string(),
            op: "link",
            source,
        })
    }

    fn whiteout(
        &mut self,
        parents: &[Vec<u8>],
        hidden: &[u8],
        shown: &str,
    ) -> Result<(), ApplyError> {
        let Some(parent) = resolve_dir(&self.root, parents, false, shown)? else {
            return Ok(());
        };
        let c = cname(hidden, shown)?;
        let io = |source| ApplyError::Io {
            entry: shown.to_string(),
            op: "whiteout",
            source,
        };
        if let Some(st) = sys::lstat_at(&parent.fd, &c).map_err(io)? {
            remove_entry(&parent, hidden, &st).map_err(io)?;
        }
        Ok(())
    }

    fn opaque(&mut self, parents: &[Vec<u8>], shown: &str) -> Result<(), ApplyError> {
        let io = |source| ApplyError::Io {
            entry: shown.to_string(),
            op: "opaque whiteout",
            source,
        };
        let Some(parent) = resolve_dir(&self.root, parents, true, shown)? else {
            return Ok(());
        };
        let listing = std::fs::read_dir(sys::proc_path(&parent.fd, b"")).map_err(io)?;
        for child in listing {
            let child = child.map_err(io)?;
            let name =
                std::os::unix::ffi::OsStrExt::as_bytes(child.file_name().as_os_str()).to_vec();
            if self.written.contains(&parent.child_key(&name)) {
                continue;
            }
            let c = cname(&name, shown)?;
            if let Some(st) = sys::lstat_at(&parent.fd, &c).map_err(io)? {
                remove_entry(&parent, &name, &st).map_err(io)?;
            }
        }
        Ok(())
    }

    fn finish_dirs(&mut self) -> Result<(), ApplyError> {
        for (name, secs, nanos) in self.dirs.iter().rev() {
            let shown = String::from_utf8_lossy(&name.key()).into_owned();
            let Some((parents, base)) = name.split_last() else {
                continue;
            };
            let Some(parent) = resolve_dir(&self.root, parents, false, &shown)? else {
                continue;
            };
            let c = cname(base, &shown)?;
            if sys::lstat_at(&parent.fd, &c)
                .ok()
                .flatten()
                .is_some_and(|st| sys::is_dir(&st))
            {
                sys::set_mtime_at(&parent.fd, &c, *secs, *nanos).map_err(|source| {
                    ApplyError::Io {
                        entry: shown.clone(),
                        op: "utimes",
                        source,
                    }
                })?;
            }
        }
        Ok(())
    }
}

fn remove_entry(parent: &Resolved, name: &[u8], st: &libc::stat) -> io::Result<()> {
    if sys::is_dir(st) {
        std::fs::remove_dir_all(sys::proc_path(&parent.fd, name))
    } else {
        sys::unlink_at(&parent.fd, &sys::cstr(name)?)
    }
}

fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>, shown: &str) -> Result<Meta, ApplyError> {
    let h = entry.header();
    let bad = |op| {
        let e = shown.to_string();
        move |source| ApplyError::Io {
            entry: e,
            op,
            source,
        }
    };
    let mut meta = Meta {
        mode: h.mode().map_err(bad("mode"))?,
        uid: h.uid().map_err(bad("uid"))? as u32,
        gid: h.gid().map_err(bad("gid"))? as u32,
        mtime: (h.mtime().map_err(bad("mtime"))? as i64, 0),
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions().map_err(bad("pax header"))? {
        for ext in pax {
            let ext = ext.map_err(bad("pax record"))?;
            let Ok(key) = ext.key() else { continue };
            let value = ext.value_bytes();
            if let Some(x) = key.strip_prefix("SCHILY.xattr.") {
                meta.xattrs.push((x.to_string(), value.to_vec()));
            } else if key == "uid" || key == "gid" {
                let v = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok());
                let v = v.ok_or_else(|| ApplyError::BadName {
                    entry: shown.to_string(),
                })?;
                if key == "uid" {
                    meta.uid = v
                } else {
                    meta.gid = v
                }
            } else if key == "mtime" {
                if let Some(t) = std::str::from_utf8(value).ok().and_then(parse_pax_time) {
                    meta.mtime = t;
                }
            }
        }
    }
    Ok(meta)
}

fn parse_pax_time(v: &str) -> Option<(i64, u32)> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs = secs.parse::<i64>().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse::<u32>().ok()?
    };
    Some((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::parse_pax_time;

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time("12.5"), Some((12, 500_000_000)));
        assert_eq!(parse_pax_time("12"), Some((12, 0)));
        assert_eq!(parse_pax_time("x"), None);
    }
}
