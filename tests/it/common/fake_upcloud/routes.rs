//! The fake UpCloud API's endpoints: server list with label filters, create (validated like
//! the real API), details, start/stop with delayed state changes, delete (409 unless stopped).

use std::net::Ipv4Addr;
use std::time::Instant;

use serde_json::{Value, json};

use super::shapes::{details, plans, prices, summary, templates, zones};
use super::{FakeServer, FakeUpcloudConfig, State, legacy_error};

pub(super) fn route(
    state: &mut State,
    config: &FakeUpcloudConfig,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = path_only.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        ("GET", ["server"]) => (200, list_servers(state, query)),
        ("POST", ["server"]) => create_server(state, config, body),
        ("GET", ["server", id]) => match state.servers.get(*id) {
            Some(server) => (200, json!({"server": details(server)})),
            None => not_found(id),
        },
        ("POST", ["server", id, action @ ("stop" | "start")]) => {
            server_action(state, config, id, action, body)
        }
        ("DELETE", ["server", id]) => delete_server(state, id, query),
        ("GET", ["plan"]) => (200, plans()),
        ("GET", ["zone"]) => (200, zones()),
        ("GET", ["price"]) => (200, config.price_list.clone().unwrap_or_else(prices)),
        ("GET", ["storage", "template"]) => (200, templates()),
        _ => (
            404,
            json!({
                "correlation_id": "01FAKE0000000000000000000",
                "status": 404,
                "title": "Resource not found.",
                "type": "https://developers.upcloud.com/1.3/errors#ERROR_RESOURCE_NOT_FOUND"
            }),
        ),
    }
}

fn not_found(id: &str) -> (u16, Value) {
    if id.len() == 36 {
        legacy_error(
            404,
            "SERVER_NOT_FOUND",
            &format!("The server {id} does not exist."),
        )
    } else {
        legacy_error(400, "SERVER_INVALID", "The server UUID is invalid.")
    }
}

fn list_servers(state: &State, query: &str) -> Value {
    let filters: Vec<(String, Option<String>)> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("label="))
        .map(|value| {
            let decoded = percent_decode(value);
            match decoded.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (decoded, None),
            }
        })
        .collect();
    let servers: Vec<Value> = state
        .servers
        .values()
        .filter(|server| {
            filters.iter().all(|(key, value)| {
                server
                    .labels
                    .iter()
                    .any(|(k, v)| k == key && value.as_ref().is_none_or(|value| v == value))
            })
        })
        .map(summary)
        .collect();
    json!({"servers": {"server": servers}})
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Refuse a create body the real API would refuse (the checks kamal-dev's requests meet).
fn validate_create(server: &Value) -> Result<(), (u16, Value)> {
    let text = |key: &str| {
        server
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    for key in ["zone", "title", "hostname"] {
        if text(key).is_empty() {
            let code = format!("{}_MISSING", key.to_uppercase());
            return Err(legacy_error(
                400,
                &code,
                &format!("The {key} attribute is missing."),
            ));
        }
    }
    let zone = text("zone");
    if !zones()["zones"]["zone"]
        .as_array()
        .is_some_and(|list| list.iter().any(|z| z["id"] == zone.as_str()))
    {
        return Err(legacy_error(400, "ZONE_INVALID", "The zone is invalid."));
    }
    let plan = text("plan");
    let plan_disk = plans()["plans"]["plan"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == plan.as_str()).cloned());
    if plan_disk.is_none() {
        return Err(legacy_error(400, "PLAN_INVALID", "The plan is invalid."));
    }
    let device = &server["storage_devices"]["storage_device"][0];
    let template = device["storage"].as_str().unwrap_or("").to_string();
    let Some(template_info) = templates()["storages"]["storage"]
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|t| t["uuid"] == template.as_str())
                .cloned()
        })
    else {
        return Err(legacy_error(
            400,
            "STORAGE_INVALID",
            "The storage to clone is invalid.",
        ));
    };
    if device["action"] != "clone" {
        return Err(legacy_error(
            400,
            "ACTION_INVALID",
            "The storage action is invalid.",
        ));
    }
    let disk_gb = device["size"].as_u64().unwrap_or(0);
    if disk_gb < template_info["size"].as_u64().unwrap_or(0) {
        return Err(legacy_error(
            400,
            "SIZE_INVALID",
            "The storage size is too small.",
        ));
    }
    let metadata = text("metadata");
    if template_info["template_type"] == "cloud-init" && metadata != "yes" {
        return Err(legacy_error(
            400,
            "METADATA_DISABLED_ON_CLOUD-INIT",
            "Metadata must be enabled for cloud-init templates.",
        ));
    }
    Ok(())
}

