//! Image metadata (`devcontainer.metadata`): which properties an entry carries, how the
//! entries of base image, Features and devcontainer.json merge (booleans OR, lists union,
//! mounts de-duplicated by target, hooks collected, scalars last-wins), and how the label is
//! written (`-l devcontainer.metadata=<json>` or a Dockerfile `LABEL`). Pure.

use serde_json::{Map, Value};

use super::hostreq::{self, HostRequirements};
use super::lifecycle::{CONTAINER_HOOKS, LifecycleCommand};
use super::migrate::js_truthy;
use super::model::{Mount, js_string};

/// Properties of devcontainer.json that go into its metadata entry, in this order.
pub const CONFIG_PROPERTIES: [&str; 24] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "waitFor",
    "customizations",
    "mounts",
    "containerEnv",
    "containerUser",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "remoteUser",
    "userEnvProbe",
    "remoteEnv",
    "overrideCommand",
    "portsAttributes",
    "otherPortsAttributes",
    "forwardPorts",
    "shutdownAction",
    "updateRemoteUserUID",
    "hostRequirements",
];

/// Properties of a Feature that go into its metadata entry (after `id`), in this order.
pub const FEATURE_PROPERTIES: [&str; 12] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "init",
    "privileged",
    "capAdd",
    "securityOpt",
    "entrypoint",
    "mounts",
    "customizations",
];

/// The keys of `keys` that `map` has, in `keys` order.
pub fn pick(map: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| map.get(*k).map(|v| ((*k).to_string(), v.clone())))
        .collect()
}

/// The devcontainer.json's own entry.
pub fn config_entry(config: &Map<String, Value>) -> Map<String, Value> {
    pick(config, &CONFIG_PROPERTIES)
}

/// A Feature's entry: its user id, then its picked properties.
pub fn feature_entry(user_id: &str, feature: &Map<String, Value>) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("id".to_string(), Value::String(user_id.to_string()));
    entry.extend(pick(feature, &FEATURE_PROPERTIES));
    entry
}

/// Drop empty entries, as the reference does before writing or merging.
pub fn non_empty(entries: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    entries.into_iter().filter(|e| !e.is_empty()).collect()
}

/// The label value: the entries as a compact JSON array.
pub fn label_value(entries: &[Map<String, Value>]) -> String {
    Value::Array(entries.iter().cloned().map(Value::Object).collect()).to_string()
}

/// The Dockerfile `LABEL` line; empty when there are no entries.
pub fn dockerfile_label(entries: &[Map<String, Value>]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                " \\\n{}",
                escape_for_label(&Value::Object(e.clone()).to_string())
            )
        })
        .collect();
    format!("LABEL devcontainer.metadata=\"[{} \\\n]\"", items.join(","))
}

