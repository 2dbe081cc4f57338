//! The merged configuration as the reference prints it (`mergedConfiguration` of
//! `read-configuration --include-merged-configuration`): devcontainer.json without the hooks
//! and customizations, plus every property merged over the metadata entries, with the
//! reference's exact value shapes (raw hook values collected into `...Commands` arrays,
//! `hostRequirements` byte counts as strings, `forwardPorts` de-duplicated). Pure.

use serde_json::{Map, Value};

use super::hostreq;
use super::migrate::js_truthy;
use super::model::Mount;

/// Keys of devcontainer.json the merge replaces.
const REPLACED: [&str; 8] = [
    "customizations",
    "entrypoint",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
    "postAttachCommand",
    "shutdownAction",
];

fn union(entries: &[Map<String, Value>], key: &str) -> Option<Value> {
    let mut out: Vec<Value> = Vec::new();
    for entry in entries {
        let items = match entry.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(v) if js_truthy(v) => vec![v.clone()],
            _ => Vec::new(),
        };
        for item in items {
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    (!out.is_empty()).then_some(Value::Array(out))
}

fn collect_truthy(entries: &[Map<String, Value>], key: &str) -> Vec<Value> {
    entries
        .iter()
        .filter_map(|e| e.get(key).filter(|v| js_truthy(v)).cloned())
        .collect()
}

fn last_truthy(entries: &[Map<String, Value>], key: &str) -> Option<Value> {
    entries
        .iter()
        .rev()
        .find_map(|e| e.get(key).filter(|v| js_truthy(v)).cloned())
}

fn last_bool(entries: &[Map<String, Value>], key: &str) -> Option<Value> {
    entries
        .iter()
        .rev()
        .find_map(|e| e.get(key).filter(|v| v.is_boolean()).cloned())
}

fn assign(entries: &[Map<String, Value>], key: &str) -> Value {
    let mut out = Map::new();
    for entry in entries {
        if let Some(Value::Object(map)) = entry.get(key) {
            for (k, v) in map {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn mounts(entries: &[Map<String, Value>]) -> Option<Value> {
    let all: Vec<(Option<String>, Value)> = entries
        .iter()
        .filter_map(|e| e.get("mounts").and_then(Value::as_array))
        .flatten()
        .filter_map(|v| Mount::parse(v).map(|m| (m.target(), v.clone())))
        .collect();
    let mut seen = Vec::new();
    let mut kept = Vec::new();
    for (target, value) in all.into_iter().rev() {
        if !seen.contains(&target) {
            seen.push(target);
            kept.push(value);
        }
    }
    kept.reverse();
    (!kept.is_empty()).then_some(Value::Array(kept))
}

fn customizations(entries: &[Map<String, Value>]) -> Option<Value> {
    let mut out: Map<String, Value> = Map::new();
    for entry in entries {
        if let Some(Value::Object(map)) = entry.get("customizations") {
            for (tool, value) in map {
                match out.get_mut(tool) {
                    Some(Value::Array(list)) => list.push(value.clone()),
                    _ => {
                        out.insert(tool.clone(), Value::Array(vec![value.clone()]));
                    }
                }
            }
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn forward_ports(entries: &[Map<String, Value>]) -> Option<Value> {
    let mut keys: Vec<String> = Vec::new();
    for entry in entries {
        if let Some(Value::Array(ports)) = entry.get("forwardPorts") {
            for port in ports {
                let key = match port {
                    Value::Number(n) => format!("localhost:{n}"),
                    other => super::model::js_string(other),
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    let ports: Vec<Value> = keys
        .into_iter()
        .map(
            |key| match key.strip_prefix("localhost:").map(str::parse::<u64>) {
                Some(Ok(n)) => Value::from(n),
                _ => Value::String(key),
            },
        )
        .collect();
    (!ports.is_empty()).then_some(Value::Array(ports))
}

/// `mergeConfiguration(config, entries)`; keys whose merged value is undefined are absent.
pub fn merged_configuration(
    config: &Map<String, Value>,
    entries: &[Map<String, Value>],
) -> Map<String, Value> {
    let mut out: Map<String, Value> = config
        .iter()
        .filter(|(k, _)| !REPLACED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let any = |key: &str| Value::Bool(entries.iter().any(|e| e.get(key).is_some_and(js_truthy)));
    let hooks = [
        ("onCreateCommands", "onCreateCommand"),
        ("updateContentCommands", "updateContentCommand"),
        ("postCreateCommands", "postCreateCommand"),
        ("postStartCommands", "postStartCommand"),
        ("postAttachCommands", "postAttachCommand"),
    ];
    let entrypoints = collect_truthy(entries, "entrypoint");
    let mut set = |key: &str, value: Option<Value>| match value {
        Some(v) => {
            out.insert(key.to_string(), v);
        }
        None => {
            out.shift_remove(key);
        }
    };
    set("init", Some(any("init")));
    set("privileged", Some(any("privileged")));
    set("capAdd", union(entries, "capAdd"));
    set("securityOpt", union(entries, "securityOpt"));
    set(
        "entrypoints",
        (!entrypoints.is_empty()).then_some(Value::Array(entrypoints)),
    );
    set("mounts", mounts(entries));
    set("customizations", customizations(entries));
    for (merged_key, hook) in hooks {
        set(
            merged_key,
            Some(Value::Array(collect_truthy(entries, hook))),
        );
    }
    for key in ["waitFor", "remoteUser", "containerUser", "userEnvProbe"] {
        set(key, last_truthy(entries, key));
    }
    set("remoteEnv", Some(assign(entries, "remoteEnv")));
    set("containerEnv", Some(assign(entries, "containerEnv")));
    set("overrideCommand", last_bool(entries, "overrideCommand"));
    set("portsAttributes", Some(assign(entries, "portsAttributes")));
    set(
        "otherPortsAttributes",
        last_truthy(entries, "otherPortsAttributes"),
    );
    set("forwardPorts", forward_ports(entries));
    set("shutdownAction", last_truthy(entries, "shutdownAction"));
    set(
        "updateRemoteUserUID",
        last_bool(entries, "updateRemoteUserUID"),
    );
    let host_requirements = if entries.is_empty() {
        // The reference takes `Math.max()` of nothing, -Infinity, which is truthy.
        Some(serde_json::json!({"cpus": null, "memory": "-Infinity", "storage": "-Infinity"}))
    } else {
        hostreq::merge(entries.iter().map(|e| e.get("hostRequirements"))).map(|h| h.to_json())
    };
    set("hostRequirements", host_requirements);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn merges_like_the_reference() {
        let config = obj(
            &json!({"image": "x", "postCreateCommand": "p", "forwardPorts": [3000, "db:5432"],
                                 "customizations": {"vscode": {"a": 1}}, "hostRequirements": {"memory": "8gb"}}),
        );
        let feature = obj(
            &json!({"id": "./f", "postCreateCommand": ["f"], "forwardPorts": [3000],
                                  "customizations": {"vscode": {"b": 2}}, "init": true}),
        );
        let merged = merged_configuration(&config, &[feature, config.clone()]);
        assert_eq!(
            Value::Object(merged),
            json!({"image": "x", "forwardPorts": [3000, "db:5432"], "init": true, "privileged": false,
                   "customizations": {"vscode": [{"b": 2}, {"a": 1}]},
                   "onCreateCommands": [], "updateContentCommands": [], "postCreateCommands": [["f"], "p"],
                   "postStartCommands": [], "postAttachCommands": [], "remoteEnv": {}, "containerEnv": {},
                   "portsAttributes": {}, "hostRequirements": {"cpus": 0, "memory": "8589934592"}})
        );
    }
}
