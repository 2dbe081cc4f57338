//! `kamal-dev start`: start stopped workspaces (their machines first when needed), then run
//! each one's postStartCommand.

use clap::Args as ClapArgs;

use super::{Context, Selection, Targets};
use crate::deploy::container::Blueprint;
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
#[command(mut_args(Targets::help("Workspace to start", "Start every workspace")))]
pub struct Args {
    #[command(flatten)]
    pub targets: Targets,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let Selection { fleet, names, .. } = args.targets.select(ctx, "start").await?;
    if names.is_empty() {
        return Ok(super::nothing_to(ctx, "start"));
    }
    if args.dry_run {
        let commands = names.iter().map(|name| crate::docker::start(name));
        return Ok(super::dry_run(ctx, commands));
    }
    let blueprint = match Blueprint::load(fleet.config(), fleet.project_root(), None) {
        Ok(blueprint) => Some(blueprint),
        Err(err) => {
            ctx.printer.warn(format!(
                "postStartCommand will not run: {}",
                err.render().message
            ));
            None
        }
    };
    let reporter = super::reporter(ctx, &names);
    let outcomes = manage::start(&fleet, &names, blueprint.as_ref(), reporter.as_ref()).await?;
    fleet.close().await;
    drop(reporter);
    super::finish(ctx, "running", &outcomes)
}
