//! The UpCloud provider against the stateful fake API: idempotent creates under injected
//! failures, waiting, stopping, deleting with disks, label filters and error mapping.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kamal_dev::error::UserFacing as _;
use kamal_dev::provider::http::RetryPolicy;
use kamal_dev::provider::upcloud::{Credentials, Upcloud, UpcloudOptions};
use kamal_dev::provider::{
    AnyProvider, LABEL_ID, LABEL_MACHINE, LABEL_SERVICE, MachineId, MachineRequest, MachineState,
    Provider as _, ProviderError,
};

use crate::common::fake_cloud::{Site, quick_retries};
use crate::common::fake_upcloud::{FakeUpcloud, FakeUpcloudConfig};

const TOKEN: &str = "ucat_test";

const SITE: Site = Site {
    plan: "1xCPU-2GB",
    zone: "de-fra1",
    ssh_public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITest test@kamal-dev",
};

fn options(fake: &FakeUpcloud) -> UpcloudOptions {
    let mut options = UpcloudOptions::new(fake.url()).expect("options");
    options.poll_min = Duration::from_millis(20);
    options.poll_max = Duration::from_millis(100);
    options.soft_stop_timeout = Duration::from_millis(400);
    options.wait_timeout = Duration::from_secs(20);
    options.retry = quick_retries(10, 50);
    options
}

fn provider_with(options: UpcloudOptions, token: &str) -> AnyProvider {
    let upcloud = Upcloud::new(options, Some(Credentials::token(token))).expect("provider");
    AnyProvider::Upcloud(Box::new(upcloud))
}

fn provider(fake: &FakeUpcloud) -> AnyProvider {
    provider_with(options(fake), TOKEN)
}

fn fake(config: FakeUpcloudConfig) -> FakeUpcloud {
    FakeUpcloud::start(FakeUpcloudConfig {
        token: Some(TOKEN.into()),
        ..config
    })
}

fn machine(service: &str, index: u32) -> MachineRequest {
    SITE.machine(service, index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_creates_with_twenty_percent_failures_make_exactly_ten_servers() {
    let fake = fake(FakeUpcloudConfig {
        failure_percent: 20,
        seed: 42,
        ..FakeUpcloudConfig::default()
    });
    let provider = Arc::new(provider(&fake));
    let machines = SITE.create_all(&provider, "app", 10).await;

    let servers = fake.servers();
    assert_eq!(servers.len(), 10, "exactly one server per machine");
    let keys: BTreeSet<_> = servers.iter().filter_map(|s| s.label(LABEL_ID)).collect();
    assert_eq!(keys.len(), 10, "each idempotency key once");
    let requests = fake.requests();
    let failed = requests
        .iter()
        .filter(|r| r.outcome == "dropped" || r.outcome.starts_with('5') || r.outcome == "429")
        .count();
    assert!(
        failed > 0,
        "the fake injected failures ({} requests)",
        requests.len()
    );
    let create_posts = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/server")
        .count();
    assert!(create_posts >= 10);

    assert_eq!(machines.len(), 10);
    SITE.assert_running(&machines, "app");

    let listed = provider.list("app").await.expect("list");
    assert_eq!(listed.len(), 10);

    for m in &machines {
        provider.delete(&m.id).await.expect("delete");
    }
    assert!(fake.servers().is_empty(), "all deleted");
    assert_eq!(fake.leaked_disks(), 0, "disks deleted with their servers");
}

#[tokio::test]
async fn a_lost_create_answer_is_found_by_label_not_sent_again() {
    let fake = fake(FakeUpcloudConfig {
        lose_create_answers: 3,
        ..FakeUpcloudConfig::default()
    });
    SITE.create_each_lost(&provider(&fake), 3).await;
    let requests = fake.requests();
    let posts: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/server")
        .collect();
    assert_eq!(posts.len(), 3, "one POST per machine, never repeated");
    assert!(posts.iter().all(|r| r.outcome == "dropped"));
    assert_eq!(fake.servers().len(), 3);
}

#[tokio::test]
async fn create_sends_template_key_labels_and_cloud_init() {
    let fake = fake(FakeUpcloudConfig::default());
    let provider = provider(&fake);
    let created = provider
        .create_machine(&machine("web", 1))
        .await
        .expect("create");
    assert_eq!(created.state, MachineState::Pending);
    assert_eq!(created.public_ipv4, Some("127.0.0.10".parse().unwrap()));
    let server = &fake.servers()[0];
    assert_eq!(
        server.template, "01000000-0000-4000-8000-000030240200",
        "Ubuntu 24.04 by default"
    );
    assert_eq!(server.metadata, "yes");
    assert_eq!(server.disk_gb, 50, "the plan's disk size");
    assert_eq!(
        server.ssh_keys,
        ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITest test@kamal-dev"]
    );
    assert!(server.user_data.starts_with("#cloud-config"));
    assert!(server.user_data.contains("docker"));
    assert_eq!(server.hostname, "web-1");
    assert_eq!(server.label(LABEL_ID), Some("key-web-1"));

    // The same idempotency key again returns the same server.
    let again = provider
        .create_machine(&machine("web", 1))
        .await
        .expect("create again");
    assert_eq!(again.id, created.id);
    assert_eq!(fake.servers().len(), 1);

    let started = provider
        .wait_until_started(&created.id, Duration::from_secs(5))
        .await
        .expect("started");
    assert_eq!(started.state, MachineState::Running);
}

#[tokio::test]
async fn list_filters_by_service_label() {
    let fake = fake(FakeUpcloudConfig::default());
    let provider = provider(&fake);
    provider.create_machine(&machine("one", 1)).await.unwrap();
    provider.create_machine(&machine("one", 2)).await.unwrap();
    provider.create_machine(&machine("two", 1)).await.unwrap();
    let one = provider.list("one").await.unwrap();
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|m| m.label(LABEL_SERVICE) == Some("one")));
    let found = provider
        .find_by_label(LABEL_MACHINE, "two-1")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert!(
        found[0].public_ipv4.is_some(),
        "details fetched for listed servers"
    );
    assert!(provider.list("three").await.unwrap().is_empty());
    let path = fake
        .requests()
        .iter()
        .rev()
        .find(|r| r.path.starts_with("/server/?"))
        .unwrap()
        .path
        .clone();
    assert_eq!(path, "/server/?label=kamal-dev%3Dthree");
}

