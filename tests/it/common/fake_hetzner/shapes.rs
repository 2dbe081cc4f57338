//! The fake Hetzner API's answer bodies, shaped like the `OpenAPI` schemas (every required
//! field present, example values where kamal-dev does not care).

use serde_json::{Value, json};

use super::{FakeAction, FakeKey, FakeServer};

/// The built-in server types: cx23 and cpx22 priced in fsn1 and nbg1, cax11 in fsn1 only.
/// Amounts use the long, uneven scales of the real API.
pub fn server_types() -> Value {
    let price = |location: &str, hourly: (&str, &str), monthly: (&str, &str)| {
        json!({
            "location": location,
            "price_hourly": {"net": hourly.0, "gross": hourly.1},
            "price_monthly": {"net": monthly.0, "gross": monthly.1},
            "included_traffic": 21_990_232_555_520_u64,
            "price_per_tb_traffic": {"net": "1.0000000000", "gross": "1.1900000000000000"}
        })
    };
    let server_type = |id: u64,
                       name: &str,
                       cores: u32,
                       memory: f64,
                       disk: u64,
                       arch: &str,
                       prices: Vec<Value>| {
        let locations: Vec<Value> = prices
            .iter()
            .enumerate()
            .map(|(i, p)| json!({"id": i + 1, "name": p["location"], "deprecation": null}))
            .collect();
        json!({
            "id": id, "name": name, "description": name.to_uppercase(), "category": "Shared vCPU",
            "cores": cores, "memory": memory, "disk": disk, "deprecated": false, "deprecation": null,
            "cpu_type": "shared", "architecture": arch, "storage_type": "local",
            "prices": prices, "locations": locations
        })
    };
    json!([
        server_type(
            101,
            "cx23",
            2,
            4.0,
            40,
            "x86",
            vec![
                price(
                    "fsn1",
                    ("0.0064000000", "0.0076160000000000"),
                    ("3.9900000000", "4.7481000000000000")
                ),
                price(
                    "nbg1",
                    ("0.0064000000", "0.0076160000000000"),
                    ("3.9900000000", "4.7481000000000000")
                ),
            ]
        ),
        server_type(
            102,
            "cpx22",
            2,
            4.0,
            80,
            "x86",
            vec![
                price(
                    "fsn1",
                    ("0.0112000000", "0.0133280000000000"),
                    ("6.9900000000", "8.3181000000000000")
                ),
                price(
                    "nbg1",
                    ("0.0120000000", "0.0142800000000000"),
                    ("7.4900000000", "8.9131000000000000")
                ),
            ]
        ),
        server_type(
            103,
            "cax11",
            2,
            4.0,
            40,
            "arm",
            vec![price(
                "fsn1",
                ("0.0059000000", "0.0070210000000000"),
                ("3.7900000000", "4.5101000000000000")
            ),]
        ),
    ])
}

pub fn location(name: &str) -> Value {
    let (id, city) = match name {
        "nbg1" => (2, "Nuremberg"),
        "hel1" => (3, "Helsinki"),
        _ => (1, "Falkenstein"),
    };
    json!({
        "id": id, "name": name, "description": format!("{city} DC Park 1"), "city": city,
        "country": if name == "hel1" { "FI" } else { "DE" }, "latitude": 50.476_12,
        "longitude": 12.370_071, "network_zone": "eu-central"
    })
}

pub fn locations() -> Value {
    json!([location("fsn1"), location("nbg1"), location("hel1")])
}

pub fn server(server: &FakeServer, server_type: &Value) -> Value {
    json!({
        "id": server.id,
        "name": server.name,
        "status": server.status,
        "created": server.created,
        "labels": server.labels,
        "locked": false,
        "backup_window": null,
        "rescue_enabled": false,
        "included_traffic": 21_990_232_555_520_u64,
        "ingoing_traffic": 0,
        "outgoing_traffic": 0,
        "primary_disk_size": server_type["disk"],
        "iso": null,
        "image": {
            "id": 161_547_269, "type": "system", "status": "available", "name": server.image,
            "description": server.image, "image_size": null, "disk_size": 5,
            "created": "2024-04-25T13:25:01Z", "created_from": null, "bound_to": null,
            "os_flavor": "ubuntu", "os_version": "24.04", "rapid_deploy": true,
            "protection": {"delete": false}, "deprecated": null, "deleted": null,
            "labels": {}, "architecture": server_type["architecture"]
        },
        "location": location(&server.location),
        "datacenter": {
            "id": 4, "name": format!("{}-dc14", server.location), "description": "DC 14",
            "location": location(&server.location),
            "server_types": {"supported": [101, 102, 103], "available": [101, 102, 103], "available_for_migration": [101, 102, 103]}
        },
        "server_type": server_type,
        "protection": {"delete": false, "rebuild": false},
        "private_net": [],
        "load_balancers": [],
        "volumes": [],
        "public_net": {
            "ipv4": {"id": server.id + 5_000_000, "ip": server.ip.to_string(), "blocked": false, "dns_ptr": format!("static.{}.clients.your-server.de", server.ip)},
            "ipv6": {"id": server.id + 6_000_000, "ip": "2001:db8::/64", "blocked": false, "dns_ptr": []},
            "floating_ips": [],
            "firewalls": []
        }
    })
}

pub fn action(action: &FakeAction, done: bool) -> Value {
    json!({
        "id": action.id,
        "command": action.command,
        "status": if done { "success" } else { "running" },
        "progress": if done { 100 } else { 50 },
        "started": action.started,
        "finished": if done { Value::from(action.started.clone()) } else { Value::Null },
        "resources": [{"id": action.server, "type": "server"}],
        "error": null
    })
}

pub fn key(key: &FakeKey) -> Value {
    json!({
        "id": key.id, "name": key.name, "fingerprint": key.fingerprint,
        "public_key": key.public_key, "labels": key.labels, "created": "2026-11-27T00:00:00Z"
    })
}

/// `meta.pagination` for `page` of `total` entries, `per_page` each.
pub fn meta(page: usize, per_page: usize, total: usize) -> Value {
    let last = total.div_ceil(per_page.max(1)).max(1);
    let opt = |n: usize, ok: bool| if ok { Value::from(n) } else { Value::Null };
    json!({"pagination": {
        "page": page, "per_page": per_page, "total_entries": total, "last_page": last,
        "previous_page": opt(page.saturating_sub(1), page > 1),
        "next_page": opt(page + 1, page < last)
    }})
}
