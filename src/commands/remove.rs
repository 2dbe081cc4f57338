//! `kamal-dev remove`: remove workspaces and destroy machines once empty.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to remove
    pub name: Option<String>,

    /// Remove every workspace
    #[arg(long)]
    pub all: bool,

    /// Do not ask for confirmation
    #[arg(long)]
    pub force: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    super::Target::from_args("remove", args.name, args.all)?;
    let _ = (args.force, args.dry_run);
    Err(Error::not_implemented("remove"))
}
