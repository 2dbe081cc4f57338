//! Getting into a deployed workspace: which machine runs it, an executor for that machine,
//! and the user and folder the devcontainer asks shells and commands to use (computed the
//! way deploy computed them: the blueprint plus the facts of the image on the machine).
//! Never prints; the `ssh`, `exec`, `logs`, `ssh-config` and `forward` commands use it.

use std::collections::BTreeMap;

use crate::error::{Error, ExitStatus, Message};
use crate::remote::Executor;
use crate::state::{PortMapping, State};

use super::container::{Blueprint, image_facts};
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

    /// Like [`Self::exec`], but the command always reads stdin (`-i`); `tty` adds a terminal.
    pub fn exec_reading(&self, command: Vec<String>, tty: bool) -> Vec<String> {
        let mut argv = self.exec(command, tty);
        if !tty {
            argv.insert(2, "-i".into());
        }
        argv
    }

    /// `docker exec -i[t]` argv of a login shell: bash when the image has it, else sh.
    /// Without `tty` the shell still reads stdin (a piped script), with no terminal.
    pub fn shell(&self, tty: bool) -> Vec<String> {
        let script = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";
        self.exec_reading(vec!["sh".into(), "-c".into(), script.into()], tty)
    }
}

/// Where the SSH proxy (`kamal-dev ssh NAME --stdio`) lands a workspace's sessions and
/// forwards: commands and shells in the container as its user and folder; forwards to the
/// container's own `localhost` go to its published port on the machine, or else to the
/// container's address.
#[derive(Debug, Clone)]
pub struct ContainerLanding {
    pub access: Access,
    /// The container's address on its Docker network (`None` with `--network host`).
    pub address: Option<String>,
}

impl ContainerLanding {
    /// The first address printed by [`crate::docker::addresses`].
    pub fn parse_address(inspect_output: &str) -> Option<String> {
        inspect_output.split_whitespace().next().map(str::to_string)
    }

    fn session_argv(&self, request: &crate::remote::SessionRequest) -> Vec<String> {
        match &request.command {
            None => self.access.shell(request.tty),
            // The command reads the client's stdin, with or without a terminal.
            Some(line) => self
                .access
                .exec_reading(vec!["sh".into(), "-c".into(), line.clone()], request.tty),
        }
    }

    fn forward_target(&self, host: &str, port: u16) -> (String, u16) {
        let container_local = matches!(host, "localhost" | "127.0.0.1" | "::1" | "0.0.0.0");
        if !container_local {
            return (host.to_string(), port);
        }
        if let Some(mapping) = self.access.ports.iter().find(|m| m.container == port) {
            return ("127.0.0.1".to_string(), mapping.host);
        }
        match &self.address {
            Some(address) => (address.clone(), port),
            None => ("127.0.0.1".to_string(), port),
        }
    }
}

impl crate::remote::Landing for ContainerLanding {
    fn command(&self, request: &crate::remote::SessionRequest) -> Vec<String> {
        let mut argv = self.session_argv(request);
        // The client's terminal type, so colours and keys work as in its own terminal.
        if let Some(term) = &request.term {
            argv.splice(2..2, ["-e".to_string(), format!("TERM={term}")]);
        }
        argv
    }

    fn tcp_target(&self, host: &str, port: u16) -> (String, u16) {
        self.forward_target(host, port)
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
        let container = self
            .blueprint
            .container(&facts, &fleet.workspace_inputs(name, &machine, &host_dir))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::{Landing as _, SessionRequest};

    fn landing(address: Option<&str>) -> ContainerLanding {
        ContainerLanding {
            access: Access {
                name: "app-1".into(),
                machine: "app-1".into(),
                ip: Some("94.2.3.1".into()),
                container: "app-1".into(),
                user: Some("vscode".into()),
                workdir: "/workspaces/app".into(),
                ports: vec![PortMapping {
                    host: 32768,
                    container: 3000,
                }],
            },
            address: address.map(str::to_string),
        }
    }

    #[test]
    fn sessions_run_in_the_container_as_its_user_and_folder() {
        let landing = landing(Some("172.17.0.2"));
        let command = |command: Option<&str>, tty: bool| {
            landing.command(&SessionRequest {
                command: command.map(str::to_string),
                tty,
                term: None,
            })
        };
        let piped = command(Some("echo $HOME; exit 3"), false);
        assert_eq!(
            piped,
            [
                "docker",
                "exec",
                "-i",
                "-u",
                "vscode",
                "-w",
                "/workspaces/app",
                "app-1",
                "sh",
                "-c",
                "echo $HOME; exit 3"
            ]
        );
        let with_tty = command(Some("top"), true);
        assert_eq!(&with_tty[..4], ["docker", "exec", "-i", "-t"]);
        assert_eq!(with_tty.iter().filter(|a| *a == "-i").count(), 1);
        let shell = command(None, true);
        assert!(shell.join(" ").contains("exec bash -l"), "{shell:?}");
        let with_term = landing.command(&SessionRequest {
            command: None,
            tty: true,
            term: Some("xterm-256color".into()),
        });
        assert_eq!(
            &with_term[..6],
            ["docker", "exec", "-e", "TERM=xterm-256color", "-i", "-t"]
        );
    }

    #[test]
    fn forwards_to_localhost_reach_the_container() {
        let with_address = landing(Some("172.17.0.2"));
        // A published port goes through its machine port; others to the container address.
        assert_eq!(
            with_address.tcp_target("localhost", 3000),
            ("127.0.0.1".to_string(), 32768)
        );
        assert_eq!(
            with_address.tcp_target("127.0.0.1", 8080),
            ("172.17.0.2".to_string(), 8080)
        );
        assert_eq!(
            with_address.tcp_target("example.com", 443),
            ("example.com".to_string(), 443)
        );
        // Host networking: the machine's localhost is the container's.
        assert_eq!(
            landing(None).tcp_target("localhost", 8080),
            ("127.0.0.1".to_string(), 8080)
        );
        assert_eq!(
            ContainerLanding::parse_address(" 172.18.0.5 172.17.0.3 \n"),
            Some("172.18.0.5".to_string())
        );
        assert_eq!(ContainerLanding::parse_address(" \n"), None);
    }
}
