//! SSH connections with russh: a [`Connector`] (credentials loaded once, a cap on concurrent
//! connection starts, retries while a machine boots, trust-on-first-use host keys) hands out
//! [`Connection`]s, each one TCP session reused for every command on that machine.
//! It must not decide what to run; callers pass argv and this file quotes it once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::auth::{self, AuthFailure, Credentials};
use super::connection::Connection;
use super::error::RemoteError;
use super::hostkey::{self, Fingerprint, HostKeyCheck};
use super::target::SshTarget;

/// Tunables for connecting. The defaults suit fresh cloud VMs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Per attempt: TCP connect, and separately the SSH handshake plus login.
    pub connect_timeout: Duration,
    /// Keep retrying refused or timed-out connections (a machine still booting) this long.
    pub retry_for: Duration,
    /// At most this many connection attempts run at once across all machines (Kamal: 30).
    pub max_concurrent_starts: usize,
    /// Send a keepalive after this much silence; give up after `keepalive_max` unanswered.
    pub keepalive_interval: Duration,
    pub keepalive_max: usize,
    /// At most this many commands run at once on one connection (stock sshd allows 10
    /// sessions per connection).
    pub max_channels: usize,
    /// The ssh-agent socket used when the key file is missing or has a passphrase (default:
    /// `SSH_AUTH_SOCK`).
    pub agent_socket: Option<PathBuf>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(180),
            max_concurrent_starts: 30,
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 4,
            max_channels: 8,
            agent_socket: auth::agent_socket_from_env(),
        }
    }
}

/// Opens connections. Cheap to clone; share one per run so the start limit is global.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<ConnectorInner>,
}

/// Shows the options only: credentials stay out of logs.
impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

struct ConnectorInner {
    config: Arc<client::Config>,
    credentials: Credentials,
    starts: Semaphore,
    options: ConnectOptions,
}

/// russh's callback side: records the host key it is shown and refuses a changed one.
pub(crate) struct Client {
    expected: Option<Fingerprint>,
    seen: Arc<Mutex<Option<(Fingerprint, String)>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let public: russh::keys::PublicKey = match key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => cert.public_key().clone().into(),
        };
        let fingerprint = Fingerprint::of(&public);
        let verdict = hostkey::check(self.expected.as_ref(), &fingerprint);
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some((fingerprint, hostkey::openssh_line(&public)));
        }
        Ok(verdict != HostKeyCheck::Changed)
    }
}

enum Attempt {
    Retry(String),
    Fatal(RemoteError),
}

impl Connector {
    /// Load the credentials for `key_path` (the public key from `ssh.key_path`; the private
    /// key is the same path without `.pub`; ssh-agent when that is missing or encrypted, or
    /// when `key_path` is `None`).
    pub fn new(key_path: Option<&Path>, options: ConnectOptions) -> Result<Connector, RemoteError> {
        let credentials = Credentials::load(key_path, options.agent_socket.as_deref())?;
        let config = client::Config {
            keepalive_interval: Some(options.keepalive_interval),
            keepalive_max: options.keepalive_max,
            nodelay: true,
            ..client::Config::default()
        };
        Ok(Connector {
            inner: Arc::new(ConnectorInner {
                config: Arc::new(config),
                credentials,
                starts: Semaphore::new(options.max_concurrent_starts.max(1)),
                options,
            }),
        })
    }

