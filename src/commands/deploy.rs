//! `kamal-dev deploy`: provision machines and start workspaces. The workflow itself lives in
//! `deploy/`; this file turns flags into a request and renders the outcome.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Number of workspaces to deploy (default: vms.count from the config)
    #[arg(long, value_name = "N")]
    pub count: Option<u32>,

    /// Path to a devcontainer.json, overriding `image:` in the config
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,

    /// Show the plan and every command it would run, without changing anything
    #[arg(long)]
    pub dry_run: bool,

    /// Progress output: human text, or one JSON event per line
    #[arg(long, value_enum, default_value_t = DeployFormat::Text)]
    pub format: DeployFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeployFormat {
    Text,
    Json,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    let _ = (args.count, args.from, args.dry_run, args.format);
    Err(Error::not_implemented("deploy"))
}
