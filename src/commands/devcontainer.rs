//! `kamal-dev devcontainer ...`: read a devcontainer.json the way the reference Dev
//! Containers CLI does, and show the docker argv it would produce.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Context;
use crate::devcontainer;
use crate::error::{Error, ExitStatus};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resolved configuration as JSON (like `devcontainer read-configuration`)
    ReadConfiguration(FolderArgs),
    /// Print the docker build and run argument lists `devcontainer up` would use, as JSON
    /// (for an unlabelled base image that runs as root with `CMD ["/bin/sh"]`, no GPU)
    RunArgs(FolderArgs),
}

#[derive(Debug, Args)]
pub struct FolderArgs {
    /// The workspace folder (the project checkout)
    #[arg(long, value_name = "DIR")]
    pub workspace_folder: PathBuf,
}

/// The devcontainer.json named by the global `--config`, if it names one. The global flag
/// doubles as `--config FILE` here (clap cannot have both); its default, config/dev.yml,
/// means "discover".
fn devcontainer_config(ctx: &Context) -> Result<Option<PathBuf>, Error> {
    let path = &ctx.global.config;
    if path.as_os_str() == "config/dev.yml" {
        return Ok(None);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name == "devcontainer.json" || name == ".devcontainer.json" {
        Ok(Some(path.clone()))
    } else {
        Err(devcontainer::DevcontainerError::BadFileName { path: path.clone() }.into())
    }
}

/// The host environment, for `${localEnv:...}`.
fn host_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(ctx: &Context, command: Command) -> Result<ExitStatus, Error> {
    match command {
        Command::ReadConfiguration(args) => {
            let env = host_env();
            let config = devcontainer_config(ctx)?;
            let loaded = devcontainer::load(&args.workspace_folder, config.as_deref(), &env)?;
            ctx.printer.data(loaded.read_configuration_json());
            Ok(ExitStatus::Success)
        }
        Command::RunArgs(args) => {
            let env = host_env();
            let config = devcontainer_config(ctx)?;
            let loaded = devcontainer::load(&args.workspace_folder, config.as_deref(), &env)?;
            ctx.printer.data(run_args_json(&loaded, &env)?);
            Ok(ExitStatus::Success)
        }
    }
}

/// The `run-args` JSON: build and run argv plus the generated Dockerfiles.
fn run_args_json(
    loaded: &devcontainer::Loaded,
    env: &BTreeMap<String, String>,
) -> Result<serde_json::Value, Error> {
    use devcontainer::model::Kind;
    use devcontainer::up::{self, ImageFacts, UpInputs};

    let dc = devcontainer::DevContainer::from_json(&loaded.config);
    let config_folder = loaded.config_folder();
    let dockerfile_text = match &dc.kind {
        Kind::Dockerfile { dockerfile, .. } => {
            let path = devcontainer::paths::resolve_posix(&config_folder, dockerfile);
            if !std::path::Path::new(&path).is_file() {
                return Err(devcontainer::DevcontainerError::DockerfileNotFound {
                    path: path.into(),
                }
                .into());
            }
            Some(devcontainer::load::read_text(&path)?)
        }
        _ => None,
    };
    let features = if matches!(dc.kind, Kind::Image(_) | Kind::Dockerfile { .. }) {
        devcontainer::features::resolve(
            &dc.features,
            &dc.override_feature_install_order,
            &config_folder,
            &loaded.workspace_folder,
            devcontainer::load::read_text,
        )?
    } else {
        Vec::new()
    };
    let id = devcontainer::substitute::devcontainer_id(&up::id_labels(loaded));
    let tmp = std::env::temp_dir().join("kamal-dev-devcontainer");
    let features_folder = tmp.join("container-features").join(&id);
    let empty_folder = tmp.join("empty-folder");
    // run-args cannot inspect the image: it describes an unlabelled image running as root.
    let image = ImageFacts::unlabelled_root();
    let plan = up::plan(&UpInputs {
        loaded,
        env,
        dockerfile_text: dockerfile_text.as_deref(),
        features: &features,
        image: &image,
        features_folder: &features_folder.to_string_lossy(),
        empty_folder: &empty_folder.to_string_lossy(),
    })?;
    let dockerfiles: serde_json::Map<String, serde_json::Value> = plan
        .dockerfiles
        .into_iter()
        .map(|(path, content)| (path, serde_json::Value::String(content)))
        .collect();
    Ok(serde_json::json!({
        "build": plan.build,
        "run": plan.run,
        "dockerfiles": dockerfiles,
    }))
}
