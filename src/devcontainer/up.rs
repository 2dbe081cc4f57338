//! The `docker build` and `docker run` argument lists the reference CLI's `devcontainer up`
//! issues for an image or Dockerfile config (classic builder, local engine), with the
//! Dockerfiles it generates. Pure: the config, the Dockerfile text, the resolved Features and
//! the facts about the base image come in; argv and file contents go out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::DevcontainerError;
use super::features::ResolvedFeature;
use super::load::Loaded;
use super::metadata::{self, Merged};
use super::migrate::js_truthy;
use super::model::{DevContainer, Kind, js_string};
use super::paths::basename_posix;
use super::substitute::{self, LocalVars};
use build::{BuildContext, Built};

/// What `docker inspect` says about the base image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFacts {
    /// `Config.User` ("" means root).
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// Entries of its `devcontainer.metadata` label.
    pub metadata: Vec<Map<String, Value>>,
}

impl ImageFacts {
    /// An image with no metadata label, running as root, no ENTRYPOINT and `CMD
    /// ["/bin/sh"]`: what `run-args` assumes when it cannot inspect the image.
    pub fn unlabelled_root() -> ImageFacts {
        ImageFacts {
            user: String::new(),
            entrypoint: Vec::new(),
            cmd: vec!["/bin/sh".to_string()],
            metadata: Vec::new(),
        }
    }

    fn user_or_root(&self) -> String {
        if self.user.is_empty() {
            "root".to_string()
        } else {
            self.user.clone()
        }
    }
}

/// Inputs of [`plan`].
pub struct UpInputs<'a> {
    pub loaded: &'a Loaded,
    pub env: &'a BTreeMap<String, String>,
    /// The Dockerfile's text, for Dockerfile configs.
    pub dockerfile_text: Option<&'a str>,
    /// Features in install order (see `features::resolve`).
    pub features: &'a [ResolvedFeature],
    pub image: &'a ImageFacts,
    /// Folder for generated Dockerfiles and Feature content.
    pub features_folder: &'a str,
    /// An empty folder used as build context for image configs with Features.
    pub empty_folder: &'a str,
}

/// What `up` would run.
#[derive(Debug, Clone, PartialEq)]
pub struct UpPlan {
    /// `docker build` argument lists (without `docker`), in order.
    pub build: Vec<Vec<String>>,
    /// The `docker run` argument list (without `docker`).
    pub run: Vec<String>,
    /// Generated Dockerfiles passed with `-f`, by path.
    pub dockerfiles: Vec<(String, String)>,
    /// The image `docker run` starts.
    pub image: String,
    pub devcontainer_id: String,
    /// The merged configuration the container runs with.
    pub merged: Merged,
    /// What the Features' content build reads as its context (`None` without Features).
    pub feature_content: Option<FeatureContent>,
}

/// The Features' build context: the folder the content build names, and what it holds.
/// Nothing is written there; a deploy streams this content to `docker build -`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureContent {
    /// The folder the build calls name as context (`<features_folder>`).
    pub folder: String,
    /// Feature folders copied whole: (absolute source folder, name in the context).
    pub trees: Vec<(String, String)>,
    /// Generated files: (name in the context, text).
    pub files: Vec<(String, String)>,
}

/// The id labels the reference puts on the container.
pub fn id_labels(loaded: &Loaded) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "devcontainer.local_folder".to_string(),
            loaded.workspace_folder.clone(),
        ),
        (
            "devcontainer.config_file".to_string(),
            loaded.config_file.clone(),
        ),
    ])
}