/// Backslash before `"`, `\` and `$`.
fn escape_for_label(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The merged view of all metadata entries (the reference's `mergeConfiguration`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub init: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    pub entrypoints: Vec<String>,
    pub mounts: Vec<Mount>,
    pub container_env: Vec<(String, String)>,
    pub remote_env: Vec<(String, Option<String>)>,
    pub container_user: Option<String>,
    pub remote_user: Option<String>,
    pub override_command: Option<bool>,
    pub update_remote_user_uid: Option<bool>,
    pub host_requirements: Option<HostRequirements>,
    /// Hook name -> the commands collected from every entry, in entry order.
    pub lifecycle: Vec<(&'static str, Vec<LifecycleCommand>)>,
}

fn union(target: &mut Vec<String>, value: Option<&Value>) {
    if let Some(Value::Array(items)) = value {
        for item in items {
            let s = js_string(item);
            if !target.contains(&s) {
                target.push(s);
            }
        }
    }
}

fn assign<T: Clone>(target: &mut Vec<(String, T)>, key: &str, value: T) {
    match target.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => target.push((key.to_string(), value)),
    }
}

fn last_string(entries: &[Map<String, Value>], key: &str) -> Option<String> {
    entries
        .iter()
        .rev()
        .find_map(|e| e.get(key).filter(|v| js_truthy(v)).map(js_string))
}

/// Merge entries (base image first, then Features, then devcontainer.json).
pub fn merge(entries: &[Map<String, Value>]) -> Merged {
    let mut merged = Merged {
        init: entries.iter().any(|e| e.get("init").is_some_and(js_truthy)),
        privileged: entries
            .iter()
            .any(|e| e.get("privileged").is_some_and(js_truthy)),
        container_user: last_string(entries, "containerUser"),
        remote_user: last_string(entries, "remoteUser"),
        override_command: entries
            .iter()
            .rev()
            .find_map(|e| e.get("overrideCommand").and_then(Value::as_bool)),
        update_remote_user_uid: entries
            .iter()
            .rev()
            .find_map(|e| e.get("updateRemoteUserUID").and_then(Value::as_bool)),
        host_requirements: hostreq::merge(entries.iter().map(|e| e.get("hostRequirements"))),
        ..Merged::default()
    };
    let mut all_mounts = Vec::new();
    for entry in entries {
        union(&mut merged.cap_add, entry.get("capAdd"));
        union(&mut merged.security_opt, entry.get("securityOpt"));
        if let Some(ep) = entry.get("entrypoint").filter(|v| js_truthy(v)) {
            merged.entrypoints.push(js_string(ep));
        }
        if let Some(Value::Array(items)) = entry.get("mounts") {
            all_mounts.extend(items.iter().filter_map(Mount::parse));
        }
        if let Some(Value::Object(env)) = entry.get("containerEnv") {
            for (k, v) in env {
                assign(&mut merged.container_env, k, js_string(v));
            }
        }
        if let Some(Value::Object(env)) = entry.get("remoteEnv") {
            for (k, v) in env {
                assign(
                    &mut merged.remote_env,
                    k,
                    (!v.is_null()).then(|| js_string(v)),
                );
            }
        }
    }
    // De-duplicate by target: the last occurrence wins and keeps its own place.
    let mut seen = Vec::new();
    let mut kept = Vec::new();
    for mount in all_mounts.into_iter().rev() {
        let target = mount.target();
        if !seen.contains(&target) {
            seen.push(target);
            kept.push(mount);
        }
    }
    kept.reverse();
    merged.mounts = kept;
    merged.lifecycle = CONTAINER_HOOKS
        .iter()
        .map(|hook| {
            let commands = entries
                .iter()
                .filter_map(|e| e.get(*hook).and_then(LifecycleCommand::parse))
                .collect();
            (*hook, commands)
        })
        .collect();
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn picks_in_reference_order() {
        let config = obj(&json!({"remoteEnv": {"A": "1"}, "image": "x", "postCreateCommand": "p"}));
        let entry = config_entry(&config);
        assert_eq!(
            label_value(&[entry]),
            r#"[{"postCreateCommand":"p","remoteEnv":{"A":"1"}}]"#
        );
    }

    #[test]
    fn dockerfile_label_escapes() {
        let label = dockerfile_label(&[obj(&json!({"id": "./a"})), obj(&json!({"x": "$\"\\"}))]);
        assert_eq!(
            label,
            "LABEL devcontainer.metadata=\"[ \\\n{\\\"id\\\":\\\"./a\\\"}, \\\n{\\\"x\\\":\\\"\\$\\\\\\\"\\\\\\\\\\\"} \\\n]\""
        );
        assert_eq!(dockerfile_label(&[]), "");
    }

    #[test]
    fn merge_rules() {
        let merged = merge(&[
            obj(
                &json!({"init": true, "capAdd": ["A"], "mounts": ["source=x,target=/t"], "entrypoint": "/e"}),
            ),
            obj(
                &json!({"capAdd": ["A", "B"], "mounts": [{"type": "volume", "target": "/t"}],
                       "containerEnv": {"K": "1"}, "overrideCommand": false, "remoteUser": "u"}),
            ),
            obj(&json!({"containerEnv": {"K": "2", "L": "3"}, "postCreateCommand": "p"})),
        ]);
        assert!(merged.init && !merged.privileged);
        assert_eq!(merged.cap_add, ["A", "B"]);
        assert_eq!(merged.entrypoints, ["/e"]);
        assert_eq!(merged.mounts.len(), 1);
        assert_eq!(merged.mounts[0].to_arg(), "type=volume,dst=/t");
        assert_eq!(
            merged.container_env,
            vec![
                ("K".to_string(), "2".to_string()),
                ("L".to_string(), "3".to_string())
            ]
        );
        assert_eq!(merged.override_command, Some(false));
        assert_eq!(merged.remote_user.as_deref(), Some("u"));
        assert_eq!(merged.lifecycle[2].1.len(), 1);
    }
}
