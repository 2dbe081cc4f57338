//! config/dev.yml: the schema, destination overlays (`config/dev.<dest>.yml` deep-merged over
//! the base file), and validation whose errors name file, line, column, key and what would be
//! valid. Pure apart from reading the config files; never prints.

mod messages;
mod raw;
mod units;
mod validate;

use std::path::{Path, PathBuf};

pub use units::{Bytes, Millicores, parse_cpus, parse_size};

/// Largest config file we read. Real configs are a few hundred bytes; anything this big is a
/// mistake (a log or binary pointed at by `-c`).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it came from (the base file, not the overlay).
    pub path: PathBuf,
    pub service: String,
    pub image: ImageSource,
    pub provider: ProviderConfig,
    /// Keys from the secrets files to inject into every workspace.
    pub secrets: Vec<String>,
    /// `secrets_file`, when set: overrides `.kamal/secrets`.
    pub secrets_file: Option<PathBuf>,
    pub ssh: SshConfig,
    pub defaults: Limits,
    pub vms: Vms,
    pub naming: Naming,
    pub ports: Ports,
    pub source: Option<Source>,
}

/// What `image:` points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A devcontainer.json (a value ending in `.json`), relative to the project folder.
    Devcontainer(PathBuf),
    /// A plain image reference such as `ruby:3.2`.
    Image(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Upcloud,
    Hetzner,
    Local,
    Ssh,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Upcloud,
        ProviderKind::Hetzner,
        ProviderKind::Local,
        ProviderKind::Ssh,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Upcloud => "upcloud",
            ProviderKind::Hetzner => "hetzner",
            ProviderKind::Local => "local",
            ProviderKind::Ssh => "ssh",
        }
    }

    /// Cloud providers create machines and need `zone` and `plan`.
    pub fn is_cloud(self) -> bool {
        matches!(self, ProviderKind::Upcloud | ProviderKind::Hetzner)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    pub zone: Option<String>,
    pub plan: Option<String>,
    /// Base URL override for the provider's API (tests point it at a local server).
    pub api_url: Option<String>,
    /// OS template / image name for new machines.
    pub image: Option<String>,
    /// Existing hosts for the `ssh` provider.
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConfig {
    /// The public key; the private key is the same path without `.pub`.
    pub key_path: PathBuf,
    pub user: String,
    pub port: u16,
}

/// Per-container resource limits (`defaults:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub cpus: Option<Millicores>,
    pub memory: Option<Bytes>,
    pub memory_swap: Option<Bytes>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vms {
    pub count: u32,
    /// `true`: one workspace per machine; `false`: pack workspaces onto machines.
    pub spread: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// Workspace name pattern with `{service}` and `{index}`.
    pub pattern: String,
}

impl Naming {
    /// The workspace name for a 1-based index. `{index:03}` pads the index with zeros to
    /// three digits (any width from 1 to 9), as the seed allows.
    pub fn name(&self, service: &str, index: u32) -> String {
        let mut name = self.pattern.replace("{service}", service);
        while let Some(start) = name.find("{index:0") {
            let rest = &name[start + 8..];
            let Some(end) = rest.find('}') else { break };
            let width: usize = rest[..end].parse().unwrap_or(1).clamp(1, 9);
            let padded = format!("{index:0width$}");
            name.replace_range(start..=start + 8 + end, &padded);
        }
        name.replace("{index}", &index.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Published ports bind to 127.0.0.1 on the machine (reach them through SSH).
    Loopback,
    /// Published ports bind to all interfaces of the machine.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub publish: Publish,
}

/// How the user's code reaches the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Git(GitSource),
    Upload(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    pub url: String,
    /// Branch name; may use `{service}`, `{index}` and `{name}`.
    pub branch: Option<String>,
    /// Branch to create `branch` from when it does not exist.
    pub base: Option<String>,
    /// Name of the secret holding the token for HTTPS clones.
    pub token_secret: Option<String>,
}

/// A configuration problem. Every variant names the file; most name line, column and key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path} not found")]
    NotFound { path: String },

    #[error("could not read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: file is {size} bytes; a config file is at most {MAX_CONFIG_BYTES} bytes")]
    TooLarge { path: String, size: u64 },

    #[error("{path}: not a text file (invalid UTF-8 at byte {offset})")]
    NotText { path: String, offset: usize },

    #[error("{path}: file is empty")]
    Empty { path: String },

    #[error("{path}:{line}:{column}: {key}{message}")]
    Invalid {
        path: String,
        line: u64,
        column: u64,
        /// `key: ` (with the separator) or empty when the problem is not under a key.
        key: String,
        message: String,
        hint: Option<String>,
    },

    #[error("{path}: {key}: {message}")]
    Missing {
        path: String,
        key: String,
        message: String,
        hint: Option<String>,
    },
}

impl crate::error::UserFacing for ConfigError {
    fn exit_status(&self) -> crate::error::ExitStatus {
        crate::error::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::NotFound { .. } => {
                Some("run `kamal-dev init` to create one, or pass another file with -c PATH".into())
            }
            ConfigError::Empty { .. } => Some(
                "a config needs at least `service:`; run `kamal-dev init` for a commented example"
                    .into(),
            ),
            ConfigError::TooLarge { .. } | ConfigError::NotText { .. } => {
                Some("check that -c points at config/dev.yml".into())
            }
            ConfigError::Invalid { hint, .. } | ConfigError::Missing { hint, .. } => hint.clone(),
            ConfigError::Read { .. } => None,
        }
    }
}

impl Config {
    /// Load `path`, deep-merge `config/dev.<destination>.yml` (next to it) over it when a
    /// destination is given, and validate the result.
    pub fn load(path: &Path, destination: Option<&str>) -> Result<Config, ConfigError> {
        let base_text = read_text(path)?;
        let mut raw = raw::parse(&base_text, &path.display().to_string())?;
        if let Some(destination) = destination {
            let overlay_path = destination_path(path, destination);
            let overlay_text = read_text(&overlay_path)?;
            let overlay = raw::parse(&overlay_text, &overlay_path.display().to_string())?;
            raw.merge(overlay);
        }
        raw.validate(path)
    }

    /// Parse one config text (no overlay); `path` is used in messages only.
    pub fn from_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let display = path.display().to_string();
        if text.trim().is_empty() {
            return Err(ConfigError::Empty { path: display });
        }
        raw::parse(text, &display)?.validate(path)
    }

    /// The workspace names for `count` workspaces, in order.
    pub fn workspace_names(&self, count: u32) -> Vec<String> {
        (1..=count)
            .map(|index| self.naming.name(&self.service, index))
            .collect()
    }
}

/// `config/dev.yml` + `staging` -> `config/dev.staging.yml`.
pub fn destination_path(path: &Path, destination: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "dev".to_string(), |s| s.to_string_lossy().into_owned());
    let ext = path
        .extension()
        .map_or_else(|| "yml".to_string(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.{destination}.{ext}"))
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    let display = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::NotFound {
                path: display.clone(),
            }
        } else {
            ConfigError::Read {
                path: display.clone(),
                source,
            }
        }
    })?;
    if metadata.len() > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: display,
            size: metadata.len(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: display.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|err| ConfigError::NotText {
        path: display.clone(),
        offset: err.utf8_error().valid_up_to(),
    })?;
    if let Some(offset) = text.find('\0') {
        return Err(ConfigError::NotText {
            path: display,
            offset,
        });
    }
    if text.trim().is_empty() {
        return Err(ConfigError::Empty { path: display });
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
