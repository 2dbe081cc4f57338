//! Domain types every provider speaks: machines, their state, what to create, the catalog.
//! No provider's JSON appears here; each provider maps its API shapes onto these.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use jiff::Timestamp;

use crate::cost::{Money, Rate, ZonePrices};

/// Label key: the service a machine belongs to.
pub const LABEL_SERVICE: &str = "kamal-dev";
/// Label key: the machine's name.
pub const LABEL_MACHINE: &str = "kamal-dev-machine";
/// Label key: the idempotency key of the create request, so a create whose answer was lost can
/// be found instead of repeated.
pub const LABEL_ID: &str = "kamal-dev-id";

/// A provider's identifier of a machine (UpCloud: the server UUID).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MachineId(pub String);

impl MachineId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MachineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for MachineId {
    fn from(value: &str) -> Self {
        MachineId(value.to_string())
    }
}

/// The lifecycle state of a machine, whatever the provider calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineState {
    /// Being created, started, stopped or changed (UpCloud `maintenance`).
    Pending,
    Running,
    Stopped,
    /// The provider reports an error state.
    Error,
    /// A state this version of kamal-dev does not know.
    Unknown,
}

impl MachineState {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Pending => "pending",
            MachineState::Running => "running",
            MachineState::Stopped => "stopped",
            MachineState::Error => "error",
            MachineState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A machine as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub id: MachineId,
    pub name: String,
    pub state: MachineState,
    pub public_ipv4: Option<Ipv4Addr>,
    pub labels: BTreeMap<String, String>,
    pub plan: String,
    pub zone: String,
    pub created_at: Option<Timestamp>,
}

impl Machine {
    /// A machine kamal-dev neither creates nor bills (this host, an own server): running, no
    /// labels, `kind` as its plan and zone, identified by its name.
    pub fn unmanaged(name: &str, public_ipv4: Option<Ipv4Addr>, kind: &str) -> Machine {
        Machine {
            id: MachineId(name.to_string()),
            name: name.to_string(),
            state: MachineState::Running,
            public_ipv4,
            labels: BTreeMap::new(),
            plan: kind.to_string(),
            zone: kind.to_string(),
            created_at: None,
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// Everything needed to create one machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineRequest {
    /// Machine name: becomes the title and (sanitised) hostname.
    pub name: String,
    /// The service it belongs to (the `kamal-dev` label).
    pub service: String,
    pub plan: String,
    pub zone: String,
    /// OS image / template name; `None` = the provider's default (UpCloud: Ubuntu 24.04 LTS).
    pub os_image: Option<String>,
    /// One OpenSSH public-key line, authorised for root.
    pub ssh_public_key: String,
    /// cloud-init user data; `None` = [`crate::provider::cloud_init::DEFAULT_USER_DATA`].
    pub user_data: Option<String>,
    /// Unique per intended machine (a UUID the caller records before creating). A retried
    /// create with the same key returns the machine made the first time.
    pub idempotency_key: String,
    /// Extra labels; the three `kamal-dev*` labels are always added.
    pub labels: BTreeMap<String, String>,
}

impl MachineRequest {
    /// The labels the machine carries: the extra ones plus service, name and idempotency key.
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert(LABEL_SERVICE.into(), self.service.clone());
        labels.insert(LABEL_MACHINE.into(), self.name.clone());
        labels.insert(LABEL_ID.into(), self.idempotency_key.clone());
        labels
    }
}

/// A machine size on offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInfo {
    pub name: String,
    pub cores: u32,
    pub memory_mib: u64,
    /// The disk the plan includes, in GB, and its tier.
    pub storage_gb: u64,
    pub storage_tier: String,
    /// Outgoing traffic included per month, in GB, when the provider says.
    pub traffic_out_gb: Option<u64>,
}

/// A data-center zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    pub id: String,
    pub description: String,
    pub public: bool,
}

/// Where a price list came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceSource {
    /// Fetched from the provider just now.
    Live,
    /// From the local cache, younger than a day.
    Cache { fetched_at: Timestamp },
    /// From an older cache because the provider could not be asked; `reason` says why.
    StaleCache {
        fetched_at: Timestamp,
        reason: String,
    },
    /// The provider has no prices (local machine, own hosts): everything costs zero.
    Free,
}

/// A zone's prices and where they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceQuote {
    pub prices: ZonePrices,
    pub source: PriceSource,
}

impl PriceQuote {
    /// `plan` at zero cost in `zone`: machines kamal-dev does not bill.
    pub fn free(zone: &str, plan: &str) -> PriceQuote {
        PriceQuote {
            prices: ZonePrices {
                zone: zone.to_string(),
                plans: BTreeMap::from([(
                    plan.to_string(),
                    Rate {
                        amount: 1,
                        price: Money::ZERO,
                    },
                )]),
                storage: BTreeMap::new(),
                ipv4_address: None,
            },
            source: PriceSource::Free,
        }
    }
}
