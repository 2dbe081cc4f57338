//! The Hetzner provider against the stateful fake API: exactly N servers for N creates under
//! injected 429/423/503/dropped answers, a lost create answer found by label, the SSH key
//! registered once, actions awaited, stop (shutdown, then poweroff), delete, label filters,
//! prices and error mapping.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kamal_dev::error::UserFacing as _;
use kamal_dev::provider::hetzner::{Hetzner, HetznerOptions, Token};
use kamal_dev::provider::{
    AnyProvider, LABEL_ID, LABEL_MACHINE, LABEL_SERVICE, MachineRequest, MachineState, PriceSource,
    Provider as _, ProviderError,
};

use crate::common::fake_cloud::{Site, quick_retries};
use crate::common::fake_hetzner::{FakeHetzner, FakeHetznerConfig};

const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGthbWFsLWRldi1oZXR6bmVyLXRlc3Qta2V5LTMyYnkh test@kamal-dev";

const SITE: Site = Site {
    plan: "cx23",
    zone: "fsn1",
    ssh_public_key: KEY,
};

fn options(fake: &FakeHetzner) -> HetznerOptions {
    let mut options = HetznerOptions::new(fake.url()).expect("options");
    options.poll_min = Duration::from_millis(20);
    options.poll_max = Duration::from_millis(80);
    options.soft_stop_timeout = Duration::from_millis(600);
    options.wait_timeout = Duration::from_secs(20);
    options.action_timeout = Duration::from_secs(20);
    options.retry = quick_retries(12, 60);
    options
}

fn hetzner(fake: &FakeHetzner) -> Hetzner {
    Hetzner::new(options(fake), Some(Token::new(fake.token()))).expect("provider")
}

fn provider(fake: &FakeHetzner) -> AnyProvider {
    AnyProvider::Hetzner(Box::new(hetzner(fake)))
}

