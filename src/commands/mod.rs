//! One file per subcommand: its clap `Args` and an `async fn run`. Commands turn flags and
//! settings into calls on the lower modules and hand results to `output`. They hold no
//! workflow logic of their own beyond that (the deploy workflow lives in `deploy/`).

pub mod completions;
pub mod cost;
pub mod deploy;
pub mod devcontainer;
pub mod exec;
pub mod forward;
pub mod init;
pub mod install_binstub;
pub mod internal;
pub mod list;
pub mod logs;
pub mod man;
pub mod remove;
pub mod ssh;
pub mod ssh_config;
pub mod start;
pub mod status;
pub mod stop;

use crate::cli::GlobalArgs;
use crate::deploy::fleet::Fleet;
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};
use crate::output::Printer;
use crate::settings::Settings;
use crate::state::State;

/// What every command receives: the global flags and the printer.
#[derive(Debug, Clone)]
pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
}

impl Context {
    /// Load and validate config/dev.yml (and the destination overlay) into [`Settings`].
    pub fn settings(&self) -> Result<Settings, Error> {
        Ok(Settings::resolve(&self.global)?)
    }
}

/// Which workspaces a command targets: one by name, or all with `--all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    One(String),
    All,
}

impl Target {
    /// The workspace name, or `None` for all.
    pub fn name(&self) -> Option<&str> {
        match self {
            Target::One(name) => Some(name),
            Target::All => None,
        }
    }

    /// Combine `[NAME]` and `--all`; exactly one is required.
    pub fn from_args(command: &str, name: Option<String>, all: bool) -> Result<Target, Error> {
        match (name, all) {
            (Some(name), false) => Ok(Target::One(name)),
            (None, true) => Ok(Target::All),
            (Some(_), true) => Err(Error::usage(format!(
                "`kamal-dev {command}` takes a workspace NAME or --all, not both"
            ))),
            (None, false) => Err(crate::error::Message::new(
                format!("`kamal-dev {command}` needs a workspace NAME or --all"),
                crate::error::ExitStatus::Usage,
            )
            .with_hint("run `kamal-dev list` to see the workspaces")
            .into()),
        }
    }
}

/// `[NAME]` and `--all`, flattened into the `Args` of the commands that act on recorded
/// workspaces. Each command words both helps for itself with [`Targets::help`].
#[derive(Debug, clap::Args)]
pub struct Targets {
    /// Workspace to act on
    pub name: Option<String>,

    /// Act on every workspace
    #[arg(long)]
    pub all: bool,
}

/// Where a fleet command starts: the fleet opened for it, the state as read once, and the
/// targeted workspaces in name order.
pub struct Selection {
    pub fleet: Fleet,
    pub state: State,
    pub names: Vec<String>,
}

impl Targets {
    /// For `#[command(mut_args(..))]`: one command's help for `[NAME]` and `--all`. (Unlike
    /// `mut_arg`, `mut_args` keeps the arguments' order, which completion scripts follow.)
    pub fn help(name: &'static str, all: &'static str) -> impl FnMut(clap::Arg) -> clap::Arg {
        move |arg| match arg.get_id().as_str() {
            "name" => arg.help(name),
            "all" => arg.help(all),
            _ => arg,
        }
    }

    /// Check `[NAME]`/`--all` (usage errors come first), then load the settings, open the
    /// fleet for `command` and select the workspaces from the state.
    pub async fn select(self, ctx: &Context, command: &str) -> Result<Selection, Error> {
        let target = Target::from_args(command, self.name, self.all)?;
        let settings = ctx.settings()?;
        let fleet = Fleet::open(settings, command)?;
        let state = fleet.read_state().await?;
        let names = manage::select(&state, target.name())?;
        Ok(Selection {
            fleet,
            state,
            names,
        })
    }
}

/// The end of a fleet command that found no workspace recorded.
pub fn nothing_to(ctx: &Context, verb: &str) -> ExitStatus {
    ctx.printer
        .info(format!("No workspaces recorded: nothing to {verb}."));
    ExitStatus::Success
}

/// The end of a `--dry-run`: each command it would run (shell-quoted), then that nothing changed.
pub fn dry_run(ctx: &Context, argvs: impl IntoIterator<Item = Vec<String>>) -> ExitStatus {
    for argv in argvs {
        ctx.printer.data(crate::shell::join(&argv));
    }
    ctx.printer.info("Dry run: nothing was changed.");
    ExitStatus::Success
}

/// The progress reporter for a fleet operation over `names`.
pub fn reporter(ctx: &Context, names: &[String]) -> Box<dyn crate::deploy::events::Reporter> {
    crate::output::progress::reporter(false, ctx.printer.verbosity(), names)
}

/// End a fleet operation: success, or "N of M failed" with each cause (exit 1).
pub fn finish(
    ctx: &Context,
    verb: &str,
    outcomes: &[crate::deploy::apply::Outcome],
) -> Result<crate::error::ExitStatus, Error> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", o.workspace))
        })
        .collect();
    if failed.is_empty() {
        ctx.printer
            .info(format!("{} workspace(s) {verb}.", outcomes.len()));
        Ok(crate::error::ExitStatus::Success)
    } else {
        Err(crate::error::Message::new(
            format!(
                "{} of {} workspaces failed: {}",
                failed.len(),
                outcomes.len(),
                failed.join("; ")
            ),
            crate::error::ExitStatus::Failure,
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn targets_help_is_worded_per_command_and_keeps_the_argument_order() {
        let cli = crate::cli::Cli::command();
        for (command, name, all, next) in [
            (
                "start",
                "Workspace to start",
                "Start every workspace",
                "dry_run",
            ),
            (
                "stop",
                "Workspace to stop",
                "Stop every workspace",
                "dry_run",
            ),
            (
                "remove",
                "Workspace to remove",
                "Remove every workspace",
                "force",
            ),
            (
                "status",
                "Workspace to inspect (default: every workspace)",
                "Inspect every workspace (the default)",
                "format",
            ),
        ] {
            let sub = cli.find_subcommand(command).unwrap();
            let help = |id: &str| {
                sub.get_arguments()
                    .find(|a| a.get_id() == id)
                    .and_then(|a| a.get_help())
                    .map(ToString::to_string)
            };
            assert_eq!(help("name").as_deref(), Some(name), "{command}");
            assert_eq!(help("all").as_deref(), Some(all), "{command}");
            let ids: Vec<&str> = sub.get_arguments().map(|a| a.get_id().as_str()).collect();
            assert_eq!(ids[..3], ["name", "all", next], "{command}");
        }
    }
}
