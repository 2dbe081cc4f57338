//! The UpCloud provider (API 1.3): machines are servers labelled `kamal-dev=<service>`,
//! `kamal-dev-machine=<name>` and `kamal-dev-id=<idempotency key>`. This file holds the
//! provider value and its trait implementation; requests are built in `request`, sent by
//! `client`, parsed by `model`; creating, the lifecycle and the catalog have their own files.

mod catalog;
pub mod client;
mod create;
mod lifecycle;
pub mod model;
pub mod options;
pub mod request;

use std::collections::HashMap;
use std::sync::Mutex;

pub use client::Credentials;
pub use options::{DEFAULT_API_URL, DEFAULT_IMAGE, UpcloudOptions};

use self::client::{Transport, UpcloudApi};
use super::{Machine, MachineId, PlanInfo, ProviderError};

/// The provider's display name in messages.
pub const NAME: &str = "UpCloud";

#[derive(Debug)]
pub struct Upcloud {
    transport: Transport,
    options: UpcloudOptions,
    /// Template name -> UUID, resolved once per process.
    templates: Mutex<HashMap<String, String>>,
    plans: Mutex<Option<Vec<PlanInfo>>>,
}

impl Upcloud {
    /// A client for `options.api_url`. Without credentials only cached prices are available;
    /// every API call fails with [`ProviderError::MissingCredentials`].
    pub fn new(
        options: UpcloudOptions,
        credentials: Option<Credentials>,
    ) -> Result<Upcloud, ProviderError> {
        let transport = Transport::new(
            format!("{}/1.3", options.api_url),
            UpcloudApi(credentials),
            options.retry,
            options.connect_timeout,
            options.request_timeout,
        )?;
        Ok(Upcloud {
            transport,
            options,
            templates: Mutex::new(HashMap::new()),
            plans: Mutex::new(None),
        })
    }

    pub fn options(&self) -> &UpcloudOptions {
        &self.options
    }

    /// Server details, or `None` on 404.
    async fn server(&self, id: &MachineId) -> Result<Option<model::Server>, ProviderError> {
        let action = format!("read server {id}");
        let envelope: Option<model::ServerEnvelope> = self
            .transport
            .call_optional(&request::server_details(id.as_str()), &action)
            .await?;
        Ok(envelope.map(|envelope| envelope.server))
    }

    /// Servers matching all labels, with details (the list answer has no addresses).
    async fn servers_with_labels(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<Machine>, ProviderError> {
        let labels: Vec<(&str, Option<&str>)> = labels
            .iter()
            .map(|(key, value)| (*key, Some(*value)))
            .collect();
        let list: model::ServerList = self
            .transport
            .call(&request::list_servers(&labels), "list servers")
            .await?;
        let mut machines = Vec::with_capacity(list.servers.0.len());
        for summary in list.servers.0 {
            // Deleted between the list and the details: not a machine any more.
            if let Some(server) = self.server(&MachineId(summary.uuid)).await? {
                machines.push(server.into_machine());
            }
        }
        Ok(machines)
    }
}

super::cloud::cloud_provider!(Upcloud, NAME);
