//! Hetzner client settings (API URL, timeouts, polling, retries, price cache, default image)
//! resolved from the config and `HCLOUD_API_URL`. Pure apart from reading that variable.

use std::path::PathBuf;
use std::time::Duration;

use super::NAME;
use crate::config::Config;
use crate::provider::ProviderError;
use crate::provider::http::{RetryPolicy, check_api_url, choose_api_url};

pub const DEFAULT_API_URL: &str = "https://api.hetzner.cloud/v1";
pub const DEFAULT_IMAGE: &str = "ubuntu-24.04";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HetznerOptions {
    /// The API base, `/v1` included (`https://api.hetzner.cloud/v1`).
    pub api_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How long one action (create, power on/off, delete) may run.
    pub action_timeout: Duration,
    /// How long `start` and `wait_until_started` wait for `running`.
    pub wait_timeout: Duration,
    /// Polling interval: starts at `poll_min`, grows by half up to `poll_max`.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// How long a graceful shutdown may take before the server is powered off.
    pub soft_stop_timeout: Duration,
    pub retry: RetryPolicy,
    /// Folder for the price cache; `None` disables it.
    pub price_cache_dir: Option<PathBuf>,
    pub default_image: String,
}

impl HetznerOptions {
    /// Defaults for `api_url` (no price cache). Polling follows the hcloud CLI (500 ms, then
    /// growing to 2.5 s), well inside 3600 requests an hour for a few servers.
    pub fn new(api_url: &str) -> Result<HetznerOptions, ProviderError> {
        Ok(HetznerOptions {
            api_url: normalise_api_url(api_url)?,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            action_timeout: Duration::from_secs(300),
            wait_timeout: Duration::from_secs(600),
            poll_min: Duration::from_millis(500),
            poll_max: Duration::from_millis(2500),
            soft_stop_timeout: Duration::from_secs(60),
            retry: RetryPolicy {
                max_retries: 8,
                min_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
            },
            price_cache_dir: None,
            default_image: DEFAULT_IMAGE.into(),
        })
    }

    /// `provider.api_url`, else `HCLOUD_API_URL`, else the public API; `provider.image` as the
    /// default image; the price cache in the user's cache folder.
    pub fn from_config(config: &Config) -> Result<HetznerOptions, ProviderError> {
        let api_url = choose_api_url(
            config.provider.api_url.as_deref(),
            "HCLOUD_API_URL",
            DEFAULT_API_URL,
        );
        let mut options = HetznerOptions::new(&api_url)?;
        if let Some(image) = config
            .provider
            .image
            .as_ref()
            .filter(|i| !i.trim().is_empty())
        {
            options.default_image = image.trim().to_string();
        }
        options.price_cache_dir = crate::provider::price_cache::default_dir();
        Ok(options)
    }
}

/// `http(s)://host[:port][/path]` without a trailing slash; credentials, queries and other
/// schemes are refused.
pub fn normalise_api_url(url: &str) -> Result<String, ProviderError> {
    let invalid = |why: &str| ProviderError::InvalidSetting {
        provider: NAME,
        message: format!("API URL {url:?} {why}"),
        hint: Some(format!(
            "set provider.api_url (or HCLOUD_API_URL) to the API base, like {DEFAULT_API_URL}"
        )),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = check_api_url(trimmed, invalid)?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query"));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_keeps_its_path_and_refuses_the_rest() {
        assert_eq!(
            normalise_api_url("https://api.hetzner.cloud/v1/").unwrap(),
            DEFAULT_API_URL
        );
        assert_eq!(
            normalise_api_url("http://127.0.0.1:9/v1").unwrap(),
            "http://127.0.0.1:9/v1"
        );
        for bad in [
            "api.hetzner.cloud",
            "ftp://x/v1",
            "http://u:p@x/v1",
            "http://x/v1?a=1",
        ] {
            assert!(normalise_api_url(bad).is_err(), "{bad}");
        }
    }
}
