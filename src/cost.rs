//! Price math in integer units: money is counted in millionths of a cent, so UpCloud's
//! fractional cents per hour (`0.744`, `35.7142`) are kept exactly and rounding happens only
//! when a figure is displayed. Pure: no I/O, no clock (callers pass `now`), never floats.
//!
//! Billing model (UpCloud, per the price list docs): a machine is billed per started hour, at
//! most [`MONTHLY_HOURS_CAP`] hours per calendar month; a plan's price covers its cores, memory,
//! its own disk and one public IPv4, so only extra disk or extra addresses cost more.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// UpCloud bills at most 672 hours (28 days) per month for a machine.
pub const MONTHLY_HOURS_CAP: u64 = 672;

/// Millionths of a cent in one cent.
const MICROS_PER_CENT: u64 = 1_000_000;
/// Millionths of a cent in one currency unit (100 cents).
const MICROS_PER_UNIT: u64 = 100 * MICROS_PER_CENT;

/// An amount of money in millionths of a cent of the account currency.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(u64);

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_micro_cents(micro_cents: u64) -> Money {
        Money(micro_cents)
    }

    pub const fn micro_cents(self) -> u64 {
        self.0
    }

    /// Parse a decimal number of cents as the price list writes it (`0.744`, `35.7142`, `2`,
    /// `1e-5`). Digits beyond a millionth of a cent are rounded half up; negative or malformed
    /// input is `None`.
    pub fn from_cents_decimal(text: &str) -> Option<Money> {
        let text = text.trim();
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(at) => (text.get(..at)?, text.get(at + 1..)?.parse::<i32>().ok()?),
            None => (text, 0),
        };
        let mantissa = mantissa.strip_prefix('+').unwrap_or(mantissa);
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        if !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let digits: String = whole.chars().chain(fraction.chars()).collect();
        let digits = digits.trim_start_matches('0');
        let digits: u128 = if digits.is_empty() {
            0
        } else if digits.len() > 30 {
            return None;
        } else {
            digits.parse().ok()?
        };
        // value = digits * 10^(exponent - fraction_len) cents = digits * 10^(6 + exponent - fraction_len) micros
        let fraction_len = i32::try_from(fraction.len()).ok()?;
        let shift = 6 + exponent - fraction_len;
        let micros = if shift >= 0 {
            digits.checked_mul(10u128.checked_pow(u32::try_from(shift).ok()?)?)?
        } else {
            let divisor = 10u128.checked_pow(u32::try_from(-shift).ok()?)?;
            (digits + divisor / 2) / divisor
        };
        u64::try_from(micros).ok().map(Money)
    }

    #[must_use]
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    #[must_use]
    pub fn saturating_mul(self, factor: u64) -> Money {
        Money(self.0.saturating_mul(factor))
    }

    /// `self * numerator / denominator`, rounded half up (for prices quoted per N units).
    #[must_use]
    pub fn mul_div(self, numerator: u64, denominator: u64) -> Money {
        if denominator == 0 {
            return Money::ZERO;
        }
        let value = (u128::from(self.0) * u128::from(numerator) + u128::from(denominator) / 2)
            / u128::from(denominator);
        Money(u64::try_from(value).unwrap_or(u64::MAX))
    }

    /// The exact amount in currency units, trailing zeros trimmed but at least two decimals:
    /// `0.01488`, `29.99808`, `30.00`. For JSON output, where nothing should be rounded.
    pub fn exact(self) -> String {
        let whole = self.0 / MICROS_PER_UNIT;
        let fraction = format!("{:08}", self.0 % MICROS_PER_UNIT);
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &fraction[..2]
        } else {
            trimmed
        };
        format!("{whole}.{shown}")
    }

    /// The amount in currency units rounded half up to `decimals` places (at most 8):
    /// `rounded(2)` of 29.99808 is `30.00`, `rounded(4)` of 0.04464 is `0.0446`.
    pub fn rounded(self, decimals: u32) -> String {
        let decimals = decimals.min(8);
        let step = 10u64.pow(8 - decimals);
        let units = (u128::from(self.0) + u128::from(step / 2)) / u128::from(step);
        let scale = u128::from(10u64.pow(decimals));
        let whole = units / scale;
        if decimals == 0 {
            return whole.to_string();
        }
        let fraction = units % scale;
        format!("{whole}.{fraction:0width$}", width = decimals as usize)
    }
}

