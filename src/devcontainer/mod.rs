//! devcontainer.json, read the way the reference Dev Containers CLI reads it: discovery,
//! JSONC, legacy migration, variable substitution, the workspace mount and folder, image
//! metadata merge, local Features and the `docker build` / `docker run` arguments `up` uses.
//!
//! Only `load` (reading the config, Dockerfile and Feature files) touches the file system;
//! everything else is pure. Nothing here prints, runs docker or reaches the network.

pub mod dockerfile;
pub mod features;
pub mod hostreq;
pub mod jsonc;
pub mod lifecycle;
pub mod load;
pub mod merged;
pub mod metadata;
pub mod migrate;
pub mod model;
pub mod paths;
pub mod substitute;
pub mod up;
pub mod workspace;

use std::path::PathBuf;

use crate::error::{ExitStatus, UserFacing};

pub use load::{Loaded, load};
pub use model::DevContainer;

/// Everything that can go wrong reading a dev container configuration. All are
/// configuration problems (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DevcontainerError {
    #[error("Dev container config ({path}) not found.")]
    NotFound { path: PathBuf },
    #[error("{path}: filename must be devcontainer.json or .devcontainer.json")]
    BadFileName { path: PathBuf },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("Dev container config ({path}) must contain a JSON object literal.")]
    NotAnObject { path: PathBuf },
    #[error("{path}: {message}")]
    Substitution { path: PathBuf, message: String },
    #[error(
        "Dev container config ({path}) is missing one of \"image\", \"dockerFile\" or \"dockerComposeFile\" properties."
    )]
    MissingKind { path: PathBuf },
    #[error("{path}: Docker Compose configurations are not supported by this command yet")]
    ComposeUnsupported { path: PathBuf },
    #[error("Dockerfile ({path}) not found.")]
    DockerfileNotFound { path: PathBuf },
    #[error("{path}: {message}")]
    Dockerfile { path: PathBuf, message: String },
    #[error("Feature '{id}': {message}")]
    Feature { id: String, message: String },
    /// A registry Feature that is not in the download cache (`kamal-dev deploy` fetches it).
    #[error("Feature '{id}' is not downloaded yet")]
    NotDownloaded { id: String },
}

impl UserFacing for DevcontainerError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            DevcontainerError::NotFound { .. } => Some(
                "create .devcontainer/devcontainer.json, or pass --config for a file in .devcontainer/<name>/".to_string(),
            ),
            DevcontainerError::Syntax { .. } | DevcontainerError::NotAnObject { .. } => {
                Some("fix the JSON at that position; comments and trailing commas are fine".to_string())
            }
            DevcontainerError::Feature { .. } => Some(
                "use a local Feature (\"./name\" folder next to devcontainer.json) or a registry Feature (ghcr.io/devcontainers/features/node:1)".to_string(),
            ),
            DevcontainerError::NotDownloaded { .. } => Some(
                "`kamal-dev deploy` downloads registry Features; run it (or `kamal-dev deploy --dry-run`) first".to_string(),
            ),
            _ => None,
        }
    }
}
