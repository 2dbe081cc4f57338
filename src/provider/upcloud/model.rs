//! UpCloud API 1.3 response shapes and their mapping to domain types. Lenient where the API is
//! inconsistent: lists are double-wrapped (`{"servers":{"server":[…]}}`), numbers may be
//! strings, labels may be wrapped or bare. Unknown fields are ignored (one-time passwords in
//! create responses are never read). Pure: parsing only.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer};

use crate::cost::{Money, Rate, ZonePrices};
use crate::provider::{Machine, MachineId, MachineState, PlanInfo, ZoneInfo};

#[derive(Debug, Deserialize)]
pub struct ServerEnvelope {
    pub server: Server,
}

#[derive(Debug, Deserialize)]
pub struct ServerList {
    pub servers: Wrapped<Server>,
}

/// `{"server": […]}`-style wrapper; the item key differs per list, so accept any single key.
#[derive(Debug)]
pub struct Wrapped<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Wrapped<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape<T> {
            Bare(Vec<T>),
            Keyed(BTreeMap<String, Option<Vec<T>>>),
            Null(()),
        }
        Ok(match Shape::<T>::deserialize(deserializer)? {
            Shape::Bare(items) => Wrapped(items),
            Shape::Keyed(map) => Wrapped(map.into_values().flatten().flatten().collect()),
            Shape::Null(()) => Wrapped(Vec::new()),
        })
    }
}

impl<T> Default for Wrapped<T> {
    fn default() -> Self {
        Wrapped(Vec::new())
    }
}

