//! Secrets: `.kamal/secrets` read exactly as Kamal 2 reads it (kamal.md §1, §2), the [`Secret`]
//! newtype whose Debug/Display print `****`, redaction, selection of the config's `secrets:`
//! list and the Docker env-file contents that carry them into a workspace.
//!
//! This module never prints (warnings come back as [`SecretsWarning`] data) and never puts a
//! value into an error message, a command line or a log. The only process it starts is the
//! `sh -c` that a `$(command)` in a secrets file asks for, through [`CommandRunner`].
//!
//! Typical use by the deploy workflow:
//! `Secrets::load(&SecretsSource::new(root, config.secrets_file.as_deref(), dest))?`, print
//! [`Secrets::warnings`], then [`Secrets::select`] the config's `secrets:` list, print its
//! warnings, and upload [`Selection::env_file`]'s contents with mode 0600. Evaluation may run
//! `sh` and block: from async code call it inside `spawn_blocking`.
//!
//! Where kamal-dev differs from Kamal on purpose:
//! - a `$(command)` that exits non-zero is an error naming the key and quoting its (redacted)
//!   stderr; Kamal silently uses whatever it printed;
//! - commands run with stdin closed and stderr captured, in the project folder, and get their
//!   text through an environment variable rather than `sh -c TEXT`, so expanded values never
//!   show in a process list;
//! - `$(kamal secrets extract ...)` is done in-process like Kamal; `fetch` runs the real
//!   `kamal ... --inline`; other `kamal secrets` subcommands are refused;
//! - `secrets_file` in config/dev.yml plays the part of Kamal's `secrets_path` (the base the
//!   `-common` and `.<destination>` files are derived from).

mod envfile;
mod error;
mod inline;
mod load;
mod parse;
mod redact;
mod runner;
mod source;

use std::fmt;

pub use envfile::{EnvFile, env_file};
pub use error::{CommandStderr, Searched, SecretsError, SecretsWarning};
pub use load::{Secrets, Selection};
pub use redact::Redactor;
pub use runner::{CommandOutput, CommandRunner, ShellRunner, process_environment};
pub use source::SecretsSource;

/// Provider credentials: read by provider clients through [`Secrets::provider_credential`],
/// never injected into a workspace even when listed under `secrets:`.
pub const PROVIDER_CREDENTIALS: &[&str] = &[
    "UPCLOUD_USERNAME",
    "UPCLOUD_PASSWORD",
    "UPCLOUD_TOKEN",
    "HCLOUD_TOKEN",
];

/// Whether `key` names a provider credential (see [`PROVIDER_CREDENTIALS`]).
pub fn is_provider_credential(key: &str) -> bool {
    PROVIDER_CREDENTIALS.contains(&key)
}

/// A secret value. Debug and Display print `****`; [`Secret::expose`] is for the injection
/// edge only (writing the env file, sending an API token).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The plain value. Call it only where the value leaves the process on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// Bytes that contain secrets (an env file). Debug and Display print `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The plain bytes, for the one write that sends them to the machine.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_and_display_hide_the_value() {
        let secret = Secret::new("marker-7f3a");
        assert_eq!(format!("{secret}"), "****");
        assert_eq!(format!("{secret:?}"), "****");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(****)");
        assert_eq!(secret.expose(), "marker-7f3a");
        let bytes = SecretBytes::new(b"A=marker-7f3a\n".to_vec());
        assert_eq!(format!("{bytes} {bytes:?}"), "**** ****");
    }

    #[test]
    fn secrets_can_be_shared_across_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Secrets>();
        assert_send_sync::<Secret>();
        assert_send_sync::<Redactor>();
    }

    #[test]
    fn provider_credentials_are_recognised() {
        assert!(is_provider_credential("HCLOUD_TOKEN"));
        assert!(is_provider_credential("UPCLOUD_USERNAME"));
        assert!(!is_provider_credential("GITHUB_TOKEN"));
    }
}
