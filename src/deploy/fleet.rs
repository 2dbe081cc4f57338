//! The fleet: everything a command needs to act on recorded machines and workspaces. It
//! opens the state store, the provider (with credentials from the secrets files), and one
//! executor per machine (this host for `local`, a pooled SSH connection otherwise), pinning
//! each machine's host key in the state on first use. Never prints.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, ProviderKind};
use crate::error::{Error, ExitStatus, Message};
use crate::provider::AnyProvider;
use crate::remote::{ConnectOptions, Connector, Executor, Fingerprint, Pool, SshTarget};
use crate::secrets::{Secrets, SecretsSource};
use crate::settings::Settings;
use crate::state::{State, StateStore};

/// Where a workspace's files live on its machine, and labels put on everything kamal-dev
/// creates.
pub const LABEL_SERVICE: &str = "kamal-dev";
pub const LABEL_WORKSPACE: &str = "kamal-dev-workspace";
pub const LABEL_MACHINE: &str = "kamal-dev-machine";

pub struct Fleet {
    pub settings: Settings,
    pub store: StateStore,
    pub provider: AnyProvider,
    pub secrets: Arc<Secrets>,
    /// SSH connections, opened on first use (commands that never connect never need a key).
    pool: std::sync::OnceLock<Pool>,
}

impl Fleet {
    /// Open the fleet for `command` (written into the state lock file as its holder).
    pub fn open(settings: Settings, command: &str) -> Result<Fleet, Error> {
        let config = &settings.config;
        let source = SecretsSource::new(
            &settings.project_root,
            config.secrets_file.as_deref(),
            settings.destination.as_deref(),
        );
        let secrets = Arc::new(Secrets::load(&source)?);
        let lookup = {
            let secrets = Arc::clone(&secrets);
            move |name: &str| {
                secrets
                    .provider_credential(name)
                    .ok()
                    .flatten()
                    .map(|s| s.expose().to_string())
            }
        };
        let provider = AnyProvider::from_config(config, &lookup)?;
        let store = StateStore::in_project(&settings.project_root)
            .with_command(format!("kamal-dev {command}"));
        Ok(Fleet {
            settings,
            store,
            provider,
            secrets,
            pool: std::sync::OnceLock::new(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.settings.config
    }

    pub fn is_local(&self) -> bool {
        self.config().provider.kind == ProviderKind::Local
    }

    /// Read the state under a shared lock, off the async threads.
    pub async fn read_state(&self) -> Result<State, Error> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.read())
            .await
            .map_err(join_error)?
            .map_err(Error::from)
    }

    /// Change the state under the exclusive lock, off the async threads.
    pub async fn update<T, F>(&self, change: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut State) -> Result<T, Error> + Send + 'static,
    {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.update(change))
            .await
            .map_err(join_error)?
    }

    /// An executor for the machine recorded as `machine`: this host for `local`, otherwise
    /// SSH to its recorded address with its pinned host key (recorded now on first use).
    pub async fn executor(&self, machine: &str) -> Result<Executor, Error> {
        let Some(pool) = self.pool()? else {
            return Ok(Executor::local());
        };
        let state = self.read_state().await?;
        let record = state
            .machines
            .get(machine)
            .ok_or_else(|| Error::failed(format!("machine {machine} is not in the state file")))?;
        let host = record.ip.clone().ok_or_else(|| {
            Message::new(
                format!("machine {machine} has no address recorded yet"),
                ExitStatus::Failure,
            )
            .with_hint("run `kamal-dev deploy` again to finish creating it")
        })?;
        let expected = record
            .host_key_fingerprint
            .as_deref()
            .and_then(|f| Fingerprint::parse(f).ok());
        let has_key = record.host_key.is_some();
        self.connect(pool, machine, &host, expected.as_ref(), has_key)
            .await
    }

    /// Connect to `host` for `machine`, pinning its host key in the state when first seen.
    pub async fn connect_host(&self, machine: &str, host: &str) -> Result<Executor, Error> {
        let Some(pool) = self.pool()? else {
            return Ok(Executor::local());
        };
        let state = self.read_state().await?;
        let record = state.machines.get(machine);
        let expected = record
            .and_then(|m| m.host_key_fingerprint.as_deref())
            .and_then(|f| Fingerprint::parse(f).ok());
        let has_key = record.is_some_and(|m| m.host_key.is_some());
        self.connect(pool, machine, host, expected.as_ref(), has_key)
            .await
    }

    async fn connect(
        &self,
        pool: &Pool,
        machine: &str,
        host: &str,
        expected: Option<&Fingerprint>,
        has_key: bool,
    ) -> Result<Executor, Error> {
        let ssh = &self.config().ssh;
        let target = SshTarget::new(host)
            .with_name(machine)
            .with_user(ssh.user.clone())
            .with_port(ssh.port);
        let connection = pool.get(&target, expected).await?;
        // The full key (not just its fingerprint) is kept for system `ssh`'s known_hosts;
        // states written before it was recorded get it on the next (verified) connection.
        if expected.is_none() || !has_key {
            let fingerprint = connection.host_key().to_string();
            let public_key = connection.host_public_key().to_string();
            let name = machine.to_string();
            self.update(move |state| {
                if let Some(record) = state.machines.get_mut(&name) {
                    record.host_key_fingerprint = Some(fingerprint);
                    if !public_key.is_empty() {
                        record.host_key = Some(public_key);
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(Executor::Ssh(connection))
    }

    /// The SSH connection pool (`None` for the local provider), created on first use.
    fn pool(&self) -> Result<Option<&Pool>, Error> {
        if self.is_local() {
            return Ok(None);
        }
        if let Some(pool) = self.pool.get() {
            return Ok(Some(pool));
        }
        let connector =
            Connector::new(Some(&self.config().ssh.key_path), ConnectOptions::default())?;
        // Another task may have won the race; either pool is fine.
        let _ = self.pool.set(Pool::new(connector));
        Ok(self.pool.get())
    }

    /// Close every SSH connection.
    pub async fn close(&self) {
        if let Some(pool) = self.pool.get() {
            pool.close_all().await;
        }
    }

    /// Where a workspace's env file (secrets) lives on its machine.
    pub fn env_file_path(&self, workspace: &str) -> String {
        if self.is_local() {
            self.settings
                .project_root
                .join(".kamal")
                .join("env")
                .join(format!("{workspace}.env"))
                .to_string_lossy()
                .into_owned()
        } else {
            format!(".kamal-dev/env/{workspace}.env")
        }
    }

    /// The workspace's source folder on its machine: the project itself for `local`.
    pub fn workspace_dir(&self, workspace: &str) -> String {
        if self.is_local() {
            self.settings.project_root.to_string_lossy().into_owned()
        } else {
            format!("/var/lib/kamal-dev/workspaces/{workspace}")
        }
    }

    /// What a workspace's container is computed from, without an env file (set
    /// `env_file` on the result to add one). `host_dir` is [`Self::workspace_dir`].
    pub fn workspace_inputs<'a>(
        &'a self,
        name: &'a str,
        machine: &'a str,
        host_dir: &'a str,
    ) -> super::container::WorkspaceInputs<'a> {
        let config = self.config();
        super::container::WorkspaceInputs {
            name,
            machine,
            service: &config.service,
            env_file: None,
            host_dir,
            local: self.is_local(),
            publish: config.ports.publish,
            limits: config.defaults,
        }
    }

    pub fn project_root(&self) -> &PathBuf {
        &self.settings.project_root
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(join_error)`
fn join_error(err: tokio::task::JoinError) -> Error {
    Error::failed(format!("internal task failed: {err}"))
}
