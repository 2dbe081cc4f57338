//! `kamal-dev completions <shell>`: print a completion script for the shell.

use clap::{Args as ClapArgs, CommandFactory as _};
use clap_complete::Shell;

use super::Context;
use crate::cli::Cli;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Shell to generate completions for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let mut command = Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(args.shell, &mut command, "kamal-dev", &mut buffer);
    ctx.printer.raw(&buffer);
    Ok(ExitStatus::Success)
}
