//! The state model (`.kamal/dev_state.yml`) and its store: the only code that touches the
//! state file, its lock files and its backup. Never prints, never calls a provider.
//!
//! - `model`: the data and the mutations the deploy workflow makes (record intent, then
//!   update after each step);
//! - `migrate`: text to [`State`] (schema version, seed-format migration, line/column errors);
//! - `lock`: the cross-process lock (flock on a never-replaced sidecar, `O_EXCL` dotlock
//!   fallback);
//! - `store`: [`StateStore::read`] and [`StateStore::update`] with atomic replace and backup.

mod lock;
mod migrate;
mod model;
mod store;

pub use lock::{Holder, LockMode};
pub use migrate::{parse, render};
pub use model::{
    Machine, MachineIntent, MachineStatus, ModelError, PortMapping, Price, SCHEMA_VERSION, State,
    Workspace, WorkspaceStatus,
};
pub use store::{DEFAULT_PATH, DEFAULT_TIMEOUT, StateStore};

use crate::error::{ExitStatus, UserFacing};

/// Everything that can go wrong reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path} is locked by {}", holder_text(holder.as_deref()))]
    Locked {
        path: String,
        /// The lock file to delete if its holder is gone.
        lock_file: String,
        holder: Option<Box<Holder>>,
    },

    #[error("{path}:{line}:{column}: {message}")]
    Corrupt {
        path: String,
        line: u64,
        column: u64,
        message: String,
    },

    #[error(
        "{path} has schema version {found}, but this kamal-dev reads up to version {SCHEMA_VERSION}"
    )]
    NewerVersion { path: String, found: u64 },

    #[error("{path}: cannot migrate deployment {workspace}: {message}")]
    Migration {
        path: String,
        workspace: String,
        message: String,
    },

    #[error("could not {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not serialize the state: {0}")]
    Serialize(String),

    #[error("KAMAL_DEV_LOCK={0:?} is not a lock mode")]
    BadLockMode(String),
}

impl StateError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        StateError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    }
}

fn holder_text(holder: Option<&Holder>) -> String {
    holder.map_or_else(
        || "another process (it did not record which)".to_string(),
        Holder::describe,
    )
}

impl UserFacing for StateError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            StateError::Corrupt { .. }
            | StateError::NewerVersion { .. }
            | StateError::Migration { .. }
            | StateError::BadLockMode(_) => ExitStatus::Usage,
            StateError::Locked { .. } | StateError::Io { .. } | StateError::Serialize(_) => {
                ExitStatus::Failure
            }
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            StateError::Locked { lock_file, .. } => Some(format!(
                "wait for it to finish, or if that process is gone, delete {lock_file}"
            )),
            StateError::Corrupt { path, .. } | StateError::Migration { path, .. } => Some(format!(
                "kamal-dev did not change the file; fix it by hand, or restore the previous version from {path}.bak"
            )),
            StateError::NewerVersion { .. } => {
                Some("upgrade kamal-dev; this file was written by a newer version".into())
            }
            StateError::BadLockMode(_) => {
                Some("use KAMAL_DEV_LOCK=auto, flock or dotlock, or unset it".into())
            }
            StateError::Io { .. } | StateError::Serialize(_) => None,
        }
    }
}
