//! Turning the text of a state file into a current [`State`]: schema version check, migration
//! from the seed's unversioned `deployments:`-only format, and parse errors with line and
//! column. Pure: text in, value or error out; the store does the file access.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::StateError;
use super::model::{SCHEMA_VERSION, State, Workspace, WorkspaceStatus};

/// Parse a state file's text; `path` names the file in errors. Blank text is an empty state.
pub fn parse(text: &str, path: &str) -> Result<State, StateError> {
    if text.trim().is_empty() {
        return Ok(State::default());
    }
    // The common case costs one parse; the probe runs only when that fails, to tell a seed
    // file or a newer schema from a broken current one.
    let current: Result<Option<State>, StateError> = from_str(text, path);
    match current {
        Ok(Some(state)) if state.version == SCHEMA_VERSION => return Ok(state),
        Ok(None) => return Ok(State::default()),
        _ => {}
    }
    let probe: Option<Probe> = from_str(text, path)?;
    let Some(probe) = probe else {
        return Ok(State::default());
    };
    match probe.version {
        None => from_seed(from_str(text, path)?, path),
        Some(found) if found > u64::from(SCHEMA_VERSION) => Err(StateError::NewerVersion {
            path: path.to_string(),
            found,
        }),
        Some(found) if found == u64::from(SCHEMA_VERSION) => current.map(Option::unwrap_or_default),
        Some(found) => Err(StateError::Corrupt {
            path: path.to_string(),
            line: 1,
            column: 1,
            message: format!(
                "version: {found} is not a schema version (expected {SCHEMA_VERSION})"
            ),
        }),
    }
}

/// Serialize a state for writing.
pub fn render(state: &State) -> Result<String, StateError> {
    serde_saphyr::to_string(state).map_err(|err| StateError::Serialize(err.to_string()))
}

/// Only the version, to choose how to read the rest.
#[derive(Deserialize)]
struct Probe {
    version: Option<u64>,
}

/// The seed's format: `deployments: NAME: {vm_id, vm_ip, container_name, status,
/// deployed_at}`; compose entries carry `type: compose` and `containers:` instead.
#[derive(Deserialize)]
struct SeedFile {
    #[serde(default)]
    deployments: Option<BTreeMap<String, SeedDeployment>>,
}

#[derive(Deserialize)]
struct SeedDeployment {
    vm_id: Option<String>,
    vm_ip: Option<String>,
    container_name: Option<String>,
    status: Option<String>,
    deployed_at: Option<String>,
    #[serde(default)]
    containers: Vec<SeedContainer>,
}

#[derive(Deserialize)]
struct SeedContainer {
    name: Option<String>,
}

fn from_seed(seed: Option<SeedFile>, path: &str) -> Result<State, StateError> {
    let mut state = State::default();
    let deployments = seed.and_then(|s| s.deployments).unwrap_or_default();
    for (name, old) in deployments {
        let problem = |message: String| StateError::Migration {
            path: path.to_string(),
            workspace: name.clone(),
            message,
        };
        let status = match old.status.as_deref() {
            Some("running") => WorkspaceStatus::Running,
            Some("stopped") => WorkspaceStatus::Stopped,
            // The seed wrote `provisioned` for a VM whose container had not been started yet.
            Some("provisioned") | None => WorkspaceStatus::Provisioning,
            Some(other) => return Err(problem(format!("unknown status {other:?}"))),
        };
        let deployed_at = match old.deployed_at.as_deref() {
            Some(text) => parse_time(text)
                .ok_or_else(|| problem(format!("deployed_at {text:?} is not a date and time")))?,
            None => Timestamp::UNIX_EPOCH,
        };
        let container_name = old
            .container_name
            .or_else(|| old.containers.into_iter().find_map(|c| c.name))
            .unwrap_or_else(|| name.clone());
        state.workspaces.insert(
            name.clone(),
            Workspace {
                machine: None,
                vm_id: old.vm_id,
                vm_ip: old.vm_ip,
                container_name,
                ports: Vec::new(),
                status,
                deployed_at,
                updated_at: None,
                last_error: None,
            },
        );
    }
    Ok(state)
}

