//! kamal-dev: deploy devcontainer workspaces to cloud VMs, many at once.
//!
//! `run` is the whole program: parse the command line, resolve settings, dispatch to one
//! command, render any error once. See ARCHITECTURE.md for the codemap and the invariants.

pub mod cli;
pub mod commands;
pub mod config;
pub mod cost;
pub mod deploy;
pub mod devcontainer;
pub mod docker;
pub mod error;
pub mod output;
pub mod provider;
pub mod registry;
pub mod remote;
pub mod secrets;
pub mod settings;
pub mod shell;
pub mod state;

use std::ffi::OsString;

use clap::Parser as _;

use crate::cli::{Cli, Command};
use crate::commands::Context;
use crate::error::ExitStatus;
use crate::output::{Printer, Verbosity};

/// Run kamal-dev with the given arguments (including the program name) and return the exit
/// status. Never panics on bad input; every failure is rendered on stderr.
pub async fn run(args: Vec<OsString>) -> ExitStatus {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version to stdout and usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Usage
            } else {
                ExitStatus::Success
            };
        }
    };
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let ctx = Context {
        global: cli.global,
        printer: Printer::new(verbosity),
    };
    let result = match cli.command {
        Command::Init(args) => commands::init::run(&ctx, args).await,
        Command::Deploy(args) => commands::deploy::run(&ctx, args).await,
        Command::List(args) => commands::list::run(&ctx, args).await,
        Command::Status(args) => commands::status::run(&ctx, args).await,
        Command::Stop(args) => commands::stop::run(&ctx, args).await,
        Command::Start(args) => commands::start::run(&ctx, args).await,
        Command::Remove(args) => commands::remove::run(&ctx, args).await,
        Command::Ssh(args) => commands::ssh::run(&ctx, args).await,
        Command::Exec(args) => commands::exec::run(&ctx, args).await,
        Command::Logs(args) => commands::logs::run(&ctx, args).await,
        Command::SshConfig(args) => commands::ssh_config::run(&ctx, args).await,
        Command::Forward(args) => commands::forward::run(&ctx, args).await,
        Command::InstallBinstub(args) => commands::install_binstub::run(&ctx, args).await,
        Command::Cost(args) => commands::cost::run(&ctx, args).await,
        Command::Devcontainer(command) => commands::devcontainer::run(&ctx, command).await,
        Command::Completions(args) => commands::completions::run(&ctx, args).await,
        Command::Man(args) => commands::man::run(&ctx, args).await,
        Command::Internal(command) => commands::internal::run(&ctx, command).await,
    };
    match result {
        Ok(status) => status,
        Err(err) => {
            ctx.printer.error(&err.render());
            err.exit_status()
        }
    }
}
