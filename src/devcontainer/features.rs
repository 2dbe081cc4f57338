//! Local Features (`./name` folders next to devcontainer.json): resolution, `dependsOn`
//! (hard, recursive, pulled in) and `installsAfter` (soft, never pulls in) edges,
//! `overrideFeatureInstallOrder` priorities and the reference's round-based install order.
//! Features from a registry or a URL are refused with a clear error: they need the network.
//! Pure: reading a Feature's `devcontainer-feature.json` is a function passed in.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::DevcontainerError;
use super::jsonc;
use super::model::js_string;
use super::paths::{basename_posix, normalize_posix, relative_posix};

/// A Feature in install order.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFeature {
    /// The key as written (`./a`).
    pub user_id: String,
    /// The options value as written (object, string or boolean).
    pub options: Value,
    /// Absolute folder of the Feature.
    pub path: String,
    /// The Feature's id (its metadata `id`, else the folder name).
    pub id: String,
    /// `devcontainer-feature.json`.
    pub metadata: Map<String, Value>,
    /// `<id>_<index in install order>`: the folder name in the build context.
    pub consecutive_id: String,
}

#[derive(Debug, Clone)]
struct Node {
    user_id: String,
    options: Value,
    path: String,
    metadata: Map<String, Value>,
    depends_on: Vec<(String, Value)>,
    installs_after: Vec<String>,
    priority: usize,
}

/// Where a Feature reference points: a local folder (`Ok(false)`), a registry (`Ok(true)`),
/// or a form kamal-dev cannot use.
fn classify(user_id: &str) -> Result<bool, DevcontainerError> {
    let unsupported = |what: &str| DevcontainerError::Feature {
        id: user_id.to_string(),
        message: format!(
            "{what} is not supported; use its registry reference (e.g. ghcr.io/devcontainers/features/node:1) or a local Feature (\"./name\")"
        ),
    };
    if !user_id.contains('/') && !user_id.contains('\\') {
        return Err(unsupported(
            "a legacy Feature id (mapped to ghcr.io/devcontainers/features)",
        ));
    }
    if user_id.starts_with("https://") || user_id.starts_with("http://") {
        return Err(unsupported("a Feature tarball from a URL"));
    }
    if user_id.starts_with("./") || user_id.starts_with("../") {
        return Ok(false);
    }
    if user_id.starts_with('/') {
        return Err(DevcontainerError::Feature {
            id: user_id.to_string(),
            message: "an absolute path to a local Feature is not allowed".to_string(),
        });
    }
    if user_id.contains('@') && !user_id.contains("@sha256:") {
        return Err(unsupported(
            "a GitHub release Feature (owner/repo/feature@tag)",
        ));
    }
    Ok(true)
}

/// Finds the folder of a downloaded registry Feature by its reference as written.
pub type Downloaded<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The absolute folder of a Feature: a local one must lie inside `<workspace>/.devcontainer`;
/// a registry one is its unpacked download.
fn resolve_path(
    user_id: &str,
    config_folder: &str,
    workspace: &str,
    downloaded: Downloaded<'_>,
) -> Result<String, DevcontainerError> {
    if classify(user_id)? {
        return downloaded(user_id).ok_or_else(|| DevcontainerError::NotDownloaded {
            id: user_id.to_string(),
        });
    }
    let path = normalize_posix(&format!("{config_folder}/{user_id}"));
    let root = normalize_posix(&format!("{workspace}/.devcontainer"));
    if relative_posix(&root, &path).contains("..") {
        return Err(DevcontainerError::Feature {
            id: user_id.to_string(),
            message: format!("resolved path {path} must be inside {root}"),
        });
    }
    Ok(path)
}

/// JavaScript's `localeCompare`, approximated: case-insensitive first, lower case first on ties.
pub fn locale_compare(a: &str, b: &str) -> Ordering {
    let fold = |s: &str| s.to_lowercase();
    fold(a).cmp(&fold(b)).then_with(|| {
        let swap = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_uppercase() {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect::<String>()
        };
        swap(a).cmp(&swap(b))
    })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::Null | Value::Array(_) | Value::Object(_) => "object",
    }
}

/// The reference's option comparison: by kind, then key count, sorted keys, values.
fn compare_options(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::String(l), Value::String(r)) => locale_compare(l, r),
        (Value::Bool(l), Value::Bool(r)) => l.cmp(r),
        (Value::Object(l), Value::Object(r)) => compare_option_maps(l, r),
        (
            Value::Object(_) | Value::Null | Value::Array(_),
            Value::Object(_) | Value::Null | Value::Array(_),
        ) => Ordering::Equal,
        _ => type_name(left).cmp(type_name(right)),
    }
}

