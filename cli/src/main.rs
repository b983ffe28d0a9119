//! `slipway`: the command line. Flags are parsed here and nowhere else.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "slipway",
    version,
    about = "A distributed multi-platform container build farm"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a Dockerfile (embedded in this process, or on a farm with --builder).
    Build(Box<cmd::build::BuildArgs>),
    /// Run a coordinator of a farm (Raft member serving the Control and Worker APIs).
    Coordinator(Box<cmd::node::CoordinatorArgs>),
    /// Run a farm worker.
    Worker(Box<cmd::node::WorkerArgs>),
    /// List a farm's workers.
    #[command(subcommand)]
    Workers(cmd::farm::status::WorkersCommand),
    /// List, inspect and cancel a farm's builds.
    #[command(subcommand)]
    Builds(cmd::farm::status::BuildsCommand),
    /// A farm's Raft cluster.
    #[command(subcommand)]
    Cluster(cmd::farm::status::ClusterCommand),
    /// Development certificates for mutual TLS.
    #[command(subcommand)]
    Certs(cmd::certs::CertsCommand),
    /// Start or stop a local farm in the background.
    #[command(subcommand, name = "dev-cluster")]
    DevCluster(cmd::devcluster::DevClusterCommand),
    /// Inspect how slipway reads a Dockerfile.
    #[command(subcommand)]
    Dockerfile(cmd::dockerfile::DockerfileCommand),
    /// Inspect and assemble images and indexes in a registry.
    #[command(subcommand)]
    Imagetools(cmd::imagetools::ImagetoolsCommand),
    /// Remove build cache from the embedded worker's data dir.
    Prune(cmd::prune::PruneArgs),
    /// Show the embedded worker's disk usage.
    Du(cmd::prune::DuArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    // One TLS crypto provider for every client and server (reqwest/oci-client need it installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let result = match cli.command {
        Command::Build(a) => cmd::build::run(*a),
        Command::Coordinator(a) => cmd::node::run_coordinator(*a),
        Command::Worker(a) => cmd::node::run_worker(*a),
        Command::Workers(c) => cmd::farm::status::workers(c),
        Command::Builds(c) => cmd::farm::status::builds(c),
        Command::Cluster(c) => cmd::farm::status::cluster(c),
        Command::Certs(c) => cmd::certs::run(c),
        Command::DevCluster(c) => cmd::devcluster::run(c),
        Command::Dockerfile(c) => cmd::dockerfile::run(c),
        Command::Imagetools(c) => cmd::imagetools::run(c),
        Command::Prune(a) => cmd::prune::prune(a),
        Command::Du(a) => cmd::prune::du(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ERROR: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLIPWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
