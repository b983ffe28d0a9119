//! Unpacking a build context tar into a directory, refusing entries that would land
//! outside it (manifest contexts are materialized by `context`, with the errors here).
//!
//! The tar comes from a client over the data plane, so it is hostile input: an absolute
//! path, a `..` component, a hard link to a path outside the directory, a device node or a
//! FIFO is an error naming the entry (never a silent skip). Writing through a symlink that
//! an earlier entry created is refused by the tar crate's `unpack_in`, which resolves each
//! entry's parent directory and checks that it stays inside the destination. Plain and
//! gzip-compressed tars are accepted (gzip is recognised by its magic bytes).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Why a context tar could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("context entry {entry:?}: {reason}")]
    Refused { entry: String, reason: &'static str },
    #[error("context tar entry {entry:?}: {source}")]
    Entry {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] slipway_fsutil::context::ManifestError),
    #[error("context blob digest {digest:?} is not a sha256 digest")]
    BadDigest { digest: String },
    #[error("{path}: larger than {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("the context task failed: {0}")]
    Task(String),
}

/// What was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnpackReport {
    pub entries: u64,
    pub bytes: u64,
}

/// Unpacks the tar (optionally gzip-compressed) at `tar_path` into `dest`, which must exist.
/// Blocking.
pub fn unpack_context(tar_path: &Path, dest: &Path) -> Result<UnpackReport, UnpackError> {
    let io = |op: &'static str| {
        let path = tar_path.to_path_buf();
        move |source| UnpackError::Io { op, path, source }
    };
    let mut file = File::open(tar_path).map_err(io("opening"))?;
    let mut magic = [0u8; 2];
    let n = read_up_to(&mut file, &mut magic).map_err(io("reading"))?;
    file.seek(SeekFrom::Start(0)).map_err(io("reading"))?;
    let reader = BufReader::new(file);
    if n == 2 && magic == [0x1f, 0x8b] {
        unpack_reader(flate2::read::GzDecoder::new(reader), dest)
    } else {
        unpack_reader(reader, dest)
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Unpacks a plain tar stream into `dest`. Blocking.
pub fn unpack_reader(reader: impl Read, dest: &Path) -> Result<UnpackReport, UnpackError> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    let mut report = UnpackReport::default();
    let entries = archive.entries().map_err(|source| UnpackError::Io {
        op: "reading",
        path: dest.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let mut entry = entry.map_err(|source| UnpackError::Entry {
            entry: format!("#{}", report.entries + 1),
            source,
        })?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refused = |reason| UnpackError::Refused {
            entry: name.clone(),
            reason,
        };
        let path = entry.path().map_err(|source| UnpackError::Entry {
            entry: name.clone(),
            source,
        })?;
        check_relative(&path).map_err(refused)?;
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(refused(
                "device nodes and FIFOs are not allowed in a build context",
            ));
        }
        if kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|source| UnpackError::Entry {
                    entry: name.clone(),
                    source,
                })?
                .ok_or_else(|| refused("hard link without a target"))?;
            check_relative(&target).map_err(|r| refused(hard_link_reason(r)))?;
        }
        report.bytes += entry.header().size().unwrap_or(0);
        let unpacked = entry.unpack_in(dest).map_err(|source| UnpackError::Entry {
            entry: name.clone(),
            source,
        })?;
        if !unpacked {
            return Err(refused("the tar crate refused to unpack it"));
        }
        report.entries += 1;
    }
    Ok(report)
}

/// A path inside the destination: no root, no prefix, no `..`.
fn check_relative(path: &Path) -> Result<(), &'static str> {
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed")
            }
            Component::ParentDir => return Err("'..' components are not allowed"),
        }
    }
    Ok(())
}

