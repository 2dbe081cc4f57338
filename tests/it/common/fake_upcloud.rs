//! A stateful fake of the UpCloud API 1.3 for tests: servers go `maintenance` -> `started`
//! after a delay, stop -> `stopped`, deleting a server that is not stopped is refused with 409
//! `SERVER_STATE_ILLEGAL`, lists filter by label, and a configurable share of requests fails
//! with 429, 503 or a dropped connection (sometimes after the change was applied, like a lost
//! answer). Response shapes follow the recorded cassettes; `upcloud_replay` checks that.
//!
//! It runs on its own thread and runtime, so sync tests that run the real binary can use it:
//! `let fake = FakeUpcloud::start(FakeUpcloudConfig::default());` then point `provider.api_url`
//! (or `UPCLOUD_API_URL`) at `fake.url()`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeUpcloudConfig {
    /// `maintenance` -> `started` after create or start.
    pub boot_delay: Duration,
    /// `started` -> `stopped` after a stop.
    pub stop_delay: Duration,
    /// Percentage (0-100) of requests that fail with 429, 503 or a dropped connection.
    pub failure_percent: u32,
    pub seed: u64,
    /// Public IPv4 addresses handed to new servers, in order (then reused from the start).
    pub ips: Vec<Ipv4Addr>,
    /// When set, only `Authorization: Bearer <token>` is accepted; otherwise any Basic or
    /// Bearer header is.
    pub token: Option<String>,
    /// The `GET /price` body; `None` = the built-in list (de-fra1 and fi-hel1).
    pub price_list: Option<Value>,
    /// Soft stops never complete (to exercise the hard-stop fallback).
    pub ignore_soft_stop: bool,
    /// The first N creates succeed but their connection is dropped before the answer.
    pub lose_create_answers: u32,
}

impl Default for FakeUpcloudConfig {
    fn default() -> Self {
        FakeUpcloudConfig {
            boot_delay: Duration::from_millis(300),
            stop_delay: Duration::from_millis(200),
            failure_percent: 0,
            seed: 0x5eed,
            ips: (10..=250)
                .map(|last| Ipv4Addr::new(127, 0, 0, last))
                .collect(),
            token: None,
            price_list: None,
            ignore_soft_stop: false,
            lose_create_answers: 0,
        }
    }
}

/// A server as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeServer {
    pub uuid: String,
    pub title: String,
    pub hostname: String,
    pub zone: String,
    pub plan: String,
    pub state: String,
    pub labels: Vec<(String, String)>,
    pub ip: Ipv4Addr,
    pub created: i64,
    pub ssh_keys: Vec<String>,
    pub user_data: String,
    pub metadata: String,
    pub template: String,
    pub disk_gb: u64,
    pending: Option<(String, Instant)>,
}

impl FakeServer {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query after `/1.3`.
    pub path: String,
    pub body: Option<Value>,
    /// What the fake did: a status code, or `dropped`.
    pub outcome: String,
}

#[derive(Debug, Default)]
struct State {
    servers: BTreeMap<String, FakeServer>,
    requests: Vec<RecordedRequest>,
    rng: u64,
    next_ip: usize,
    counter: u64,
    /// Servers deleted without `storages=1` (their disks would keep billing).
    leaked_disks: usize,
    lost_create_answers: u32,
}

struct Shared {
    config: Mutex<FakeUpcloudConfig>,
    state: Mutex<State>,
}

