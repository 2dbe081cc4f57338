//! `list --rebuild`: reconstruct the state from what really exists: the provider's machines
//! labelled with this service, and the labelled containers on each. Recorded host keys of
//! rebuilt machines are dropped and pinned again on first contact (the user asked for this
//! after re-creating machines outside kamal-dev). Never prints.

use jiff::Timestamp;

use crate::config::ProviderKind;
use crate::error::Error;
use crate::provider::{LABEL_ID, Provider as _};
use crate::state::{Machine, MachineStatus, Workspace, WorkspaceStatus};

use super::fleet::{Fleet, LABEL_SERVICE, LABEL_WORKSPACE};

/// What the rebuild found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub machines: usize,
    pub workspaces: usize,
    pub unreachable: Vec<String>,
}

pub async fn rebuild(fleet: &Fleet) -> Result<Rebuilt, Error> {
    let config = fleet.config();
    let service = config.service.clone();
    let mut machines: Vec<(String, Machine)> = Vec::new();
    match config.provider.kind {
        ProviderKind::Upcloud | ProviderKind::Hetzner => {
            for found in fleet.provider.list(&service).await? {
                let status = match found.state {
                    crate::provider::MachineState::Running => MachineStatus::Running,
                    crate::provider::MachineState::Stopped => MachineStatus::Stopped,
                    _ => MachineStatus::Provisioning,
                };
                machines.push((
                    found
                        .labels
                        .get(crate::provider::LABEL_MACHINE)
                        .cloned()
                        .unwrap_or_else(|| found.name.clone()),
                    Machine {
                        id: Some(found.id.0.clone()),
                        provider: config.provider.kind.name().to_string(),
                        zone: Some(found.zone.clone()),
                        plan: Some(found.plan.clone()),
                        ip: found.public_ipv4.map(|ip| ip.to_string()),
                        host_key_fingerprint: None,
                        host_key: None,
                        price: None,
                        created_at: found.created_at.unwrap_or_else(Timestamp::now),
                        idempotency_key: found.labels.get(LABEL_ID).cloned().unwrap_or_default(),
                        status,
                        last_error: None,
                    },
                ));
            }
        }
        ProviderKind::Local | ProviderKind::Ssh => {
            let hosts = if config.provider.kind == ProviderKind::Local {
                vec!["local".to_string()]
            } else {
                config.provider.hosts.clone()
            };
            for host in hosts {
                let ip = (config.provider.kind == ProviderKind::Ssh).then(|| host.clone());
                machines.push((
                    host.clone(),
                    Machine {
                        id: Some(host.clone()),
                        provider: config.provider.kind.name().to_string(),
                        zone: None,
                        plan: None,
                        ip,
                        host_key_fingerprint: None,
                        host_key: None,
                        price: None,
                        created_at: Timestamp::now(),
                        idempotency_key: String::new(),
                        status: MachineStatus::Running,
                        last_error: None,
                    },
                ));
            }
        }
    }
    // Keep pinned keys of machines whose address did not change.
    let old = fleet.read_state().await?;
    for (name, machine) in &mut machines {
        if let Some(previous) = old.machines.get(name)
            && previous.ip == machine.ip
            && previous.id == machine.id
        {
            machine
                .host_key_fingerprint
                .clone_from(&previous.host_key_fingerprint);
        }
    }
    let replaced = machines.clone();
    fleet
        .update(move |state| {
            state.machines = replaced.into_iter().collect();
            state.workspaces.clear();
            Ok(())
        })
        .await?;

    let mut rebuilt = Rebuilt {
        machines: machines.len(),
        ..Rebuilt::default()
    };
    for (name, machine) in &machines {
        if machine.status != MachineStatus::Running {
            continue;
        }
        let Ok(executor) = fleet.executor(name).await else {
            rebuilt.unreachable.push(name.clone());
            continue;
        };
        let filter = format!("label={LABEL_SERVICE}={service}");
        let format =
            format!("{{{{.Names}}}}\t{{{{.State}}}}\t{{{{.Label \"{LABEL_WORKSPACE}\"}}}}");
        let output = executor
            .run(
                &[
                    "docker",
                    "ps",
                    "-a",
                    "--filter",
                    filter.as_str(),
                    "--format",
                    format.as_str(),
                ],
                None,
            )
            .await?;
        let mut found = Vec::new();
        for line in output.stdout_text().lines() {
            let mut parts = line.split('\t');
            let (Some(container), Some(state), workspace) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let workspace = workspace
                .filter(|w| !w.is_empty())
                .unwrap_or(container)
                .to_string();
            let status = if state == "running" {
                WorkspaceStatus::Running
            } else {
                WorkspaceStatus::Stopped
            };
            found.push((workspace, container.to_string(), status));
        }
        rebuilt.workspaces += found.len();
        let machine_name = name.clone();
        let ip = machine.ip.clone();
        let id = machine.id.clone();
        fleet
            .update(move |state| {
                for (workspace, container, status) in found {
                    state.workspaces.insert(
                        workspace,
                        Workspace {
                            machine: Some(machine_name.clone()),
                            vm_id: id.clone(),
                            vm_ip: ip.clone(),
                            container_name: container,
                            ports: Vec::new(),
                            status,
                            deployed_at: Timestamp::now(),
                            updated_at: None,
                            last_error: None,
                        },
                    );
                }
                Ok(())
            })
            .await?;
    }
    Ok(rebuilt)
}
