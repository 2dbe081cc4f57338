//! The config file as written: every key optional, locations kept, unknown keys refused.
//! `parse` reads one file, `merge` lays a destination overlay over the base, `validate`
//! turns the result into a [`Config`] or an error naming file, line, column and key.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{
    Config, ConfigError, GitSource, ImageSource, Limits, Naming, Ports, ProviderConfig,
    ProviderKind, Publish, Source, SshConfig, Vms, parse_cpus, parse_size,
};

/// A value with the file it came from (the base or an overlay), for error messages.
#[derive(Debug, Clone)]
pub(super) struct At<T> {
    value: T,
    path: String,
    line: u64,
    column: u64,
}

type Field<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    service: Field<String>,
    image: Field<String>,
    provider: Option<FileProvider>,
    secrets: Field<Vec<String>>,
    secrets_file: Field<String>,
    ssh: Option<FileSsh>,
    defaults: Option<FileDefaults>,
    vms: Option<FileVms>,
    naming: Option<FileNaming>,
    ports: Option<FilePorts>,
    source: Option<FileSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    #[serde(rename = "type")]
    kind: Field<String>,
    zone: Field<String>,
    plan: Field<String>,
    api_url: Field<String>,
    image: Field<String>,
    hosts: Field<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSsh {
    key_path: Field<String>,
    user: Field<String>,
    port: Field<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDefaults {
    cpus: Field<Value>,
    memory: Field<Value>,
    memory_swap: Field<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileVms {
    count: Field<Value>,
    spread: Field<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNaming {
    pattern: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePorts {
    publish: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSource {
    git: Option<FileGit>,
    upload: Field<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGit {
    url: Field<String>,
    branch: Field<String>,
    base: Field<String>,
    token_secret: Field<String>,
}

/// One or more merged files: each present value remembers where it was written.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    service: Option<At<String>>,
    image: Option<At<String>>,
    provider_type: Option<At<String>>,
    zone: Option<At<String>>,
    plan: Option<At<String>>,
    api_url: Option<At<String>>,
    provider_image: Option<At<String>>,
    hosts: Option<At<Vec<String>>>,
    secrets: Option<At<Vec<String>>>,
    secrets_file: Option<At<String>>,
    key_path: Option<At<String>>,
    user: Option<At<String>>,
    port: Option<At<Value>>,
    cpus: Option<At<Value>>,
    memory: Option<At<Value>>,
    memory_swap: Option<At<Value>>,
    count: Option<At<Value>>,
    spread: Option<At<bool>>,
    pattern: Option<At<String>>,
    publish: Option<At<String>>,
    git_url: Option<At<String>>,
    git_branch: Option<At<String>>,
    git_base: Option<At<String>>,
    git_token_secret: Option<At<String>>,
    git_present: Option<At<()>>,
    upload: Option<At<String>>,
}

/// Parse one file. `path` is how messages name it.
pub(super) fn parse(text: &str, path: &str) -> Result<RawConfig, ConfigError> {
    let file: Option<FileConfig> = serde_saphyr::from_str(text).map_err(|err| {
        let location = err.location();
        let (line, column) = location.map_or((1, 1), |l| (l.line(), l.column()));
        let message = strip_location(&err.without_snippet().to_string());
        let (message, hint) = improve_message(&message);
        ConfigError::Invalid {
            path: path.to_string(),
            line,
            column,
            key: key_prefix(&key_path_at(text, line, column)),
            message,
            hint,
        }
    })?;
    let Some(file) = file else {
        return Err(ConfigError::Empty {
            path: path.to_string(),
        });
    };
    let at = |spanned: Field<String>| spanned.map(|s| located(s, path));
    let provider = file.provider.unwrap_or_default();
    let ssh = file.ssh.unwrap_or_default();
    let defaults = file.defaults.unwrap_or_default();
    let vms = file.vms.unwrap_or_default();
    let source = file.source.unwrap_or_default();
    let git_present = source.git.as_ref().map(|_| At {
        value: (),
        path: path.to_string(),
        line: 1,
        column: 1,
    });
    let git = source.git.unwrap_or_default();
    Ok(RawConfig {
        service: at(file.service),
        image: at(file.image),
        provider_type: at(provider.kind),
        zone: at(provider.zone),
        plan: at(provider.plan),
        api_url: at(provider.api_url),
        provider_image: at(provider.image),
        hosts: provider.hosts.map(|s| located(s, path)),
        secrets: file.secrets.map(|s| located(s, path)),
        secrets_file: at(file.secrets_file),
        key_path: at(ssh.key_path),
        user: at(ssh.user),
        port: ssh.port.map(|s| located(s, path)),
        cpus: defaults.cpus.map(|s| located(s, path)),
        memory: defaults.memory.map(|s| located(s, path)),
        memory_swap: defaults.memory_swap.map(|s| located(s, path)),
        count: vms.count.map(|s| located(s, path)),
        spread: vms.spread.map(|s| located(s, path)),
        pattern: at(file.naming.unwrap_or_default().pattern),
        publish: at(file.ports.unwrap_or_default().publish),
        git_url: at(git.url),
        git_branch: at(git.branch),
        git_base: at(git.base),
        git_token_secret: at(git.token_secret),
        git_present,
        upload: at(source.upload),
    })
}

fn located<T>(spanned: Spanned<T>, path: &str) -> At<T> {
    At {
        value: spanned.value,
        path: path.to_string(),
        line: spanned.referenced.line(),
        column: spanned.referenced.column(),
    }
}

impl RawConfig {
    /// Lay `overlay` over `self`: every key the overlay sets wins; lists are replaced whole
    /// (as Kamal merges destination files).
    pub(super) fn merge(&mut self, overlay: RawConfig) {
        macro_rules! take {
            ($($field:ident),*) => { $( if overlay.$field.is_some() { self.$field = overlay.$field; } )* };
        }
        take!(
            service,
            image,
            provider_type,
            zone,
            plan,
            api_url,
            provider_image,
            hosts,
            secrets,
            secrets_file,
            key_path,
            user,
            port,
            cpus,
            memory,
            memory_swap,
            count,
            spread,
            pattern,
            publish,
            git_url,
            git_branch,
            git_base,
            git_token_secret,
            git_present,
            upload
        );
    }

    pub(super) fn validate(self, base: &Path) -> Result<Config, ConfigError> {
        let base_display = base.display().to_string();
        let missing = |key: &str, message: &str, hint: Option<&str>| ConfigError::Missing {
            path: base_display.clone(),
            key: key.to_string(),
            message: message.to_string(),
            hint: hint.map(str::to_string),
        };

        let service = self.service.ok_or_else(|| {
            missing(
                "service",
                "is required",
                Some("add `service: my-app` (used to name workspaces and label machines)"),
            )
        })?;
        let service = non_empty(service, "service")?;
        if let Some(bad) = service
            .value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.'))
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
        let zone = self.zone.map(|z| z.value);
        let plan = self.plan.map(|p| p.value);
        if kind.is_cloud() {
            if zone.is_none() {
                return Err(missing(
                    "provider.zone",
                    &format!("is required for provider {}", kind.name()),
                    Some("add the data-center zone, for example `zone: de-fra1`"),
                ));
            }
            if plan.is_none() {
                return Err(missing(
                    "provider.plan",
                    &format!("is required for provider {}", kind.name()),
                    Some("add the machine size, for example `plan: 1xCPU-2GB`"),
                ));
            }
        }
        let hosts = self.hosts.map(|h| h.value).unwrap_or_default();
        if kind == ProviderKind::Ssh && hosts.is_empty() {
            return Err(missing(
                "provider.hosts",
                "is required for provider ssh",
                Some("list the machines to use, for example `hosts: [192.0.2.10, 192.0.2.11]`"),
            ));
        }

        let image = match self.image {
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
        };

        let port = match self.port {
            None => 22,
            Some(at) => whole_number(&at, "ssh.port")
                .and_then(|n| u16::try_from(n).ok().filter(|p| *p > 0))
                .ok_or_else(|| {
                    invalid(
                        &at,
                        "ssh.port",
                        format!("{} is not a TCP port", show(&at.value)),
                        Some("use a number from 1 to 65535".into()),
                    )
                })?,
        };
        let count = match self.count {
            None => 1,
            Some(at) => whole_number(&at, "vms.count")
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    invalid(
                        &at,
                        "vms.count",
                        format!("{} is not a positive whole number", show(&at.value)),
                        Some("use a count from 1 to 1000".into()),
                    )
                })?,
        };

        let size = |field: Option<At<Value>>, key: &str| -> Result<_, ConfigError> {
            field
                .map(|at| {
                    parse_size(&scalar_text(&at.value)).map_err(|message| {
                        invalid(
                            &at,
                            key,
                            message.replace(
                                &format!("{:?}", scalar_text(&at.value)),
                                &show(&at.value),
                            ),
                            Some("use a number with a unit, like 4g, 4096m or 1.5g".into()),
                        )
                    })
                })
                .transpose()
        };
        let cpus = self
            .cpus
            .map(|at| {
                parse_cpus(&scalar_text(&at.value)).map_err(|message| {
                    invalid(
                        &at,
                        "defaults.cpus",
                        message.replace(&format!("{:?}", scalar_text(&at.value)), &show(&at.value)),
                        Some("use a number of CPUs, like 2 or 1.5".into()),
                    )
                })
            })
            .transpose()?;
        let defaults = Limits {
            cpus,
            memory: size(self.memory, "defaults.memory")?,
            memory_swap: size(self.memory_swap, "defaults.memory_swap")?,
        };
        if let (Some(memory), Some(swap)) = (defaults.memory, defaults.memory_swap) {
            if swap < memory {
                return Err(missing(
                    "defaults.memory_swap",
                    &format!("{swap} is less than defaults.memory {memory}"),
                    Some(
                        "memory_swap is memory plus swap, so it must be at least memory (docker --memory-swap)",
                    ),
                ));
            }
        }

        let pattern = match self.pattern {
            None => "{service}-{index}".to_string(),
            Some(at) => {
                if !at.value.contains("{index}") {
                    return Err(invalid(
                        &at,
                        "naming.pattern",
                        format!(
                            "{:?} has no {{index}}, so every workspace would get the same name",
                            at.value
                        ),
                        Some("use a pattern like \"{service}-{index}\"".into()),
                    ));
                }
                at.value
            }
        };

        let publish = match self.publish {
            None => Publish::Loopback,
            Some(at) => match at.value.as_str() {
                "loopback" => Publish::Loopback,
                "public" => Publish::Public,
                other => {
                    return Err(invalid(
                        &at,
                        "ports.publish",
                        format!("unknown value {other:?}; expected one of loopback, public"),
                        suggest(other, &["loopback", "public"]),
                    ));
                }
            },
        };

        let source = match (self.git_present, self.upload) {
            (Some(_), Some(upload)) => {
                return Err(invalid(
                    &upload,
                    "source.upload",
                    "source takes either git or upload, not both".into(),
                    None,
                ));
            }
            (Some(git), None) => {
                let url = self.git_url.ok_or_else(|| ConfigError::Missing {
                    path: git.path.clone(),
                    key: "source.git.url".into(),
                    message: "is required".into(),
                    hint: Some("add the repository to clone, for example `url: https://github.com/me/app.git`".into()),
                })?;
                Some(Source::Git(GitSource {
                    url: url.value,
                    branch: self.git_branch.map(|b| b.value),
                    base: self.git_base.map(|b| b.value),
                    token_secret: self.git_token_secret.map(|t| t.value),
                }))
            }
            (None, Some(upload)) => Some(Source::Upload(PathBuf::from(upload.value))),
            (None, None) => None,
        };

        Ok(Config {
            path: base.to_path_buf(),
            service: service.value,
            image,
            provider: ProviderConfig {
                kind,
                zone,
                plan,
                api_url: self.api_url.map(|a| a.value),
                image: self.provider_image.map(|i| i.value),
                hosts,
            },
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

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// An integer from a YAML number or a string of digits.
fn whole_number(at: &At<Value>, _key: &str) -> Option<i64> {
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

/// `did you mean "upcloud"?` when one candidate is close.
fn suggest(input: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(input, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean {c:?}?"))
}

/// Drop serde-saphyr's ` at line L, column C` suffix; we print the location first.
fn strip_location(message: &str) -> String {
    let message = message.trim();
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
}

/// Reword serde's messages: unknown fields get a did-you-mean; type names get plain words.
fn improve_message(message: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected one of ") {
            let candidates: Vec<&str> = expected.split(", ").map(|c| c.trim_matches('`')).collect();
            let hint = suggest(field, &candidates)
                .unwrap_or_else(|| format!("valid keys here: {}", candidates.join(", ")));
            return (format!("unknown key {field:?}"), Some(hint));
        }
        if let Some((field, _)) = rest.split_once('`') {
            return (
                format!("unknown key {field:?}"),
                Some("this section takes no keys".into()),
            );
        }
    }
    let plain = message
        .replace("expected string scalar", "expected a string")
        .replace("expected mapping start", "expected a mapping of keys")
        .replace("expected sequence start", "expected a list")
        .replace("invalid i64", "expected a whole number")
        .replace("invalid bool", "expected true or false");
    (plain, None)
}

/// The dotted key path of the YAML key at (or governing) a 1-based line and column, found
/// from indentation. Good enough for messages; the location itself is exact.
fn key_path_at(text: &str, line: u64, column: u64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return String::new();
    };
    if index >= lines.len() {
        return String::new();
    }
    let column = usize::try_from(column).unwrap_or(1);
    let mut path = Vec::new();
    let mut limit = usize::MAX;
    for (i, raw) in lines[..=index].iter().enumerate().rev() {
        let content = raw.trim_start_matches(' ');
        let indent = raw.len() - content.len();
        if content.is_empty() || content.starts_with('#') || indent >= limit {
            continue;
        }
        let content = content.strip_prefix("- ").unwrap_or(content);
        let key = content
            .split_once(':')
            .filter(|(k, rest)| {
                !k.is_empty() && !k.contains(' ') && (rest.is_empty() || rest.starts_with(' '))
            })
            .map(|(k, _)| k.trim_matches(|c| c == '"' || c == '\''));
        if i == index && key.is_none() && indent + 1 >= column {
            limit = indent;
            continue;
        }
        if let Some(key) = key {
            path.push(key.to_string());
            limit = indent;
            if indent == 0 {
                break;
            }
        } else if i != index {
            limit = indent;
        }
    }
    path.reverse();
    path.join(".")
}

#[cfg(test)]
mod tests {
    use super::key_path_at;

    #[test]
    fn key_paths_follow_indentation() {
        let text = "service: a\nprovider:\n  type: upclod\n  zone: x\nsecrets:\n  - A\n";
        assert_eq!(key_path_at(text, 3, 9), "provider.type");
        assert_eq!(key_path_at(text, 4, 3), "provider.zone");
        assert_eq!(key_path_at(text, 1, 10), "service");
        assert_eq!(key_path_at(text, 6, 5), "secrets");
    }
}
