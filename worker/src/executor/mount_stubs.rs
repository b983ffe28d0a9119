//! Mount points that the runtime had to create in the root filesystem (e.g. `/etc/hosts`
//! in an image without one) are removed after the run, so they do not end up in the
//! step's diff. The parent directory's times are restored too (its mtime changed when
//! the stub was created in it), as BuildKit does.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use super::rootpath::resolve;
use super::Result;

/// The first missing path component of each mount destination, as host paths, with the
/// times of its parent directory before the run.
#[derive(Debug, Default)]
pub(crate) struct MountStubs(Vec<Stub>);

#[derive(Debug, PartialEq, Eq)]
struct Stub {
    path: PathBuf,
    parent_times: Option<(TimeSpec, TimeSpec)>,
}

impl MountStubs {
    pub(crate) fn record(rootfs: &Path, destinations: &[String]) -> Result<MountStubs> {
        let mut out = Vec::new();
        for dest in destinations {
            let host = resolve(rootfs, dest)?;
            let mut first_missing = None;
            let mut p = host.as_path();
            while p.starts_with(rootfs) && p != rootfs {
                if fs::symlink_metadata(p).is_ok() {
                    break;
                }
                first_missing = Some(p.to_path_buf());
                match p.parent() {
                    Some(parent) => p = parent,
                    None => break,
                }
            }
            if let Some(m) = first_missing {
                if !out.iter().any(|s: &Stub| s.path == m) {
                    let parent_times =
                        m.parent()
                            .and_then(|p| fs::symlink_metadata(p).ok())
                            .map(|md| {
                                (
                                    TimeSpec::new(md.atime(), md.atime_nsec()),
                                    TimeSpec::new(md.mtime(), md.mtime_nsec()),
                                )
                            });
                    out.push(Stub {
                        path: m,
                        parent_times,
                    });
                }
            }
        }
        Ok(MountStubs(out))
    }

    /// Removes each recorded path that is still only a stub: an empty file, or a directory
    /// holding nothing but stubs. Anything with content is left alone.
    pub(crate) fn remove(&self) {
        for stub in &self.0 {
            let p = &stub.path;
            if !is_stub(p) {
                continue;
            }
            let r = if p.is_dir() {
                fs::remove_dir_all(p)
            } else {
                fs::remove_file(p)
            };
            if let Err(e) = r {
                tracing::warn!(path = %p.display(), error = %e, "removing a mount stub");
                continue;
            }
            if let (Some(parent), Some((atime, mtime))) = (p.parent(), &stub.parent_times) {
                if let Err(e) = utimensat(
                    AT_FDCWD,
                    parent,
                    atime,
                    mtime,
                    UtimensatFlags::NoFollowSymlink,
                ) {
                    tracing::warn!(path = %parent.display(), error = %e, "restoring times");
                }
            }
        }
    }
}

fn is_stub(p: &Path) -> bool {
    match fs::symlink_metadata(p) {
        Ok(md) if md.is_file() => md.len() == 0,
        Ok(md) if md.is_dir() => fs::read_dir(p)
            .map(|rd| rd.filter_map(|e| e.ok()).all(|e| is_stub(&e.path())))
            .unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_created_stubs_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "x").unwrap();
        let dests = ["/etc/hosts", "/etc/resolv.conf", "/cache/a", "/data"].map(String::from);
        let stubs = MountStubs::record(root, &dests).unwrap();
        let paths: Vec<_> = stubs.0.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                root.join("etc/resolv.conf"),
                root.join("cache"),
                root.join("data")
            ]
        );
        let mtime = |p: &Path| {
            fs::metadata(p)
                .map(|m| (m.mtime(), m.mtime_nsec()))
                .unwrap()
        };
        let etc_mtime = mtime(&root.join("etc"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(root.join("etc/resolv.conf"), "").unwrap();
        fs::create_dir_all(root.join("cache/a")).unwrap();
        fs::create_dir(root.join("data")).unwrap();
        fs::write(root.join("data/kept"), "content").unwrap();
        stubs.remove();
        assert!(!root.join("etc/resolv.conf").exists());
        assert!(!root.join("cache").exists());
        assert!(root.join("data/kept").exists());
        assert!(root.join("etc/hosts").exists());
        assert_eq!(mtime(&root.join("etc")), etc_mtime);
    }
}
