//! The Hetzner Cloud provider (API v1): machines are servers labelled `kamal-dev=<service>`,
//! `kamal-dev-machine=<name>` and `kamal-dev-id=<idempotency key>`; root logs in with a key
//! registered once per project. Every change is an action polled to completion. This file
//! holds the provider value and its trait implementation; requests are built in `request`,
//! sent by `client`, parsed by `model`; creating, the lifecycle and the catalog have their
//! own files. Never prints, knows nothing about SSH sessions or Docker.

mod catalog;
pub mod client;
mod create;
mod hint;
mod lifecycle;
pub mod model;
pub mod options;
pub mod request;

use std::collections::HashMap;
use std::sync::Mutex;

pub use catalog::PriceList;
pub use client::Token;
pub use hint::hint;
pub use model::{NetGross, ServerTypePrice};
pub use options::{DEFAULT_API_URL, DEFAULT_IMAGE, HetznerOptions};

use self::client::{HetznerApi, Transport};
use super::{Machine, MachineId, ProviderError};

/// The provider's display name in messages.
pub const NAME: &str = "Hetzner";

/// Hetzner bills a server until it is deleted, powered off or not.
pub const BILLS_WHEN_STOPPED: bool = true;

/// Pages followed at most when listing (50 per page).
const MAX_PAGES: u32 = 200;

#[derive(Debug)]
pub struct Hetzner {
    transport: Transport,
    options: HetznerOptions,
    /// The registered SSH key's name per fingerprint; the lock also keeps concurrent creates from
    /// registering the same key twice.
    ssh_keys: tokio::sync::Mutex<HashMap<String, String>>,
    /// Actions a create started (create, start) per server, awaited by `wait_until_started`.
    pending_actions: Mutex<HashMap<MachineId, Vec<u64>>>,
}

impl Hetzner {
    /// A client for `options.api_url`. Without a token only cached prices are available;
    /// every API call fails with [`ProviderError::MissingCredentials`].
    pub fn new(options: HetznerOptions, token: Option<Token>) -> Result<Hetzner, ProviderError> {
        let transport = Transport::new(
            options.api_url.clone(),
            HetznerApi::new(token),
            options.retry,
            options.connect_timeout,
            options.request_timeout,
        )?;
        Ok(Hetzner {
            transport,
            options,
            ssh_keys: tokio::sync::Mutex::new(HashMap::new()),
            pending_actions: Mutex::new(HashMap::new()),
        })
    }

    pub fn options(&self) -> &HetznerOptions {
        &self.options
    }

    /// Hetzner keeps billing stopped (powered-off) servers; only deleting ends the charge.
    pub fn bills_when_stopped(&self) -> bool {
        BILLS_WHEN_STOPPED
    }

    /// The server, or `None` on 404.
    async fn server(&self, id: &MachineId) -> Result<Option<model::Server>, ProviderError> {
        if id.as_str().parse::<u64>().is_err() {
            // Not a Hetzner id (another provider's machine in the state file): cannot exist here.
            return Ok(None);
        }
        let action = format!("read server {id}");
        let envelope: Option<model::ServerEnvelope> = self
            .transport
            .call_optional(&request::get_server(id.as_str()), &action)
            .await?;
        Ok(envelope.map(|envelope| envelope.server))
    }

    /// Servers carrying every label, all pages (the list has addresses: no second call).
    async fn servers_with_labels(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<Machine>, ProviderError> {
        let mut machines = Vec::new();
        let mut page = 1;
        for _ in 0..MAX_PAGES {
            let list: model::ServerList = self
                .transport
                .call(&request::list_servers(labels, page), "list servers")
                .await?;
            machines.extend(list.servers.into_iter().map(model::Server::into_machine));
            match model::next_page(list.meta.as_ref()) {
                Some(next) if next > page => page = next,
                _ => break,
            }
        }
        Ok(machines)
    }
}

super::cloud::cloud_provider!(Hetzner, NAME);
