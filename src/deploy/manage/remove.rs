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
use crate::state::{MachineStatus, State, WorkspaceStatus};

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
            remove_on_machine(fleet, &state, machine, names, reporter, started)
        });
    let mut outcomes = Vec::new();
    let mut machines = Vec::new();
    for (results, machine) in join_all(jobs).await {
        outcomes.extend(results);
        machines.push(machine);
    }
    Ok((outcomes, machines))
}

/// One machine's share of a `remove`: its workspaces' containers and env files, then the
/// machine itself when nothing of ours is left on it, then the state.
async fn remove_on_machine(
    fleet: &Fleet,
    state: &State,
    machine: String,
    names: Vec<String>,
    reporter: &dyn Reporter,
    started: Instant,
) -> (Vec<Outcome>, MachineOutcome) {
    let remaining = state
        .workspaces
        .iter()
        .filter(|(n, w)| w.machine.as_deref() == Some(machine.as_str()) && !names.contains(n))
        .count();
    let record = state.machines.get(&machine).cloned();
    let cloud = fleet.config().provider.kind.is_cloud();
    let id = record.as_ref().and_then(|m| m.id.clone());
    let destroy = cloud && remaining == 0 && id.is_some();
    let removed = remove_containers(fleet, &machine, &names, destroy, reporter).await;
    let machine_result = match id.filter(|_| destroy) {
        Some(id) => {
            reporter.event(Event::Step {
                subject: names.first().cloned().unwrap_or_default(),
                step: Step::DestroyMachine,
                detail: Some(machine.clone()),
            });
            match fleet.provider.delete(&MachineId(id)).await {
                Ok(()) => Ok(true),
                Err(err) => Err(Error::from(err).one_line()),
            }
        }
        None => Ok(false),
    };
    // Nothing of ours to destroy on this host or an existing one: forget it once empty.
    let forget_machine = match &machine_result {
        Ok(destroyed) => *destroyed || (!cloud && remaining == 0),
        Err(_) => false,
    };
    let confirmed: Vec<String> = removed
        .iter()
        .filter(|(_, r)| r.is_ok() && (!destroy || machine_result.is_ok()))
        .map(|(n, _)| n.clone())
        .collect();
    let update = record_removal(
        fleet,
        &machine,
        confirmed,
        forget_machine,
        machine_result.as_ref().err().cloned(),
    )
    .await;
    let results = removed
        .into_iter()
        .map(|(name, removed)| {
            let result = match (&removed, &machine_result, &update) {
                (_, _, Err(err)) => Err(err.one_line()),
                (Err(e), _, _) => Err(e.clone()),
                (Ok(()), Err(e), _) => Err(format!("machine {machine} was not destroyed: {e}")),
                (Ok(()), Ok(_), Ok(())) => Ok(()),
            };
            match result {
                Ok(()) => done(reporter, &name, "removed", started),
                Err(e) => failed(reporter, &name, Step::Remove, &e, started),
            }
        })
        .collect();
    (
        results,
        MachineOutcome {
            machine,
            result: machine_result,
        },
    )
}

/// Remove each workspace's container and env file on `machine`. A machine that cannot be
/// reached but is about to be destroyed counts as done: everything on it goes with it.
async fn remove_containers(
    fleet: &Fleet,
    machine: &str,
    names: &[String],
    destroy: bool,
    reporter: &dyn Reporter,
) -> Vec<(String, Result<(), String>)> {
    let executor = fleet.executor(machine).await;
    let mut removed = Vec::new();
    for name in names {
        reporter.event(Event::Step {
            subject: name.clone(),
            step: Step::Remove,
            detail: None,
        });
        let result = match &executor {
            Ok(executor) => {
                let rm = executor.run(&crate::docker::rm(name, true), None).await;
                let env = fleet.env_file_path(name);
                let _ = executor.run(&["rm", "-f", env.as_str()], None).await;
                match rm {
                    Ok(out)
                        if out.success() || container_status(executor, name).await.is_none() =>
                    {
                        Ok(())
                    }
                    Ok(out) => Err(out.stderr_text().trim().to_string()),
                    Err(err) => Err(Error::from(err).one_line()),
                }
            }
            Err(_) if destroy => Ok(()),
            Err(err) => Err(err.one_line()),
        };
        removed.push((name.clone(), result));
    }
    removed
}

/// Forget the confirmed workspaces (and the machine when it is gone); a machine the
/// provider did not destroy stays, marked `removing` with the error.
async fn record_removal(
    fleet: &Fleet,
    machine: &str,
    confirmed: Vec<String>,
    forget_machine: bool,
    machine_error: Option<String>,
) -> Result<(), Error> {
    let name = machine.to_string();
    fleet
        .update(move |state| {
            for workspace in &confirmed {
                state.forget_workspace(workspace);
            }
            if forget_machine {
                state.forget_machine(&name);
            } else if let (Some(error), Some(m)) = (machine_error, state.machines.get_mut(&name)) {
                m.status = MachineStatus::Removing;
                m.last_error = Some(error);
            }
            Ok(())
        })
        .await
}