fn machine(service: &str, index: u32) -> MachineRequest {
    SITE.machine(service, index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_creates_with_injected_failures_make_exactly_ten_servers() {
    let fake = FakeHetzner::start(FakeHetznerConfig {
        failure_percent: 25,
        seed: 7,
        ..FakeHetznerConfig::default()
    });
    let provider = Arc::new(provider(&fake));
    let machines = SITE.create_all(&provider, "app", 10).await;

    let servers = fake.servers();
    assert_eq!(servers.len(), 10, "exactly one server per machine");
    let keys: BTreeSet<_> = servers
        .iter()
        .filter_map(|s| s.labels.get(LABEL_ID))
        .collect();
    assert_eq!(keys.len(), 10, "each idempotency key once");
    assert_eq!(fake.keys().len(), 1, "the SSH key is registered once");
    let requests = fake.requests();
    for kind in ["429", "423", "503", "dropped"] {
        assert!(
            requests.iter().any(|r| r.outcome == kind),
            "the fake injected {kind} ({} requests)",
            requests.len()
        );
    }
    assert_eq!(machines.len(), 10);
    SITE.assert_running(&machines, "app");
    assert_eq!(provider.list("app").await.expect("list").len(), 10);

    for m in &machines {
        provider.delete(&m.id).await.expect("delete");
    }
    fake.set_failure_percent(0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fake.servers().is_empty(), "all deleted");
}

#[tokio::test]
async fn a_lost_create_answer_is_found_by_label_not_sent_again() {
    let fake = FakeHetzner::start(FakeHetznerConfig {
        lose_create_answers: 2,
        ..FakeHetznerConfig::default()
    });
    SITE.create_each_lost(&provider(&fake), 2).await;
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/servers")
        .collect();
    assert_eq!(posts.len(), 2, "one POST per machine, never repeated");
    assert!(posts.iter().all(|r| r.outcome == "dropped"));
    assert_eq!(fake.servers().len(), 2);
}

#[tokio::test]
async fn create_sends_type_image_location_key_labels_and_cloud_init() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let provider = provider(&fake);
    let created = provider
        .create_machine(&machine("web", 1))
        .await
        .expect("create");
    assert_eq!(created.state, MachineState::Pending);
    assert_eq!(created.public_ipv4, Some("127.0.0.10".parse().unwrap()));
    let server = &fake.servers()[0];
    assert_eq!(server.name, "web-1");
    assert_eq!(server.server_type, "cx23");
    assert_eq!(server.location, "fsn1");
    assert_eq!(server.image, "ubuntu-24.04", "the default image");
    assert!(server.user_data.starts_with("#cloud-config"));
    assert_eq!(
        server.labels.get(LABEL_ID).map(String::as_str),
        Some("key-web-1")
    );
    let key = &fake.keys()[0];
    assert_eq!(server.ssh_keys, [serde_json::json!(key.name)]);
    assert_eq!(
        key.public_key, KEY,
        "registered without the trailing newline"
    );
    assert!(key.name.starts_with("kamal-dev-web-"));

    // Same idempotency key: the same server, no second POST.
    let again = provider
        .create_machine(&machine("web", 1))
        .await
        .expect("again");
    assert_eq!(again.id, created.id);
    assert_eq!(fake.servers().len(), 1);

    let started = provider
        .wait_until_started(&created.id, Duration::from_secs(5))
        .await
        .expect("started");
    assert_eq!(started.state, MachineState::Running);
    let polled_actions = fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/actions/"))
        .count();
    assert!(polled_actions >= 2, "create and start actions were awaited");
}

#[tokio::test]
async fn a_key_registered_meanwhile_is_reused_after_uniqueness_error() {
    let fake = FakeHetzner::start(FakeHetznerConfig {
        stale_key_lookups: 2,
        ..FakeHetznerConfig::default()
    });
    hetzner(&fake)
        .create_machine(&machine("a", 1))
        .await
        .expect("first");
    hetzner(&fake)
        .create_machine(&machine("a", 2))
        .await
        .expect("second");
    assert_eq!(fake.keys().len(), 1);
    let outcomes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/ssh_keys")
        .map(|r| r.outcome.clone())
        .collect();
    assert_eq!(
        outcomes,
        ["201", "409"],
        "the conflict was met and resolved by lookup"
    );
    let servers = fake.servers();
    assert_eq!(
        servers[0].ssh_keys, servers[1].ssh_keys,
        "both use the one key"
    );
}

#[tokio::test]
async fn an_already_registered_key_is_found_by_fingerprint() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    // Another process registers the key first: this one sees it by fingerprint.
    hetzner(&fake)
        .create_machine(&machine("a", 1))
        .await
        .expect("first");
    let second = hetzner(&fake);
    second
        .create_machine(&machine("a", 2))
        .await
        .expect("second");
    assert_eq!(fake.keys().len(), 1);
    let key_posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/ssh_keys")
        .count();
    assert_eq!(key_posts, 1, "found by fingerprint, not registered again");
}

#[tokio::test]
async fn stop_falls_back_to_poweroff_and_start_powers_on() {
    let fake = FakeHetzner::start(FakeHetznerConfig {
        ignore_shutdown: true,
        ..FakeHetznerConfig::default()
    });
    let provider = provider(&fake);
    let created = provider
        .create_machine(&machine("s", 1))
        .await
        .expect("create");
    provider
        .wait_until_started(&created.id, Duration::from_secs(5))
        .await
        .expect("started");
    provider.stop(&created.id).await.expect("stop");
    assert_eq!(fake.servers()[0].status, "off");
    let verbs: Vec<String> = fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/actions/") && r.method == "POST")
        .map(|r| r.path.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(verbs, ["shutdown", "poweroff"]);
    provider
        .stop(&created.id)
        .await
        .expect("stopping twice is fine");

    let running = provider.start(&created.id).await.expect("start");
    assert_eq!(running.state, MachineState::Running);
    provider.delete(&created.id).await.expect("delete");
    provider
        .delete(&created.id)
        .await
        .expect("deleting twice is fine");
    assert!(provider.get(&created.id).await.expect("get").is_none());
}

#[tokio::test]
async fn list_filters_by_label_selector_across_pages() {
    let fake = FakeHetzner::start(FakeHetznerConfig {
        max_per_page: 2,
        boot_delay: Duration::from_millis(10),
        ..FakeHetznerConfig::default()
    });
    let provider = provider(&fake);
    for index in 1..=5 {
        provider
            .create_machine(&machine("one", index))
            .await
            .expect("create");
    }
    provider
        .create_machine(&machine("two", 1))
        .await
        .expect("create");
    let one = provider.list("one").await.expect("list");
    assert_eq!(one.len(), 5, "all pages followed");
    assert!(one.iter().all(|m| m.label(LABEL_SERVICE) == Some("one")));
    let found = provider
        .find_by_label(LABEL_MACHINE, "two-1")
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path.contains("label_selector=kamal-dev%3Done"))
    );
}

