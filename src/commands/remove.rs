//! `kamal-dev remove`: remove workspaces; destroy a cloud machine with its disks once no
//! workspace is left on it. Entries leave the state only when the provider confirms.

use clap::Args as ClapArgs;

use super::{Context, Target};
use crate::deploy::fleet::Fleet;
use crate::deploy::manage;
use crate::error::{Error, ExitStatus, Message};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to remove
    pub name: Option<String>,

    /// Remove every workspace
    #[arg(long)]
    pub all: bool,

    /// Do not ask for confirmation
    #[arg(long)]
    pub force: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let target = Target::from_args("remove", args.name, args.all)?;
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "remove")?;
    let state = fleet.read_state().await?;
    let names = manage::select(&state, target.name())?;
    if names.is_empty() {
        ctx.printer
            .info("No workspaces recorded: nothing to remove.");
        return Ok(ExitStatus::Success);
    }
    let cloud = fleet.config().provider.kind.is_cloud();
    let doomed: Vec<String> = state
        .machines
        .keys()
        .filter(|machine| {
            cloud
                && state
                    .workspaces
                    .iter()
                    .filter(|(_, w)| w.machine.as_deref() == Some(machine.as_str()))
                    .all(|(n, _)| names.contains(n))
        })
        .cloned()
        .collect();
    ctx.printer.info(format!("Remove {}", names.join(", ")));
    if !doomed.is_empty() {
        ctx.printer.info(format!(
            "  and destroy machine(s) {} with their disks",
            doomed.join(", ")
        ));
    }
    if args.dry_run {
        ctx.printer.info("Dry run: nothing was changed.");
        return Ok(ExitStatus::Success);
    }
    if !args.force && !ctx.global.yes {
        match ctx.printer.confirm("Remove?") {
            Some(true) => {}
            Some(false) => return Err(Error::failed("remove cancelled; nothing was changed")),
            None => {
                return Err(Message::new(
                    "refusing to remove without confirmation: there is no terminal to ask on",
                    ExitStatus::Usage,
                )
                .with_hint("pass --force to remove without asking")
                .into());
            }
        }
    }
    let reporter = super::reporter(ctx, &names);
    let (outcomes, machines) = manage::remove(&fleet, &names, reporter.as_ref()).await?;
    if let Err(err) = super::ssh_config::refresh(&fleet).await {
        ctx.printer.warn(format!(
            "could not update the SSH config: {}",
            err.render().message
        ));
    }
    fleet.close().await;
    drop(reporter);
    for machine in &machines {
        match &machine.result {
            Ok(true) => ctx
                .printer
                .info(format!("machine {} destroyed with its disks", machine.machine)),
            Ok(false) => {}
            Err(err) => ctx.printer.warn(format!(
                "machine {} was NOT destroyed and may still bill: {err}. It stays in the state marked `removing`; run `kamal-dev remove` again.",
                machine.machine
            )),
        }
    }
    super::finish(ctx, "removed", &outcomes)
}
