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
use std::time::Duration;

use serde::de::DeserializeOwned;

pub use catalog::PriceList;
pub use client::Token;
pub use hint::hint;
pub use model::{NetGross, ServerTypePrice};
pub use options::{DEFAULT_API_URL, DEFAULT_IMAGE, HetznerOptions};

use self::client::{CallError, Transport};
use self::request::ApiRequest;
use super::{
    LABEL_SERVICE, Machine, MachineId, MachineRequest, PlanInfo, PriceQuote, Provider,
    ProviderError, ZoneInfo,
};

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
            token,
            options.retry,
            options.connect_timeout,
            options.request_timeout,
        )
        .map_err(|err| ProviderError::InvalidSetting {
            provider: NAME,
            message: format!("could not set up the HTTP client: {err}"),
            hint: None,
        })?;
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

    async fn call<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
        action: &str,
    ) -> Result<T, ProviderError> {
        let body = self
            .transport
            .send(request)
            .await
            .map_err(|err| self.fail(action, err))?;
        parse(&body, action)
    }

    fn fail(&self, action: &str, err: CallError) -> ProviderError {
        match err {
            CallError::Api { failure, .. } => ProviderError::Api {
                provider: NAME,
                action: action.to_string(),
                failure,
            },
            CallError::Transport(source) => ProviderError::Transport {
                provider: NAME,
                action: action.to_string(),
                url: self.transport.base().to_string(),
                source,
            },
            CallError::NoCredentials => ProviderError::MissingCredentials {
                provider: NAME,
                expected: "HCLOUD_TOKEN",
            },
        }
    }

    /// The server, or `None` on 404.
    async fn server(&self, id: &MachineId) -> Result<Option<model::Server>, ProviderError> {
        if id.as_str().parse::<u64>().is_err() {
            // Not a Hetzner id (another provider's machine in the state file): cannot exist here.
            return Ok(None);
        }
        let action = format!("read server {id}");
        match self
            .call::<model::ServerEnvelope>(&request::get_server(id.as_str()), &action)
            .await
        {
            Ok(envelope) => Ok(Some(envelope.server)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
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

fn parse<T: DeserializeOwned>(body: &[u8], action: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|err| ProviderError::InvalidResponse {
        provider: NAME,
        action: action.to_string(),
        detail: err.to_string(),
    })
}

impl Provider for Hetzner {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn create_machine(&self, request: &MachineRequest) -> Result<Machine, ProviderError> {
        self.create(request).await
    }

    async fn get(&self, id: &MachineId) -> Result<Option<Machine>, ProviderError> {
        Ok(self.server(id).await?.map(model::Server::into_machine))
    }

    async fn find_by_label(&self, key: &str, value: &str) -> Result<Vec<Machine>, ProviderError> {
        self.servers_with_labels(&[(key, value)]).await
    }

    async fn list(&self, service: &str) -> Result<Vec<Machine>, ProviderError> {
        self.servers_with_labels(&[(LABEL_SERVICE, service)]).await
    }

    async fn start(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        self.start_server(id).await
    }

    async fn stop(&self, id: &MachineId) -> Result<(), ProviderError> {
        self.stop_server(id).await
    }

    async fn delete(&self, id: &MachineId) -> Result<(), ProviderError> {
        self.delete_server(id).await
    }

    async fn wait_until_started(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        self.wait_started(id, deadline).await
    }

    async fn plans(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        self.plan_list().await
    }

    async fn zones(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        self.zone_list().await
    }

    async fn prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        self.zone_prices(zone).await
    }
}
