//! The [`Provider`](super::Provider) implementation the cloud providers (UpCloud, Hetzner)
//! share: each trait call goes to the inherent method of the same job, written in the
//! provider's own folder (`create`, `lifecycle`, `catalog`). Only the wiring lives here; no
//! API knowledge.

/// `impl Provider for $provider`, named `$name` in messages. `$provider` has these inherent
/// async methods returning `Result<_, ProviderError>`: `create`, `server` (by id, `None` when
/// gone; the API's server has `into_machine`), `servers_with_labels(&[(&str, &str)])`,
/// `start_server`, `stop_server`, `delete_server`, `wait_started`, `plan_list`, `zone_list`
/// and `zone_prices`.
macro_rules! cloud_provider {
    ($provider:ty, $name:expr) => {
        const _: () = {
            use std::time::Duration;

            use $crate::provider::{
                LABEL_SERVICE, Machine, MachineId, MachineRequest, PlanInfo, PriceQuote, Provider,
                ProviderError, ZoneInfo,
            };

            impl Provider for $provider {
                fn name(&self) -> &'static str {
                    $name
                }

                async fn create_machine(
                    &self,
                    request: &MachineRequest,
                ) -> Result<Machine, ProviderError> {
                    self.create(request).await
                }

                async fn get(&self, id: &MachineId) -> Result<Option<Machine>, ProviderError> {
                    Ok(self.server(id).await?.map(|server| server.into_machine()))
                }

                async fn find_by_label(
                    &self,
                    key: &str,
                    value: &str,
                ) -> Result<Vec<Machine>, ProviderError> {
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
        };
    };
}

pub(crate) use cloud_provider;