/// One priced item of a price list: `price` per `amount` units per hour (UpCloud writes
/// memory per 256 MB, storage per GB, a plan per machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub amount: u64,
    pub price: Money,
}

impl Rate {
    /// The hourly price of `quantity` units.
    pub fn for_quantity(self, quantity: u64) -> Money {
        self.price.mul_div(quantity, self.amount.max(1))
    }
}

/// The hourly prices of one zone, as far as kamal-dev needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonePrices {
    pub zone: String,
    /// Plan name -> price of one machine per hour.
    pub plans: BTreeMap<String, Rate>,
    /// Disk tier (`maxiops`, `standard`, `hdd`) -> price per GB per hour.
    pub storage: BTreeMap<String, Rate>,
    /// An extra public IPv4 address per hour, when the list bills them.
    pub ipv4_address: Option<Rate>,
}

/// What one machine uses beyond its plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    /// Disk beyond the plan's own, per tier, in GB.
    pub storage_gb: BTreeMap<String, u64>,
    /// Public IPv4 addresses beyond the one the plan includes.
    pub ipv4_addresses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    #[error("plan {plan} has no price in zone {zone}")]
    UnknownPlan {
        plan: String,
        zone: String,
        /// The plans that zone does price, for the hint.
        available: Vec<String>,
    },
    #[error("the price list has no price for {what} disk in zone {zone}")]
    UnknownStorageTier { what: String, zone: String },
    #[error("the price list has no price for extra IPv4 addresses in zone {zone}")]
    NoIpv4Price { zone: String },
}

impl crate::error::UserFacing for CostError {
    fn exit_status(&self) -> crate::error::ExitStatus {
        crate::error::ExitStatus::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            CostError::UnknownPlan { available, .. } if !available.is_empty() => Some(format!(
                "set provider.plan in config/dev.yml to one of: {}",
                available.join(", ")
            )),
            _ => None,
        }
    }
}

/// The hourly price of one machine of `plan` in the zone, extras included.
pub fn machine_hourly(
    prices: &ZonePrices,
    plan: &str,
    extras: &Extras,
) -> Result<Money, CostError> {
    let rate = prices
        .plans
        .get(plan)
        .ok_or_else(|| CostError::UnknownPlan {
            plan: plan.to_string(),
            zone: prices.zone.clone(),
            available: prices.plans.keys().cloned().collect(),
        })?;
    let mut total = rate.for_quantity(1);
    for (tier, gb) in extras.storage_gb.iter().filter(|(_, gb)| **gb > 0) {
        let storage = prices
            .storage
            .get(tier)
            .ok_or_else(|| CostError::UnknownStorageTier {
                what: tier.clone(),
                zone: prices.zone.clone(),
            })?;
        total = total.saturating_add(storage.for_quantity(*gb));
    }
    if extras.ipv4_addresses > 0 {
        let ipv4 = prices.ipv4_address.ok_or_else(|| CostError::NoIpv4Price {
            zone: prices.zone.clone(),
        })?;
        total = total.saturating_add(ipv4.for_quantity(extras.ipv4_addresses));
    }
    Ok(total)
}

/// A fleet of identical machines before deploying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetEstimate {
    pub machines: u64,
    pub hourly_each: Money,
    pub hourly_total: Money,
    /// One machine left running for a whole month (the 672-hour cap).
    pub monthly_each: Money,
    pub monthly_total: Money,
}

/// `machines` machines at `hourly_each`: hourly total and the capped monthly estimate.
pub fn fleet_estimate(machines: u64, hourly_each: Money) -> FleetEstimate {
    let monthly_each = hourly_each.saturating_mul(MONTHLY_HOURS_CAP);
    FleetEstimate {
        machines,
        hourly_each,
        hourly_total: hourly_each.saturating_mul(machines),
        monthly_each,
        monthly_total: monthly_each.saturating_mul(machines),
    }
}

