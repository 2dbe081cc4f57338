//! What runs in a workspace, as data: the image to pull or build, the `docker run` argv, the
//! lifecycle commands. Computed from the devcontainer (or a plain image) plus kamal-dev's own
//! settings (name, limits, env file, labels, published ports). Pure apart from loading (it
//! reads the devcontainer files, and `load_downloading` fetches registry Features through
//! `registry`); the apply step runs what this returns. How the image is built: `build.rs`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::config::{Config, ImageSource, Limits, Publish};
use crate::devcontainer::load::BuildFiles;
use crate::devcontainer::model::Kind;
use crate::devcontainer::up::{self, ImageFacts, UpInputs};
use crate::devcontainer::{self, DevContainer, Loaded};
use crate::docker::{self, ContainerConfig, ExecSpec, PublishedPort, RunSpec};
use crate::error::Error;

use super::build::{ImageStep, streamed_builds};
use super::fleet::{LABEL_MACHINE, LABEL_SERVICE, LABEL_WORKSPACE};

/// The devcontainer (or plain image) every workspace of this deploy runs.
pub enum Blueprint {
    Devcontainer {
        loaded: Box<Loaded>,
        files: BuildFiles,
        env: BTreeMap<String, String>,
    },
    Image(String),
}

/// Per-workspace settings kamal-dev adds to the devcontainer's own.
#[derive(Debug, Clone)]
pub struct WorkspaceInputs<'a> {
    pub name: &'a str,
    pub machine: &'a str,
    pub service: &'a str,
    pub env_file: Option<String>,
    /// The workspace folder on the machine (mounted into the container).
    pub host_dir: &'a str,
    /// The machine is this host: mount the project where the devcontainer says, as the
    /// reference CLI does, instead of the copy in `host_dir`.
    pub local: bool,
    pub publish: Publish,
    pub limits: Limits,
}

/// The container of one workspace, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceContainer {
    pub run: Vec<String>,
    /// Hook name -> the argvs to run inside the container, in order.
    pub lifecycle: Vec<(&'static str, Vec<Vec<String>>)>,
    /// The user lifecycle commands and shells run as (remoteUser, else containerUser).
    pub user: Option<String>,
    /// The workspace folder inside the container.
    pub workdir: String,
    /// Container ports published on the machine.
    pub ports: Vec<u16>,
}

impl WorkspaceContainer {
    /// `docker exec` argv for `command` as the workspace user in its folder.
    pub fn exec(&self, container: &str, command: Vec<String>, interactive: bool) -> Vec<String> {
        docker::exec(&ExecSpec {
            container_name: container.to_string(),
            user: self.user.clone(),
            workdir: Some(self.workdir.clone()),
            interactive,
            env: Vec::new(),
            command,
        })
    }
}

/// Hooks deploy runs, in order (postAttach belongs to an attaching tool).
const DEPLOY_HOOKS: [&str; 4] = [
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
];

impl Blueprint {
    /// Read what `image:` (or `deploy --from`) points at.
    pub fn load(
        config: &Config,
        project_root: &Path,
        from: Option<&Path>,
    ) -> Result<Blueprint, Error> {
        let devcontainer_path = match (from, &config.image) {
            (Some(path), _) => Some(project_root.join(path)),
            (None, ImageSource::Devcontainer(path)) => Some(project_root.join(path)),
            (None, ImageSource::Image(image)) => return Ok(Blueprint::Image(image.clone())),
        };
        let env: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let loaded = devcontainer::load(project_root, devcontainer_path.as_deref(), &env)?;
        if let Kind::Compose { .. } = DevContainer::from_json(&loaded.config).kind {
            return Err(Error::usage(format!(
                "{}: Docker Compose devcontainers are not supported by kamal-dev deploy yet",
                loaded.config_file
            )));
        }
        let files = devcontainer::load::build_files(&loaded, &crate::registry::downloaded)?;
        Ok(Blueprint::Devcontainer {
            loaded: Box::new(loaded),
            files,
            env,
        })
    }

