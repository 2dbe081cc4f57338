//! What can go wrong reading or injecting secrets, and the warnings returned as data. No
//! variant ever holds a secret value: keys, paths, line numbers and (redacted) stderr only.

use std::fmt;
use std::path::PathBuf;

use crate::error::{ExitStatus, UserFacing};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("could not read secrets file {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("secrets file {} is not valid UTF-8", path.display())]
    NotUtf8 { path: PathBuf },

    #[error("{}:{line}: `export {key}` has no value and {key} is not set earlier in the file", path.display())]
    ExportUnset {
        path: PathBuf,
        line: usize,
        key: String,
    },

    #[error("secret {key} is listed in {} but not found", listed_in.display())]
    NotFound {
        key: String,
        listed_in: PathBuf,
        #[source]
        searched: Searched,
    },

    #[error("the command for secret {key} ({}:{line}) failed with {status}", path.display())]
    CommandFailed {
        key: String,
        path: PathBuf,
        line: usize,
        status: String,
        /// Already redacted of every value known when it failed.
        #[source]
        stderr: CommandStderr,
    },

    #[error("could not run the command for secret {key} ({}:{line}) through sh", path.display())]
    CommandSpawn {
        key: String,
        path: PathBuf,
        line: usize,
        #[source]
        source: std::io::Error,
    },

    #[error("the command for secret {key} ({}:{line}) printed bytes that are not UTF-8", path.display())]
    CommandOutputNotUtf8 {
        key: String,
        path: PathBuf,
        line: usize,
    },

    #[error("secret {key} ({}:{line}): {reason}", path.display())]
    KamalSecretsCommand {
        key: String,
        path: PathBuf,
        line: usize,
        reason: String,
    },

    #[error("secret {key} ({}:{line}) refers to other keys too deeply (more than {limit} levels)", path.display())]
    TooDeep {
        key: String,
        path: PathBuf,
        line: usize,
        limit: usize,
    },

    #[error("secret {key} cannot be written to a Docker env file: {reason}")]
    NotRepresentable { key: String, reason: String },
}

impl UserFacing for SecretsError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SecretsError::Read { .. }
            | SecretsError::CommandFailed { .. }
            | SecretsError::CommandSpawn { .. } => ExitStatus::Failure,
            _ => ExitStatus::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            SecretsError::NotFound { key, searched, .. } => {
                let file = searched.files.last().map_or_else(
                    || ".kamal/secrets".to_string(),
                    |p| p.display().to_string(),
                );
                Some(format!(
                    "add {key}=... to {file}, or remove {key} from the `secrets:` list"
                ))
            }
            SecretsError::ExportUnset { key, .. } => {
                Some(format!("write `export {key}=value`, or define {key} on an earlier line"))
            }
            SecretsError::KamalSecretsCommand { .. } => Some(
                "use `kamal secrets fetch` then `kamal secrets extract NAME $SECRETS`, or call the vault's own CLI in the $(...)"
                    .to_string(),
            ),
            SecretsError::CommandFailed { .. } => Some(
                "run the command by hand to see why it fails; kamal-dev stops rather than inject a wrong value"
                    .to_string(),
            ),
            _ => None,
        }
    }
}

/// The files a lookup searched, shown as the "caused by" line of [`SecretsError::NotFound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Searched {
    /// Every file that could have held the key, in the order read.
    pub files: Vec<PathBuf>,
    /// Whether at least one of them exists.
    pub any_exists: bool,
}

impl fmt::Display for Searched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = join_paths(&self.files);
        if self.any_exists {
            write!(f, "looked in {list}")
        } else {
            write!(f, "no secrets file exists; expected {list}")
        }
    }
}

impl std::error::Error for Searched {}

/// A failed command's stderr, trimmed and redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStderr(pub String);

impl fmt::Display for CommandStderr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("the command printed nothing on stderr")
        } else {
            write!(f, "stderr: {}", self.0)
        }
    }
}

impl std::error::Error for CommandStderr {}

/// Something the user should know that does not stop the run. Returned as data; the command
/// layer prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsWarning {
    /// A secrets file others can read or write.
    LoosePermissions { path: PathBuf, mode: u32 },
    /// Provider credentials listed under `secrets:` that were not injected.
    ProviderCredentialsSkipped { keys: Vec<String> },
    /// A value with a line break, injected as `KEY_B64` only.
    Base64Only { key: String },
}

impl fmt::Display for SecretsWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsWarning::LoosePermissions { path, mode } => write!(
                f,
                "secrets file {} is readable or writable by group or others (mode {mode:04o}); fix with: chmod 600 {}",
                path.display(),
                path.display()
            ),
            SecretsWarning::ProviderCredentialsSkipped { keys } => write!(
                f,
                "not injecting provider credentials into workspaces: {} (listed under `secrets:`; the provider reads them itself)",
                keys.join(", ")
            ),
            SecretsWarning::Base64Only { key } => write!(
                f,
                "secret {key} contains a line break, which a Docker env file cannot carry; it is available in the workspace as {key}_B64 only"
            ),
        }
    }
}

pub(super) fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
