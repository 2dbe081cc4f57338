//! Provider errors: what failed, which API status and code, and the next step. Messages never
//! carry a response body or a credential; API messages are shortened to one line.

use std::fmt;
use std::time::Duration;

use crate::error::{ExitStatus, UserFacing};

/// One failed API answer, normalised from either of UpCloud's error formats:
/// `402 INSUFFICIENT_CREDITS: Not enough credits to perform this operation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub status: u16,
    /// The API's error code (`SERVER_STATE_ILLEGAL`), or empty when the body had none.
    pub code: String,
    /// The API's message, one line, at most 300 characters.
    pub message: String,
}

impl ApiFailure {
    pub fn new(status: u16, code: impl Into<String>, message: &str) -> ApiFailure {
        let one_line: String = message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(300)
            .collect();
        ApiFailure {
            status,
            code: code.into(),
            message: one_line,
        }
    }

    /// 429 and 5xx: worth another try later.
    pub fn is_transient(&self) -> bool {
        self.status == 429 || self.status >= 500
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        if !self.code.is_empty() {
            write!(f, " {}", self.code)?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiFailure {}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("no {provider} credentials found")]
    MissingCredentials {
        provider: &'static str,
        /// The variable names that would provide them.
        expected: &'static str,
    },

    #[error("{provider}: {message}")]
    InvalidSetting {
        provider: &'static str,
        message: String,
        hint: Option<String>,
    },

    #[error("{provider}: could not {action}")]
    Api {
        provider: &'static str,
        action: String,
        #[source]
        failure: ApiFailure,
    },

    #[error("{provider}: could not {action}: no answer from {url}")]
    Transport {
        provider: &'static str,
        action: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("{provider}: could not {action}: unexpected answer ({detail})")]
    InvalidResponse {
        provider: &'static str,
        action: String,
        detail: String,
    },

    #[error(
        "ProvisioningError: VM failed to reach running state: {provider} server {id} still not started after {}s (states seen: {})",
        waited.as_secs(),
        states_seen.join(" -> ")
    )]
    Provisioning {
        provider: &'static str,
        id: String,
        waited: Duration,
        states_seen: Vec<String>,
    },

    #[error(
        "{provider} server {id} did not reach state {wanted} within {}s (states seen: {})",
        waited.as_secs(),
        states_seen.join(" -> ")
    )]
    StateTimeout {
        provider: &'static str,
        id: String,
        wanted: &'static str,
        waited: Duration,
        states_seen: Vec<String>,
    },

    #[error("{provider}: OS image {name:?} not found")]
    ImageNotFound {
        provider: &'static str,
        name: String,
        candidates: Vec<String>,
    },

    #[error("{provider}: plan {plan:?} does not exist")]
    UnknownPlan {
        provider: &'static str,
        plan: String,
        available: Vec<String>,
    },

    #[error("{provider} cannot {what}")]
    Unsupported {
        provider: &'static str,
        what: String,
    },
}

impl ProviderError {
    /// The API answer behind this error, if there was one.
    pub fn api_failure(&self) -> Option<&ApiFailure> {
        match self {
            ProviderError::Api { failure, .. } => Some(failure),
            _ => None,
        }
    }

    /// True when the API said the thing does not exist (404).
    pub fn is_not_found(&self) -> bool {
        self.api_failure().is_some_and(|f| f.status == 404)
    }
}

impl UserFacing for ProviderError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            ProviderError::MissingCredentials { .. }
            | ProviderError::InvalidSetting { .. }
            | ProviderError::ImageNotFound { .. }
            | ProviderError::UnknownPlan { .. } => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ProviderError::MissingCredentials { expected, .. } => Some(format!(
                "set {expected} in .kamal/secrets or the environment"
            )),
            ProviderError::InvalidSetting { hint, .. } => hint.clone(),
            ProviderError::Api { provider, failure, .. } => api_hint(provider, failure),
            ProviderError::Transport { provider, .. } => Some(format!(
                "check the network connection, or provider.api_url / {} if set",
                if *provider == super::hetzner::NAME { "HCLOUD_API_URL" } else { "UPCLOUD_API_URL" }
            )),
            ProviderError::InvalidResponse { .. } => Some(
                "the API answered in a shape kamal-dev does not understand; retry, and report it if it persists".into(),
            ),
            ProviderError::Provisioning { .. } => Some(
                "the server may still come up: check it in the control panel; `kamal-dev deploy` again resumes, and `kamal-dev remove` deletes it".into(),
            ),
            ProviderError::StateTimeout { .. } => Some(
                "the server may be busy with another operation; wait a minute and retry".into(),
            ),
            ProviderError::ImageNotFound { candidates, .. } if !candidates.is_empty() => {
                Some(format!(
                    "set provider.image in config/dev.yml to one of: {}",
                    candidates.join(", ")
                ))
            }
            ProviderError::ImageNotFound { .. } => Some(
                "set provider.image in config/dev.yml to an OS template name or UUID".into(),
            ),
            ProviderError::UnknownPlan { available, .. } => Some(format!(
                "set provider.plan in config/dev.yml to one of: {}",
                available.join(", ")
            )),
            ProviderError::Unsupported { .. } => None,
        }
    }
}

