//! `start`: start a cloud machine when it is stopped, then each workspace's container, then
//! its `postStartCommand`; record the host ports Docker assigned. Never prints.

use std::time::Instant;

use futures::future::join_all;

use crate::deploy::apply::{Outcome, container_status, inspect};
use crate::deploy::container::{self, Blueprint};
use crate::deploy::events::{Event, Reporter, Step};
use crate::deploy::fleet::Fleet;
use crate::error::Error;
use crate::provider::{MachineId, MachineState, Provider as _};
use crate::remote::Executor;
use crate::state::{MachineStatus, PortMapping, WorkspaceStatus};

use super::{by_machine, docker, each_workspace, failed_all};

/// Start the machine if needed, then each container, then `postStartCommand`.
pub async fn start(
    fleet: &Fleet,
    names: &[String],
    blueprint: Option<&Blueprint>,
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, Error> {
    let state = fleet.read_state().await?;
    let started = Instant::now();
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| {
            let record = state.machines.get(&machine).cloned();
            async move {
                if fleet.config().provider.kind.is_cloud()
                    && let Some(id) = record.as_ref().and_then(|m| m.id.clone())
                {
                    for name in &names {
                        reporter.event(Event::Step {
                            subject: name.clone(),
                            step: Step::WaitForMachine,
                            detail: None,
                        });
                    }
                    if let Err(err) = wake(fleet, &machine, MachineId(id)).await {
                        return failed_all(
                            &names,
                            reporter,
                            Step::WaitForMachine,
                            &err.one_line(),
                            started,
                        );
                    }
                }
                let step = (Step::Start, "running");
                let each = async |executor: &Executor, name: &str| {
                    start_one(fleet, &machine, executor, name, blueprint, reporter).await
                };
                each_workspace(fleet, reporter, started, &machine, &names, step, each).await
            }
        });
    Ok(join_all(jobs).await.into_iter().flatten().collect())
}

/// Start a cloud machine unless it runs already, then record it as running.
async fn wake(fleet: &Fleet, machine: &str, id: MachineId) -> Result<(), Error> {
    match fleet.provider.get(&id).await? {
        Some(found) if found.state == MachineState::Running => {}
        Some(_) => drop(fleet.provider.start(&id).await?),
        None => {
            return Err(crate::error::Message::new(
                format!(
                    "machine {machine} ({}) is in the state file but {} no longer has it",
                    id.0,
                    fleet.config().provider.kind.name()
                ),
                crate::error::ExitStatus::Failure,
            )
            .with_hint(
                "run `kamal-dev list --rebuild` to rebuild the state from the provider, or `kamal-dev deploy` to create it again",
            )
            .into());
        }
    }
    let name = machine.to_string();
    let _ = fleet
        .update(move |state| {
            if let Some(m) = state.machines.get_mut(&name) {
                m.set_status(MachineStatus::Running);
            }
            Ok(())
        })
        .await;
    Ok(())
}

/// Start one container on its reachable machine and record it as running with its ports.
async fn start_one(
    fleet: &Fleet,
    machine: &str,
    executor: &Executor,
    name: &str,
    blueprint: Option<&Blueprint>,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    match container_status(executor, name).await {
        None => {
            return Err(Error::failed(format!(
                "container {name} does not exist on {}; run `kamal-dev deploy` to create it again",
                executor.label()
            )));
        }
        Some(status) if status == "running" => {}
        Some(_) => docker(executor, &crate::docker::start(name)).await?,
    }
    post_start(fleet, machine, executor, name, blueprint, reporter).await?;
    // Ports published as "any free port" get new numbers on every start.
    let ports = executor
        .run(&crate::docker::status_and_ports(name), None)
        .await?;
    let ports: Vec<PortMapping> = container::status_and_ports(&ports.stdout_text())
        .1
        .into_iter()
        .map(|(container, host)| PortMapping { host, container })
        .collect();
    let workspace = name.to_string();
    fleet
        .update(move |state| {
            if let Some(record) = state.workspaces.get_mut(&workspace) {
                record.ports = ports;
                record.set_status(WorkspaceStatus::Running);
            }
            Ok(())
        })
        .await
}

async fn post_start(
    fleet: &Fleet,
    machine: &str,
    executor: &Executor,
    name: &str,
    blueprint: Option<&Blueprint>,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    let Some(blueprint) = blueprint else {
        return Ok(());
    };
    // The lifecycle commands and user come from the devcontainer and the container's image.
    let image = inspect(executor, name, "{{.Config.Image}}").await?;
    let image = image.stdout_text().trim().to_string();
    let facts_json = executor
        .run(&["docker", "image", "inspect", image.as_str()], None)
        .await?;
    let facts = container::image_facts(&facts_json.stdout_text())
        .unwrap_or_else(|_| crate::devcontainer::up::ImageFacts::unlabelled_root());
    let container = blueprint.container(
        &facts,
        &fleet.workspace_inputs(name, machine, &fleet.workspace_dir(name)),
    )?;
    for (hook, argvs) in container
        .lifecycle
        .iter()
        .filter(|(hook, _)| *hook == "postStartCommand")
    {
        reporter.event(Event::Step {
            subject: name.to_string(),
            step: Step::Lifecycle,
            detail: Some((*hook).to_string()),
        });
        for argv in argvs {
            let output = executor
                .run(&container.exec(name, argv.clone(), false), None)
                .await?;
            if !output.success() {
                return Err(Error::failed(format!(
                    "{hook} failed with exit code {}",
                    output
                        .exit
                        .code()
                        .map_or_else(|| "?".into(), |c| c.to_string())
                )));
            }
        }
    }
    Ok(())
}
