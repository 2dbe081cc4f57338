//! How we prove who we are: the private key next to `ssh.key_path`, or ssh-agent when that key
//! is missing or has a passphrase. Loads the key once per run; never logs or prints key data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::client::Handle;
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};

use super::error::RemoteError;
use super::target::SshTarget;

/// The credentials every connection of a run uses.
#[derive(Debug, Clone)]
pub(crate) enum Credentials {
    /// A private key read from disk.
    Key { key: Arc<PrivateKey>, path: PathBuf },
    /// Keys held by the ssh-agent listening on `socket`; when the configured public key is
    /// known only that one is used.
    Agent {
        socket: PathBuf,
        only: Option<PublicKey>,
        path: Option<PathBuf>,
    },
}

/// The private key belonging to a configured public key path: the same path without `.pub`
/// (a path without `.pub` is taken as the private key itself).
pub fn private_key_path(key_path: &Path) -> PathBuf {
    match key_path.to_str().and_then(|p| p.strip_suffix(".pub")) {
        Some(private) => PathBuf::from(private),
        None => key_path.to_path_buf(),
    }
}

/// The ssh-agent socket named by `SSH_AUTH_SOCK`, if set.
pub(crate) fn agent_socket_from_env() -> Option<PathBuf> {
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|sock| !sock.is_empty())
        .map(PathBuf::from)
}

impl Credentials {
    /// Read the key for `key_path` (the public key path from config), falling back to the
    /// agent at `agent_socket` when the private key is missing or encrypted.
    pub(crate) fn load(
        key_path: Option<&Path>,
        agent_socket: Option<&Path>,
    ) -> Result<Credentials, RemoteError> {
        let Some(key_path) = key_path else {
            return match agent_socket {
                Some(socket) => Ok(Credentials::Agent {
                    socket: socket.to_path_buf(),
                    only: None,
                    path: None,
                }),
                None => Err(RemoteError::NoKey),
            };
        };
        let private = private_key_path(key_path);
        let public = if private == key_path {
            let mut p = private.clone().into_os_string();
            p.push(".pub");
            PathBuf::from(p)
        } else {
            key_path.to_path_buf()
        };
        let agent = |socket: &Path| Credentials::Agent {
            socket: socket.to_path_buf(),
            only: russh::keys::load_public_key(&public).ok(),
            path: Some(private.clone()),
        };
        let err = match russh::keys::load_secret_key(&private, None) {
            Ok(key) => {
                return Ok(Credentials::Key {
                    key: Arc::new(key),
                    path: private,
                });
            }
            Err(err) => err,
        };
        let missing =
            matches!(&err, russh::keys::Error::IO(io) if io.kind() == std::io::ErrorKind::NotFound);
        let encrypted = matches!(err, russh::keys::Error::KeyIsEncrypted);
        if let Some(socket) = agent_socket
            && (missing || encrypted)
        {
            return Ok(agent(socket));
        }
        Err(match err {
            russh::keys::Error::KeyIsEncrypted => RemoteError::KeyEncrypted { path: private },
            russh::keys::Error::IO(source) => RemoteError::KeyUnreadable {
                path: private,
                source,
            },
            source => RemoteError::KeyInvalid {
                path: private,
                source,
            },
        })
    }

    fn key_path(&self) -> Option<PathBuf> {
        match self {
            Credentials::Key { path, .. } => Some(path.clone()),
            Credentials::Agent { path, .. } => path.clone(),
        }
    }
}

/// Why a login attempt did not succeed: worth retrying (the connection dropped, e.g. a machine
/// still booting) or final.
pub(crate) enum AuthFailure {
    Retry(String),
    Fatal(RemoteError),
}

fn protocol(target: &SshTarget, err: russh::Error) -> AuthFailure {
    match err {
        russh::Error::IO(_)
        | russh::Error::HUP
        | russh::Error::Disconnect
        | russh::Error::SendError
        | russh::Error::ConnectionTimeout => AuthFailure::Retry(format!("{err} during login")),
        source => AuthFailure::Fatal(RemoteError::Protocol {
            target: Box::new(target.clone()),
            source,
        }),
    }
}

