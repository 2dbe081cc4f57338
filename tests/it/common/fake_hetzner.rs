//! A stateful fake of the Hetzner Cloud API v1 for tests: servers are created `initializing`
//! and run once their create/start actions finish after a delay; power actions and delete are
//! actions too, and a server with an unfinished action answers 423 `locked`; lists filter by
//! `label_selector` and paginate; SSH keys are unique by name and fingerprint (409
//! `uniqueness_error`); a configurable share of requests fails with 429 (with `RateLimit-*`
//! headers), 423 `locked`, 503 or a dropped connection (sometimes after the change was
//! applied, like a lost answer). Bodies follow the `OpenAPI` schemas; `hetzner_openapi` checks.
//!
//! It runs on its own thread, so sync tests that run the real binary can use it too:
//! `let fake = FakeHetzner::start(FakeHetznerConfig::default());` then point
//! `provider.api_url` (or `HCLOUD_API_URL`) at `fake.url()` (which ends in `/v1`) and set
//! `HCLOUD_TOKEN` to `fake.token()`.

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
pub mod shapes;

pub const DEFAULT_TOKEN: &str = "hcloud-fake-token";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeHetznerConfig {
    /// How long a create (and its start) action runs; the server is `running` after it.
    pub boot_delay: Duration,
    /// How long power actions and delete run.
    pub action_delay: Duration,
    /// Percentage (0-100) of requests that fail with 429, 423, 503 or a dropped connection.
    pub failure_percent: u32,
    pub seed: u64,
    /// Public IPv4 addresses handed to new servers, in order (then reused from the start).
    pub ips: Vec<Ipv4Addr>,
    /// The only bearer token accepted.
    pub token: String,
    /// The `GET /server_types` list (`server_types` array); `None` = [`shapes::server_types`].
    pub server_types: Option<Value>,
    /// A graceful shutdown is acknowledged but the server stays on (to exercise poweroff).
    pub ignore_shutdown: bool,
    /// The first N creates are applied but their connection is dropped before the answer.
    pub lose_create_answers: u32,
    /// Entries per page when the client asks for more.
    pub max_per_page: usize,
    /// The first N SSH-key lookups by fingerprint find nothing (another process registering
    /// the same key at the same moment), so the register call meets 409 `uniqueness_error`.
    pub stale_key_lookups: u32,
}

impl Default for FakeHetznerConfig {
    fn default() -> Self {
        FakeHetznerConfig {
            boot_delay: Duration::from_millis(300),
            action_delay: Duration::from_millis(150),
            failure_percent: 0,
            seed: 0x4e7a,
            ips: (10..=250)
                .map(|last| Ipv4Addr::new(127, 0, 0, last))
                .collect(),
            token: DEFAULT_TOKEN.into(),
            server_types: None,
            ignore_shutdown: false,
            lose_create_answers: 0,
            max_per_page: 50,
            stale_key_lookups: 0,
        }
    }
}

/// A server as the fake holds it.
#[derive(Debug, Clone)]
pub struct FakeServer {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub ip: Ipv4Addr,
    pub created: String,
    pub server_type: String,
    pub location: String,
    pub image: String,
    pub user_data: String,
    pub ssh_keys: Vec<Value>,
    /// The status it reaches, and when; `deleted` removes it.
    pending: Option<(String, Instant)>,
}

#[derive(Debug, Clone)]
pub struct FakeAction {
    pub id: u64,
    pub command: String,
    pub server: u64,
    pub started: String,
    done_at: Instant,
}

#[derive(Debug, Clone)]
pub struct FakeKey {
    pub id: u64,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    servers: BTreeMap<u64, FakeServer>,
    actions: BTreeMap<u64, FakeAction>,
    keys: Vec<FakeKey>,
    requests: Vec<RecordedRequest>,
    rng: Rng,
    next_ip: usize,
    next_id: u64,
    lost_create_answers: u32,
    stale_key_lookups: u32,
    /// Whether a 423 was injected yet: with failures on, the first change is always
    /// locked, so every run exercises the retry of 423 whatever order requests come in.
    locked_once: bool,
}

impl State {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A server with an unfinished action is locked.
    fn locked(&self, server: u64) -> bool {
        let now = Instant::now();
        self.actions
            .values()
            .any(|a| a.server == server && a.done_at > now)
    }
}

