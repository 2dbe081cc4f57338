//! The fake UpCloud API's answer bodies and catalog, in the shapes of the recorded cassettes
//! (`createstartstopserver`, `getserverswithfilters`, `getplans`, `getzones`,
//! `getpricezones`) and the SDK's template sample. Data only; `fake_upcloud` serves them.

use serde_json::{Value, json};

use super::FakeServer;

fn labels_json(server: &FakeServer) -> Value {
    let labels: Vec<Value> = server
        .labels
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    json!({"label": labels})
}

fn plan_numbers(plan: &str) -> (String, String) {
    let found = plans()["plans"]["plan"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == plan).cloned())
        .unwrap_or(Value::Null);
    (
        found["core_number"].as_u64().unwrap_or(1).to_string(),
        found["memory_amount"].as_u64().unwrap_or(1024).to_string(),
    )
}

/// The list entry shape of `getserverswithfilters.yaml` (no addresses).
pub fn summary(server: &FakeServer) -> Value {
    let (cores, memory) = plan_numbers(&server.plan);
    json!({
        "core_number": cores,
        "created": server.created,
        "host": 6_862_160_515_u64,
        "hostname": server.hostname,
        "labels": labels_json(server),
        "license": 0,
        "memory_amount": memory,
        "plan": server.plan,
        "plan_ipv4_bytes": "0",
        "plan_ipv6_bytes": "0",
        "server_group": null,
        "simple_backup": "no",
        "state": server.state,
        "tags": {"tag": []},
        "title": server.title,
        "uuid": server.uuid,
        "zone": server.zone,
    })
}

/// The server-details shape of `createstartstopserver.yaml`.
pub fn details(server: &FakeServer) -> Value {
    let (cores, memory) = plan_numbers(&server.plan);
    let utility = format!(
        "10.6.{}.{}",
        (server.created % 250) + 1,
        server.ip.octets()[3]
    );
    let ipv6 = format!("2a04:3545:1000:720::{:x}", server.ip.octets()[3]);
    let ip = server.ip.to_string();
    let interface = |index: u64, address: &str, family: &str, kind: &str| {
        json!({
            "bootable": "no",
            "index": index,
            "ip_addresses": {"ip_address": [{"address": address, "family": family, "floating": "no"}]},
            "mac": format!("da:45:c4:5c:00:{index:02x}"),
            "network": format!("03000000-0000-4000-8000-{index:012x}"),
            "source_ip_filtering": "yes",
            "type": kind,
        })
    };
    json!({
        "boot_order": "disk",
        "core_number": cores,
        "created": server.created,
        "firewall": "off",
        "hostname": server.hostname,
        "ip_addresses": {"ip_address": [
            {"access": "utility", "address": utility, "family": "IPv4"},
            {"access": "public", "address": ipv6, "family": "IPv6"},
            {"access": "public", "address": ip, "family": "IPv4"},
        ]},
        "labels": labels_json(server),
        "license": 0,
        "memory_amount": memory,
        "metadata": server.metadata,
        "networking": {"interfaces": {"interface": [
            interface(1, &utility, "IPv4", "utility"),
            interface(2, &ip, "IPv4", "public"),
            interface(3, &ipv6, "IPv6", "public"),
        ]}},
        "nic_model": "virtio",
        "plan": server.plan,
        "plan_ipv4_bytes": "0",
        "plan_ipv6_bytes": "0",
        "remote_access_enabled": "no",
        "remote_access_type": "vnc",
        "simple_backup": "no",
        "state": server.state,
        "storage_devices": {"storage_device": [{
            "address": "virtio:0",
            "boot_disk": "0",
            "storage": format!("01{}", &server.uuid[2..]),
            "storage_size": server.disk_gb,
            "storage_tier": "maxiops",
            "storage_title": format!("{}-disk", server.title),
            "type": "disk",
        }]},
        "tags": {"tag": []},
        "timezone": "UTC",
        "title": server.title,
        "uuid": server.uuid,
        "video_model": "cirrus",
        "zone": server.zone,
    })
}

/// Four plans from the 2020 recording (`getplans.yaml`).
pub fn plans() -> Value {
    let plan = |cores: u64, memory: u64, disk: u64, traffic: u64| {
        json!({
            "core_number": cores,
            "memory_amount": memory,
            "name": format!("{cores}xCPU-{}GB", memory / 1024),
            "public_traffic_out": traffic,
            "storage_size": disk,
            "storage_tier": "maxiops",
        })
    };
    json!({"plans": {"plan": [
        plan(1, 1024, 25, 1024),
        plan(1, 2048, 50, 2048),
        plan(2, 4096, 80, 4096),
        plan(4, 8192, 160, 5120),
    ]}})
}

pub fn zones() -> Value {
    json!({"zones": {"zone": [
        {"description": "Frankfurt #1", "id": "de-fra1", "public": "yes"},
        {"description": "Helsinki #1", "id": "fi-hel1", "public": "yes"},
        {"description": "Helsinki #2", "id": "fi-hel2", "public": "yes"},
        {"description": "Amsterdam #1", "id": "nl-ams1", "public": "yes"},
    ]}})
}

/// Prices (cents per hour) of two zones, from the 2020 recording (`getpricezones.yaml`).
pub fn prices() -> Value {
    let zone = |name: &str, plans: [f64; 4]| {
        let item = |amount: u64, price: f64| json!({"amount": amount, "price": price});
        json!({
            "name": name,
            "firewall": item(1, 0.56),
            "ipv4_address": item(1, 0.336),
            "ipv6_address": item(1, 0.0),
            "public_ipv4_bandwidth_out": item(1, 1.0),
            "server_core": item(1, 1.12),
            "server_memory": item(256, 0.14),
            "server_plan_1xCPU-1GB": item(1, plans[0]),
            "server_plan_1xCPU-2GB": item(1, plans[1]),
            "server_plan_2xCPU-4GB": item(1, plans[2]),
            "server_plan_4xCPU-8GB": item(1, plans[3]),
            "storage_hdd": item(1, 0.0078),
            "storage_maxiops": item(1, 0.031),
            "storage_template": item(1, 0.031),
        })
    };
    json!({"prices": {"zone": [
        zone("de-fra1", [0.744, 1.488, 2.9761, 5.9523]),
        zone("fi-hel1", [1.116, 2.2321, 4.4642, 8.9285]),
    ]}})
}

/// Public templates in the shape of `storage_template.json`, with 2025 Ubuntu/Debian titles.
pub fn templates() -> Value {
    let template = |uuid: &str, title: &str, size: u64, kind: &str| {
        json!({
            "access": "public",
            "license": 0,
            "size": size,
            "state": "online",
            "template_type": kind,
            "title": title,
            "type": "template",
            "uuid": uuid,
        })
    };
    json!({"storages": {"storage": [
        template("01000000-0000-4000-8000-000020060100", "Debian GNU/Linux 11 (Bullseye)", 4, "native"),
        template("01000000-0000-4000-8000-000020070100", "Debian GNU/Linux 12 (Bookworm)", 4, "cloud-init"),
        template("01000000-0000-4000-8000-000030220200", "Ubuntu Server 22.04 LTS (Jammy Jellyfish)", 4, "cloud-init"),
        template("01000000-0000-4000-8000-000030240200", "Ubuntu Server 24.04 LTS (Noble Numbat)", 4, "cloud-init"),
    ]}})
}
