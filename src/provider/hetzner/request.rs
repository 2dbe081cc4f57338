//! Hetzner Cloud API requests as data ([`ApiRequest`]): method, path (relative to the `…/v1`
//! base, query included) and JSON body. Pure functions, unit-tested; the transport sends them.

use std::collections::BTreeMap;

use serde_json::json;

use crate::provider::http::encode;
pub use crate::provider::http::{ApiRequest, Method};

/// Power actions and delete: repeating one that already applied is harmless (the server is
/// already off/on/gone, which the caller checks).
fn action(method: Method, path: String) -> ApiRequest {
    ApiRequest {
        method,
        path,
        body: None,
        retry_safe: true,
    }
}

/// Largest page the API serves.
pub const PER_PAGE: u32 = 50;

/// The server-create fields kamal-dev sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateServer {
    pub name: String,
    pub server_type: String,
    pub image: String,
    pub location: String,
    /// The registered key's name: the schema types `ssh_keys` items as strings (names).
    pub ssh_key: String,
    pub user_data: String,
    pub labels: BTreeMap<String, String>,
}

/// `POST /servers`: started after create, public IPv4 and IPv6, the registered key for root.
pub fn create_server(spec: &CreateServer) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/servers".into(),
        body: Some(json!({
            "name": spec.name,
            "server_type": spec.server_type,
            "image": spec.image,
            "location": spec.location,
            "start_after_create": true,
            "ssh_keys": [spec.ssh_key],
            "user_data": spec.user_data,
            "labels": spec.labels,
            "public_net": {"enable_ipv4": true, "enable_ipv6": true}
        })),
        retry_safe: false,
    }
}

pub fn get_server(id: &str) -> ApiRequest {
    ApiRequest::get(format!("/servers/{}", encode(id)))
}

/// `GET /servers?label_selector=k1=v1,k2=v2&page=&per_page=`.
pub fn list_servers(labels: &[(&str, &str)], page: u32) -> ApiRequest {
    let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut path = format!("/servers?page={page}&per_page={PER_PAGE}");
    if !selector.is_empty() {
        path.push_str("&label_selector=");
        path.push_str(&encode(&selector.join(",")));
    }
    ApiRequest::get(path)
}

/// `poweron`, `poweroff` (pull the plug) or `shutdown` (ACPI).
pub fn power(id: &str, verb: PowerVerb) -> ApiRequest {
    action(
        Method::Post,
        format!("/servers/{}/actions/{}", encode(id), verb.as_str()),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerVerb {
    PowerOn,
    PowerOff,
    Shutdown,
}

impl PowerVerb {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerVerb::PowerOn => "poweron",
            PowerVerb::PowerOff => "poweroff",
            PowerVerb::Shutdown => "shutdown",
        }
    }
}

pub fn delete_server(id: &str) -> ApiRequest {
    action(Method::Delete, format!("/servers/{}", encode(id)))
}

pub fn get_action(id: u64) -> ApiRequest {
    ApiRequest::get(format!("/actions/{id}"))
}

pub fn server_types(page: u32) -> ApiRequest {
    ApiRequest::get(format!("/server_types?page={page}&per_page={PER_PAGE}"))
}

pub fn locations() -> ApiRequest {
    ApiRequest::get(format!("/locations?per_page={PER_PAGE}"))
}

pub fn ssh_keys_with_fingerprint(fingerprint: &str) -> ApiRequest {
    ApiRequest::get(format!("/ssh_keys?fingerprint={}", encode(fingerprint)))
}

/// `POST /ssh_keys`. Registering twice only gets 409 `uniqueness_error`, so it may be retried.
pub fn create_ssh_key(
    name: &str,
    public_key: &str,
    labels: &BTreeMap<String, String>,
) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: "/ssh_keys".into(),
        body: Some(json!({"name": name, "public_key": public_key, "labels": labels})),
        retry_safe: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_encodes_the_label_selector() {
        let request = list_servers(&[("kamal-dev", "app"), ("kamal-dev-id", "k 1")], 2);
        assert_eq!(
            request.path,
            "/servers?page=2&per_page=50&label_selector=kamal-dev%3Dapp%2Ckamal-dev-id%3Dk%201"
        );
        assert_eq!(list_servers(&[], 1).path, "/servers?page=1&per_page=50");
    }

    #[test]
    fn create_sends_key_id_labels_and_user_data_once() {
        let request = create_server(&CreateServer {
            name: "app-1".into(),
            server_type: "cx23".into(),
            image: "ubuntu-24.04".into(),
            location: "fsn1".into(),
            ssh_key: "kamal-dev-app-0a1b".into(),
            user_data: "#cloud-config\n".into(),
            labels: BTreeMap::from([("kamal-dev".into(), "app".into())]),
        });
        assert!(!request.retry_safe);
        let body = request.body.unwrap();
        assert_eq!(body["ssh_keys"], json!(["kamal-dev-app-0a1b"]));
        assert_eq!(body["labels"]["kamal-dev"], "app");
        assert_eq!(body["location"], "fsn1");
        assert!(body.get("datacenter").is_none(), "never both");
        assert_eq!(
            power("42", PowerVerb::Shutdown).path,
            "/servers/42/actions/shutdown"
        );
        assert_eq!(
            ssh_keys_with_fingerprint("b7:2f").path,
            "/ssh_keys?fingerprint=b7%3A2f"
        );
    }
}
