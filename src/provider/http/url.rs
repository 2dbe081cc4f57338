//! API base URLs for the cloud providers: which one to use (config, then environment, then the
//! public API), the checks every one must pass, and whether it points at this machine. Reads
//! one environment variable; no other I/O. What a provider's URL may carry beyond the host
//! (a path, a version suffix) is decided in its own `options`.

use crate::provider::ProviderError;

/// `configured` (`provider.api_url`), else the non-empty environment variable `env`, else
/// `default`.
pub fn choose_api_url(configured: Option<&str>, env: &str, default: &str) -> String {
    let from_env = std::env::var(env).ok().filter(|url| !url.trim().is_empty());
    configured
        .map(str::to_string)
        .or(from_env)
        .unwrap_or_else(|| default.to_string())
}

/// The checks every API URL passes: a URL, `http` or `https`, a host, no credentials.
/// `invalid` turns the reason into the provider's error.
pub fn check_api_url(
    url: &str,
    invalid: impl Fn(&str) -> ProviderError,
) -> Result<reqwest::Url, ProviderError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    Ok(parsed)
}

/// The URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(base: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<reqwest::Url, String> {
        check_api_url(url, |why| ProviderError::InvalidSetting {
            provider: "Test",
            message: why.to_string(),
            hint: None,
        })
        .map_err(|err| err.to_string())
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8080/1.3"));
        assert!(is_loopback("http://localhost:1/1.3"));
        assert!(is_loopback("http://[::1]:1/1.3"));
        assert!(!is_loopback("https://api.upcloud.com/1.3"));
    }

    #[test]
    fn api_urls_need_scheme_host_and_no_credentials() {
        assert_eq!(check("http://127.0.0.1:9/v1").unwrap().path(), "/v1");
        assert_eq!(check("api.example").unwrap_err(), "Test: is not a URL");
        assert!(check("ftp://x").unwrap_err().contains("http://"));
        assert!(check("http://u:p@x").unwrap_err().contains("credentials"));
    }

    #[test]
    fn the_configured_url_wins_over_the_default() {
        let unset = "KAMAL_DEV_TEST_SURELY_UNSET_API_URL";
        assert_eq!(
            choose_api_url(Some("http://a"), unset, "http://b"),
            "http://a"
        );
        assert_eq!(choose_api_url(None, unset, "http://b"), "http://b");
    }
}
