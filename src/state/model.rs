//! The state model: what `.kamal/dev_state.yml` records about machines and workspaces, and the
//! small set of mutations the deploy workflow needs. Pure data: no file access (that is
//! `store`), no provider calls, no printing.
//!
//! Choices worth knowing:
//! - Prices are integers in **micro-units of the currency** (`hourly_micros`, 1 EUR =
//!   1,000,000): cloud prices such as EUR 0.0104/h are fractions of a cent, and integers in
//!   millionths keep them exact without floats or decimal strings, for any currency.
//! - Machine status has no `deleted`: once the provider confirms a deletion the entry is
//!   removed ([`State::forget_machine`]), so the file never fills with tombstones.
//! - `serial` counts committed writes (like Terraform's state serial); the store bumps it.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Schema version; always [`SCHEMA_VERSION`] in memory (older files are migrated on read).
    pub version: u32,
    /// Number of writes committed so far; bumped by the store on every changing update.
    #[serde(default)]
    pub serial: u64,
    /// Machines by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub machines: BTreeMap<String, Machine>,
    /// Workspaces by name. The YAML key stays `deployments` so the seed's files read as-is.
    #[serde(default, rename = "deployments")]
    pub workspaces: BTreeMap<String, Workspace>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: SCHEMA_VERSION,
            serial: 0,
            machines: BTreeMap::new(),
            workspaces: BTreeMap::new(),
        }
    }
}

/// A VM or host that runs workspaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// The provider's id; `None` until the create call has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Provider name as in config/dev.yml (`upcloud`, `hetzner`, `ssh`, `local`).
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Public IPv4 address, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// SSH host key fingerprint (`SHA256:...`) pinned on first connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key_fingerprint: Option<String>,
    /// The pinned host key itself (`ssh-ed25519 AAAA...`), for the project-local
    /// `known_hosts` file that system `ssh` uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
    /// When the intent was recorded (before the provider call).
    pub created_at: Timestamp,
    /// The value of the kamal-dev label put on the VM, so a create interrupted before its
    /// answer was recorded can be found again at the provider.
    pub idempotency_key: String,
    pub status: MachineStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Hourly price of a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Millionths of the currency unit per hour (EUR 0.0104/h = 10400).
    pub hourly_micros: u64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MachineStatus {
    /// Intent recorded; the provider may or may not have created it yet.
    Provisioning,
    Running,
    Stopped,
    Failed,
    /// Deletion requested; the entry goes once the provider confirms.
    Removing,
}

/// A devcontainer deployed for a user, on one machine (several may share a machine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    /// Name of the machine in [`State::machines`]; `None` for entries migrated from the seed's
    /// format, which did not record machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Provider id of the machine (kept from the seed's format for readers of the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_id: Option<String>,
    /// Address of the machine (kept from the seed's format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_ip: Option<String>,
    pub container_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    pub status: WorkspaceStatus,
    pub deployed_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A published port: `host` on the machine forwards to `container`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub host: u16,
    pub container: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceStatus {
    Provisioning,
    Running,
    Stopped,
    Failed,
    Removing,
}

impl WorkspaceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceStatus::Provisioning => "provisioning",
            WorkspaceStatus::Running => "running",
            WorkspaceStatus::Stopped => "stopped",
            WorkspaceStatus::Failed => "failed",
            WorkspaceStatus::Removing => "removing",
        }
    }
}

impl std::fmt::Display for WorkspaceStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MachineStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineStatus::Provisioning => "provisioning",
            MachineStatus::Running => "running",
            MachineStatus::Stopped => "stopped",
            MachineStatus::Failed => "failed",
            MachineStatus::Removing => "removing",
        }
    }
}

impl std::fmt::Display for MachineStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is known about a machine before asking the provider to create it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineIntent {
    pub provider: String,
    pub zone: Option<String>,
    pub plan: Option<String>,
    pub price: Option<Price>,
}

/// A mutation named a machine or workspace the state does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("machine {0} is not in the state file")]
    UnknownMachine(String),
    #[error("workspace {0} is not in the state file")]
    UnknownWorkspace(String),
    #[error("machine {0} is already recorded with a provider id")]
    MachineExists(String),
}

