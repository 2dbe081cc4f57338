//! Living with the fleet: stop, start, remove and live status of recorded workspaces. Each
//! operation works machine by machine, concurrently, with one result per workspace; one
//! unreachable machine never stops the others. The state changes only after the machine or
//! provider confirms. Emits events; never prints.
//!
//! This file holds what the operations share (selecting workspaces, grouping them by machine,
//! the per-workspace fan-out, reporting one workspace's end); each operation has its own file.

mod remove;
mod start;
mod status;
mod stop;

use std::collections::BTreeMap;
use std::time::Instant;

use futures::future::join_all;

use crate::error::{Error, ExitStatus, Message};
use crate::remote::Executor;
use crate::state::State;

use super::apply::Outcome;
use super::events::{Event, Reporter, Step};
use super::fleet::Fleet;

pub use remove::{MachineOutcome, remove};
pub use start::start;
pub use status::{LiveStatus, status};
pub use stop::stop;

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

/// Report `step` as failed for one workspace.
fn failed(
    reporter: &dyn Reporter,
    name: &str,
    step: Step,
    error: &str,
    started: Instant,
) -> Outcome {
    reporter.event(Event::Failed {
        subject: name.to_string(),
        step,
        error: error.to_string(),
        elapsed: started.elapsed(),
    });
    Outcome {
        workspace: name.to_string(),
        result: Err(error.to_string()),
    }
}

/// Report `step` as failed for every workspace of a machine (it could not be reached).
fn failed_all(
    names: &[String],
    reporter: &dyn Reporter,
    step: Step,
    error: &str,
    started: Instant,
) -> Vec<Outcome> {
    names
        .iter()
        .map(|name| failed(reporter, name, step, error, started))
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

/// One workspace's end: `outcome` when `result` is ok, else `step` failed with its cause.
fn conclude(
    reporter: &dyn Reporter,
    name: &str,
    step: Step,
    outcome: &str,
    result: Result<(), Error>,
    started: Instant,
) -> Outcome {
    match result {
        Ok(()) => done(reporter, name, outcome, started),
        Err(err) => failed(reporter, name, step, &err.one_line(), started),
    }
}

/// Connect to `machine`, then apply `each` to its workspaces concurrently: `step` is reported
/// before each one, and after it `outcome` or the failure. An unreachable machine fails them all.
async fn each_workspace(
    fleet: &Fleet,
    reporter: &dyn Reporter,
    started: Instant,
    machine: &str,
    names: &[String],
    (step, outcome): (Step, &str),
    each: impl AsyncFn(&Executor, &str) -> Result<(), Error>,
) -> Vec<Outcome> {
    let executor = match fleet.executor(machine).await {
        Ok(executor) => executor,
        Err(err) => return failed_all(names, reporter, Step::Connect, &err.one_line(), started),
    };
    let per = names.iter().map(|name| {
        let (executor, each) = (&executor, &each);
        async move {
            reporter.event(Event::Step {
                subject: name.clone(),
                step,
                detail: None,
            });
            let result = each(executor, name).await;
            conclude(reporter, name, step, outcome, result, started)
        }
    });
    join_all(per).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MachineIntent;

    fn state(workspaces: &[(&str, &str)]) -> State {
        let mut state = State::default();
        for (name, machine) in workspaces {
            if !state.machines.contains_key(*machine) {
                let intent = MachineIntent {
                    provider: "local".into(),
                    zone: None,
                    plan: None,
                    price: None,
                };
                state.record_machine_intent(machine, intent).unwrap();
            }
            state
                .record_workspace_intent(name, machine, name, Vec::new())
                .unwrap();
        }
        state
    }

    #[test]
    fn select_takes_one_by_name_or_all_in_name_order() {
        let state = state(&[("app-2", "m1"), ("app-1", "m1")]);
        assert_eq!(select(&state, None).unwrap(), ["app-1", "app-2"]);
        assert_eq!(select(&state, Some("app-2")).unwrap(), ["app-2"]);
    }

    #[test]
    fn select_refuses_an_unknown_name_listing_the_known_ones() {
        let err = select(&state(&[("app-1", "m1")]), Some("nope")).unwrap_err();
        let rendered = err.render();
        assert_eq!(rendered.message, "no workspace named \"nope\"");
        assert_eq!(rendered.hint.as_deref(), Some("known workspaces: app-1"));
        assert_eq!(err.exit_status(), ExitStatus::Usage);
        let err = select(&State::default(), Some("nope")).unwrap_err();
        assert_eq!(
            err.render().hint.as_deref(),
            Some("no workspaces are recorded; deploy some with `kamal-dev deploy`")
        );
    }

    #[test]
    fn by_machine_groups_names_under_their_recorded_machine() {
        let state = state(&[("app-1", "m1"), ("app-2", "m2"), ("app-3", "m1")]);
        let names: Vec<String> = ["app-3", "app-2", "app-1", "ghost"]
            .map(String::from)
            .to_vec();
        let groups = by_machine(&state, &names);
        let groups: Vec<(&str, Vec<&str>)> = groups
            .iter()
            .map(|(m, n)| (m.as_str(), n.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                ("", vec!["ghost"]),
                ("m1", vec!["app-3", "app-1"]),
                ("m2", vec!["app-2"])
            ]
        );
    }
}
