//! End-to-end: the real binary deploys real containers over real SSH (sshd on 127.0.0.10..25)
//! into the real Docker engine, with the fake UpCloud API handing out those addresses, or with
//! the local provider. Skipped, saying why, unless `KAMAL_DEV_TEST_SERVICES=1` (`.ci/run`
//! starts the services). One test per provider; each runs its steps in order and removes its
//! containers at the end even when it fails.
//!
//! The checks every scenario shares live here: what `docker inspect` must show for a
//! workspace, the secrets inside it, and that no secret value leaked anywhere.

mod local;
mod upcloud;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::common::project::{self, Project, Sampled};

/// What one workspace container must look like.
struct Expected<'a> {
    name: &'a str,
    service: &'a str,
    machine: &'a str,
    nano_cpus: u64,
    memory: u64,
    ports: &'a [u16],
}

/// `docker inspect` the workspace's container and check name, state, limits, labels and port
/// bindings; returns the host ports bound, by container port.
fn check_container(expected: &Expected<'_>) -> Vec<(u16, u16)> {
    let name = expected.name;
    let inspect =
        project::inspect(name).unwrap_or_else(|| panic!("container {name} does not exist"));
    assert_eq!(inspect["Name"], format!("/{name}"), "container name");
    assert_eq!(
        inspect["State"]["Status"], "running",
        "{name} is not running: {}",
        inspect["State"]
    );
    assert_eq!(
        inspect["HostConfig"]["NanoCpus"].as_u64(),
        Some(expected.nano_cpus),
        "{name} CPU limit"
    );
    assert_eq!(
        inspect["HostConfig"]["Memory"].as_u64(),
        Some(expected.memory),
        "{name} memory limit"
    );
    let labels = &inspect["Config"]["Labels"];
    assert_eq!(
        labels["kamal-dev"], expected.service,
        "{name} service label"
    );
    assert_eq!(
        labels["kamal-dev-workspace"], name,
        "{name} workspace label"
    );
    assert_eq!(
        labels["kamal-dev-machine"], expected.machine,
        "{name} machine label"
    );
    let mut bound = Vec::new();
    for port in expected.ports {
        let bindings = &inspect["NetworkSettings"]["Ports"][format!("{port}/tcp")];
        let list = bindings
            .as_array()
            .unwrap_or_else(|| panic!("{name}: port {port} is not published: {bindings}"));
        assert!(!list.is_empty(), "{name}: port {port} has no binding");
        for binding in list {
            assert_eq!(
                binding["HostIp"], "127.0.0.1",
                "{name}: port {port} must be bound to loopback only: {binding}"
            );
        }
        let host: u16 = list[0]["HostPort"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no host port in {bindings}"));
        assert!(host > 0, "{name}: host port 0");
        bound.push((*port, host));
    }
    bound
}

/// The secrets are inside the container as `KEY` and `KEY_B64` (multi-line values as
/// `KEY_B64` only); provider credentials are not there at all.
fn check_secrets_inside(project: &Project, name: &str, credentials: &[&str]) {
    let env = project::container_env(name);
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    for (key, value) in &project.secrets {
        let b64_key = format!("{key}_B64");
        if credentials.contains(&key.as_str()) {
            assert_eq!(get(key), None, "{name}: provider credential {key} injected");
            assert_eq!(
                get(&b64_key),
                None,
                "{name}: provider credential {key} injected"
            );
            continue;
        }
        if value.contains('\n') {
            assert_eq!(get(key), None, "{name}: multi-line {key} must be _B64 only");
        } else {
            assert_eq!(get(key), Some(value.as_str()), "{name}: {key} inside");
        }
        assert_eq!(
            get(&b64_key),
            Some(STANDARD.encode(value).as_str()),
            "{name}: {b64_key} inside"
        );
    }
}

/// No secret in any command line the sampler saw; and the sampler did see the deploy's
/// `docker run` (otherwise the check would prove nothing).
fn check_cmdlines(project: &Project, sampled: &Sampled) {
    assert!(sampled.passes > 0, "the command-line sampler never ran");
    for line in &sampled.lines {
        project.assert_no_leak(&format!("the command line `{line}`"), line);
    }
    let saw_run = sampled
        .lines
        .iter()
        .any(|line| line.contains("docker") && line.contains(&project.service));
    assert!(
        saw_run,
        "the sampler saw no docker command for {} in {} passes ({} distinct command lines)",
        project.service,
        sampled.passes,
        sampled.lines.len()
    );
}

/// The state file's table of workspaces (named `deployments`, as the seed's file was).
const WORKSPACES: &str = "deployments";

/// Workspace name -> status, from the state file.
fn workspace_statuses(state: &Value) -> Vec<(String, String)> {
    state[WORKSPACES]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(name, w)| (name.clone(), w["status"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn entries(state: &Value, table: &str) -> usize {
    state[table].as_object().map_or(0, serde_json::Map::len)
}

/// Fail the test when a command answers "not implemented yet": every step must run.
fn require_built(what: &str, output: &project::RunOutput) {
    assert!(
        !output.is_not_implemented(),
        "`kamal-dev {what}` is not implemented: the end-to-end steps that need it cannot run"
    );
}