/// Docker's image-name sanitizing, as the reference applies it.
fn sanitize_image_name(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        .collect();
    let chars: Vec<char> = lower.chars().collect();
    let sep = |c: char| matches!(c, '.' | '_' | '-');
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let group_len = match (c, next) {
            ('.', Some(n)) if sep(n) => Some(2),
            ('_', Some('_')) if chars.get(i + 2).is_some_and(|&n| sep(n)) => Some(3),
            ('_', Some('.' | '-')) => Some(2),
            ('-', _) => {
                let mut j = i;
                while chars.get(j) == Some(&'-') {
                    j += 1;
                }
                chars
                    .get(j)
                    .filter(|&&n| matches!(n, '.' | '_'))
                    .map(|_| j + 1 - i)
            }
            _ => None,
        };
        if let Some(len) = group_len {
            out.extend(&chars[i..i + len - 1]);
            i += len;
            while chars.get(i).is_some_and(|&n| sep(n)) {
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `vsc-<folder name>-<sha256 of the folder path>`.
pub fn image_base_name(workspace: &str) -> String {
    let hash = hex::encode(Sha256::digest(workspace.as_bytes()));
    sanitize_image_name(&format!("vsc-{}-{hash}", basename_posix(workspace)))
}

/// The script the container runs as `/bin/sh -c <script> -`: announce, make `docker stop`
/// instant, run Feature entrypoints, exec the image command if one follows, else stay alive.
pub fn keep_alive_script(entrypoints: &[String]) -> String {
    format!(
        "echo Container started\ntrap \"exit 0\" 15\n{}\nexec \"$@\"\nwhile sleep 1 & wait $!; do :; done",
        entrypoints.join("\n")
    )
}

/// Metadata entries of base image, Features and devcontainer.json: raw (for labels) and
/// substituted (for the merge).
struct Entries {
    raw: Vec<Map<String, Value>>,
    config: Vec<Map<String, Value>>,
}

fn as_object(value: Value) -> Map<String, Value> {
    if let Value::Object(map) = value {
        map
    } else {
        Map::new()
    }
}

fn entries(
    inputs: &UpInputs<'_>,
    config: &Map<String, Value>,
    id: Option<&str>,
) -> Result<Entries, DevcontainerError> {
    let loaded = inputs.loaded;
    let file_name = basename_posix(&loaded.config_file).to_string();
    let container_folder = loaded
        .workspace
        .workspace_folder
        .as_ref()
        .and_then(Value::as_str)
        .map(str::to_string);
    let vars = LocalVars {
        env: inputs.env,
        local_workspace_folder: Some(&loaded.workspace_folder),
        container_workspace_folder: container_folder.as_deref(),
        config_file_name: &file_name,
    };
    let feature_raw: Vec<Map<String, Value>> = inputs
        .features
        .iter()
        .map(|f| metadata::feature_entry(&f.user_id, &f.metadata))
        .collect();
    let mut feature_config = Vec::new();
    for entry in &feature_raw {
        let local = vars
            .substitute(&Value::Object(entry.clone()))
            .map_err(|err| DevcontainerError::Substitution {
                path: loaded.config_file.clone().into(),
                message: err.to_string(),
            })?;
        let resolved = match id {
            Some(id) => substitute::substitute_devcontainer_id(&local, id),
            None => local,
        };
        feature_config.push(as_object(resolved));
    }
    let base = inputs.image.metadata.iter().cloned();
    Ok(Entries {
        raw: metadata::non_empty(
            base.clone()
                .chain(feature_raw)
                .chain([metadata::config_entry(&loaded.raw)])
                .collect(),
        ),
        config: metadata::non_empty(
            base.chain(feature_config)
                .chain([metadata::config_entry(config)])
                .collect(),
        ),
    })
}

fn run_argv(
    inputs: &UpInputs<'_>,
    dc: &DevContainer,
    merged: &Merged,
    labels: &BTreeMap<String, String>,
    built: &Built,
) -> Vec<String> {
    let mut run: Vec<String> = ["run", "--sig-proxy=false", "-a", "STDOUT", "-a", "STDERR"]
        .map(str::to_string)
        .to_vec();
    for port in &dc.app_port {
        let value = match port {
            Value::Number(n) => format!("127.0.0.1:{n}:{n}"),
            other => js_string(other),
        };
        run.extend(["-p".to_string(), value]);
    }
    let workspace_mount = inputs.loaded.workspace.workspace_mount.as_ref();
    if let Some(mount) = workspace_mount.filter(|m| js_truthy(m)) {
        run.extend(["--mount".to_string(), js_string(mount)]);
    }
    for mount in &merged.mounts {
        run.extend(["--mount".to_string(), mount.to_arg()]);
    }
    for (k, v) in &labels_in_reference_order(labels) {
        run.extend(["-l".to_string(), format!("{k}={v}")]);
    }
    for (k, v) in &merged.container_env {
        run.extend(["-e".to_string(), format!("{k}={v}")]);
    }
    if let Some(user) = &merged.container_user {
        run.extend(["-u".to_string(), user.clone()]);
    }
    run.extend(dc.run_args.iter().cloned());
    if merged.init {
        run.push("--init".to_string());
    }
    if merged.privileged {
        run.push("--privileged".to_string());
    }
    for cap in &merged.cap_add {
        run.extend(["--cap-add".to_string(), cap.clone()]);
    }
    for opt in &merged.security_opt {
        run.extend(["--security-opt".to_string(), opt.clone()]);
    }
    run.extend(["--entrypoint".to_string(), "/bin/sh".to_string()]);
    for label in &built.container_labels {
        run.extend(["-l".to_string(), label.clone()]);
    }
    run.push(built.image.clone());
    run.extend([
        "-c".to_string(),
        keep_alive_script(&merged.entrypoints),
        "-".to_string(),
    ]);
    if merged.override_command == Some(false) {
        run.extend(inputs.image.entrypoint.iter().cloned());
        run.extend(inputs.image.cmd.iter().cloned());
    }
    run
}

/// `mergedConfiguration` as `read-configuration --include-merged-configuration` prints it:
/// no container exists yet, so `${devcontainerId}` stays as written.
pub fn merged_configuration(
    inputs: &UpInputs<'_>,
) -> Result<Map<String, Value>, DevcontainerError> {
    let config = inputs.loaded.config_with_path();
    let entries = entries(inputs, &config, None)?;
    Ok(super::merged::merged_configuration(
        &config,
        &entries.config,
    ))
}

/// Build the plan.
pub fn plan(inputs: &UpInputs<'_>) -> Result<UpPlan, DevcontainerError> {
    let loaded = inputs.loaded;
    let config_path = || std::path::PathBuf::from(&loaded.config_file);
    let labels = id_labels(loaded);
    let id = substitute::devcontainer_id(&labels);
    let config = as_object(substitute::substitute_devcontainer_id(
        &Value::Object(loaded.config.clone()),
        &id,
    ));
    let dc = DevContainer::from_json(&config);
    let entries = entries(inputs, &config, Some(&id))?;
    let merged = metadata::merge(&entries.config);
    let ctx = BuildContext {
        inputs,
        dc: &dc,
        merged: &merged,
        label_line: metadata::dockerfile_label(&entries.raw),
        base_name: image_base_name(&loaded.workspace_folder),
    };
    let built = match &dc.kind {
        Kind::Image(image) if inputs.features.is_empty() => Built {
            image: image.clone(),
            container_labels: vec![format!(
                "devcontainer.metadata={}",
                metadata::label_value(&entries.raw)
            )],
            ..Built::default()
        },
        Kind::Image(image) => ctx.image_with_features(image),
        Kind::Dockerfile {
            dockerfile: file,
            context,
        } => ctx.dockerfile(file, context.as_ref())?,
        Kind::Compose { .. } => {
            return Err(DevcontainerError::ComposeUnsupported {
                path: config_path(),
            });
        }
        Kind::None => {
            return Err(DevcontainerError::MissingKind {
                path: config_path(),
            });
        }
    };
    let run = run_argv(inputs, &dc, &merged, &labels, &built);
    Ok(UpPlan {
        build: built.build,
        run,
        dockerfiles: built.dockerfiles,
        image: built.image,
        devcontainer_id: id,
        merged,
        feature_content: built.feature_content,
    })
}

/// `local_folder` first, then `config_file`, as the reference passes them.
fn labels_in_reference_order(labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    out.sort_by_key(|(k, _)| k != "devcontainer.local_folder");
    out
}

mod build;

#[cfg(test)]
mod tests;
