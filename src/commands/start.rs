//! `kamal-dev start`: start stopped workspaces (their machines first when needed), then run
//! each one's postStartCommand.

use clap::Args as ClapArgs;

use super::{Context, Target};
use crate::deploy::container::Blueprint;
use crate::deploy::fleet::Fleet;
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to start
    pub name: Option<String>,

    /// Start every workspace
    #[arg(long)]
    pub all: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let target = Target::from_args("start", args.name, args.all)?;
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "start")?;
    let state = fleet.read_state().await?;
    let names = manage::select(&state, target.name())?;
    if names.is_empty() {
        ctx.printer
            .info("No workspaces recorded: nothing to start.");
        return Ok(ExitStatus::Success);
    }
    if args.dry_run {
        for name in &names {
            ctx.printer
                .data(crate::shell::join(&crate::docker::start(name)));
        }
        ctx.printer.info("Dry run: nothing was changed.");
        return Ok(ExitStatus::Success);
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
