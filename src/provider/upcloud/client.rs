//! UpCloud API 1.3 over the shared transport (`provider::http`): the credentials (a token, or
//! an API user's name and password) and both error body formats normalised. The transport
//! retries 429 (honouring `Retry-After`), 5xx and connection errors; requests marked not
//! retry-safe (create) are sent once; the caller decides.

use std::fmt;

use crate::provider::ApiFailure;
use crate::provider::http::{self, Dialect};

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

/// UpCloud's side of the shared transport: credentials, both error formats, and
/// `Content-Type` on every request as the API documents it.
#[derive(Debug)]
pub struct UpcloudApi(pub Option<Credentials>);

impl Dialect for UpcloudApi {
    const PROVIDER: &'static str = super::NAME;
    const CREDENTIALS: &'static str = "UPCLOUD_TOKEN (or UPCLOUD_USERNAME and UPCLOUD_PASSWORD)";
    const CONTENT_TYPE_ALWAYS: bool = true;

    fn authorise(&self, request: reqwest::RequestBuilder) -> Option<reqwest::RequestBuilder> {
        Some(match &self.0.as_ref()?.0 {
            Auth::Basic { username, password } => request.basic_auth(username, Some(&password.0)),
            Auth::Token(token) => request.bearer_auth(&token.0),
        })
    }

    fn failure(status: u16, content_type: &str, body: &[u8]) -> ApiFailure {
        parse_failure(status, content_type, body)
    }
}

/// Sends [`crate::provider::http::ApiRequest`]s to `{base}/1.3`.
pub type Transport = http::Transport<UpcloudApi>;

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
}
