//! Getting into a deployed workspace: which machine runs it, an executor for that machine,
//! and the user and folder the devcontainer asks shells and commands to use (computed the
//! way deploy computed them: the blueprint plus the facts of the image on the machine).
//! Never prints; the `ssh`, `exec`, `logs`, `ssh-config` and `forward` commands use it.

use std::collections::BTreeMap;

use crate::error::{Error, ExitStatus, Message};
use crate::remote::Executor;
use crate::state::{PortMapping, State};

use super::container::{Blueprint, WorkspaceInputs, image_facts};
use super::fleet::Fleet;

/// A workspace as a command needs it.
#[derive(Debug, Clone)]
pub struct Access {
    pub name: String,
    pub machine: String,
    /// The machine's recorded address (`None` for this machine).
    pub ip: Option<String>,
    pub container: String,
    /// Who shells and commands run as (remoteUser, else containerUser; `None` = the image's).
    pub user: Option<String>,
    /// The workspace folder inside the container.
    pub workdir: String,
    pub ports: Vec<PortMapping>,
}

impl Access {
    /// `docker exec` argv running `command` as the workspace user in its folder.
    pub fn exec(&self, command: Vec<String>, interactive: bool) -> Vec<String> {
        crate::docker::exec(&crate::docker::ExecSpec {
            container_name: self.container.clone(),
            user: self.user.clone(),
            workdir: Some(self.workdir.clone()),
            interactive,
            env: Vec::new(),
            command,
        })
    }

    /// `docker exec -i[t]` argv of a login shell: bash when the image has it, else sh.
    /// Without `tty` the shell still reads stdin (a piped script), with no terminal.
    pub fn shell(&self, tty: bool) -> Vec<String> {
        let script = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";
        let mut argv = self.exec(vec!["sh".into(), "-c".into(), script.into()], tty);
        if !tty {
            argv.insert(2, "-i".into());
        }
        argv
    }
}

/// The recorded workspace `name`, or a usage error naming the known ones.
pub fn lookup<'s>(state: &'s State, name: &str) -> Result<&'s crate::state::Workspace, Error> {
    state.workspaces.get(name).ok_or_else(|| {
        let known: Vec<&str> = state.workspaces.keys().map(String::as_str).collect();
        let hint = if known.is_empty() {
            "nothing is deployed yet: run `kamal-dev deploy`".to_string()
        } else {
            format!("deployed workspaces: {}", known.join(", "))
        };
        Message::new(
            format!("no workspace named {name} in .kamal/dev_state.yml"),
            ExitStatus::Usage,
        )
        .with_hint(hint)
        .into()
    })
}

/// Resolves workspaces, loading the blueprint once and each machine's image facts once.
pub struct Resolver<'f> {
    fleet: &'f Fleet,
    blueprint: Blueprint,
    facts: tokio::sync::Mutex<BTreeMap<String, crate::devcontainer::up::ImageFacts>>,
}

impl<'f> Resolver<'f> {
    pub fn new(fleet: &'f Fleet) -> Result<Resolver<'f>, Error> {
        let blueprint = Blueprint::load(fleet.config(), fleet.project_root(), None)?;
        Ok(Resolver {
            fleet,
            blueprint,
            facts: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// The workspace `name` with an executor for its machine.
    pub async fn resolve(&self, state: &State, name: &str) -> Result<(Access, Executor), Error> {
        let fleet = self.fleet;
        let record = lookup(state, name)?;
        let machine = record
            .machine
            .clone()
            .ok_or_else(|| Error::failed(format!("workspace {name} has no machine recorded")))?;
        let ip = state.machines.get(&machine).and_then(|m| m.ip.clone());
        let executor = fleet.executor(&machine).await?;
        let facts = self.facts(&machine, &executor).await?;
        let host_dir = fleet.workspace_dir(name);
        let config = fleet.config();
        let container = self.blueprint.container(
            &facts,
            &WorkspaceInputs {
                name,
                machine: &machine,
                service: &config.service,
                env_file: None,
                host_dir: &host_dir,
                local: fleet.is_local(),
                publish: config.ports.publish,
                limits: config.defaults,
            },
        )?;
        Ok((
            Access {
                name: name.to_string(),
                machine,
                ip: if fleet.is_local() { None } else { ip },
                container: record.container_name.clone(),
                user: container.user,
                workdir: container.workdir,
                ports: record.ports.clone(),
            },
            executor,
        ))
    }

    async fn facts(
        &self,
        machine: &str,
        executor: &Executor,
    ) -> Result<crate::devcontainer::up::ImageFacts, Error> {
        let mut cache = self.facts.lock().await;
        if let Some(facts) = cache.get(machine) {
            return Ok(facts.clone());
        }
        let step = self.blueprint.image_step()?;
        let image = step.image();
        let output = executor
            .run(&["docker", "image", "inspect", image], None)
            .await?;
        let facts = if output.success() {
            image_facts(&output.stdout_text()).map_err(|reason| {
                Error::failed(format!(
                    "could not read `docker image inspect {image}`: {reason}"
                ))
            })?
        } else {
            return Err(Message::new(
                format!("image {image} is not on {}", executor.label()),
                ExitStatus::Failure,
            )
            .with_hint("run `kamal-dev deploy` to pull or build it")
            .into());
        };
        cache.insert(machine.to_string(), facts.clone());
        Ok(facts)
    }
}
