//! Resolve the command line, config/dev.yml (with its destination overlay) and the
//! environment into one validated [`Settings`]. Pure apart from reading the config files.

use crate::cli::GlobalArgs;
use crate::config::{Config, ConfigError};

/// Everything a command needs to know, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub destination: Option<String>,
}

impl Settings {
    pub fn resolve(global: &GlobalArgs) -> Result<Settings, ConfigError> {
        let config = Config::load(&global.config_path(), global.destination.as_deref())?;
        Ok(Settings {
            config,
            destination: global.destination.clone(),
        })
    }
}
