//! Apply a deploy Plan: prepare every machine concurrently (create it, wait for it, connect,
//! wait for cloud-init, make sure Docker runs, get the image), then start its workspaces
//! concurrently (env file, container, lifecycle commands). Each completed step is recorded in
//! the state at once, so an interrupted deploy is resumed by the next one. One failed machine
//! or workspace never stops the others. Emits events; never prints. The steps live in
//! `machine.rs` (machine preparation), `image.rs` (pull or build) and `workspace.rs`.

mod image;
mod machine;
mod workspace;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::error::Error;
use crate::remote::Executor;
use crate::secrets::{Redactor, SecretBytes};

use super::container::Blueprint;
use super::events::{Event, Reporter, Step};
use super::fleet::Fleet;
use super::plan::{Action, Plan, WorkspacePlan};

/// How long a new machine may take to start.
const MACHINE_DEADLINE: Duration = Duration::from_secs(600);

/// What happened to each workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub workspace: String,
    pub result: Result<String, String>,
}

/// Everything a deploy run shares between its tasks.
pub struct Run<'a> {
    pub fleet: &'a Fleet,
    pub blueprint: &'a Blueprint,
    pub env_file: Option<&'a SecretBytes>,
    pub redactor: &'a Redactor,
    pub reporter: &'a dyn Reporter,
    /// Deliver `source:` into each workspace folder (`deploy --no-source` turns it off).
    pub deliver_source: bool,
    /// The hourly price of a new machine as quoted in the plan, recorded with each machine
    /// created, so `cost` and `status` report what was agreed (`None`: not priced).
    pub machine_price: Option<crate::state::Price>,
}

/// A step failed: which step, and the (already redacted) reason.
struct Failure {
    step: Step,
    message: String,
}

