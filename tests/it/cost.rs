//! `kamal-dev cost` run as a user would, against the fake UpCloud API: figures equal to the
//! cent to the price list, JSON with exact amounts, the day-long cache and its offline
//! fallback, and the errors for bad or missing credentials.

use std::path::Path;

use serde_json::Value;

use crate::common::TestContext;
use crate::common::fake_cloud::{dev_yml, euros, exact, first_row, rounded, run_cost};
use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};

const TOKEN: &str = "ucat_cost_test_token";

/// Prices here are in ten-thousandths of a cent: 10^-6 currency units.
const SCALE: u32 = 6;

fn config(api_url: &str, zone: &str, plan: &str, count: u32) -> String {
    dev_yml("upcloud", api_url, zone, plan, count)
}

fn cost(ctx: &TestContext, token: Option<&str>, args: &[&str]) -> assert_cmd::assert::Assert {
    let variables = [
        "UPCLOUD_API_URL",
        "UPCLOUD_USERNAME",
        "UPCLOUD_PASSWORD",
        "UPCLOUD_TOKEN",
    ];
    run_cost(ctx, &variables, token.map(|t| ("UPCLOUD_TOKEN", t)), args)
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

/// The fake API, accepting [`TOKEN`].
fn fake() -> FakeUpcloud {
    FakeUpcloud::start(FakeUpcloudConfig {
        token: Some(TOKEN.into()),
        ..FakeUpcloudConfig::default()
    })
}

/// A recorded price (cents, as the JSON writes it) in ten-thousandths of a cent.
fn price_units(price_list: &Value, zone: &str, plan: &str) -> u128 {
    let zone = price_list["prices"]["zone"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == zone)
        .unwrap();
    let text = zone[format!("server_plan_{plan}")]["price"].to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    assert!(fraction.len() <= 4, "{text}");
    whole.parse::<u128>().unwrap() * 10_000 + format!("{fraction:0<4}").parse::<u128>().unwrap()
}

fn check_fleet(price_list: &Value, api_url: &str, zone: &str, plan: &str) {
    let ctx = TestContext::new();
    ctx.write("config/dev.yml", config(api_url, zone, plan, 3));
    let each = price_units(price_list, zone, plan);
    let hourly_total = each * 3;
    let monthly_total = each * 672 * 3;

    let table = cost(&ctx, Some(TOKEN), &[]).success();
    let out = stdout(&table);
    assert_eq!(
        first_row(&out),
        [
            "upcloud",
            zone,
            plan,
            "3",
            &euros(each, SCALE, 4),
            &euros(hourly_total, SCALE, 4),
            &euros(monthly_total, SCALE, 2),
        ],
        "{out}"
    );
    assert!(stderr(&table).contains("672 h"), "{}", stderr(&table));

    let json = cost(&ctx, Some(TOKEN), &["--format", "json"]).success();
    let value: Value = serde_json::from_str(&stdout(&json)).expect("json");
    assert_eq!(value["machines"], 3);
    assert_eq!(value["hourly_each"], exact(each, SCALE));
    assert_eq!(value["hourly_total"], exact(hourly_total, SCALE));
    assert_eq!(value["monthly_total"], exact(monthly_total, SCALE));
    assert_eq!(value["monthly_hours_cap"], 672);
    assert_eq!(
        value["price_source"]["kind"], "cache",
        "the second run reads the cache"
    );
}

#[test]
fn three_small_machines_cost_what_the_price_list_says() {
    let fake = fake();
    let prices = crate::common::fake_upcloud::prices();
    check_fleet(&prices, fake.url(), "de-fra1", "1xCPU-2GB");
    check_fleet(&prices, fake.url(), "fi-hel1", "1xCPU-2GB");
    // 1.488 c/h: 3 machines = 4.464 c/h = €0.0446/h, a month = €29.99808.
    assert_eq!(
        rounded(
            price_units(&prices, "de-fra1", "1xCPU-2GB") * 3 * 672,
            SCALE,
            2
        ),
        "30.00"
    );
}

#[test]
fn recorded_price_list_gives_the_same_figures() {
    let Some(cassette) = crate::upcloud_cassette::cassette("getpricezones") else {
        return;
    };
    let price_list = cassette.interactions[0].response_json();
    let fake = FakeUpcloud::start(FakeUpcloudConfig {
        token: Some(TOKEN.into()),
        price_list: Some(price_list.clone()),
        ..FakeUpcloudConfig::default()
    });
    for zone in ["de-fra1", "fi-hel1", "uk-lon1"] {
        check_fleet(&price_list, fake.url(), zone, "1xCPU-2GB");
    }
}

fn cache_file(ctx: &TestContext) -> std::path::PathBuf {
    let dir = ctx.path().join("cache/kamal-dev");
    let entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

fn age_cache(path: &Path) {
    let mut cached: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    cached["fetched_at"] = Value::String("2020-01-01T00:00:00Z".into());
    std::fs::write(path, cached.to_string()).unwrap();
}

#[test]
fn prices_are_cached_and_used_offline() {
    let ctx = TestContext::new();
    let fake = fake();
    ctx.write(
        "config/dev.yml",
        config(fake.url(), "de-fra1", "1xCPU-2GB", 3),
    );
    let first = cost(&ctx, Some(TOKEN), &["--format", "json"]).success();
    let first: Value = serde_json::from_str(&stdout(&first)).unwrap();
    assert_eq!(first["price_source"]["kind"], "live");
    let price_requests = || {
        fake.requests()
            .iter()
            .filter(|r| r.path == "/price")
            .count()
    };
    assert_eq!(price_requests(), 1);

    // Within a day: no request, not even credentials needed.
    let cached = cost(&ctx, None, &["--format", "json"]).success();
    assert_eq!(price_requests(), 1);
    let cached: Value = serde_json::from_str(&stdout(&cached)).unwrap();
    assert_eq!(cached["hourly_total"], first["hourly_total"]);

    // An old cache and no API: the old prices, with a warning that says why.
    age_cache(&cache_file(&ctx));
    drop(fake);
    let offline = cost(&ctx, Some(TOKEN), &[]).success();
    let err = stderr(&offline);
    assert!(
        err.contains("warning") && err.contains("cached at 2020-01-01"),
        "{err}"
    );
    assert!(stdout(&offline).contains("€30.00"), "{}", stdout(&offline));
    assert!(!err.contains(TOKEN));
}

#[test]
fn wrong_token_fails_with_hint_and_no_secret() {
    let ctx = TestContext::new();
    let fake = fake();
    ctx.write(
        "config/dev.yml",
        config(fake.url(), "de-fra1", "1xCPU-2GB", 3),
    );
    let assert = cost(&ctx, Some("ucat_wrong_value"), &[]).code(1);
    let err = stderr(&assert);
    assert!(err.contains("401 AUTHENTICATION_FAILED"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("UPCLOUD_TOKEN"),
        "{err}"
    );
    assert!(
        !err.contains("ucat_wrong_value") && !err.contains('{'),
        "{err}"
    );
    assert!(stdout(&assert).is_empty());
}

#[test]
fn missing_credentials_is_a_usage_error() {
    let ctx = TestContext::new();
    ctx.write(
        "config/dev.yml",
        config("http://127.0.0.1:9", "de-fra1", "1xCPU-2GB", 3),
    );
    let assert = cost(&ctx, None, &[]).code(2);
    let err = stderr(&assert);
    assert!(err.contains("no UpCloud credentials"), "{err}");
    assert!(err.contains("UPCLOUD_TOKEN"), "{err}");
}

#[test]
fn unknown_plan_names_the_priced_ones() {
    let ctx = TestContext::new();
    let fake = FakeUpcloud::start(FakeUpcloudConfig::default());
    ctx.write(
        "config/dev.yml",
        config(fake.url(), "de-fra1", "3xCPU-1GB", 1),
    );
    let assert = cost(&ctx, Some(TOKEN), &[]).code(2);
    let err = stderr(&assert);
    assert!(
        err.contains("plan 3xCPU-1GB has no price in zone de-fra1"),
        "{err}"
    );
    assert!(err.contains("1xCPU-2GB"), "{err}");
}

#[test]
fn local_provider_costs_nothing() {
    let ctx = TestContext::new();
    ctx.write(
        "config/dev.yml",
        "service: app\nimage: ruby:3.3\nvms:\n  count: 2\n",
    );
    let assert = cost(&ctx, None, &["--format", "json"]).success();
    let value: Value = serde_json::from_str(&stdout(&assert)).unwrap();
    assert_eq!(value["provider"], "local");
    assert_eq!(value["monthly_total"], "0.00");
    assert_eq!(value["machines"], 2);
}