fn create_server(
    state: &mut State,
    config: &FakeUpcloudConfig,
    body: Option<&Value>,
) -> (u16, Value) {
    let Some(server) = body.and_then(|b| b.get("server")) else {
        return legacy_error(
            400,
            "UNKNOWN_ATTRIBUTE",
            "The request body must be a server object.",
        );
    };
    if let Err(refusal) = validate_create(server) {
        return refusal;
    }
    let text = |key: &str| {
        server
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let device = &server["storage_devices"]["storage_device"][0];
    let ssh_keys: Vec<String> = server["login_user"]["ssh_keys"]["ssh_key"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let labels: Vec<(String, String)> = server["labels"]["label"]
        .as_array()
        .map(|labels| {
            labels
                .iter()
                .map(|l| {
                    (
                        l["key"].as_str().unwrap_or("").to_string(),
                        l["value"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    state.counter += 1;
    let uuid = format!(
        "00{:06x}-fa4e-4000-8000-{:012x}",
        state.counter, state.counter
    );
    let ip = config
        .ips
        .get(state.next_ip % config.ips.len().max(1))
        .copied()
        .unwrap_or(Ipv4Addr::new(127, 0, 0, 10));
    state.next_ip += 1;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let record = FakeServer {
        uuid: uuid.clone(),
        title: text("title"),
        hostname: text("hostname"),
        zone: text("zone"),
        plan: text("plan"),
        state: "maintenance".into(),
        labels,
        ip,
        created,
        ssh_keys,
        user_data: text("user_data"),
        metadata: text("metadata"),
        template: device["storage"].as_str().unwrap_or("").to_string(),
        disk_gb: device["size"].as_u64().unwrap_or(0),
        pending: Some(("started".into(), Instant::now() + config.boot_delay)),
    };
    // Only the create answer carries `progress` (the cloning percentage).
    let mut answer = details(&record);
    answer["progress"] = json!("0");
    let reply = json!({"server": answer});
    state.servers.insert(uuid, record);
    (202, reply)
}

fn server_action(
    state: &mut State,
    config: &FakeUpcloudConfig,
    id: &str,
    action: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let Some(server) = state.servers.get_mut(id) else {
        return not_found(id);
    };
    let wanted = if action == "stop" {
        "started"
    } else {
        "stopped"
    };
    if server.state != wanted || (action == "start" && server.pending.is_some()) {
        let message = format!(
            "The operation is not allowed while the server {id} is in state '{}'.",
            server.state
        );
        return legacy_error(409, "SERVER_STATE_ILLEGAL", &message);
    }
    let reply = json!({"server": details(server)});
    if action == "stop" {
        let stop = body.map(|b| &b["stop_server"]);
        let stop_type = stop.and_then(|s| s["stop_type"].as_str()).unwrap_or("");
        if !matches!(stop_type, "soft" | "hard") {
            return legacy_error(400, "STOP_TYPE_INVALID", "The stop type is invalid.");
        }
        if !stop.is_some_and(|s| s["timeout"].is_string()) {
            return legacy_error(400, "TIMEOUT_INVALID", "The timeout is invalid.");
        }
        if stop_type == "hard" || !config.ignore_soft_stop {
            server.pending = Some(("stopped".into(), Instant::now() + config.stop_delay));
        }
    } else {
        if body != Some(&json!({"server": {}})) {
            return legacy_error(400, "UNKNOWN_ATTRIBUTE", "Start takes {\"server\":{}}.");
        }
        server.state = "maintenance".into();
        server.pending = Some(("started".into(), Instant::now() + config.boot_delay));
    }
    (200, reply)
}

fn delete_server(state: &mut State, id: &str, query: &str) -> (u16, Value) {
    let Some(server) = state.servers.get(id) else {
        return not_found(id);
    };
    if server.state != "stopped" {
        let message = format!(
            "The operation is not allowed while the server {id} is in state '{}'.",
            server.state
        );
        return legacy_error(409, "SERVER_STATE_ILLEGAL", &message);
    }
    if !query.split('&').any(|pair| pair == "storages=1") {
        state.leaked_disks += 1;
    }
    state.servers.remove(id);
    (204, Value::Null)
}
