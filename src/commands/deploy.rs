//! `kamal-dev deploy`: plan, show the plan with its cost, confirm, apply, summarise. The
//! workflow itself lives in `deploy/`; this file turns flags into a request and renders the
//! outcome.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args as ClapArgs;

use super::Context;
use crate::config::{Bytes, Millicores, ProviderKind};
use crate::cost::{self, Extras};
use crate::deploy::apply::Run;
use crate::deploy::build::ImageStep;
use crate::deploy::container::{Blueprint, WorkspaceInputs};
use crate::deploy::fleet::Fleet;
use crate::deploy::plan::{self, Action, Capacity, Existing, Plan};
use crate::devcontainer::up::ImageFacts;
use crate::error::{Error, ExitStatus, Message};
use crate::output::{Printer, progress, table};
use crate::provider::Provider as _;
use crate::secrets::{EnvFile, Redactor};
use crate::state::WorkspaceStatus;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Number of workspaces to deploy (default: vms.count from the config)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub count: Option<u32>,

    /// Path to a devcontainer.json, overriding `image:` in the config
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,

    /// Show the plan and every command it would run, without changing anything
    #[arg(long)]
    pub dry_run: bool,

    /// Progress output: human text, or one JSON event per line on stdout
    #[arg(long, value_enum, default_value_t = DeployFormat::Text)]
    pub format: DeployFormat,

    /// Do not clone or upload `source:` into the workspaces
    #[arg(long)]
    pub no_source: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeployFormat {
    Text,
    Json,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let count = args.count.unwrap_or(settings.config.vms.count);
    let fleet = Fleet::open(settings, "deploy")?;
    for warning in fleet.secrets.warnings() {
        ctx.printer.warn(warning);
    }
    let (blueprint, downloads) =
        Blueprint::load_downloading(fleet.config(), fleet.project_root(), args.from.as_deref())
            .await?;
    for (reference, folder) in downloads {
        ctx.printer.verbose(format!(
            "downloaded Feature {reference} into {}",
            folder.display()
        ));
    }
    let (env_file, redactor) = secrets_env_file(&fleet, &ctx.printer).await?;

    let state = fleet.read_state().await?;
    let mut existing = Existing::default();
    for (name, workspace) in &state.workspaces {
        let done = matches!(
            workspace.status,
            WorkspaceStatus::Running | WorkspaceStatus::Stopped
        );
        let machine = workspace.machine.clone().unwrap_or_default();
        existing.workspaces.insert(name.clone(), (machine, done));
    }
    existing.machines = state.machines.keys().cloned().collect();
    let capacity = capacity(&fleet).await?;
    let plan = plan::build(fleet.config(), count, &existing, capacity);

    let machine_price = show_plan(ctx, &fleet, &plan, &blueprint).await?;
    if plan.is_noop() {
        ctx.printer.info(format!(
            "Nothing to do: all {count} workspaces are deployed. Use `kamal-dev status` to check them live."
        ));
        return Ok(ExitStatus::Success);
    }
    if args.dry_run {
        print_commands(ctx, &fleet, &plan, &blueprint, env_file.is_some())?;
        ctx.printer.info("Dry run: nothing was changed.");
        return Ok(ExitStatus::Success);
    }
    confirm(ctx)?;

    let subjects: Vec<String> = plan.workspaces.iter().map(|w| w.name.clone()).collect();
    let reporter: Arc<dyn crate::deploy::events::Reporter> = Arc::from(progress::reporter(
        args.format == DeployFormat::Json,
        ctx.printer.verbosity(),
        &subjects,
    ));
    let run = Run {
        fleet: &fleet,
        blueprint: &blueprint,
        env_file: env_file.as_ref().map(|e| &e.contents),
        redactor: &redactor,
        reporter: reporter.as_ref(),
        deliver_source: !args.no_source,
        machine_price: machine_price.map(|hourly| crate::state::Price {
            hourly_micros: hourly.micro_cents() / 100,
            currency: "EUR".to_string(),
        }),
    };
    // Ctrl-C stops the deploy where it is: every step already done is recorded, so the
    // next deploy resumes (a machine whose create answer was cut off is found again by its
    // label). A second Ctrl-C leaves at once.
    let outcomes = tokio::select! {
        outcomes = run.apply(&plan) => Some(outcomes),
        _ = tokio::signal::ctrl_c() => None,
    };
    if outcomes.is_none() {
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    }
    drop(reporter);
    if let Err(err) = super::ssh_config::refresh(&fleet).await {
        ctx.printer.warn(format!(
            "could not update .kamal/ssh_config: {}",
            err.render().message
        ));
    }
    fleet.close().await;
    if args.format == DeployFormat::Text {
        summary(ctx, &fleet, &plan).await;
    }
    let Some(outcomes) = outcomes else {
        return Err(Message::new("deploy interrupted (Ctrl-C)", ExitStatus::Code(130))
            .with_hint("what was created is recorded in .kamal/dev_state.yml: run `kamal-dev deploy` to resume, or `kamal-dev remove --all` to delete it")
            .into());
    };

    let failed: Vec<_> = outcomes.iter().filter(|o| o.result.is_err()).collect();
    if failed.is_empty() {
        let first = plan.workspaces.first().map_or("NAME", |w| w.name.as_str());
        ctx.printer.info(format!(
            "{} workspaces running. Try: kamal-dev exec {first} -- id",
            outcomes.len()
        ));
        Ok(ExitStatus::Success)
    } else {
        let causes: Vec<String> = failed
            .iter()
            .map(|o| {
                format!(
                    "{}: {}",
                    o.workspace,
                    o.result.as_ref().err().map_or("", String::as_str)
                )
            })
            .collect();
        Err(Message::new(
            format!(
                "{} of {} workspaces failed: {}",
                failed.len(),
                outcomes.len(),
                causes.join("; ")
            ),
            ExitStatus::Failure,
        )
        .with_hint("fix the cause and run `kamal-dev deploy` again: it resumes the failed workspaces and touches nothing else")
        .into())
    }
}

