//! Hidden `kamal-dev __internal ...` commands that exist for the test suite (for example the
//! state store's multi-process stress test). Not part of the user interface.

use clap::Subcommand;

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Placeholder so the enum is never empty; prints nothing and fails.
    #[command(name = "noop")]
    Noop,
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(_ctx: &Context, command: Command) -> Result<ExitStatus, Error> {
    match command {
        Command::Noop => Err(Error::not_implemented("__internal noop")),
    }
}
