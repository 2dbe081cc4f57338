//! Docker command lines for the deploy path, as data: a container spec in, an argv out
//! (starting with `docker`), for run, build, exec, inspect, start, stop, rm and logs.
//! Pure: no I/O, no quoting (the caller runs the argv directly, or turns it into one remote
//! command line with `crate::shell::join`). Secrets never appear here: they travel in the
//! `--env-file` on the machine.

use crate::config::Limits;
use crate::devcontainer::DevContainer;
use crate::devcontainer::hostreq::{GpuRequirement, HostRequirements};
use crate::devcontainer::metadata::Merged;
use crate::devcontainer::model::Mount;
use crate::devcontainer::up::ImageFacts;

/// A port published on the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    pub host_port: u16,
    pub container_port: u16,
    /// `false` binds 127.0.0.1 (reached through an SSH tunnel); `true` binds every address.
    pub public: bool,
}

/// The devcontainer side of a container: what devcontainer.json and image metadata ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    /// `--mount` values (merged `mounts`).
    pub mounts: Vec<String>,
    /// Merged `containerEnv`, in order.
    pub env: Vec<(String, String)>,
    /// Merged `containerUser`.
    pub user: Option<String>,
    /// `runArgs`, verbatim, after env and user (so a `-u`/`-e` there wins).
    pub run_args: Vec<String>,
    pub init: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub security_opt: Vec<String>,
    /// Feature entrypoints, run by the keep-alive script before the command.
    pub entrypoints: Vec<String>,
    /// `hostRequirements.gpu` asks for a GPU (`--gpus all` when the machine has one).
    pub gpu: Option<GpuRequirement>,
    /// The image's ENTRYPOINT + CMD, appended only when `overrideCommand` is `false`.
    pub image_command: Vec<String>,
    pub override_command: bool,
}

impl ContainerConfig {
    /// From the typed devcontainer.json, the merged metadata and the inspected image.
    pub fn from_devcontainer(dc: &DevContainer, merged: &Merged, image: &ImageFacts) -> Self {
        ContainerConfig {
            mounts: merged.mounts.iter().map(Mount::to_arg).collect(),
            env: merged.container_env.clone(),
            user: merged.container_user.clone(),
            run_args: dc.run_args.clone(),
            init: merged.init,
            privileged: merged.privileged,
            cap_add: merged.cap_add.clone(),
            security_opt: merged.security_opt.clone(),
            entrypoints: merged.entrypoints.clone(),
            gpu: merged
                .host_requirements
                .as_ref()
                .and_then(HostRequirements::gpu),
            image_command: image.entrypoint.iter().chain(&image.cmd).cloned().collect(),
            override_command: merged.override_command != Some(false),
        }
    }
}

/// Everything `docker run -d` needs for one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub container_name: String,
    pub image: String,
    pub limits: Limits,
    /// Path of the env file on the machine (secrets), if any.
    pub env_file: Option<String>,
    pub labels: Vec<(String, String)>,
    pub ports: Vec<PublishedPort>,
    /// Host folder -> container workspace folder; `None` for no workspace mount.
    pub workspace: Option<(String, String)>,
    /// The machine has an NVIDIA runtime: a GPU requirement becomes `--gpus all`.
    pub machine_has_gpu: bool,
    pub container: ContainerConfig,
}

fn strings<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.map(str::to_string).to_vec()
}

/// A bind mount in `--mount` syntax, quoting a path that contains a comma.
pub fn bind_mount(source: &str, target: &str) -> String {
    let q = |s: &str| if s.contains(',') { "\"" } else { "" };
    format!(
        "type=bind,{q1}source={source}{q1},{q2}target={target}{q2}",
        q1 = q(source),
        q2 = q(target)
    )
}

pub use crate::devcontainer::up::keep_alive_script;

/// `docker run -d ...` for a workspace.
pub fn run(spec: &RunSpec) -> Vec<String> {
    let mut argv = strings(["docker", "run", "-d", "--name"]);
    argv.push(spec.container_name.clone());
    for (key, value) in &spec.labels {
        argv.extend(["--label".to_string(), format!("{key}={value}")]);
    }
    if let Some(cpus) = spec.limits.cpus {
        argv.extend(["--cpus".to_string(), cpus.to_string()]);
    }
    if let Some(memory) = spec.limits.memory {
        argv.extend(["--memory".to_string(), memory.to_string()]);
    }
    if let Some(swap) = spec.limits.memory_swap {
        argv.extend(["--memory-swap".to_string(), swap.to_string()]);
    }
    if let Some(env_file) = &spec.env_file {
        argv.extend(["--env-file".to_string(), env_file.clone()]);
    }
    for port in &spec.ports {
        let bind = if port.public { "" } else { "127.0.0.1:" };
        argv.extend([
            "-p".to_string(),
            format!("{bind}{}:{}", port.host_port, port.container_port),
        ]);
    }
    if let Some((host, container)) = &spec.workspace {
        argv.extend(["--mount".to_string(), bind_mount(host, container)]);
    }
    let c = &spec.container;
    for mount in &c.mounts {
        argv.extend(["--mount".to_string(), mount.clone()]);
    }
    for (key, value) in &c.env {
        argv.extend(["-e".to_string(), format!("{key}={value}")]);
    }
    if let Some(user) = &c.user {
        argv.extend(["-u".to_string(), user.clone()]);
    }
    argv.extend(c.run_args.iter().cloned());
    // As the reference: after runArgs; without a GPU the requirement only warns (caller).
    if c.gpu.is_some() && spec.machine_has_gpu {
        argv.extend(strings(["--gpus", "all"]));
    }
    if c.init {
        argv.push("--init".to_string());
    }
    if c.privileged {
        argv.push("--privileged".to_string());
    }
    for cap in &c.cap_add {
        argv.extend(["--cap-add".to_string(), cap.clone()]);
    }
    for opt in &c.security_opt {
        argv.extend(["--security-opt".to_string(), opt.clone()]);
    }
    argv.extend(strings(["--entrypoint", "/bin/sh"]));
    argv.push(spec.image.clone());
    argv.extend([
        "-c".to_string(),
        keep_alive_script(&c.entrypoints),
        "-".to_string(),
    ]);
    if !c.override_command {
        argv.extend(c.image_command.iter().cloned());
    }
    argv
}

