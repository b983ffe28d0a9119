//! Turning a layer tar's whiteouts into overlayfs's format inside a snapshot layer dir.
//!
//! [`slipway_oci::layer::apply_layer`] applies a layer onto a full tree, where a whiteout
//! deletes. A snapshot layer dir is one layer on its own, so the deletions must stay
//! recorded: `.wh.NAME` becomes a 0/0 character device `NAME` and `.wh..wh..opq` the
//! `trusted.overlay.opaque=y` xattr on its directory. [`scan`] lists them from the tar;
//! [`apply`] records them in the layer dir after the layer was applied.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{mknod, Mode, SFlag};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// A deletion recorded in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whiteout {
    /// The path (relative, no `..`) is deleted.
    Remove(PathBuf),
    /// The directory's lower contents are hidden.
    Opaque(PathBuf),
}

/// Why whiteouts could not be read or recorded.
#[derive(Debug, thiserror::Error)]
pub enum WhiteoutError {
    #[error("reading layer archive: {0}")]
    Read(#[source] std::io::Error),
    #[error("layer entry {entry:?}: {reason}")]
    BadPath { entry: String, reason: &'static str },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The whiteouts of a (compressed or plain) layer tar.
pub fn scan<R: Read>(layer: R) -> Result<Vec<Whiteout>, WhiteoutError> {
    let reader = slipway_oci::layer::decompress(layer).map_err(WhiteoutError::Read)?;
    let mut archive = tar::Archive::new(reader);
    let mut out = Vec::new();
    for entry in archive.entries().map_err(WhiteoutError::Read)? {
        let entry = entry.map_err(WhiteoutError::Read)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let path = clean(&shown)?;
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if name == OPAQUE {
            out.push(Whiteout::Opaque(parent));
        } else if name.starts_with(".wh..wh.") {
            continue;
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            out.push(Whiteout::Remove(parent.join(hidden)));
        }
    }
    Ok(out)
}

fn clean(entry: &str) -> Result<PathBuf, WhiteoutError> {
    let mut out = PathBuf::new();
    for c in Path::new(entry).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(WhiteoutError::BadPath {
                    entry: entry.to_string(),
                    reason: "`..` components are refused",
                })
            }
        }
    }
    Ok(out)
}

/// Records `whiteouts` in the layer dir `root`; `lower` is the merged lower chain's
/// layer dirs (top first), used for the attributes of parent directories this layer does
/// not carry itself.
pub fn apply(root: &Path, whiteouts: &[Whiteout], lower: &[PathBuf]) -> Result<(), WhiteoutError> {
    for w in whiteouts {
        match w {
            Whiteout::Remove(path) => {
                let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                    continue;
                };
                let dir = ensure_dir(root, parent, lower)?;
                let target = dir.join(name);
                if fs::symlink_metadata(&target).is_ok() {
                    continue; // re-created by the same layer
                }
                mknod(&target, SFlag::S_IFCHR, Mode::empty(), 0).map_err(|e| {
                    WhiteoutError::Io {
                        op: "creating whiteout",
                        path: target.clone(),
                        source: e.into(),
                    }
                })?;
            }
            Whiteout::Opaque(dir) => {
                let d = ensure_dir(root, dir, lower)?;
                set_opaque(&d)?;
            }
        }
    }
    Ok(())
}

fn set_opaque(dir: &Path) -> Result<(), WhiteoutError> {
    slipway_fsutil::xattr::set_xattr(dir, "trusted.overlay.opaque", b"y").map_err(|e| {
        WhiteoutError::Io {
            op: "setting trusted.overlay.opaque on",
            path: dir.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        }
    })
}

/// `rel` under `root` as a real directory (never through a symlink), creating missing
/// components with the attributes the lower chain has for them (else root 0755).
fn ensure_dir(root: &Path, rel: &Path, lower: &[PathBuf]) -> Result<PathBuf, WhiteoutError> {
    let mut cur = root.to_path_buf();
    let mut sub = PathBuf::new();
    for c in rel.components() {
        let Component::Normal(n) = c else {
            continue;
        };
        cur.push(n);
        sub.push(n);
        match fs::symlink_metadata(&cur) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(WhiteoutError::BadPath {
                    entry: sub.display().to_string(),
                    reason: "a whiteout's parent is not a directory in its layer",
                })
            }
            Err(_) => {
                let like = lower
                    .iter()
                    .map(|l| l.join(&sub))
                    .find_map(|p| fs::symlink_metadata(p).ok().filter(|m| m.is_dir()));
                fs::create_dir(&cur).map_err(|source| WhiteoutError::Io {
                    op: "creating",
                    path: cur.clone(),
                    source,
                })?;
                if let Some(md) = like {
                    use std::os::unix::fs::PermissionsExt;
                    let _ =
                        fs::set_permissions(&cur, fs::Permissions::from_mode(md.mode() & 0o7777));
                    let _ = std::os::unix::fs::lchown(&cur, Some(md.uid()), Some(md.gid()));
                }
            }
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(names: &[&str]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for n in names {
            let mut h = tar::Header::new_ustar();
            h.set_size(0);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            b.append_data(&mut h, n, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn scans_whiteouts_and_refuses_traversal() {
        let t = tar_with(&["a/b", "a/.wh.c", "./d/.wh..wh..opq", ".wh..wh.plnk"]);
        assert_eq!(
            scan(&t[..]).unwrap(),
            vec![Whiteout::Remove("a/c".into()), Whiteout::Opaque("d".into())]
        );
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../.wh.x\0");
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let t = b.into_inner().unwrap();
        assert!(matches!(scan(&t[..]), Err(WhiteoutError::BadPath { .. })));
    }

    #[test]
    fn records_overlay_whiteouts() {
        if !nix::unistd::geteuid().is_root() {
            return; // mknod of a 0/0 device and trusted.* xattrs need root
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("layer");
        let lower = tmp.path().join("lower");
        fs::create_dir_all(lower.join("x")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(lower.join("x"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::create_dir(&root).unwrap();
        apply(
            &root,
            &[
                Whiteout::Remove("x/gone".into()),
                Whiteout::Opaque("y".into()),
            ],
            &[lower],
        )
        .unwrap();
        let md = fs::symlink_metadata(root.join("x/gone")).unwrap();
        use std::os::unix::fs::FileTypeExt;
        assert!(md.file_type().is_char_device());
        assert_eq!(md.rdev(), 0);
        assert_eq!(fs::metadata(root.join("x")).unwrap().mode() & 0o777, 0o700);
        let xattrs = slipway_fsutil::xattr::read_xattrs(&root.join("y")).unwrap();
        assert_eq!(
            xattrs.get("trusted.overlay.opaque").map(Vec::as_slice),
            Some(&b"y"[..])
        );
    }
}
