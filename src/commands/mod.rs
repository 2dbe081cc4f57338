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
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;

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
