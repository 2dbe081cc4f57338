//! Driving a cloud provider against its fake API, the steps the UpCloud and Hetzner tests
//! share: machine requests, many creates at once and the checks on what they made, and
//! `kamal-dev cost` runs with their price arithmetic. What each API was sent, and what each
//! price list says, stays in that provider's test file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use kamal_dev::provider::http::RetryPolicy;
use kamal_dev::provider::{
    AnyProvider, LABEL_ID, LABEL_MACHINE, LABEL_SERVICE, Machine, MachineRequest, MachineState,
    Provider as _,
};

use super::TestContext;

/// The plan, zone and SSH key a provider's test machines use.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub plan: &'static str,
    pub zone: &'static str,
    pub ssh_public_key: &'static str,
}

impl Site {
    /// Machine `index` of `service`: named `service-index`, idempotency key
    /// `key-service-index`, the key with a trailing newline (as read from a file).
    pub fn machine(&self, service: &str, index: u32) -> MachineRequest {
        MachineRequest {
            name: format!("{service}-{index}"),
            service: service.into(),
            plan: self.plan.into(),
            zone: self.zone.into(),
            os_image: None,
            ssh_public_key: format!("{}\n", self.ssh_public_key),
            user_data: None,
            idempotency_key: format!("key-{service}-{index}"),
            labels: BTreeMap::new(),
        }
    }

    /// Create and start machines 1 to `count` of `service` all at once; each must succeed.
    pub async fn create_all(
        &self,
        provider: &Arc<AnyProvider>,
        service: &str,
        count: u32,
    ) -> Vec<Machine> {
        let mut tasks = tokio::task::JoinSet::new();
        for index in 1..=count {
            let provider = provider.clone();
            let request = self.machine(service, index);
            tasks.spawn(async move {
                let created = provider.create_machine(&request).await?;
                provider
                    .wait_until_started(&created.id, Duration::from_secs(20))
                    .await
            });
        }
        let mut machines = Vec::new();
        while let Some(result) = tasks.join_next().await {
            machines.push(result.expect("task").expect("create and start"));
        }
        machines
    }

    /// Every machine runs in this site with its service and name labels, at its own address
    /// from the fake's list (127.0.0.10 and up).
    pub fn assert_running(&self, machines: &[Machine], service: &str) {
        let ips: BTreeSet<_> = machines
            .iter()
            .map(|m| m.public_ipv4.expect("ipv4"))
            .collect();
        assert_eq!(
            ips.len(),
            machines.len(),
            "distinct addresses from the fake's list"
        );
        assert!(
            ips.iter()
                .all(|ip| ip.octets()[..3] == [127, 0, 0] && ip.octets()[3] >= 10)
        );
        for m in machines {
            assert_eq!(m.state, MachineState::Running);
            assert_eq!(m.label(LABEL_SERVICE), Some(service));
            assert_eq!(m.label(LABEL_MACHINE), Some(m.name.as_str()));
            assert_eq!(m.plan, self.plan);
            assert_eq!(m.zone, self.zone);
        }
    }

    /// Create machines 1 to `count` of `lost` one after the other (the fake drops the answers);
    /// each is the machine of its idempotency key.
    pub async fn create_each_lost(&self, provider: &AnyProvider, count: u32) {
        for index in 1..=count {
            let created = provider
                .create_machine(&self.machine("lost", index))
                .await
                .expect("create");
            assert_eq!(
                created.label(LABEL_ID),
                Some(format!("key-lost-{index}").as_str())
            );
        }
    }
}

/// Quick retries for a fake on this machine.
pub fn quick_retries(max_retries: usize, max_delay_ms: u64) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(max_delay_ms),
    }
}

/// `config/dev.yml` for `count` machines (spread) of `provider` (`upcloud`, `hetzner`) on
/// `plan` in `zone`, its API at `api_url`.
pub fn dev_yml(provider: &str, api_url: &str, zone: &str, plan: &str, count: u32) -> String {
    format!(
        "service: app\nimage: ruby:3.3\nprovider:\n  type: {provider}\n  zone: {zone}\n  plan: {plan}\n  api_url: {api_url}\nvms:\n  count: {count}\n  spread: true\n"
    )
}

/// `kamal-dev cost ARGS` in `ctx`, with a cache folder of its own, none of the provider's
/// `variables` from the test's environment, and `credential` (name, value) when given.
pub fn run_cost(
    ctx: &TestContext,
    variables: &[&str],
    credential: Option<(&str, &str)>,
    args: &[&str],
) -> assert_cmd::assert::Assert {
    let mut cmd = ctx.command();
    cmd.arg("cost")
        .args(args)
        .env("XDG_CACHE_HOME", ctx.path().join("cache"));
    for variable in variables {
        cmd.env_remove(variable);
    }
    if let Some((name, value)) = credential {
        cmd.env(name, value);
    }
    cmd.assert()
}

/// `units` of 10^-`scale` currency as exact decimal text: trailing zeros trimmed, at least
/// two decimals.
pub fn exact(units: u128, scale: u32) -> String {
    let one = 10u128.pow(scale);
    let fraction = format!("{:0width$}", units % one, width = scale as usize);
    let trimmed = fraction.trim_end_matches('0');
    let shown = if trimmed.len() < 2 {
        &fraction[..2]
    } else {
        trimmed
    };
    format!("{}.{shown}", units / one)
}

/// `units` of 10^-`scale` currency rounded half up to `decimals` (2 or 4).
pub fn rounded(units: u128, scale: u32, decimals: u32) -> String {
    let step = 10u128.pow(scale - decimals);
    let value = (units + step / 2) / step;
    let one = 10u128.pow(decimals);
    format!(
        "{}.{:0width$}",
        value / one,
        value % one,
        width = decimals as usize
    )
}

/// [`rounded`] with the euro sign, as the cost table prints it.
pub fn euros(units: u128, scale: u32, decimals: u32) -> String {
    format!("€{}", rounded(units, scale, decimals))
}

/// The cells of the first row under a table's header line.
pub fn first_row(table: &str) -> Vec<&str> {
    table
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect()
}