impl Run<'_> {
    fn fail(&self, step: Step, err: &Error) -> Failure {
        Failure {
            step,
            message: self.redactor.redact(&err.one_line()),
        }
    }

    #[allow(clippy::needless_pass_by_value)] // callers build the detail just for this
    fn step(&self, subjects: &[String], step: Step, detail: Option<String>) {
        for subject in subjects {
            self.reporter.event(Event::Step {
                subject: subject.clone(),
                step,
                detail: detail.clone(),
            });
        }
    }

    /// Apply `plan`; returns one outcome per workspace in plan order.
    pub async fn apply(&self, plan: &Plan) -> Vec<Outcome> {
        let started = Instant::now();
        let mut by_machine: BTreeMap<&str, Vec<&WorkspacePlan>> = BTreeMap::new();
        for workspace in &plan.workspaces {
            by_machine
                .entry(workspace.machine.as_str())
                .or_default()
                .push(workspace);
        }
        let mut outcomes: Vec<Outcome> = Vec::new();
        let mut jobs = Vec::new();
        for (machine, workspaces) in by_machine {
            let todo: Vec<&WorkspacePlan> = workspaces
                .iter()
                .copied()
                .filter(|w| w.action != Action::Keep)
                .collect();
            for kept in workspaces.iter().filter(|w| w.action == Action::Keep) {
                self.reporter.event(Event::Done {
                    subject: kept.name.clone(),
                    outcome: "unchanged".into(),
                    address: None,
                    elapsed: started.elapsed(),
                });
                outcomes.push(Outcome {
                    workspace: kept.name.clone(),
                    result: Ok("unchanged".into()),
                });
            }
            if !todo.is_empty() {
                jobs.push(self.machine_and_workspaces(machine, todo, started));
            }
        }
        for results in join_all(jobs).await {
            outcomes.extend(results);
        }
        let order: Vec<&str> = plan.workspaces.iter().map(|w| w.name.as_str()).collect();
        outcomes.sort_by_key(|o| order.iter().position(|n| *n == o.workspace));
        outcomes
    }

    async fn machine_and_workspaces(
        &self,
        machine: &str,
        workspaces: Vec<&WorkspacePlan>,
        started: Instant,
    ) -> Vec<Outcome> {
        let subjects: Vec<String> = workspaces.iter().map(|w| w.name.clone()).collect();
        let prepared = self.prepare_machine(machine, &subjects).await;
        let (executor, facts, address) = match prepared {
            Ok(ready) => ready,
            Err(failure) => {
                let name = machine.to_string();
                let message = failure.message.clone();
                let _ = self
                    .fleet
                    .update(move |state| {
                        if let Some(record) = state.machines.get_mut(&name) {
                            record.fail(message);
                        }
                        Ok(())
                    })
                    .await;
                return subjects
                    .into_iter()
                    .map(|subject| {
                        self.reporter.event(Event::Failed {
                            subject: subject.clone(),
                            step: failure.step,
                            error: failure.message.clone(),
                            elapsed: started.elapsed(),
                        });
                        Outcome {
                            workspace: subject,
                            result: Err(failure.message.clone()),
                        }
                    })
                    .collect();
            }
        };
        // One state write records every workspace of this machine: each write takes the
        // lock and fsyncs the file, and one write per workspace was what large deploys
        // queued on. Should it fail, each workspace records itself (and reports the error).
        let names = subjects.clone();
        let machine_name = machine.to_string();
        let recorded = self
            .fleet
            .update(move |state| {
                for name in &names {
                    state.record_workspace_intent(name, &machine_name, name, Vec::new())?;
                }
                Ok(())
            })
            .await
            .is_ok();
        // The workspace folders (bind-mounted into the containers) in one command per
        // machine rather than one per workspace; should it fail, each workspace makes its
        // own (and reports the error).
        let dirs_ready = !self.fleet.is_local() && {
            let mut mkdir = vec!["mkdir".to_string(), "-p".to_string(), "--".to_string()];
            mkdir.extend(subjects.iter().map(|name| self.fleet.workspace_dir(name)));
            executor.run_checked(&mkdir, None).await.is_ok()
        };
        let jobs = workspaces.into_iter().map(|workspace| {
            let executor = executor.clone();
            let facts = &facts;
            let address = address.clone();
            async move {
                let result = self
                    .workspace(&executor, facts, machine, workspace, recorded, dirs_ready)
                    .await;
                match result {
                    Ok(()) => {
                        self.reporter.event(Event::Done {
                            subject: workspace.name.clone(),
                            outcome: "running".into(),
                            address,
                            elapsed: started.elapsed(),
                        });
                        Outcome {
                            workspace: workspace.name.clone(),
                            result: Ok("running".into()),
                        }
                    }
                    Err(failure) => {
                        let name = workspace.name.clone();
                        let message = failure.message.clone();
                        let _ = self
                            .fleet
                            .update(move |state| {
                                if let Some(record) = state.workspaces.get_mut(&name) {
                                    record.fail(message);
                                }
                                Ok(())
                            })
                            .await;
                        self.reporter.event(Event::Failed {
                            subject: workspace.name.clone(),
                            step: failure.step,
                            error: failure.message.clone(),
                            elapsed: started.elapsed(),
                        });
                        Outcome {
                            workspace: workspace.name.clone(),
                            result: Err(failure.message),
                        }
                    }
                }
            }
        });
        join_all(jobs).await
    }
}

/// The container's `State.Status` (`running`, `exited`, ...), or `None` when it does not exist.
pub async fn container_status(executor: &Executor, name: &str) -> Option<String> {
    let output = inspect(executor, name, "{{.State.Status}}").await.ok()?;
    output
        .success()
        .then(|| output.stdout_text().trim().to_string())
}

/// `docker inspect` one container with a Go template `format`; exits non-zero when it is missing.
pub async fn inspect(
    executor: &Executor,
    name: &str,
    format: &str,
) -> Result<crate::remote::Output, crate::remote::RemoteError> {
    executor
        .run(&crate::docker::inspect_format(name, format), None)
        .await
}
