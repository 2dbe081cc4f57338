//! Creating a server without ever creating two: the request carries a `kamal-dev-id` label;
//! before sending, and after any failure that may have reached the API (5xx, a dropped
//! connection), the server is looked up by that label instead of re-sending blindly.

use std::collections::BTreeMap;

use super::request::{self, CreateServer};
use super::{NAME, Upcloud, model};
use crate::provider::cloud_init::DEFAULT_USER_DATA;
use crate::provider::http::{Created, parse};
use crate::provider::{LABEL_ID, Machine, MachineRequest, ProviderError};

/// Disk size when a plan does not say (custom plans).
const FALLBACK_DISK_GB: u64 = 25;

impl Upcloud {
    pub(super) async fn create(&self, machine: &MachineRequest) -> Result<Machine, ProviderError> {
        let labels = machine.all_labels();
        validate_labels(&labels)?;
        if machine.ssh_public_key.trim().is_empty() {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!(
                    "no SSH public key for {}: the server would be unreachable",
                    machine.name
                ),
                hint: Some(
                    "set ssh.key_path in config/dev.yml to an OpenSSH public key (.pub)".into(),
                ),
            });
        }
        let action = format!("create server {}", machine.name);
        if let Some(existing) = self.created_with(&machine.idempotency_key).await? {
            return Ok(existing);
        }
        let plan = self.plan(&machine.plan).await?;
        let image = machine
            .os_image
            .as_deref()
            .unwrap_or(&self.options.default_image);
        let template_uuid = self.template_uuid(image).await?;
        let spec = CreateServer {
            title: machine.name.clone(),
            hostname: request::hostname_for(&machine.name),
            zone: machine.zone.clone(),
            plan: plan.name.clone(),
            template_uuid,
            disk_gb: if plan.storage_gb == 0 {
                FALLBACK_DISK_GB
            } else {
                plan.storage_gb
            },
            disk_tier: plan.storage_tier.clone(),
            ssh_public_key: machine.ssh_public_key.trim().to_string(),
            user_data: machine
                .user_data
                .clone()
                .unwrap_or_else(|| DEFAULT_USER_DATA.to_string()),
            labels,
        };
        let create = request::create_server(&spec);
        let key = &machine.idempotency_key;
        match self
            .transport
            .create(&create, &action, move || self.created_with(key))
            .await?
        {
            Created::Answer(body) => {
                let envelope: model::ServerEnvelope = parse(NAME, &body, &action)?;
                Ok(envelope.server.into_machine())
            }
            Created::Found(existing) => Ok(existing),
        }
    }

    /// The server an earlier create with this idempotency key made, if any.
    async fn created_with(&self, key: &str) -> Result<Option<Machine>, ProviderError> {
        let mut found = self.servers_with_labels(&[(LABEL_ID, key)]).await?;
        // Two servers with one key cannot come from kamal-dev; the oldest is the original.
        found.sort_by_key(|machine| machine.created_at);
        Ok(found.into_iter().next())
    }
}

/// UpCloud's label rules: key 2-32 printable ASCII characters not starting with `_`, value at
/// most 255 characters.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<(), ProviderError> {
    for (key, value) in labels {
        let key_ok = (2..=32).contains(&key.len())
            && key.bytes().all(|b| b.is_ascii_graphic())
            && !key.starts_with('_');
        if !key_ok {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!("label key {key:?} is not allowed"),
                hint: Some(
                    "label keys are 2-32 printable ASCII characters and do not start with _".into(),
                ),
            });
        }
        if value.chars().count() > 255 {
            return Err(ProviderError::InvalidSetting {
                provider: NAME,
                message: format!("the value of label {key} is longer than 255 characters"),
                hint: Some("use a shorter service or machine name".into()),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_upcloud_rules() {
        let ok = BTreeMap::from([("kamal-dev-machine".to_string(), "app-1".to_string())]);
        assert!(validate_labels(&ok).is_ok());
        for key in ["_os", "a", "has space", &"k".repeat(33)] {
            let bad = BTreeMap::from([(key.to_string(), String::new())]);
            assert!(validate_labels(&bad).is_err(), "{key}");
        }
        let long = BTreeMap::from([("kamal-dev".to_string(), "v".repeat(256))]);
        assert!(validate_labels(&long).is_err());
    }
}
