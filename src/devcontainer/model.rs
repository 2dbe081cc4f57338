//! A typed view of a (substituted) devcontainer.json: the kind of config, its build inputs
//! and the container properties. Lenient like the reference: a value of the wrong type is
//! treated as absent rather than rejected, and unknown keys stay in the JSON. Pure.

use serde_json::{Map, Value};

use super::hostreq::{self, HostRequirements};
use super::lifecycle::LifecycleCommand;
use super::migrate::js_truthy;

/// What the container is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Image(String),
    /// Paths as written in the file (relative to the config folder).
    Dockerfile {
        dockerfile: String,
        context: Option<String>,
    },
    Compose {
        files: Vec<String>,
        service: Option<String>,
    },
    /// None of image, Dockerfile or compose ("attach" configs): `up` cannot use it.
    None,
}

/// A `mounts` entry: a `--mount` string, or the object form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    Text(String),
    Object {
        kind: String,
        source: Option<String>,
        target: String,
    },
}

impl Mount {
    pub fn parse(value: &Value) -> Option<Mount> {
        match value {
            Value::String(s) => Some(Mount::Text(s.clone())),
            Value::Object(map) => Some(Mount::Object {
                kind: map.get("type").map(js_string).unwrap_or_default(),
                source: map.get("source").filter(|v| js_truthy(v)).map(js_string),
                target: map.get("target").map(js_string).unwrap_or_default(),
            }),
            _ => None,
        }
    }

    /// The `--mount` value: strings verbatim; objects as `type=..,src=..,dst=..` (other keys
    /// are dropped, as the reference does).
    pub fn to_arg(&self) -> String {
        match self {
            Mount::Text(s) => s.clone(),
            Mount::Object {
                kind,
                source,
                target,
            } => match source {
                Some(src) => format!("type={kind},src={src},dst={target}"),
                None => format!("type={kind},dst={target}"),
            },
        }
    }

    /// The mount target, for de-duplication (`target`, `dst` or `destination` in a string).
    pub fn target(&self) -> Option<String> {
        match self {
            Mount::Object { target, .. } => Some(target.clone()),
            Mount::Text(s) => {
                let mut found = None;
                for part in s.split(',') {
                    let mut kv = part.splitn(3, '=');
                    let key = kv.next().unwrap_or("");
                    let value = kv.next();
                    if matches!(key, "target" | "dst" | "destination") {
                        found = value.map(str::to_string);
                    }
                }
                found
            }
        }
    }
}

/// A typed view of the properties kamal-dev acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct DevContainer {
    pub name: Option<String>,
    pub kind: Kind,
    pub build_args: Vec<(String, String)>,
    pub build_target: Option<String>,
    pub cache_from: Vec<String>,
    pub build_options: Vec<String>,
    /// `appPort` entries: a number publishes `127.0.0.1:N:N`, a string passes through.
    pub app_port: Vec<Value>,
    pub forward_ports: Vec<Value>,
    pub run_args: Vec<String>,
    pub mounts: Vec<Mount>,
    pub container_env: Vec<(String, String)>,
    pub remote_env: Vec<(String, Option<String>)>,
    pub container_user: Option<String>,
    pub remote_user: Option<String>,
    pub init: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    /// `None` when absent; the reference treats anything but `false` as "override".
    pub override_command: Option<bool>,
    pub features: Vec<(String, Value)>,
    pub override_feature_install_order: Vec<String>,
    pub host_requirements: HostRequirements,
    pub initialize_command: Option<LifecycleCommand>,
    /// The five in-container hooks, in run order, each with its command if set.
    pub lifecycle: Vec<(&'static str, Option<LifecycleCommand>)>,
}

/// A JSON value as JavaScript's template-string interpolation would show it.
pub fn js_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(js_string).collect(),
        _ => Vec::new(),
    }
}

fn string_map(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), js_string(v))).collect(),
        _ => Vec::new(),
    }
}

fn opt_string(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_string)
}

