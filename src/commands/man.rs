//! `kamal-dev man` (hidden): print the man page in roff, for packagers.

use clap::{Args as ClapArgs, CommandFactory as _};

use super::Context;
use crate::cli::Cli;
use crate::error::{Error, ExitStatus, Message};

#[derive(Debug, ClapArgs)]
pub struct Args {}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(ctx: &Context, _args: Args) -> Result<ExitStatus, Error> {
    let man = clap_mangen::Man::new(Cli::command());
    let mut buffer = Vec::new();
    man.render(&mut buffer).map_err(|err| {
        Message::new("could not render the man page", ExitStatus::Failure).with_source(err)
    })?;
    ctx.printer.raw(&buffer);
    Ok(ExitStatus::Success)
}
