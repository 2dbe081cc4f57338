//! `kamal-dev logs`: a workspace container's logs.

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace whose logs to show
    pub name: String,

    /// Keep following new output
    #[arg(short, long)]
    pub follow: bool,

    /// Number of lines to show from the end
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let _settings = ctx.settings()?;
    let _ = (args.name, args.follow, args.tail);
    Err(Error::not_implemented("logs"))
}
