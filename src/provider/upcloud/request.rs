//! UpCloud API 1.3 requests as data ([`ApiRequest`]): method, path (relative to `{base}/1.3`,
//! query included) and JSON body. Pure functions, unit-tested against the recorded request
//! shapes; the transport sends them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::provider::hostname;
use crate::provider::http::encode;
pub use crate::provider::http::{ApiRequest, Method};

/// How to stop a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopType {
    /// ACPI shutdown; the platform forces it off after the timeout.
    Soft,
    Hard,
}

/// The server-create fields kamal-dev sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateServer {
    pub title: String,
    pub hostname: String,
    pub zone: String,
    pub plan: String,
    pub template_uuid: String,
    pub disk_gb: u64,
    pub disk_tier: String,
    pub ssh_public_key: String,
    pub user_data: String,
    pub labels: BTreeMap<String, String>,
}

/// `POST /server`: clone the template to a disk the plan covers, root login by SSH key only,
/// public IPv4 + IPv6 and a utility address, cloud-init metadata on.
pub fn create_server(spec: &CreateServer) -> ApiRequest {
    let labels: Vec<Value> = spec
        .labels
        .iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    let address = |family: &str| json!({"ip_addresses": {"ip_address": [{"family": family}]}});
    let mut public4 = address("IPv4");
    public4["type"] = json!("public");
    let mut utility = address("IPv4");
    utility["type"] = json!("utility");
    let mut public6 = address("IPv6");
    public6["type"] = json!("public");
    let body = json!({
        "server": {
            "zone": spec.zone,
            "title": spec.title,
            "hostname": spec.hostname,
            "plan": spec.plan,
            "metadata": "yes",
            "password_delivery": "none",
            "remote_access_enabled": "no",
            "user_data": spec.user_data,
            "login_user": {
                "username": "root",
                "create_password": "no",
                "ssh_keys": {"ssh_key": [spec.ssh_public_key]}
            },
            "labels": {"label": labels},
            "networking": {"interfaces": {"interface": [utility, public4, public6]}},
            "storage_devices": {"storage_device": [{
                "action": "clone",
                "storage": spec.template_uuid,
                "title": format!("{}-disk", spec.title),
                "size": spec.disk_gb,
                "tier": spec.disk_tier
            }]}
        }
    });
    ApiRequest {
        method: Method::Post,
        path: "/server".into(),
        body: Some(body),
        retry_safe: false,
    }
}

pub fn server_details(id: &str) -> ApiRequest {
    ApiRequest::get(format!("/server/{}", encode(id)))
}

/// `GET /server/?label=k%3Dv&label=k2`: servers carrying all the given labels (a `None` value
/// matches the key alone).
pub fn list_servers(labels: &[(&str, Option<&str>)]) -> ApiRequest {
    if labels.is_empty() {
        return ApiRequest::get("/server".into());
    }
    let query: Vec<String> = labels
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("label={}", encode(&format!("{key}={value}"))),
            None => format!("label={}", encode(key)),
        })
        .collect();
    ApiRequest::get(format!("/server/?{}", query.join("&")))
}

pub fn stop_server(id: &str, stop_type: StopType, timeout_secs: u64) -> ApiRequest {
    let stop_type = match stop_type {
        StopType::Soft => "soft",
        StopType::Hard => "hard",
    };
    ApiRequest {
        method: Method::Post,
        path: format!("/server/{}/stop", encode(id)),
        body: Some(
            json!({"stop_server": {"stop_type": stop_type, "timeout": timeout_secs.to_string()}}),
        ),
        retry_safe: true,
    }
}

pub fn start_server(id: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: format!("/server/{}/start", encode(id)),
        body: Some(json!({"server": {}})),
        retry_safe: true,
    }
}

/// `DELETE /server/{uuid}/?storages=1` also deletes the server's disks, so none keeps billing.
pub fn delete_server(id: &str, with_storages: bool) -> ApiRequest {
    let path = if with_storages {
        format!("/server/{}/?storages=1", encode(id))
    } else {
        format!("/server/{}", encode(id))
    };
    ApiRequest {
        method: Method::Delete,
        path,
        body: None,
        retry_safe: true,
    }
}

pub fn plans() -> ApiRequest {
    ApiRequest::get("/plan".into())
}

