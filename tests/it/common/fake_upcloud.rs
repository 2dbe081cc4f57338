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
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use serde_json::{Value, json};

pub use super::fake_http::RecordedRequest;
use super::fake_http::{self, Fake, Injected, Received, Reply, Rng, Shared};

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

#[derive(Debug, Default)]
struct State {
    servers: BTreeMap<String, FakeServer>,
    requests: Vec<RecordedRequest>,
    rng: Rng,
    next_ip: usize,
    counter: u64,
    /// Servers deleted without `storages=1` (their disks would keep billing).
    leaked_disks: usize,
    lost_create_answers: u32,
}

/// The running fake; stops when dropped.
pub struct FakeUpcloud(Fake<FakeUpcloudConfig, State>);

impl FakeUpcloud {
    pub fn start(config: FakeUpcloudConfig) -> FakeUpcloud {
        let state = State {
            rng: Rng::new(config.seed),
            ..State::default()
        };
        FakeUpcloud(Fake::start(config, state, handle))
    }

    /// `http://127.0.0.1:<port>`, without `/1.3`.
    pub fn url(&self) -> &str {
        self.0.base_url()
    }

    pub fn servers(&self) -> Vec<FakeServer> {
        let mut state = self.0.state();
        tick(&mut state);
        state.servers.values().cloned().collect()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.0.state().requests.clone()
    }

    pub fn leaked_disks(&self) -> usize {
        self.0.state().leaked_disks
    }

    pub fn set_failure_percent(&self, percent: u32) {
        self.0.config().failure_percent = percent;
    }

    pub fn set_boot_delay(&self, delay: Duration) {
        self.0.config().boot_delay = delay;
    }
}

async fn handle(
    shared: Arc<Shared<FakeUpcloudConfig, State>>,
    request: Request<Incoming>,
) -> Reply {
    let received = Received::read(request, "/1.3").await;
    let (method, path) = (received.method.as_str(), received.path.as_str());
    let (config, mut state) = shared.lock();
    tick(&mut state);
    let mut injected =
        Injected::roll(&mut state.rng, config.failure_percent).map(|(after, kind)| {
            match kind % 3 {
                0 => Injected::TooMany,
                1 => Injected::Unavailable { after },
                _ => Injected::Drop { after },
            }
        });
    if method == "POST"
        && path == "/server"
        && fake_http::spend(&mut state.lost_create_answers, config.lose_create_answers)
    {
        injected = Some(Injected::Drop { after: true });
    }
    let (status, reply) = if !authorised(&received.authorization, config.token.as_deref()) {
        legacy_error(
            401,
            "AUTHENTICATION_FAILED",
            "Authentication failed using the given username and password.",
        )
    } else if injected == Some(Injected::TooMany) {
        (
            429,
            json!({"error": {"error_code": "TOO_MANY_REQUESTS", "error_message": "Too many requests."}}),
        )
    } else if injected.is_some_and(Injected::before) {
        (0, Value::Null)
    } else {
        route(&mut state, &config, method, path, received.json.as_ref())
    };
    state
        .requests
        .push(RecordedRequest::new(received, injected, status, &reply));
    drop(state);
    let json_type = "application/json; charset=UTF-8";
    match injected {
        Some(Injected::Drop { .. }) => Err(std::io::Error::other("injected dropped connection")),
        Some(Injected::Unavailable { .. }) => Ok(fake_http::respond(
            503,
            &json!({"error": {"error_code": "SERVICE_UNAVAILABLE", "error_message": "Service temporarily unavailable."}}),
            json_type,
        )),
        Some(Injected::TooMany) => {
            let mut response = fake_http::respond(status, &reply, json_type);
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
            Ok(response)
        }
        None if status == 204 => Ok(Response::builder()
            .status(204)
            .body(Full::new(Bytes::new()))
            .expect("response")),
        _ => {
            let content_type = if reply.get("type").is_some() {
                "application/problem+json"
            } else {
                json_type
            };
            Ok(fake_http::respond(status, &reply, content_type))
        }
    }
}

fn authorised(header: &str, token: Option<&str>) -> bool {
    match token {
        Some(token) => header == format!("Bearer {token}"),
        None => (header.starts_with("Basic ") || header.starts_with("Bearer ")) && header.len() > 7,
    }
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
