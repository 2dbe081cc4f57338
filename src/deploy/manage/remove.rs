//! `remove`: remove workspaces (container and env file); destroy a cloud machine with its
//! disks once no workspace is left on it. Entries leave the state only once the machine or
//! provider confirms; a machine the provider did not destroy stays, marked `removing`.
//! Never prints.

use std::time::Instant;

use futures::future::join_all;

use crate::deploy::apply::{Outcome, container_status};
use crate::deploy::events::{Event, Reporter, Step};
use crate::deploy::fleet::Fleet;
use crate::error::Error;
use crate::provider::{MachineId, Provider as _};
use crate::state::{MachineStatus, WorkspaceStatus};

use super::{by_machine, done, failed};

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
                        Err(e) => failed(reporter, &name, Step::Remove, &e, started),
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
