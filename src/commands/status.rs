//! `kamal-dev status`: live machine and container state of workspaces.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to inspect
    pub name: Option<String>,

    /// Inspect every workspace
    #[arg(long)]
    pub all: bool,

    /// Output format
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    super::Target::from_args("status", args.name, args.all)?;
    let _ = args.format;
    Err(Error::not_implemented("status"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}
