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
