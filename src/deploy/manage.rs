//! Living with the fleet: stop, start, remove and live status of recorded workspaces. Each
//! operation works machine by machine, concurrently, with one result per workspace; one
//! unreachable machine never stops the others. The state changes only after the machine or
//! provider confirms. Emits events; never prints.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::future::join_all;
use serde::Serialize;

use crate::error::{Error, ExitStatus, Message};
use crate::provider::{MachineId, MachineState, Provider as _};
use crate::remote::Executor;
use crate::state::{MachineStatus, State, WorkspaceStatus};

use super::apply::{Outcome, container_status};
use super::container::Blueprint;
use super::events::{Event, Reporter, Step};
use super::fleet::Fleet;

/// The workspaces a command acts on: one by name, or all (`None`), in name order.
pub fn select(state: &State, name: Option<&str>) -> Result<Vec<String>, Error> {
    match name {
        None => Ok(state.workspaces.keys().cloned().collect()),
        Some(name) if state.workspaces.contains_key(name) => Ok(vec![name.to_string()]),
        Some(name) => {
            let known: Vec<&str> = state.workspaces.keys().map(String::as_str).collect();
            let hint = if known.is_empty() {
                "no workspaces are recorded; deploy some with `kamal-dev deploy`".to_string()
            } else {
                format!("known workspaces: {}", known.join(", "))
            };
            Err(
                Message::new(format!("no workspace named {name:?}"), ExitStatus::Usage)
                    .with_hint(hint)
                    .into(),
            )
        }
    }
}

/// Group workspace names by the machine recorded for them.
fn by_machine(state: &State, names: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in names {
        let machine = state
            .workspaces
            .get(name)
            .and_then(|w| w.machine.clone())
            .unwrap_or_default();
        groups.entry(machine).or_default().push(name.clone());
    }
    groups
}

fn failed_all(
    names: &[String],
    reporter: &dyn Reporter,
    step: Step,
    error: &str,
    started: Instant,
) -> Vec<Outcome> {
    names
        .iter()
        .map(|name| {
            reporter.event(Event::Failed {
                subject: name.clone(),
                step,
                error: error.to_string(),
                elapsed: started.elapsed(),
            });
            Outcome {
                workspace: name.clone(),
                result: Err(error.to_string()),
            }
        })
        .collect()
}

fn done(reporter: &dyn Reporter, name: &str, outcome: &str, started: Instant) -> Outcome {
    reporter.event(Event::Done {
        subject: name.to_string(),
        outcome: outcome.to_string(),
        address: None,
        elapsed: started.elapsed(),
    });
    Outcome {
        workspace: name.to_string(),
        result: Ok(outcome.to_string()),
    }
}

async fn set_status(fleet: &Fleet, name: &str, status: WorkspaceStatus) -> Result<(), Error> {
    let name = name.to_string();
    fleet
        .update(move |state| {
            if let Some(workspace) = state.workspaces.get_mut(&name) {
                workspace.set_status(status);
            }
            Ok(())
        })
        .await
}

async fn docker(executor: &Executor, argv: &[String]) -> Result<(), Error> {
    let output = executor.run(argv, None).await?;
    if output.success() {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "`{}` failed on {}: {}",
            argv.iter().take(2).cloned().collect::<Vec<_>>().join(" "),
            executor.label(),
            output.stderr_text().trim()
        )))
    }
}

/// `docker stop` each workspace; machines keep running.
pub async fn stop(
    fleet: &Fleet,
    names: &[String],
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, Error> {
    let state = fleet.read_state().await?;
    let started = Instant::now();
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| async move {
            let executor = match fleet.executor(&machine).await {
                Ok(executor) => executor,
                Err(err) => {
                    return failed_all(&names, reporter, Step::Connect, &err.one_line(), started);
                }
            };
            let per = names.iter().map(|name| {
                let executor = executor.clone();
                async move {
                    reporter.event(Event::Step {
                        subject: name.clone(),
                        step: Step::Stop,
                        detail: None,
                    });
                    let result = match container_status(&executor, name).await {
                        None => Err(Error::failed(format!(
                            "container {name} does not exist on {}",
                            executor.label()
                        ))),
                        Some(status) if status != "running" => Ok(()),
                        Some(_) => docker(&executor, &crate::docker::stop(name)).await,
                    };
                    match result {
                        Ok(()) => match set_status(fleet, name, WorkspaceStatus::Stopped).await {
                            Ok(()) => done(reporter, name, "stopped", started),
                            Err(err) => failed_all(
                                std::slice::from_ref(name),
                                reporter,
                                Step::Stop,
                                &err.one_line(),
                                started,
                            )
                            .remove(0),
                        },
                        Err(err) => failed_all(
                            std::slice::from_ref(name),
                            reporter,
                            Step::Stop,
                            &err.one_line(),
                            started,
                        )
                        .remove(0),
                    }
                }
            });
            join_all(per).await
        });
    Ok(join_all(jobs).await.into_iter().flatten().collect())
}

