use std::fs;
use std::path::Path;

use super::overlay::{mount_overlay, unmount, OverlayOptions};
use super::{Result, SnapshotError};

/// Checks that overlayfs can be mounted with upper and work dirs inside `dir` (the
/// filesystem the snapshots live on matters: e.g. overlayfs cannot be an upper layer of
/// another overlayfs) and that a write through the mount lands in the upper dir.
pub fn probe_overlay(dir: &Path) -> Result<()> {
    let unavailable = |reason: String| SnapshotError::OverlayUnavailable {
        dir: dir.to_path_buf(),
        reason,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".overlay-probe-")
        .tempdir_in(dir)
        .map_err(|e| unavailable(format!("creating a probe dir: {e}")))?;
    let [lower, upper, work, merged] = ["l", "u", "w", "m"].map(|n| tmp.path().join(n));
    for d in [&lower, &upper, &work, &merged] {
        fs::create_dir(d).map_err(|e| unavailable(format!("creating {}: {e}", d.display())))?;
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    mount_overlay(&OverlayOptions::Absolute(data), &merged)
        .map_err(|e| unavailable(e.to_string()))?;
    let write = fs::write(merged.join("probe"), b"ok");
    let unmounted = unmount(&merged);
    write.map_err(|e| unavailable(format!("writing through the mount: {e}")))?;
    unmounted.map_err(|e| unavailable(e.to_string()))?;
    if !upper.join("probe").is_file() {
        return Err(unavailable(
            "a write through the mount did not reach the upper dir".into(),
        ));
    }
    Ok(())
}

/// Name of the file remembering a successful probe, in the snapshotter's root.
const STAMP: &str = "overlay-probe-ok";

/// As [`probe_overlay`], but a success is remembered in `dir/overlay-probe-ok` for this
/// filesystem (device id) and this boot of the kernel (its boot id), so that opening the
/// snapshotter again — every `slipway build` in embedded mode — skips the mount, the write
/// and the unmount (the unmount of an overlay syncs it: tens of ms on a busy disk). A failed
/// probe is not remembered; a different filesystem or a reboot probes again.
pub fn probe_overlay_cached(dir: &Path) -> Result<()> {
    let stamp = dir.join(STAMP);
    let key = probe_key(dir);
    if let Some(k) = &key {
        if fs::read_to_string(&stamp).ok().as_deref() == Some(k.as_str()) {
            return Ok(());
        }
    }
    probe_overlay(dir)?;
    if let Some(k) = key {
        // Best effort: without the stamp the next open simply probes again.
        let tmp = dir.join(format!("{STAMP}.tmp"));
        if fs::write(&tmp, k).is_ok() && fs::rename(&tmp, &stamp).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }
    Ok(())
}

/// `dev=<st_dev> boot=<boot id>`; `None` when either is unknown (then nothing is cached).
fn probe_key(dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let dev = fs::metadata(dir).ok()?.dev();
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let boot = boot.trim();
    (!boot.is_empty()).then(|| format!("dev={dev} boot={boot}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_is_remembered_for_this_filesystem_and_boot() {
        let dir = tempfile::tempdir().unwrap();
        let Some(key) = probe_key(dir.path()) else {
            return; // no boot id on this system: nothing to cache
        };
        // A stamp for another filesystem or boot is not trusted: the real probe runs (and,
        // where overlayfs cannot be mounted, fails as before).
        fs::write(dir.path().join(STAMP), "dev=0 boot=other").unwrap();
        let real = probe_overlay(dir.path());
        let cached = probe_overlay_cached(dir.path());
        assert_eq!(real.is_ok(), cached.is_ok());
        match real {
            Ok(()) => assert_eq!(fs::read_to_string(dir.path().join(STAMP)).unwrap(), key),
            Err(_) => assert_eq!(
                fs::read_to_string(dir.path().join(STAMP)).unwrap(),
                "dev=0 boot=other"
            ),
        }
        // A matching stamp is trusted without mounting.
        fs::write(dir.path().join(STAMP), &key).unwrap();
        probe_overlay_cached(dir.path()).unwrap();
        assert!(fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".overlay-probe-")));
    }
}
