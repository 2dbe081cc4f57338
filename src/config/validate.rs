//! Validation: merged [`RawConfig`] values -> a [`Config`], with defaults filled in and every
//! problem reported with the file, line, column and key it came from, and what would be valid.
//! Pure; never reads files or prints.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::messages::{key_prefix, suggest};
use super::raw::{At, RawConfig};
use super::{
    Config, ConfigError, GitSource, ImageSource, Limits, Naming, Ports, ProviderConfig,
    ProviderKind, Publish, Source, SshConfig, Vms, parse_cpus, parse_size,
};

impl RawConfig {
    /// Check every value and fill in the defaults. `base` is the base file: keys missing from
    /// every file are reported against it.
    pub(super) fn validate(self, base: &Path) -> Result<Config, ConfigError> {
        let base_display = base.display().to_string();
        let missing = |key: &str, message: &str, hint: &str| ConfigError::Missing {
            path: base_display.clone(),
            key: key.to_string(),
            message: message.to_string(),
            hint: Some(hint.to_string()),
        };

        let service = self.service.clone().ok_or_else(|| {
            missing(
                "service",
                "is required",
                "add `service: my-app` (used to name workspaces and label machines)",
            )
        })?;
        let service = non_empty(service, "service")?;
        if let Some(bad) = service
            .value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(
                &service,
                "service",
                format!(
                    "{:?} contains {bad:?}; use letters, digits, `-`, `_` and `.`",
                    service.value
                ),
                None,
            ));
        }
        let provider = self.provider(&missing)?;
        let image = self.image()?;
        let port = match &self.port {
            None => 22,
            Some(at) => whole_number(at)
                .and_then(|n| u16::try_from(n).ok().filter(|p| *p > 0))
                .ok_or_else(|| {
                    invalid(
                        at,
                        "ssh.port",
                        format!("{} is not a TCP port", show(&at.value)),
                        Some("use a number from 1 to 65535".into()),
                    )
                })?,
        };
        let count = match &self.count {
            None => 1,
            Some(at) => whole_number(at)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    invalid(
                        at,
                        "vms.count",
                        format!("{} is not a positive whole number", show(&at.value)),
                        Some("use a count from 1 to 1000".into()),
                    )
                })?,
        };
        let defaults = self.limits(&missing)?;
        let pattern = self.pattern()?;
        let publish = self.publish()?;
        let source = self.source()?;
        Ok(Config {
            path: base.to_path_buf(),
            service: service.value,
            image,
            provider,
            secrets: self.secrets.map(|s| s.value).unwrap_or_default(),
            secrets_file: self.secrets_file.map(|s| PathBuf::from(s.value)),
            ssh: SshConfig {
                key_path: expand_home(
                    &self
                        .key_path
                        .map_or_else(|| "~/.ssh/id_rsa.pub".to_string(), |k| k.value),
                ),
                user: self.user.map_or_else(|| "root".to_string(), |u| u.value),
                port,
            },
            defaults,
            vms: Vms {
                count,
                spread: self.spread.is_some_and(|s| s.value),
            },
            naming: Naming { pattern },
            ports: Ports { publish },
            source,
        })
    }

    fn provider(
        &self,
        missing: &dyn Fn(&str, &str, &str) -> ConfigError,
    ) -> Result<ProviderConfig, ConfigError> {
        let kind = match &self.provider_type {
            None => ProviderKind::Local,
            Some(at) => ProviderKind::ALL
                .into_iter()
                .find(|kind| kind.name() == at.value)
                .ok_or_else(|| {
                    let names: Vec<&str> = ProviderKind::ALL.iter().map(|k| k.name()).collect();
                    invalid(
                        at,
                        "provider.type",
                        format!(
                            "unknown provider {:?}; expected one of {}",
                            at.value,
                            names.join(", ")
                        ),
                        suggest(&at.value, &names),
                    )
                })?,
        };
        let zone = self.zone.as_ref().map(|z| z.value.clone());
        let plan = self.plan.as_ref().map(|p| p.value.clone());
        if kind.is_cloud() && zone.is_none() {
            return Err(missing(
                "provider.zone",
                &format!("is required for provider {}", kind.name()),
                "add the data-center zone, for example `zone: de-fra1`",
            ));
        }
        if kind.is_cloud() && plan.is_none() {
            return Err(missing(
                "provider.plan",
                &format!("is required for provider {}", kind.name()),
                "add the machine size, for example `plan: 1xCPU-2GB`",
            ));
        }
        let hosts = self
            .hosts
            .as_ref()
            .map(|h| h.value.clone())
            .unwrap_or_default();
        if kind == ProviderKind::Ssh && hosts.is_empty() {
            return Err(missing(
                "provider.hosts",
                "is required for provider ssh",
                "list the machines to use, for example `hosts: [192.0.2.10, 192.0.2.11]`",
            ));
        }
        Ok(ProviderConfig {
            kind,
            zone,
            plan,
            api_url: self.api_url.as_ref().map(|a| a.value.clone()),
            image: self.provider_image.as_ref().map(|i| i.value.clone()),
            hosts,
        })
    }

    fn limits(
        &self,
        missing: &dyn Fn(&str, &str, &str) -> ConfigError,
    ) -> Result<Limits, ConfigError> {
        let size = |field: &Option<At<Value>>, key: &str| {
            field
                .as_ref()
                .map(|at| {
                    let text = scalar_text(&at.value);
                    parse_size(&text).map_err(|message| {
                        invalid(
                            at,
                            key,
                            message.replace(&format!("{text:?}"), &show(&at.value)),
                            Some("use a number with a unit, like 4g, 4096m or 1.5g".into()),
                        )
                    })
                })
                .transpose()
        };
        let cpus = self
            .cpus
            .as_ref()
            .map(|at| {
                let text = scalar_text(&at.value);
                parse_cpus(&text).map_err(|message| {
                    invalid(
                        at,
                        "defaults.cpus",
                        message.replace(&format!("{text:?}"), &show(&at.value)),
                        Some("use a number of CPUs, like 2 or 1.5".into()),
                    )
                })
            })
            .transpose()?;
        let limits = Limits {
            cpus,
            memory: size(&self.memory, "defaults.memory")?,
            memory_swap: size(&self.memory_swap, "defaults.memory_swap")?,
        };
        if let (Some(memory), Some(swap)) = (limits.memory, limits.memory_swap)
            && swap < memory
        {
            return Err(missing(
                "defaults.memory_swap",
                &format!("{swap} is less than defaults.memory {memory}"),
                "memory_swap is memory plus swap, so it must be at least memory (docker --memory-swap)",
            ));
        }
        Ok(limits)
    }

    fn pattern(&self) -> Result<String, ConfigError> {
        Ok(match &self.pattern {
            None => "{service}-{index}".to_string(),
            Some(at) if !at.value.contains("{index}") && !at.value.contains("{index:0") => {
                return Err(invalid(
                    at,
                    "naming.pattern",
                    format!(
                        "{:?} has no {{index}}, so every workspace would get the same name",
                        at.value
                    ),
                    Some("use a pattern like \"{service}-{index}\"".into()),
                ));
            }
            Some(at) => at.value.clone(),
        })
    }

    fn publish(&self) -> Result<Publish, ConfigError> {
        Ok(match &self.publish {
            None => Publish::Loopback,
            Some(at) => match at.value.as_str() {
                "loopback" => Publish::Loopback,
                "public" => Publish::Public,
                other => {
                    return Err(invalid(
                        at,
                        "ports.publish",
                        format!("unknown value {other:?}; expected one of loopback, public"),
                        suggest(other, &["loopback", "public"]),
                    ));
                }
            },
        })
    }

    fn image(&self) -> Result<ImageSource, ConfigError> {
        Ok(match self.image.clone() {
            Some(at) => {
                let at = non_empty(at, "image")?;
                if Path::new(&at.value)
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                {
                    ImageSource::Devcontainer(PathBuf::from(at.value))
                } else {
                    ImageSource::Image(at.value)
                }
            }
            None => ImageSource::Devcontainer(PathBuf::from(".devcontainer/devcontainer.json")),
        })
    }

    fn source(&self) -> Result<Option<Source>, ConfigError> {
        match (&self.git_present, &self.upload) {
            (Some(_), Some(upload)) => Err(invalid(
                upload,
                "source.upload",
                "source takes either git or upload, not both".into(),
                None,
            )),
            (Some(git), None) => {
                let url = self.git_url.as_ref().ok_or_else(|| ConfigError::Missing {
                    path: git.path.clone(),
                    key: "source.git.url".into(),
                    message: "is required".into(),
                    hint: Some(
                        "add the repository to clone, for example `url: https://github.com/me/app.git`"
                            .into(),
                    ),
                })?;
                Ok(Some(Source::Git(GitSource {
                    url: url.value.clone(),
                    branch: self.git_branch.as_ref().map(|b| b.value.clone()),
                    base: self.git_base.as_ref().map(|b| b.value.clone()),
                    token_secret: self.git_token_secret.as_ref().map(|t| t.value.clone()),
                })))
            }
            (None, Some(upload)) => Ok(Some(Source::Upload(PathBuf::from(&upload.value)))),
            (None, None) => Ok(None),
        }
    }
}

fn invalid<T>(at: &At<T>, key: &str, message: String, hint: Option<String>) -> ConfigError {
    ConfigError::Invalid {
        path: at.path.clone(),
        line: at.line,
        column: at.column,
        key: key_prefix(key),
        message,
        hint,
    }
}

fn non_empty(at: At<String>, key: &str) -> Result<At<String>, ConfigError> {
    if at.value.trim().is_empty() {
        Err(invalid(&at, key, "must not be empty".into(), None))
    } else {
        Ok(at)
    }
}

/// An integer from a YAML number or a string of digits.
fn whole_number(at: &At<Value>) -> Option<i64> {
    match &at.value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A scalar as the user wrote it (numbers in their shortest form).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// A value for a message: strings quoted, numbers bare, collections by kind.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "an empty value".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => {
            std::env::home_dir().map_or_else(|| PathBuf::from(path), |home| home.join(rest))
        }
        None => PathBuf::from(path),
    }
}
