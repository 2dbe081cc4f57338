//! `kamal-dev list`: workspaces from the state file, as a table, JSON or YAML; `--rebuild`
//! reconstructs the state from the provider's labelled machines and their containers.

use clap::Args as ClapArgs;
use serde::Serialize;

use super::Context;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus};
use crate::output::table;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,

    /// Rebuild the state from the provider's labelled machines and their containers
    #[arg(long)]
    pub rebuild: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Yaml,
}

/// One row: the seed's columns plus what the tool knows.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    ip: Option<String>,
    status: String,
    deployed_at: String,
    machine: Option<String>,
    container_name: String,
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "list")?;
    if args.rebuild {
        let rebuilt = crate::deploy::rebuild::rebuild(&fleet).await?;
        ctx.printer.info(format!(
            "Rebuilt the state: {} machine(s), {} workspace(s) found",
            rebuilt.machines, rebuilt.workspaces
        ));
        if !rebuilt.unreachable.is_empty() {
            ctx.printer.warn(format!(
                "could not reach {}: their workspaces are not listed",
                rebuilt.unreachable.join(", ")
            ));
        }
    }
    let state = fleet.read_state().await?;
    let rows: Vec<Row> = state
        .workspaces
        .iter()
        .map(|(name, w)| Row {
            name: name.clone(),
            ip: w.vm_ip.clone(),
            status: w.status.to_string(),
            deployed_at: w.deployed_at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
            machine: w.machine.clone(),
            container_name: w.container_name.clone(),
            ports: w
                .ports
                .iter()
                .map(|p| format!("{}->{}", p.host, p.container))
                .collect(),
            last_error: w.last_error.clone(),
        })
        .collect();
    match args.format {
        ListFormat::Json => ctx.printer.data(
            serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::failed(format!("could not render JSON: {e}")))?,
        ),
        ListFormat::Yaml => ctx.printer.data(
            serde_saphyr::to_string(&rows)
                .map_err(|e| Error::failed(format!("could not render YAML: {e}")))?
                .trim_end(),
        ),
        ListFormat::Table => {
            if rows.is_empty() {
                ctx.printer
                    .info("No workspaces recorded. Deploy some with `kamal-dev deploy`.");
                return Ok(ExitStatus::Success);
            }
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.ip.clone().unwrap_or_else(|| "-".into()),
                        r.status.clone(),
                        r.deployed_at.clone(),
                    ]
                })
                .collect();
            ctx.printer.data(table::render(
                &["NAME", "IP", "STATUS", "DEPLOYED AT"],
                &cells,
            ));
            for row in rows.iter().filter(|r| r.last_error.is_some()) {
                ctx.printer.info(format!(
                    "{}: {}",
                    row.name,
                    row.last_error.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    Ok(ExitStatus::Success)
}
