//! A root filesystem as a sorted table of entries: type, mode, owner, link target, content digest.
//! Times are not compared.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, sha256: String },
    Dir { empty: bool },
    Symlink { target: String },
    Fifo,
    Socket,
    CharDevice { rdev: u64 },
    BlockDevice { rdev: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Entry {
    /// An empty regular file or an empty directory (what mount-point stubs look like).
    pub fn is_empty_stub(&self) -> bool {
        matches!(
            self.kind,
            Kind::File { size: 0, .. } | Kind::Dir { empty: true }
        )
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::File { size, sha256 } => {
                format!(
                    "file size={size} sha256={}",
                    sha256.get(..12).unwrap_or(sha256)
                )
            }
            Kind::Dir { .. } => "dir".to_string(),
            Kind::Symlink { target } => format!("symlink -> {target}"),
            Kind::Fifo => "fifo".to_string(),
            Kind::Socket => "socket".to_string(),
            Kind::CharDevice { rdev } => format!("char device {rdev:#x}"),
            Kind::BlockDevice { rdev } => format!("block device {rdev:#x}"),
        };
        write!(
            f,
            "{kind} mode={:04o} owner={}:{}",
            self.mode, self.uid, self.gid
        )
    }
}

/// Path ("/a/b", the root is "/") to entry.
pub type Tree = BTreeMap<String, Entry>;

/// Reads the tree under `root` without following symlinks.
pub fn snapshot(root: &Path) -> Result<Tree> {
    let mut tree = Tree::new();
    for item in walkdir::WalkDir::new(root).follow_links(false) {
        let item = item.with_context(|| format!("walking {}", root.display()))?;
        let rel = item.path().strip_prefix(root).unwrap_or(item.path());
        let path = format!("/{}", rel.display());
        let meta = item.path().symlink_metadata()?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink {
                target: std::fs::read_link(item.path())?.display().to_string(),
            }
        } else if ft.is_dir() {
            Kind::Dir {
                empty: std::fs::read_dir(item.path())?.next().is_none(),
            }
        } else if ft.is_file() {
            Kind::File {
                size: meta.len(),
                sha256: file_sha256(item.path())?,
            }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::CharDevice { rdev: meta.rdev() }
        } else {
            Kind::BlockDevice { rdev: meta.rdev() }
        };
        tree.insert(
            path,
            Entry {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            },
        );
    }
    Ok(tree)
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(h.finalize()))
}