pub fn zones() -> ApiRequest {
    ApiRequest::get("/zone".into())
}

pub fn prices() -> ApiRequest {
    ApiRequest::get("/price".into())
}

pub fn templates() -> ApiRequest {
    ApiRequest::get("/storage/template".into())
}

/// A valid hostname from a machine name: lowercase letters, digits and dashes, at most 63.
pub fn hostname_for(name: &str) -> String {
    let cleaned: String = hostname::dns_characters(name).chars().take(63).collect();
    hostname::or_fallback(cleaned.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CreateServer {
        CreateServer {
            title: "app-1".into(),
            hostname: "app-1".into(),
            zone: "de-fra1".into(),
            plan: "1xCPU-2GB".into(),
            template_uuid: "01000000-0000-4000-8000-000030240200".into(),
            disk_gb: 50,
            disk_tier: "maxiops".into(),
            ssh_public_key: "ssh-ed25519 AAAA me@host".into(),
            user_data: "#cloud-config\n".into(),
            labels: BTreeMap::from([("kamal-dev".into(), "app".into())]),
        }
    }

    #[test]
    fn create_request_has_the_documented_shape() {
        let request = create_server(&spec());
        assert_eq!(request.method, Method::Post);
        assert_eq!(request.path, "/server");
        assert!(!request.retry_safe);
        let server = &request.body.as_ref().unwrap()["server"];
        assert_eq!(server["metadata"], "yes");
        assert_eq!(server["plan"], "1xCPU-2GB");
        assert_eq!(
            server["login_user"]["ssh_keys"]["ssh_key"][0],
            "ssh-ed25519 AAAA me@host"
        );
        assert_eq!(server["login_user"]["create_password"], "no");
        assert_eq!(
            server["labels"]["label"][0],
            json!({"key": "kamal-dev", "value": "app"})
        );
        let disk = &server["storage_devices"]["storage_device"][0];
        assert_eq!(disk["action"], "clone");
        assert_eq!(disk["size"], 50);
        assert_eq!(disk["storage"], "01000000-0000-4000-8000-000030240200");
        let interfaces = server["networking"]["interfaces"]["interface"]
            .as_array()
            .unwrap();
        assert_eq!(interfaces.len(), 3);
        assert_eq!(interfaces[1]["type"], "public");
        assert_eq!(
            interfaces[1]["ip_addresses"]["ip_address"][0]["family"],
            "IPv4"
        );
    }

    #[test]
    fn paths_match_the_recordings() {
        assert_eq!(server_details("00aa-1").path, "/server/00aa-1");
        assert_eq!(
            list_servers(&[
                ("managedBy", None),
                ("testName", Some("getserverswithfilters"))
            ])
            .path,
            "/server/?label=managedBy&label=testName%3Dgetserverswithfilters"
        );
        assert_eq!(list_servers(&[]).path, "/server");
        assert_eq!(delete_server("u", true).path, "/server/u/?storages=1");
        assert_eq!(delete_server("u", false).path, "/server/u");
        assert_eq!(delete_server("u", true).method, Method::Delete);
        let stop = stop_server("u", StopType::Hard, 900);
        assert_eq!(
            (stop.method, stop.path.as_str()),
            (Method::Post, "/server/u/stop")
        );
        assert_eq!(
            stop.body.unwrap(),
            json!({"stop_server": {"stop_type": "hard", "timeout": "900"}})
        );
        assert_eq!(start_server("u").body.unwrap(), json!({"server": {}}));
        assert_eq!(prices().path, "/price");
        assert_eq!(plans().path, "/plan");
        assert_eq!(zones().path, "/zone");
        assert_eq!(templates().path, "/storage/template");
    }

    #[test]
    fn ids_and_labels_cannot_escape_the_path() {
        assert_eq!(server_details("../account").path, "/server/..%2Faccount");
        assert_eq!(
            list_servers(&[("kamal-dev", Some("a&label=b"))]).path,
            "/server/?label=kamal-dev%3Da%26label%3Db"
        );
    }

    #[test]
    fn hostnames_are_sanitised() {
        assert_eq!(hostname_for("My App_1"), "my-app-1");
        assert_eq!(hostname_for("--"), "kamal-dev");
        assert_eq!(hostname_for(&"a".repeat(100)).len(), 63);
    }
}
