//! HTTP transport for UpCloud API 1.3: credentials, timeouts, retries with jittered backoff on
//! 429 (honouring `Retry-After`), 5xx and connection errors, and normalising both error body
//! formats. Requests marked not retry-safe (create) are sent once; the caller decides.

use std::fmt;
use std::time::Duration;

use backon::BackoffBuilder as _;

use super::request::{ApiRequest, Method};
use crate::provider::ApiFailure;

/// A value that must never be shown: Debug and Display print `****`.
#[derive(Clone, PartialEq, Eq)]
struct Hidden(String);

impl fmt::Debug for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// UpCloud API credentials: an API token, or an API-enabled user's name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials(Auth);

#[derive(Clone, PartialEq, Eq)]
enum Auth {
    Basic { username: String, password: Hidden },
    Token(Hidden),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Auth::Basic { .. } => f.write_str("Credentials(basic ****)"),
            Auth::Token(_) => f.write_str("Credentials(token ****)"),
        }
    }
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials(Auth::Basic {
            username: username.into(),
            password: Hidden(password.into()),
        })
    }

    pub fn token(token: impl Into<String>) -> Credentials {
        Credentials(Auth::Token(Hidden(token.into())))
    }

    /// `UPCLOUD_TOKEN`, else `UPCLOUD_USERNAME` + `UPCLOUD_PASSWORD`, from `lookup` (the
    /// secrets files and the environment). Empty values count as unset.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Option<Credentials> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        if let Some(token) = get("UPCLOUD_TOKEN") {
            return Some(Credentials::token(token));
        }
        match (get("UPCLOUD_USERNAME"), get("UPCLOUD_PASSWORD")) {
            (Some(username), Some(password)) => Some(Credentials::basic(username, password)),
            _ => None,
        }
    }
}

/// How often and how long to retry transient failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The jittered exponential delays between attempts.
    pub fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        backon::ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .build()
    }
}

/// A call that did not succeed.
#[derive(Debug)]
pub enum CallError {
    /// The API answered with an error status.
    Api {
        failure: ApiFailure,
        retry_after: Option<Duration>,
    },
    /// No complete answer: connection refused, reset, timed out.
    Transport(reqwest::Error),
    /// A call needs credentials and none were given.
    NoCredentials,
}

impl CallError {
    /// Worth retrying: 429, 5xx, or no answer.
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Api { failure, .. } => failure.is_transient(),
            CallError::Transport(_) => true,
            CallError::NoCredentials => false,
        }
    }

    /// The request certainly did not reach the API (so even a create can be re-sent).
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            CallError::Api { failure, .. } => failure.status == 429 || failure.status < 500,
            CallError::Transport(err) => err.is_connect(),
            CallError::NoCredentials => true,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Sends [`ApiRequest`]s to `{base}/1.3`.
#[derive(Debug)]
pub struct Transport {
    http: reqwest::Client,
    /// `scheme://host:port/1.3`, never with user info.
    base: String,
    credentials: Option<Credentials>,
    pub retry: RetryPolicy,
}

