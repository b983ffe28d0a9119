//! Mount points leave no trace in a RUN layer: the executor removes the stubs it created
//! for mount targets and restores their parents' times, but overlayfs has by then copied
//! those parents up into the upper dir. Such a copy-up is pruned when it is empty, not
//! opaque, and matches the lower directory (mode, owner, mtime) exactly.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Prunes the copied-up, unchanged directories on the way to each of `targets` (absolute
/// container paths) from `upper`; `lower` is the base chain's layer dirs, top first.
pub(crate) fn prune_mount_parents(upper: &Path, targets: &[String], lower: &[PathBuf]) {
    for target in targets {
        let mut rel = PathBuf::new();
        let mut chain = Vec::new();
        for c in Path::new(target).components() {
            match c {
                Component::Normal(n) => {
                    rel.push(n);
                    chain.push(rel.clone());
                }
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    chain.clear();
                    break;
                }
            }
        }
        for p in chain.iter().rev() {
            if fs::symlink_metadata(upper.join(p)).is_err() {
                continue; // not in the upper dir (the stub is gone already)
            }
            if !prunable(upper, p, lower) {
                break;
            }
            // Removing an entry bumps its parent's mtime, which would make the parent
            // differ from the lower dir; put the parent's times back afterwards.
            let parent = p.parent().map(|pp| upper.join(pp));
            let parent_times = parent.as_ref().and_then(|pp| fs::symlink_metadata(pp).ok());
            if let Err(e) = fs::remove_dir(upper.join(p)) {
                tracing::warn!(path = %p.display(), error = %e, "pruning a mount point's parent");
                break;
            }
            if let (Some(pp), Some(md)) = (parent, parent_times) {
                restore_times(&pp, &md);
            }
        }
    }
}

fn restore_times(path: &Path, md: &fs::Metadata) {
    let atime = nix::sys::time::TimeSpec::new(md.atime(), md.atime_nsec());
    let mtime = nix::sys::time::TimeSpec::new(md.mtime(), md.mtime_nsec());
    if let Err(e) = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &atime,
        &mtime,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    ) {
        tracing::warn!(path = %path.display(), error = %e, "restoring a pruned dir's parent times");
    }
}

fn prunable(upper: &Path, rel: &Path, lower: &[PathBuf]) -> bool {
    let up = upper.join(rel);
    let Ok(md) = fs::symlink_metadata(&up) else {
        return false;
    };
    if !md.is_dir() || fs::read_dir(&up).map_or(true, |mut d| d.next().is_some()) {
        return false;
    }
    let opaque = slipway_fsutil::xattr::read_xattrs(&up)
        .map(|x| x.contains_key("trusted.overlay.opaque"))
        .unwrap_or(true);
    if opaque {
        return false;
    }
    let Some(low) = lower
        .iter()
        .find_map(|l| fs::symlink_metadata(l.join(rel)).ok())
    else {
        return false; // new in this step
    };
    low.is_dir()
        && low.mode() == md.mode()
        && low.uid() == md.uid()
        && low.gid() == md.gid()
        && low.mtime() == md.mtime()
        && low.mtime_nsec() == md.mtime_nsec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn prunes_only_unchanged_empty_copies() {
        let tmp = tempfile::tempdir().unwrap();
        let (upper, lower) = (tmp.path().join("upper"), tmp.path().join("lower"));
        for d in ["run/a", "etc", "new", "changed"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        fs::create_dir_all(upper.join("run/a")).unwrap();
        fs::create_dir_all(upper.join("etc/x")).unwrap();
        fs::create_dir_all(upper.join("brand-new")).unwrap();
        fs::create_dir_all(upper.join("changed")).unwrap();
        fs::set_permissions(upper.join("changed"), fs::Permissions::from_mode(0o700)).unwrap();
        // Make the copies look like overlay copy-ups: same times as below, and those
        // in the past so that any change made now shows (a removal inside `run` must
        // not leave `run` looking changed).
        let past = nix::sys::time::TimeSpec::new(1_000_000_000, 123);
        for d in ["run", "run/a", "changed"] {
            for root in [&lower, &upper] {
                nix::sys::stat::utimensat(
                    nix::fcntl::AT_FDCWD,
                    &root.join(d),
                    &past,
                    &past,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .unwrap();
            }
        }
        let targets = ["/run/a/secret", "/etc/x/y", "/brand-new/m", "/changed/m"].map(String::from);
        prune_mount_parents(&upper, &targets, &[lower]);
        assert!(!upper.join("run").exists(), "unchanged copy-ups are pruned");
        assert!(upper.join("etc/x").exists(), "content is kept");
        assert!(upper.join("brand-new").exists(), "new dirs are kept");
        assert!(upper.join("changed").exists(), "changed dirs are kept");
    }
}