/// What `docker build` needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSpec {
    pub dockerfile: String,
    pub tag: String,
    pub target: Option<String>,
    pub cache_from: Vec<String>,
    pub build_args: Vec<(String, String)>,
    /// `build.options`, verbatim, before the context.
    pub options: Vec<String>,
    pub context: String,
}

/// `docker build -f <file> -t <tag> ... <context>`.
pub fn build(spec: &BuildSpec) -> Vec<String> {
    let mut argv = strings(["docker", "build", "-f"]);
    argv.push(spec.dockerfile.clone());
    argv.extend(["-t".to_string(), spec.tag.clone()]);
    if let Some(target) = &spec.target {
        argv.extend(["--target".to_string(), target.clone()]);
    }
    for cache in &spec.cache_from {
        argv.extend(["--cache-from".to_string(), cache.clone()]);
    }
    for (key, value) in &spec.build_args {
        argv.extend(["--build-arg".to_string(), format!("{key}={value}")]);
    }
    argv.extend(spec.options.iter().cloned());
    argv.push(spec.context.clone());
    argv
}

/// How to run a command in a workspace container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub container_name: String,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// Keep stdin open and allocate a terminal (interactive shells).
    pub interactive: bool,
    pub env: Vec<(String, String)>,
    pub command: Vec<String>,
}

/// `docker exec [-it] [-u user] [-w dir] [-e K=V]... <container> <command...>`.
pub fn exec(spec: &ExecSpec) -> Vec<String> {
    let mut argv = strings(["docker", "exec"]);
    if spec.interactive {
        argv.extend(strings(["-i", "-t"]));
    }
    if let Some(user) = &spec.user {
        argv.extend(["-u".to_string(), user.clone()]);
    }
    if let Some(dir) = &spec.workdir {
        argv.extend(["-w".to_string(), dir.clone()]);
    }
    for (key, value) in &spec.env {
        argv.extend(["-e".to_string(), format!("{key}={value}")]);
    }
    argv.push(spec.container_name.clone());
    argv.extend(spec.command.iter().cloned());
    argv
}

/// `docker inspect --type container <name>` (JSON on stdout).
pub fn inspect(container_name: &str) -> Vec<String> {
    let mut argv = strings(["docker", "inspect", "--type", "container"]);
    argv.push(container_name.to_string());
    argv
}

/// `docker inspect --type container --format FORMAT <name>` (a Go template).
pub fn inspect_format(container_name: &str, format: &str) -> Vec<String> {
    let mut argv = strings(["docker", "inspect", "--type", "container", "--format"]);
    argv.push(format.to_string());
    argv.push(container_name.to_string());
    argv
}

/// `docker inspect` printing the container's address on each of its networks, space
/// separated (empty for `--network host` or `none`).
pub fn addresses(container_name: &str) -> Vec<String> {
    inspect_format(
        container_name,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
    )
}

/// `docker inspect` printing the container's `State.Status` then each published port as
/// `PORT/PROTO=HOSTPORT` (one word each), so a deploy learns both in one call; see
/// `deploy::container::status_and_ports` for the reading.
pub fn status_and_ports(container_name: &str) -> Vec<String> {
    inspect_format(
        container_name,
        "{{.State.Status}}{{range $port, $bindings := .NetworkSettings.Ports}}{{range $bindings}} {{$port}}={{.HostPort}}{{end}}{{end}}",
    )
}

/// `docker start <name>`.
pub fn start(container_name: &str) -> Vec<String> {
    vec!["docker".into(), "start".into(), container_name.into()]
}

/// `docker stop <name>`.
pub fn stop(container_name: &str) -> Vec<String> {
    vec!["docker".into(), "stop".into(), container_name.into()]
}

/// `docker rm [-f] <name>`.
pub fn rm(container_name: &str, force: bool) -> Vec<String> {
    let mut argv = strings(["docker", "rm"]);
    if force {
        argv.push("-f".to_string());
    }
    argv.push(container_name.to_string());
    argv
}

/// `docker logs [--follow] [--tail N] <name>`.
pub fn logs(container_name: &str, follow: bool, tail: Option<u64>) -> Vec<String> {
    let mut argv = strings(["docker", "logs"]);
    if follow {
        argv.push("--follow".to_string());
    }
    if let Some(lines) = tail {
        argv.extend(["--tail".to_string(), lines.to_string()]);
    }
    argv.push(container_name.to_string());
    argv
}

#[cfg(test)]
mod tests;