    /// [`Self::load`], downloading the registry Features it names (and those they depend
    /// on) into the cache first.
    /// Returns the blueprint and the Features downloaded now (reference, folder).
    pub async fn load_downloading(
        config: &Config,
        project_root: &Path,
        from: Option<&Path>,
    ) -> Result<(Blueprint, Vec<(String, std::path::PathBuf)>), Error> {
        let mut fetched = std::collections::BTreeSet::new();
        let mut downloads = Vec::new();
        loop {
            let missing = match Self::load(config, project_root, from) {
                Err(err) => match err.downcast_ref::<devcontainer::DevcontainerError>() {
                    Some(devcontainer::DevcontainerError::NotDownloaded { id })
                        if fetched.insert(id.clone()) =>
                    {
                        id.clone()
                    }
                    _ => return Err(err),
                },
                Ok(blueprint) => return Ok((blueprint, downloads)),
            };
            let cache = crate::registry::cache_dir().ok_or_else(|| {
                Error::failed("no cache folder for downloaded Features (HOME is not set)")
            })?;
            let reference = crate::registry::FeatureRef::parse(&missing).ok_or_else(|| {
                Error::usage(format!("Feature '{missing}': not a registry reference"))
            })?;
            let folder = crate::registry::fetch(&cache, &reference).await?;
            downloads.push((missing, folder));
        }
    }

    /// The image step, before anything about the image is known.
    pub fn image_step(&self) -> Result<ImageStep, Error> {
        self.image_step_on(&ImageFacts::unlabelled_root())
    }

    /// The image a build starts from, when known before building: the devcontainer's
    /// `image` (with Features) or its Dockerfile's base. Its user and metadata shape the
    /// build (who Features install for, the merged label), so a deploy inspects it first
    /// and plans with [`Self::image_step_on`].
    pub fn base_image(&self) -> Option<String> {
        let Blueprint::Devcontainer { loaded, files, .. } = self else {
            return None;
        };
        let dc = devcontainer::model::DevContainer::from_json(&loaded.config);
        match &dc.kind {
            devcontainer::model::Kind::Image(image) if !files.features.is_empty() => {
                Some(image.clone())
            }
            devcontainer::model::Kind::Dockerfile { .. } => {
                files.dockerfile_text.as_deref().and_then(|text| {
                    devcontainer::dockerfile::base_image(text, dc.build_target.as_deref())
                })
            }
            _ => None,
        }
    }

    /// [`Self::image_step`] given the facts of the base image.
    pub fn image_step_on(&self, base: &ImageFacts) -> Result<ImageStep, Error> {
        match self {
            Blueprint::Image(image) => Ok(ImageStep::Pull(image.clone())),
            Blueprint::Devcontainer { .. } => {
                let plan = self.up_plan(base)?;
                if plan.build.is_empty() {
                    Ok(ImageStep::Pull(plan.image))
                } else {
                    let empty = Self::build_folders().1;
                    let builds = streamed_builds(
                        &plan.build,
                        &plan.dockerfiles,
                        plan.feature_content.as_ref(),
                        &empty,
                    )
                    .map_err(Error::failed)?;
                    Ok(ImageStep::Build {
                        image: plan.image,
                        builds,
                    })
                }
            }
        }
    }

    /// The folder names the build calls use for the Features' content and for an empty
    /// context. They only label contexts: builds read them from stdin and nothing is
    /// written there.
    fn build_folders() -> (String, String) {
        (
            "/kamal-dev-build/features".to_string(),
            "/kamal-dev-build/empty".to_string(),
        )
    }

    fn up_plan(&self, facts: &ImageFacts) -> Result<up::UpPlan, Error> {
        let Blueprint::Devcontainer { loaded, files, env } = self else {
            return Err(Error::failed("no devcontainer to plan"));
        };
        let id = devcontainer::substitute::devcontainer_id(&up::id_labels(loaded));
        let (features_root, empty_folder) = Self::build_folders();
        let features_folder = format!("{features_root}/{id}");
        Ok(up::plan(&UpInputs {
            loaded,
            env,
            dockerfile_text: files.dockerfile_text.as_deref(),
            features: &files.features,
            image: facts,
            features_folder: &features_folder,
            empty_folder: &empty_folder,
        })?)
    }