/// Start the machine if needed, then each container, then `postStartCommand`.
pub async fn start(
    fleet: &Fleet,
    names: &[String],
    blueprint: Option<&Blueprint>,
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, Error> {
    let state = fleet.read_state().await?;
    let started = Instant::now();
    let jobs = by_machine(&state, names).into_iter().map(|(machine, names)| {
        let record = state.machines.get(&machine).cloned();
        async move {
            if fleet.config().provider.kind.is_cloud()
                && let Some(id) = record.as_ref().and_then(|m| m.id.clone())
            {
                for name in &names {
                    reporter.event(Event::Step { subject: name.clone(), step: Step::WaitForMachine, detail: None });
                }
                let id = MachineId(id);
                let result = match fleet.provider.get(&id).await {
                    Ok(Some(found)) if found.state == MachineState::Running => Ok(()),
                    Ok(Some(_)) => fleet.provider.start(&id).await.map(drop),
                    Ok(None) => Err(crate::provider::ProviderError::Unsupported {
                        provider: "upcloud",
                        what: format!("find machine {machine}: the provider no longer has it"),
                    }),
                    Err(err) => Err(err),
                };
                if let Err(err) = result {
                    return failed_all(&names, reporter, Step::WaitForMachine, &Error::from(err).one_line(), started);
                }
                let name = machine.clone();
                let _ = fleet
                    .update(move |state| {
                        if let Some(m) = state.machines.get_mut(&name) {
                            m.set_status(MachineStatus::Running);
                        }
                        Ok(())
                    })
                    .await;
            }
            let executor = match fleet.executor(&machine).await {
                Ok(executor) => executor,
                Err(err) => return failed_all(&names, reporter, Step::Connect, &err.one_line(), started),
            };
            let per = names.iter().map(|name| {
                let executor = executor.clone();
                async move {
                    reporter.event(Event::Step { subject: name.clone(), step: Step::Start, detail: None });
                    let result = async {
                        match container_status(&executor, name).await {
                            None => return Err(Error::failed(format!("container {name} does not exist on {}; run `kamal-dev deploy` to create it again", executor.label()))),
                            Some(status) if status == "running" => {}
                            Some(_) => docker(&executor, &crate::docker::start(name)).await?,
                        }
                        post_start(&executor, name, blueprint, reporter).await?;
                        // Ports published as "any free port" get new numbers on every start.
                        let ports = executor.run(&["docker", "port", name.as_str()], None).await?;
                        let ports: Vec<crate::state::PortMapping> =
                            super::container::published_ports(&ports.stdout_text())
                                .into_iter()
                                .map(|(container, host)| crate::state::PortMapping { host, container })
                                .collect();
                        let workspace = name.clone();
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
                    .await;
                    match result {
                        Ok(()) => done(reporter, name, "running", started),
                        Err(err) => failed_all(std::slice::from_ref(name), reporter, Step::Start, &err.one_line(), started).remove(0),
                    }
                }
            });
            join_all(per).await
        }
    });
    Ok(join_all(jobs).await.into_iter().flatten().collect())
}

async fn post_start(
    executor: &Executor,
    name: &str,
    blueprint: Option<&Blueprint>,
    reporter: &dyn Reporter,
) -> Result<(), Error> {
    let Some(blueprint) = blueprint else {
        return Ok(());
    };
    // The lifecycle commands and user come from the devcontainer and the container's image.
    let image = executor
        .run(
            &[
                "docker",
                "inspect",
                "--type",
                "container",
                "--format",
                "{{.Config.Image}}",
                name,
            ],
            None,
        )
        .await?;
    let image = image.stdout_text().trim().to_string();
    let facts_json = executor
        .run(&["docker", "image", "inspect", image.as_str()], None)
        .await?;
    let facts = super::container::image_facts(&facts_json.stdout_text())
        .unwrap_or_else(|_| crate::devcontainer::up::ImageFacts::unlabelled_root());
    let container = blueprint.container(
        &facts,
        &super::container::WorkspaceInputs {
            name,
            machine: "",
            service: "",
            env_file: None,
            host_dir: "",
            local: true,
            publish: crate::config::Publish::Loopback,
            limits: crate::config::Limits::default(),
        },
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

/// What happened to a machine during `remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineOutcome {
    pub machine: String,
    /// `Ok(true)`: destroyed with its disks; `Ok(false)`: kept (workspaces left, or not ours
    /// to destroy); `Err`: the provider did not confirm, so it stays in the state.
    pub result: Result<bool, String>,
}

/// Remove workspaces: container and env file go; a cloud machine with no workspace left is
/// destroyed with its disks; entries leave the state only once that is confirmed.
pub async fn remove(
    fleet: &Fleet,
    names: &[String],
    reporter: &dyn Reporter,
) -> Result<(Vec<Outcome>, Vec<MachineOutcome>), Error> {
    let state = fleet.read_state().await?;
    let started = Instant::now();
    {
        let names = names.to_vec();
        fleet
            .update(move |state| {
                for name in &names {
                    if let Some(w) = state.workspaces.get_mut(name) {
                        w.set_status(WorkspaceStatus::Removing);
                    }
                }
                Ok(())
            })
            .await?;
    }
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| {
            let state = &state;
            async move {
                let remaining = state
                    .workspaces
                    .iter()
                    .filter(|(n, w)| {
                        w.machine.as_deref() == Some(machine.as_str()) && !names.contains(n)
                    })
                    .count();
                let record = state.machines.get(&machine).cloned();
                let destroy = fleet.config().provider.kind.is_cloud()
                    && remaining == 0
                    && record.as_ref().is_some_and(|m| m.id.is_some());
                let mut outcomes = Vec::new();
                let executor = fleet.executor(&machine).await;
                for name in &names {
                    reporter.event(Event::Step {
                        subject: name.clone(),
                        step: Step::Remove,
                        detail: None,
                    });
                    let removed = match &executor {
                        Ok(executor) => {
                            let rm = executor.run(&crate::docker::rm(name, true), None).await;
                            let env = fleet.env_file_path(name);
                            let _ = executor.run(&["rm", "-f", env.as_str()], None).await;
                            match rm {
                                Ok(out)
                                    if out.success()
                                        || container_status(executor, name).await.is_none() =>
                                {
                                    Ok(())
                                }
                                Ok(out) => Err(out.stderr_text().trim().to_string()),
                                Err(err) => Err(Error::from(err).one_line()),
                            }
                        }
                        // The machine is going away with everything on it.
                        Err(_) if destroy => Ok(()),
                        Err(err) => Err(err.one_line()),
                    };
                    outcomes.push((name.clone(), removed));
                }
                let machine_result = if destroy {
                    reporter.event(Event::Step {
                        subject: names.first().cloned().unwrap_or_default(),
                        step: Step::DestroyMachine,
                        detail: Some(machine.clone()),
                    });
                    let id = record
                        .as_ref()
                        .and_then(|m| m.id.clone())
                        .unwrap_or_default();
                    match fleet.provider.delete(&MachineId(id)).await {
                        Ok(()) => Ok(true),
                        Err(err) => Err(Error::from(err).one_line()),
                    }
                } else {
                    Ok(false)
                };
                // Record what was confirmed.
                let confirmed: Vec<String> = outcomes
                    .iter()
                    .filter(|(_, r)| r.is_ok() && (!destroy || machine_result.is_ok()))
                    .map(|(n, _)| n.clone())
                    .collect();
                let forget_machine = match &machine_result {
                    Ok(true) => true,
                    // Nothing of ours to destroy on this host or an existing one.
                    Ok(false) => !fleet.config().provider.kind.is_cloud() && remaining == 0,
                    Err(_) => false,
                };
                let machine_error = machine_result.as_ref().err().cloned();
                let name = machine.clone();
                let update = fleet
                    .update(move |state| {
                        for workspace in &confirmed {
                            state.forget_workspace(workspace);
                        }
                        if forget_machine {
                            state.forget_machine(&name);
                        } else if let (Some(error), Some(m)) =
                            (machine_error, state.machines.get_mut(&name))
                        {
                            m.status = MachineStatus::Removing;
                            m.last_error = Some(error);
                        }
                        Ok(())
                    })
                    .await;
                let mut results = Vec::new();
                for (name, removed) in outcomes {
                    let result = match (&removed, &machine_result, &update) {
                        (_, _, Err(err)) => Err(err.one_line()),
                        (Err(e), _, _) => Err(e.clone()),
                        (Ok(()), Err(e), _) => {
                            Err(format!("machine {machine} was not destroyed: {e}"))
                        }
                        (Ok(()), Ok(_), Ok(())) => Ok(()),
                    };
                    results.push(match result {
                        Ok(()) => done(reporter, &name, "removed", started),
                        Err(e) => failed_all(
                            std::slice::from_ref(&name),
                            reporter,
                            Step::Remove,
                            &e,
                            started,
                        )
                        .remove(0),
                    });
                }
                (
                    results,
                    MachineOutcome {
                        machine,
                        result: machine_result,
                    },
                )
            }
        });
    let mut outcomes = Vec::new();
    let mut machines = Vec::new();
    for (results, machine) in join_all(jobs).await {
        outcomes.extend(results);
        machines.push(machine);
    }
    Ok((outcomes, machines))
}

/// Live status of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveStatus {
    pub name: String,
    pub machine: String,
    pub ip: Option<String>,
    /// As recorded in the state.
    pub recorded: String,
    /// The provider's view of the machine (`running`, `stopped`, `gone`, or an error).
    pub machine_state: String,
    /// `docker inspect` State.Status, `missing`, or why it could not be asked.
    pub container: String,
    /// Container start time (RFC 3339), when running.
    pub started_at: Option<String>,
    pub ports: Vec<String>,
}

/// Ask the provider and Docker about each workspace.
pub async fn status(fleet: &Fleet, names: &[String]) -> Result<Vec<LiveStatus>, Error> {
    let state = fleet.read_state().await?;
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| {
            let state = &state;
            async move {
                let record = state.machines.get(&machine);
                let machine_state = match record.and_then(|m| m.id.clone()) {
                    Some(id) if fleet.config().provider.kind.is_cloud() => {
                        match fleet.provider.get(&MachineId(id)).await {
                            Ok(Some(m)) => format!("{:?}", m.state).to_lowercase(),
                            Ok(None) => "gone".to_string(),
                            Err(err) => format!("unknown ({})", Error::from(err).one_line()),
                        }
                    }
                    _ => "running".to_string(),
                };
                let executor = if machine_state == "running" {
                    Some(fleet.executor(&machine).await)
                } else {
                    None
                };
                let mut out = Vec::new();
                for name in names {
                    let workspace = state.workspaces.get(&name);
                    let (container, started_at) = match &executor {
                        Some(Ok(executor)) => {
                            let inspect = executor
                                .run(
                                    &[
                                        "docker",
                                        "inspect",
                                        "--type",
                                        "container",
                                        "--format",
                                        "{{.State.Status}} {{.State.StartedAt}}",
                                        name.as_str(),
                                    ],
                                    None,
                                )
                                .await;
                            match inspect {
                                Ok(o) if o.success() => {
                                    let text = o.stdout_text();
                                    let mut parts = text.split_whitespace();
                                    let status = parts.next().unwrap_or("unknown").to_string();
                                    let started = parts
                                        .next()
                                        .map(str::to_string)
                                        .filter(|_| status == "running");
                                    (status, started)
                                }
                                Ok(_) => ("missing".to_string(), None),
                                Err(err) => {
                                    (format!("unknown ({})", Error::from(err).one_line()), None)
                                }
                            }
                        }
                        Some(Err(err)) => (format!("unreachable ({})", err.one_line()), None),
                        None => ("-".to_string(), None),
                    };
                    out.push(LiveStatus {
                        name: name.clone(),
                        machine: machine.clone(),
                        ip: workspace.and_then(|w| w.vm_ip.clone()),
                        recorded: workspace.map_or("missing".into(), |w| w.status.to_string()),
                        machine_state: machine_state.clone(),
                        container,
                        started_at,
                        ports: workspace
                            .map(|w| {
                                w.ports
                                    .iter()
                                    .map(|p| format!("{}->{}", p.host, p.container))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
                out
            }
        });
    let mut all: Vec<LiveStatus> = join_all(jobs).await.into_iter().flatten().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}
