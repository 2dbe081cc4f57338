//! `kamal-dev remove`: remove workspaces; destroy a cloud machine with its disks once no
//! workspace is left on it. Entries leave the state only when the provider confirms.

use clap::Args as ClapArgs;

use super::{Context, Selection, Targets};
use crate::deploy::manage;
use crate::error::{Error, ExitStatus, Message};

#[derive(Debug, ClapArgs)]
#[command(mut_args(Targets::help("Workspace to remove", "Remove every workspace")))]
pub struct Args {
    #[command(flatten)]
    pub targets: Targets,

    /// Do not ask for confirmation
    #[arg(long)]
    pub force: bool,

    /// Show what would be done without doing it
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let Selection {
        fleet,
        state,
        names,
    } = args.targets.select(ctx, "remove").await?;
    if names.is_empty() {
        return Ok(super::nothing_to(ctx, "remove"));
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
        return Ok(super::dry_run(ctx, Vec::new()));
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
