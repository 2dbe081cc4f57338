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
    ReadConfiguration(ReadArgs),
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

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub folder: FolderArgs,

    /// Also print `mergedConfiguration`: the config merged with its local Features' metadata
    /// (the base image is taken to carry no metadata label)
    #[arg(long)]
    pub include_merged_configuration: bool,
}

/// The devcontainer.json named by the global `--config`, if the user gave one. The global
/// flag doubles as `--config FILE` here (clap cannot have both); without it, discover.
fn devcontainer_config(ctx: &Context) -> Result<Option<PathBuf>, Error> {
    let Some(path) = &ctx.global.config else {
        return Ok(None);
    };
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
            let loaded =
                devcontainer::load(&args.folder.workspace_folder, config.as_deref(), &env)?;
            let mut output = loaded.read_configuration_json();
            if args.include_merged_configuration {
                let planned = Planned::new(&loaded)?;
                let merged =
                    devcontainer::up::merged_configuration(&planned.inputs(&loaded, &env))?;
                output["mergedConfiguration"] = serde_json::Value::Object(merged);
            }
            ctx.printer.data(output);
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

/// What planning needs from disk: the Dockerfile text and the resolved local Features.
struct Planned {
    dockerfile_text: Option<String>,
    features: Vec<devcontainer::features::ResolvedFeature>,
    features_folder: String,
    empty_folder: String,
    // run-args cannot inspect the image: it describes an unlabelled image running as root.
    image: devcontainer::up::ImageFacts,
}

impl Planned {
    fn new(loaded: &devcontainer::Loaded) -> Result<Planned, Error> {
        let devcontainer::load::BuildFiles {
            dockerfile_text,
            features,
        } = devcontainer::load::build_files(loaded, &crate::registry::downloaded)?;
        let id = devcontainer::substitute::devcontainer_id(&devcontainer::up::id_labels(loaded));
        let tmp = std::env::temp_dir().join("kamal-dev-devcontainer");
        Ok(Planned {
            dockerfile_text,
            features,
            features_folder: tmp
                .join("container-features")
                .join(&id)
                .to_string_lossy()
                .into_owned(),
            empty_folder: tmp.join("empty-folder").to_string_lossy().into_owned(),
            image: devcontainer::up::ImageFacts::unlabelled_root(),
        })
    }

    fn inputs<'a>(
        &'a self,
        loaded: &'a devcontainer::Loaded,
        env: &'a BTreeMap<String, String>,
    ) -> devcontainer::up::UpInputs<'a> {
        devcontainer::up::UpInputs {
            loaded,
            env,
            dockerfile_text: self.dockerfile_text.as_deref(),
            features: &self.features,
            image: &self.image,
            features_folder: &self.features_folder,
            empty_folder: &self.empty_folder,
        }
    }
}

/// The `run-args` JSON: build and run argv plus the generated Dockerfiles.
fn run_args_json(
    loaded: &devcontainer::Loaded,
    env: &BTreeMap<String, String>,
) -> Result<serde_json::Value, Error> {
    let planned = Planned::new(loaded)?;
    let plan = devcontainer::up::plan(&planned.inputs(loaded, env))?;
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
