//! The fake Hetzner API's endpoints: servers (list with `label_selector` and pages, create
//! validated like the real API, get, power actions, delete), actions, SSH keys, server types
//! and locations.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use kamal_dev::provider::hetzner::model::md5_fingerprint;

use super::shapes;
use super::{FakeAction, FakeHetznerConfig, FakeKey, FakeServer, State, error, now_rfc3339};
use crate::common::fake_http::spend;

pub(super) fn route(
    state: &mut State,
    config: &FakeHetznerConfig,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let query = parse_query(query);
    let segments: Vec<&str> = path_only.split('/').filter(|s| !s.is_empty()).collect();
    let id = |text: &str| text.parse::<u64>().ok();
    match (method, segments.as_slice()) {
        ("GET", ["servers"]) => list_servers(state, config, &query),
        ("POST", ["servers"]) => create_server(state, config, body),
        ("GET", ["servers", sid]) => match id(sid).and_then(|i| state.servers.get(&i)) {
            Some(server) => (200, json!({"server": server_json(config, server)})),
            None => not_found("server", sid),
        },
        ("POST", ["servers", sid, "actions", verb]) => match id(sid) {
            Some(sid) => power(state, config, sid, verb),
            None => not_found("server", sid),
        },
        ("DELETE", ["servers", sid]) => match id(sid) {
            Some(sid) => delete(state, config, sid),
            None => not_found("server", sid),
        },
        ("GET", ["actions", aid]) => match id(aid).and_then(|i| state.actions.get(&i)) {
            Some(action) => (
                200,
                json!({"action": shapes::action(action, action.done_at <= Instant::now())}),
            ),
            None => not_found("action", aid),
        },
        ("GET", ["ssh_keys"]) => {
            let wanted = query.get("fingerprint");
            let lookup_is_stale =
                wanted.is_some() && spend(&mut state.stale_key_lookups, config.stale_key_lookups);
            if lookup_is_stale {
                return (200, json!({"ssh_keys": [], "meta": shapes::meta(1, 50, 0)}));
            }
            let keys: Vec<Value> = state
                .keys
                .iter()
                .filter(|k| wanted.is_none_or(|f| &k.fingerprint == f))
                .map(shapes::key)
                .collect();
            let total = keys.len();
            (
                200,
                json!({"ssh_keys": keys, "meta": shapes::meta(1, 50, total)}),
            )
        }
        ("POST", ["ssh_keys"]) => create_key(state, body),
        ("GET", ["server_types"]) => {
            let types = types(config);
            let list = types.as_array().cloned().unwrap_or_default();
            page_of(&list, &query, config.max_per_page, "server_types")
        }
        ("GET", ["locations"]) => {
            let list = shapes::locations().as_array().cloned().unwrap_or_default();
            page_of(&list, &query, config.max_per_page, "locations")
        }
        _ => error(404, "not_found", "no such endpoint"),
    }
}

fn types(config: &FakeHetznerConfig) -> Value {
    config
        .server_types
        .clone()
        .unwrap_or_else(shapes::server_types)
}

fn server_json(config: &FakeHetznerConfig, server: &FakeServer) -> Value {
    let types = types(config);
    let server_type = types
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|t| t["name"] == server.server_type.as_str())
        })
        .cloned()
        .unwrap_or(Value::Null);
    shapes::server(server, &server_type)
}

fn not_found(what: &str, id: &str) -> (u16, Value) {
    error(
        404,
        "not_found",
        &format!("{what} with ID '{id}' not found"),
    )
}

fn parse_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn page_of(
    list: &[Value],
    query: &BTreeMap<String, String>,
    max: usize,
    key: &str,
) -> (u16, Value) {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, max.max(1));
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let items: Vec<Value> = list
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut body = json!({"meta": shapes::meta(page, per_page, list.len())});
    body[key] = Value::Array(items);
    (200, body)
}

/// `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma = AND (no `in`/`notin`: kamal-dev never sends them).
fn matches_selector(labels: &BTreeMap<String, String>, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels.get(k).is_none_or(|value| value != v)
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k).is_some_and(|value| value == v)
        } else if let Some(k) = term.strip_prefix('!') {
            !labels.contains_key(k)
        } else {
            labels.contains_key(term)
        }
    })
}

fn list_servers(
    state: &State,
    config: &FakeHetznerConfig,
    query: &BTreeMap<String, String>,
) -> (u16, Value) {
    let selector = query.get("label_selector").cloned().unwrap_or_default();
    let servers: Vec<Value> = state
        .servers
        .values()
        .filter(|s| matches_selector(&s.labels, &selector))
        .filter(|s| query.get("name").is_none_or(|n| &s.name == n))
        .map(|s| server_json(config, s))
        .collect();
    page_of(&servers, query, config.max_per_page, "servers")
}

fn invalid(field: &str, message: &str) -> (u16, Value) {
    (
        422,
        json!({"error": {"code": "invalid_input", "message": format!("invalid input in field '{field}': {message}"),
            "details": {"fields": [{"name": field, "messages": [message]}]}}}),
    )
}

