//! Creating a server without ever creating two, and the project SSH key it needs. The create
//! request carries a `kamal-dev-id` label; before sending, and after any failure that may have
//! reached the API (5xx, a dropped connection), the server is looked up by that label instead
//! of re-sending blindly. The key is found by its MD5 fingerprint or registered once.

use std::collections::BTreeMap;

use super::request::{self, CreateServer};
use super::{Hetzner, NAME, model};
use crate::provider::cloud_init::DEFAULT_USER_DATA;
use crate::provider::hostname;
use crate::provider::http::{CallError, Created, parse};
use crate::provider::{LABEL_ID, LABEL_SERVICE, Machine, MachineRequest, ProviderError};

/// Hetzner refuses user data above 32 KiB.
const MAX_USER_DATA: usize = 32 * 1024;

impl Hetzner {
    pub(super) async fn create(&self, machine: &MachineRequest) -> Result<Machine, ProviderError> {
        let labels = machine.all_labels();
        validate_labels(&labels)?;
        let public_key = machine.ssh_public_key.trim();
        let Some(fingerprint) = model::md5_fingerprint(public_key) else {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!(
                    "no usable SSH public key for {}: the server would be unreachable",
                    machine.name
                ),
                hint: Some(
                    "set ssh.key_path in config/dev.yml to an OpenSSH public key (.pub)".into(),
                ),
            });
        };
        let user_data = machine
            .user_data
            .clone()
            .unwrap_or_else(|| DEFAULT_USER_DATA.to_string());
        if user_data.len() > MAX_USER_DATA {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!("cloud-init user data for {} is over 32 KiB", machine.name),
                hint: None,
            });
        }
        if let Some(existing) = self.created_with(&machine.idempotency_key).await? {
            return Ok(existing);
        }
        let ssh_key = self
            .ssh_key_name(public_key, &fingerprint, &machine.service)
            .await?;
        let spec = CreateServer {
            name: hostname_for(&machine.name),
            server_type: machine.plan.clone(),
            image: machine
                .os_image
                .clone()
                .unwrap_or_else(|| self.options.default_image.clone()),
            location: machine.zone.clone(),
            ssh_key,
            user_data,
            labels,
        };
        let action = format!("create server {}", machine.name);
        let create = request::create_server(&spec);
        let key = &machine.idempotency_key;
        let body = match self
            .transport
            .create(&create, &action, move || self.created_with(key))
            .await?
        {
            Created::Answer(body) => body,
            Created::Found(existing) => return Ok(existing),
        };
        let created: model::CreateServerResponse = parse(NAME, &body, &action)?;
        let machine = created.server.into_machine();
        let actions = std::iter::once(created.action.id)
            .chain(created.next_actions.iter().map(|a| a.id))
            .collect();
        if let Ok(mut pending) = self.pending_actions.lock() {
            pending.insert(machine.id.clone(), actions);
        }
        Ok(machine)
    }

    /// The server an earlier create with this idempotency key made, if any.
    async fn created_with(&self, key: &str) -> Result<Option<Machine>, ProviderError> {
        let mut found = self.servers_with_labels(&[(LABEL_ID, key)]).await?;
        // Two servers with one key cannot come from kamal-dev; the oldest is the original.
        found.sort_by_key(|machine| machine.created_at);
        Ok(found.into_iter().next())
    }

    /// The name of the project's key with this fingerprint, registering it the first time. A
    /// 409 `uniqueness_error` means another run registered it meanwhile: look it up again.
    async fn ssh_key_name(
        &self,
        public_key: &str,
        fingerprint: &str,
        service: &str,
    ) -> Result<String, ProviderError> {
        let mut known = self.ssh_keys.lock().await;
        if let Some(name) = known.get(fingerprint) {
            return Ok(name.clone());
        }
        let registered = if let Some(name) = self.ssh_key_by_fingerprint(fingerprint).await? {
            name
        } else {
            self.register_key(public_key, fingerprint, service).await?
        };
        known.insert(fingerprint.to_string(), registered.clone());
        Ok(registered)
    }

    async fn register_key(
        &self,
        public_key: &str,
        fingerprint: &str,
        service: &str,
    ) -> Result<String, ProviderError> {
        let name = format!("kamal-dev-{service}-{}", fingerprint.replace(':', ""));
        let labels = BTreeMap::from([(LABEL_SERVICE.to_string(), service.to_string())]);
        let action = "register the SSH key";
        let create = request::create_ssh_key(&name, public_key, &labels);
        match self.transport.send(&create).await {
            Ok(body) => Ok(parse::<model::SshKeyEnvelope>(NAME, &body, action)?.ssh_key.name),
            Err(CallError::Api { failure, .. })
                if failure.status == 409 && failure.code == "uniqueness_error" =>
            {
                self.ssh_key_by_fingerprint(fingerprint)
                    .await?
                    .ok_or_else(|| ProviderError::InvalidSetting {
                        provider: NAME,
                        message: format!(
                            "an SSH key named {name} exists in the project but is not the configured key"
                        ),
                        hint: Some(format!(
                            "delete or rename the SSH key {name} in the Hetzner console, or set ssh.key_path to the key it holds"
                        )),
                    })
            }
            Err(err) => Err(self.transport.fail(action, err)),
        }
    }

    async fn ssh_key_by_fingerprint(
        &self,
        fingerprint: &str,
    ) -> Result<Option<String>, ProviderError> {
        let list: model::SshKeyList = self
            .transport
            .call(
                &request::ssh_keys_with_fingerprint(fingerprint),
                "look up the SSH key",
            )
            .await?;
        Ok(list
            .ssh_keys
            .into_iter()
            .find(|key| key.fingerprint.is_empty() || key.fingerprint == fingerprint)
            .map(|key| key.name))
    }
}

