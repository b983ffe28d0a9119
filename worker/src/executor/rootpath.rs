//! Paths inside a container root filesystem, resolved on the host without escaping it.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};

use nix::unistd::{chown, Gid, Uid};

use super::{ExecError, Result};

const MAX_SYMLINKS: usize = 255;

/// Resolves the container path `path` inside `root` as the kernel would inside a chroot:
/// `..` stops at the root and symlinks (absolute ones relative to `root`) are followed.
/// Components that do not exist are appended as they are.
pub(crate) fn resolve(root: &Path, path: &str) -> Result<PathBuf> {
    let escape = || ExecError::PathEscape {
        path: path.to_string(),
    };
    let mut todo: Vec<PathBuf> = Path::new(path)
        .components()
        .rev()
        .filter_map(component)
        .collect();
    let mut current: Vec<PathBuf> = Vec::new();
    let mut followed = 0;
    while let Some(part) = todo.pop() {
        if part.as_os_str() == ".." {
            current.pop();
            continue;
        }
        let candidate = root.join(current.iter().collect::<PathBuf>()).join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return Err(escape());
                }
                let target =
                    fs::read_link(&candidate).map_err(ExecError::io("reading link", &candidate))?;
                if target.is_absolute() {
                    current.clear();
                }
                todo.extend(target.components().rev().filter_map(component));
            }
            _ => current.push(part),
        }
    }
    Ok(root.join(current.iter().collect::<PathBuf>()))
}

fn component(c: Component<'_>) -> Option<PathBuf> {
    match c {
        Component::Normal(n) => Some(PathBuf::from(n)),
        Component::ParentDir => Some(PathBuf::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    }
}

/// Creates the directory `path` inside `root` and any missing parents, each new one
/// with mode 0755 owned by `uid:gid`. Existing directories are left as they are.
pub(crate) fn mkdir_all_owned(root: &Path, path: &str, uid: u32, gid: u32) -> Result<()> {
    let target = resolve(root, path)?;
    let rel = target
        .strip_prefix(root)
        .map_err(|_| ExecError::PathEscape {
            path: path.to_string(),
        })?;
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(md) if md.is_dir() => continue,
            Ok(_) => {
                return Err(ExecError::Io {
                    op: "creating directory",
                    path: dir.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "a non-directory is in the way",
                    ),
                })
            }
            Err(_) => {
                fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&dir)
                    .map_err(ExecError::io("creating directory", &dir))?;
                chown(&dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
                    .map_err(|e| ExecError::io("chown", &dir)(e.into()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, MetadataExt};

    #[test]
    fn symlinks_and_dotdot_stay_inside_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("real/sub")).unwrap();
        symlink("/real", root.join("abs")).unwrap();
        symlink("../../../real", root.join("real/up")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve(root, "/abs/sub").unwrap(), root.join("real/sub"));
        assert_eq!(
            resolve(root, "/../../etc/passwd").unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(
            resolve(root, "/real/up/sub/x").unwrap(),
            root.join("real/sub/x")
        );
        assert!(matches!(
            resolve(root, "/loop/x"),
            Err(ExecError::PathEscape { .. })
        ));
    }

    #[test]
    fn mkdir_creates_missing_with_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("existing")).unwrap();
        mkdir_all_owned(root, "/existing/a/b", 1000, 1001).unwrap();
        let md = fs::metadata(root.join("existing/a/b")).unwrap();
        assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (1000, 1001, 0o755));
        assert_eq!(
            fs::metadata(root.join("existing")).unwrap().uid(),
            nix::unistd::getuid().as_raw()
        );
    }
}