impl DevContainer {
    /// Read the typed view from a config object.
    pub fn from_json(config: &Map<String, Value>) -> DevContainer {
        let build = config.get("build").and_then(Value::as_object);
        let kind = if config.contains_key("dockerFile")
            || build.is_some_and(|b| b.get("dockerfile").is_some_and(js_truthy))
        {
            // The legacy top-level `dockerFile` wins, and brings the top-level `context`.
            if config.contains_key("dockerFile") {
                Kind::Dockerfile {
                    dockerfile: config.get("dockerFile").map(js_string).unwrap_or_default(),
                    context: config
                        .get("context")
                        .filter(|v| js_truthy(v))
                        .map(js_string),
                }
            } else {
                Kind::Dockerfile {
                    dockerfile: build
                        .and_then(|b| b.get("dockerfile"))
                        .map(js_string)
                        .unwrap_or_default(),
                    context: build
                        .and_then(|b| b.get("context"))
                        .filter(|v| js_truthy(v))
                        .map(js_string),
                }
            }
        } else if config.contains_key("image") {
            Kind::Image(config.get("image").map(js_string).unwrap_or_default())
        } else if config.contains_key("dockerComposeFile") {
            let files = match config.get("dockerComposeFile") {
                Some(Value::String(s)) => vec![s.clone()],
                other => string_list(other),
            };
            Kind::Compose {
                files,
                service: opt_string(config, "service"),
            }
        } else {
            Kind::None
        };
        let cache_from = match build.and_then(|b| b.get("cacheFrom")) {
            Some(Value::String(s)) => vec![s.clone()],
            other => string_list(other),
        };
        let app_port = match config.get("appPort") {
            Some(Value::Array(items)) => items.clone(),
            Some(v @ (Value::Number(_) | Value::String(_))) => vec![v.clone()],
            _ => Vec::new(),
        };
        let remote_env = match config.get("remoteEnv") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), (!v.is_null()).then(|| js_string(v))))
                .collect(),
            _ => Vec::new(),
        };
        DevContainer {
            name: opt_string(config, "name"),
            kind,
            build_args: string_map(build.and_then(|b| b.get("args"))),
            build_target: build
                .and_then(|b| b.get("target"))
                .filter(|v| js_truthy(v))
                .map(js_string),
            cache_from,
            build_options: string_list(build.and_then(|b| b.get("options"))),
            app_port,
            forward_ports: match config.get("forwardPorts") {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            },
            run_args: string_list(config.get("runArgs")),
            mounts: match config.get("mounts") {
                Some(Value::Array(items)) => items.iter().filter_map(Mount::parse).collect(),
                _ => Vec::new(),
            },
            container_env: string_map(config.get("containerEnv")),
            remote_env,
            container_user: opt_string(config, "containerUser").filter(|s| !s.is_empty()),
            remote_user: opt_string(config, "remoteUser").filter(|s| !s.is_empty()),
            init: config.get("init").is_some_and(js_truthy),
            privileged: config.get("privileged").is_some_and(js_truthy),
            cap_add: string_list(config.get("capAdd")),
            security_opt: string_list(config.get("securityOpt")),
            override_command: config.get("overrideCommand").and_then(Value::as_bool),
            features: match config.get("features") {
                Some(Value::Object(map)) => {
                    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                }
                _ => Vec::new(),
            },
            override_feature_install_order: string_list(config.get("overrideFeatureInstallOrder")),
            host_requirements: hostreq::parse(config.get("hostRequirements")),
            initialize_command: config
                .get("initializeCommand")
                .and_then(LifecycleCommand::parse),
            lifecycle: super::lifecycle::CONTAINER_HOOKS
                .iter()
                .map(|hook| (*hook, config.get(*hook).and_then(LifecycleCommand::parse)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dc(v: &Value) -> DevContainer {
        DevContainer::from_json(v.as_object().unwrap())
    }

    #[test]
    fn kinds_in_reference_order() {
        assert_eq!(
            dc(&json!({"image": "a", "build": {"dockerfile": "D"}})).kind,
            Kind::Dockerfile {
                dockerfile: "D".into(),
                context: None
            }
        );
        assert_eq!(
            dc(&json!({"dockerFile": "D", "context": "..", "build": {"args": {"A": "1"}}})).kind,
            Kind::Dockerfile {
                dockerfile: "D".into(),
                context: Some("..".into())
            }
        );
        assert_eq!(dc(&json!({"image": "a"})).kind, Kind::Image("a".into()));
        assert_eq!(dc(&json!({"name": "x"})).kind, Kind::None);
    }

    #[test]
    fn mounts_render_like_the_reference() {
        let m = dc(&json!({"mounts": [
            {"type": "volume", "target": "/t", "uid": 1},
            {"type": "bind", "source": "/s", "target": "/u"},
            "source=a,target=/v,type=volume"
        ]}))
        .mounts;
        assert_eq!(m[0].to_arg(), "type=volume,dst=/t");
        assert_eq!(m[1].to_arg(), "type=bind,src=/s,dst=/u");
        assert_eq!(m[2].target().as_deref(), Some("/v"));
    }

    #[test]
    fn values_print_like_javascript() {
        let d = dc(&json!({"containerEnv": {"N": 5, "B": true}, "runArgs": ["-e", 1]}));
        assert_eq!(
            d.container_env,
            vec![("N".into(), "5".into()), ("B".into(), "true".into())]
        );
        assert_eq!(d.run_args, vec!["-e".to_string(), "1".to_string()]);
    }
}