/// RFC 3339 (`2025-11-15T10:00:00Z`, what Ruby's `Time#iso8601` writes) or a civil time with
/// an offset such as `2025-11-15 10:00:00 +0000` (Ruby's `Time#to_s`).
fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok().or_else(|| {
        jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S %z", text)
            .ok()?
            .to_timestamp()
            .ok()
    })
}

fn from_str<'de, T: Deserialize<'de>>(text: &'de str, path: &str) -> Result<T, StateError> {
    serde_saphyr::from_str(text).map_err(|err| {
        let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
        StateError::Corrupt {
            path: path.to_string(),
            line,
            column,
            message: strip_location(&err.without_snippet().to_string()),
        }
    })
}

/// Drop serde-saphyr's ` at line L, column C` suffix; the location is printed first.
fn strip_location(message: &str) -> String {
    let message = message.trim();
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::model::{MachineIntent, PortMapping, Price};

    #[test]
    fn round_trips_a_full_state() {
        let mut state = State {
            serial: 7,
            ..State::default()
        };
        state
            .record_machine_intent(
                "m1",
                MachineIntent {
                    provider: "hetzner".into(),
                    zone: Some("fsn1".into()),
                    plan: Some("cx22".into()),
                    price: Some(Price {
                        hourly_micros: 7_600,
                        currency: "EUR".into(),
                    }),
                },
            )
            .unwrap();
        state.machine_mut("m1").unwrap().ip = Some("94.2.3.1".into());
        state
            .record_workspace_intent(
                "app-1",
                "m1",
                "app-1",
                vec![PortMapping {
                    host: 2222,
                    container: 22,
                }],
            )
            .unwrap()
            .fail("it broke: \"quoted\"\nsecond line");
        let text = render(&state).unwrap();
        assert!(text.starts_with("version: 1\n"), "{text}");
        assert_eq!(parse(&text, "s.yml").unwrap(), state);
    }

    #[test]
    fn migrates_the_seed_format() {
        let text = "deployments:\n  my-app-1:\n    vm_id: 00a1-uuid\n    vm_ip: 94.2.3.1\n    \
                    container_name: my-app-1\n    status: running\n    deployed_at: '2025-11-15T10:00:00Z'\n  \
                    web:\n    vm_id: 12345\n    vm_ip: 1.2.3.4\n    type: compose\n    deployed_at: 2025-11-15 10:00:00 +0000\n    \
                    containers:\n    - name: web-app-1\n      service: app\n      image: x\n      status: running\n";
        let state = parse(text, "s.yml").unwrap();
        assert_eq!(state.version, SCHEMA_VERSION);
        let app = &state.workspaces["my-app-1"];
        assert_eq!(app.status, WorkspaceStatus::Running);
        assert_eq!(app.vm_id.as_deref(), Some("00a1-uuid"));
        assert_eq!(app.deployed_at.to_string(), "2025-11-15T10:00:00Z");
        let web = &state.workspaces["web"];
        assert_eq!(web.container_name, "web-app-1");
        assert_eq!(web.vm_id.as_deref(), Some("12345"));
        assert_eq!(web.status, WorkspaceStatus::Provisioning);
    }

    #[test]
    fn newer_version_is_refused() {
        let err = parse("version: 2\nfuture: {}\n", "s.yml").unwrap_err();
        assert!(
            matches!(err, StateError::NewerVersion { found: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn corrupt_text_names_line_and_column() {
        let text = "version: 1\ndeployments:\n  a:\n    container_name: a\n    status: sideways\n";
        let err = parse(text, "s.yml").unwrap_err();
        let StateError::Corrupt { line, column, .. } = err else {
            panic!("{err}")
        };
        assert_eq!((line, column), (5, 13));
    }

    #[test]
    fn blank_and_empty_seed_are_empty_states() {
        assert_eq!(parse("  \n", "s").unwrap(), State::default());
        assert_eq!(parse("deployments: {}\n", "s").unwrap(), State::default());
        assert_eq!(parse("{}\n", "s").unwrap(), State::default());
    }
}
