//! `kamal-dev status`: live machine and container state of workspaces, with uptime and the
//! machine's cost so far.

use clap::Args as ClapArgs;

use super::{Context, Selection, Targets};
use crate::deploy::manage;
use crate::error::{Error, ExitStatus};
use crate::output::table;

#[derive(Debug, ClapArgs)]
#[command(mut_args(Targets::help(
    "Workspace to inspect (default: every workspace)",
    "Inspect every workspace (the default)"
)))]
pub struct Args {
    #[command(flatten)]
    pub targets: Targets,

    /// Output format
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    Table,
    Json,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    // Only looking: without a NAME, every workspace (stop, start and remove need --all).
    let mut targets = args.targets;
    targets.all |= targets.name.is_none();
    let Selection { fleet, names, .. } = targets.select(ctx, "status").await?;
    let live = manage::status(&fleet, &names).await?;
    // Cost so far of each workspace's machine (shared by the workspaces packed on it).
    let running = match super::cost::running_now(&fleet).await {
        Ok(running) => running,
        Err(err) => {
            ctx.printer
                .warn(format!("cost so far unknown: {}", err.render().message));
            None
        }
    };
    let so_far = |machine: &str| -> String {
        running
            .as_ref()
            .and_then(|r| r.lines.iter().find(|l| l.name == machine))
            .map_or("-".to_string(), |l| format!("€{}", l.so_far.rounded(2)))
    };
    fleet.close().await;
    let now = jiff::Timestamp::now();
    let uptime = |started: Option<&String>| -> String {
        started
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map_or("-".to_string(), |t| {
                let secs = now.as_second().saturating_sub(t.as_second()).max(0);
                format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
            })
    };
    match args.format {
        StatusFormat::Json => ctx.printer.data(
            serde_json::to_string_pretty(&live)
                .map_err(|e| Error::failed(format!("could not render JSON: {e}")))?,
        ),
        StatusFormat::Table => {
            if live.is_empty() {
                ctx.printer.info("No workspaces recorded.");
                return Ok(ExitStatus::Success);
            }
            let rows: Vec<Vec<String>> = live
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.machine.clone(),
                        s.ip.clone().unwrap_or_else(|| "-".into()),
                        s.machine_state.clone(),
                        s.container.clone(),
                        uptime(s.started_at.as_ref()),
                        s.ports.join(","),
                        so_far(&s.machine),
                    ]
                })
                .collect();
            ctx.printer.data(table::render(
                &[
                    "NAME",
                    "MACHINE",
                    "IP",
                    "MACHINE STATE",
                    "CONTAINER",
                    "UPTIME",
                    "PORTS",
                ],
                &rows,
            ));
        }
    }
    let unhealthy = live.iter().filter(|s| s.container != "running").count();
    if unhealthy > 0 {
        ctx.printer.info(format!(
            "{unhealthy} of {} workspaces are not running",
            live.len()
        ));
    }
    Ok(ExitStatus::Success)
}
