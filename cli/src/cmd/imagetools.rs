//! `slipway imagetools inspect|create`.

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum ImagetoolsCommand {}

pub fn run(cmd: ImagetoolsCommand) -> Result<()> {
    match cmd {}
}