#[derive(Debug, Deserialize)]
pub struct Server {
    pub uuid: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub hostname: String,
    pub state: String,
    #[serde(default)]
    pub zone: String,
    #[serde(default)]
    pub plan: String,
    #[serde(default)]
    pub labels: Wrapped<Label>,
    #[serde(default)]
    pub ip_addresses: Wrapped<IpAddress>,
    #[serde(default)]
    pub networking: Option<Networking>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub core_number: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub memory_amount: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Label {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub struct IpAddress {
    #[serde(default)]
    pub access: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Networking {
    #[serde(default)]
    pub interfaces: Wrapped<Interface>,
}

#[derive(Debug, Deserialize)]
pub struct Interface {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub ip_addresses: Wrapped<IpAddress>,
}

impl Server {
    /// The public IPv4: from `ip_addresses` (access public, family IPv4), else from the public
    /// interface of `networking`. Absent in list responses.
    pub fn public_ipv4(&self) -> Option<Ipv4Addr> {
        let from_addresses = self.ip_addresses.0.iter().find_map(|ip| {
            (ip.access.as_deref() == Some("public") && ip.family.as_deref() == Some("IPv4"))
                .then(|| ip.address.as_deref()?.parse().ok())
                .flatten()
        });
        from_addresses.or_else(|| {
            self.networking
                .as_ref()?
                .interfaces
                .0
                .iter()
                .find_map(|interface| {
                    if interface.kind != "public" {
                        return None;
                    }
                    interface.ip_addresses.0.iter().find_map(|ip| {
                        (ip.family.as_deref() == Some("IPv4"))
                            .then(|| ip.address.as_deref()?.parse().ok())
                            .flatten()
                    })
                })
        })
    }

    pub fn machine_state(&self) -> MachineState {
        state_of(&self.state)
    }

    pub fn into_machine(self) -> Machine {
        let public_ipv4 = self.public_ipv4();
        Machine {
            id: MachineId(self.uuid),
            name: self.title,
            state: state_of(&self.state),
            public_ipv4,
            labels: self
                .labels
                .0
                .into_iter()
                .map(|l| (l.key, l.value))
                .collect(),
            plan: self.plan,
            zone: self.zone,
            created_at: self
                .created
                .and_then(|secs| jiff::Timestamp::from_second(secs).ok()),
        }
    }
}

/// UpCloud's state words -> the domain state.
pub fn state_of(state: &str) -> MachineState {
    match state {
        "started" => MachineState::Running,
        "stopped" => MachineState::Stopped,
        "maintenance" => MachineState::Pending,
        "error" => MachineState::Error,
        _ => MachineState::Unknown,
    }
}

#[derive(Debug, Deserialize)]
pub struct PlanList {
    pub plans: Wrapped<Plan>,
}

#[derive(Debug, Deserialize)]
pub struct Plan {
    pub name: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub core_number: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub memory_amount: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub storage_size: Option<u64>,
    #[serde(default)]
    pub storage_tier: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub public_traffic_out: Option<u64>,
}

impl Plan {
    pub fn into_info(self) -> PlanInfo {
        PlanInfo {
            name: self.name,
            cores: self
                .core_number
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            memory_mib: self.memory_amount.unwrap_or(0),
            storage_gb: self.storage_size.unwrap_or(0),
            storage_tier: self.storage_tier.unwrap_or_else(|| "maxiops".into()),
            traffic_out_gb: self.public_traffic_out,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ZoneList {
    pub zones: Wrapped<Zone>,
}

#[derive(Debug, Deserialize)]
pub struct Zone {
    pub id: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub public: Option<String>,
}

impl Zone {
    pub fn into_info(self) -> ZoneInfo {
        ZoneInfo {
            public: self.public.as_deref() != Some("no"),
            id: self.id,
            description: self.description,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TemplateList {
    pub storages: Wrapped<Template>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Template {
    pub uuid: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub template_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PriceList {
    pub prices: Wrapped<BTreeMap<String, serde_json::Value>>,
}

/// One zone's raw price items -> [`ZonePrices`]. Prices are read from the JSON number's text
/// so no float arithmetic touches money.
pub fn zone_prices(zone: &BTreeMap<String, serde_json::Value>) -> Option<ZonePrices> {
    let name = zone.get("name")?.as_str()?.to_string();
    let mut prices = ZonePrices {
        zone: name,
        ..ZonePrices::default()
    };
    for (key, value) in zone {
        let Some(rate) = rate_of(value) else {
            continue;
        };
        if let Some(plan) = key.strip_prefix("server_plan_") {
            prices.plans.insert(plan.to_string(), rate);
        } else if let Some(tier) = key.strip_prefix("storage_") {
            if matches!(tier, "maxiops" | "standard" | "hdd") {
                prices.storage.insert(tier.to_string(), rate);
            }
        } else if key == "ipv4_address" {
            prices.ipv4_address = Some(rate);
        }
    }
    Some(prices)
}

fn rate_of(value: &serde_json::Value) -> Option<Rate> {
    let object = value.as_object()?;
    let amount = match object.get("amount") {
        Some(serde_json::Value::Number(n)) => n.as_u64()?,
        Some(serde_json::Value::String(s)) => s.parse().ok()?,
        _ => 1,
    };
    let price = match object.get("price")? {
        serde_json::Value::Number(n) => Money::from_cents_decimal(&n.to_string())?,
        serde_json::Value::String(s) => Money::from_cents_decimal(s)?,
        _ => return None,
    };
    Some(Rate { amount, price })
}

/// A number that may be sent as `1` or `"1"`.
fn lenient_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(u64),
        Text(String),
        Null(()),
    }
    Ok(match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => Some(n),
        NumberOrString::Text(text) => text.trim().parse().ok(),
        NumberOrString::Null(()) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrapped_and_bare_labels_and_string_numbers() {
        let text = r#"{"server":{"uuid":"00aa","title":"t","state":"maintenance","zone":"fi-hel2",
            "plan":"1xCPU-2GB","core_number":"1","memory_amount":2048,"created":1666609570,
            "labels":{"label":[{"key":"kamal-dev","value":"app"}]},
            "ip_addresses":{"ip_address":[{"access":"utility","address":"10.0.0.1","family":"IPv4"},
              {"access":"public","address":"94.237.106.241","family":"IPv4"}]}}}"#;
        let server: ServerEnvelope = serde_json::from_str(text).unwrap();
        assert_eq!(server.server.core_number, Some(1));
        assert_eq!(server.server.memory_amount, Some(2048));
        let machine = server.server.into_machine();
        assert_eq!(machine.state, MachineState::Pending);
        assert_eq!(machine.public_ipv4, Some(Ipv4Addr::new(94, 237, 106, 241)));
        assert_eq!(machine.label("kamal-dev"), Some("app"));
        assert_eq!(machine.created_at.unwrap().as_second(), 1_666_609_570);

        let bare: Server = serde_json::from_str(
            r#"{"uuid":"1","state":"started","labels":[{"key":"_os","value":"linux"}]}"#,
        )
        .unwrap();
        assert_eq!(bare.labels.0.len(), 1);
        let empty: ServerList = serde_json::from_str(r#"{"servers":{"server":[]}}"#).unwrap();
        assert!(empty.servers.0.is_empty());
    }

    #[test]
    fn public_ipv4_falls_back_to_networking() {
        let text = r#"{"uuid":"1","state":"started","networking":{"interfaces":{"interface":[
            {"type":"utility","ip_addresses":{"ip_address":[{"address":"10.1.1.1","family":"IPv4"}]}},
            {"type":"public","ip_addresses":{"ip_address":[{"address":"2a04::1","family":"IPv6"},{"address":"5.6.7.8","family":"IPv4"}]}}]}}}"#;
        let server: Server = serde_json::from_str(text).unwrap();
        assert_eq!(server.public_ipv4(), Some(Ipv4Addr::new(5, 6, 7, 8)));
    }

    #[test]
    fn states_map_to_domain() {
        assert_eq!(state_of("started"), MachineState::Running);
        assert_eq!(state_of("stopped"), MachineState::Stopped);
        assert_eq!(state_of("maintenance"), MachineState::Pending);
        assert_eq!(state_of("error"), MachineState::Error);
        assert_eq!(state_of("melting"), MachineState::Unknown);
    }

    #[test]
    fn prices_keep_fractional_cents() {
        let text = r#"{"prices":{"zone":[{"name":"de-fra1",
            "server_plan_1xCPU-2GB":{"amount":1,"price":1.488},
            "server_plan_12xCPU-48GB":{"amount":1,"price":35.7142},
            "storage_maxiops":{"amount":1,"price":0.031},
            "storage_template":{"amount":1,"price":0.031},
            "ipv4_address":{"amount":1,"price":0.336},
            "server_memory":{"amount":256,"price":0.14}}]}}"#;
        let list: PriceList = serde_json::from_str(text).unwrap();
        let zone = zone_prices(&list.prices.0[0]).unwrap();
        assert_eq!(zone.zone, "de-fra1");
        assert_eq!(zone.plans["1xCPU-2GB"].price.micro_cents(), 1_488_000);
        assert_eq!(zone.plans["12xCPU-48GB"].price.micro_cents(), 35_714_200);
        assert_eq!(zone.storage.keys().collect::<Vec<_>>(), ["maxiops"]);
        assert_eq!(zone.ipv4_address.unwrap().price.micro_cents(), 336_000);
    }
}