/// Select the configured secrets and render the env file (off the async threads: a
/// `$(command)` secret runs a process).
async fn secrets_env_file(
    fleet: &Fleet,
    printer: &Printer,
) -> Result<(Option<EnvFile>, Redactor), Error> {
    let keys = fleet.config().secrets.clone();
    let listed_in = fleet.config().path.clone();
    let secrets = Arc::clone(&fleet.secrets);
    let (selection, env_file) = tokio::task::spawn_blocking(move || {
        let selection = secrets.select(&keys, &listed_in)?;
        let env_file = if selection.secrets.is_empty() {
            None
        } else {
            Some(selection.env_file()?)
        };
        Ok::<_, crate::secrets::SecretsError>((selection, env_file))
    })
    .await
    .map_err(|e| Error::failed(format!("internal task failed: {e}")))??;
    for warning in &selection.warnings {
        printer.warn(warning);
    }
    if let Some(env_file) = &env_file {
        for warning in &env_file.warnings {
            printer.warn(warning);
        }
    }
    Ok((env_file, selection.redactor()))
}

/// What one machine of the configured plan holds, from the provider's catalog.
async fn capacity(fleet: &Fleet) -> Result<Option<Capacity>, Error> {
    let config = fleet.config();
    if !config.provider.kind.is_cloud() {
        return Ok(None);
    }
    let Some(plan) = &config.provider.plan else {
        return Ok(None);
    };
    let plans = fleet.provider.plans().await?;
    Ok(plans.iter().find(|p| &p.name == plan).map(|p| Capacity {
        cpus: Millicores(u64::from(p.cores) * 1000),
        memory: Bytes(p.memory_mib * 1024 * 1024),
    }))
}

async fn show_plan(
    ctx: &Context,
    fleet: &Fleet,
    plan: &Plan,
    blueprint: &Blueprint,
) -> Result<Option<cost::Money>, Error> {
    let config = fleet.config();
    let new_machines = plan
        .machines
        .iter()
        .filter(|m| m.action == Action::Create)
        .count();
    let create = plan.count(Action::Create);
    let resume = plan.count(Action::Resume);
    let keep = plan.count(Action::Keep);
    let place = match config.provider.kind {
        ProviderKind::Local => "this machine (local Docker)".to_string(),
        ProviderKind::Ssh => format!("{} existing host(s)", plan.machines.len()),
        ProviderKind::Upcloud | ProviderKind::Hetzner => format!(
            "{} machine(s) of {} {} in {} ({new_machines} new)",
            plan.machines.len(),
            config.provider.kind.name(),
            config.provider.plan.as_deref().unwrap_or("?"),
            config.provider.zone.as_deref().unwrap_or("?"),
        ),
    };
    ctx.printer.info(format!(
        "Plan: {} workspaces on {place}: {create} to create, {resume} to resume, {keep} unchanged",
        plan.workspaces.len()
    ));
    let image = blueprint.image_step()?;
    let image_line = match &image {
        ImageStep::Pull(image) => format!("image {image}"),
        ImageStep::Build { image, .. } => format!("image {image} (built from the devcontainer)"),
    };
    let limits = &plan.limits;
    let limit_line = format!(
        "limits {} CPU / {} memory",
        limits.cpus.map_or("no".to_string(), |c| c.to_string()),
        limits.memory.map_or("no".to_string(), |m| m.to_string()),
    );
    ctx.printer.info(format!("  {image_line}, {limit_line}"));
    let names: Vec<String> = plan
        .workspaces
        .iter()
        .filter(|w| w.action != Action::Keep)
        .map(|w| {
            if w.machine == w.name || fleet.is_local() {
                w.name.clone()
            } else {
                format!("{} (on {})", w.name, w.machine)
            }
        })
        .collect();
    if !names.is_empty() {
        ctx.printer.info(format!("  {}", names.join("  ")));
    }
    let mut hourly = None;
    if config.provider.kind.is_cloud() && new_machines > 0 {
        match price_line(fleet, plan.machines.len() as u64).await {
            Ok((line, each)) => {
                ctx.printer.info(format!("  {line}"));
                hourly = Some(each);
            }
            Err(err) => ctx.printer.warn(format!(
                "could not price the plan: {}",
                err.render().message
            )),
        }
    } else if !config.provider.kind.is_cloud() {
        ctx.printer
            .info("  no provider cost: the machines are yours");
    }
    Ok(hourly)
}

