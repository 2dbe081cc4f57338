//! The `local` provider: this host, as one machine named `localhost` that always runs and costs
//! nothing. It provisions nothing, and stop/delete never touch the host itself.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::{
    Machine, MachineId, MachineRequest, PlanInfo, PriceQuote, Provider, ProviderError, ZoneInfo,
};

/// The id, name, plan and zone of the one local machine.
pub const LOCALHOST: &str = "localhost";

#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Local {
    pub fn machine() -> Machine {
        Machine::unmanaged(LOCALHOST, Some(Ipv4Addr::LOCALHOST), LOCALHOST)
    }

    fn lookup(id: &MachineId) -> Result<Machine, ProviderError> {
        if id.as_str() == LOCALHOST {
            Ok(Local::machine())
        } else {
            Err(ProviderError::Unsupported {
                provider: "local",
                what: format!("find machine {id}: the only local machine is {LOCALHOST}"),
            })
        }
    }
}

impl Provider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn create_machine(&self, _request: &MachineRequest) -> Result<Machine, ProviderError> {
        Ok(Local::machine())
    }

    async fn get(&self, id: &MachineId) -> Result<Option<Machine>, ProviderError> {
        Ok((id.as_str() == LOCALHOST).then(Local::machine))
    }

    async fn find_by_label(&self, _key: &str, _value: &str) -> Result<Vec<Machine>, ProviderError> {
        Ok(Vec::new())
    }

    async fn list(&self, _service: &str) -> Result<Vec<Machine>, ProviderError> {
        Ok(vec![Local::machine()])
    }

    async fn start(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        Local::lookup(id)
    }

    async fn stop(&self, id: &MachineId) -> Result<(), ProviderError> {
        Local::lookup(id).map(|_| ())
    }

    async fn delete(&self, id: &MachineId) -> Result<(), ProviderError> {
        Local::lookup(id).map(|_| ())
    }

    async fn wait_until_started(
        &self,
        id: &MachineId,
        _deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        Local::lookup(id)
    }

    async fn plans(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        Ok(Vec::new())
    }

    async fn zones(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        Ok(vec![ZoneInfo {
            id: LOCALHOST.into(),
            description: "this machine".into(),
            public: false,
        }])
    }

    async fn prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        Ok(PriceQuote::free(zone, LOCALHOST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Money;
    use crate::provider::MachineState;

    #[tokio::test]
    async fn local_is_one_free_running_machine() {
        let local = Local;
        let machines = local.list("app").await.unwrap();
        assert_eq!(machines.len(), 1);
        assert_eq!(machines[0].state, MachineState::Running);
        assert!(local.get(&"elsewhere".into()).await.unwrap().is_none());
        assert!(local.delete(&"elsewhere".into()).await.is_err());
        local.delete(&LOCALHOST.into()).await.unwrap();
        let quote = local.prices(LOCALHOST).await.unwrap();
        assert_eq!(quote.prices.plans[LOCALHOST].price, Money::ZERO);
    }
}
