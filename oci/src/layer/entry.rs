//! The entries a layer is made of, read from disk with their metadata.

use super::sys;
use super::LayerError;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A regular file whose content is read from `source` when the tar is written.
    File {
        size: u64,
        source: PathBuf,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// Filled in by the tar writer for the second and later paths of one inode.
    Hardlink {
        target: Vec<u8>,
    },
    Char {
        major: u32,
        minor: u32,
    },
    Block {
        major: u32,
        minor: u32,
    },
    Fifo,
    /// An empty regular file: the `.wh.name` and `.wh..wh..opq` markers.
    Whiteout,
}

/// One layer entry: a relative path (no leading `/` or `./`) and its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsEntry {
    pub path: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// Sorted by name.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// (device, inode) for regular files with more than one link, to emit hardlinks.
    pub inode: Option<(u64, u64)>,
}

/// Xattrs overlayfs keeps for itself; never part of a layer.
pub fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

impl FsEntry {
    /// A whiteout marker entry named `path` (e.g. `dir/.wh.file`).
    pub fn whiteout(path: Vec<u8>) -> FsEntry {
        FsEntry {
            path,
            kind: EntryKind::Whiteout,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            mtime_nsec: 0,
            xattrs: Vec::new(),
            inode: None,
        }
    }

    /// Reads `root/rel` (without following a final symlink). Overlay xattrs are dropped.
    pub fn from_disk(root: &Path, rel: &Path) -> Result<FsEntry, LayerError> {
        let full = root.join(rel);
        let io = |op: &'static str| {
            let path = full.clone();
            move |source| LayerError::Io { path, op, source }
        };
        let md = std::fs::symlink_metadata(&full).map_err(io("lstat"))?;
        let ft = md.file_type();
        let rdev = md.rdev();
        let (major, minor) = (libc::major(rdev), libc::minor(rdev));
        let kind = if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File {
                size: md.len(),
                source: full.clone(),
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&full).map_err(io("readlink"))?;
            EntryKind::Symlink {
                target: t.as_os_str().as_bytes().to_vec(),
            }
        } else if ft.is_char_device() {
            EntryKind::Char { major, minor }
        } else if ft.is_block_device() {
            EntryKind::Block { major, minor }
        } else if ft.is_fifo() {
            EntryKind::Fifo
        } else {
            return Err(LayerError::UnsupportedFileType { path: full });
        };
        let xattrs = sys::lxattrs(&full)
            .map_err(io("list xattrs"))?
            .into_iter()
            .filter(|(k, _)| !is_overlay_xattr(k))
            .collect();
        let inode = (ft.is_file() && md.nlink() > 1).then(|| (md.dev(), md.ino()));
        Ok(FsEntry {
            path: rel.as_os_str().as_bytes().to_vec(),
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: md.mtime(),
            mtime_nsec: md.mtime_nsec().clamp(0, 999_999_999) as u32,
            xattrs,
            inode,
        })
    }
}

/// Every path under `root` (not `root` itself), depth first, children sorted by name.
pub fn walk_sorted(root: &Path) -> impl Iterator<Item = Result<PathBuf, LayerError>> + '_ {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .map(move |e| {
            let e = e.map_err(|e| LayerError::Walk {
                path: e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| root.to_path_buf()),
                message: e.to_string(),
            })?;
            e.path()
                .strip_prefix(root)
                .map(Path::to_path_buf)
                .map_err(|_| LayerError::Walk {
                    path: e.path().into(),
                    message: "outside root".into(),
                })
        })
}

/// All entries of a directory tree (a full rootfs layer).
pub fn dir_entries(root: &Path) -> Result<Vec<FsEntry>, LayerError> {
    let mut out = Vec::new();
    for rel in walk_sorted(root) {
        out.push(FsEntry::from_disk(root, &rel?)?);
    }
    sort_entries(&mut out);
    Ok(out)
}

/// The canonical order: by path bytes (a parent always precedes its children).
pub fn sort_entries(entries: &mut [FsEntry]) {
    entries.sort_by(|a, b| a.path.cmp(&b.path));
}