fn hard_link_reason(r: &'static str) -> &'static str {
    if r.starts_with("absolute") {
        "hard link to an absolute path is not allowed"
    } else {
        "hard link target with '..' is not allowed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A tar with one raw header per entry, so that hostile names (which the tar
    /// crate's builder refuses) can be written.
    fn raw_tar(entries: &[(&str, tar::EntryType, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, link, data) in entries {
            let mut h = tar::Header::new_old();
            {
                let bytes = h.as_old_mut();
                bytes.name[..name.len()].copy_from_slice(name.as_bytes());
                if let Some(l) = link {
                    bytes.linkname[..l.len()].copy_from_slice(l.as_bytes());
                }
            }
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            let pad = (512 - data.len() % 512) % 512;
            out.extend(std::iter::repeat_n(0u8, pad));
        }
        out.extend(std::iter::repeat_n(0u8, 1024));
        out
    }

    fn unpack(tar: &[u8]) -> (tempfile::TempDir, Result<UnpackReport, UnpackError>) {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("ctx");
        std::fs::create_dir(&dest).unwrap();
        let r = unpack_reader(tar, &dest);
        (root, r)
    }

    #[test]
    fn unpacks_files_dirs_and_symlinks() {
        let tar = raw_tar(&[
            (
                "Dockerfile",
                tar::EntryType::Regular,
                None,
                b"FROM scratch\n",
            ),
            ("src/", tar::EntryType::Directory, None, b""),
            ("src/a.txt", tar::EntryType::Regular, None, b"a"),
            ("./b.txt", tar::EntryType::Regular, None, b"bb"),
            (
                "abs-link",
                tar::EntryType::Symlink,
                Some("/etc/passwd"),
                b"",
            ),
            ("hard", tar::EntryType::Link, Some("src/a.txt"), b""),
        ]);
        let (root, r) = unpack(&tar);
        let report = r.unwrap();
        assert_eq!(report.entries, 6);
        let ctx = root.path().join("ctx");
        assert_eq!(std::fs::read(ctx.join("src/a.txt")).unwrap(), b"a");
        assert_eq!(std::fs::read(ctx.join("b.txt")).unwrap(), b"bb");
        assert_eq!(std::fs::read(ctx.join("hard")).unwrap(), b"a");
        // a symlink may point anywhere: it is stored, not followed
        assert_eq!(
            std::fs::read_link(ctx.join("abs-link")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
    }

    #[test]
    fn refuses_absolute_and_parent_paths() {
        for name in ["/etc/evil", "../evil", "a/../../evil", "a/.."] {
            let tar = raw_tar(&[(name, tar::EntryType::Regular, None, b"x")]);
            let (root, r) = unpack(&tar);
            let err = r.unwrap_err();
            assert!(
                matches!(&err, UnpackError::Refused { entry, .. } if entry == name),
                "{name}: {err}"
            );
            assert!(!root.path().join("evil").exists());
        }
    }

    #[test]
    fn refuses_hard_links_leaving_the_dir() {
        for target in ["/etc/passwd", "../outside"] {
            let tar = raw_tar(&[("h", tar::EntryType::Link, Some(target), b"")]);
            let (_root, r) = unpack(&tar);
            let err = r.unwrap_err().to_string();
            assert!(err.contains("hard link"), "{target}: {err}");
        }
    }

    #[test]
    fn refuses_writing_through_a_symlink() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let ctx = root.path().join("ctx");
        std::fs::create_dir(&ctx).unwrap();
        let target = outside.to_str().unwrap();
        let tar = raw_tar(&[
            ("link", tar::EntryType::Symlink, Some(target), b""),
            ("link/evil", tar::EntryType::Regular, None, b"x"),
        ]);
        let err = unpack_reader(&tar[..], &ctx).unwrap_err();
        assert!(err.to_string().contains("link/evil"), "{err}");
        assert!(!outside.join("evil").exists());
    }

    #[test]
    fn refuses_devices_and_fifos() {
        for kind in [
            tar::EntryType::Char,
            tar::EntryType::Block,
            tar::EntryType::Fifo,
        ] {
            let tar = raw_tar(&[("dev", kind, None, b"")]);
            let (_root, r) = unpack(&tar);
            assert!(matches!(r, Err(UnpackError::Refused { .. })), "{kind:?}");
        }
    }

    #[test]
    fn truncated_tar_is_an_error() {
        let tar = raw_tar(&[("f", tar::EntryType::Regular, None, &[7u8; 2000])]);
        let (_root, r) = unpack(&tar[..1024]);
        assert!(r.is_err());
    }

    #[test]
    fn gzip_is_recognised() {
        let tar = raw_tar(&[("f.txt", tar::EntryType::Regular, None, b"zipped")]);
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("ctx.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap();
        let dest = root.path().join("ctx");
        std::fs::create_dir(&dest).unwrap();
        assert_eq!(unpack_context(&path, &dest).unwrap().entries, 1);
        assert_eq!(std::fs::read(dest.join("f.txt")).unwrap(), b"zipped");
    }
}