    pub fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// Connect and log in, retrying while the machine refuses or does not answer (it may be
    /// booting) until `retry_for` has passed. `expected` is the host key fingerprint recorded
    /// earlier; `None` trusts the key shown (the caller records [`Connection::host_key`]).
    pub async fn connect(
        &self,
        target: &SshTarget,
        expected: Option<&Fingerprint>,
    ) -> Result<Connection, RemoteError> {
        let options = &self.inner.options;
        let started = Instant::now();
        let mut attempts = 0;
        let mut delay = Duration::from_millis(250);
        loop {
            attempts += 1;
            let remaining = options.retry_for.saturating_sub(started.elapsed());
            let timeout = options
                .connect_timeout
                .min(remaining)
                .max(Duration::from_secs(1));
            let result = {
                let _permit = self.inner.starts.acquire().await;
                self.attempt(target, expected, timeout).await
            };
            match result {
                Ok(connection) => return Ok(connection),
                Err(Attempt::Fatal(err)) => return Err(err),
                Err(Attempt::Retry(last)) => {
                    if started.elapsed() + delay >= options.retry_for {
                        return Err(RemoteError::Unreachable {
                            target: Box::new(target.clone()),
                            attempts,
                            waited: started.elapsed(),
                            last,
                        });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    async fn attempt(
        &self,
        target: &SshTarget,
        expected: Option<&Fingerprint>,
        timeout: Duration,
    ) -> Result<Connection, Attempt> {
        let secs = timeout.as_secs();
        let tcp = match tokio::time::timeout(
            timeout,
            TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await
        {
            Err(_) => return Err(Attempt::Retry(format!("no answer within {secs}s"))),
            Ok(Err(err)) => return Err(Attempt::Retry(io_text(&err))),
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        let seen = Arc::new(Mutex::new(None));
        let handler = Client {
            expected: expected.cloned(),
            seen: Arc::clone(&seen),
        };
        let seen_key = || seen.lock().ok().and_then(|s| s.clone());
        let seen_fingerprint = || seen_key().map(|(fingerprint, _)| fingerprint);
        let handshake = tokio::time::timeout(
            timeout,
            client::connect_stream(Arc::clone(&self.inner.config), tcp, handler),
        )
        .await;
        let mut handle = match handshake {
            Err(_) => {
                return Err(Attempt::Retry(format!(
                    "SSH handshake did not finish within {secs}s"
                )));
            }
            Ok(Err(err)) => {
                if let (Some(want), Some(got)) = (expected, seen_fingerprint())
                    && hostkey::check(Some(want), &got) == HostKeyCheck::Changed
                {
                    return Err(Attempt::Fatal(RemoteError::HostKeyChanged {
                        target: Box::new(target.clone()),
                        expected: want.clone(),
                        seen: got,
                    }));
                }
                return Err(classify(target, err));
            }
            Ok(Ok(handle)) => handle,
        };
        let Some((fingerprint, public_key)) = seen_key() else {
            return Err(Attempt::Fatal(RemoteError::Protocol {
                target: Box::new(target.clone()),
                source: russh::Error::UnknownKey,
            }));
        };
        let login = tokio::time::timeout(
            timeout,
            auth::authenticate(&mut handle, target, &self.inner.credentials),
        )
        .await;
        match login {
            Err(_) => {
                return Err(Attempt::Retry(format!(
                    "login did not finish within {secs}s"
                )));
            }
            Ok(Err(AuthFailure::Retry(why))) => return Err(Attempt::Retry(why)),
            Ok(Err(AuthFailure::Fatal(err))) => return Err(Attempt::Fatal(err)),
            Ok(Ok(())) => {}
        }
        Ok(Connection::new(
            handle,
            target.clone(),
            fingerprint,
            public_key,
            expected.is_none(),
            self.inner.options.max_channels,
        ))
    }
}

/// Plain words for the usual connect failures (without "(os error 111)").
fn io_text(err: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let text = match err.kind() {
        ErrorKind::ConnectionRefused => "connection refused",
        ErrorKind::ConnectionReset => "connection reset",
        ErrorKind::ConnectionAborted => "connection aborted",
        ErrorKind::TimedOut => "timed out",
        ErrorKind::HostUnreachable => "host unreachable",
        ErrorKind::NetworkUnreachable => "network unreachable",
        ErrorKind::AddrNotAvailable => "address not available",
        _ => return err.to_string(),
    };
    text.to_string()
}

/// Refused, reset, timed out or cut off while the server starts: retry. Anything else in the
/// protocol is final.
fn classify(target: &SshTarget, err: russh::Error) -> Attempt {
    match err {
        russh::Error::IO(_)
        | russh::Error::HUP
        | russh::Error::Disconnect
        | russh::Error::SendError
        | russh::Error::ConnectionTimeout
        | russh::Error::Elapsed(_) => Attempt::Retry(match &err {
            russh::Error::IO(io) => io_text(io),
            russh::Error::HUP | russh::Error::Disconnect | russh::Error::SendError => {
                "the server closed the connection during the SSH handshake".to_string()
            }
            other => other.to_string(),
        }),
        source => Attempt::Fatal(RemoteError::Protocol {
            target: Box::new(target.clone()),
            source,
        }),
    }
}
