//! `kamal-dev exec`: run a command in one or all workspaces.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to run in
    pub name: Option<String>,

    /// Run in every workspace, concurrently
    #[arg(long)]
    pub all: bool,

    /// The command and its arguments (after `--`)
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    super::Target::from_args("exec", args.name, args.all)?;
    let _ = args.command;
    Err(Error::not_implemented("exec"))
}
