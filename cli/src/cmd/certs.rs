//! `slipway certs init`: a development CA and certificates for coordinators, workers and
//! the client.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Create a dev CA (ca.pem) and a certificate per --name, plus client.pem.
    Init(InitArgs),
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[arg(long)]
    pub dir: PathBuf,
    /// A DNS name or IP put on every node certificate (repeatable; 127.0.0.1 and localhost
    /// always are).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// A node name (repeatable), e.g. coordinator-1, worker-1.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Sign with the CA already in --dir (to add a node).
    #[arg(long = "reuse-ca", conflicts_with = "force")]
    pub reuse_ca: bool,
    /// Replace an existing CA (every certificate must then be reissued).
    #[arg(long)]
    pub force: bool,
}

pub fn run(cmd: CertsCommand) -> Result<()> {
    let CertsCommand::Init(a) = cmd;
    let existing_ca = if a.reuse_ca {
        slipway_tls::ExistingCa::Reuse
    } else if a.force {
        slipway_tls::ExistingCa::Overwrite
    } else {
        slipway_tls::ExistingCa::Refuse
    };
    let issued = slipway_tls::init_certs(
        &a.dir,
        &slipway_tls::CertsOptions {
            hosts: a.hosts.clone(),
            names: a.names.clone(),
            existing_ca,
        },
    )
    .with_context(|| format!("creating certificates in {}", a.dir.display()))?;
    println!("CA: {}", issued.ca_cert.display());
    for id in &issued.identities {
        println!("{}: {} {}", id.name, id.cert.display(), id.key.display());
    }
    Ok(())
}