/// A machine that exists now, for "what runs now" cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningMachine {
    pub name: String,
    pub plan: String,
    pub zone: String,
    pub created_at: Timestamp,
    pub hourly: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningLine {
    pub name: String,
    pub plan: String,
    pub zone: String,
    /// Hours billed so far (started hours, capped per calendar month).
    pub hours_billed: u64,
    pub hourly: Money,
    pub so_far: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningCost {
    pub lines: Vec<RunningLine>,
    pub hourly_total: Money,
    pub so_far_total: Money,
    /// What a whole month of the current fleet costs (672-hour cap per machine).
    pub monthly_total: Money,
}

/// Cost so far of machines that run now, at `now`.
pub fn running_cost(machines: &[RunningMachine], now: Timestamp) -> RunningCost {
    let mut cost = RunningCost {
        lines: Vec::with_capacity(machines.len()),
        hourly_total: Money::ZERO,
        so_far_total: Money::ZERO,
        monthly_total: Money::ZERO,
    };
    for machine in machines {
        let hours_billed = billed_hours(machine.created_at, now);
        let so_far = machine.hourly.saturating_mul(hours_billed);
        cost.hourly_total = cost.hourly_total.saturating_add(machine.hourly);
        cost.so_far_total = cost.so_far_total.saturating_add(so_far);
        cost.monthly_total = cost
            .monthly_total
            .saturating_add(machine.hourly.saturating_mul(MONTHLY_HOURS_CAP));
        cost.lines.push(RunningLine {
            name: machine.name.clone(),
            plan: machine.plan.clone(),
            zone: machine.zone.clone(),
            hours_billed,
            hourly: machine.hourly,
            so_far,
        });
    }
    cost
}

/// Hours billed between `start` and `now`: started hours, split by calendar month (UTC) with
/// each month capped at [`MONTHLY_HOURS_CAP`]. Zero when `now` is not after `start`.
pub fn billed_hours(start: Timestamp, now: Timestamp) -> u64 {
    if now <= start {
        return 0;
    }
    let mut total = 0u64;
    let mut segment_start = start;
    while segment_start < now {
        let segment_end = next_month_start(segment_start).map_or(now, |next| next.min(now));
        let seconds = (segment_end.as_second() - segment_start.as_second()).max(0);
        let seconds = u64::try_from(seconds).unwrap_or(0);
        total += seconds.div_ceil(3600).min(MONTHLY_HOURS_CAP);
        if segment_end <= segment_start {
            break;
        }
        segment_start = segment_end;
    }
    total
}

fn next_month_start(at: Timestamp) -> Option<Timestamp> {
    let date = at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let first = date
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .ok()?;
    first
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(text: &str) -> Money {
        Money::from_cents_decimal(text).unwrap()
    }

    #[test]
    fn parses_price_list_decimals_exactly() {
        assert_eq!(cents("0.744").micro_cents(), 744_000);
        assert_eq!(cents("35.7142").micro_cents(), 35_714_200);
        assert_eq!(cents("0.0078").micro_cents(), 7_800);
        assert_eq!(cents("2").micro_cents(), 2_000_000);
        assert_eq!(cents("0").micro_cents(), 0);
        assert_eq!(cents("1e-5").micro_cents(), 10);
        assert_eq!(cents("1.5E2").micro_cents(), 150_000_000);
        assert_eq!(
            cents("0.00000051").micro_cents(),
            1,
            "rounds half up past a micro-cent"
        );
        for bad in ["", "-1", "abc", "1.2.3", ".", "1e", "1e999"] {
            assert_eq!(Money::from_cents_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn displays_exact_and_rounded() {
        let hourly = cents("1.488");
        assert_eq!(hourly.exact(), "0.01488");
        assert_eq!(hourly.rounded(4), "0.0149");
        let month = hourly.saturating_mul(MONTHLY_HOURS_CAP).saturating_mul(3);
        assert_eq!(month.exact(), "29.99808");
        assert_eq!(month.rounded(2), "30.00");
        assert_eq!(Money::ZERO.exact(), "0.00");
        assert_eq!(cents("100").exact(), "1.00");
        assert_eq!(cents("0.5").rounded(2), "0.01");
        assert_eq!(cents("0.4999").rounded(2), "0.00");
        assert_eq!(cents("123456").rounded(0), "1235");
    }

    #[test]
    fn fleet_of_three_small_machines() {
        let estimate = fleet_estimate(3, cents("2.2321"));
        assert_eq!(estimate.hourly_total.exact(), "0.066963");
        assert_eq!(estimate.monthly_each.exact(), "14.999712");
        assert_eq!(estimate.monthly_total.rounded(2), "45.00");
    }

    #[test]
    fn machine_price_adds_extras_and_names_missing_plans() {
        let prices = ZonePrices {
            zone: "de-fra1".into(),
            plans: BTreeMap::from([(
                "1xCPU-2GB".into(),
                Rate {
                    amount: 1,
                    price: cents("1.488"),
                },
            )]),
            storage: BTreeMap::from([(
                "maxiops".into(),
                Rate {
                    amount: 1,
                    price: cents("0.031"),
                },
            )]),
            ipv4_address: Some(Rate {
                amount: 1,
                price: cents("0.336"),
            }),
        };
        let plain = machine_hourly(&prices, "1xCPU-2GB", &Extras::default()).unwrap();
        assert_eq!(plain, cents("1.488"));
        let extras = Extras {
            storage_gb: BTreeMap::from([("maxiops".into(), 10)]),
            ipv4_addresses: 1,
        };
        let with_extras = machine_hourly(&prices, "1xCPU-2GB", &extras).unwrap();
        assert_eq!(with_extras, cents("2.134"));
        let err = machine_hourly(&prices, "9xCPU", &Extras::default()).unwrap_err();
        assert!(
            matches!(err, CostError::UnknownPlan { ref available, .. } if available == &["1xCPU-2GB"])
        );
    }

    #[test]
    fn rate_per_256_mb_scales() {
        let memory = Rate {
            amount: 256,
            price: cents("0.14"),
        };
        assert_eq!(memory.for_quantity(1024), cents("0.56"));
    }

    #[test]
    fn billed_hours_counts_started_hours_and_caps_each_month() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            billed_hours(t("2026-11-01T00:00:00Z"), t("2026-11-01T00:00:01Z")),
            1
        );
        assert_eq!(
            billed_hours(t("2026-11-01T00:00:00Z"), t("2026-11-01T02:00:00Z")),
            2
        );
        assert_eq!(
            billed_hours(t("2026-11-01T00:00:00Z"), t("2026-11-01T00:00:00Z")),
            0
        );
        assert_eq!(
            billed_hours(t("2026-11-02T00:00:00Z"), t("2026-11-01T00:00:00Z")),
            0
        );
        // All of November (720 h) is capped at 672.
        assert_eq!(
            billed_hours(t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z")),
            672
        );
        // Two months: November capped, plus 10 hours of December.
        assert_eq!(
            billed_hours(t("2026-11-01T00:00:00Z"), t("2026-12-01T10:00:00Z")),
            682
        );
    }

    #[test]
    fn running_cost_sums_lines() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let machine = |name: &str| RunningMachine {
            name: name.into(),
            plan: "1xCPU-2GB".into(),
            zone: "de-fra1".into(),
            created_at: t("2026-11-27T00:00:00Z"),
            hourly: cents("1.488"),
        };
        let cost = running_cost(&[machine("a"), machine("b")], t("2026-11-27T02:30:00Z"));
        assert_eq!(cost.lines[0].hours_billed, 3);
        assert_eq!(cost.lines[0].so_far, cents("4.464"));
        assert_eq!(cost.so_far_total, cents("8.928"));
        assert_eq!(cost.hourly_total, cents("2.976"));
        assert_eq!(cost.monthly_total.rounded(2), "20.00");
    }
}
