//! The `docker build` and `docker run` argument lists the reference CLI's `devcontainer up`
//! issues for an image or Dockerfile config (classic builder, local engine), with the
//! Dockerfiles it generates. Pure: the config, the Dockerfile text, the resolved Features and
//! the facts about the base image come in; argv and file contents go out.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::DevcontainerError;
use super::dockerfile::{self, AUTO_STAGE, BUILD_CONTENT_DOCKERFILE, CONTENT_IMAGE, TARGET_STAGE};
use super::features::ResolvedFeature;
use super::load::Loaded;
use super::metadata::{self, Merged};
use super::migrate::js_truthy;
use super::model::{DevContainer, Kind, js_string};
use super::paths::{basename_posix, dirname_posix, resolve_posix};
use super::substitute::{self, LocalVars};

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
            ('_', Some(n)) if matches!(n, '.' | '-') => Some(2),
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
        match group_len {
            Some(len) => {
                out.extend(&chars[i..i + len - 1]);
                i += len;
                while chars.get(i).is_some_and(|&n| sep(n)) {
                    i += 1;
                }
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `vsc-<folder name>-<sha256 of the folder path>`.
pub fn image_base_name(workspace: &str) -> String {
    let hash = hex::encode(Sha256::digest(workspace.as_bytes()));
    sanitize_image_name(&format!("vsc-{}-{hash}", basename_posix(workspace)))
}

fn keep_alive_script(entrypoints: &[String]) -> String {
    format!(
        "echo Container started\ntrap \"exit 0\" 15\n{}\nexec \"$@\"\nwhile sleep 1 & wait $!; do :; done",
        entrypoints.join("\n")
    )
}

/// Build the plan.
pub fn plan(inputs: &UpInputs<'_>) -> Result<UpPlan, DevcontainerError> {
    let loaded = inputs.loaded;
    let config_path = || std::path::PathBuf::from(&loaded.config_file);
    let labels = id_labels(loaded);
    let id = substitute::devcontainer_id(&labels);
    let config =
        match substitute::substitute_devcontainer_id(&Value::Object(loaded.config.clone()), &id) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
    let dc = DevContainer::from_json(&config);
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

    // Metadata entries: raw for labels, substituted for the merge.
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
                path: config_path(),
                message: err.to_string(),
            })?;
        if let Value::Object(map) = substitute::substitute_devcontainer_id(&local, &id) {
            feature_config.push(map);
        }
    }
    let raw_entries = metadata::non_empty(
        inputs
            .image
            .metadata
            .iter()
            .cloned()
            .chain(feature_raw.iter().cloned())
            .chain([metadata::config_entry(&loaded.raw)])
            .collect(),
    );
    let config_entries = metadata::non_empty(
        inputs
            .image
            .metadata
            .iter()
            .cloned()
            .chain(feature_config)
            .chain([metadata::config_entry(&config)])
            .collect(),
    );
    let merged = metadata::merge(&config_entries);
    let base_name = image_base_name(&loaded.workspace_folder);
    let config_folder = loaded.config_folder();
    let has_features = !inputs.features.is_empty();
    let extended_path = format!("{}/Dockerfile.extended", inputs.features_folder);
    let content_path = format!("{}/Dockerfile.buildContent", inputs.features_folder);
    let content_build = vec![
        "build".to_string(),
        "-t".to_string(),
        CONTENT_IMAGE.to_string(),
        "-f".to_string(),
        content_path.clone(),
        inputs.features_folder.to_string(),
    ];
    let feature_users = |image_user: &str| {
        let container_user = merged
            .container_user
            .clone()
            .unwrap_or_else(|| image_user.to_string());
        let remote_user = merged
            .remote_user
            .clone()
            .unwrap_or_else(|| container_user.clone());
        (container_user, remote_user)
    };
    let label_line = metadata::dockerfile_label(&raw_entries);

    let mut build = Vec::new();
    let mut dockerfiles = Vec::new();
    let mut container_labels = Vec::new();
    let image = match &dc.kind {
        Kind::Image(image) if !has_features => {
            container_labels.push(format!(
                "devcontainer.metadata={}",
                metadata::label_value(&raw_entries)
            ));
            image.clone()
        }
        Kind::Image(image) => {
            let image_user = inputs.image.user_or_root();
            let (container_user, remote_user) = feature_users(&image_user);
            let content = format!(
                "{}{}",
                dockerfile::features_prefix(None),
                dockerfile::features_block(
                    inputs.features,
                    &container_user,
                    &remote_user,
                    &label_line,
                    &dc.container_env
                )
            );
            let name = if image.starts_with(&base_name) {
                format!("{image}-features")
            } else {
                format!("{base_name}-features")
            };
            build.push(content_build);
            dockerfiles.push((content_path, BUILD_CONTENT_DOCKERFILE.to_string()));
            build.push(
                [
                    "build",
                    "--build-arg",
                    &format!("_DEV_CONTAINERS_BASE_IMAGE={image}"),
                    "--build-arg",
                    &format!("_DEV_CONTAINERS_IMAGE_USER={image_user}"),
                    "--build-arg",
                    &format!("_DEV_CONTAINERS_FEATURE_CONTENT_SOURCE={CONTENT_IMAGE}"),
                    "--target",
                    TARGET_STAGE,
                    "-f",
                    &extended_path,
                    "-t",
                    &name,
                    inputs.empty_folder,
                ]
                .map(str::to_string)
                .to_vec(),
            );
            dockerfiles.push((extended_path, content));
            name
        }
        Kind::Dockerfile {
            dockerfile: file,
            context,
        } => {
            let dockerfile_path = resolve_posix(&config_folder, file);
            let Some(text) = inputs.dockerfile_text else {
                return Err(DevcontainerError::DockerfileNotFound {
                    path: dockerfile_path.into(),
                });
            };
            let dockerfile_err = |message: String| DevcontainerError::Dockerfile {
                path: dockerfile_path.clone().into(),
                message,
            };
            let (stage, modified) = match &dc.build_target {
                Some(target) => (target.clone(), None),
                None => dockerfile::name_last_stage(text, AUTO_STAGE).map_err(dockerfile_err)?,
            };
            let user_file = modified.as_deref().unwrap_or(text);
            let syntax = dockerfile::syntax_directive(text);
            let generated_path = format!("{}/Dockerfile-with-features", inputs.features_folder);
            let mut extra_args: Vec<(String, String)> =
                vec![("_DEV_CONTAINERS_BASE_IMAGE".to_string(), stage.clone())];
            let content = if has_features {
                let image_user = dockerfile::effective_user(text, dc.build_target.as_deref())
                    .unwrap_or_else(|| inputs.image.user_or_root());
                let (container_user, remote_user) = feature_users(&image_user);
                extra_args.push(("_DEV_CONTAINERS_IMAGE_USER".to_string(), image_user));
                extra_args.push((
                    "_DEV_CONTAINERS_FEATURE_CONTENT_SOURCE".to_string(),
                    CONTENT_IMAGE.to_string(),
                ));
                build.push(content_build);
                dockerfiles.push((content_path, BUILD_CONTENT_DOCKERFILE.to_string()));
                format!(
                    "{}{}\n{}",
                    dockerfile::features_prefix(syntax.as_deref()),
                    dockerfile::strip_syntax_line(user_file),
                    dockerfile::features_block(
                        inputs.features,
                        &container_user,
                        &remote_user,
                        &label_line,
                        &dc.container_env
                    )
                )
            } else {
                dockerfile::without_features(user_file, syntax.as_deref(), &label_line)
            };
            let context_path = match context {
                Some(ctx) => resolve_posix(&config_folder, ctx),
                None => dirname_posix(&dockerfile_path),
            };
            let mut args = vec![
                "build".to_string(),
                "-f".to_string(),
                generated_path.clone(),
                "-t".to_string(),
                base_name.clone(),
                "--target".to_string(),
                TARGET_STAGE.to_string(),
            ];
            for cache in &dc.cache_from {
                args.extend(["--cache-from".to_string(), cache.clone()]);
            }
            for (k, v) in &dc.build_args {
                args.extend(["--build-arg".to_string(), format!("{k}={v}")]);
            }
            args.extend(dc.build_options.iter().cloned());
            for (k, v) in extra_args {
                args.extend(["--build-arg".to_string(), format!("{k}={v}")]);
            }
            args.push(context_path);
            build.push(args);
            dockerfiles.push((generated_path, content));
            base_name.clone()
        }
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
    if let Some(mount) = loaded
        .workspace
        .workspace_mount
        .as_ref()
        .filter(|m| js_truthy(m))
    {
        run.extend(["--mount".to_string(), js_string(mount)]);
    }
    for mount in &merged.mounts {
        run.extend(["--mount".to_string(), mount.to_arg()]);
    }
    for (k, v) in &labels_in_reference_order(&labels) {
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
    for label in container_labels {
        run.extend(["-l".to_string(), label]);
    }
    run.push(image.clone());
    run.extend([
        "-c".to_string(),
        keep_alive_script(&merged.entrypoints),
        "-".to_string(),
    ]);
    if merged.override_command == Some(false) {
        run.extend(inputs.image.entrypoint.iter().cloned());
        run.extend(inputs.image.cmd.iter().cloned());
    }
    Ok(UpPlan {
        build,
        run,
        dockerfiles,
        image,
        devcontainer_id: id,
        merged,
    })
}

/// `local_folder` first, then `config_file`, as the reference passes them.
fn labels_in_reference_order(labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> =
        labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    out.sort_by_key(|(k, _)| k != "devcontainer.local_folder");
    out
}

#[cfg(test)]
mod tests;