fn api_hint(provider: &str, failure: &ApiFailure) -> Option<String> {
    if provider == super::hetzner::NAME {
        return super::hetzner::hint(failure);
    }
    let code = failure.code.as_str();
    let hint = match failure.status {
        401 => format!(
            "check the {provider} credentials (UPCLOUD_TOKEN, or UPCLOUD_USERNAME and UPCLOUD_PASSWORD) and that the account has API access enabled (control panel: People)"
        ),
        402 => format!("add credit in the {provider} control panel, then retry"),
        403 if code.ends_with("_LIMIT_REACHED") || code == "TRIAL_PLAN" => format!(
            "an account limit was reached ({code}); delete unused servers or ask {provider} support to raise the limit"
        ),
        403 => "the API user lacks permission for this; sub-accounts see only their own resources".into(),
        404 => "it no longer exists; it may have been deleted outside kamal-dev".into(),
        409 if code == "SERVER_RESOURCES_UNAVAILABLE" => {
            "the zone is out of capacity for this plan; try another zone or plan".into()
        }
        409 => "the server is busy with another operation; wait a minute and retry".into(),
        429 => format!("{provider} is limiting the request rate; wait a minute and retry"),
        400 | 422 => "the request was refused as invalid; check provider.plan, provider.zone and provider.image in config/dev.yml".into(),
        500.. => format!("{provider} had an internal problem; retry in a few minutes"),
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_failure_renders_status_code_and_one_line_message() {
        let failure = ApiFailure::new(402, "INSUFFICIENT_CREDITS", "Not enough\n credits.");
        assert_eq!(
            failure.to_string(),
            "402 INSUFFICIENT_CREDITS: Not enough credits."
        );
        assert_eq!(ApiFailure::new(502, "", "").to_string(), "502");
        assert_eq!(
            ApiFailure::new(400, "X", &"a".repeat(1000)).message.len(),
            300
        );
    }

    #[test]
    fn hints_follow_status_and_code() {
        let hint = |status, code: &str| {
            ProviderError::Api {
                provider: "UpCloud",
                action: "create server".into(),
                failure: ApiFailure::new(status, code, "m"),
            }
            .hint()
            .unwrap()
        };
        assert!(hint(401, "AUTHENTICATION_FAILED").contains("UPCLOUD_TOKEN"));
        assert!(hint(402, "INSUFFICIENT_CREDITS").contains("add credit"));
        assert!(hint(403, "SERVER_CORE_LIMIT_REACHED").contains("limit"));
        assert!(hint(403, "SERVER_FORBIDDEN").contains("permission"));
        assert!(hint(404, "SERVER_NOT_FOUND").contains("deleted outside"));
        assert!(hint(409, "SERVER_STATE_ILLEGAL").contains("busy"));
        assert!(hint(409, "SERVER_RESOURCES_UNAVAILABLE").contains("capacity"));
    }

    #[test]
    fn provisioning_error_lists_states() {
        let err = ProviderError::Provisioning {
            provider: "UpCloud",
            id: "00aa".into(),
            waited: Duration::from_secs(600),
            states_seen: vec!["maintenance".into(), "error".into()],
        };
        let text = err.to_string();
        assert!(text.starts_with("ProvisioningError: VM failed to reach running state"));
        assert!(text.contains("maintenance -> error"), "{text}");
        assert_eq!(err.exit_status(), ExitStatus::Failure);
    }
}
