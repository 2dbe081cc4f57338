//! The image side of `up`: the `docker build` calls and the generated Dockerfiles for an
//! image config with Features, or a Dockerfile config with or without Features. Pure.

use super::{FeatureContent, UpInputs};
use crate::devcontainer::DevcontainerError;
use crate::devcontainer::dockerfile::{
    self, AUTO_STAGE, BUILD_CONTENT_DOCKERFILE, CONTENT_IMAGE, TARGET_STAGE,
};
use crate::devcontainer::metadata::Merged;
use crate::devcontainer::model::DevContainer;
use crate::devcontainer::paths::{dirname_posix, resolve_posix};

/// The image to run, the build calls and generated files that produce it, and labels for
/// the container.
#[derive(Default)]
pub(super) struct Built {
    pub(super) image: String,
    pub(super) build: Vec<Vec<String>>,
    pub(super) dockerfiles: Vec<(String, String)>,
    pub(super) container_labels: Vec<String>,
    pub(super) feature_content: Option<FeatureContent>,
}

pub(super) struct BuildContext<'a> {
    pub(super) inputs: &'a UpInputs<'a>,
    pub(super) dc: &'a DevContainer,
    pub(super) merged: &'a Merged,
    pub(super) label_line: String,
    pub(super) base_name: String,
}

impl BuildContext<'_> {
    fn content_path(&self) -> String {
        format!("{}/Dockerfile.buildContent", self.inputs.features_folder)
    }

    /// The helper image with the Features' files (classic builder), and what its context
    /// holds: each Feature's folder under its consecutive id with its option variables and
    /// install wrapper, and the built-in user variables.
    fn push_content_build(&self, built: &mut Built, image_user: &str) {
        let (container_user, remote_user) = self.feature_users(image_user);
        let mut content = FeatureContent {
            folder: self.inputs.features_folder.to_string(),
            trees: Vec::new(),
            files: vec![(
                "devcontainer-features.builtin.env".to_string(),
                format!("_CONTAINER_USER={container_user}\n_REMOTE_USER={remote_user}\n"),
            )],
        };
        for feature in self.inputs.features {
            let id = &feature.consecutive_id;
            content.trees.push((feature.path.clone(), id.clone()));
            let mut env = feature.env_lines().join("\n");
            env.push('\n');
            content
                .files
                .push((format!("{id}/devcontainer-features.env"), env));
            content.files.push((
                format!("{id}/devcontainer-features-install.sh"),
                feature.install_wrapper(),
            ));
        }
        built.feature_content = Some(content);
        built.build.push(vec![
            "build".to_string(),
            "-t".to_string(),
            CONTENT_IMAGE.to_string(),
            "-f".to_string(),
            self.content_path(),
            self.inputs.features_folder.to_string(),
        ]);
        built
            .dockerfiles
            .push((self.content_path(), BUILD_CONTENT_DOCKERFILE.to_string()));
    }

    /// (containerUser, remoteUser) for the Feature install layers.
    fn feature_users(&self, image_user: &str) -> (String, String) {
        let container_user = self
            .merged
            .container_user
            .clone()
            .unwrap_or_else(|| image_user.to_string());
        let remote_user = self
            .merged
            .remote_user
            .clone()
            .unwrap_or_else(|| container_user.clone());
        (container_user, remote_user)
    }

    fn features_block(&self, image_user: &str) -> String {
        let (container_user, remote_user) = self.feature_users(image_user);
        dockerfile::features_block(
            self.inputs.features,
            &container_user,
            &remote_user,
            &self.label_line,
            &self.dc.container_env,
        )
    }

    pub(super) fn image_with_features(&self, image: &str) -> Built {
        let mut built = Built::default();
        let image_user = self.inputs.image.user_or_root();
        let content = format!(
            "{}{}",
            dockerfile::features_prefix(None),
            self.features_block(&image_user)
        );
        let name = if image.starts_with(&self.base_name) {
            format!("{image}-features")
        } else {
            format!("{}-features", self.base_name)
        };
        let extended_path = format!("{}/Dockerfile.extended", self.inputs.features_folder);
        self.push_content_build(&mut built, &image_user);
        built.build.push(
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
                self.inputs.empty_folder,
            ]
            .map(str::to_string)
            .to_vec(),
        );
        built.dockerfiles.push((extended_path, content));
        built.image = name;
        built
    }

    pub(super) fn dockerfile(
        &self,
        file: &str,
        build_context: Option<&String>,
    ) -> Result<Built, DevcontainerError> {
        let mut built = Built::default();
        let config_folder = self.inputs.loaded.config_folder();
        let dockerfile_path = resolve_posix(&config_folder, file);
        let Some(text) = self.inputs.dockerfile_text else {
            return Err(DevcontainerError::DockerfileNotFound {
                path: dockerfile_path.into(),
            });
        };
        let (stage, modified) = match &self.dc.build_target {
            Some(target) => (target.clone(), None),
            None => dockerfile::name_last_stage(text, AUTO_STAGE).map_err(|message| {
                DevcontainerError::Dockerfile {
                    path: dockerfile_path.clone().into(),
                    message,
                }
            })?,
        };
        let user_file = modified.as_deref().unwrap_or(text);
        let syntax = dockerfile::syntax_directive(text);
        let with_features = format!("{}/Dockerfile-with-features", self.inputs.features_folder);
        let mut stage_args = vec![("_DEV_CONTAINERS_BASE_IMAGE".to_string(), stage)];
        let content = if self.inputs.features.is_empty() {
            dockerfile::without_features(user_file, syntax.as_deref(), &self.label_line)
        } else {
            let image_user = dockerfile::effective_user(text, self.dc.build_target.as_deref())
                .unwrap_or_else(|| self.inputs.image.user_or_root());
            let block = self.features_block(&image_user);
            stage_args.push(("_DEV_CONTAINERS_IMAGE_USER".to_string(), image_user.clone()));
            stage_args.push((
                "_DEV_CONTAINERS_FEATURE_CONTENT_SOURCE".to_string(),
                CONTENT_IMAGE.to_string(),
            ));
            self.push_content_build(&mut built, &image_user);
            format!(
                "{}{}\n{block}",
                dockerfile::features_prefix(syntax.as_deref()),
                dockerfile::strip_syntax_line(user_file),
            )
        };
        let context_path = match build_context {
            Some(ctx) => resolve_posix(&config_folder, ctx),
            None => dirname_posix(&dockerfile_path),
        };
        let mut args = vec![
            "build".to_string(),
            "-f".to_string(),
            with_features.clone(),
            "-t".to_string(),
            self.base_name.clone(),
            "--target".to_string(),
            TARGET_STAGE.to_string(),
        ];
        for cache in &self.dc.cache_from {
            args.extend(["--cache-from".to_string(), cache.clone()]);
        }
        let build_arg = |(k, v): &(String, String)| ["--build-arg".to_string(), format!("{k}={v}")];
        args.extend(self.dc.build_args.iter().flat_map(build_arg));
        args.extend(self.dc.build_options.iter().cloned());
        args.extend(stage_args.iter().flat_map(build_arg));
        args.push(context_path);
        built.build.push(args);
        built.dockerfiles.push((with_features, content));
        built.image.clone_from(&self.base_name);
        Ok(built)
    }
}
