//! HTTP transport for the Hetzner Cloud API: the bearer token, timeouts, the project's rate
//! limit (`RateLimit-*` headers: when the budget is spent, the next request waits for one
//! token to refill), retries with jittered backoff on 429 `rate_limit_exceeded`, 423 `locked`,
//! 409 `conflict`, 5xx and connection errors, and error bodies normalised to [`ApiFailure`].
//! Requests marked not retry-safe (create) are re-sent only when they certainly did not apply.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::request::{ApiRequest, Method};
use crate::provider::ApiFailure;
use crate::provider::upcloud::RetryPolicy;
use crate::provider::upcloud::client::pause;

/// The project API token. Debug prints `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(****)")
    }
}

impl Token {
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// `HCLOUD_TOKEN` from `lookup` (the secrets files and the environment); empty = unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Option<Token> {
        lookup("HCLOUD_TOKEN")
            .map(|token| token.trim().to_string())
            .filter(|token| !token.is_empty())
            .map(Token)
    }
}

/// A call that did not succeed.
#[derive(Debug)]
pub enum CallError {
    Api {
        failure: ApiFailure,
        retry_after: Option<Duration>,
    },
    Transport(reqwest::Error),
    NoCredentials,
}

impl CallError {
    /// Worth another try: rate limited, locked by a running action, a conflict, 5xx, no answer.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Api { failure, .. } => is_transient_failure(failure),
            CallError::Transport(_) => true,
            CallError::NoCredentials => false,
        }
    }

    /// The request certainly did not change anything (so even a create can be re-sent).
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            CallError::Api { failure, .. } => failure.status < 500,
            CallError::Transport(err) => err.is_connect(),
            CallError::NoCredentials => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn is_status(&self, status: u16) -> bool {
        matches!(self, CallError::Api { failure, .. } if failure.status == status)
    }
}

/// 423 is shared by `locked` (an action is running: wait) and `protected` (never retry), so
/// the code decides; a 423 without a body is treated as locked.
pub fn is_transient_failure(failure: &ApiFailure) -> bool {
    match failure.status {
        429 => true,
        423 => failure.code.is_empty() || failure.code == "locked",
        409 => failure.code == "conflict",
        status => status >= 500,
    }
}

/// Sends [`ApiRequest`]s to the API base URL (`…/v1`).
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    base: String,
    token: Option<Token>,
    pub retry: RetryPolicy,
    /// No request before this instant: the rate-limit budget is spent.
    throttle_until: Mutex<Option<Instant>>,
}

