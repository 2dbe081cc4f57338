//! Replays the recorded UpCloud API interactions through the client: it must send the
//! recorded method, path and body shape and parse every recorded answer (server details,
//! lists, plans, prices, zones, both error formats). Also checks that the fake server's
//! answers have the recorded shapes.

use kamal_dev::cost::Money;
use kamal_dev::provider::http::CallError;
use kamal_dev::provider::upcloud::client::{self, Credentials};
use kamal_dev::provider::upcloud::request::{self, ApiRequest, CreateServer, StopType};
use kamal_dev::provider::upcloud::{Upcloud, UpcloudOptions, model};
use kamal_dev::provider::{MachineState, Provider as _};
use serde_json::Value;

use crate::common::fake_upcloud;
use crate::upcloud_cassette::{
    Interaction, Replay, assert_same_shape, cassette, decode, micro_cents, same_shape,
};

/// Our request for a recorded server interaction, or `None` for endpoints kamal-dev never uses.
fn our_request(interaction: &Interaction) -> Option<ApiRequest> {
    let path = interaction.path();
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    let segments: Vec<&str> = path_only.split('/').filter(|s| !s.is_empty()).collect();
    let recorded = interaction.request_json();
    match (interaction.request.method.as_str(), segments.as_slice()) {
        ("POST", ["server"]) => {
            let server = &recorded.as_ref()?["server"];
            let device = &server["storage_devices"]["storage_device"][0];
            Some(request::create_server(&CreateServer {
                title: server["title"].as_str()?.into(),
                hostname: server["hostname"].as_str()?.into(),
                zone: server["zone"].as_str()?.into(),
                plan: server["plan"].as_str().unwrap_or("1xCPU-1GB").into(),
                template_uuid: device["storage"].as_str()?.into(),
                disk_gb: device["size"].as_u64()?,
                disk_tier: device["tier"].as_str().unwrap_or("maxiops").into(),
                ssh_public_key: "ssh-ed25519 AAAA replay".into(),
                user_data: "#cloud-config\n".into(),
                labels: server["labels"]["label"]
                    .as_array()?
                    .iter()
                    .map(|l| {
                        (
                            l["key"].as_str().unwrap_or("").to_string(),
                            l["value"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect(),
            }))
        }
        ("GET", ["server"]) if !query.is_empty() => {
            let labels: Vec<(String, Option<String>)> = query
                .split('&')
                .filter_map(|pair| pair.strip_prefix("label="))
                .map(|value| {
                    let value = decode(value);
                    match value.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (value, None),
                    }
                })
                .collect();
            let borrowed: Vec<(&str, Option<&str>)> = labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            Some(request::list_servers(&borrowed))
        }
        ("GET", ["server", id]) => Some(request::server_details(id)),
        ("POST", ["server", id, "stop"]) => {
            let stop = &recorded.as_ref()?["stop_server"];
            let stop_type = if stop["stop_type"] == "soft" {
                StopType::Soft
            } else {
                StopType::Hard
            };
            let timeout = stop["timeout"].as_str()?.parse().ok()?;
            Some(request::stop_server(id, stop_type, timeout))
        }
        ("POST", ["server", id, "start"]) => Some(request::start_server(id)),
        ("DELETE", ["server", id]) => Some(request::delete_server(id, query == "storages=1")),
        ("GET", ["plan"]) => Some(request::plans()),
        ("GET", ["zone"]) => Some(request::zones()),
        ("GET", ["price"]) => Some(request::prices()),
        _ => None,
    }
}

/// The public IPv4 as the recording states it, read without the client's model.
fn recorded_public_ipv4(server: &Value) -> Option<String> {
    server["ip_addresses"]["ip_address"]
        .as_array()?
        .iter()
        .find_map(|ip| {
            (ip["access"] == "public" && ip["family"] == "IPv4")
                .then(|| ip["address"].as_str().map(String::from))
                .flatten()
        })
}

const SERVER_CASSETTES: &[&str] = &[
    "createstartstopserver",
    "createdeleteserverandstorage",
    "createmodifydeleteserver",
    "createrestartserver",
    "createstoprelocateserver",
    "dhcpnetworkconfigurations",
    "getserverdetails",
    "getserverswithfilters",
    "tagging",
    "templatizeserverstorage",
    "getplans",
    "getzones",
    "getpricezones",
];

#[tokio::test]
async fn recorded_interactions_replay_through_the_client() {
    let mut replayed = 0;
    for name in SERVER_CASSETTES {
        let Some(cassette) = cassette(name) else {
            return;
        };
        let relevant: Vec<(Interaction, ApiRequest)> = cassette
            .interactions
            .iter()
            .filter_map(|i| our_request(i).map(|r| (i.clone(), r)))
            .collect();
        assert!(!relevant.is_empty(), "{name}: nothing to replay");
        let replay = Replay::start(relevant.iter().map(|(i, _)| i.clone()).collect());
        let transport = replay.transport();
        for (index, (interaction, ours)) in relevant.iter().enumerate() {
            let what = format!(
                "{name} #{index} {} {}",
                interaction.request.method,
                interaction.path()
            );
            let body = transport
                .send_once(ours)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let (method, path, sent) = replay.received()[index].clone();
            assert_eq!(
                (method.as_str(), path.as_str()),
                (interaction.request.method.as_str(), interaction.path()),
                "{what}"
            );
            check_sent_body(&what, &path, interaction, &sent);
            check_answer(&what, &path, interaction, &body);
            replayed += 1;
        }
        assert_eq!(
            replay.received().len(),
            relevant.len(),
            "{name}: one request per recorded interaction"
        );
    }
    assert!(replayed >= 40, "replayed {replayed} interactions");
}

/// Our body equals the recorded one; for a create, it has every recorded field with its type.
fn check_sent_body(what: &str, path: &str, interaction: &Interaction, sent: &str) {
    match (
        interaction.request_json(),
        serde_json::from_str::<Value>(sent).ok(),
    ) {
        (Some(recorded), Some(sent)) if path == "/server" => {
            // Our create sets more fields (login_user, user_data, plan); every field the
            // recording has must be sent too, with the recorded type.
            let mut problems = Vec::new();
            same_shape(&recorded, &sent, "recorded create", &mut problems);
            // The one recorded field kamal-dev does not send: a private network
            // attached to an extra interface.
            let missing: Vec<_> = problems
                .iter()
                .filter(|p| !p.ends_with(".network is not in the recording"))
                .collect();
            assert!(missing.is_empty(), "{what}: {missing:?}");
            for key in [
                "zone",
                "title",
                "hostname",
                "storage_devices",
                "networking",
                "labels",
                "metadata",
                "password_delivery",
            ] {
                assert!(
                    sent["server"].get(key).is_some(),
                    "{what}: create lacks {key}"
                );
            }
        }
        (Some(recorded), Some(sent)) => assert_eq!(sent, recorded, "{what}: body"),
        (None, None) => {}
        (recorded, sent) => panic!("{what}: recorded body {recorded:?}, sent {sent:?}"),
    }
}

/// The recorded answer parses into the model and the domain, with the recorded facts.
fn check_answer(what: &str, path: &str, interaction: &Interaction, body: &[u8]) {
    let response = interaction.response_json();
    match path {
        "/plan" => {
            let plans: model::PlanList = serde_json::from_slice(body).unwrap();
            assert_eq!(
                plans.plans.0.len(),
                response["plans"]["plan"].as_array().unwrap().len()
            );
        }
        "/zone" => {
            let zones: model::ZoneList = serde_json::from_slice(body).unwrap();
            assert_eq!(
                zones.zones.0.len(),
                response["zones"]["zone"].as_array().unwrap().len()
            );
        }
        "/price" => check_price_list(body, &response),
        p if p.starts_with("/server/?") => {
            let list: model::ServerList = serde_json::from_slice(body).unwrap();
            let recorded = response["servers"]["server"].as_array().unwrap();
            assert_eq!(list.servers.0.len(), recorded.len(), "{what}");
            for (server, recorded) in list.servers.0.iter().zip(recorded) {
                assert_eq!(server.uuid, recorded["uuid"].as_str().unwrap());
                assert_eq!(
                    server.labels.0.len(),
                    recorded["labels"]["label"].as_array().unwrap().len()
                );
            }
        }
        _ if interaction.response.code == 204 => assert!(body.is_empty(), "{what}"),
        _ => {
            let envelope: model::ServerEnvelope =
                serde_json::from_slice(body).unwrap_or_else(|e| panic!("{what}: {e}"));
            let recorded = &response["server"];
            let machine = envelope.server.into_machine();
            assert_eq!(
                machine.id.as_str(),
                recorded["uuid"].as_str().unwrap(),
                "{what}"
            );
            assert_eq!(
                machine.public_ipv4.map(|ip| ip.to_string()),
                recorded_public_ipv4(recorded),
                "{what}"
            );
            let expected_state = match recorded["state"].as_str().unwrap() {
                "started" => MachineState::Running,
                "stopped" => MachineState::Stopped,
                "maintenance" => MachineState::Pending,
                other => panic!("{what}: state {other}"),
            };
            assert_eq!(machine.state, expected_state, "{what}");
            let labels = recorded["labels"]["label"].as_array().map_or(0, Vec::len);
            assert_eq!(machine.labels.len(), labels, "{what}");
        }
    }
}

/// Every `server_plan_*` price of every zone parses to exactly the recorded decimal.
fn check_price_list(body: &[u8], recorded: &Value) {
    let list: model::PriceList = serde_json::from_slice(body).unwrap();
    let zones: Vec<_> = list
        .prices
        .0
        .iter()
        .filter_map(model::zone_prices)
        .collect();
    let recorded_zones = recorded["prices"]["zone"].as_array().unwrap();
    assert_eq!(zones.len(), recorded_zones.len());
    let mut checked = 0;
    for (zone, recorded) in zones.iter().zip(recorded_zones) {
        assert_eq!(zone.zone, recorded["name"].as_str().unwrap());
        for (key, item) in recorded.as_object().unwrap() {
            let Some(plan) = key.strip_prefix("server_plan_") else {
                continue;
            };
            let text = item["price"].to_string();
            assert_eq!(
                zone.plans[plan].price.micro_cents(),
                micro_cents(&text),
                "{} {plan} {text}",
                zone.zone
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "checked {checked} plan prices");
}

#[tokio::test]
async fn catalog_cassettes_parse_through_the_provider() {
    for (name, check) in [("getplans", 0), ("getzones", 1), ("getpricezones", 2)] {
        let Some(cassette) = cassette(name) else {
            return;
        };
        let recorded = cassette.interactions[0].response_json();
        let replay = Replay::start(cassette.interactions.clone());
        let provider = Upcloud::new(
            UpcloudOptions::new(&replay.url).unwrap(),
            Some(Credentials::token("t")),
        )
        .unwrap();
        match check {
            0 => {
                let plans = provider.plans().await.unwrap();
                let first = &recorded["plans"]["plan"][0];
                assert_eq!(
                    plans.len(),
                    recorded["plans"]["plan"].as_array().unwrap().len()
                );
                assert_eq!(plans[0].name, first["name"].as_str().unwrap());
                assert_eq!(
                    u64::from(plans[0].cores),
                    first["core_number"].as_u64().unwrap()
                );
                assert_eq!(plans[0].storage_gb, first["storage_size"].as_u64().unwrap());
            }
            1 => {
                let zones = provider.zones().await.unwrap();
                assert_eq!(
                    zones[0].id,
                    recorded["zones"]["zone"][0]["id"].as_str().unwrap()
                );
                for (zone, recorded) in zones
                    .iter()
                    .zip(recorded["zones"]["zone"].as_array().unwrap())
                {
                    assert_eq!(zone.public, recorded["public"] == "yes", "{}", zone.id);
                }
            }
            _ => {
                let quote = provider.prices("fi-hel1").await.unwrap();
                let zone = recorded["prices"]["zone"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|z| z["name"] == "fi-hel1")
                    .unwrap();
                let text = zone["server_plan_1xCPU-2GB"]["price"].to_string();
                assert_eq!(
                    quote.prices.plans["1xCPU-2GB"].price,
                    Money::from_micro_cents(micro_cents(&text))
                );
            }
        }
        assert_eq!(replay.received().len(), 1);
    }
}

#[tokio::test]
async fn both_recorded_error_formats_become_typed_failures() {
    let Some(errors) = cassette("errorhandling") else {
        return;
    };
    let replay = Replay::start(errors.interactions.clone());
    let err = replay
        .transport()
        .send_once(&request::start_server("invalid"))
        .await
        .unwrap_err();
    let CallError::Api { failure, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (failure.status, failure.code.as_str()),
        (400, "SERVER_INVALID")
    );
    assert_eq!(failure.message, "The server UUID is invalid.");
    assert_eq!(replay.received()[0].1, "/server/invalid/start");

    let mut seen = Vec::new();
    for name in ["createtag", "createrestorebackup", "loadbalancer"] {
        let Some(cassette) = cassette(name) else {
            return;
        };
        for interaction in cassette
            .interactions
            .iter()
            .filter(|i| i.response.code >= 400)
        {
            let content_type = interaction
                .response
                .headers
                .get("Content-Type")
                .and_then(|v| v.first())
                .cloned()
                .unwrap_or_default();
            let failure = client::parse_failure(
                interaction.response.code,
                &content_type,
                interaction.response.body.as_bytes(),
            );
            assert_eq!(failure.status, interaction.response.code);
            assert!(
                !failure.code.is_empty() && !failure.message.is_empty(),
                "{name}: {failure}"
            );
            assert!(!failure.to_string().contains('{'), "no JSON in {failure}");
            seen.push(failure.code);
        }
    }
    assert!(seen.contains(&"TAG_NOT_FOUND".to_string()), "{seen:?}");
    assert!(seen.contains(&"STORAGE_NOT_FOUND".to_string()), "{seen:?}");
    assert!(
        seen.contains(&"RESOURCE_NOT_FOUND".to_string()),
        "problem+json: {seen:?}"
    );
}

#[test]
fn fake_server_answers_have_the_recorded_shapes() {
    let Some(lifecycle) = cassette("createstartstopserver") else {
        return;
    };
    let Some(filters) = cassette("getserverswithfilters") else {
        return;
    };
    let Some(plans) = cassette("getplans") else {
        return;
    };
    let Some(zones) = cassette("getzones") else {
        return;
    };
    let Some(prices) = cassette("getpricezones") else {
        return;
    };
    let Some(errors) = cassette("errorhandling") else {
        return;
    };
    let Some(problems) = cassette("loadbalancer") else {
        return;
    };
    let server = fake_upcloud::sample_server();

    let recorded_details = lifecycle.interactions[1].response_json();
    assert_same_shape(
        &fake_upcloud::details(&server),
        &recorded_details["server"],
        "details",
    );
    let created = lifecycle.interactions[0].response_json();
    assert_same_shape(
        &fake_upcloud::details(&server),
        &created["server"],
        "create answer",
    );
    let list = filters
        .interactions
        .iter()
        .find(|i| i.path().starts_with("/server/?"))
        .unwrap()
        .response_json();
    assert_same_shape(
        &fake_upcloud::summary(&server),
        &list["servers"]["server"][0],
        "list entry",
    );
    assert_same_shape(
        &fake_upcloud::plans(),
        &plans.interactions[0].response_json(),
        "plans",
    );
    assert_same_shape(
        &fake_upcloud::zones(),
        &zones.interactions[0].response_json(),
        "zones",
    );
    assert_same_shape(
        &fake_upcloud::prices(),
        &prices.interactions[0].response_json(),
        "prices",
    );
    let (legacy, problem) = fake_upcloud::sample_errors();
    assert_same_shape(
        &legacy,
        &errors.interactions[0].response_json(),
        "legacy error",
    );
    let recorded_problem = problems
        .interactions
        .iter()
        .find(|i| i.response.code == 404)
        .unwrap()
        .response_json();
    assert_same_shape(&problem, &recorded_problem, "problem+json error");

    // Templates: no cassette lists them; the SDK's sample does (it predates `template_type`).
    let Some(shared) = crate::common::shared_dir() else {
        return;
    };
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(shared.join("fixtures/upcloud/json/storage_template.json"))
            .unwrap(),
    )
    .unwrap();
    let mut ours = fake_upcloud::templates();
    for template in ours["storages"]["storage"].as_array_mut().unwrap() {
        template.as_object_mut().unwrap().remove("template_type");
    }
    assert_same_shape(&ours, &sample, "templates");
}