#[tokio::test]
async fn wait_times_out_with_states_seen() {
    let fake = fake(FakeUpcloudConfig {
        boot_delay: Duration::from_secs(60),
        ..FakeUpcloudConfig::default()
    });
    let provider = provider(&fake);
    let created = provider.create_machine(&machine("slow", 1)).await.unwrap();
    let err = provider
        .wait_until_started(&created.id, Duration::from_millis(300))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("ProvisioningError: VM failed to reach running state"),
        "{text}"
    );
    assert!(text.contains("maintenance"), "{text}");
}

#[tokio::test]
async fn stop_falls_back_to_hard_and_delete_stops_first() {
    let fake = fake(FakeUpcloudConfig {
        ignore_soft_stop: true,
        ..FakeUpcloudConfig::default()
    });
    let provider = provider(&fake);
    let created = provider.create_machine(&machine("app", 1)).await.unwrap();
    provider
        .wait_until_started(&created.id, Duration::from_secs(5))
        .await
        .unwrap();

    provider.stop(&created.id).await.expect("stop");
    let server = provider.get(&created.id).await.unwrap().unwrap();
    assert_eq!(server.state, MachineState::Stopped);
    let stops: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/stop"))
        .filter_map(|r| r.body)
        .map(|b| {
            b["stop_server"]["stop_type"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(stops, ["soft", "hard"]);

    // Stopping a stopped machine is a no-op; starting waits for `started`.
    provider.stop(&created.id).await.expect("stop again");
    let started = provider.start(&created.id).await.expect("start");
    assert_eq!(started.state, MachineState::Running);

    // Deleting a running machine stops it first (the API would refuse with 409).
    provider.delete(&created.id).await.expect("delete");
    assert!(fake.servers().is_empty());
    assert_eq!(fake.leaked_disks(), 0);
    let deletes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].path.ends_with("/?storages=1"));
    assert!(provider.get(&created.id).await.unwrap().is_none());
    provider
        .delete(&created.id)
        .await
        .expect("deleting a deleted machine is fine");
}

#[tokio::test]
async fn fake_refuses_deleting_a_running_server_with_409() {
    use kamal_dev::provider::http::CallError;
    use kamal_dev::provider::upcloud::client::{Transport, UpcloudApi};
    use kamal_dev::provider::upcloud::request;
    let fake = fake(FakeUpcloudConfig {
        boot_delay: Duration::ZERO,
        ..FakeUpcloudConfig::default()
    });
    let provider = provider(&fake);
    let created = provider.create_machine(&machine("app", 1)).await.unwrap();
    let transport = Transport::new(
        format!("{}/1.3", fake.url()),
        UpcloudApi(Some(Credentials::token(TOKEN))),
        RetryPolicy::default(),
        Duration::from_secs(5),
        Duration::from_secs(5),
    )
    .unwrap();
    let err = transport
        .send(&request::delete_server(created.id.as_str(), true))
        .await
        .unwrap_err();
    let CallError::Api { failure, .. } = err else {
        panic!("expected an API error, got {err:?}");
    };
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (409, "SERVER_STATE_ILLEGAL")
    );
    assert!(failure.message.contains("'started'"), "{}", failure.message);
}

