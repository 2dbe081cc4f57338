//! One workspace's steps on a prepared machine: env file, source, container (verified
//! running), ports, lifecycle commands, each recorded in the state. Never prints.

use std::time::Duration;

use crate::devcontainer::up::ImageFacts;
use crate::remote::Executor;
use crate::state::{PortMapping, WorkspaceStatus};

use super::{Failure, Run, container_status};
use crate::deploy::container::{WorkspaceContainer, WorkspaceInputs, status_and_ports};
use crate::deploy::events::{Event, Step};
use crate::deploy::plan::{Action, WorkspacePlan};

impl Run<'_> {
    pub(super) async fn workspace(
        &self,
        executor: &Executor,
        facts: &ImageFacts,
        machine: &str,
        plan: &WorkspacePlan,
        recorded: bool,
        dirs_ready: bool,
    ) -> Result<(), Failure> {
        let fleet = self.fleet;
        if !recorded {
            let name = plan.name.clone();
            let machine_name = machine.to_string();
            fleet
                .update(move |state| {
                    state.record_workspace_intent(&name, &machine_name, &name, Vec::new())?;
                    Ok(())
                })
                .await
                .map_err(|e| self.fail(Step::RunContainer, &e))?;
        }
        let subject = std::slice::from_ref(&plan.name);

        let env_file = match self.env_file {
            Some(contents) => {
                self.step(subject, Step::UploadSecrets, None);
                let path = fleet.env_file_path(&plan.name);
                executor
                    .write_file(&path, 0o600, contents.expose())
                    .await
                    .map_err(|e| self.fail(Step::UploadSecrets, &e.into()))?;
                Some(path)
            }
            None => None,
        };
        let host_dir = fleet.workspace_dir(&plan.name);
        if !fleet.is_local() && !dirs_ready {
            executor
                .run_checked(&["mkdir", "-p", host_dir.as_str()], None)
                .await
                .map_err(|e| self.fail(Step::DeliverSource, &e.into()))?;
        }
        // SOURCE DELIVERY: the user's code goes into `host_dir` here (issue 8).
        crate::deploy::source::deliver(self, executor, plan, &host_dir)
            .await
            .map_err(|e| self.fail(Step::DeliverSource, &e))?;
        let container = self
            .blueprint
            .container(
                facts,
                &WorkspaceInputs {
                    env_file,
                    ..fleet.workspace_inputs(&plan.name, machine, &host_dir)
                },
            )
            .map_err(|e| self.fail(Step::RunContainer, &e))?;

        self.step(subject, Step::RunContainer, None);
        // A container left by an interrupted run may lack its lifecycle commands or carry
        // old settings: replace it, so what runs always matches the devcontainer and secrets.
        // A workspace new to the state has none, unless the state was lost: then Docker
        // refuses the name and it is replaced the same way (one call fewer per workspace).
        let rm = crate::docker::rm(&plan.name, true);
        let replace = || async {
            let _ = executor.run(&rm, None).await;
        };
        if plan.action != Action::Create && container_status(executor, &plan.name).await.is_some() {
            replace().await;
        }
        let run = || async {
            executor
                .run(&container.run, None)
                .await
                .map_err(|e| self.fail(Step::RunContainer, &e.into()))
        };
        let mut output = run().await?;
        if !output.success()
            && plan.action == Action::Create
            && output.stderr_text().contains("is already in use")
        {
            replace().await;
            output = run().await?;
        }
        if !output.success() {
            return Err(Failure {
                step: Step::RunContainer,
                message: self.redactor.redact(&format!(
                    "docker run failed: {}",
                    output.stderr_text().trim()
                )),
            });
        }
        // A container that exits at once must not be recorded as running.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, published) = executor
            .run(&crate::docker::status_and_ports(&plan.name), None)
            .await
            .ok()
            .filter(crate::remote::Output::success)
            .map(|o| status_and_ports(&o.stdout_text()))
            .map_or((None, Vec::new()), |(status, ports)| (Some(status), ports));
        if status.as_deref() != Some("running") {
            let logs = executor
                .run(&crate::docker::logs(&plan.name, false, Some(5)), None)
                .await
                .map(|o| format!("{}{}", o.stdout_text(), o.stderr_text()))
                .unwrap_or_default();
            return Err(Failure {
                step: Step::RunContainer,
                message: self.redactor.redact(&format!(
                    "container {} is {} instead of running; last output: {}",
                    plan.name,
                    status.unwrap_or_else(|| "missing".into()),
                    logs.trim()
                )),
            });
        }
        let ports: Vec<PortMapping> = if container.ports.is_empty() {
            Vec::new()
        } else {
            published
                .into_iter()
                .map(|(container, host)| PortMapping { host, container })
                .collect()
        };
        self.lifecycle(executor, &plan.name, &container).await?;
        let name = plan.name.clone();
        fleet
            .update(move |state| {
                let workspace = state.workspace_mut(&name)?;
                workspace.ports = ports;
                workspace.set_status(WorkspaceStatus::Running);
                Ok(())
            })
            .await
            .map_err(|e| self.fail(Step::RunContainer, &e))?;
        Ok(())
    }

    pub(super) async fn lifecycle(
        &self,
        executor: &Executor,
        name: &str,
        container: &WorkspaceContainer,
    ) -> Result<(), Failure> {
        for (hook, argvs) in &container.lifecycle {
            self.reporter.event(Event::Step {
                subject: name.to_string(),
                step: Step::Lifecycle,
                detail: Some((*hook).to_string()),
            });
            for argv in argvs {
                let exec = container.exec(name, argv.clone(), false);
                let output = executor
                    .run(&exec, None)
                    .await
                    .map_err(|e| self.fail(Step::Lifecycle, &e.into()))?;
                if !output.success() {
                    let stderr = format!("{}{}", output.stdout_text(), output.stderr_text());
                    let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
                    return Err(Failure {
                        step: Step::Lifecycle,
                        message: self.redactor.redact(&format!(
                            "{hook} failed with exit code {}: {}",
                            output
                                .exit
                                .code()
                                .map_or_else(|| "?".to_string(), |c| c.to_string()),
                            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
                        )),
                    });
                }
            }
        }
        Ok(())
    }
}
