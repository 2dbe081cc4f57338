//! `kamal-dev cost` for a Hetzner config, run as a user would against the fake API: the table
//! shows net figures equal to the price list (hourly, and the monthly price as the month),
//! the note gives the gross figures and says stopped servers keep billing, JSON keeps both
//! exactly; the list is cached for a day and the offline fallback says so.

use serde_json::Value;

use crate::common::TestContext;
use crate::common::fake_cloud::{dev_yml, euros, exact, first_row, run_cost};
use crate::common::fake_hetzner::{FakeHetzner, FakeHetznerConfig, shapes};

/// Prices here are in units of 10^-10 EUR (the list has at most 16 decimals, all zeros past
/// the tenth in the fake's list: checked).
const SCALE: u32 = 10;

fn config(api_url: &str, zone: &str, plan: &str, count: u32) -> String {
    dev_yml("hetzner", api_url, zone, plan, count)
}

fn cost(ctx: &TestContext, token: Option<&str>, args: &[&str]) -> assert_cmd::assert::Assert {
    let variables = ["HCLOUD_API_URL", "HCLOUD_TOKEN"];
    run_cost(ctx, &variables, token.map(|t| ("HCLOUD_TOKEN", t)), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A price-list decimal string in units of 10^-[`SCALE`] EUR.
fn units(decimal: &str) -> u128 {
    let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    let (kept, rest) = fraction.split_at(fraction.len().min(10));
    assert!(rest.bytes().all(|b| b == b'0'), "{decimal}");
    whole.parse::<u128>().unwrap() * 10_000_000_000
        + format!("{kept:0<10}").parse::<u128>().unwrap()
}

/// (hourly net, hourly gross, monthly net, monthly gross) from the fake's list.
fn listed(zone: &str, plan: &str) -> [u128; 4] {
    let types = shapes::server_types();
    let server_type = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == plan)
        .unwrap();
    let price = server_type["prices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["location"] == zone)
        .unwrap();
    let get = |period: &str, kind: &str| units(price[period][kind].as_str().unwrap());
    [
        get("price_hourly", "net"),
        get("price_hourly", "gross"),
        get("price_monthly", "net"),
        get("price_monthly", "gross"),
    ]
}

#[test]
fn hetzner_cost_prints_the_price_list_net_and_gross() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    for (zone, plan) in [("fsn1", "cx23"), ("nbg1", "cpx22")] {
        let ctx = TestContext::new();
        ctx.write("config/dev.yml", config(fake.url(), zone, plan, 3));
        let [hourly_net, hourly_gross, monthly_net, monthly_gross] = listed(zone, plan);

        let table = cost(&ctx, Some(&fake.token()), &[]).success();
        let out = text(&table.get_output().stdout);
        assert_eq!(
            first_row(&out),
            [
                "hetzner",
                zone,
                plan,
                "3",
                &euros(hourly_net, SCALE, 4),
                &euros(hourly_net * 3, SCALE, 4),
                &euros(monthly_net * 3, SCALE, 2),
            ],
            "{out}"
        );
        let note = text(&table.get_output().stderr);
        for expected in [
            format!(
                "net, excl. VAT: €{}/h and €{}/month",
                exact(hourly_net, SCALE),
                exact(monthly_net, SCALE)
            ),
            format!(
                "Gross, incl. VAT: €{}/h and €{}/month",
                exact(hourly_gross, SCALE),
                exact(monthly_gross, SCALE)
            ),
            format!("€{}/month in all", exact(monthly_gross * 3, SCALE)),
            "stopped servers keep billing".to_string(),
        ] {
            assert!(note.contains(&expected), "{expected:?} not in {note}");
        }

        let json = cost(&ctx, Some(&fake.token()), &["--format", "json"]).success();
        let value: Value = serde_json::from_slice(&json.get_output().stdout).expect("json");
        assert_eq!(value["provider"], "hetzner");
        assert_eq!(value["vat"], "excluded");
        assert_eq!(value["hourly_each"], exact(hourly_net, SCALE));
        assert_eq!(value["hourly_total"], exact(hourly_net * 3, SCALE));
        assert_eq!(value["monthly_each"], exact(monthly_net, SCALE));
        assert_eq!(value["monthly_total"], exact(monthly_net * 3, SCALE));
        assert_eq!(value["gross"]["hourly_each"], exact(hourly_gross, SCALE));
        assert_eq!(
            value["gross"]["monthly_total"],
            exact(monthly_gross * 3, SCALE)
        );
        assert_eq!(value["billed_when_stopped"], true);
        assert_eq!(value["monthly_hours_cap"], Value::Null);
        assert_eq!(
            value["price_source"]["kind"], "cache",
            "the table run cached the list"
        );
    }
}

#[test]
fn hetzner_prices_come_from_the_cache_offline() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", config(fake.url(), "fsn1", "cx23", 1));
    cost(&ctx, Some(&fake.token()), &[]).success();
    let fetched = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/server_types"))
        .count();
    drop(fake);
    // The API is gone: the day-old list still answers, without a token even.
    let json = cost(&ctx, None, &["--format", "json"]).success();
    let value: Value = serde_json::from_slice(&json.get_output().stdout).expect("json");
    assert_eq!(value["hourly_each"], "0.0064");
    assert_eq!(fetched, 1);
}

#[test]
fn hetzner_unknown_type_and_missing_token_are_explained() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", config(fake.url(), "nbg1", "cax11", 1));
    let failed = cost(&ctx, Some(&fake.token()), &[]).failure();
    let err = text(&failed.get_output().stderr);
    assert!(err.contains("cax11"), "{err}");
    assert!(
        err.contains("cpx22") && err.contains("cx23"),
        "names the priced ones: {err}"
    );

    let ctx = TestContext::new();
    ctx.write("config/dev.yml", config(fake.url(), "fsn1", "cx23", 1));
    let missing = cost(&ctx, None, &[]).code(2);
    let err = text(&missing.get_output().stderr);
    assert!(err.contains("HCLOUD_TOKEN"), "{err}");
}
