//! The `ssh` provider: machines the user already has (`provider.hosts`), one machine per host,
//! named and identified by the host as written in the config. Nothing is provisioned,
//! started, stopped or destroyed and nothing is billed: `create_machine` hands back the listed
//! host, `stop` and `delete` succeed WITHOUT touching it (removing workspaces from a host is
//! the deploy workflow's job, over SSH, never this module's).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::{
    Machine, MachineId, MachineRequest, PlanInfo, PriceQuote, Provider, ProviderError, ZoneInfo,
};

const NAME: &str = "ssh";
/// Plan and zone reported for own hosts (they have neither).
pub const OWN_HOST: &str = "own-host";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssh {
    hosts: Vec<String>,
}

impl Ssh {
    /// `hosts` as listed in `provider.hosts` (addresses or names, optionally `host:port`).
    pub fn new(hosts: Vec<String>) -> Result<Ssh, ProviderError> {
        let hosts: Vec<String> = hosts
            .into_iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.is_empty() {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: "provider.hosts lists no hosts".into(),
                hint: Some("list the machines to use, for example `hosts: [192.0.2.10]`".into()),
            });
        }
        Ok(Ssh { hosts })
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Own hosts keep costing whatever they cost; kamal-dev bills nothing for them.
    pub fn bills_when_stopped(&self) -> bool {
        false
    }

    fn find(&self, host: &str) -> Option<&String> {
        self.hosts.iter().find(|h| h.as_str() == host)
    }

    fn not_listed(&self, host: &str) -> ProviderError {
        ProviderError::InvalidSetting {
            provider: NAME,
            message: format!("host {host:?} is not in provider.hosts"),
            hint: Some(format!(
                "the configured hosts are: {}; add it there to use it",
                self.hosts.join(", ")
            )),
        }
    }

    fn listed(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        self.find(id.as_str())
            .map(|h| machine(h))
            .ok_or_else(|| self.not_listed(id.as_str()))
    }
}

/// The host as a running machine; its IPv4 when the entry is an address (names are resolved
/// by whoever connects).
pub fn machine(host: &str) -> Machine {
    Machine::unmanaged(host, ipv4_of(host), OWN_HOST)
}

fn ipv4_of(host: &str) -> Option<Ipv4Addr> {
    let bare = host.rsplit_once('@').map_or(host, |(_, h)| h);
    bare.parse::<Ipv4Addr>()
        .ok()
        .or_else(|| match bare.parse::<SocketAddr>().ok()? {
            SocketAddr::V4(addr) => Some(*addr.ip()),
            SocketAddr::V6(_) => None,
        })
}

impl Provider for Ssh {
    fn name(&self) -> &'static str {
        NAME
    }

    /// The listed host named by `request.name` (the deploy plan names ssh machines after
    /// their host); nothing is created.
    async fn create_machine(&self, request: &MachineRequest) -> Result<Machine, ProviderError> {
        self.listed(&MachineId(request.name.clone()))
    }

    async fn get(&self, id: &MachineId) -> Result<Option<Machine>, ProviderError> {
        Ok(self.find(id.as_str()).map(|h| machine(h)))
    }

    /// Own hosts carry no labels.
    async fn find_by_label(&self, _key: &str, _value: &str) -> Result<Vec<Machine>, ProviderError> {
        Ok(Vec::new())
    }

    async fn list(&self, _service: &str) -> Result<Vec<Machine>, ProviderError> {
        Ok(self.hosts.iter().map(|h| machine(h)).collect())
    }

    async fn start(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        self.listed(id)
    }

    /// Hosts are never powered off by kamal-dev.
    async fn stop(&self, id: &MachineId) -> Result<(), ProviderError> {
        self.listed(id).map(|_| ())
    }

    /// A no-op that succeeds: the host is the user's and is never destroyed. Even a host no
    /// longer listed counts as deleted, so `remove` can clean up state for it.
    async fn delete(&self, _id: &MachineId) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn wait_until_started(
        &self,
        id: &MachineId,
        _deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        self.listed(id)
    }

    async fn plans(&self) -> Result<Vec<PlanInfo>, ProviderError> {
        Ok(Vec::new())
    }

    async fn zones(&self) -> Result<Vec<ZoneInfo>, ProviderError> {
        Ok(vec![ZoneInfo {
            id: OWN_HOST.into(),
            description: "hosts listed in provider.hosts".into(),
            public: false,
        }])
    }

    async fn prices(&self, zone: &str) -> Result<PriceQuote, ProviderError> {
        Ok(PriceQuote::free(zone, OWN_HOST))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cost::Money;
    use crate::provider::{MachineState, PriceSource};

    fn ssh() -> Ssh {
        Ssh::new(vec![
            "192.0.2.10".into(),
            " box.example ".into(),
            "127.0.0.5:2222".into(),
        ])
        .unwrap()
    }

    fn request(name: &str) -> MachineRequest {
        MachineRequest {
            name: name.into(),
            service: "app".into(),
            plan: String::new(),
            zone: String::new(),
            os_image: None,
            ssh_public_key: String::new(),
            user_data: None,
            idempotency_key: "k".into(),
            labels: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn create_returns_the_listed_host_running() {
        let ssh = ssh();
        let machine = ssh.create_machine(&request("192.0.2.10")).await.unwrap();
        assert_eq!(machine.name, "192.0.2.10");
        assert_eq!(machine.id.as_str(), "192.0.2.10");
        assert_eq!(machine.state, MachineState::Running);
        assert_eq!(machine.public_ipv4, Some(Ipv4Addr::new(192, 0, 2, 10)));
        let named = ssh.create_machine(&request("box.example")).await.unwrap();
        assert_eq!(named.public_ipv4, None, "names are not resolved here");
        let with_port = ssh.get(&"127.0.0.5:2222".into()).await.unwrap().unwrap();
        assert_eq!(with_port.public_ipv4, Some(Ipv4Addr::new(127, 0, 0, 5)));
    }

    #[tokio::test]
    async fn unlisted_hosts_are_refused_not_created() {
        let ssh = ssh();
        let err = ssh.create_machine(&request("app-1")).await.unwrap_err();
        assert!(err.to_string().contains("not in provider.hosts"), "{err}");
        assert!(ssh.get(&"app-1".into()).await.unwrap().is_none());
        assert!(ssh.start(&"app-1".into()).await.is_err());
    }

    #[tokio::test]
    async fn list_stop_delete_and_prices_touch_nothing() {
        let ssh = ssh();
        let listed = ssh.list("app").await.unwrap();
        assert_eq!(
            listed.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
            ["192.0.2.10", "box.example", "127.0.0.5:2222"]
        );
        assert!(
            ssh.find_by_label("kamal-dev", "app")
                .await
                .unwrap()
                .is_empty()
        );
        ssh.stop(&"192.0.2.10".into()).await.unwrap();
        ssh.delete(&"192.0.2.10".into()).await.unwrap();
        ssh.delete(&"gone.example".into()).await.unwrap();
        // Still listed and running: delete did not remove anything.
        assert_eq!(ssh.list("app").await.unwrap().len(), 3);
        let quote = ssh.prices(OWN_HOST).await.unwrap();
        assert_eq!(quote.source, PriceSource::Free);
        assert_eq!(quote.prices.plans[OWN_HOST].price, Money::ZERO);
        assert!(!ssh.bills_when_stopped());
    }

    #[test]
    fn needs_at_least_one_host() {
        assert!(Ssh::new(vec![" ".into()]).is_err());
    }
}
