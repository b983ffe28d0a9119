//! `slipway dockerfile dump|graph`: debugging views of the frontend.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use slipway_frontend::{lower, parser, FrontendError, LowerOptions, NamedContext, NoBaseConfig};
use slipway_graph::Platform;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum DockerfileCommand {
    /// Print the parse tree in BuildKit's dump format.
    Dump {
        /// The Dockerfile (`-` for standard input).
        file: PathBuf,
    },
    /// Print the build graph the Dockerfile lowers to.
    Graph(GraphArgs),
}

#[derive(Args)]
pub struct GraphArgs {
    /// The Dockerfile (`-` for standard input).
    file: PathBuf,
    /// Target platforms, comma separated (default: this machine's).
    #[arg(long, value_delimiter = ',')]
    platform: Vec<String>,
    /// Build-time variable `KEY=VALUE` (or `KEY` to take it from the environment).
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// The stage to build.
    #[arg(long, default_value = "")]
    target: String,
    /// Named build context `name=dir` or `name=docker-image://ref`.
    #[arg(long = "build-context")]
    build_contexts: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Json)]
    format: GraphFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Json,
    Dot,
    Text,
}

pub fn run(cmd: DockerfileCommand) -> Result<()> {
    match cmd {
        DockerfileCommand::Dump { file } => dump(&file),
        DockerfileCommand::Graph(args) => graph(args),
    }
}

fn read_source(file: &Path) -> Result<String> {
    if file == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("reading standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))
}

fn display_name(file: &Path) -> String {
    if file == Path::new("-") {
        return "Dockerfile".to_string();
    }
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

fn dump(file: &Path) -> Result<()> {
    let source = read_source(file)?;
    let parsed = parser::parse(&source).map_err(|source_err| {
        let err = FrontendError::Parse {
            dockerfile: display_name(file),
            source: source_err,
        };
        anyhow::anyhow!("{}", err.render(&source))
    })?;
    println!("{}", parser::dump(&parsed.ast));
    Ok(())
}

fn graph(args: GraphArgs) -> Result<()> {
    let source = read_source(&args.file)?;
    let opts = lower_options(&args)?;
    let graph = lower(&source, &opts, &NoBaseConfig)
        .map_err(|err| anyhow::anyhow!("{}", err.render(&source)))?;
    let out = match args.format {
        GraphFormat::Json => graph.to_json()?,
        GraphFormat::Dot => graph.to_dot()?,
        GraphFormat::Text => graph.to_text()?,
    };
    println!("{}", out.trim_end());
    Ok(())
}

fn lower_options(args: &GraphArgs) -> Result<LowerOptions> {
    let mut opts = LowerOptions {
        dockerfile_name: display_name(&args.file),
        target: args.target.clone(),
        ..LowerOptions::default()
    };
    for p in &args.platform {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let platform: Platform = p.parse().with_context(|| format!("--platform {p}"))?;
        opts.platforms.push(platform);
    }
    for kv in &args.build_args {
        let (k, v) = match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            // buildx: `--build-arg KEY` takes the value from the environment, if set.
            None => match std::env::var(kv) {
                Ok(v) => (kv.clone(), v),
                Err(_) => continue,
            },
        };
        opts.build_args.insert(k, v);
    }
    for ctx in &args.build_contexts {
        let Some((name, value)) = ctx.split_once('=') else {
            bail!("--build-context {ctx:?}: expected name=value");
        };
        let named = match value.strip_prefix("docker-image://") {
            Some(reference) => NamedContext::Image(reference.to_string()),
            None => NamedContext::Local(name.to_string()),
        };
        opts.named_contexts.insert(name.to_string(), named);
    }
    Ok(opts)
}
