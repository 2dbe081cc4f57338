//! End-to-end projects: a builder that writes a whole kamal-dev project (config/dev.yml, a
//! devcontainer, `.kamal/secrets` whose values are unique markers) into a temp folder and runs
//! the real binary there with its own HOME; the test services from `.ci/services.sh`; a
//! guard that removes the project's containers and machine files even when a test fails; and
//! a sampler of every process's command line, to prove no secret ever appears on one.
//!
//! Shared by the integration tests and the `deploy` benchmark (which includes this file by
//! path), so it depends on nothing else in `common/`. It never talks to a real cloud: the
//! UpCloud API URL always points at a local fake.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The services `.ci/services.sh` started, from the environment it writes.
#[derive(Debug, Clone)]
pub struct Services {
    /// The private test key; sshd accepts it for root. Config names `<key>.pub`.
    pub key: PathBuf,
    pub sshd_log: Option<PathBuf>,
    pub image: String,
    pub host_key_fingerprint: Option<String>,
}

impl Services {
    /// `None` (after printing why `what` is skipped) unless `KAMAL_DEV_TEST_SERVICES=1`.
    pub fn from_env(what: &str) -> Option<Services> {
        if std::env::var("KAMAL_DEV_TEST_SERVICES").as_deref() != Ok("1") {
            eprintln!(
                "skipped {what}: KAMAL_DEV_TEST_SERVICES is not 1; run `.ci/services.sh` as root \
                 and `source /tmp/kamal-dev-services/env` to run it against real sshd and Docker"
            );
            return None;
        }
        let key = PathBuf::from(
            std::env::var("KAMAL_DEV_TEST_SSH_KEY").expect("KAMAL_DEV_TEST_SSH_KEY is set"),
        );
        Some(Services {
            key,
            sshd_log: std::env::var_os("KAMAL_DEV_TEST_SSHD_LOG").map(PathBuf::from),
            image: std::env::var("KAMAL_DEV_TEST_IMAGE")
                .unwrap_or_else(|_| "local/busybox:latest".into()),
            host_key_fingerprint: std::env::var("KAMAL_DEV_TEST_SSH_HOST_KEY_FINGERPRINT").ok(),
        })
    }

    pub fn public_key(&self) -> PathBuf {
        PathBuf::from(format!("{}.pub", self.key.display()))
    }
}

/// A short random suffix, so parallel tests and runs never share names or markers.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &id[..8])
}

#[derive(Debug, Clone)]
enum ProviderSetup {
    Upcloud { api_url: String, key_path: PathBuf },
    Local,
}

/// Writes a project; see the file comment.
#[derive(Debug, Clone)]
pub struct ProjectBuilder {
    service: String,
    provider: ProviderSetup,
    image: String,
    plan: String,
    spread: bool,
    cpus: String,
    memory: String,
    forward_ports: Vec<u16>,
    secrets: Vec<(String, String)>,
    unlisted_secrets: Vec<(String, String)>,
    post_create: Option<String>,
}

impl ProjectBuilder {
    /// A project for the local provider running `image`, with service `service`.
    pub fn local(service: &str, image: &str) -> ProjectBuilder {
        ProjectBuilder {
            service: service.to_string(),
            provider: ProviderSetup::Local,
            image: image.to_string(),
            plan: "1xCPU-2GB".into(),
            spread: true,
            cpus: "0.5".into(),
            memory: "256m".into(),
            forward_ports: Vec::new(),
            secrets: Vec::new(),
            unlisted_secrets: Vec::new(),
            post_create: None,
        }
    }

    /// A project on UpCloud whose API is `api_url` (a fake), machines reached with `services`'
    /// test key.
    pub fn upcloud(service: &str, api_url: &str, services: &Services) -> ProjectBuilder {
        ProjectBuilder {
            provider: ProviderSetup::Upcloud {
                api_url: api_url.to_string(),
                key_path: services.public_key(),
            },
            ..ProjectBuilder::local(service, &services.image)
        }
    }