impl crate::error::UserFacing for ModelError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ModelError::MachineExists(_) => {
                "remove it with `kamal-dev remove` before creating it again".into()
            }
            _ => "run `kamal-dev list` to see what the state file records".into(),
        })
    }
}

impl State {
    /// Record that machine `name` is about to be created, **before** calling the provider, and
    /// return the idempotency key to label it with. Calling it again for a machine that is
    /// still `provisioning` or `failed` without a provider id returns the key recorded first,
    /// so a resumed deploy looks for the same VM instead of creating a second one. A machine
    /// that has a provider id is refused: replacing its entry would forget a VM that bills.
    pub fn record_machine_intent(
        &mut self,
        name: &str,
        intent: MachineIntent,
    ) -> Result<String, ModelError> {
        if let Some(existing) = self.machines.get_mut(name) {
            let resumable = existing.id.is_none()
                && matches!(
                    existing.status,
                    MachineStatus::Provisioning | MachineStatus::Failed
                );
            if !resumable {
                return Err(ModelError::MachineExists(name.to_string()));
            }
            existing.status = MachineStatus::Provisioning;
            existing.provider = intent.provider;
            existing.zone = intent.zone;
            existing.plan = intent.plan;
            existing.price = intent.price;
            existing.last_error = None;
            return Ok(existing.idempotency_key.clone());
        }
        let key = uuid::Uuid::new_v4().to_string();
        self.machines.insert(
            name.to_string(),
            Machine {
                id: None,
                provider: intent.provider,
                zone: intent.zone,
                plan: intent.plan,
                ip: None,
                host_key_fingerprint: None,
                host_key: None,
                price: intent.price,
                created_at: Timestamp::now(),
                idempotency_key: key.clone(),
                status: MachineStatus::Provisioning,
                last_error: None,
            },
        );
        Ok(key)
    }

    /// The machine to update after a step (set `id`, `ip`, `status`, ...).
    pub fn machine_mut(&mut self, name: &str) -> Result<&mut Machine, ModelError> {
        self.machines
            .get_mut(name)
            .ok_or_else(|| ModelError::UnknownMachine(name.to_string()))
    }

    /// Drop a machine once the provider has confirmed its deletion.
    pub fn forget_machine(&mut self, name: &str) -> Option<Machine> {
        self.machines.remove(name)
    }

    /// Record workspace `name` in `provisioning` on `machine`, before its container is
    /// created; `vm_id`/`vm_ip` are copied from the machine. An existing entry is reset to
    /// `provisioning` and keeps its `deployed_at`.
    pub fn record_workspace_intent(
        &mut self,
        name: &str,
        machine: &str,
        container_name: &str,
        ports: Vec<PortMapping>,
    ) -> Result<&mut Workspace, ModelError> {
        let host = self
            .machines
            .get(machine)
            .ok_or_else(|| ModelError::UnknownMachine(machine.to_string()))?;
        let id = host.id.clone();
        let address = host.ip.clone();
        let now = Timestamp::now();
        let workspace = self
            .workspaces
            .entry(name.to_string())
            .or_insert_with(|| Workspace {
                machine: None,
                vm_id: None,
                vm_ip: None,
                container_name: String::new(),
                ports: Vec::new(),
                status: WorkspaceStatus::Provisioning,
                deployed_at: now,
                updated_at: None,
                last_error: None,
            });
        workspace.machine = Some(machine.to_string());
        workspace.vm_id = id;
        workspace.vm_ip = address;
        workspace.container_name = container_name.to_string();
        workspace.ports = ports;
        workspace.status = WorkspaceStatus::Provisioning;
        workspace.updated_at = Some(now);
        workspace.last_error = None;
        Ok(workspace)
    }

    /// The workspace to update after a step; prefer [`Workspace::set_status`] and
    /// [`Workspace::fail`], which keep `updated_at` and `last_error` right.
    pub fn workspace_mut(&mut self, name: &str) -> Result<&mut Workspace, ModelError> {
        self.workspaces
            .get_mut(name)
            .ok_or_else(|| ModelError::UnknownWorkspace(name.to_string()))
    }

    /// Drop a workspace once its container is gone.
    pub fn forget_workspace(&mut self, name: &str) -> Option<Workspace> {
        self.workspaces.remove(name)
    }

