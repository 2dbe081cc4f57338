//! Host key fingerprints and the trust-on-first-use decision. Pure: no I/O, no storage (the
//! caller keeps the fingerprint it was given, e.g. in the state file).

use std::fmt;

use base64::Engine as _;
use russh::keys::{HashAlg, PublicKey};

/// An SSH host key fingerprint in OpenSSH's form, `SHA256:` followed by unpadded base64
/// (what `ssh-keygen -l -E sha256` prints).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

/// Why a string is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an SSH host key fingerprint (expected SHA256: followed by 43 base64 characters)"
)]
pub struct BadFingerprint(String);

impl Fingerprint {
    /// The SHA-256 fingerprint of a public key.
    pub fn of(key: &PublicKey) -> Fingerprint {
        Fingerprint(key.fingerprint(HashAlg::Sha256).to_string())
    }

    /// Parse a recorded fingerprint. Accepts the padded form too (some tools print `=`).
    pub fn parse(text: &str) -> Result<Fingerprint, BadFingerprint> {
        let bad = || BadFingerprint(text.chars().take(80).collect());
        let body = text.trim().strip_prefix("SHA256:").ok_or_else(bad)?;
        let body = body.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| bad())?;
        if bytes.len() != 32 {
            return Err(bad());
        }
        Ok(Fingerprint(format!("SHA256:{body}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A public key as OpenSSH writes it (`ssh-ed25519 AAAA...`), without a comment.
pub fn openssh_line(key: &PublicKey) -> String {
    key.to_openssh()
        .map(|line| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some(kind), Some(data)) => format!("{kind} {data}"),
                _ => line.clone(),
            }
        })
        .unwrap_or_default()
}

/// One `known_hosts` line pinning `key` (OpenSSH form) for `host` on `port`.
pub fn known_hosts_line(host: &str, port: u16, key: &str) -> String {
    let host = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    format!("{host} {key}")
}

/// The outcome of comparing the key a server showed with the one recorded for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Nothing was recorded: trust this key and record it.
    FirstUse,
    /// The recorded key: go on.
    Matches,
    /// A different key: refuse, never connect.
    Changed,
}

/// Trust on first use: no expectation accepts (and the caller records) the key seen.
pub fn check(expected: Option<&Fingerprint>, seen: &Fingerprint) -> HostKeyCheck {
    match expected {
        None => HostKeyCheck::FirstUse,
        Some(want) if want == seen => HostKeyCheck::Matches,
        Some(_) => HostKeyCheck::Changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:VrG1bS6tj502+rGcijaBKJLekY5xAsa+/Aq8LO5OjmQ";

    #[test]
    fn parses_openssh_form_and_padded_form() {
        assert_eq!(Fingerprint::parse(FP).unwrap().as_str(), FP);
        let padded = format!("{FP}=");
        assert_eq!(Fingerprint::parse(&padded).unwrap().as_str(), FP);
    }

    #[test]
    fn rejects_other_hashes_and_garbage() {
        assert!(Fingerprint::parse("MD5:ab:cd").is_err());
        assert!(Fingerprint::parse("SHA256:short").is_err());
        assert!(Fingerprint::parse("SHA256:!!!!").is_err());
        assert!(Fingerprint::parse("").is_err());
    }

    #[test]
    fn fingerprint_of_a_key_matches_ssh_keygen_format() {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyr3PXw9mDSsUfkxDbmBI0/rMuGZnSS5pnWi0jRqVuv test",
        )
        .unwrap();
        let fp = Fingerprint::of(&key);
        assert!(fp.as_str().starts_with("SHA256:"));
        assert_eq!(Fingerprint::parse(fp.as_str()).unwrap(), fp);
    }

    #[test]
    fn known_hosts_lines() {
        let key = PublicKey::from_openssh(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyr3PXw9mDSsUfkxDbmBI0/rMuGZnSS5pnWi0jRqVuv test",
        )
        .unwrap();
        let line = openssh_line(&key);
        assert_eq!(
            line,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyr3PXw9mDSsUfkxDbmBI0/rMuGZnSS5pnWi0jRqVuv"
        );
        assert_eq!(known_hosts_line("1.2.3.4", 22, "k"), "1.2.3.4 k");
        assert_eq!(known_hosts_line("1.2.3.4", 2222, "k"), "[1.2.3.4]:2222 k");
    }

    #[test]
    fn tofu_decisions() {
        let a = Fingerprint::parse(FP).unwrap();
        let b = Fingerprint::parse("SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU").unwrap();
        assert_eq!(check(None, &a), HostKeyCheck::FirstUse);
        assert_eq!(check(Some(&a), &a), HostKeyCheck::Matches);
        assert_eq!(check(Some(&a), &b), HostKeyCheck::Changed);
    }
}
