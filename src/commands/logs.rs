//! `kamal-dev logs`: a workspace container's logs, streamed (`-f` keeps following until
//! Ctrl-C).

use clap::Args as ClapArgs;

use super::Context;
use crate::deploy::access::lookup;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus};
use crate::remote::Stream;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace whose logs to show
    pub name: String,

    /// Keep following new output
    #[arg(short, long)]
    pub follow: bool,

    /// Number of lines to show from the end
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "logs")?;
    let result = logs(ctx, &fleet, &args).await;
    fleet.close().await;
    result
}

async fn logs(ctx: &Context, fleet: &Fleet, args: &Args) -> Result<ExitStatus, Error> {
    let state = fleet.read_state().await?;
    let workspace = lookup(&state, &args.name)?;
    let machine = workspace
        .machine
        .clone()
        .ok_or_else(|| Error::failed(format!("workspace {} has no machine recorded", args.name)))?;
    let executor = fleet.executor(&machine).await?;
    let command = crate::docker::logs(&workspace.container_name, args.follow, args.tail);
    let printer = &ctx.printer;
    let exit = executor
        .run_streaming(&command, None, |stream, line| match stream {
            Stream::Stdout => printer.data(line),
            Stream::Stderr => printer.data_err(line),
        })
        .await?;
    Ok(super::ssh::exit_status(&exit))
}
