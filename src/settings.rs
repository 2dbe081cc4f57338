//! Resolve the command line, config/dev.yml (with its destination overlay) and the
//! environment into one validated [`Settings`]. Pure apart from reading the config files.

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::config::{Config, ConfigError};

/// Everything a command needs to know, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub destination: Option<String>,
    /// The project folder: the one holding `config/` (relative paths in the config, the
    /// secrets files and the state file are under it).
    pub project_root: PathBuf,
    /// The config file, absolute (so a command written for later, such as the
    /// `ProxyCommand` in `.kamal/ssh_config`, finds it from any folder).
    pub config_path: PathBuf,
}

impl Settings {
    pub fn resolve(global: &GlobalArgs) -> Result<Settings, ConfigError> {
        let path = global.config_path();
        let config = Config::load(&path, global.destination.as_deref())?;
        Ok(Settings {
            project_root: project_root(&path),
            config_path: std::path::absolute(&path).unwrap_or(path),
            config,
            destination: global.destination.clone(),
        })
    }
}

/// `config/dev.yml` -> the folder that holds `config/` (or the config's own folder when it is
/// not in one named `config`).
pub fn project_root(config_path: &Path) -> PathBuf {
    let parent = config_path.parent().unwrap_or(Path::new(""));
    let root = if parent.file_name().is_some_and(|n| n == "config") {
        parent.parent().unwrap_or(Path::new(""))
    } else {
        parent
    };
    let root = if root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        root
    };
    std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn project_root_is_above_config_folder() {
        let root = super::project_root(Path::new("/p/app/config/dev.yml"));
        assert_eq!(root, Path::new("/p/app"));
        let root = super::project_root(Path::new("/p/other.yml"));
        assert_eq!(root, Path::new("/p"));
    }
}