fn create_server(
    state: &mut State,
    config: &FakeHetznerConfig,
    body: Option<&Value>,
) -> (u16, Value) {
    let Some(body) = body else {
        return error(400, "json_error", "no JSON body");
    };
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_string);
    let Some(name) = text("name").filter(|n| !n.is_empty()) else {
        return invalid("name", "is required");
    };
    if body.get("datacenter").is_some() && body.get("location").is_some() {
        return invalid("datacenter", "must not be used together with location");
    }
    let Some(server_type) = text("server_type") else {
        return invalid("server_type", "is required");
    };
    let Some(image) = text("image") else {
        return invalid("image", "is required");
    };
    let location = text("location").unwrap_or_else(|| "fsn1".into());
    let types = types(config);
    let known = types
        .as_array()
        .and_then(|list| list.iter().find(|t| t["name"] == server_type.as_str()));
    let Some(known) = known else {
        return error(
            422,
            "invalid_server_type",
            &format!("server type {server_type} not found"),
        );
    };
    let offered = known["prices"]
        .as_array()
        .is_some_and(|prices| prices.iter().any(|p| p["location"] == location.as_str()));
    if !offered {
        return error(
            412,
            "resource_unavailable",
            "server type not available in this location",
        );
    }
    let ssh_keys: Vec<Value> = body
        .get("ssh_keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for key in &ssh_keys {
        let exists = state
            .keys
            .iter()
            .any(|k| key.as_u64() == Some(k.id) || key.as_str() == Some(k.name.as_str()));
        if !exists {
            return invalid("ssh_keys", "ssh key not found");
        }
    }
    if state.servers.values().any(|s| s.name == name) {
        return (
            409,
            json!({"error": {"code": "uniqueness_error", "message": "server name is already used", "details": {"fields": [{"name": "name"}]}}}),
        );
    }
    let labels: BTreeMap<String, String> = body
        .get("labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let ip = config
        .ips
        .get(state.next_ip % config.ips.len().max(1))
        .copied()
        .unwrap_or(std::net::Ipv4Addr::new(127, 0, 0, 10));
    state.next_ip += 1;
    let id = state.id();
    let done_at = Instant::now() + config.boot_delay;
    let server = FakeServer {
        id,
        name,
        status: "initializing".into(),
        labels,
        ip,
        created: now_rfc3339(),
        server_type,
        location,
        image,
        user_data: text("user_data").unwrap_or_default(),
        ssh_keys,
        pending: Some(("running".into(), done_at)),
    };
    let create = new_action(state, "create_server", id, done_at);
    let start = new_action(state, "start_server", id, done_at);
    let json_server = server_json(config, &server);
    state.servers.insert(id, server);
    (
        201,
        json!({
            "server": json_server,
            "action": shapes::action(&create, false),
            "next_actions": [shapes::action(&start, false)],
            "root_password": null
        }),
    )
}

fn new_action(state: &mut State, command: &str, server: u64, done_at: Instant) -> FakeAction {
    let action = FakeAction {
        id: state.id(),
        command: command.into(),
        server,
        started: now_rfc3339(),
        done_at,
    };
    state.actions.insert(action.id, action.clone());
    action
}

fn power(state: &mut State, config: &FakeHetznerConfig, id: u64, verb: &str) -> (u16, Value) {
    if !state.servers.contains_key(&id) {
        return not_found("server", &id.to_string());
    }
    if state.locked(id) {
        return error(423, "locked", &format!("server {id} is locked"));
    }
    let (command, passing, target) = match verb {
        "poweron" => ("start_server", "starting", "running"),
        "poweroff" => ("stop_server", "stopping", "off"),
        "shutdown" => ("shutdown_server", "stopping", "off"),
        _ => return error(404, "not_found", "no such action"),
    };
    let done_at = Instant::now() + config.action_delay;
    let action = new_action(state, command, id, done_at);
    if let Some(server) = state.servers.get_mut(&id) {
        let ignored = verb == "shutdown" && config.ignore_shutdown;
        let already = server.status == target;
        if !ignored && !already {
            server.status = passing.into();
            // The ACPI shutdown takes the guest a little longer than the signal.
            let extra = if verb == "shutdown" {
                config.action_delay
            } else {
                Duration::ZERO
            };
            server.pending = Some((target.into(), done_at + extra));
        }
    }
    (201, json!({"action": shapes::action(&action, false)}))
}

fn delete(state: &mut State, config: &FakeHetznerConfig, id: u64) -> (u16, Value) {
    if !state.servers.contains_key(&id) {
        return not_found("server", &id.to_string());
    }
    if state.locked(id) {
        return error(423, "locked", &format!("server {id} is locked"));
    }
    let done_at = Instant::now() + config.action_delay;
    let action = new_action(state, "delete_server", id, done_at);
    if let Some(server) = state.servers.get_mut(&id) {
        server.status = "deleting".into();
        server.pending = Some(("deleted".into(), done_at));
    }
    (200, json!({"action": shapes::action(&action, false)}))
}

fn create_key(state: &mut State, body: Option<&Value>) -> (u16, Value) {
    let text = |key: &str| {
        body.and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (Some(name), Some(public_key)) = (text("name"), text("public_key")) else {
        return invalid("public_key", "is required");
    };
    let Some(fingerprint) = md5_fingerprint(&public_key) else {
        return invalid("public_key", "invalid public key");
    };
    if let Some(field) = state.keys.iter().find_map(|k| {
        if k.fingerprint == fingerprint {
            Some("public_key")
        } else if k.name == name {
            Some("name")
        } else {
            None
        }
    }) {
        return (
            409,
            json!({"error": {"code": "uniqueness_error", "message": "SSH key with the same fingerprint already exists",
                "details": {"fields": [{"name": field}]}}}),
        );
    }
    let labels: BTreeMap<String, String> = body
        .and_then(|b| b.get("labels"))
        .and_then(|l| serde_json::from_value(l.clone()).ok())
        .unwrap_or_default();
    let key = FakeKey {
        id: state.id(),
        name,
        fingerprint,
        public_key,
        labels,
    };
    let json_key = shapes::key(&key);
    state.keys.push(key);
    (201, json!({"ssh_key": json_key}))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
