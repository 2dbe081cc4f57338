//! `kamal-dev cost`: hourly and monthly cost of the configured fleet (`vms.count` machines of
//! `provider.plan` in `provider.zone`), from the provider's price list. Figures come from
//! `cost` (integer math); this file only fetches prices and renders them.

use clap::Args as ClapArgs;
use serde_json::json;

use super::Context;
use crate::config::{Config, ProviderKind};
use crate::cost::{self, Extras, FleetEstimate, MONTHLY_HOURS_CAP};
use crate::deploy::fleet::Fleet as Project;
use crate::error::{Error, ExitStatus};
use crate::output::table;
use crate::provider::{AnyProvider, PriceSource, Provider as _};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Output format
    #[arg(long, value_enum, default_value_t = CostFormat::Table)]
    pub format: CostFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CostFormat {
    Table,
    Json,
}

/// The priced fleet, ready to render.
struct Fleet {
    provider: &'static str,
    zone: String,
    plan: String,
    estimate: FleetEstimate,
    /// Hetzner: the same figures with VAT (`estimate` is then net).
    gross: Option<FleetEstimate>,
    source: PriceSource,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    // Opening the project gives the provider its credentials from the secrets files (or the
    // environment) and the state file for what runs now.
    let project = Project::open(settings, "cost")?;
    let config = project.config();
    let fleet = match config.provider.kind {
        ProviderKind::Upcloud => priced_fleet(config, &project.provider).await?,
        ProviderKind::Local | ProviderKind::Ssh => Fleet {
            provider: config.provider.kind.name(),
            zone: "-".into(),
            plan: "-".into(),
            estimate: cost::fleet_estimate(machine_count(config), cost::Money::ZERO),
            gross: None,
            source: PriceSource::Free,
        },
        ProviderKind::Hetzner => hetzner_fleet(config, &project.provider).await?,
    };
    let running = running_now(&project).await?;
    if let PriceSource::StaleCache { fetched_at, reason } = &fleet.source {
        ctx.printer.warn(format!(
            "using prices cached at {fetched_at}; the price list could not be refreshed: {reason}"
        ));
    }
    match args.format {
        CostFormat::Json => {
            let mut value: serde_json::Value =
                serde_json::from_str(&render_json(&fleet)).unwrap_or_default();
            if let (Some(object), Some(running)) = (value.as_object_mut(), &running) {
                object.insert("running".into(), running_json(running));
            }
            ctx.printer.data(value.to_string());
        }
        CostFormat::Table => {
            ctx.printer.data(render_table(&fleet));
            ctx.printer.info(footnote(&fleet));
            if let Some(running) = &running {
                ctx.printer.data("");
                ctx.printer.data(render_running(running));
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// What the machines recorded in the state cost so far (cloud providers only).
pub(crate) async fn running_now(project: &Project) -> Result<Option<cost::RunningCost>, Error> {
    if !project.config().provider.kind.is_cloud() {
        return Ok(None);
    }
    let state = project.read_state().await?;
    let mut machines = Vec::new();
    let mut zones: std::collections::BTreeMap<String, cost::ZonePrices> =
        std::collections::BTreeMap::new();
    for (name, machine) in &state.machines {
        let (Some(zone), Some(plan)) = (&machine.zone, &machine.plan) else {
            continue;
        };
        if machine.id.is_none() {
            continue;
        }
        // The price quoted when the machine was created, when recorded (older state files
        // lack it: then the current price list).
        let hourly = if let Some(price) = &machine.price {
            cost::Money::from_micro_cents(price.hourly_micros.saturating_mul(100))
        } else {
            if !zones.contains_key(zone) {
                let quote = project.provider.prices(zone).await?;
                zones.insert(zone.clone(), quote.prices);
            }
            zones
                .get(zone)
                .map(|prices| cost::machine_hourly(prices, plan, &Extras::default()))
                .transpose()?
                .unwrap_or(cost::Money::ZERO)
        };
        machines.push(cost::RunningMachine {
            name: name.clone(),
            plan: plan.clone(),
            zone: zone.clone(),
            created_at: machine.created_at,
            hourly,
        });
    }
    if machines.is_empty() {
        return Ok(None);
    }
    Ok(Some(cost::running_cost(&machines, jiff::Timestamp::now())))
}

fn render_running(running: &cost::RunningCost) -> String {
    let mut rows: Vec<Vec<String>> = running
        .lines
        .iter()
        .map(|line| {
            vec![
                line.name.clone(),
                line.plan.clone(),
                line.zone.clone(),
                line.hours_billed.to_string(),
                format!("€{}", line.hourly.rounded(4)),
                format!("€{}", line.so_far.rounded(2)),
            ]
        })
        .collect();
    rows.push(vec![
        "TOTAL".into(),
        String::new(),
        String::new(),
        String::new(),
        format!("€{}", running.hourly_total.rounded(4)),
        format!("€{}", running.so_far_total.rounded(2)),
    ]);
    format!(
        "Running now (≈ €{}/month if left running):\n{}",
        running.monthly_total.rounded(2),
        table::render(
            &["MACHINE", "PLAN", "ZONE", "HOURS", "PER HOUR", "SO FAR"],
            &rows
        )
    )
}

fn running_json(running: &cost::RunningCost) -> serde_json::Value {
    json!({
        "machines": running.lines.iter().map(|line| json!({
            "name": line.name,
            "plan": line.plan,
            "zone": line.zone,
            "hours_billed": line.hours_billed,
            "hourly": line.hourly.exact(),
            "so_far": line.so_far.exact(),
        })).collect::<Vec<_>>(),
        "hourly_total": running.hourly_total.exact(),
        "so_far_total": running.so_far_total.exact(),
        "monthly_total": running.monthly_total.exact(),
    })
}

fn machine_count(config: &Config) -> u64 {
    u64::from(config.vms.count)
}

async fn priced_fleet(config: &Config, provider: &AnyProvider) -> Result<Fleet, Error> {
    let (Some(zone), Some(plan)) = (&config.provider.zone, &config.provider.plan) else {
        return Err(Error::usage(
            "provider.zone and provider.plan are needed to price the fleet",
        ));
    };
    let quote = provider.prices(zone).await?;
    let hourly = cost::machine_hourly(&quote.prices, plan, &Extras::default())?;
    Ok(Fleet {
        provider: config.provider.kind.name(),
        zone: zone.clone(),
        plan: plan.clone(),
        estimate: cost::fleet_estimate(machine_count(config), hourly),
        gross: None,
        source: quote.source,
    })
}

/// Hetzner: net and gross, monthly = the list's monthly price (where hourly charges stop).
async fn hetzner_fleet(config: &Config, provider: &AnyProvider) -> Result<Fleet, Error> {
    let (Some(zone), Some(plan)) = (&config.provider.zone, &config.provider.plan) else {
        return Err(Error::usage(
            "provider.zone and provider.plan are needed to price the fleet",
        ));
    };
    let AnyProvider::Hetzner(hetzner) = provider else {
        return Err(Error::failed("the configured provider is not Hetzner"));
    };
    let (price, source) = hetzner.server_type_price(zone, plan).await?;
    let (net, gross) = price.fleet(machine_count(config));
    Ok(Fleet {
        provider: config.provider.kind.name(),
        zone: zone.clone(),
        plan: plan.clone(),
        estimate: net,
        gross: Some(gross),
        source,
    })
}

fn render_table(fleet: &Fleet) -> String {
    let e = &fleet.estimate;
    table::render(
        &[
            "PROVIDER",
            "ZONE",
            "PLAN",
            "MACHINES",
            "EACH/HOUR",
            "TOTAL/HOUR",
            "TOTAL/MONTH",
        ],
        &[vec![
            fleet.provider.to_string(),
            fleet.zone.clone(),
            fleet.plan.clone(),
            e.machines.to_string(),
            format!("€{}", e.hourly_each.rounded(4)),
            format!("€{}", e.hourly_total.rounded(4)),
            format!("€{}", e.monthly_total.rounded(2)),
        ]],
    )
}

fn footnote(fleet: &Fleet) -> String {
    if let Some(gross) = &fleet.gross {
        let (net, when) = (&fleet.estimate, source_words(&fleet.source));
        return format!(
            "Hetzner price list{when}. Table: net, excl. VAT: €{}/h and €{}/month per machine. Gross, incl. VAT: €{}/h and €{}/month per machine, €{}/month in all. Billed per started hour up to the monthly price; stopped servers keep billing until removed; primary IPv4 addresses are billed separately.",
            net.hourly_each.exact(),
            net.monthly_each.exact(),
            gross.hourly_each.exact(),
            gross.monthly_each.exact(),
            gross.monthly_total.exact()
        );
    }
    let origin = match &fleet.source {
        PriceSource::Free => return "no provider charges: the machines are yours".into(),
        PriceSource::Live => "UpCloud price list, fetched now".to_string(),
        PriceSource::Cache { fetched_at } | PriceSource::StaleCache { fetched_at, .. } => {
            format!("UpCloud price list, cached at {fetched_at}")
        }
    };
    format!(
        "{origin}; excl. VAT. Each plan includes its disk and one public IPv4. Billed per started hour, at most {MONTHLY_HOURS_CAP} h a month."
    )
}

fn source_words(source: &PriceSource) -> String {
    match source {
        PriceSource::Cache { fetched_at } | PriceSource::StaleCache { fetched_at, .. } => {
            format!(", cached at {fetched_at}")
        }
        PriceSource::Live | PriceSource::Free => ", fetched now".into(),
    }
}

fn render_json(fleet: &Fleet) -> String {
    let e = &fleet.estimate;
    let source = match &fleet.source {
        PriceSource::Live => json!({"kind": "live"}),
        PriceSource::Cache { fetched_at } => {
            json!({"kind": "cache", "fetched_at": fetched_at.to_string()})
        }
        PriceSource::StaleCache { fetched_at, reason } => {
            json!({"kind": "stale_cache", "fetched_at": fetched_at.to_string(), "reason": reason})
        }
        PriceSource::Free => json!({"kind": "free"}),
    };
    let mut value = json!({
        "provider": fleet.provider,
        "zone": fleet.zone,
        "plan": fleet.plan,
        "machines": e.machines,
        "currency": "EUR",
        "hourly_each": e.hourly_each.exact(),
        "hourly_total": e.hourly_total.exact(),
        "monthly_each": e.monthly_each.exact(),
        "monthly_total": e.monthly_total.exact(),
        "monthly_hours_cap": MONTHLY_HOURS_CAP,
        "price_source": source,
    });
    if let Some(gross) = &fleet.gross {
        // Hetzner: the figures above are net; a month costs the monthly price, not 672 h.
        value["vat"] = json!("excluded");
        value["monthly_hours_cap"] = serde_json::Value::Null;
        value["billed_when_stopped"] = json!(true);
        value["gross"] = json!({
            "hourly_each": gross.hourly_each.exact(), "hourly_total": gross.hourly_total.exact(),
            "monthly_each": gross.monthly_each.exact(), "monthly_total": gross.monthly_total.exact(),
        });
    }
    serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::Money;

    fn fleet() -> Fleet {
        Fleet {
            provider: "upcloud",
            zone: "de-fra1".into(),
            plan: "1xCPU-2GB".into(),
            estimate: cost::fleet_estimate(3, Money::from_cents_decimal("1.488").unwrap()),
            gross: None,
            source: PriceSource::Live,
        }
    }

    #[test]
    fn table_rounds_for_display() {
        let text = render_table(&fleet());
        let row = text.lines().nth(1).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                "upcloud",
                "de-fra1",
                "1xCPU-2GB",
                "3",
                "€0.0149",
                "€0.0446",
                "€30.00"
            ]
        );
    }

    #[test]
    fn json_keeps_exact_figures() {
        let value: serde_json::Value = serde_json::from_str(&render_json(&fleet())).unwrap();
        assert_eq!(value["hourly_total"], "0.04464");
        assert_eq!(value["monthly_total"], "29.99808");
        assert_eq!(value["machines"], 3);
        assert_eq!(value["price_source"]["kind"], "live");
    }
}
