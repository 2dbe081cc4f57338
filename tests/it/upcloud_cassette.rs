//! Support for replaying recorded UpCloud API interactions: go-vcr cassettes from
//! `$KAMAL_DEV_SHARED/fixtures/upcloud/cassettes`, a local server that answers them in recorded
//! order, and a JSON shape comparison. The tests using them are in `upcloud_replay`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use kamal_dev::provider::http::RetryPolicy;
use kamal_dev::provider::upcloud::client::{Credentials, Transport, UpcloudApi};
use serde::Deserialize;
use serde_json::Value;

use crate::common::fake_http::{self, Received, Running};

pub const RECORDED_BASE: &str = "https://api.upcloud.com/1.3";

#[derive(Debug, Clone, Deserialize)]
pub struct Cassette {
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Interaction {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    #[serde(default)]
    pub body: String,
    pub url: String,
    pub method: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordedResponse {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    pub code: u16,
}

impl Interaction {
    /// The recorded path and query after `/1.3`.
    pub fn path(&self) -> &str {
        self.request
            .url
            .strip_prefix(RECORDED_BASE)
            .unwrap_or(&self.request.url)
    }

    pub fn request_json(&self) -> Option<Value> {
        serde_json::from_str(&self.request.body).ok()
    }

    pub fn response_json(&self) -> Value {
        serde_json::from_str(&self.response.body).unwrap_or(Value::Null)
    }
}

fn cassette_dir() -> Option<PathBuf> {
    let Some(shared) = crate::common::shared_dir() else {
        eprintln!(
            "skipped: KAMAL_DEV_SHARED is not set, so the UpCloud cassettes are not available"
        );
        return None;
    };
    Some(shared.join("fixtures/upcloud/cassettes"))
}

/// Load `<name>.yaml`; `None` (with a note) when the shared folder is not available.
pub fn cassette(name: &str) -> Option<Cassette> {
    let path = cassette_dir()?.join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Some(serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Serves interactions strictly in order and records what it received.
pub struct Replay {
    pub url: String,
    received: Arc<Mutex<Vec<(String, String, String)>>>,
    _server: Running,
}

impl Replay {
    pub fn start(interactions: Vec<Interaction>) -> Replay {
        let queue = Arc::new(Mutex::new(std::collections::VecDeque::from(interactions)));
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let server = fake_http::serve(move |request: hyper::Request<hyper::body::Incoming>| {
            let queue = queue.clone();
            let log = log.clone();
            async move {
                let received = Received::read(request, "/1.3").await;
                log.lock().unwrap().push((
                    received.method,
                    received.path,
                    String::from_utf8_lossy(&received.body).into_owned(),
                ));
                let Some(next) = queue.lock().unwrap().pop_front() else {
                    return Ok(hyper::Response::builder()
                        .status(599)
                        .body(Full::new(Bytes::from("no more recorded interactions")))
                        .unwrap());
                };
                let mut response = hyper::Response::builder().status(next.response.code);
                if let Some(content_type) = next
                    .response
                    .headers
                    .get("Content-Type")
                    .and_then(|v| v.first())
                {
                    response = response.header("content-type", content_type.as_str());
                }
                Ok(response
                    .body(Full::new(Bytes::from(next.response.body.clone())))
                    .unwrap())
            }
        });
        Replay {
            url: server.url.clone(),
            received,
            _server: server,
        }
    }

    pub fn transport(&self) -> Transport {
        Transport::new(
            format!("{}/1.3", self.url),
            UpcloudApi(Some(Credentials::basic("user", "password"))),
            RetryPolicy {
                max_retries: 0,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(1),
            },
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
        .expect("transport")
    }

    pub fn received(&self) -> Vec<(String, String, String)> {
        self.received.lock().unwrap().clone()
    }
}

/// Every key of `ours` exists in `recorded` with the same JSON kind (numbers are one kind),
/// recursively; arrays compare each of our items with the recorded first item.
pub fn same_shape(ours: &Value, recorded: &Value, at: &str, problems: &mut Vec<String>) {
    match (ours, recorded) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => same_shape(value, other, &format!("{at}.{key}"), problems),
                    None => problems.push(format!("{at}.{key} is not in the recording")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let Some(first) = b.first() {
                for (i, item) in a.iter().enumerate() {
                    same_shape(item, first, &format!("{at}[{i}]"), problems);
                }
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => {}
        _ => problems.push(format!(
            "{at}: {ours} has another type than recorded {recorded}"
        )),
    }
}

pub fn assert_same_shape(ours: &Value, recorded: &Value, what: &str) {
    let mut problems = Vec::new();
    same_shape(ours, recorded, what, &mut problems);
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// Decode `%XX` in a recorded query value.
pub fn decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// `"1.488"` cents -> 1488000 millionths of a cent, by string arithmetic.
pub fn micro_cents(text: &str) -> u64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= 6, "{text}");
    let padded = format!("{fraction:0<6}");
    whole.parse::<u64>().unwrap() * 1_000_000 + padded.parse::<u64>().unwrap()
}