#[tokio::test]
async fn errors_are_typed_with_hints_and_no_secrets() {
    let fake = fake(FakeUpcloudConfig::default());
    let wrong = provider_with(options(&fake), "ucat_wrong_secret");
    let err = wrong.plans().await.unwrap_err();
    assert_eq!(err.api_failure().map(|f| f.status), Some(401));
    let text = format!("{err} {:?} {}", err, err.hint().unwrap_or_default());
    assert!(text.contains("AUTHENTICATION_FAILED"), "{text}");
    assert!(text.contains("UPCLOUD_TOKEN"), "{text}");
    assert!(!text.contains("ucat_wrong_secret"), "{text}");

    let provider = provider(&fake);
    let missing = provider
        .get(&MachineId("00000000-0000-4000-8000-000000000000".into()))
        .await;
    assert!(missing.unwrap().is_none(), "404 is None");

    let mut bad_plan = machine("app", 1);
    bad_plan.plan = "99xCPU-1TB".into();
    let err = provider.create_machine(&bad_plan).await.unwrap_err();
    assert!(matches!(err, ProviderError::UnknownPlan { .. }), "{err}");
    assert!(err.hint().unwrap().contains("1xCPU-2GB"));

    let mut bad_image = machine("app", 2);
    bad_image.os_image = Some("Ubuntu 26.04".into());
    let err = provider.create_machine(&bad_image).await.unwrap_err();
    assert!(matches!(err, ProviderError::ImageNotFound { .. }), "{err}");
    assert!(err.hint().unwrap().contains("Ubuntu Server 24.04 LTS"));
    assert!(fake.servers().is_empty());

    let no_credentials =
        AnyProvider::Upcloud(Box::new(Upcloud::new(options(&fake), None).unwrap()));
    let err = no_credentials.zones().await.unwrap_err();
    assert!(
        matches!(err, ProviderError::MissingCredentials { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn catalog_lists_plans_zones_and_prices() {
    let fake = fake(FakeUpcloudConfig::default());
    let provider = provider(&fake);
    let plans = provider.plans().await.unwrap();
    let small = plans.iter().find(|p| p.name == "1xCPU-2GB").unwrap();
    assert_eq!(
        (small.cores, small.memory_mib, small.storage_gb),
        (1, 2048, 50)
    );
    let zones = provider.zones().await.unwrap();
    assert!(zones.iter().any(|z| z.id == "de-fra1" && z.public));
    let quote = provider.prices("de-fra1").await.unwrap();
    assert_eq!(
        quote.prices.plans["1xCPU-2GB"].price.micro_cents(),
        1_488_000
    );
    let err = provider.prices("xx-nowhere1").await.unwrap_err();
    assert!(err.hint().unwrap().contains("de-fra1"));
}

#[tokio::test]
async fn basic_credentials_are_accepted() {
    let fake = FakeUpcloud::start(FakeUpcloudConfig::default());
    let basic = Upcloud::new(options(&fake), Some(Credentials::basic("api-user", "pw"))).unwrap();
    let zones = basic.zones().await.expect("zones with Basic auth");
    assert!(!zones.is_empty());
    let lookup = |name: &str| match name {
        "UPCLOUD_USERNAME" => Some("api-user".to_string()),
        "UPCLOUD_PASSWORD" => Some("pw".to_string()),
        _ => None,
    };
    let config = kamal_dev::config::Config::from_text(
        &format!(
            "service: app\nprovider:\n  type: upcloud\n  zone: de-fra1\n  plan: 1xCPU-2GB\n  api_url: {}/1.3/\n",
            fake.url()
        ),
        std::path::Path::new("config/dev.yml"),
    )
    .expect("config");
    let provider = AnyProvider::from_config(&config, &lookup).expect("provider from config");
    assert_eq!(provider.name(), "UpCloud");
    assert_eq!(provider.plans().await.expect("plans").len(), 4);
}
