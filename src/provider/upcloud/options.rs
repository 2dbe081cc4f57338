//! UpCloud client settings (API URL, timeouts, polling, retries, price cache) resolved from the
//! config and `UPCLOUD_API_URL`, and OS-template selection by name. Pure apart from reading
//! that one environment variable.

use std::path::PathBuf;
use std::time::Duration;

use super::NAME;
use super::model::Template;
use crate::config::Config;
use crate::provider::ProviderError;
use crate::provider::http::{RetryPolicy, check_api_url, choose_api_url};

pub const DEFAULT_API_URL: &str = "https://api.upcloud.com";
/// Matched word by word against template titles ("Ubuntu Server 24.04 LTS (Noble Numbat)").
pub const DEFAULT_IMAGE: &str = "Ubuntu Server 24.04 LTS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcloudOptions {
    /// Scheme, host and port; `/1.3` is appended.
    pub api_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How long `start` waits for `started`.
    pub wait_timeout: Duration,
    /// Polling interval: starts at `poll_min`, doubles up to `poll_max`.
    pub poll_min: Duration,
    pub poll_max: Duration,
    /// A soft stop's ACPI timeout before kamal-dev stops the server hard.
    pub soft_stop_timeout: Duration,
    pub retry: RetryPolicy,
    /// Folder for the price cache; `None` disables it.
    pub price_cache_dir: Option<PathBuf>,
    /// OS template when a request names none.
    pub default_image: String,
}

impl UpcloudOptions {
    /// Defaults for `api_url` (no price cache).
    pub fn new(api_url: &str) -> Result<UpcloudOptions, ProviderError> {
        Ok(UpcloudOptions {
            api_url: normalise_api_url(api_url)?,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            wait_timeout: Duration::from_secs(600),
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(5),
            soft_stop_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            price_cache_dir: None,
            default_image: DEFAULT_IMAGE.into(),
        })
    }

    /// From config: `provider.api_url`, else `UPCLOUD_API_URL`, else the public API;
    /// `provider.image` as the default template; the price cache in the user's cache folder.
    pub fn from_config(config: &Config) -> Result<UpcloudOptions, ProviderError> {
        let api_url = choose_api_url(
            config.provider.api_url.as_deref(),
            "UPCLOUD_API_URL",
            DEFAULT_API_URL,
        );
        let mut options = UpcloudOptions::new(&api_url)?;
        if let Some(image) = &config.provider.image {
            options.default_image.clone_from(image);
        }
        options.price_cache_dir = crate::provider::price_cache::default_dir();
        Ok(options)
    }
}

/// `http(s)://host[:port][/1.3][/]` -> `http(s)://host[:port]`; anything else is refused.
pub fn normalise_api_url(url: &str) -> Result<String, ProviderError> {
    let invalid = |why: &str| {
        ProviderError::InvalidSetting {
        provider: NAME,
        message: format!("API URL {url:?} {why}"),
        hint: Some(
            "set provider.api_url (or UPCLOUD_API_URL) to scheme, host and port, like https://api.upcloud.com"
                .into(),
        ),
    }
    };
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/1.3").unwrap_or(trimmed);
    let parsed = check_api_url(trimmed, invalid)?;
    if parsed.query().is_some() || parsed.path() != "/" {
        return Err(invalid("must be only scheme, host and port"));
    }
    Ok(trimmed.to_string())
}

/// Pick a template by UUID, exact title, or the one title containing every word of `wanted`.
/// On failure, the titles worth suggesting.
pub fn pick_template<'a>(
    templates: &'a [Template],
    wanted: &str,
) -> Result<&'a Template, Vec<String>> {
    let wanted = wanted.trim();
    if let Some(found) = templates
        .iter()
        .find(|t| t.uuid == wanted || t.title.eq_ignore_ascii_case(wanted))
    {
        return Ok(found);
    }
    let wanted_words = words(wanted);
    let matches: Vec<&Template> = templates
        .iter()
        .filter(|t| {
            let title_words = words(&t.title);
            !wanted_words.is_empty() && wanted_words.iter().all(|w| title_words.contains(w))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => {
            let first = wanted_words.first().cloned().unwrap_or_default();
            let mut related: Vec<String> = templates
                .iter()
                .filter(|t| words(&t.title).contains(&first))
                .map(|t| t.title.clone())
                .collect();
            if related.is_empty() {
                related = templates.iter().map(|t| t.title.clone()).collect();
            }
            related.truncate(12);
            Err(related)
        }
        many => Err(many.iter().map(|t| t.title.clone()).collect()),
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(uuid: &str, title: &str) -> Template {
        Template {
            uuid: uuid.into(),
            title: title.into(),
            kind: Some("template".into()),
            template_type: Some("cloud-init".into()),
        }
    }

    #[test]
    fn api_url_is_normalised_and_validated() {
        assert_eq!(
            normalise_api_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalise_api_url("https://api.upcloud.com/1.3").unwrap(),
            "https://api.upcloud.com"
        );
        for bad in [
            "api.upcloud.com",
            "ftp://x",
            "http://u:p@x",
            "http://x/api",
            "http://x?a=1",
        ] {
            let err = normalise_api_url(bad).unwrap_err();
            assert!(!err.to_string().is_empty(), "{bad}");
        }
    }

    #[test]
    fn templates_resolve_by_uuid_title_or_words() {
        let list = vec![
            template(
                "01000000-0000-4000-8000-000030240200",
                "Ubuntu Server 24.04 LTS (Noble Numbat)",
            ),
            template(
                "01000000-0000-4000-8000-000030220200",
                "Ubuntu Server 22.04 LTS (Jammy Jellyfish)",
            ),
            template(
                "01000000-0000-4000-8000-000020070100",
                "Debian GNU/Linux 12 (Bookworm)",
            ),
        ];
        assert_eq!(
            pick_template(&list, DEFAULT_IMAGE).unwrap().uuid,
            list[0].uuid
        );
        assert_eq!(
            pick_template(&list, "debian gnu/linux 12 (bookworm)")
                .unwrap()
                .uuid,
            list[2].uuid
        );
        assert_eq!(
            pick_template(&list, &list[1].uuid).unwrap().title,
            list[1].title
        );
        let ambiguous = pick_template(&list, "Ubuntu").unwrap_err();
        assert_eq!(ambiguous.len(), 2);
        let missing = pick_template(&list, "Ubuntu 26.04").unwrap_err();
        assert_eq!(missing.len(), 2, "suggests the Ubuntu templates");
    }
}