    /// The container for one workspace, given the facts of its image.
    pub fn container(
        &self,
        facts: &ImageFacts,
        inputs: &WorkspaceInputs<'_>,
    ) -> Result<WorkspaceContainer, Error> {
        let labels = vec![
            (LABEL_SERVICE.to_string(), inputs.service.to_string()),
            (LABEL_WORKSPACE.to_string(), inputs.name.to_string()),
            (LABEL_MACHINE.to_string(), inputs.machine.to_string()),
        ];
        let public = inputs.publish == Publish::Public;
        let (image, container, workdir, ports, lifecycle, user, workspace) = match self {
            Blueprint::Image(image) => {
                let workdir = format!("/workspaces/{}", basename(inputs.host_dir));
                let container = ContainerConfig {
                    override_command: true,
                    ..ContainerConfig::default()
                };
                let user = (!facts.user.is_empty()).then(|| facts.user.clone());
                (
                    image.clone(),
                    container,
                    workdir.clone(),
                    Vec::new(),
                    Vec::new(),
                    user,
                    Some((inputs.host_dir.to_string(), workdir)),
                )
            }
            Blueprint::Devcontainer { loaded, .. } => {
                let plan = self.up_plan(facts)?;
                let dc = DevContainer::from_json(&loaded.config);
                let container = ContainerConfig::from_devcontainer(&dc, &plan.merged, facts);
                let workdir = loaded
                    .workspace
                    .workspace_folder
                    .as_ref()
                    .and_then(Value::as_str)
                    .map_or_else(
                        || format!("/workspaces/{}", basename(inputs.host_dir)),
                        str::to_string,
                    );
                let mount = loaded
                    .workspace
                    .workspace_mount
                    .as_ref()
                    .and_then(Value::as_str);
                let mount_source =
                    mount.and_then(|m| mount_field(m, "source").or_else(|| mount_field(m, "src")));
                let mount_target = mount.and_then(|m| {
                    mount_field(m, "target")
                        .or_else(|| mount_field(m, "dst"))
                        .or_else(|| mount_field(m, "destination"))
                });
                // On this host the devcontainer's own mount applies; elsewhere the copy in
                // host_dir is the workspace folder itself.
                let workspace = match (inputs.local, mount_source, mount_target) {
                    (true, Some(source), Some(target)) => Some((source, target)),
                    (true, _, _) if mount.is_some() => None,
                    _ => Some((inputs.host_dir.to_string(), workdir.clone())),
                };
                let lifecycle = DEPLOY_HOOKS
                    .iter()
                    .filter_map(|hook| {
                        let commands = plan
                            .merged
                            .lifecycle
                            .iter()
                            .find(|(name, _)| name == hook)?;
                        let argvs: Vec<Vec<String>> = commands
                            .1
                            .iter()
                            .flat_map(devcontainer::lifecycle::LifecycleCommand::argvs)
                            .collect();
                        (!argvs.is_empty()).then_some((*hook, argvs))
                    })
                    .collect();
                let user = plan
                    .merged
                    .remote_user
                    .clone()
                    .or_else(|| plan.merged.container_user.clone());
                let image = plan.image.clone();
                let ports = forward_ports(&dc.forward_ports);
                // Mounts written with ${localWorkspaceFolder} mean the copy on the machine.
                let container = ContainerConfig {
                    mounts: container
                        .mounts
                        .iter()
                        .map(|m| m.replace(&loaded.workspace_folder, inputs.host_dir))
                        .collect(),
                    ..container
                };
                (image, container, workdir, ports, lifecycle, user, workspace)
            }
        };
        let spec = RunSpec {
            container_name: inputs.name.to_string(),
            image,
            limits: inputs.limits,
            env_file: inputs.env_file.clone(),
            labels,
            ports: ports
                .iter()
                .map(|port| PublishedPort {
                    host_port: 0,
                    container_port: *port,
                    public,
                })
                .collect(),
            workspace,
            machine_has_gpu: false,
            container,
        };
        Ok(WorkspaceContainer {
            run: docker::run(&spec),
            lifecycle,
            user,
            workdir,
            ports,
        })
    }
}

/// `forwardPorts` entries this machine can publish: numbers and `localhost:N`.
fn forward_ports(values: &[Value]) -> Vec<u16> {
    let mut ports: Vec<u16> = values
        .iter()
        .filter_map(|value| match value {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s
                .strip_prefix("localhost:")
                .or_else(|| s.strip_prefix("127.0.0.1:"))
                .and_then(|p| p.parse().ok()),
            _ => None,
        })
        .filter(|port| *port > 0)
        .collect();
    ports.dedup();
    ports
}