/// The running fake; stops when dropped.
pub struct FakeUpcloud {
    url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeUpcloud {
    pub fn start(config: FakeUpcloudConfig) -> FakeUpcloud {
        let state = State {
            rng: config.seed.max(1),
            ..State::default()
        };
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            state: Mutex::new(state),
        });
        let handler_shared = shared.clone();
        let (url, stop, thread) = serve(move |request| handle(handler_shared.clone(), request));
        FakeUpcloud {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`, without `/1.3`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn servers(&self) -> Vec<FakeServer> {
        let mut state = self.shared.state.lock().unwrap();
        tick(&mut state);
        state.servers.values().cloned().collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state.lock().unwrap().requests.clone()
    }

    pub fn leaked_disks(&self) -> usize {
        self.shared.state.lock().unwrap().leaked_disks
    }

    pub fn set_failure_percent(&self, percent: u32) {
        self.shared.config.lock().unwrap().failure_percent = percent;
    }

    pub fn set_boot_delay(&self, delay: Duration) {
        self.shared.config.lock().unwrap().boot_delay = delay;
    }
}

impl Drop for FakeUpcloud {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

/// Serve `handler` on 127.0.0.1 from a thread of its own. A handler error drops the
/// connection without an answer. Returns the base URL, a stop switch and the thread.
pub fn serve<F, Fut>(
    handler: F,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
)
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind fake server");
    listener.set_nonblocking(true).expect("nonblocking");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                tokio::select! {
                    _ = &mut stop_rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let io = hyper_util::rt::TokioIo::new(stream);
                            let service = hyper::service::service_fn(&handler);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        });
                    }
                }
            }
        });
    });
    (url, stop_tx, thread)
}

/// What an injected failure does.
enum Injected {
    TooMany,
    Unavailable { after: bool },
    Drop { after: bool },
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Reply {
    let method = request.method().as_str().to_string();
    let full_path = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_default();
    let auth = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let body: Option<Value> = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    let path = full_path
        .strip_prefix("/1.3")
        .unwrap_or(&full_path)
        .to_string();
    let config = shared.config.lock().unwrap().clone();
    let mut state = shared.state.lock().unwrap();
    tick(&mut state);
    let mut injected = roll(&mut state, config.failure_percent);
    if method == "POST"
        && path == "/server"
        && state.lost_create_answers < config.lose_create_answers
    {
        state.lost_create_answers += 1;
        injected = Some(Injected::Drop { after: true });
    }
    let (status, reply) = if !authorised(&auth, config.token.as_deref()) {
        legacy_error(
            401,
            "AUTHENTICATION_FAILED",
            "Authentication failed using the given username and password.",
        )
    } else if matches!(injected, Some(Injected::TooMany)) {
        (
            429,
            json!({"error": {"error_code": "TOO_MANY_REQUESTS", "error_message": "Too many requests."}}),
        )
    } else if matches!(
        injected,
        Some(Injected::Unavailable { after: false } | Injected::Drop { after: false })
    ) {
        (0, Value::Null)
    } else {
        route(&mut state, &config, &method, &path, body.as_ref())
    };
    let outcome = match injected {
        Some(Injected::Drop { .. }) => "dropped".to_string(),
        Some(Injected::Unavailable { .. }) => "503".to_string(),
        _ => status.to_string(),
    };
    state.requests.push(RecordedRequest {
        method,
        path,
        body,
        outcome,
    });
    drop(state);
    match injected {
        Some(Injected::Drop { .. }) => Err(std::io::Error::other("injected dropped connection")),
        Some(Injected::Unavailable { .. }) => Ok(respond(
            503,
            &json!({"error": {"error_code": "SERVICE_UNAVAILABLE", "error_message": "Service temporarily unavailable."}}),
            "application/json; charset=UTF-8",
        )),
        Some(Injected::TooMany) => {
            let mut response = respond(status, &reply, "application/json; charset=UTF-8");
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
            Ok(response)
        }
        None if status == 204 => Ok(Response::builder()
            .status(204)
            .body(Full::new(Bytes::new()))
            .expect("response")),
        None => {
            let content_type = if reply.get("type").is_some() {
                "application/problem+json"
            } else {
                "application/json; charset=UTF-8"
            };
            Ok(respond(status, &reply, content_type))
        }
    }
}

fn respond(status: u16, body: &Value, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn authorised(header: &str, token: Option<&str>) -> bool {
    match token {
        Some(token) => header == format!("Bearer {token}"),
        None => (header.starts_with("Basic ") || header.starts_with("Bearer ")) && header.len() > 7,
    }
}

/// xorshift64: deterministic per seed, no dependency.
fn next_random(state: &mut State) -> u64 {
    let mut x = state.rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    state.rng = x;
    x
}

fn roll(state: &mut State, percent: u32) -> Option<Injected> {
    if percent == 0 || next_random(state) % 100 >= u64::from(percent) {
        return None;
    }
    let after = next_random(state).is_multiple_of(2);
    Some(match next_random(state) % 3 {
        0 => Injected::TooMany,
        1 => Injected::Unavailable { after },
        _ => Injected::Drop { after },
    })
}

/// Apply the state changes whose time has come.
fn tick(state: &mut State) {
    let now = Instant::now();
    for server in state.servers.values_mut() {
        if let Some((target, at)) = server.pending.clone()
            && at <= now
        {
            server.state = target;
            server.pending = None;
        }
    }
}

fn legacy_error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"error_code": code, "error_message": message}}),
    )
}

fn route(
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

fn labels_json(server: &FakeServer) -> Value {
    let labels: Vec<Value> = server
        .labels
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    json!({"label": labels})
}

fn plan_numbers(plan: &str) -> (String, String) {
    let found = plans()["plans"]["plan"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == plan).cloned())
        .unwrap_or(Value::Null);
    (
        found["core_number"].as_u64().unwrap_or(1).to_string(),
        found["memory_amount"].as_u64().unwrap_or(1024).to_string(),
    )
}

/// The list entry shape of `getserverswithfilters.yaml` (no addresses).
pub fn summary(server: &FakeServer) -> Value {
    let (cores, memory) = plan_numbers(&server.plan);
    json!({
        "core_number": cores,
        "created": server.created,
        "host": 6_862_160_515_u64,
        "hostname": server.hostname,
        "labels": labels_json(server),
        "license": 0,
        "memory_amount": memory,
        "plan": server.plan,
        "plan_ipv4_bytes": "0",
        "plan_ipv6_bytes": "0",
        "server_group": null,
        "simple_backup": "no",
        "state": server.state,
        "tags": {"tag": []},
        "title": server.title,
        "uuid": server.uuid,
        "zone": server.zone,
    })
}

/// The server-details shape of `createstartstopserver.yaml`.
pub fn details(server: &FakeServer) -> Value {
    let (cores, memory) = plan_numbers(&server.plan);
    let utility = format!(
        "10.6.{}.{}",
        (server.created % 250) + 1,
        server.ip.octets()[3]
    );
    let ipv6 = format!("2a04:3545:1000:720::{:x}", server.ip.octets()[3]);
    let ip = server.ip.to_string();
    let interface = |index: u64, address: &str, family: &str, kind: &str| {
        json!({
            "bootable": "no",
            "index": index,
            "ip_addresses": {"ip_address": [{"address": address, "family": family, "floating": "no"}]},
            "mac": format!("da:45:c4:5c:00:{index:02x}"),
            "network": format!("03000000-0000-4000-8000-{index:012x}"),
            "source_ip_filtering": "yes",
            "type": kind,
        })
    };
    json!({
        "boot_order": "disk",
        "core_number": cores,
        "created": server.created,
        "firewall": "off",
        "hostname": server.hostname,
        "ip_addresses": {"ip_address": [
            {"access": "utility", "address": utility, "family": "IPv4"},
            {"access": "public", "address": ipv6, "family": "IPv6"},
            {"access": "public", "address": ip, "family": "IPv4"},
        ]},
        "labels": labels_json(server),
        "license": 0,
        "memory_amount": memory,
        "metadata": server.metadata,
        "networking": {"interfaces": {"interface": [
            interface(1, &utility, "IPv4", "utility"),
            interface(2, &ip, "IPv4", "public"),
            interface(3, &ipv6, "IPv6", "public"),
        ]}},
        "nic_model": "virtio",
        "plan": server.plan,
        "plan_ipv4_bytes": "0",
        "plan_ipv6_bytes": "0",
        "remote_access_enabled": "no",
        "remote_access_type": "vnc",
        "simple_backup": "no",
        "state": server.state,
        "storage_devices": {"storage_device": [{
            "address": "virtio:0",
            "boot_disk": "0",
            "storage": format!("01{}", &server.uuid[2..]),
            "storage_size": server.disk_gb,
            "storage_tier": "maxiops",
            "storage_title": format!("{}-disk", server.title),
            "type": "disk",
        }]},
        "tags": {"tag": []},
        "timezone": "UTC",
        "title": server.title,
        "uuid": server.uuid,
        "video_model": "cirrus",
        "zone": server.zone,
    })
}

/// Four plans from the 2020 recording (`getplans.yaml`).
pub fn plans() -> Value {
    let plan = |cores: u64, memory: u64, disk: u64, traffic: u64| {
        json!({
            "core_number": cores,
            "memory_amount": memory,
            "name": format!("{cores}xCPU-{}GB", memory / 1024),
            "public_traffic_out": traffic,
            "storage_size": disk,
            "storage_tier": "maxiops",
        })
    };
    json!({"plans": {"plan": [
        plan(1, 1024, 25, 1024),
        plan(1, 2048, 50, 2048),
        plan(2, 4096, 80, 4096),
        plan(4, 8192, 160, 5120),
    ]}})
}

pub fn zones() -> Value {
    json!({"zones": {"zone": [
        {"description": "Frankfurt #1", "id": "de-fra1", "public": "yes"},
        {"description": "Helsinki #1", "id": "fi-hel1", "public": "yes"},
        {"description": "Helsinki #2", "id": "fi-hel2", "public": "yes"},
        {"description": "Amsterdam #1", "id": "nl-ams1", "public": "yes"},
    ]}})
}

/// Prices (cents per hour) of two zones, from the 2020 recording (`getpricezones.yaml`).
pub fn prices() -> Value {
    let zone = |name: &str, plans: [f64; 4]| {
        let item = |amount: u64, price: f64| json!({"amount": amount, "price": price});
        json!({
            "name": name,
            "firewall": item(1, 0.56),
            "ipv4_address": item(1, 0.336),
            "ipv6_address": item(1, 0.0),
            "public_ipv4_bandwidth_out": item(1, 1.0),
            "server_core": item(1, 1.12),
            "server_memory": item(256, 0.14),
            "server_plan_1xCPU-1GB": item(1, plans[0]),
            "server_plan_1xCPU-2GB": item(1, plans[1]),
            "server_plan_2xCPU-4GB": item(1, plans[2]),
            "server_plan_4xCPU-8GB": item(1, plans[3]),
            "storage_hdd": item(1, 0.0078),
            "storage_maxiops": item(1, 0.031),
            "storage_template": item(1, 0.031),
        })
    };
    json!({"prices": {"zone": [
        zone("de-fra1", [0.744, 1.488, 2.9761, 5.9523]),
        zone("fi-hel1", [1.116, 2.2321, 4.4642, 8.9285]),
    ]}})
}

/// Public templates in the shape of `storage_template.json`, with 2025 Ubuntu/Debian titles.
pub fn templates() -> Value {
    let template = |uuid: &str, title: &str, size: u64, kind: &str| {
        json!({
            "access": "public",
            "license": 0,
            "size": size,
            "state": "online",
            "template_type": kind,
            "title": title,
            "type": "template",
            "uuid": uuid,
        })
    };
    json!({"storages": {"storage": [
        template("01000000-0000-4000-8000-000020060100", "Debian GNU/Linux 11 (Bullseye)", 4, "native"),
        template("01000000-0000-4000-8000-000020070100", "Debian GNU/Linux 12 (Bookworm)", 4, "cloud-init"),
        template("01000000-0000-4000-8000-000030220200", "Ubuntu Server 22.04 LTS (Jammy Jellyfish)", 4, "cloud-init"),
        template("01000000-0000-4000-8000-000030240200", "Ubuntu Server 24.04 LTS (Noble Numbat)", 4, "cloud-init"),
    ]}})
}

/// The fake's answer bodies for shape checks, without running a server.
pub fn sample_server() -> FakeServer {
    FakeServer {
        uuid: "00000001-fa4e-4000-8000-000000000001".into(),
        title: "app-1".into(),
        hostname: "app-1".into(),
        zone: "de-fra1".into(),
        plan: "1xCPU-2GB".into(),
        state: "started".into(),
        labels: vec![("kamal-dev".into(), "app".into())],
        ip: Ipv4Addr::new(127, 0, 0, 10),
        created: 1_764_201_600,
        ssh_keys: vec!["ssh-ed25519 AAAA test".into()],
        user_data: String::new(),
        metadata: "yes".into(),
        template: "01000000-0000-4000-8000-000030240200".into(),
        disk_gb: 50,
        pending: None,
    }
}

/// Errors the fake produces, for shape checks: (legacy 409, problem+json 404).
pub fn sample_errors() -> (Value, Value) {
    let (_, legacy) = legacy_error(409, "SERVER_STATE_ILLEGAL", "not allowed");
    let mut state = State::default();
    let config = FakeUpcloudConfig::default();
    let (_, problem) = route(&mut state, &config, "GET", "/nothing", None);
    (legacy, problem)
}
