//! `slipway build [PATH|-]`: buildx's `build`, on a farm: the one `--builder` names, or a
//! one-process farm (the coordinator and one worker in this process) — the same code.

pub(crate) mod build_request;
mod cache_flags;
pub(crate) mod flags;
mod remote_context;
mod request;

use super::farm::build::FarmTarget;
use super::local_farm::LocalFarmConfig;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct BuildArgs {
    /// The build context: a directory, a git URL (`https://host/repo.git#ref:subdir`), or
    /// `-` to read the Dockerfile from standard input with an empty context.
    pub context: String,
    /// The Dockerfile (default: PATH/Dockerfile; `-` for standard input).
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Image name `name:tag` (repeatable).
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Target platforms, comma separated (repeatable).
    #[arg(long = "platform", env = "DOCKER_DEFAULT_PLATFORM")]
    pub platforms: Vec<String>,
    /// Build-time variable `KEY=VALUE` (or `KEY` to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// The stage to build.
    #[arg(long, default_value = "")]
    pub target: String,
    /// A secret for `RUN --mount=type=secret`: `id=x,src=PATH` or `id=x,env=VAR`.
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// An ssh-agent socket for `RUN --mount=type=ssh`: `default` or `ID=SOCKET`.
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// A named context: `name=DIR` or `name=docker-image://REF`.
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// Output: `type=image,name=..,push=true`, `type=registry`, `type=oci,dest=..`,
    /// `type=docker,dest=..`, `type=local,dest=..`, `type=tar,dest=..`, or a directory.
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Push the image (shorthand for `--output=type=registry`).
    #[arg(long)]
    pub push: bool,
    /// Load the image into docker (shorthand for `--output=type=docker` piped to
    /// `docker load`; the docker CLI is `$SLIPWAY_DOCKER` or `docker`, talking to
    /// `$DOCKER_HOST`). Single platform, as buildx's docker exporter.
    #[arg(long)]
    pub load: bool,
    /// Progress output: auto, tty, plain, rawjson or quiet.
    #[arg(long, env = "BUILDKIT_PROGRESS", default_value = "auto")]
    pub progress: String,
    /// Do not use the cache.
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// External cache sources (`type=registry,ref=R`, `type=local,src=D`, or a reference).
    #[arg(long = "cache-from")]
    pub cache_from: Vec<String>,
    /// Cache export destinations (`type=registry,ref=R,mode=min|max`, `type=inline`,
    /// `type=local,dest=D`).
    #[arg(long = "cache-to")]
    pub cache_to: Vec<String>,
    /// Re-resolve base images.
    #[arg(long)]
    pub pull: bool,
    /// Network of RUN steps: default, none or host.
    #[arg(long, default_value = "default")]
    pub network: String,
    /// Extra privileged entitlement (repeatable, or comma separated): `network.host`,
    /// `security.insecure` (for `RUN --security=insecure`).
    #[arg(long = "allow", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Image label `KEY=VALUE` (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Write the image (or index) digest to this file.
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Write build result metadata (buildx's keys) to this file.
    #[arg(long = "metadata-file")]
    pub metadata_file: Option<PathBuf>,
    /// The worker's data directory.
    #[arg(
        long = "data-dir",
        env = "SLIPWAY_DATA_DIR",
        default_value = "/var/lib/slipway"
    )]
    pub data_dir: PathBuf,
    /// A registry reached over plain HTTP (repeatable; loopback registries always are).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Run the build on a farm: coordinator addresses, comma separated.
    #[arg(long, env = "SLIPWAY_BUILDER")]
    pub builder: Option<String>,
    /// With --builder: directory with ca.pem and client.pem (`slipway certs init`).
    #[arg(long = "tls-dir", env = "SLIPWAY_TLS_DIR")]
    pub tls_dir: Option<PathBuf>,
    /// With --builder: plaintext gRPC (local development only).
    #[arg(long, env = "SLIPWAY_INSECURE")]
    pub insecure: bool,
}

pub fn run(mut args: BuildArgs) -> Result<()> {
    // --load: a docker archive in a scratch dir, handed to `docker load` once built.
    let load = if args.load {
        let dir = tempfile::Builder::new()
            .prefix("slipway-load-")
            .tempdir()
            .context("--load: creating a scratch directory")?;
        let archive = dir.path().join("image.tar");
        args.outputs
            .push(format!("type=docker,dest={}", archive.display()));
        Some((dir, archive))
    } else {
        None
    };
    build(&args)?;
    if let Some((_dir, archive)) = load {
        docker_load(&archive)?;
    }
    Ok(())
}

/// The `default` agent of `--ssh`, which a git context over ssh uses.
fn default_ssh_agent(args: &BuildArgs) -> Result<Option<PathBuf>> {
    let env = |k: &str| std::env::var(k).ok();
    for value in &args.ssh {
        let (id, src) = flags::ssh(value, &env)?;
        if id == "default" {
            let slipway_worker::SshSource::AgentSocket(path) = src;
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// `docker load -i archive`, its output passed through.
fn docker_load(archive: &std::path::Path) -> Result<()> {
    let docker = std::env::var_os("SLIPWAY_DOCKER").unwrap_or_else(|| "docker".into());
    let status = std::process::Command::new(&docker)
        .arg("load")
        .arg("-i")
        .arg(archive)
        .status()
        .with_context(|| {
            format!(
                "--load: running {} load (set SLIPWAY_DOCKER to the docker CLI)",
                docker.to_string_lossy()
            )
        })?;
    if !status.success() {
        anyhow::bail!(
            "--load: `{} load` failed ({status}); is the docker daemon running (DOCKER_HOST)?",
            docker.to_string_lossy()
        );
    }
    Ok(())
}

fn build(args: &BuildArgs) -> Result<()> {
    // A git context is checked out here and read like a local directory.
    let remote = remote_context::fetch(&args.context, default_ssh_agent(args)?)?;
    let local;
    let args = match &remote {
        Some(r) => {
            let mut a = args.clone();
            a.context = r.dir.to_string_lossy().into_owned();
            a.file = remote_context::dockerfile_in(r, args.file.as_deref());
            local = a;
            &local
        }
        None => args,
    };
    let progress = args
        .progress
        .parse::<slipway_progress::ProgressMode>()
        .map_err(|e| anyhow::anyhow!("--progress: {e}"))?;
    let req = request::build_request(args)?;
    let target = match args.builder.as_deref().filter(|a| !a.trim().is_empty()) {
        Some(builder) => FarmTarget::Remote(super::farm::client::FarmOptions {
            builder: Some(builder.to_string()),
            tls_dir: args.tls_dir.clone(),
            insecure: args.insecure,
        }),
        None => FarmTarget::Local(LocalFarmConfig {
            data_dir: args.data_dir.clone(),
            registry: slipway_oci::registry::RegistryConfig {
                insecure: args.insecure_registries.clone(),
                ..Default::default()
            },
            // The user's own machine: the worker grants what the build asks for.
            allow: req.allow.clone(),
        }),
    };
    super::farm::build::run(args, req, progress, target)
}
