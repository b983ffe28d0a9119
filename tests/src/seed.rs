//! The starting point of most end-to-end tests: a registry with the busybox base image.

use anyhow::{Context, Result};
use std::process::Command;

use crate::builders::slipway::Slipway;
use crate::process::run;
use crate::registry::Registry;

/// A `docker-registry` on a free loopback port holding the busybox base image, built and
/// pushed by slipway itself (scripts/seed-base-images.sh), and the slipway binary under test.
pub fn registry_with_base() -> Result<(Registry, Slipway)> {
    let registry = Registry::start().context("starting docker-registry")?;
    let slipway = Slipway::locate(registry.addr()).context("locating slipway")?;
    run(Command::new("bash")
        .arg(crate::workspace_root().join("scripts/seed-base-images.sh"))
        .arg(registry.addr())
        .env("SLIPWAY", slipway.bin())
        .env("SLIPWAY_DATA_DIR", slipway.data_dir()))
    .context("seeding the busybox base image with slipway")?;
    Ok((registry, slipway))
}
