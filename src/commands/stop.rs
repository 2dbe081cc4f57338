//! `kamal-dev stop`: stop workspace containers, keeping their machines (which keep billing:
//! the output says which).

use clap::Args as ClapArgs;

use super::{Context, Target};
use crate::deploy::fleet::Fleet;
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to stop
    pub name: Option<String>,

    /// Stop every workspace
    #[arg(long)]
    pub all: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let target = Target::from_args("stop", args.name, args.all)?;
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "stop")?;
    let state = fleet.read_state().await?;
    let names = manage::select(&state, target.name())?;
    if names.is_empty() {
        ctx.printer.info("No workspaces recorded: nothing to stop.");
        return Ok(ExitStatus::Success);
    }
    if args.dry_run {
        for name in &names {
            ctx.printer
                .data(crate::shell::join(&crate::docker::stop(name)));
        }
        ctx.printer.info("Dry run: nothing was changed.");
        return Ok(ExitStatus::Success);
    }
    let reporter = super::reporter(ctx, &names);
    let outcomes = manage::stop(&fleet, &names, reporter.as_ref()).await?;
    fleet.close().await;
    drop(reporter);
    if fleet.config().provider.kind.is_cloud() {
        let machines: std::collections::BTreeSet<String> = names
            .iter()
            .filter_map(|n| state.workspaces.get(n).and_then(|w| w.machine.clone()))
            .collect();
        ctx.printer.info(format!(
            "Machines keep running and billing: {}. `kamal-dev remove` destroys them.",
            machines.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    super::finish(ctx, "stopped", &outcomes)
}