#[tokio::test]
async fn prices_are_the_net_list_and_bad_names_say_what_exists() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let hetzner = hetzner(&fake);
    let quote = hetzner.prices("nbg1").await.expect("prices");
    assert_eq!(quote.source, PriceSource::Live);
    assert_eq!(quote.prices.plans["cpx22"].price.exact(), "0.012");
    assert!(
        !quote.prices.plans.contains_key("cax11"),
        "not offered in nbg1"
    );
    let (price, _) = hetzner
        .server_type_price("fsn1", "cx23")
        .await
        .expect("price");
    assert_eq!(price.hourly.gross.exact(), "0.007616");
    assert_eq!(price.monthly.net.exact(), "3.99");
    assert!(hetzner.bills_when_stopped());

    let err = hetzner.server_type_price("fsn1", "cx99").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::UnknownPlan { ref available, .. } if available.contains(&"cx23".to_string()))
    );
    let err = hetzner.prices("mars1").await.unwrap_err();
    assert!(err.hint().unwrap().contains("fsn1"), "{:?}", err.hint());

    let plans = hetzner.plans().await.expect("plans");
    let cx23 = plans.iter().find(|p| p.name == "cx23").expect("cx23");
    assert_eq!(
        (cx23.cores, cx23.memory_mib, cx23.storage_gb),
        (2, 4096, 40)
    );
    let zones = hetzner.zones().await.expect("zones");
    assert!(zones.iter().any(|z| z.id == "hel1"));
}

#[tokio::test]
async fn a_bad_token_and_a_missing_token_are_explained() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let wrong = Hetzner::new(options(&fake), Some(Token::new("nope"))).unwrap();
    let err = wrong.list("app").await.unwrap_err();
    assert_eq!(err.api_failure().map(|f| f.status), Some(401));
    assert!(!err.to_string().contains("nope"));
    let hint = err.hint().expect("hint");
    assert!(
        hint.contains("HCLOUD_TOKEN") && !hint.contains("UPCLOUD"),
        "{hint}"
    );
    let none = Hetzner::new(options(&fake), None).unwrap();
    let err = none.list("app").await.unwrap_err();
    assert!(matches!(
        err,
        ProviderError::MissingCredentials {
            expected: "HCLOUD_TOKEN",
            ..
        }
    ));
    assert!(err.hint().unwrap().contains("HCLOUD_TOKEN"));
}

#[tokio::test]
async fn an_unknown_server_type_is_refused_without_retrying() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let provider = provider(&fake);
    let mut request = machine("bad", 1);
    request.plan = "cx99".into();
    let err = provider.create_machine(&request).await.unwrap_err();
    assert_eq!(
        err.api_failure().map(|f| f.code.as_str()),
        Some("invalid_server_type")
    );
    let posts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/servers")
        .count();
    assert_eq!(posts, 1);
    assert!(fake.servers().is_empty());
}

#[tokio::test]
async fn a_name_that_is_no_hostname_keeps_its_name_on_the_machine() {
    let fake = FakeHetzner::start(FakeHetznerConfig::default());
    let provider = provider(&fake);
    let mut request = machine("w", 1);
    request.name = "Web_1".into();
    let created = provider.create_machine(&request).await.expect("create");
    assert_eq!(
        fake.servers()[0].name,
        "web-1",
        "a valid RFC 1123 server name"
    );
    assert_eq!(
        created.name, "Web_1",
        "the machine keeps the name it was asked for"
    );
    let listed = provider
        .find_by_label(LABEL_MACHINE, "Web_1")
        .await
        .expect("find");
    assert_eq!(listed[0].name, "Web_1");
}
