//! The `slipway` binary under test, in either of its two modes: embedded (`slipway build`
//! without `--builder`: a one-process farm over a data dir) or on a real farm
//! (`--builder ADDRS --tls-dir DIR`, see [`crate::cluster::Cluster`]).

use super::BuildRequest;
use crate::cluster::Cluster;
use crate::process::run;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where a `slipway build` runs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Without `--builder`: the one-process farm over `data_dir` (the harness's own private
    /// data dir when `None`).
    Embedded { data_dir: Option<PathBuf> },
    /// `--builder BUILDER --tls-dir TLS_DIR`: a farm of `slipway coordinator` and
    /// `slipway worker` processes.
    Farm { builder: String, tls_dir: PathBuf },
}

impl Mode {
    /// Embedded, over the harness's data dir.
    pub fn embedded() -> Mode {
        Mode::Embedded { data_dir: None }
    }

    /// Embedded, over `data_dir`.
    pub fn embedded_in(data_dir: &Path) -> Mode {
        Mode::Embedded {
            data_dir: Some(data_dir.to_path_buf()),
        }
    }

    /// On `cluster`, with its client certificate.
    pub fn farm(cluster: &Cluster) -> Mode {
        Mode::Farm {
            builder: cluster.builder(),
            tls_dir: cluster.dir().join("certs"),
        }
    }

    /// `embedded` or `farm`, for tags and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Mode::Embedded { .. } => "embedded",
            Mode::Farm { .. } => "farm",
        }
    }
}

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

    /// `slipway build --progress plain` in `mode` (the farm or data dir flags given, the
    /// caller's own `SLIPWAY_BUILDER`/`SLIPWAY_TLS_DIR`/`SLIPWAY_DATA_DIR` removed); the
    /// caller appends the build's flags and its context.
    pub fn build_command(&self, mode: &Mode) -> Command {
        let mut cmd = Command::new(&self.bin);
        for var in [
            "SLIPWAY_BUILDER",
            "SLIPWAY_TLS_DIR",
            "SLIPWAY_INSECURE",
            "SLIPWAY_DATA_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .arg("build")
            .args(["--progress", "plain"]);
        match mode {
            Mode::Embedded { data_dir } => {
                cmd.arg("--data-dir")
                    .arg(data_dir.as_deref().unwrap_or(self.data.path()));
            }
            Mode::Farm { builder, tls_dir } => {
                cmd.args(["--builder", builder])
                    .arg("--tls-dir")
                    .arg(tls_dir);
            }
        }
        cmd
    }

    /// `slipway build ... --push CONTEXT` embedded, over the harness's data dir.
    pub fn build_push(&self, req: &BuildRequest) -> Result<()> {
        self.build_push_in(&Mode::embedded(), req).map(|_| ())
    }

    /// `slipway build ... --push CONTEXT` in `mode`: the image goes to the registry under
    /// `req.tag`. Returns the plain progress (stderr).
    pub fn build_push_in(&self, mode: &Mode, req: &BuildRequest) -> Result<String> {
        let mut cmd = self.build_command(mode);
        cmd.args(req.common_flags()).arg("--push").arg(&req.context);
        let out = run(&mut cmd).with_context(|| format!("slipway build ({})", mode.name()))?;
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
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
