//! Preparing a machine for a deploy: create it (intent recorded first) or find it again,
//! wait until it runs, connect, wait for cloud-init, make sure Docker answers. Never prints.

use std::collections::BTreeMap;

use crate::devcontainer::up::ImageFacts;
use crate::error::Error;
use crate::provider::{Machine, MachineId, MachineRequest, MachineState, Provider as _};
use crate::remote::Executor;
use crate::state::{MachineIntent, MachineStatus};

use super::{Failure, MACHINE_DEADLINE, Run};
use crate::deploy::events::Step;

impl Run<'_> {
    /// Make the machine exist and run Docker with the workspace image; returns its executor,
    /// the image facts and its address.
    pub(super) async fn prepare_machine(
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
    pub(super) async fn ensure_machine(
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

    pub(super) async fn record_started(
        &self,
        machine: &str,
        started: &Machine,
    ) -> Result<String, Error> {
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

    pub(super) async fn ensure_docker(&self, executor: &Executor) -> Result<(), Error> {
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
}
