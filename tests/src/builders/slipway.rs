//! The `slipway` binary under test.

use super::BuildRequest;
use crate::process::run;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Slipway {
    bin: PathBuf,
    registry: String,
    /// A private data directory (`--data-dir`) for this test run.
    data: tempfile::TempDir,
}

impl Slipway {
    /// Uses `$SLIPWAY_BIN` if set, else builds `slipway` with cargo into the workspace's target
    /// directory (a no-op when `cargo test --workspace` already built it).
    pub fn locate(registry: &str) -> Result<Self> {
        let bin = match std::env::var_os("SLIPWAY_BIN") {
            Some(b) => PathBuf::from(b),
            None => {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                run(Command::new(cargo)
                    .current_dir(crate::workspace_root())
                    .env("CARGO_TARGET_DIR", crate::target_dir())
                    .args(["build", "-q", "-p", "slipway-cli", "--bin", "slipway"]))
                .context("building the slipway binary")?;
                crate::target_dir().join("debug/slipway")
            }
        };
        if !bin.is_file() {
            bail!("slipway binary {} does not exist", bin.display());
        }
        let data = tempfile::Builder::new()
            .prefix("slipway-e2e-data")
            .tempdir()?;
        Ok(Slipway {
            bin,
            registry: registry.to_string(),
            data,
        })
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `slipway build ... --push CONTEXT`: the image goes to the registry under `req.tag`.
    pub fn build_push(&self, req: &BuildRequest) -> Result<()> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("build")
            .args(["--progress", "plain"])
            .arg("--data-dir")
            .arg(self.data.path())
            .args(req.common_flags())
            .arg("--push")
            .arg(&req.context);
        run(&mut cmd).map(|_| ())
    }

    /// Copies the pushed `tag` into the OCI layout `layout:reference` (host platform).
    pub fn export(&self, tag: &str, layout: &Path, reference: &str) -> Result<()> {
        skopeo_from_registry(tag, layout, reference)
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }
}

/// `skopeo copy docker://TAG oci:LAYOUT:REF` from a plain-http loopback registry.
pub fn skopeo_from_registry(tag: &str, layout: &Path, reference: &str) -> Result<()> {
    run(Command::new("skopeo").args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{tag}"),
        &format!("oci:{}:{reference}", layout.display()),
    ]))
    .map(|_| ())
}