impl Transport {
    pub fn new(
        base: String,
        token: Option<Token>,
        retry: RetryPolicy,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Transport, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("kamal-dev/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(request_timeout);
        // A proxy can never help reach this machine (tests, local fakes) and would see the token.
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        Ok(Transport {
            http: builder.build()?,
            base,
            token,
            retry,
            throttle_until: Mutex::new(None),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Send once; the body of a 2xx answer, or why not.
    pub async fn send_once(&self, request: &ApiRequest) -> Result<Vec<u8>, CallError> {
        let Some(token) = &self.token else {
            return Err(CallError::NoCredentials);
        };
        let wait_until = self.throttle_until.lock().ok().and_then(|until| *until);
        if let Some(until) = wait_until {
            tokio::time::sleep_until(until).await;
        }
        let url = format!("{}{}", self.base, request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(&token.0);
        if let Some(body) = &request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = builder.send().await.map_err(CallError::Transport)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
        };
        let limit = RateLimit {
            limit: header("ratelimit-limit"),
            remaining: header("ratelimit-remaining"),
            reset: header("ratelimit-reset"),
        };
        let token_wait = limit.wait_for_token(unix_now());
        if let Ok(mut until) = self.throttle_until.lock() {
            *until = token_wait.map(|wait| Instant::now() + wait);
        }
        let retry_after = header("retry-after")
            .map(Duration::from_secs)
            .or(token_wait);
        let body = response.bytes().await.map_err(CallError::Transport)?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(CallError::Api {
                failure: parse_failure(status, &body),
                retry_after,
            })
        }
    }

    /// Send with retries on transient failures (create only when it certainly did not apply).
    pub async fn send(&self, request: &ApiRequest) -> Result<Vec<u8>, CallError> {
        let mut delays = self.retry.delays();
        loop {
            match self.send_once(request).await {
                Ok(body) => return Ok(body),
                Err(err)
                    if err.is_transient()
                        && (request.retry_safe || err.certainly_not_applied()) =>
                {
                    let Some(delay) = delays.next() else {
                        return Err(err);
                    };
                    tokio::time::sleep(pause(delay, err.retry_after())).await;
                }
                Err(err) => return Err(err),
            }
        }
    }
}

/// The `RateLimit-*` headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimit {
    /// Requests per hour.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix time at which the budget is full again.
    pub reset: Option<u64>,
}

impl RateLimit {
    /// How long to wait before the next request: nothing while budget remains, else the time
    /// one request takes to refill (the budget refills evenly over an hour), but never past
    /// the announced reset and never more than a minute.
    pub fn wait_for_token(&self, now_unix: u64) -> Option<Duration> {
        if self.remaining != Some(0) {
            return None;
        }
        let per_token = Duration::from_secs(3600) / u32::try_from(self.limit?.max(1)).ok()?;
        let until_reset = self.reset.map_or(per_token, |reset| {
            Duration::from_secs(reset.saturating_sub(now_unix))
        });
        Some(per_token.min(until_reset).min(Duration::from_secs(60)))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn is_loopback(base: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(base) else {
        return false;
    };
    let host = url.host_str().unwrap_or("");
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || unbracketed
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `{"error":{"code","message","details"}}`; `message` and `details` may be missing, and some
/// 409/423/5xx answers have no body: then the status alone. Other bodies are never kept.
pub fn parse_failure(status: u16, body: &[u8]) -> ApiFailure {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok();
    let error = value.as_ref().and_then(|v| v.get("error"));
    let text = |key: &str| {
        error
            .and_then(|e| e.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let mut message = text("message");
    // Name the offending fields of `invalid_input` / `uniqueness_error`: the message alone
    // often does not.
    if let Some(fields) = error
        .and_then(|e| e.pointer("/details/fields"))
        .and_then(|f| f.as_array())
    {
        let names: Vec<&str> = fields
            .iter()
            .filter_map(|f| f.get("name").and_then(|n| n.as_str()))
            .collect();
        if !names.is_empty() && !names.iter().all(|n| message.contains(n)) {
            message = format!("{message} (fields: {})", names.join(", "));
        }
    }
    ApiFailure::new(status, text("code"), &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_bodies_with_and_without_message() {
        let body = br#"{"error":{"code":"uniqueness_error","message":"SSH key with the same fingerprint already exists","details":{"fields":[{"name":"public_key"}]}}}"#;
        let failure = parse_failure(409, body);
        assert_eq!(failure.code, "uniqueness_error");
        assert!(failure.message.contains("fields: public_key"), "{failure}");
        let bare = parse_failure(429, br#"{"error":{"code":"rate_limit_exceeded"}}"#);
        assert_eq!(bare.to_string(), "429 rate_limit_exceeded");
        assert_eq!(parse_failure(502, b"<html>x</html>").to_string(), "502");
    }

    #[test]
    fn transient_failures_follow_status_and_code() {
        let f = |status, code: &str| is_transient_failure(&ApiFailure::new(status, code, ""));
        assert!(f(429, "rate_limit_exceeded"));
        assert!(f(423, "locked"));
        assert!(f(423, ""));
        assert!(!f(423, "protected"));
        assert!(f(409, "conflict"));
        assert!(!f(409, "uniqueness_error"));
        assert!(f(503, "unavailable"));
        assert!(!f(422, "invalid_input"));
        assert!(!f(404, "not_found"));
    }

    #[test]
    fn spent_budget_waits_for_one_token_until_reset() {
        let limit = RateLimit {
            limit: Some(3600),
            remaining: Some(0),
            reset: Some(1_000_100),
        };
        assert_eq!(
            limit.wait_for_token(1_000_000),
            Some(Duration::from_secs(1))
        );
        assert_eq!(limit.wait_for_token(1_000_100), Some(Duration::ZERO));
        let slow = RateLimit {
            limit: Some(60),
            ..limit
        };
        assert_eq!(slow.wait_for_token(0), Some(Duration::from_secs(60)));
        let left = RateLimit {
            remaining: Some(5),
            ..limit
        };
        assert_eq!(left.wait_for_token(0), None);
        assert_eq!(RateLimit::default().wait_for_token(0), None);
    }

    #[test]
    fn token_comes_from_lookup_and_never_prints() {
        let lookup = |name: &str| (name == "HCLOUD_TOKEN").then(|| " secret-token ".to_string());
        let token = Token::from_lookup(&lookup).unwrap();
        assert_eq!(token, Token::new("secret-token"));
        assert!(!format!("{token:?}").contains("secret"));
        assert_eq!(Token::from_lookup(&|_| Some(String::new())), None);
    }
}
