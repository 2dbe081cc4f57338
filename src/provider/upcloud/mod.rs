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
use std::time::Duration;

use serde::de::DeserializeOwned;

pub use client::{Credentials, RetryPolicy};
pub use options::{DEFAULT_API_URL, DEFAULT_IMAGE, UpcloudOptions};

use self::client::{CallError, Transport};
use self::request::ApiRequest;
use super::{
    LABEL_SERVICE, Machine, MachineId, MachineRequest, PlanInfo, PriceQuote, Provider,
    ProviderError, ZoneInfo,
};

/// The provider's display name in messages.
pub const NAME: &str = "UpCloud";

/// What to put in the hint when credentials are missing.
const CREDENTIAL_NAMES: &str = "UPCLOUD_TOKEN (or UPCLOUD_USERNAME and UPCLOUD_PASSWORD)";

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
            credentials,
            options.retry,
            options.connect_timeout,
            options.request_timeout,
        )
        .map_err(|err| ProviderError::InvalidSetting {
            provider: NAME,
            message: format!("could not set up the HTTP client: {err}"),
            hint: None,
        })?;
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

    /// Send with retries and parse the JSON answer.
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
                expected: CREDENTIAL_NAMES,
            },
        }
    }

    /// Server details, or `None` on 404.
    async fn server(&self, id: &MachineId) -> Result<Option<model::Server>, ProviderError> {
        let action = format!("read server {id}");
        match self
            .call::<model::ServerEnvelope>(&request::server_details(id.as_str()), &action)
            .await
        {
            Ok(envelope) => Ok(Some(envelope.server)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Servers matching all labels, with details (the list answer has no addresses).
    async fn servers_with_labels(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> Result<Vec<Machine>, ProviderError> {
        let list: model::ServerList = self
            .call(&request::list_servers(labels), "list servers")
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

fn parse<T: DeserializeOwned>(body: &[u8], action: &str) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|err| ProviderError::InvalidResponse {
        provider: NAME,
        action: action.to_string(),
        detail: err.to_string(),
    })
}

impl Provider for Upcloud {
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
        self.servers_with_labels(&[(key, Some(value))]).await
    }

    async fn list(&self, service: &str) -> Result<Vec<Machine>, ProviderError> {
        self.servers_with_labels(&[(LABEL_SERVICE, Some(service))])
            .await
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
