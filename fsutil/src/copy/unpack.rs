//! `ADD` of a local tar archive (plain, gzip, bzip2, xz or zstd, detected by magic bytes):
//! extracted into the destination as moby's chrooted untar does. Every entry is resolved
//! inside the extraction directory (absolute names and symlinks are taken relative to it);
//! entries whose name, hardlink or relative symlink target climbs out with `..` are refused.

use super::meta::{set_mode, set_owner, set_times, Owner};
use super::ApplyOptions;
use crate::error::{FsError, IoContext};
use crate::pathclean::clean;
use crate::root::{resolve_rel, FollowFinal};
use crate::xattr::set_xattr;
use nix::sys::stat::{mknod, Mode, SFlag};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn open_decompressed(path: &Path) -> std::io::Result<Box<dyn Read>> {
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 6];
    let mut n = 0;
    while n < head.len() {
        let got = f.read(head.get_mut(n..).unwrap_or(&mut []))?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let kind = detect(head.get(..n).unwrap_or(&[]));
    let f = BufReader::new(std::io::Cursor::new(head[..n].to_vec()).chain(f));
    Ok(match kind {
        Compression::None => Box::new(f),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(f)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(f)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(f)?),
    })
}

/// True if `path` is a regular file whose (decompressed) content starts with a valid tar
/// header (BuildKit's `isArchivePath`).
pub(crate) fn is_archive(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.file_type().is_file() {
        return false;
    }
    let Ok(reader) = open_decompressed(path) else {
        return false;
    };
    let mut archive = tar::Archive::new(reader);
    let Ok(mut entries) = archive.entries() else {
        return false;
    };
    matches!(entries.next(), Some(Ok(_)))
}

/// Extracts the archive at `archive_path` into `root` (the extraction directory, which
/// must exist). Entry mtimes are clamped to `clamp_mtime` when given.
pub(crate) fn extract(
    archive_path: &Path,
    root: &Path,
    clamp_mtime: Option<i64>,
    opts: &ApplyOptions,
) -> Result<(), FsError> {
    let arch_err = |source: std::io::Error| FsError::Archive {
        archive: archive_path.to_path_buf(),
        source,
    };
    let reader = open_decompressed(archive_path).map_err(arch_err)?;
    let mut archive = tar::Archive::new(reader);
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    for entry in archive.entries().map_err(arch_err)? {
        let mut entry = entry.map_err(arch_err)?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let unsafe_entry = |reason: &'static str| FsError::UnsafeArchiveEntry {
            archive: archive_path.to_path_buf(),
            entry: raw_name.clone(),
            reason,
        };
        let name = clean(raw_name.trim_start_matches('/'));
        if name == "." {
            continue;
        }
        if name == ".." || name.starts_with("../") {
            return Err(unsafe_entry("path climbs out of the destination"));
        }
        let (parent, base) = name.rsplit_once('/').unwrap_or(("", name.as_str()));
        let parent_rel = resolve_rel(root, parent, FollowFinal::Follow)?;
        super::meta::mkdir_all(root, &parent_rel, 0o755, None, None, opts)?;
        let rel = if parent_rel.is_empty() {
            base.to_string()
        } else {
            format!("{parent_rel}/{base}")
        };
        let target = root.join(&rel);
        let header = entry.header().clone();
        let kind = header.entry_type();
        let is_dir = kind.is_dir();
        if let Ok(existing) = std::fs::symlink_metadata(&target) {
            if !(existing.is_dir() && is_dir) {
                if existing.is_dir() {
                    std::fs::remove_dir_all(&target).ctx("removing existing directory", &target)?;
                } else {
                    std::fs::remove_file(&target).ctx("removing existing file", &target)?;
                }
            }
        }
        let mode = header.mode().map_err(arch_err)? & 0o7777;
        match kind {
            tar::EntryType::Directory => {
                if !target.is_dir() {
                    std::fs::create_dir(&target).ctx("mkdir", &target)?;
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&target)
                    .ctx("creating file", &target)?;
                std::io::copy(&mut entry, &mut out).map_err(arch_err)?;
            }
            tar::EntryType::Symlink => {
                let link =
                    link_name(&entry).ok_or_else(|| unsafe_entry("symlink without target"))?;
                if !link.starts_with('/') {
                    let joined = if parent.is_empty() {
                        clean(&link)
                    } else {
                        clean(&format!("{parent}/{link}"))
                    };
                    if joined == ".." || joined.starts_with("../") {
                        return Err(unsafe_entry("symlink target climbs out of the destination"));
                    }
                }
                std::os::unix::fs::symlink(&link, &target).ctx("creating symlink", &target)?;
            }
            tar::EntryType::Link => {
                let link =
                    link_name(&entry).ok_or_else(|| unsafe_entry("hardlink without target"))?;
                let link = clean(link.trim_start_matches('/'));
                if link == ".." || link.starts_with("../") {
                    return Err(unsafe_entry(
                        "hardlink target climbs out of the destination",
                    ));
                }
                let src_rel = resolve_rel(root, &link, FollowFinal::NoFollow)?;
                std::fs::hard_link(root.join(src_rel), &target)
                    .ctx("creating hard link", &target)?;
            }
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                let flag = match kind {
                    tar::EntryType::Fifo => SFlag::S_IFIFO,
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    _ => SFlag::S_IFBLK,
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let dev = nix::sys::stat::makedev(u64::from(major), u64::from(minor));
                mknod(&target, flag, Mode::from_bits_truncate(mode), dev)
                    .ctx("creating device node", &target)?;
            }
            // PAX/GNU metadata records and unknown kinds carry no file.
            _ => continue,
        }
        let uid = header.uid().map_err(arch_err)?;
        let gid = header.gid().map_err(arch_err)?;
        if let (Ok(uid), Ok(gid)) = (u32::try_from(uid), u32::try_from(gid)) {
            set_owner(&target, Owner { uid, gid }, opts)?;
        }
        if kind != tar::EntryType::Symlink {
            set_mode(&target, mode)?;
        }
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                if let (Ok(key), value) = (ext.key(), ext.value_bytes()) {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                        // Best effort, like BuildKit's BestEffortXattrs.
                        let _ = set_xattr(&target, name, value);
                    }
                }
            }
        }
        let mut mtime = i64::try_from(header.mtime().map_err(arch_err)?).unwrap_or(i64::MAX);
        if let Some(c) = clamp_mtime {
            mtime = mtime.min(c);
        }
        if is_dir {
            dir_times.push((target, mtime));
        } else {
            set_times(&target, (mtime, 0), (mtime, 0))?;
        }
    }
    for (dir, mtime) in dir_times.into_iter().rev() {
        set_times(&dir, (mtime, 0), (mtime, 0))?;
    }
    Ok(())
}

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Option<String> {
    entry
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_detection() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(detect(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Compression::Xz);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(detect(b"hello"), Compression::None);
    }

    #[test]
    fn text_file_is_not_an_archive() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tar");
        std::fs::write(&p, b"just text, not a tar header at all").unwrap();
        assert!(!is_archive(&p));
        std::fs::write(&p, b"").unwrap();
        assert!(!is_archive(&p));
    }
}
