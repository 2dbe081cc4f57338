//! `kamal-dev ssh`: an interactive shell inside a workspace.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to open
    pub name: String,

    /// Open a shell on the machine instead of inside the container
    #[arg(long)]
    pub machine: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    let _ = (args.name, args.machine);
    Err(Error::not_implemented("ssh"))
}
