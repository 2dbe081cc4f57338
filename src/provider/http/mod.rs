//! The HTTP transport the cloud providers share: the reqwest client (user agent, timeouts, no
//! proxy for loopback), sending [`ApiRequest`]s with retries and jittered backoff on transient
//! failures (honouring `Retry-After`), creates that are never sent twice blindly, and the
//! mapping of failed calls onto [`ProviderError`]. What differs per API (credentials, error
//! bodies, which failures are transient, rate limits) comes from its [`Dialect`]; paths,
//! models and hints stay in the provider's own folder.

mod request;
mod retry;
mod url;

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::time::Instant;

pub use request::{ApiRequest, Method, encode};
pub use retry::{RetryPolicy, pause};
pub use url::{check_api_url, choose_api_url, is_loopback};

use super::{ApiFailure, ProviderError};

/// What one provider's API does its own way over HTTP.
pub trait Dialect: Send + Sync {
    /// The provider's display name in messages.
    const PROVIDER: &'static str;
    /// The variables that would provide the credentials, for the missing-credentials hint.
    const CREDENTIALS: &'static str;
    /// Send `Content-Type: application/json` on every request, not only on those with a body.
    const CONTENT_TYPE_ALWAYS: bool = false;

    /// The request with the credentials added, or `None` when there are none.
    fn authorise(&self, request: reqwest::RequestBuilder) -> Option<reqwest::RequestBuilder>;

    /// An error answer normalised; the body itself is never kept.
    fn failure(status: u16, content_type: &str, body: &[u8]) -> ApiFailure;

    /// Worth another try later.
    fn is_transient(failure: &ApiFailure) -> bool {
        failure.is_transient()
    }

    /// No request before this instant (a spent rate-limit budget).
    fn not_before(&self) -> Option<Instant> {
        None
    }