/// A valid RFC 1123 server name: lower-case letters, digits and `-`, at most 63 characters.
pub fn hostname_for(name: &str) -> String {
    let mapped = hostname::dns_characters(name);
    let trimmed: String = mapped.trim_matches('-').chars().take(63).collect();
    hostname::or_fallback(trimmed.trim_end_matches('-'))
}

/// Hetzner's label rules: key = optional DNS prefix + `/` + name of at most 63 characters,
/// value at most 63 characters (may be empty); names and values start and end alphanumeric
/// with `-`, `_`, `.` inside.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), ProviderError> {
    for (key, value) in labels {
        let name = key.rsplit_once('/').map_or(key.as_str(), |(_, name)| name);
        if name.is_empty() || !label_text_ok(name) || key.starts_with("hetzner.cloud/") {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!("label key {key:?} is not allowed"),
                hint: Some(
                    "label keys are at most 63 letters, digits, -, _ or . and start and end with a letter or digit".into(),
                ),
            });
        }
        if !value.is_empty() && !label_text_ok(value) {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!("the value {value:?} of label {key} is not allowed"),
                hint: Some(
                    "use a service and machine name of at most 63 letters, digits, -, _ or ."
                        .into(),
                ),
            });
        }
    }
    Ok(())
}

fn label_text_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
    text.len() <= 63
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_hetzner_rules() {
        let ok = BTreeMap::from([
            ("kamal-dev-machine".to_string(), "app-01".to_string()),
            ("example.com/my".to_string(), String::new()),
            (
                LABEL_ID.to_string(),
                "5d1b8e4c-0e5f-4f0b-9a51-0f3c2d1e8a77".to_string(),
            ),
        ]);
        assert!(validate_labels(&ok).is_ok());
        for (key, value) in [
            ("-x", "v"),
            ("k", "has space"),
            ("k", "-lead"),
            ("hetzner.cloud/x", "v"),
            ("k", &"v".repeat(64)),
        ] {
            let bad = BTreeMap::from([(key.to_string(), value.to_string())]);
            assert!(validate_labels(&bad).is_err(), "{key}={value}");
        }
    }

    #[test]
    fn hostnames_are_rfc1123() {
        assert_eq!(hostname_for("My_App 01"), "my-app-01");
        assert_eq!(hostname_for("--"), "kamal-dev");
        assert_eq!(hostname_for(&"a".repeat(80)).len(), 63);
    }
}
