//! `kamal-dev stop`: stop workspace containers, keeping their machines.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to stop
    pub name: Option<String>,

    /// Stop every workspace
    #[arg(long)]
    pub all: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    super::Target::from_args("stop", args.name, args.all)?;
    let _ = args.dry_run;
    Err(Error::not_implemented("stop"))
}