/// The running fake; stops when dropped.
pub struct FakeHetzner {
    fake: Fake<FakeHetznerConfig, State>,
    url: String,
}

impl FakeHetzner {
    pub fn start(config: FakeHetznerConfig) -> FakeHetzner {
        let state = State {
            rng: Rng::new(config.seed),
            next_id: 1000,
            ..State::default()
        };
        let fake = Fake::start(config, state, handle);
        FakeHetzner {
            url: format!("{}/v1", fake.base_url()),
            fake,
        }
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn token(&self) -> String {
        self.fake.config().token.clone()
    }

    pub fn servers(&self) -> Vec<FakeServer> {
        let mut state = self.fake.state();
        tick(&mut state);
        state.servers.values().cloned().collect()
    }

    pub fn keys(&self) -> Vec<FakeKey> {
        self.fake.state().keys.clone()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.fake.state().requests.clone()
    }

    pub fn set_failure_percent(&self, percent: u32) {
        self.fake.config().failure_percent = percent;
    }
}

async fn handle(
    shared: Arc<Shared<FakeHetznerConfig, State>>,
    request: Request<Incoming>,
) -> Reply {
    let received = Received::read(request, "/v1").await;
    let (method, path) = (received.method.as_str(), received.path.as_str());
    let (config, mut state) = shared.lock();
    tick(&mut state);
    let mut injected =
        Injected::roll(&mut state.rng, config.failure_percent).map(|(after, kind)| {
            match kind % 4 {
                // The API locks only changes.
                1 if method != "GET" => Injected::Locked,
                0 | 1 => Injected::TooMany,
                2 => Injected::Unavailable { after },
                _ => Injected::Drop { after },
            }
        });
    if config.failure_percent > 0 && method != "GET" && !state.locked_once {
        state.locked_once = true;
        injected = Some(Injected::Locked);
    }
    if method == "POST"
        && path == "/servers"
        && fake_http::spend(&mut state.lost_create_answers, config.lose_create_answers)
    {
        injected = Some(Injected::Drop { after: true });
    }
    let authorised = received.authorization == format!("Bearer {}", config.token);
    let (status, reply) = match injected {
        _ if !authorised => error(401, "unauthorized", "unable to authenticate"),
        Some(Injected::TooMany) => error(
            429,
            "rate_limit_exceeded",
            "limit of 3600 requests per hour reached",
        ),
        Some(Injected::Locked) => error(423, "locked", "resource is locked"),
        Some(failure) if failure.before() => (0, Value::Null),
        _ => routes::route(&mut state, &config, method, path, received.json.as_ref()),
    };
    state
        .requests
        .push(RecordedRequest::new(received, injected, status, &reply));
    drop(state);
    match injected {
        Some(Injected::Drop { .. }) => Err(std::io::Error::other("injected dropped connection")),
        Some(Injected::Unavailable { .. }) => {
            let (status, body) = error(503, "unavailable", "service unavailable");
            Ok(respond(status, &body, false))
        }
        Some(Injected::TooMany) => Ok(respond(status, &reply, true)),
        _ => Ok(respond(status, &reply, false)),
    }
}

fn respond(status: u16, body: &Value, exhausted: bool) -> Response<Full<Bytes>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Spent budget resets "now", so clients honouring the headers wait ~0 s in tests.
    let (remaining, reset) = if exhausted { (0, now) } else { (3599, now + 1) };
    let mut response = fake_http::respond(status, body, "application/json");
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", 3600),
        ("ratelimit-remaining", remaining),
        ("ratelimit-reset", reset),
    ] {
        headers.insert(name, value.into());
    }
    response
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"code": code, "message": message, "details": null}}),
    )
}

/// Apply the state changes whose time has come.
fn tick(state: &mut State) {
    let now = Instant::now();
    let mut deleted = Vec::new();
    for server in state.servers.values_mut() {
        if let Some((target, at)) = server.pending.clone()
            && at <= now
        {
            server.pending = None;
            if target == "deleted" {
                deleted.push(server.id);
            } else {
                server.status = target;
            }
        }
    }
    for id in deleted {
        state.servers.remove(&id);
    }
}

fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string()
}
