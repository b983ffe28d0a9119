//! Unpacking an image from an OCI layout: `umoci unpack` for the root filesystem and the raw
//! config blob (`skopeo inspect --config --raw`, which keeps Docker-only fields).

use crate::process::{run, run_stdout};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Unpacked {
    pub rootfs: PathBuf,
    /// The image config's `config` object (Env, Cmd, ...); `Null` when absent.
    pub config: Value,
}

/// Unpacks `layout:reference` into `bundle` (which must not exist).
pub fn unpack(layout: &Path, reference: &str, bundle: &Path) -> Result<Unpacked> {
    let image = format!("{}:{reference}", layout.display());
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(bundle))?;
    let raw = run_stdout(Command::new("skopeo").args([
        "inspect",
        "--config",
        "--raw",
        &format!("oci:{image}"),
    ]))?;
    let blob: Value =
        serde_json::from_str(&raw).with_context(|| format!("config of {image} is not JSON"))?;
    Ok(Unpacked {
        rootfs: bundle.join("rootfs"),
        config: blob.get("config").cloned().unwrap_or(Value::Null),
    })
}
