//! `kamal-dev devcontainer ...`: read a devcontainer.json the way the reference Dev
//! Containers CLI does, and show the docker argv it would produce.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Context;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resolved configuration as JSON (like `devcontainer read-configuration`)
    ReadConfiguration(FolderArgs),
    /// Print the docker build and run argument lists `devcontainer up` would use, as JSON
    RunArgs(FolderArgs),
}

#[derive(Debug, Args)]
pub struct FolderArgs {
    /// The workspace folder (the project checkout)
    #[arg(long, value_name = "DIR")]
    pub workspace_folder: PathBuf,

    /// A devcontainer.json other than the discovered one, such as
    /// .devcontainer/<sub>/devcontainer.json
    #[arg(long = "config", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(_ctx: &Context, command: Command) -> Result<ExitStatus, Error> {
    match command {
        Command::ReadConfiguration(_) => {
            Err(Error::not_implemented("devcontainer read-configuration"))
        }
        Command::RunArgs(_) => Err(Error::not_implemented("devcontainer run-args")),
    }
}
