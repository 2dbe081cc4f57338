//! The file-system side: find the config (`.devcontainer/devcontainer.json`, then
//! `.devcontainer.json`, or `--config`), read and parse it, find the git root, and read the
//! files a config names (Dockerfile, local Feature metadata). Everything it reads is handed
//! to the pure modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::DevcontainerError;
use super::jsonc::{self, Parsed};
use super::migrate::migrate_legacy;
use super::paths::normalize_posix;
use super::substitute::LocalVars;
use super::workspace::{WorkspaceConfig, apply_substituted, workspace_config};

/// A configuration read from disk, substituted with the local variables.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Absolute workspace folder.
    pub workspace_folder: String,
    /// Absolute path of the config file.
    pub config_file: String,
    /// The file after legacy migration, no variables substituted (the metadata label's source).
    pub raw: Map<String, Value>,
    /// The file after migration and local-variable substitution.
    pub config: Map<String, Value>,
    /// The resolved workspace folder and mount.
    pub workspace: WorkspaceConfig,
}

impl Loaded {
    /// `read-configuration`'s JSON: `configuration` (with `configFilePath`) and `workspace`.
    pub fn read_configuration_json(&self) -> Value {
        let configuration = self.config_with_path();
        let mut workspace = Map::new();
        if let Some(folder) = &self.workspace.workspace_folder {
            workspace.insert("workspaceFolder".to_string(), folder.clone());
        }
        if let Some(mount) = &self.workspace.workspace_mount {
            workspace.insert("workspaceMount".to_string(), mount.clone());
        }
        json!({"configuration": configuration, "workspace": workspace})
    }

    /// The substituted config plus `configFilePath` (the reference's serialized URI).
    pub fn config_with_path(&self) -> Map<String, Value> {
        let mut configuration = self.config.clone();
        configuration.insert(
            "configFilePath".to_string(),
            json!({
                "$mid": 1,
                "fsPath": self.config_file,
                "path": self.config_file,
                "scheme": "vscode-fileHost",
            }),
        );
        configuration
    }

    /// The folder that holds the config file; relative paths in the file resolve against it.
    pub fn config_folder(&self) -> String {
        super::paths::dirname_posix(&self.config_file)
    }
}

fn absolute(path: &Path) -> String {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
    };
    normalize_posix(&joined.to_string_lossy())
}

/// Find the config file for a workspace folder, as the reference does.
pub fn discover(workspace: &str, config: Option<&Path>) -> Result<String, DevcontainerError> {
    if let Some(config) = config {
        let path = absolute(config);
        let name_ok = path.ends_with("/devcontainer.json") || path.ends_with("/.devcontainer.json");
        if !name_ok {
            return Err(DevcontainerError::BadFileName { path: path.into() });
        }
        if !Path::new(&path).is_file() {
            return Err(DevcontainerError::NotFound { path: path.into() });
        }
        return Ok(path);
    }
    let candidates = [
        format!("{workspace}/.devcontainer/devcontainer.json"),
        format!("{workspace}/.devcontainer.json"),
    ];
    for candidate in &candidates {
        if Path::new(candidate).is_file() {
            return Ok(normalize_posix(candidate));
        }
    }
    Err(DevcontainerError::NotFound {
        path: normalize_posix(&candidates[0]).into(),
    })
}

/// The nearest folder at or above `start` holding `.git`, like `git rev-parse --show-cdup`.
pub fn git_root(start: &str) -> Option<String> {
    let mut current = PathBuf::from(start);
    loop {
        if current.join(".git").exists() {
            return Some(normalize_posix(&current.to_string_lossy()));
        }
        if !current.pop() {
            return None;
        }
    }
}

/// Read a file as text.
pub fn read_text(path: &str) -> Result<String, DevcontainerError> {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .map_err(|source| DevcontainerError::Read {
            path: path.into(),
            source,
        })
}

/// Parse config text (JSONC) into a migrated object, with file/line/column errors.
pub fn parse_config(path: &str, text: &str) -> Result<Map<String, Value>, DevcontainerError> {
    match jsonc::parse_object(text) {
        Ok(Parsed::Object(mut map)) => {
            migrate_legacy(&mut map);
            Ok(map)
        }
        Ok(Parsed::NotAnObject) => Err(DevcontainerError::NotAnObject { path: path.into() }),
        Err(err) => Err(DevcontainerError::Syntax {
            path: path.into(),
            line: err.line,
            column: err.column,
            message: err.message,
        }),
    }
}

/// Load the configuration for `workspace_folder` (and an optional explicit config file),
/// substituting local variables from `env`.
pub fn load(
    workspace_folder: &Path,
    config_file: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Loaded, DevcontainerError> {
    let workspace = absolute(workspace_folder);
    let config_path = discover(&workspace, config_file)?;
    let text = read_text(&config_path)?;
    let raw = parse_config(&config_path, &text)?;
    let mount_root = git_root(&workspace).unwrap_or_else(|| workspace.clone());
    let raw_workspace = workspace_config(&raw, Path::new(&workspace), Path::new(&mount_root));
    let container_folder = raw_workspace
        .workspace_folder
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_string);
    let file_name = super::paths::basename_posix(&config_path).to_string();
    let vars = LocalVars {
        env,
        local_workspace_folder: Some(&workspace),
        container_workspace_folder: container_folder.as_deref(),
        config_file_name: &file_name,
    };
    let substituted = vars
        .substitute(&Value::Object(raw.clone()))
        .map_err(|err| DevcontainerError::Substitution {
            path: config_path.clone().into(),
            message: err.to_string(),
        })?;
    let config = match substituted {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let workspace_cfg = apply_substituted(raw_workspace, &config);
    Ok(Loaded {
        workspace_folder: workspace,
        config_file: config_path,
        raw,
        config,
        workspace: workspace_cfg,
    })
}

/// The files an image or Dockerfile config names beyond itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildFiles {
    /// The Dockerfile's text, for Dockerfile configs.
    pub dockerfile_text: Option<String>,
    /// Local Features in install order.
    pub features: Vec<super::features::ResolvedFeature>,
}

/// Read the Dockerfile and resolve the Features (registry ones from `downloaded`) (compose and attach configs have none
/// to read here).
pub fn build_files(
    loaded: &Loaded,
    downloaded: super::features::Downloaded<'_>,
) -> Result<BuildFiles, DevcontainerError> {
    use super::model::{DevContainer, Kind};

    let dc = DevContainer::from_json(&loaded.config);
    let config_folder = loaded.config_folder();
    let dockerfile_text = match &dc.kind {
        Kind::Dockerfile { dockerfile, .. } => {
            let path = super::paths::resolve_posix(&config_folder, dockerfile);
            if !Path::new(&path).is_file() {
                return Err(DevcontainerError::DockerfileNotFound { path: path.into() });
            }
            Some(read_text(&path)?)
        }
        _ => None,
    };
    let features = if matches!(dc.kind, Kind::Image(_) | Kind::Dockerfile { .. }) {
        super::features::resolve(
            &dc.features,
            &dc.override_feature_install_order,
            &config_folder,
            &loaded.workspace_folder,
            downloaded,
            read_text,
        )?
    } else {
        Vec::new()
    };
    Ok(BuildFiles {
        dockerfile_text,
        features,
    })
}
