//! The Hetzner Cloud API over the shared transport (`provider::http`): the bearer token, the
//! project's rate limit (`RateLimit-*` headers: when the budget is spent, the next request
//! waits for one token to refill), which failures are worth a retry (429
//! `rate_limit_exceeded`, 423 `locked`, 409 `conflict`, 5xx and connection errors), and error
//! bodies normalised to [`ApiFailure`]. The transport re-sends requests marked not retry-safe
//! (create) only when they certainly did not apply.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::provider::ApiFailure;
use crate::provider::http::{self, Dialect};

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

/// Hetzner's side of the shared transport: the bearer token, its error body, what is worth a
/// retry, and the project's rate limit.
#[derive(Debug)]
pub struct HetznerApi {
    token: Option<Token>,
    /// No request before this instant: the rate-limit budget is spent.
    throttle_until: Mutex<Option<Instant>>,
}

impl HetznerApi {
    pub fn new(token: Option<Token>) -> HetznerApi {
        HetznerApi {
            token,
            throttle_until: Mutex::new(None),
        }
    }
}

impl Dialect for HetznerApi {
    const PROVIDER: &'static str = super::NAME;
    const CREDENTIALS: &'static str = "HCLOUD_TOKEN";

    fn authorise(&self, request: reqwest::RequestBuilder) -> Option<reqwest::RequestBuilder> {
        Some(request.bearer_auth(&self.token.as_ref()?.0))
    }

    fn failure(status: u16, _content_type: &str, body: &[u8]) -> ApiFailure {
        parse_failure(status, body)
    }

    /// Rate limited, locked by a running action, a conflict, 5xx.
    fn is_transient(failure: &ApiFailure) -> bool {
        is_transient_failure(failure)
    }

    fn not_before(&self) -> Option<Instant> {
        self.throttle_until.lock().ok().and_then(|until| *until)
    }

    /// A spent budget makes the next request wait for one token to refill.
    fn observe(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
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
        token_wait
    }
}

/// Sends [`crate::provider::http::ApiRequest`]s to the API base URL (`…/v1`).
pub type Transport = http::Transport<HetznerApi>;

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
