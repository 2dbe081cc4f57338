//! The HTTP skeleton every fake API server in the tests shares (the stateful UpCloud and
//! Hetzner fakes, the fixture and cassette servers): serving a handler on 127.0.0.1 from a
//! thread and runtime of its own (so sync tests that run the real binary can use it too),
//! reading a request, answering JSON, the request log, deterministic randomness and the
//! failures a fake injects. What an API answers stays in its own fake.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::Value;

/// A handler's answer; an error drops the connection without one.
pub type Reply = Result<Response<Full<Bytes>>, std::io::Error>;

/// A server on its own thread; stops when dropped.
pub struct Running {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serve `handler` on 127.0.0.1 from a thread of its own.
pub fn serve<F, Fut>(handler: F) -> Running
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
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
    Running {
        url,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// What a stateful fake keeps: its settings and its state, each behind a lock.
pub struct Shared<C, S> {
    pub config: Mutex<C>,
    pub state: Mutex<S>,
}

impl<C: Clone, S> Shared<C, S> {
    /// The settings as they are now, and the state, locked.
    pub fn lock(&self) -> (C, MutexGuard<'_, S>) {
        let config = self.config.lock().unwrap().clone();
        (config, self.state.lock().unwrap())
    }
}

/// A stateful fake API served from its own thread; stops when dropped.
pub struct Fake<C, S> {
    shared: Arc<Shared<C, S>>,
    running: Running,
}

impl<C, S> Fake<C, S>
where
    C: Send + 'static,
    S: Send + 'static,
{
    /// Serve `handle` with `config` and `state`.
    pub fn start<Fut>(
        config: C,
        state: S,
        handle: fn(Arc<Shared<C, S>>, Request<Incoming>) -> Fut,
    ) -> Fake<C, S>
    where
        Fut: Future<Output = Reply> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            state: Mutex::new(state),
        });
        let handler_shared = shared.clone();
        let running = serve(move |request| handle(handler_shared.clone(), request));
        Fake { shared, running }
    }

    /// `http://127.0.0.1:<port>`, without the API's version prefix.
    pub fn base_url(&self) -> &str {
        &self.running.url
    }

    pub fn config(&self) -> MutexGuard<'_, C> {
        self.shared.config.lock().unwrap()
    }

    pub fn state(&self) -> MutexGuard<'_, S> {
        self.shared.state.lock().unwrap()
    }
}

/// One request, read whole.
pub struct Received {
    pub method: String,
    /// Path and query after the API's version prefix.
    pub path: String,
    /// The `Authorization` header, or empty.
    pub authorization: String,
    pub body: Bytes,
    /// The body as JSON; `None` when empty or not JSON.
    pub json: Option<Value>,
}

impl Received {
    /// Read `request`, taking `prefix` (`/1.3`, `/v1`) off its path.
    pub async fn read(request: Request<Incoming>, prefix: &str) -> Received {
        let method = request.method().as_str().to_string();
        let full_path = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str().to_string())
            .unwrap_or_default();
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = request
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let path = full_path
            .strip_prefix(prefix)
            .unwrap_or(&full_path)
            .to_string();
        let json = if body.is_empty() {
            None
        } else {
            serde_json::from_slice(&body).ok()
        };
        Received {
            method,
            path,
            authorization,
            body,
            json,
        }
    }
}

/// A JSON answer.
pub fn respond(status: u16, body: &Value, content_type: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query after the version prefix.
    pub path: String,
    pub body: Option<Value>,
    /// What the fake did: a status code, or `dropped`.
    pub outcome: String,
    /// The answer body, when there was one.
    pub response: Option<Value>,
}

impl RecordedRequest {
    /// What became of `received` (its JSON body taken): answered `status` with `reply`, or
    /// the `injected` failure.
    pub fn new(
        received: Received,
        injected: Option<Injected>,
        status: u16,
        reply: &Value,
    ) -> RecordedRequest {
        RecordedRequest {
            method: received.method,
            path: received.path,
            body: received.json,
            outcome: Injected::outcome(injected, status),
            response: Injected::answered(injected).then(|| reply.clone()),
        }
    }
}

/// xorshift64: deterministic per seed, no dependency.
#[derive(Debug, Default)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// A failure a fake injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    TooMany,
    Locked,
    Unavailable { after: bool },
    Drop { after: bool },
}

impl Injected {
    /// For `percent` of the requests a failure: whether it strikes after the change applied,
    /// and a number for the fake to pick its kind with.
    pub fn roll(rng: &mut Rng, percent: u32) -> Option<(bool, u64)> {
        if percent == 0 || rng.next() % 100 >= u64::from(percent) {
            return None;
        }
        let after = rng.next().is_multiple_of(2);
        Some((after, rng.next()))
    }

    /// The request never reaches the API's logic: it fails before changing anything.
    pub fn before(self) -> bool {
        matches!(
            self,
            Injected::Unavailable { after: false } | Injected::Drop { after: false }
        )
    }

    /// The request got the answer it was routed to (or the injected error answer).
    pub fn answered(injected: Option<Injected>) -> bool {
        matches!(injected, None | Some(Injected::TooMany | Injected::Locked))
    }

    /// What the request log says happened.
    pub fn outcome(injected: Option<Injected>, status: u16) -> String {
        match injected {
            Some(Injected::Drop { .. }) => "dropped".to_string(),
            Some(Injected::Unavailable { .. }) => "503".to_string(),
            _ => status.to_string(),
        }
    }
}

/// Use one of `allowed` (lost answers, stale lookups): true while some are left.
pub fn spend(used: &mut u32, allowed: u32) -> bool {
    let left = *used < allowed;
    if left {
        *used += 1;
    }
    left
}