    /// Names of the workspaces placed on `machine`, to know when a machine is empty.
    pub fn workspaces_on<'a>(&'a self, machine: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.workspaces
            .iter()
            .filter(move |(_, w)| w.machine.as_deref() == Some(machine))
            .map(|(name, _)| name.as_str())
    }
}

impl Machine {
    /// Set the status; clears `last_error` unless the new status is `failed`.
    pub fn set_status(&mut self, status: MachineStatus) {
        self.status = status;
        if status != MachineStatus::Failed {
            self.last_error = None;
        }
    }

    /// Mark failed with the error to show in `list`/`status` (never put secrets in it).
    pub fn fail(&mut self, error: impl Into<String>) {
        self.status = MachineStatus::Failed;
        self.last_error = Some(error.into());
    }
}

impl Workspace {
    /// Set the status and `updated_at`; clears `last_error` unless the new status is `failed`.
    pub fn set_status(&mut self, status: WorkspaceStatus) {
        self.status = status;
        self.updated_at = Some(Timestamp::now());
        if status != WorkspaceStatus::Failed {
            self.last_error = None;
        }
    }

    /// Mark failed with the error to show in `list`/`status` (never put secrets in it).
    pub fn fail(&mut self, error: impl Into<String>) {
        self.status = WorkspaceStatus::Failed;
        self.updated_at = Some(Timestamp::now());
        self.last_error = Some(error.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent() -> MachineIntent {
        MachineIntent {
            provider: "upcloud".into(),
            zone: Some("de-fra1".into()),
            plan: Some("2xCPU-4GB".into()),
            price: Some(Price {
                hourly_micros: 10_400,
                currency: "EUR".into(),
            }),
        }
    }

    #[test]
    fn intent_is_recorded_as_provisioning_with_a_key() {
        let mut state = State::default();
        let key = state.record_machine_intent("m1", intent()).unwrap();
        let machine = &state.machines["m1"];
        assert_eq!(machine.status, MachineStatus::Provisioning);
        assert_eq!(machine.idempotency_key, key);
        assert!(machine.id.is_none());
        assert_eq!(key.len(), 36);
    }

    #[test]
    fn resumed_intent_reuses_the_key_until_the_machine_has_an_id() {
        let mut state = State::default();
        let first = state.record_machine_intent("m1", intent()).unwrap();
        state.machine_mut("m1").unwrap().fail("timeout");
        assert_eq!(state.record_machine_intent("m1", intent()), Ok(first));
        assert_eq!(state.machines["m1"].status, MachineStatus::Provisioning);
        assert!(state.machines["m1"].last_error.is_none());
        state.machine_mut("m1").unwrap().id = Some("uuid-1".into());
        state.machine_mut("m1").unwrap().fail("boot failed");
        assert_eq!(
            state.record_machine_intent("m1", intent()),
            Err(ModelError::MachineExists("m1".into()))
        );
        assert_eq!(state.machines["m1"].id.as_deref(), Some("uuid-1"));
    }

    #[test]
    fn workspace_intent_copies_machine_address_and_lists_on_machine() {
        let mut state = State::default();
        state.record_machine_intent("m1", intent()).unwrap();
        let m = state.machine_mut("m1").unwrap();
        m.id = Some("id-1".into());
        m.ip = Some("94.2.3.1".into());
        let ports = vec![PortMapping {
            host: 8080,
            container: 80,
        }];
        let ws = state
            .record_workspace_intent("app-1", "m1", "app-1", ports)
            .unwrap();
        assert_eq!(ws.vm_ip.as_deref(), Some("94.2.3.1"));
        assert_eq!(ws.status, WorkspaceStatus::Provisioning);
        ws.fail("docker run failed");
        assert_eq!(
            state.workspaces["app-1"].last_error.as_deref(),
            Some("docker run failed")
        );
        state
            .workspace_mut("app-1")
            .unwrap()
            .set_status(WorkspaceStatus::Running);
        assert!(state.workspaces["app-1"].last_error.is_none());
        assert_eq!(state.workspaces_on("m1").collect::<Vec<_>>(), ["app-1"]);
    }

    #[test]
    fn unknown_names_are_errors() {
        let mut state = State::default();
        assert_eq!(
            state
                .record_workspace_intent("w", "nope", "w", vec![])
                .unwrap_err(),
            ModelError::UnknownMachine("nope".into())
        );
        assert!(state.workspace_mut("w").is_err());
    }
}