    /// A project on UpCloud whose API is `api_url`, naming the public key `key_path`.
    pub fn upcloud_with_key(service: &str, api_url: &str, key_path: &Path) -> ProjectBuilder {
        ProjectBuilder {
            provider: ProviderSetup::Upcloud {
                api_url: api_url.to_string(),
                key_path: key_path.to_path_buf(),
            },
            ..ProjectBuilder::local(service, "local/busybox:latest")
        }
    }

    /// `vms.spread` (one machine per workspace) and the machine plan.
    pub fn machines(mut self, spread: bool, plan: &str) -> ProjectBuilder {
        self.spread = spread;
        self.plan = plan.to_string();
        self
    }

    pub fn limits(mut self, cpus: &str, memory: &str) -> ProjectBuilder {
        self.cpus = cpus.to_string();
        self.memory = memory.to_string();
        self
    }

    pub fn forward_ports(mut self, ports: &[u16]) -> ProjectBuilder {
        self.forward_ports = ports.to_vec();
        self
    }

    /// A secret listed under `secrets:` whose value is `value` (written double-quoted).
    pub fn secret(mut self, key: &str, value: &str) -> ProjectBuilder {
        self.secrets.push((key.to_string(), value.to_string()));
        self
    }

    /// A key in `.kamal/secrets` that the config does not list (a provider credential).
    pub fn unlisted_secret(mut self, key: &str, value: &str) -> ProjectBuilder {
        self.unlisted_secrets
            .push((key.to_string(), value.to_string()));
        self
    }

    pub fn post_create(mut self, command: &str) -> ProjectBuilder {
        self.post_create = Some(command.to_string());
        self
    }

    pub fn build(self) -> Project {
        let dir = tempfile::tempdir().expect("create project dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("home")).expect("create HOME");
        write(root, "config/dev.yml", &self.config_yaml());
        write(
            root,
            ".devcontainer/devcontainer.json",
            &self.devcontainer_json(),
        );
        let mut secrets_text = String::from("# written by the end-to-end tests\n");
        for (key, value) in self.secrets.iter().chain(&self.unlisted_secrets) {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(secrets_text, "{key}=\"{escaped}\"");
        }
        let secrets_path = write(root, ".kamal/secrets", &secrets_text);
        set_mode(&secrets_path, 0o600);
        let mut env = vec![("NO_COLOR".to_string(), "1".to_string())];
        if let ProviderSetup::Upcloud { .. } = self.provider {
            env.push(("UPCLOUD_TOKEN".into(), "ucat_e2e_test_token".into()));
        }
        Project {
            dir,
            service: self.service,
            secrets: self.secrets,
            unlisted_secrets: self.unlisted_secrets,
            env,
        }
    }

    fn config_yaml(&self) -> String {
        let mut yaml = format!(
            "service: {}\nimage: .devcontainer/devcontainer.json\n",
            self.service
        );
        match &self.provider {
            ProviderSetup::Local => yaml.push_str("provider:\n  type: local\n"),
            ProviderSetup::Upcloud { api_url, key_path } => {
                let _ = write!(
                    yaml,
                    "provider:\n  type: upcloud\n  zone: de-fra1\n  plan: {}\n  api_url: {api_url}\n\
                     ssh:\n  key_path: {}\n  user: root\n  port: 22\n\
                     vms:\n  spread: {}\n",
                    self.plan,
                    key_path.display(),
                    self.spread
                );
            }
        }
        let _ = write!(
            yaml,
            "defaults:\n  cpus: {}\n  memory: {}\n",
            self.cpus, self.memory
        );
        if !self.secrets.is_empty() {
            yaml.push_str("secrets:\n");
            for (key, _) in &self.secrets {
                let _ = writeln!(yaml, "  - {key}");
            }
        }
        yaml
    }

    fn devcontainer_json(&self) -> String {
        let mut json = serde_json::json!({
            "name": self.service,
            "image": self.image,
            "forwardPorts": self.forward_ports,
            "containerEnv": {"KAMAL_DEV_E2E": "1"},
        });
        if let Some(command) = &self.post_create {
            json["postCreateCommand"] = serde_json::Value::String(command.clone());
        }
        serde_json::to_string_pretty(&json).expect("devcontainer json")
    }
}

fn write(root: &Path, relative: &str, contents: &str) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent folder");
    }
    std::fs::write(&path, contents).expect("write project file");
    path
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A written project; run the real binary in it.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub service: String,
    /// Listed secrets: key -> value.
    pub secrets: Vec<(String, String)>,
    pub unlisted_secrets: Vec<(String, String)>,
    env: Vec<(String, String)>,
}

