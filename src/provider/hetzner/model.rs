//! Hetzner Cloud API answer shapes (only the fields kamal-dev reads; everything else is
//! ignored) and their mapping onto the provider's domain types. Pure: no I/O.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::cost::{FleetEstimate, Money};
use crate::provider::{LABEL_MACHINE, Machine, MachineId, MachineState, PlanInfo, ZoneInfo};

#[derive(Debug, Clone, Deserialize)]
pub struct Server {
    pub id: u64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub public_net: Option<PublicNet>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub server_type: Option<Named>,
    /// 2026 field; older answers only have `datacenter.location`.
    #[serde(default)]
    pub location: Option<Named>,
    #[serde(default)]
    pub datacenter: Option<Datacenter>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PublicNet {
    #[serde(default)]
    pub ipv4: Option<Ipv4>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Ipv4 {
    pub ip: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Datacenter {
    pub location: Named,
}

impl Server {
    pub fn machine_state(&self) -> MachineState {
        state_of(&self.status)
    }

    pub fn into_machine(self) -> Machine {
        let state = self.machine_state();
        let zone = self
            .location
            .map(|l| l.name)
            .or(self.datacenter.map(|d| d.location.name))
            .unwrap_or_default();
        // The server name is the machine name made a valid hostname; the label keeps it as given.
        let name = self.labels.get(LABEL_MACHINE).cloned().unwrap_or(self.name);
        Machine {
            id: MachineId(self.id.to_string()),
            name,
            state,
            public_ipv4: self
                .public_net
                .and_then(|net| net.ipv4)
                .and_then(|ipv4| ipv4.ip.parse::<Ipv4Addr>().ok()),
            labels: self.labels,
            plan: self.server_type.map(|t| t.name).unwrap_or_default(),
            zone,
            created_at: self.created.as_deref().and_then(parse_time),
        }
    }
}

/// Hetzner server `status` onto the domain's states.
pub fn state_of(status: &str) -> MachineState {
    match status {
        "running" => MachineState::Running,
        "off" => MachineState::Stopped,
        "initializing" | "starting" | "stopping" | "deleting" | "migrating" | "rebuilding" => {
            MachineState::Pending
        }
        _ => MachineState::Unknown,
    }
}

/// RFC 3339 with `Z` or an offset (the docs show both).
fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok()
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerEnvelope {
    pub server: Server,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerList {
    pub servers: Vec<Server>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Pagination {
    #[serde(default)]
    pub next_page: Option<u32>,
}

/// The page after this one, if the answer says there is one.
pub fn next_page(meta: Option<&Meta>) -> Option<u32> {
    meta.and_then(|m| m.pagination.next_page)
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreateServerResponse {
    pub server: Server,
    pub action: Action,
    #[serde(default)]
    pub next_actions: Vec<Action>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Action {
    pub id: u64,
    pub command: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<ActionError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ActionEnvelope {
    pub action: Action,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SshKey {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SshKeyList {
    pub ssh_keys: Vec<SshKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SshKeyEnvelope {
    pub ssh_key: SshKey,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerTypeList {
    pub server_types: Vec<ServerType>,
    #[serde(default)]
    pub meta: Option<Meta>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerType {
    pub name: String,
    pub cores: u32,
    /// GB, fractional for small types.
    pub memory: f64,
    pub disk: u64,
    #[serde(default)]
    pub storage_type: String,
    #[serde(default)]
    pub prices: Vec<LocationPrice>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocationPrice {
    pub location: String,
    pub price_hourly: NetGrossText,
    pub price_monthly: NetGrossText,
    #[serde(default)]
    pub included_traffic: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NetGrossText {
    pub net: String,
    pub gross: String,
}

impl ServerType {
    pub fn to_plan(&self) -> PlanInfo {
        // Memory is a GB float in the API (0.5, 2, 4); MiB are whole numbers for every type.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let memory_mib = (self.memory.max(0.0) * 1024.0).round() as u64;
        PlanInfo {
            name: self.name.clone(),
            cores: self.cores,
            memory_mib,
            storage_gb: self.disk,
            storage_tier: self.storage_type.clone(),
            traffic_out_gb: self
                .prices
                .first()
                .and_then(|p| p.included_traffic)
                .map(|bytes| bytes / 1_000_000_000),
        }
    }
}

/// An amount with and without VAT, as the price list gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetGross {
    pub net: Money,
    pub gross: Money,
}

/// One server type's price in one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTypePrice {
    pub server_type: String,
    pub location: String,
    /// Per started hour.
    pub hourly: NetGross,
    /// The most one server is billed in a month (the hourly charges stop there).
    pub monthly: NetGross,
}

impl ServerTypePrice {
    /// `machines` servers of this type: (net, gross). Monthly is the monthly price, which is
    /// where Hetzner stops charging hours, not hours times a cap.
    pub fn fleet(&self, machines: u64) -> (FleetEstimate, FleetEstimate) {
        let estimate = |hourly: Money, monthly: Money| FleetEstimate {
            machines,
            hourly_each: hourly,
            hourly_total: hourly.saturating_mul(machines),
            monthly_each: monthly,
            monthly_total: monthly.saturating_mul(machines),
        };
        (
            estimate(self.hourly.net, self.monthly.net),
            estimate(self.hourly.gross, self.monthly.gross),
        )
    }
}

/// Every (server type, location) price in the list. Entries whose amounts do not parse are
/// skipped with their names returned, so one odd entry does not hide the rest.
pub fn server_type_prices(types: &[ServerType]) -> (Vec<ServerTypePrice>, Vec<String>) {
    let mut prices = Vec::new();
    let mut broken = Vec::new();
    for server_type in types {
        for price in &server_type.prices {
            let parsed = (|| {
                Some(ServerTypePrice {
                    server_type: server_type.name.clone(),
                    location: price.location.clone(),
                    hourly: NetGross {
                        net: money(&price.price_hourly.net)?,
                        gross: money(&price.price_hourly.gross)?,
                    },
                    monthly: NetGross {
                        net: money(&price.price_monthly.net)?,
                        gross: money(&price.price_monthly.gross)?,
                    },
                })
            })();
            match parsed {
                Some(p) => prices.push(p),
                None => broken.push(format!("{}@{}", server_type.name, price.location)),
            }
        }
    }
    (prices, broken)
}

/// A decimal amount in currency units (`"1.1900000000000000"`) as [`Money`]: shifted to cents
/// in the text, so no float ever touches it. Exact to a millionth of a cent; finer digits
/// (none in real price lists) round half up.
pub fn money(text: &str) -> Option<Money> {
    let text = text.trim();
    if text.is_empty() || text.contains(['e', 'E']) {
        return None;
    }
    Money::from_cents_decimal(&format!("{text}e2"))
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocationList {
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Location {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub city: String,
}

impl Location {
    pub fn into_info(self) -> ZoneInfo {
        let description = match (self.city.is_empty(), self.description.is_empty()) {
            (false, false) => format!("{} ({})", self.city, self.description),
            (false, true) => self.city,
            _ => self.description,
        };
        ZoneInfo {
            id: self.name,
            description,
            public: true,
        }
    }
}

/// The MD5 fingerprint Hetzner files a key under (`b7:2f:…`), from an OpenSSH public-key line
/// (`type base64 [comment]`). `None` when the line is not one.
pub fn md5_fingerprint(public_key: &str) -> Option<String> {
    use base64::Engine as _;
    use md5::Digest as _;
    let blob = public_key.split_whitespace().nth(1)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .ok()?;
    let digest = md5::Md5::digest(&bytes);
    Some(
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_parse_exactly() {
        assert_eq!(money("1.0000000000").unwrap().micro_cents(), 100_000_000);
        assert_eq!(
            money("1.1900000000000000").unwrap().micro_cents(),
            119_000_000
        );
        assert_eq!(money("0.0064").unwrap().exact(), "0.0064");
        assert_eq!(money("3.99").unwrap().exact(), "3.99");
        assert_eq!(money("0.00761600").unwrap().exact(), "0.007616");
        for bad in ["", "-1", "1e3", "abc", "1,5"] {
            assert_eq!(money(bad), None, "{bad}");
        }
    }

    #[test]
    fn fleet_uses_the_monthly_price_not_an_hour_cap() {
        let price = ServerTypePrice {
            server_type: "cx23".into(),
            location: "fsn1".into(),
            hourly: NetGross {
                net: money("0.0064").unwrap(),
                gross: money("0.007616").unwrap(),
            },
            monthly: NetGross {
                net: money("3.99").unwrap(),
                gross: money("4.7481").unwrap(),
            },
        };
        let (net, gross) = price.fleet(3);
        assert_eq!(net.hourly_total.exact(), "0.0192");
        assert_eq!(net.monthly_each.exact(), "3.99");
        assert_eq!(net.monthly_total.exact(), "11.97");
        assert_eq!(gross.hourly_each.exact(), "0.007616");
        assert_eq!(gross.monthly_total.exact(), "14.2443");
    }

    #[test]
    fn statuses_map_to_domain_states() {
        assert_eq!(state_of("running"), MachineState::Running);
        assert_eq!(state_of("off"), MachineState::Stopped);
        assert_eq!(state_of("initializing"), MachineState::Pending);
        assert_eq!(state_of("stopping"), MachineState::Pending);
        assert_eq!(state_of("weird"), MachineState::Unknown);
    }

    #[test]
    fn fingerprint_is_md5_of_the_key_blob() {
        // MD5 of the bytes "abc" (base64 YWJj).
        assert_eq!(
            md5_fingerprint("ssh-ed25519 YWJj me@host").as_deref(),
            Some("90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72")
        );
        assert_eq!(md5_fingerprint("not-a-key"), None);
        assert_eq!(md5_fingerprint("ssh-ed25519 !!!"), None);
    }

    #[test]
    fn server_maps_location_from_either_field() {
        let old: Server = serde_json::from_value(serde_json::json!({
            "id": 42, "name": "a", "status": "off",
            "datacenter": {"location": {"name": "nbg1"}},
            "public_net": {"ipv4": null},
            "created": "2016-01-30T23:55:00+00:00"
        }))
        .unwrap();
        let machine = old.into_machine();
        assert_eq!(machine.zone, "nbg1");
        assert_eq!(machine.name, "a");
        assert_eq!(machine.state, MachineState::Stopped);
        assert_eq!(machine.public_ipv4, None);
        assert!(machine.created_at.is_some());
    }
}
