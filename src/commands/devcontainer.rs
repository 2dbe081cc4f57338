//! `kamal-dev devcontainer ...`: read a devcontainer.json the way the reference Dev
//! Containers CLI does, and show the docker argv it would produce.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Context;
use crate::devcontainer;
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
}

/// The devcontainer.json named by the global `--config`, if it names one. The global flag
/// doubles as `--config FILE` here (clap cannot have both); its default, config/dev.yml,
/// means "discover".
fn devcontainer_config(ctx: &Context) -> Result<Option<PathBuf>, Error> {
    let path = &ctx.global.config;
    if path.as_os_str() == "config/dev.yml" {
        return Ok(None);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == "devcontainer.json" || name == ".devcontainer.json" {
        Ok(Some(path.clone()))
    } else {
        Err(devcontainer::DevcontainerError::BadFileName { path: path.clone() }.into())
    }
}

/// The host environment, for `${localEnv:...}`.
fn host_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(ctx: &Context, command: Command) -> Result<ExitStatus, Error> {
    match command {
        Command::ReadConfiguration(args) => {
            let env = host_env();
            let config = devcontainer_config(ctx)?;
            let loaded = devcontainer::load(&args.workspace_folder, config.as_deref(), &env)?;
            ctx.printer.data(loaded.read_configuration_json());
            Ok(ExitStatus::Success)
        }
        Command::RunArgs(_) => Err(Error::not_implemented("devcontainer run-args")),
    }
}
