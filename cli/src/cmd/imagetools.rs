//! `slipway imagetools inspect|create`, as `docker buildx imagetools`.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use slipway_oci::auth::CredentialStore;
use slipway_oci::imagetools::{self, CreateOptions, InspectOptions};
use slipway_oci::registry::{parse_reference, Reference, RegistryClient, RegistryConfig};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Subcommand)]
pub enum ImagetoolsCommand {
    /// Show what a reference points to: an index with its platforms, or a manifest.
    Inspect(InspectArgs),
    /// Create an index from existing manifests and indexes, and push it to each tag.
    Create(CreateArgs),
}

#[derive(Args)]
pub struct RegistryArgs {
    /// Reach this registry (`host[:port]`) over plain HTTP. Loopback registries always are.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
}

#[derive(Args)]
pub struct InspectArgs {
    /// The image reference.
    reference: String,
    /// Print the manifest or index exactly as the registry serves it.
    #[arg(long)]
    raw: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    format: InspectFormat,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum InspectFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct CreateArgs {
    /// Sources: manifests or indexes (`reg/repo:tag` or `reg/repo@sha256:...`).
    #[arg(required = true)]
    sources: Vec<String>,
    /// Tags to push the new index to.
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// Print the index instead of pushing it.
    #[arg(long)]
    dry_run: bool,
    /// Annotation on the index, `KEY=VALUE` (`index:KEY=VALUE` is accepted too).
    #[arg(long = "annotation")]
    annotations: Vec<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

pub fn run(cmd: ImagetoolsCommand) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cmd {
            ImagetoolsCommand::Inspect(args) => inspect(args).await,
            ImagetoolsCommand::Create(args) => create(args).await,
        }
    })
}

fn client(args: &RegistryArgs) -> Result<RegistryClient> {
    let config = RegistryConfig {
        insecure: args.insecure.clone(),
        ..RegistryConfig::default()
    };
    let credentials = CredentialStore::from_env().context("reading registry credentials")?;
    Ok(RegistryClient::new(config, credentials))
}

fn reference(flag: &str, s: &str) -> Result<Reference> {
    parse_reference(s).with_context(|| format!("{flag} {s:?}"))
}

async fn inspect(args: InspectArgs) -> Result<()> {
    let client = client(&args.registry)?;
    let r = reference("reference", &args.reference)?;
    let inspection = imagetools::inspect(&client, &r, &InspectOptions::default()).await?;
    let mut out = std::io::stdout().lock();
    if args.raw {
        out.write_all(inspection.raw())?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    match args.format {
        InspectFormat::Text => write!(out, "{inspection}")?,
        InspectFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&inspection.to_json())?
        )?,
    }
    Ok(())
}

async fn create(args: CreateArgs) -> Result<()> {
    if args.tags.is_empty() && !args.dry_run {
        bail!("imagetools create: give at least one --tag, or --dry-run");
    }
    let client = client(&args.registry)?;
    let targets = args
        .tags
        .iter()
        .map(|t| reference("--tag", t))
        .collect::<Result<Vec<_>>>()?;
    let sources = args
        .sources
        .iter()
        .map(|s| reference("source", s))
        .collect::<Result<Vec<_>>>()?;
    let mut index_annotations = BTreeMap::new();
    for a in &args.annotations {
        let a = a.strip_prefix("index:").unwrap_or(a);
        let Some((k, v)) = a.split_once('=') else {
            bail!("--annotation {a:?}: expected KEY=VALUE");
        };
        index_annotations.insert(k.to_string(), v.to_string());
    }
    let opts = CreateOptions {
        index_annotations,
        dry_run: args.dry_run,
        ..CreateOptions::default()
    };
    let report = imagetools::create(&client, &targets, &sources, &opts).await?;
    if args.dry_run {
        println!("{}", String::from_utf8_lossy(&report.index.bytes));
    } else {
        for t in &report.pushed {
            println!("{t}@{}", report.digest);
        }
    }
    Ok(())
}