/// What one run of the binary printed.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    fn from_output(output: &Output) -> RunOutput {
        RunOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the run exited 0.
    pub fn success(self, what: &str) -> RunOutput {
        assert_eq!(
            self.code,
            Some(0),
            "{what} failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Exit status 2 with the "not implemented yet" error of an unbuilt command.
    pub fn is_not_implemented(&self) -> bool {
        self.code == Some(2) && self.stderr.contains("not implemented yet")
    }

    pub fn text(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl Project {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn state_path(&self) -> PathBuf {
        self.root().join(".kamal/dev_state.yml")
    }

    /// The state file's text; empty when there is none.
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.state_path()).unwrap_or_default()
    }

    /// The state file parsed as YAML (`Null` when there is none).
    pub fn state(&self) -> serde_json::Value {
        let text = self.state_text();
        if text.is_empty() {
            return serde_json::Value::Null;
        }
        serde_saphyr::from_str(&text).expect("state file is YAML")
    }

    /// `kamal-dev <args>` in the project, with its own HOME and no ssh-agent.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kamal-dev"));
        cmd.args(args)
            .current_dir(self.root())
            .env("HOME", self.home())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("VERBOSE")
            .env_remove("UPCLOUD_API_URL")
            .env_remove("UPCLOUD_USERNAME")
            .env_remove("UPCLOUD_PASSWORD")
            .env_remove("XDG_CACHE_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .stdin(Stdio::null());
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }

    /// Run to completion and capture both streams.
    pub fn run(&self, args: &[&str]) -> RunOutput {
        let output = self
            .command(args)
            .output()
            .expect("run the kamal-dev binary");
        RunOutput::from_output(&output)
    }

    /// Start without waiting; both streams piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the kamal-dev binary")
    }

    /// Every form a secret value could leak in: a distinctive part of the value (the whole
    /// value, or its marker line when it spans lines) and its Base64 encoding.
    pub fn markers(&self) -> Vec<(String, String)> {
        let mut markers = Vec::new();
        for (key, value) in self.secrets.iter().chain(&self.unlisted_secrets) {
            for line in value.lines().filter(|l| l.contains("kdsecret")) {
                markers.push((key.clone(), line.to_string()));
            }
            markers.push((format!("{key} (Base64)"), STANDARD.encode(value)));
        }
        markers
    }

    /// The secrets whose markers occur in `text`, by key.
    pub fn leaks_in(&self, text: &str) -> Vec<String> {
        self.markers()
            .into_iter()
            .filter(|(_, marker)| text.contains(marker.as_str()))
            .map(|(key, _)| key)
            .collect()
    }

    /// Panics naming `place` and the keys when any secret shows in `text`.
    pub fn assert_no_leak(&self, place: &str, text: &str) {
        let leaks = self.leaks_in(text);
        assert!(
            leaks.is_empty(),
            "secret value of {leaks:?} found in {place}"
        );
    }
}

/// A secret value that is unique to this run and easy to spot: `kdsecret` + random hex, with
/// characters that shell quoting gets wrong around it (no `$`: the secrets file expands it).
pub fn marker_value(label: &str) -> String {
    format!(
        "it's \"{label}\" ;&|<> kdsecret{}",
        uuid::Uuid::new_v4().simple()
    )
}

