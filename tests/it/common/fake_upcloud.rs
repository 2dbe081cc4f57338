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

mod routes;
mod shapes;
use routes::route;
pub use shapes::{details, plans, prices, summary, templates, zones};

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