fn mount_field(mount: &str, key: &str) -> Option<String> {
    mount.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// Facts about an image from `docker image inspect` JSON.
pub fn image_facts(inspect_json: &str) -> Result<ImageFacts, String> {
    let value: Value = serde_json::from_str(inspect_json).map_err(|e| format!("not JSON: {e}"))?;
    let config = value
        .get(0)
        .and_then(|v| v.get("Config"))
        .ok_or("no Config in the image inspection")?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    };
    let metadata = config
        .get("Labels")
        .and_then(|l| l.get("devcontainer.metadata"))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .map(|v| match v {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|i| i.as_object().cloned())
                .collect(),
            Value::Object(map) => vec![map],
            _ => Vec::new(),
        })
        .unwrap_or_default();
    Ok(ImageFacts {
        user: config
            .get("User")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        entrypoint: strings(config.get("Entrypoint")),
        cmd: strings(config.get("Cmd")),
        metadata,
    })
}

/// Read the output of [`crate::docker::status_and_ports`]: the container's status and its
/// published (container port, host port) pairs, each container port once.
pub fn status_and_ports(output: &str) -> (String, Vec<(u16, u16)>) {
    let mut words = output.split_whitespace();
    let status = words.next().unwrap_or_default().to_string();
    let mut ports: Vec<(u16, u16)> = Vec::new();
    for word in words {
        let Some((container, host)) = word.split_once('=') else {
            continue;
        };
        let container = container.split('/').next().and_then(|p| p.parse().ok());
        if let (Some(container), Ok(host)) = (container, host.parse::<u16>())
            && !ports.iter().any(|(c, _)| *c == container)
        {
            ports.push((container, host));
        }
    }
    (status, ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_and_ports_in_one_inspect() {
        assert_eq!(
            status_and_ports("running 3000/tcp=32768 3000/tcp=32768 8080/tcp=41000 9000/udp=\n"),
            ("running".to_string(), vec![(3000, 32768), (8080, 41000)])
        );
        assert_eq!(status_and_ports("exited\n"), ("exited".to_string(), vec![]));
        assert_eq!(status_and_ports(""), (String::new(), vec![]));
    }

    #[test]
    fn parses_image_facts() {
        let json = r#"[{"Config":{"User":"vscode","Entrypoint":null,"Cmd":["bash"],"Labels":{"devcontainer.metadata":"[{\"remoteUser\":\"vscode\"}]"}}}]"#;
        let facts = image_facts(json).unwrap();
        assert_eq!(facts.user, "vscode");
        assert_eq!(facts.cmd, vec!["bash"]);
        assert!(facts.entrypoint.is_empty());
        assert_eq!(facts.metadata.len(), 1);
        assert!(image_facts("nope").is_err());
    }

    #[test]
    fn forward_ports_keep_numbers_and_localhost() {
        let values = vec![
            Value::from(3000),
            Value::from("localhost:5432"),
            Value::from("db:5432"),
            Value::from(0),
        ];
        assert_eq!(forward_ports(&values), vec![3000, 5432]);
    }

    #[test]
    fn plain_image_workspace_runs_with_limits_labels_and_env_file() {
        let blueprint = Blueprint::Image("local/busybox:latest".into());
        let limits = Limits {
            cpus: Some(crate::config::Millicores(500)),
            memory: Some(crate::config::Bytes(256 << 20)),
            memory_swap: None,
        };
        let container = blueprint
            .container(
                &ImageFacts::unlabelled_root(),
                &WorkspaceInputs {
                    name: "app-1",
                    machine: "local",
                    service: "app",
                    env_file: Some("/p/.kamal/env/app-1.env".into()),
                    host_dir: "/p/app",
                    local: true,
                    publish: Publish::Loopback,
                    limits,
                },
            )
            .unwrap();
        let line = container.run.join(" ");
        for part in [
            "docker run -d --name app-1",
            "--label kamal-dev=app",
            "--label kamal-dev-workspace=app-1",
            "--cpus 0.5",
            "--memory 256m",
            "--env-file /p/.kamal/env/app-1.env",
            "type=bind,source=/p/app,target=/workspaces/app",
            "local/busybox:latest",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        assert_eq!(container.workdir, "/workspaces/app");
    }
}