/// Write a fresh Ed25519 key pair (OpenSSH format, no passphrase) as `<dir>/id_ed25519` and
/// `.pub`; returns the public key's path. For tests that never connect but load the key.
pub fn throwaway_key(dir: &Path) -> PathBuf {
    use russh::keys::ssh_key::{LineEnding, private::Ed25519Keypair};
    let seed = *uuid::Uuid::new_v4().as_bytes();
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&seed);
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let key = russh::keys::PrivateKey::from(Ed25519Keypair::from_seed(&bytes));
    let private = dir.join("id_ed25519");
    let public = dir.join("id_ed25519.pub");
    std::fs::write(
        &private,
        key.to_openssh(LineEnding::LF)
            .expect("encode key")
            .as_bytes(),
    )
    .expect("write private key");
    set_mode(&private, 0o600);
    std::fs::write(
        &public,
        key.public_key().to_openssh().expect("encode public key"),
    )
    .expect("write public key");
    public
}

/// Removes the containers of `service` (and their env files and folders on this host, which
/// is every test machine) when dropped, so a failed test leaves nothing behind.
pub struct Cleanup {
    pub service: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = containers(&self.service);
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let prefix = format!("{}-", self.service);
        let mut dirs = vec![PathBuf::from("/var/lib/kamal-dev/workspaces")];
        if let Some(home) = root_home() {
            dirs.push(home.join(".kamal-dev/env"));
        }
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    let path = entry.path();
                    let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
                }
            }
        }
    }
}

/// Root's home folder from /etc/passwd: where sshd puts remote commands for `root@...`.
pub fn root_home() -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd
        .lines()
        .find(|line| line.starts_with("root:"))
        .and_then(|line| line.split(':').nth(5))
        .map(PathBuf::from)
}

/// IDs of every container (running or not) labelled `kamal-dev=<service>`.
pub fn containers(service: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=kamal-dev={service}"),
        ])
        .output();
    output
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `docker inspect <name>` as JSON (the first element), or `None` when it does not exist.
pub fn inspect(name: &str) -> Option<serde_json::Value> {
    let output = Command::new("docker")
        .args(["inspect", "--type", "container", name])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    value.get(0).cloned()
}

/// `docker exec <name> env` as (key, value) pairs.
pub fn container_env(name: &str) -> Vec<(String, String)> {
    let output = Command::new("docker")
        .args(["exec", name, "env"])
        .output()
        .expect("docker exec env");
    assert!(
        output.status.success(),
        "docker exec {name} env failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Reads every process's command line over and over until stopped: what anyone on the
/// machine could see with `ps`.
pub struct CmdlineSampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Sampled>>,
}

/// What a sampler saw: how many passes over /proc and every distinct command line.
#[derive(Debug, Default)]
pub struct Sampled {
    pub passes: usize,
    pub lines: BTreeSet<String>,
}

impl CmdlineSampler {
    pub fn start() -> CmdlineSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let own = std::process::id().to_string();
        let thread = std::thread::spawn(move || {
            let mut sampled = Sampled::default();
            let mut buffer = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let Ok(entries) = std::fs::read_dir("/proc") else {
                    break;
                };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    let name = name.to_string_lossy();
                    if !name.bytes().all(|b| b.is_ascii_digit()) || name == own {
                        continue;
                    }
                    buffer.clear();
                    let Ok(mut file) = std::fs::File::open(entry.path().join("cmdline")) else {
                        continue;
                    };
                    if file.read_to_end(&mut buffer).is_err() || buffer.is_empty() {
                        continue;
                    }
                    let line = String::from_utf8_lossy(&buffer).replace('\0', " ");
                    if !sampled.lines.contains(&line) {
                        sampled.lines.insert(line);
                    }
                }
                sampled.passes += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            sampled
        });
        CmdlineSampler {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for CmdlineSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Wait until `check` holds, up to `limit`; returns whether it did.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}
