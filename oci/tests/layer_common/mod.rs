//! Helpers shared by the layer tests: raw tar building (including names the `tar` crate's
//! safe setters refuse) and tree snapshots for comparisons.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One raw tar entry.
pub struct Raw {
    pub name: Vec<u8>,
    pub kind: tar::EntryType,
    pub link: Vec<u8>,
    pub data: Vec<u8>,
    /// The size written in the header (may lie about `data`).
    pub size: Option<u64>,
    pub mode: u32,
}

impl Raw {
    pub fn file(name: &str, data: &[u8]) -> Raw {
        Raw {
            name: name.into(),
            kind: tar::EntryType::Regular,
            link: vec![],
            data: data.into(),
            size: None,
            mode: 0o644,
        }
    }
    pub fn dir(name: &str) -> Raw {
        Raw {
            name: name.into(),
            kind: tar::EntryType::Directory,
            link: vec![],
            data: vec![],
            size: None,
            mode: 0o755,
        }
    }
    pub fn symlink(name: &str, target: &str) -> Raw {
        Raw {
            name: name.into(),
            kind: tar::EntryType::Symlink,
            link: target.into(),
            data: vec![],
            size: None,
            mode: 0o777,
        }
    }
    pub fn hardlink(name: &str, target: &str) -> Raw {
        Raw {
            name: name.into(),
            kind: tar::EntryType::Link,
            link: target.into(),
            data: vec![],
            size: None,
            mode: 0o644,
        }
    }
    pub fn char_dev(name: &str, major: u32, minor: u32) -> Raw {
        let mut r = Raw {
            name: name.into(),
            kind: tar::EntryType::Char,
            link: vec![],
            data: vec![],
            size: None,
            mode: 0o666,
        };
        r.link = format!("{major}:{minor}").into_bytes();
        r
    }
}

/// Builds a tar with raw header fields. `finish` false leaves the stream without padding and
/// end-of-archive blocks (for truncation tests).
pub fn raw_tar(entries: &[Raw], finish: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_ustar();
        {
            let old = h.as_old_mut();
            old.name[..e.name.len()].copy_from_slice(&e.name);
        }
        h.set_entry_type(e.kind);
        h.set_mode(e.mode);
        h.set_mtime(1_000_000);
        h.set_uid(0);
        h.set_gid(0);
        if e.kind == tar::EntryType::Char {
            let s = String::from_utf8(e.link.clone()).unwrap();
            let (a, b) = s.split_once(':').unwrap();
            h.set_device_major(a.parse().unwrap()).unwrap();
            h.set_device_minor(b.parse().unwrap()).unwrap();
        } else if !e.link.is_empty() {
            let old = h.as_old_mut();
            old.linkname[..e.link.len()].copy_from_slice(&e.link);
        }
        h.set_size(e.size.unwrap_or(e.data.len() as u64));
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&e.data);
        if finish {
            let pad = (512 - e.data.len() % 512) % 512;
            out.extend(std::iter::repeat_n(0u8, pad));
        }
    }
    if finish {
        out.extend(std::iter::repeat_n(0u8, 1024));
    }
    out
}

/// What a tree looks like: path -> (kind, mode, uid, gid, mtime, content/target, xattrs).
pub type Snapshot = BTreeMap<String, String>;

pub fn snapshot(root: &Path, with_dir_mtimes: bool) -> Snapshot {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let md = std::fs::symlink_metadata(e.path()).unwrap();
        let ft = md.file_type();
        let what = if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_file() {
            format!(
                "file:{}",
                hex::encode(sha2_digest(&std::fs::read(e.path()).unwrap()))
            )
        } else if ft.is_symlink() {
            format!("link:{}", std::fs::read_link(e.path()).unwrap().display())
        } else if ft.is_char_device() {
            format!("char:{}", md.rdev())
        } else if ft.is_fifo() {
            "fifo".into()
        } else {
            "other".into()
        };
        let mtime = if ft.is_dir() && !with_dir_mtimes {
            0
        } else {
            md.mtime()
        };
        let xattrs = xattrs(root, &rel);
        let mode = if ft.is_symlink() {
            0
        } else {
            md.mode() & 0o7777
        };
        out.insert(
            rel,
            format!(
                "{what} mode={mode:o} {}:{} mtime={mtime} nlink={} xattrs={xattrs:?}",
                md.uid(),
                md.gid(),
                if ft.is_file() { md.nlink() } else { 0 }
            ),
        );
    }
    out
}

fn sha2_digest(b: &[u8]) -> Vec<u8> {
    slipway_oci::Digest::of(b).as_bytes().to_vec()
}

fn xattrs(root: &Path, rel: &str) -> Vec<String> {
    let e = slipway_oci::layer::FsEntry::from_disk(root, Path::new(rel)).unwrap();
    e.xattrs
        .iter()
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect()
}
