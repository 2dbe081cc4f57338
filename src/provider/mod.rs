//! Providers: where machines come from. A small trait at domain granularity (create, get,
//! list, start, stop, delete, wait, catalog, prices) and a closed enum over the
//! implementations. The only module that speaks HTTP; it knows nothing about SSH, Docker or
//! the deploy workflow, and never prints.

mod cloud;
pub mod cloud_init;
mod error;
pub mod hetzner;
mod hostname;
pub mod http;
pub mod local;
mod poll;
pub mod price_cache;
pub mod ssh;
mod types;
pub mod upcloud;

use std::future::Future;
use std::time::Duration;

pub use error::{ApiFailure, ProviderError};
pub use types::{
    LABEL_ID, LABEL_MACHINE, LABEL_SERVICE, Machine, MachineId, MachineRequest, MachineState,
    PlanInfo, PriceQuote, PriceSource, ZoneInfo,
};

use crate::config::{Config, ProviderKind};

/// What every provider can do. All calls retry transient failures themselves; an error means
/// the operation did not succeed (or its outcome could not be established).
pub trait Provider {
    /// Display name for messages ("UpCloud").
    fn name(&self) -> &'static str;

    /// Create a machine and return it as soon as the provider accepted it (usually still
    /// [`MachineState::Pending`]; call [`Provider::wait_until_started`] next). Safe to repeat
    /// with the same `idempotency_key`: an existing machine with that key is returned instead
    /// of creating another.
    fn create_machine(
        &self,
        request: &MachineRequest,
    ) -> impl Future<Output = Result<Machine, ProviderError>> + Send;

    /// The machine, or `None` when it does not exist.
    fn get(
        &self,
        id: &MachineId,
    ) -> impl Future<Output = Result<Option<Machine>, ProviderError>> + Send;

    /// Machines carrying label `key=value`, with details (IPv4 included).
    fn find_by_label(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<Machine>, ProviderError>> + Send;

    /// All machines of a service (label `kamal-dev=<service>`), with details.
    fn list(
        &self,
        service: &str,
    ) -> impl Future<Output = Result<Vec<Machine>, ProviderError>> + Send;

    /// Start a stopped machine and wait until it runs (already running: no-op).
    fn start(&self, id: &MachineId) -> impl Future<Output = Result<Machine, ProviderError>> + Send;

    /// Stop a machine (graceful first, then forced) and wait until it is stopped.
    fn stop(&self, id: &MachineId) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Delete a machine and its disks, stopping it first when needed. A machine that does not
    /// exist counts as deleted.
    fn delete(&self, id: &MachineId) -> impl Future<Output = Result<(), ProviderError>> + Send;

    /// Poll until the machine runs, for at most `deadline`.
    fn wait_until_started(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> impl Future<Output = Result<Machine, ProviderError>> + Send;

    fn plans(&self) -> impl Future<Output = Result<Vec<PlanInfo>, ProviderError>> + Send;

    fn zones(&self) -> impl Future<Output = Result<Vec<ZoneInfo>, ProviderError>> + Send;

    /// Hourly prices in `zone` (cached for a day where the provider supports it).
    fn prices(&self, zone: &str) -> impl Future<Output = Result<PriceQuote, ProviderError>> + Send;
}

/// Every provider kamal-dev knows.
#[derive(Debug)]
pub enum AnyProvider {
    Upcloud(Box<upcloud::Upcloud>),
    Hetzner(Box<hetzner::Hetzner>),
    Local(local::Local),
    Ssh(ssh::Ssh),
}

impl AnyProvider {
    /// Build the configured provider. `secret` looks up credentials by name
    /// (`UPCLOUD_TOKEN`, `UPCLOUD_USERNAME`, `UPCLOUD_PASSWORD`, `HCLOUD_TOKEN`); missing credentials are only
    /// an error when an API call needs them.
    pub fn from_config(
        config: &Config,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<AnyProvider, ProviderError> {
        match config.provider.kind {
            ProviderKind::Upcloud => {
                let options = upcloud::UpcloudOptions::from_config(config)?;
                let credentials = upcloud::Credentials::from_lookup(secret);
                Ok(AnyProvider::Upcloud(Box::new(upcloud::Upcloud::new(
                    options,
                    credentials,
                )?)))
            }
            ProviderKind::Hetzner => {
                let options = hetzner::HetznerOptions::from_config(config)?;
                let token = hetzner::Token::from_lookup(secret);
                Ok(AnyProvider::Hetzner(Box::new(hetzner::Hetzner::new(
                    options, token,
                )?)))
            }
            ProviderKind::Local => Ok(AnyProvider::Local(local::Local)),
            ProviderKind::Ssh => Ok(AnyProvider::Ssh(ssh::Ssh::new(
                config.provider.hosts.clone(),
            )?)),
        }
    }

    /// Whether a stopped machine keeps being billed, where kamal-dev knows: Hetzner bills
    /// powered-off servers until they are deleted; local and own hosts cost nothing through
    /// kamal-dev; UpCloud depends on the plan, so `None`.
    pub fn bills_when_stopped(&self) -> Option<bool> {
        match self {
            AnyProvider::Hetzner(p) => Some(p.bills_when_stopped()),
            AnyProvider::Ssh(p) => Some(p.bills_when_stopped()),
            AnyProvider::Local(_) => Some(false),
            AnyProvider::Upcloud(_) => None,
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $p:ident => $call:expr) => {
        match $self {
            AnyProvider::Upcloud($p) => $call,
            AnyProvider::Hetzner($p) => $call,
            AnyProvider::Local($p) => $call,
            AnyProvider::Ssh($p) => $call,
        }
    };
}

impl Provider for AnyProvider {
    fn name(&self) -> &'static str {
        dispatch!(self, p => p.name())
    }

    async fn create_machine(&self, request: &MachineRequest) -> Result<Machine, ProviderError> {
        dispatch!(self, p => p.create_machine(request).await)
    }

    async fn get(&self, id: &MachineId) -> Result<Option<Machine>, ProviderError> {
        dispatch!(self, p => p.get(id).await)
    }

    async fn find_by_label(&self, key: &str, value: &str) -> Result<Vec<Machine>, ProviderError> {
        dispatch!(self, p => p.find_by_label(key, value).await)
    }

    async fn list(&self, service: &str) -> Result<Vec<Machine>, ProviderError> {
        dispatch!(self, p => p.list(service).await)
    }

    async fn start(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        dispatch!(self, p => p.start(id).await)
    }

    async fn stop(&self, id: &MachineId) -> Result<(), ProviderError> {
        dispatch!(self, p => p.stop(id).await)
    }

    async fn delete(&self, id: &MachineId) -> Result<(), ProviderError> {
        dispatch!(self, p => p.delete(id).await)
    }

    async fn wait_until_started(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        dispatch!(self, p => p.wait_until_started(id, deadline).await)
    }

    async fn plans(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        dispatch!(self, p => p.plans().await)
    }

    async fn zones(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        dispatch!(self, p => p.zones().await)
    }

    async fn prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        dispatch!(self, p => p.prices(zone).await)
    }
}