fn compare_option_maps(left: &Map<String, Value>, right: &Map<String, Value>) -> Ordering {
    if left.len() != right.len() {
        return left.len().cmp(&right.len());
    }
    let mut left_keys: Vec<&String> = left.keys().collect();
    let mut right_keys: Vec<&String> = right.keys().collect();
    left_keys.sort();
    right_keys.sort();
    for (lk, rk) in left_keys.into_iter().zip(right_keys) {
        if lk != rk {
            return locale_compare(lk, rk);
        }
        let ord = match (left.get(lk), right.get(rk)) {
            (Some(Value::String(lv)), Some(Value::String(rv))) => locale_compare(lv, rv),
            (Some(Value::Bool(lv)), Some(Value::Bool(rv))) => lv.cmp(rv),
            _ => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn compare_nodes(a: &Node, b: &Node) -> Ordering {
    locale_compare(&a.path, &b.path).then_with(|| compare_options(&a.options, &b.options))
}

fn same_feature(a: &Node, b: &Node) -> bool {
    compare_nodes(a, b) == Ordering::Equal
}

fn load_node(
    user_id: &str,
    options: Value,
    path: String,
    read: &mut impl FnMut(&str) -> Result<String, DevcontainerError>,
) -> Result<Node, DevcontainerError> {
    let file = format!("{path}/devcontainer-feature.json");
    let text = read(&file)?;
    let metadata = match jsonc::parse(&text) {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(err) => {
            return Err(DevcontainerError::Syntax {
                path: file.into(),
                line: err.line,
                column: err.column,
                message: err.message,
            });
        }
    };
    let depends_on = match metadata.get("dependsOn") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    };
    let installs_after = match metadata.get("installsAfter") {
        Some(Value::Array(items)) => items.iter().map(js_string).collect(),
        _ => Vec::new(),
    };
    Ok(Node {
        user_id: user_id.to_string(),
        options,
        path,
        metadata,
        depends_on,
        installs_after,
        priority: 0,
    })
}

fn probe(user_id: &str, options: &Value, path: String) -> Node {
    Node {
        user_id: user_id.to_string(),
        options: options.clone(),
        path,
        metadata: Map::new(),
        depends_on: Vec::new(),
        installs_after: Vec::new(),
        priority: 0,
    }
}

/// The worklist: user Features, then every `dependsOn`, recursively, de-duplicated.
fn worklist(
    features: &[(String, Value)],
    config_folder: &str,
    workspace: &str,
    downloaded: Downloaded<'_>,
    read: &mut impl FnMut(&str) -> Result<String, DevcontainerError>,
) -> Result<Vec<Node>, DevcontainerError> {
    let mut queue: std::collections::VecDeque<(String, Value)> = features.iter().cloned().collect();
    let mut nodes: Vec<Node> = Vec::new();
    while let Some((user_id, options)) = queue.pop_front() {
        let path = resolve_path(&user_id, config_folder, workspace, downloaded)?;
        let candidate = probe(&user_id, &options, path.clone());
        if nodes.iter().any(|n| same_feature(n, &candidate)) {
            continue;
        }
        let node = load_node(&user_id, options, path, read)?;
        queue.extend(node.depends_on.iter().cloned());
        nodes.push(node);
    }
    Ok(nodes)
}

/// Round by round: every Feature whose dependencies are installed, highest override priority
/// first, sorted stably; a round with no candidates means a cycle.
fn install_order(
    nodes: &[Node],
    hard: &[Vec<Node>],
    soft: &[Vec<String>],
) -> Result<Vec<usize>, DevcontainerError> {
    let mut remaining: Vec<usize> = (0..nodes.len()).collect();
    let mut order: Vec<usize> = Vec::new();
    while !remaining.is_empty() {
        let installed =
            |dep: &Node, order: &[usize]| order.iter().any(|&i| same_feature(&nodes[i], dep));
        let mut round: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&i| {
                hard[i].iter().all(|d| installed(d, &order))
                    && soft[i]
                        .iter()
                        .all(|p| order.iter().any(|&j| &nodes[j].path == p))
            })
            .collect();
        if round.is_empty() {
            let ids: Vec<_> = remaining
                .iter()
                .map(|&i| nodes[i].user_id.clone())
                .collect();
            return Err(DevcontainerError::Feature {
                id: ids.join(", "),
                message: "circular dependency between Features".to_string(),
            });
        }
        let max = round.iter().map(|&i| nodes[i].priority).max().unwrap_or(0);
        round.retain(|&i| nodes[i].priority == max);
        remaining.retain(|&i| !round.iter().any(|&r| same_feature(&nodes[r], &nodes[i])));
        round.sort_by(|&a, &b| compare_nodes(&nodes[a], &nodes[b]));
        order.extend(round);
    }
    Ok(order)
}

/// Resolve the config's Features and compute their install order.
pub fn resolve(
    features: &[(String, Value)],
    override_order: &[String],
    config_folder: &str,
    workspace: &str,
    downloaded: Downloaded<'_>,
    mut read: impl FnMut(&str) -> Result<String, DevcontainerError>,
) -> Result<Vec<ResolvedFeature>, DevcontainerError> {
    let mut nodes = worklist(features, config_folder, workspace, downloaded, &mut read)?;
    // installsAfter names resolve to paths; those not in the set are dropped.
    let mut soft: Vec<Vec<String>> = Vec::new();
    for node in &nodes {
        let mut deps = Vec::new();
        for id in &node.installs_after {
            // A registry Feature named without its version, and not downloaded under that
            // name, is not in the set: nothing to wait for.
            let path = match resolve_path(id, config_folder, workspace, downloaded) {
                Err(DevcontainerError::NotDownloaded { .. }) => continue,
                other => other?,
            };
            if nodes.iter().any(|n| n.path == path) {
                deps.push(path);
            }
        }
        soft.push(deps);
    }
    let count = override_order.len();
    for (i, id) in override_order.iter().enumerate().rev() {
        let path = match resolve_path(id, config_folder, workspace, downloaded) {
            Err(DevcontainerError::NotDownloaded { .. }) => continue,
            other => other?,
        };
        for node in &mut nodes {
            if node.path == path {
                node.priority = node.priority.max(count - i);
            }
        }
    }
    let hard: Vec<Vec<Node>> = nodes
        .iter()
        .map(|n| {
            n.depends_on
                .iter()
                .map(|(id, options)| {
                    Ok(probe(
                        id,
                        options,
                        resolve_path(id, config_folder, workspace, downloaded)?,
                    ))
                })
                .collect::<Result<Vec<_>, DevcontainerError>>()
        })
        .collect::<Result<_, _>>()?;
    let order = install_order(&nodes, &hard, &soft)?;
    Ok(order
        .into_iter()
        .enumerate()
        .map(|(index, i)| {
            let node = &nodes[i];
            let id = node.metadata.get("id").and_then(Value::as_str).map_or_else(
                || {
                    let name = basename_posix(&node.user_id);
                    name.split([':', '@']).next().unwrap_or(name).to_string()
                },
                str::to_string,
            );
            ResolvedFeature {
                user_id: node.user_id.clone(),
                options: node.options.clone(),
                path: node.path.clone(),
                consecutive_id: format!("{id}_{index}"),
                id,
                metadata: node.metadata.clone(),
            }
        })
        .collect())
}

/// An option name as an environment variable: non-word characters become `_`, leading digits
/// and underscores collapse into one `_`, upper case.
pub fn safe_id(name: &str) -> String {
    let replaced: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = replaced.trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    let prefix = if trimmed.len() == replaced.len() {
        ""
    } else {
        "_"
    };
    format!("{prefix}{trimmed}").to_uppercase()
}

impl ResolvedFeature {
    /// The lines of `devcontainer-features.env`: every option with a default, overlaid by
    /// the user's values (a string value sets `version` when the Feature declares it).
    pub fn env_lines(&self) -> Vec<String> {
        let declared = self.metadata.get("options").and_then(Value::as_object);
        let mut values: Vec<(String, Value)> = declared
            .map(|opts| {
                opts.iter()
                    .filter_map(|(k, o)| o.get("default").map(|d| (k.clone(), d.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let mut set = |k: &str, v: Value| match values.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v,
            None => values.push((k.to_string(), v)),
        };
        match &self.options {
            Value::Object(map) => map.iter().for_each(|(k, v)| set(k, v.clone())),
            Value::String(_) if declared.is_some_and(|o| o.contains_key("version")) => {
                set("version", self.options.clone());
            }
            _ => {}
        }
        values
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", safe_id(k), js_string(v)))
            .collect()
    }

    /// `devcontainer-features-install.sh`: a banner naming the Feature and its options,
    /// then `install.sh` run as root with the built-in and option variables exported.
    pub fn install_wrapper(&self) -> String {
        let text = |key: &str| {
            self.metadata
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let name = if text("name").is_empty() {
            self.id.clone()
        } else {
            text("name")
        };
        let quote = crate::shell::quote;
        let mut options = String::new();
        for line in self.env_lines() {
            let _ = writeln!(options, "echo {}", quote(&format!("    {line}")));
        }
        let failed = format!("ERROR: Feature \"{name}\" ({}) failed to install!", self.id);
        format!(
            "#!/bin/sh\nset -e\n\non_exit () {{\n\t[ $? -eq 0 ] && exit\n\techo {failed}\n}}\n\ntrap on_exit EXIT\n\necho ===========================================================================\necho {name}\necho {id}\necho {version}\necho 'Options       :'\n{options}echo ===========================================================================\n\nset -a\n. ../devcontainer-features.builtin.env\n. ./devcontainer-features.env\nset +a\n\nchmod +x ./install.sh\n./install.sh\n",
            failed = quote(&failed),
            name = quote(&format!("Feature       : {name}")),
            id = quote(&format!("Id            : {}", self.user_id)),
            version = quote(&format!("Version       : {}", text("version"))),
        )
    }

    /// The Feature's own `containerEnv`, in file order.
    pub fn container_env(&self) -> Vec<(String, String)> {
        match self.metadata.get("containerEnv") {
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| (k.clone(), js_string(v))).collect()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
