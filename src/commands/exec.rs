//! `kamal-dev exec`: run a command in one or all workspaces, concurrently, as the
//! workspace user in its folder. With `--all` each output line is prefixed with its
//! workspace name; the exit status is the command's own (one workspace) or 1 if any failed.

use clap::Args as ClapArgs;
use futures::future::join_all;

use super::Context;
use crate::deploy::access::Resolver;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus, Message};
use crate::remote::{Exit, Stream};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to run in
    pub name: Option<String>,

    /// Run in every workspace, concurrently
    #[arg(long)]
    pub all: bool,

    /// The command and its arguments (after `--`)
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let target = super::Target::from_args("exec", args.name, args.all)?;
    let fleet = Fleet::open(settings, "exec")?;
    let result = exec(ctx, &fleet, target, args.command).await;
    fleet.close().await;
    result
}

async fn exec(
    ctx: &Context,
    fleet: &Fleet,
    target: super::Target,
    command: Vec<String>,
) -> Result<ExitStatus, Error> {
    let state = fleet.read_state().await?;
    let resolver = Resolver::new(fleet)?;
    let names: Vec<String> = match target {
        super::Target::One(name) => {
            let (access, executor) = resolver.resolve(&state, &name).await?;
            let argv = access.exec(command, false);
            let printer = &ctx.printer;
            let exit = executor
                .run_streaming(&argv, None, |stream, line| match stream {
                    Stream::Stdout => printer.data(line),
                    Stream::Stderr => printer.data_err(line),
                })
                .await?;
            return Ok(super::ssh::exit_status(&exit));
        }
        super::Target::All => state.workspaces.keys().cloned().collect(),
    };
    if names.is_empty() {
        return Err(
            Message::new("no workspaces are deployed", ExitStatus::Failure)
                .with_hint("run `kamal-dev deploy` first")
                .into(),
        );
    }
    let width = names.iter().map(String::len).max().unwrap_or_default();
    let jobs = names.iter().map(|name| {
        let resolver = &resolver;
        let state = &state;
        let command = command.clone();
        let printer = &ctx.printer;
        async move {
            let prefix = format!("{name:<width$} |");
            let result = async {
                let (access, executor) = resolver.resolve(state, name).await?;
                let argv = access.exec(command, false);
                let exit = executor
                    .run_streaming(&argv, None, |stream, line| match stream {
                        Stream::Stdout => printer.data(format!("{prefix} {line}")),
                        Stream::Stderr => printer.data_err(format!("{prefix} {line}")),
                    })
                    .await?;
                Ok::<Exit, Error>(exit)
            }
            .await;
            match result {
                Ok(exit) if exit.success() => true,
                Ok(exit) => {
                    printer.data_err(format!("{prefix} [{exit}]"));
                    false
                }
                Err(err) => {
                    printer.data_err(format!("{prefix} error: {}", err.render().message));
                    false
                }
            }
        }
    });
    let results = join_all(jobs).await;
    let failed = results.iter().filter(|ok| !**ok).count();
    if failed == 0 {
        Ok(ExitStatus::Success)
    } else {
        ctx.printer.warn(format!(
            "the command failed in {failed} of {} workspaces",
            results.len()
        ));
        Ok(ExitStatus::Failure)
    }
}