/// The plan's price line and the hourly price of one machine.
async fn price_line(fleet: &Fleet, machines: u64) -> Result<(String, cost::Money), Error> {
    let config = fleet.config();
    let zone = config.provider.zone.clone().unwrap_or_default();
    let plan_name = config.provider.plan.clone().unwrap_or_default();
    let quote = fleet.provider.prices(&zone).await?;
    let hourly = cost::machine_hourly(&quote.prices, &plan_name, &Extras::default())?;
    let estimate = cost::fleet_estimate(machines, hourly);
    let line = format!(
        "€{}/h each · €{}/h total · ≈ €{}/month if left running ({} h cap)",
        estimate.hourly_each.rounded(4),
        estimate.hourly_total.rounded(4),
        estimate.monthly_total.rounded(2),
        cost::MONTHLY_HOURS_CAP
    );
    Ok((line, hourly))
}

/// `--dry-run`: every command the deploy would run for new workspaces, quoted as a shell
/// would see it. Secrets are only ever named by the env file's path.
fn print_commands(
    ctx: &Context,
    fleet: &Fleet,
    plan: &Plan,
    blueprint: &Blueprint,
    has_secrets: bool,
) -> Result<(), Error> {
    let image = blueprint.image_step()?;
    match &image {
        ImageStep::Pull(image) => ctx.printer.data(format!(
            "# on each machine: use {image} if present, else: docker pull {}",
            crate::shell::quote(image)
        )),
        ImageStep::Build { builds, .. } => {
            let place = if fleet.is_local() {
                "on this machine"
            } else {
                "on each machine"
            };
            for build in builds {
                ctx.printer.data(format!(
                    "# {place}, unless the image is there: {} streamed into",
                    build.context_label()
                ));
                ctx.printer.data(crate::shell::join(&build.argv));
            }
        }
    }
    for workspace in plan.workspaces.iter().filter(|w| w.action != Action::Keep) {
        let env_file = has_secrets.then(|| fleet.env_file_path(&workspace.name));
        if let Some(path) = &env_file {
            ctx.printer.data(format!(
                "# {}: write the secrets env file {path} (mode 0600, over stdin)",
                workspace.name
            ));
        }
        let host_dir = fleet.workspace_dir(&workspace.name);
        let container = blueprint.container(
            &ImageFacts::unlabelled_root(),
            &WorkspaceInputs {
                env_file,
                ..fleet.workspace_inputs(&workspace.name, &workspace.machine, &host_dir)
            },
        )?;
        ctx.printer.data(crate::shell::join(&container.run));
        for (_, argvs) in &container.lifecycle {
            for argv in argvs {
                ctx.printer.data(crate::shell::join(&container.exec(
                    &workspace.name,
                    argv.clone(),
                    false,
                )));
            }
        }
    }
    Ok(())
}

fn confirm(ctx: &Context) -> Result<(), Error> {
    if ctx.global.yes {
        return Ok(());
    }
    match ctx.printer.confirm("Deploy?") {
        Some(true) => Ok(()),
        Some(false) => Err(Error::failed("deploy cancelled; nothing was changed")),
        None => Err(Message::new(
            "refusing to deploy without confirmation: there is no terminal to ask on",
            ExitStatus::Usage,
        )
        .with_hint("pass --yes (-y) to deploy without asking, or --dry-run to see the plan")
        .into()),
    }
}

async fn summary(ctx: &Context, fleet: &Fleet, plan: &Plan) {
    let Ok(state) = fleet.read_state().await else {
        return;
    };
    let rows: Vec<Vec<String>> = plan
        .workspaces
        .iter()
        .map(|w| {
            let record = state.workspaces.get(&w.name);
            let status = record.map_or("missing".to_string(), |r| r.status.to_string());
            let address = record
                .and_then(|r| r.vm_ip.clone())
                .unwrap_or_else(|| "-".into());
            let ports = record.map_or(String::new(), |r| {
                r.ports
                    .iter()
                    .map(|p| format!("{}->{}", p.host, p.container))
                    .collect::<Vec<_>>()
                    .join(",")
            });
            vec![w.name.clone(), address, status, ports]
        })
        .collect();
    ctx.printer
        .info(table::render(&["NAME", "IP", "STATUS", "PORTS"], &rows));
}