    /// Take note of an answer's headers; the pause they ask for when `Retry-After` does not.
    fn observe(&self, _headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        None
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
    /// The request certainly did not change anything (so even a create can be re-sent).
    pub fn certainly_not_applied(&self) -> bool {
        match self {
            CallError::Api { failure, .. } => failure.status < 500,
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

    pub fn is_status(&self, status: u16) -> bool {
        matches!(self, CallError::Api { failure, .. } if failure.status == status)
    }
}

/// What a create answered: the new resource's body, or what an earlier attempt made.
pub enum Created<T> {
    Answer(Vec<u8>),
    Found(T),
}

/// Sends [`ApiRequest`]s to one API base URL (version path included).
#[derive(Debug)]
pub struct Transport<D> {
    http: reqwest::Client,
    /// `scheme://host[:port]/<version>`, never with user info.
    base: String,
    dialect: D,
    pub retry: RetryPolicy,
}

impl<D: Dialect> Transport<D> {
    pub fn new(
        base: String,
        dialect: D,
        retry: RetryPolicy,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Transport<D>, ProviderError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("kamal-dev/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(connect_timeout)
            .timeout(request_timeout);
        // A proxy from the environment can never help reach this machine (tests, local
        // fakes), and would see the request and its credentials.
        if is_loopback(&base) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|err| ProviderError::InvalidSetting {
                provider: D::PROVIDER,
                message: format!("could not set up the HTTP client: {err}"),
                hint: None,
            })?;
        Ok(Transport {
            http,
            base,
            dialect,
            retry,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn is_transient(err: &CallError) -> bool {
        match err {
            CallError::Api { failure, .. } => D::is_transient(failure),
            CallError::Transport(_) => true,
            CallError::NoCredentials => false,
        }
    }

    /// Send once; the body of a 2xx answer, or why not.
    pub async fn send_once(&self, request: &ApiRequest) -> Result<Vec<u8>, CallError> {
        let url = format!("{}{}", self.base, request.path);
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let builder = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT, "application/json");
        let Some(mut builder) = self.dialect.authorise(builder) else {
            return Err(CallError::NoCredentials);
        };
        if let Some(until) = self.dialect.not_before() {
            tokio::time::sleep_until(until).await;
        }
        if D::CONTENT_TYPE_ALWAYS || request.body.is_some() {
            builder = builder.header(reqwest::header::CONTENT_TYPE, "application/json");
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.to_string());
        }
        let response = builder.send().await.map_err(CallError::Transport)?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let asked = self.dialect.observe(headers);
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
            .or(asked);
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = response.bytes().await.map_err(CallError::Transport)?;
        if (200..300).contains(&status) {
            Ok(body.to_vec())
        } else {
            Err(CallError::Api {
                failure: D::failure(status, &content_type, &body),
                retry_after,
            })
        }
    }

    /// Send with retries on transient failures (a request that is not retry-safe only when
    /// it certainly did not apply).
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
                    if Self::is_transient(&err)
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

    /// Send with retries and parse the JSON answer; failures as [`ProviderError`]s.
    pub async fn call<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        action: &str,
    ) -> Result<T, ProviderError> {
        self.call_with(request, action, &self.retry).await
    }

    /// [`Transport::call`], with `None` when the API says it does not exist (404).
    pub async fn call_optional<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        action: &str,
    ) -> Result<Option<T>, ProviderError> {
        match self.call(request, action).await {
            Ok(found) => Ok(Some(found)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// [`Transport::call`] with another retry policy.
    pub async fn call_with<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        action: &str,
        retry: &RetryPolicy,
    ) -> Result<T, ProviderError> {
        let body = self
            .send_with(request, retry)
            .await
            .map_err(|err| self.fail(action, err))?;
        parse(D::PROVIDER, &body, action)
    }

    /// Send a create that must never make two: after a transient failure that may have
    /// reached the API (5xx, a dropped connection), `existing` looks for what it made before
    /// the create is sent again.
    pub async fn create<T, F, Fut>(
        &self,
        request: &ApiRequest,
        action: &str,
        existing: F,
    ) -> Result<Created<T>, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, ProviderError>>,
    {
        let mut delays = self.retry.delays();
        loop {
            let err = match self.send_once(request).await {
                Ok(body) => return Ok(Created::Answer(body)),
                Err(err) if !Self::is_transient(&err) => return Err(self.fail(action, err)),
                Err(err) => err,
            };
            if !err.certainly_not_applied()
                && let Some(found) = existing().await?
            {
                return Ok(Created::Found(found));
            }
            let Some(delay) = delays.next() else {
                return Err(self.fail(action, err));
            };
            tokio::time::sleep(pause(delay, err.retry_after())).await;
        }
    }

    /// A failed call as the user sees it.
    pub fn fail(&self, action: &str, err: CallError) -> ProviderError {
        match err {
            CallError::Api { failure, .. } => ProviderError::Api {
                provider: D::PROVIDER,
                action: action.to_string(),
                failure,
            },
            CallError::Transport(source) => ProviderError::Transport {
                provider: D::PROVIDER,
                action: action.to_string(),
                url: self.base.clone(),
                source,
            },
            CallError::NoCredentials => ProviderError::MissingCredentials {
                provider: D::PROVIDER,
                expected: D::CREDENTIALS,
            },
        }
    }
}

/// A 2xx answer's JSON body as `T`.
pub fn parse<T: DeserializeOwned>(
    provider: &'static str,
    body: &[u8],
    action: &str,
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|err| ProviderError::InvalidResponse {
        provider,
        action: action.to_string(),
        detail: err.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_below_500_and_refused_connections_certainly_did_not_apply() {
        let api = |status| CallError::Api {
            failure: ApiFailure::new(status, "", ""),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert!(api(429).certainly_not_applied());
        assert!(api(409).certainly_not_applied());
        assert!(!api(502).certainly_not_applied());
        assert!(CallError::NoCredentials.certainly_not_applied());
        assert_eq!(api(429).retry_after(), Some(Duration::from_secs(2)));
        assert_eq!(CallError::NoCredentials.retry_after(), None);
        assert!(api(404).is_status(404));
    }

    #[test]
    fn unparsable_answers_name_the_provider_and_action() {
        let err = parse::<u32>("Test", b"{", "list zones").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Test: could not list zones: unexpected answer"),
            "{err}"
        );
    }
}