impl Transport {
    pub fn new(
        base: String,
        credentials: Option<Credentials>,
        retry: RetryPolicy,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Transport, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("kamal-dev/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(request_timeout);
        // A proxy from the environment can never help reach this machine (tests, local
        // replay servers), and would leak the request to it.
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let http = builder.build()?;
        Ok(Transport {
            http,
            base,
            credentials,
            retry,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// Send once; the body of a 2xx answer, or why not.
    pub async fn send_once(&self, request: &ApiRequest) -> Result<Vec<u8>, CallError> {
        let Some(credentials) = &self.credentials else {
            return Err(CallError::NoCredentials);
        };
        let url = format!("{}{}", self.base, request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        builder = match &credentials.0 {
            Auth::Basic { username, password } => builder.basic_auth(username, Some(&password.0)),
            Auth::Token(token) => builder.bearer_auth(&token.0),
        };
        if let Some(body) = &request.body {
            builder = builder.body(body.to_string());
        }
        let response = builder.send().await.map_err(CallError::Transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.bytes().await.map_err(CallError::Transport)?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(CallError::Api {
                failure: parse_failure(status, &content_type, &body),
                retry_after,
            })
        }
    }

    /// Send with retries on transient failures (retry-safe requests only).
    pub async fn send(&self, request: &ApiRequest) -> Result<Vec<u8>, CallError> {
        self.send_with(request, &self.retry).await
    }

    /// [`Transport::send`] with another retry policy.
    pub async fn send_with(
        &self,
        request: &ApiRequest,
        retry: &RetryPolicy,
    ) -> Result<Vec<u8>, CallError> {
        let mut delays = retry.delays();
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

/// The backoff delay, or longer when the API asked for it (capped at a minute).
pub fn pause(backoff: Duration, retry_after: Option<Duration>) -> Duration {
    retry_after.map_or(backoff, |asked| {
        backoff.max(asked.min(Duration::from_secs(60)))
    })
}

/// Normalise an error answer: legacy `{"error":{"error_code","error_message"}}` or RFC 7807
/// `application/problem+json` (`type` ends in `#ERROR_<CODE>`). Other bodies (HTML from a
/// proxy) give the status alone; the body itself is never kept.
pub fn parse_failure(status: u16, content_type: &str, body: &[u8]) -> ApiFailure {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ApiFailure::new(status, "", "");
    };
    if let Some(error) = value.get("error").filter(|e| e.is_object()) {
        let code = error
            .get("error_code")
            .or_else(|| error.get("code"))
            .and_then(|c| c.as_str())
            .unwrap_or("");
        let message = error
            .get("error_message")
            .or_else(|| error.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        return ApiFailure::new(status, code, message);
    }
    if content_type.contains("problem+json") || value.get("type").is_some() {
        let code = value
            .get("type")
            .and_then(|t| t.as_str())
            .and_then(|t| t.rsplit_once('#'))
            .map_or("", |(_, fragment)| {
                fragment.strip_prefix("ERROR_").unwrap_or(fragment)
            });
        let message = value.get("title").and_then(|t| t.as_str()).unwrap_or("");
        return ApiFailure::new(status, code, message);
    }
    ApiFailure::new(status, "", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_legacy_error_body() {
        let body = br#"{"error":{"error_code":"SERVER_INVALID","error_message":"The server UUID is invalid."}}"#;
        let failure = parse_failure(400, "application/json; charset=UTF-8", body);
        assert_eq!(
            failure.to_string(),
            "400 SERVER_INVALID: The server UUID is invalid."
        );
    }

    #[test]
    fn parses_problem_json_body() {
        let body = br#"{"correlation_id":"01JY","status":404,"title":"Service not found.","type":"https://developers.upcloud.com/1.3/errors#ERROR_RESOURCE_NOT_FOUND"}"#;
        let failure = parse_failure(404, "application/problem+json", body);
        assert_eq!(failure.code, "RESOURCE_NOT_FOUND");
        assert_eq!(failure.message, "Service not found.");
    }

    #[test]
    fn other_bodies_are_never_echoed() {
        let failure = parse_failure(502, "text/html", b"<html>secret stuff</html>");
        assert_eq!(failure.to_string(), "502");
        let failure = parse_failure(500, "application/json", br#"{"password":"x"}"#);
        assert_eq!(failure.to_string(), "500");
    }

    #[test]
    fn credentials_come_from_lookup_and_never_print() {
        let lookup = |name: &str| match name {
            "UPCLOUD_USERNAME" => Some("user".to_string()),
            "UPCLOUD_PASSWORD" => Some("hunter2".to_string()),
            _ => None,
        };
        let creds = Credentials::from_lookup(&lookup).unwrap();
        assert_eq!(creds, Credentials::basic("user", "hunter2"));
        assert!(!format!("{creds:?}").contains("hunter2"));
        let token = |name: &str| (name == "UPCLOUD_TOKEN").then(|| "ucat_x".to_string());
        assert_eq!(
            Credentials::from_lookup(&token),
            Some(Credentials::token("ucat_x"))
        );
        assert_eq!(Credentials::from_lookup(&|_| Some(" ".to_string())), None);
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8080/1.3"));
        assert!(is_loopback("http://localhost:1/1.3"));
        assert!(is_loopback("http://[::1]:1/1.3"));
        assert!(!is_loopback("https://api.upcloud.com/1.3"));
    }

    #[test]
    fn retry_after_lengthens_but_is_capped() {
        let backoff = Duration::from_millis(500);
        assert_eq!(pause(backoff, None), backoff);
        assert_eq!(
            pause(backoff, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            pause(backoff, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
        assert_eq!(pause(backoff, Some(Duration::ZERO)), backoff);
    }

    #[test]
    fn retry_policy_gives_bounded_delays() {
        let policy = RetryPolicy {
            max_retries: 3,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        };
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 3);
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_millis(80))
        );
    }
}