/// Log in on a fresh connection.
pub(crate) async fn authenticate<H: russh::client::Handler>(
    handle: &mut Handle<H>,
    target: &SshTarget,
    credentials: &Credentials,
) -> Result<(), AuthFailure> {
    let rejected = |tried: String| {
        AuthFailure::Fatal(RemoteError::AuthRejected {
            target: Box::new(target.clone()),
            tried,
            key: credentials.key_path(),
        })
    };
    match credentials {
        Credentials::Key { key, path } => {
            let hash = rsa_hash(handle, target, key.public_key()).await?;
            let result = handle
                .authenticate_publickey(
                    target.user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::clone(key), hash),
                )
                .await
                .map_err(|e| protocol(target, e))?;
            if result.success() {
                Ok(())
            } else {
                Err(rejected(format!("key {}", path.display())))
            }
        }
        Credentials::Agent { socket, only, .. } => {
            let Ok(mut agent) = AgentClient::connect_uds(socket).await else {
                return Err(rejected("ssh-agent (not reachable)".to_string()));
            };
            if let Some(binding) = handle.agent_session_binding() {
                // Destination-constrained agent keys need this; plain agents ignore it.
                let _ = agent.bind_session(binding, false).await;
            }
            let identities = agent.request_identities().await.unwrap_or_default();
            let mut offered = 0;
            for identity in identities {
                let AgentIdentity::PublicKey { key, .. } = identity else {
                    continue;
                };
                if only
                    .as_ref()
                    .is_some_and(|want| want.key_data() != key.key_data())
                {
                    continue;
                }
                offered += 1;
                let hash = rsa_hash(handle, target, &key).await?;
                let result = handle
                    .authenticate_publickey_with(target.user.clone(), key, hash, &mut agent)
                    .await
                    .map_err(|source| {
                        AuthFailure::Fatal(RemoteError::Agent {
                            target: Box::new(target.clone()),
                            source,
                        })
                    })?;
                if result.success() {
                    return Ok(());
                }
            }
            Err(rejected(match offered {
                0 => "ssh-agent (it holds no matching key)".to_string(),
                1 => "1 ssh-agent key".to_string(),
                n => format!("{n} ssh-agent keys"),
            }))
        }
    }
}

/// RSA keys need the strongest hash the server accepts; other key types ignore it.
async fn rsa_hash<H: russh::client::Handler>(
    handle: &Handle<H>,
    target: &SshTarget,
    key: &PublicKey,
) -> Result<Option<russh::keys::HashAlg>, AuthFailure> {
    if !matches!(key.algorithm(), russh::keys::Algorithm::Rsa { .. }) {
        return Ok(None);
    }
    let hash = handle
        .best_supported_rsa_hash()
        .await
        .map_err(|e| protocol(target, e))?;
    Ok(hash.flatten())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_is_the_public_path_without_pub() {
        assert_eq!(
            private_key_path(Path::new("/home/me/.ssh/id_ed25519.pub")),
            PathBuf::from("/home/me/.ssh/id_ed25519")
        );
        assert_eq!(
            private_key_path(Path::new("/home/me/.ssh/id_ed25519")),
            PathBuf::from("/home/me/.ssh/id_ed25519")
        );
    }

    #[test]
    fn a_missing_key_without_agent_names_the_private_path() {
        let err =
            Credentials::load(Some(Path::new("/nonexistent/kd/id_ed25519.pub")), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/kd/id_ed25519 could not be read"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_key_with_an_agent_uses_the_agent() {
        let creds = Credentials::load(
            Some(Path::new("/nonexistent/kd/id_ed25519.pub")),
            Some(Path::new("/run/agent.sock")),
        )
        .unwrap();
        assert!(
            matches!(&creds, Credentials::Agent { socket, only: None, .. } if socket == Path::new("/run/agent.sock"))
        );
        assert!(matches!(
            Credentials::load(None, None),
            Err(RemoteError::NoKey)
        ));
    }

    #[test]
    fn garbage_key_is_invalid_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        std::fs::write(&path, "not a key").unwrap();
        let err = Credentials::load(Some(&path), None).unwrap_err();
        assert!(matches!(err, RemoteError::KeyInvalid { .. }), "{err:?}");
    }
}
