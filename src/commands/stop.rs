//! `kamal-dev stop`: stop workspace containers, keeping their machines (which keep billing:
//! the output says which).

use clap::Args as ClapArgs;

use super::{Context, Selection, Targets};
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
#[command(mut_args(Targets::help("Workspace to stop", "Stop every workspace")))]
pub struct Args {
    #[command(flatten)]
    pub targets: Targets,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let Selection {
        fleet,
        state,
        names,
    } = args.targets.select(ctx, "stop").await?;
    if names.is_empty() {
        return Ok(super::nothing_to(ctx, "stop"));
    }
    if args.dry_run {
        let commands = names.iter().map(|name| crate::docker::stop(name));
        return Ok(super::dry_run(ctx, commands));
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
