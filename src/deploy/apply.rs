//! Apply a deploy Plan: prepare every machine concurrently (create it, wait for it, connect,
//! wait for cloud-init, make sure Docker runs, get the image), then start its workspaces
//! concurrently (env file, container, lifecycle commands). Each completed step is recorded in
//! the state at once, so an interrupted deploy is resumed by the next one. One failed machine
//! or workspace never stops the others. Emits events; never prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::devcontainer::up::ImageFacts;
use crate::error::Error;
use crate::provider::{Machine, MachineId, MachineRequest, MachineState, Provider as _};
use crate::remote::Executor;
use crate::secrets::{Redactor, SecretBytes};
use crate::state::{MachineIntent, MachineStatus, PortMapping, WorkspaceStatus};

use super::container::{
    Blueprint, BuildDockerfile, ImageStep, STREAMED_DOCKERFILE, StreamedBuild, WorkspaceContainer,
    WorkspaceInputs, image_facts, status_and_ports,
};
use super::events::{Event, Reporter, Step};
use super::fleet::Fleet;
use super::plan::{Action, Plan, WorkspacePlan};
use super::source::archive::{self, Selection};

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

    /// Make the machine exist and run Docker with the workspace image; returns its executor,
    /// the image facts and its address.
    async fn prepare_machine(
        &self,
        machine: &str,
        subjects: &[String],
    ) -> Result<(Executor, ImageFacts, Option<String>), Failure> {
        let address = self
            .ensure_machine(machine, subjects)
            .await
            .map_err(|e| self.fail(Step::CreateMachine, &e))?;
        let executor = match &address {
            Some(host) => {
                self.step(subjects, Step::Connect, Some(host.clone()));
                self.fleet
                    .connect_host(machine, host)
                    .await
                    .map_err(|e| self.fail(Step::Connect, &e))?
            }
            None => Executor::local(),
        };
        if address.is_some() {
            self.step(subjects, Step::WaitForCloudInit, None);
            // A machine without cloud-init (an existing host) skips the wait; a failed
            // cloud-init shows up as a missing Docker just below.
            let _ = executor
                .run(
                    &["sh", "-c", "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1; fi; true"],
                    None,
                )
                .await;
        }
        self.step(subjects, Step::EnsureDocker, None);
        self.ensure_docker(&executor)
            .await
            .map_err(|e| self.fail(Step::EnsureDocker, &e))?;
        let step = self
            .blueprint
            .image_step()
            .map_err(|e| self.fail(Step::PullImage, &e))?;
        let facts = self.ensure_image(&executor, &step, subjects).await?;
        Ok((executor, facts, address))
    }

    /// Create (or find again) the machine and wait until it runs. `None` for this host.
    async fn ensure_machine(
        &self,
        machine: &str,
        subjects: &[String],
    ) -> Result<Option<String>, Error> {
        let config = self.fleet.config();
        let kind = config.provider.kind;
        let state = self.fleet.read_state().await?;
        let record = state.machines.get(machine).cloned();
        if !kind.is_cloud() {
            // This host or an existing one: nothing to create; record it once.
            let host = (kind == crate::config::ProviderKind::Ssh).then(|| machine.to_string());
            if record.is_none() {
                let name = machine.to_string();
                let provider = kind.name().to_string();
                let ip = host.clone();
                self.fleet
                    .update(move |state| {
                        state.record_machine_intent(
                            &name,
                            MachineIntent {
                                provider,
                                zone: None,
                                plan: None,
                                price: None,
                            },
                        )?;
                        let record = state.machine_mut(&name)?;
                        record.id = Some(name.clone());
                        record.ip = ip;
                        record.set_status(MachineStatus::Running);
                        Ok(())
                    })
                    .await?;
            }
            return Ok(host);
        }
        let provider = &self.fleet.provider;
        if let Some(record) = &record
            && let Some(id) = &record.id
        {
            let found = provider.get(&MachineId(id.clone())).await?;
            let Some(found) = found else {
                return Err(Error::failed(format!(
                    "machine {machine} ({id}) is recorded in the state but the provider no longer has it"
                )));
            };
            if found.state == MachineState::Running
                && let Some(ip) = found.public_ipv4
            {
                return Ok(Some(ip.to_string()));
            }
            self.step(
                subjects,
                Step::WaitForMachine,
                Some(format!("{:?}", found.state).to_lowercase()),
            );
            if found.state == MachineState::Stopped {
                let started = provider.start(&found.id).await?;
                return self.record_started(machine, &started).await.map(Some);
            }
            let started = provider
                .wait_until_started(&found.id, MACHINE_DEADLINE)
                .await?;
            return self.record_started(machine, &started).await.map(Some);
        }
        // Record the intent (with its idempotency key) before the provider creates anything.
        let (zone, plan) = (
            config.provider.zone.clone().unwrap_or_default(),
            config.provider.plan.clone().unwrap_or_default(),
        );
        let intent = MachineIntent {
            provider: kind.name().to_string(),
            zone: Some(zone.clone()),
            plan: Some(plan.clone()),
            price: self.machine_price.clone(),
        };
        let name = machine.to_string();
        let key = self
            .fleet
            .update(move |state| Ok(state.record_machine_intent(&name, intent)?))
            .await?;
        self.step(subjects, Step::CreateMachine, None);
        let public_key = std::fs::read_to_string(&config.ssh.key_path).map_err(|err| {
            crate::error::Message::new(
                format!(
                    "could not read the SSH public key {}",
                    config.ssh.key_path.display()
                ),
                crate::error::ExitStatus::Usage,
            )
            .with_source(err)
            .with_hint("set ssh.key_path in config/dev.yml to your public key (.pub)")
        })?;
        let request = MachineRequest {
            name: machine.to_string(),
            service: config.service.clone(),
            plan,
            zone,
            os_image: config.provider.image.clone(),
            ssh_public_key: public_key.trim().to_string(),
            user_data: None,
            idempotency_key: key,
            labels: BTreeMap::new(),
        };
        let created = provider.create_machine(&request).await?;
        let name = machine.to_string();
        let id = created.id.0.clone();
        self.fleet
            .update(move |state| {
                state.machine_mut(&name)?.id = Some(id);
                Ok(())
            })
            .await?;
        self.step(subjects, Step::WaitForMachine, None);
        let started = provider
            .wait_until_started(&created.id, MACHINE_DEADLINE)
            .await?;
        self.record_started(machine, &started).await.map(Some)
    }

    async fn record_started(&self, machine: &str, started: &Machine) -> Result<String, Error> {
        let ip = started
            .public_ipv4
            .map(|ip| ip.to_string())
            .ok_or_else(|| {
                Error::failed(format!(
                    "machine {machine} started without a public IPv4 address"
                ))
            })?;
        let name = machine.to_string();
        let address = ip.clone();
        self.fleet
            .update(move |state| {
                let record = state.machine_mut(&name)?;
                record.ip = Some(address);
                record.set_status(MachineStatus::Running);
                Ok(())
            })
            .await?;
        Ok(ip)
    }

    async fn ensure_docker(&self, executor: &Executor) -> Result<(), Error> {
        // `docker version` fails when the engine does not answer, like `docker info`, at a
        // third of its cost (info gathers engine-wide statistics).
        let info = ["docker", "version", "--format", "{{.Server.Version}}"];
        if executor.run(&info, None).await?.success() {
            return Ok(());
        }
        if matches!(executor, Executor::Local(_)) {
            return Err(crate::error::Message::new(
                "the Docker engine on this machine does not answer (`docker version` failed)",
                crate::error::ExitStatus::Failure,
            )
            .with_hint("start it (for example `dockerd &` or `systemctl start docker`), or run scripts/demo-local, which starts one")
            .into());
        }
        // cloud-init did not install it (an existing host, or a failed user-data run).
        let install = [
            "sh",
            "-c",
            "command -v docker >/dev/null 2>&1 || (curl -fsSL https://get.docker.com | sh) >/dev/null 2>&1; (systemctl start docker || service docker start) >/dev/null 2>&1; true",
        ];
        executor.run(&install, None).await?;
        if executor.run(&info, None).await?.success() {
            Ok(())
        } else {
            Err(crate::error::Message::new(
                format!("Docker is not running on {} and could not be installed", executor.label()),
                crate::error::ExitStatus::Failure,
            )
            .with_hint("install Docker on the machine (https://docs.docker.com/engine/install/) and run `kamal-dev deploy` again")
            .into())
        }
    }

    async fn ensure_image(
        &self,
        executor: &Executor,
        step: &ImageStep,
        subjects: &[String],
    ) -> Result<ImageFacts, Failure> {
        let image = step.image().to_string();
        let output = match step {
            ImageStep::Pull(_) => self.present_or_pulled(executor, &image, subjects).await?,
            ImageStep::Build { builds, .. } => {
                let inspect = ["docker", "image", "inspect", image.as_str()];
                let present = executor
                    .run(&inspect, None)
                    .await
                    .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
                if present.success() {
                    present
                } else {
                    // Plan the build with the real base image: its user and metadata
                    // decide who Features install for and what the image's label holds.
                    let planned = match self.blueprint.base_image() {
                        Some(base) => {
                            let output = self.present_or_pulled(executor, &base, subjects).await?;
                            let facts =
                                image_facts(&output.stdout_text()).map_err(|reason| Failure {
                                    step: Step::PullImage,
                                    message: format!(
                                        "could not read `docker image inspect {base}`: {reason}"
                                    ),
                                })?;
                            match self.blueprint.image_step_on(&facts) {
                                Ok(ImageStep::Build { builds, .. }) => Some(builds),
                                Ok(ImageStep::Pull(_)) => None,
                                Err(e) => return Err(self.fail(Step::BuildImage, &e)),
                            }
                        }
                        None => None,
                    };
                    self.step(subjects, Step::BuildImage, Some(image.clone()));
                    for build in planned.as_ref().unwrap_or(builds) {
                        self.build(executor, build).await?;
                    }
                    executor
                        .run_checked(&inspect, None)
                        .await
                        .map_err(|e| self.fail(Step::PullImage, &e.into()))?
                }
            }
        };
        image_facts(&output.stdout_text()).map_err(|reason| Failure {
            step: Step::PullImage,
            message: format!("could not read `docker image inspect {image}`: {reason}"),
        })
    }

    async fn workspace(
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
        super::source::deliver(self, executor, plan, &host_dir)
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

    /// `docker image inspect IMAGE` output, pulling the image first when it is missing.
    async fn present_or_pulled(
        &self,
        executor: &Executor,
        image: &str,
        subjects: &[String],
    ) -> Result<crate::remote::Output, Failure> {
        let inspect = ["docker", "image", "inspect", image];
        let present = executor
            .run(&inspect, None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
        if present.success() {
            return Ok(present);
        }
        self.step(subjects, Step::PullImage, Some(image.to_string()));
        let pulled = executor
            .run(&["docker", "pull", image], None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))?;
        if !pulled.success() {
            return Err(Failure {
                step: Step::PullImage,
                message: self.redactor.redact(&format!(
                    "image {image} is not on {} and could not be pulled: {}",
                    executor.label(),
                    pulled.stderr_text().trim()
                )),
            });
        }
        executor
            .run_checked(&inspect, None)
            .await
            .map_err(|e| self.fail(Step::PullImage, &e.into()))
    }

    /// One build: its context (folder, Feature files, Dockerfile) streams as a tar on the
    /// build's stdin, the same on this host and on a remote machine.
    async fn build(&self, executor: &Executor, build: &StreamedBuild) -> Result<(), Failure> {
        let failure = |message: String| Failure {
            step: Step::BuildImage,
            message,
        };
        let dockerfile = match &build.dockerfile {
            BuildDockerfile::Generated(text) => text.clone(),
            BuildDockerfile::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| failure(format!("could not read {path}: {e}")))?,
        };
        let mut extra: Vec<(String, Vec<u8>)> = build
            .files
            .iter()
            .map(|(name, text)| (name.clone(), text.clone().into_bytes()))
            .collect();
        extra.push((STREAMED_DOCKERFILE.to_string(), dockerfile.into_bytes()));
        let (mut context, archiving) = archive::stream(Selection::BuildContext {
            folder: build.folder.as_ref().map(PathBuf::from),
            trees: build
                .trees
                .iter()
                .map(|(source, name)| (PathBuf::from(source), name.clone()))
                .collect(),
            extra,
        });
        let output = executor.run_reading(&build.argv, &mut context).await;
        drop(context);
        // An archive cut short explains a failed build better than the build's own error.
        match archiving.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(failure(format!(
                    "could not send the build context ({}): {e}",
                    build.context_label()
                )));
            }
            Err(e) => return Err(failure(format!("the build context task failed: {e}"))),
        }
        let output = output.map_err(|e| self.fail(Step::BuildImage, &e.into()))?;
        if !output.success() {
            let stderr = output.stderr_text();
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            return Err(failure(self.redactor.redact(&format!(
                "docker build failed on {}: {}",
                executor.label(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))));
        }
        Ok(())
    }

    async fn lifecycle(
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
