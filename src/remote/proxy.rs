//! An SSH server on this process's stdin and stdout that carries each session onto a machine
//! over the pooled SSH [`Connection`]: the system `ssh` runs it as a `ProxyCommand`, so
//! `ssh <workspace> CMD`, an interactive `ssh <workspace>`, `scp`-less tools such as VS Code
//! Remote-SSH, and `ssh -L`/`-W` forwards all land where the caller's [`Landing`] says.
//!
//! The client is the user's own `ssh` process talking over a pipe, never a network peer, so
//! any login is accepted; the proxy's host key (kept in the project, pinned in its
//! `known_hosts`) lets that client check it is talking to this proxy. What runs and where TCP
//! goes are the caller's decision; this file only moves bytes, requests and exit codes.

use std::path::Path;
use std::sync::Arc;

use russh::keys::PrivateKey;
use russh::server::{Auth, Handler, Msg, Session};
use russh::{Channel, ChannelId, ChannelMsg, ChannelOpenFailure, Sig};

use crate::error::{ExitStatus, UserFacing};

use super::connection::Connection;

/// What one SSH session of the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// `Some(command line)` for `ssh host CMD`, `None` for a login shell.
    pub command: Option<String>,
    /// Whether the client asked for a pseudo-terminal.
    pub tty: bool,
    /// The client's terminal type (`xterm-256color`), with a pseudo-terminal.
    pub term: Option<String>,
}

/// Where sessions and forwards of the proxy land. Implemented by the caller (the workspace's
/// container); must not do I/O.
pub trait Landing: Send + Sync + 'static {
    /// The argv to run on the machine for a session.
    fn command(&self, request: &SessionRequest) -> Vec<String>;

    /// Where a forward (`ssh -L`, `ssh -W`) to `host:port` goes, as the machine sees it.
    fn tcp_target(&self, host: &str, port: u16) -> (String, u16);
}

/// Why the proxy could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("could not read the proxy host key {}", path.display())]
    KeyRead {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the proxy host key {} is not a valid private key", path.display())]
    KeyInvalid {
        path: std::path::PathBuf,
        #[source]
        source: russh::keys::ssh_key::Error,
    },

    #[error("could not create the proxy host key {}", path.display())]
    KeyWrite {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the SSH session with the local ssh client failed")]
    Session(#[source] russh::Error),
}

impl UserFacing for ProxyError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }

    fn hint(&self) -> Option<String> {
        match self {
            ProxyError::KeyRead { .. } | ProxyError::KeyInvalid { .. } => Some(
                "run `kamal-dev ssh-config` to create it again (it rewrites .kamal/known_hosts to match)"
                    .to_string(),
            ),
            ProxyError::KeyWrite { .. } | ProxyError::Session(_) => None,
        }
    }
}

/// Read the proxy's host key from `path` (written by `kamal-dev ssh-config`).
pub fn load_host_key(path: &Path) -> Result<PrivateKey, ProxyError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProxyError::KeyRead {
        path: path.to_path_buf(),
        source,
    })?;
    PrivateKey::from_openssh(text.trim()).map_err(|source| ProxyError::KeyInvalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Read the proxy's host key from `path`, creating a new Ed25519 key there (mode 0600) when
/// there is none. Returns the key and whether it was created.
pub fn load_or_create_host_key(path: &Path) -> Result<(PrivateKey, bool), ProxyError> {
    match load_host_key(path) {
        Err(ProxyError::KeyRead { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            create_host_key(path).map(|key| (key, true))
        }
        other => other.map(|key| (key, false)),
    }
}

fn create_host_key(path: &Path) -> Result<PrivateKey, ProxyError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |source: std::io::Error| ProxyError::KeyWrite {
        path: path.to_path_buf(),
        source,
    };
    let other = |err: russh::keys::ssh_key::Error| fail(std::io::Error::other(err.to_string()));
    let key =
        PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519).map_err(other)?;
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(other)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    // Private from the first byte; a concurrent creator wins and we read its key.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            let _ = std::fs::remove_file(&tmp);
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&tmp);
            load_or_create_host_key(path).map(|(key, _)| key)
        }
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            Err(fail(err))
        }
    }
}

/// The public half of `key` in OpenSSH form (`ssh-ed25519 AAAA...`).
pub fn public_key_text(key: &PrivateKey) -> String {
    key.public_key().to_openssh().unwrap_or_default()
}

/// Speak SSH on stdin/stdout until the client goes away, carrying every session and forward
/// to the machine behind `connection` as `landing` says.
pub async fn serve_stdio(
    connection: Connection,
    host_key: PrivateKey,
    landing: Arc<dyn Landing>,
) -> Result<(), ProxyError> {
    let config = russh::server::Config {
        methods: russh::MethodSet::from(
            &[russh::MethodKind::None, russh::MethodKind::PublicKey][..],
        ),
        keys: vec![host_key],
        // The client is a local process: no reason to slow down its login.
        auth_rejection_time: std::time::Duration::ZERO,
        auth_rejection_time_initial: Some(std::time::Duration::ZERO),
        // An editor may keep a session idle for hours; the client's own keepalives apply.
        inactivity_timeout: None,
        nodelay: false,
        ..Default::default()
    };
    let stream = tokio::io::join(tokio::io::stdin(), tokio::io::stdout());
    let bridge = Bridge {
        connection,
        landing,
    };
    let session = russh::server::run_stream(Arc::new(config), stream, bridge)
        .await
        .map_err(ProxyError::Session)?;
    match session.await {
        // The client hanging up is how every session ends.
        Ok(()) | Err(russh::Error::Disconnect | russh::Error::HUP | russh::Error::IO(_)) => Ok(()),
        Err(err) => Err(ProxyError::Session(err)),
    }
}

/// The per-client handler: accepts the login, hands each channel to its own task.
struct Bridge {
    connection: Connection,
    landing: Arc<dyn Landing>,
}

impl Handler for Bridge {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(Auth::Accept)
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        _key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        reply.accept().await;
        let (connection, landing) = (self.connection.clone(), Arc::clone(&self.landing));
        tokio::spawn(run_session(channel, connection, landing));
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Ok(port) = u16::try_from(port) else {
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        };
        let (host, port) = self.landing.tcp_target(host, port);
        let connection = self.connection.clone();
        let originator = originator.to_string();
        tokio::spawn(async move {
            let remote = connection
                .handle()
                .channel_open_direct_tcpip(host, u32::from(port), originator, originator_port)
                .await;
            match remote {
                Ok(remote) => {
                    reply.accept().await;
                    let mut local = channel.into_stream();
                    let mut remote = remote.into_stream();
                    let _ = tokio::io::copy_bidirectional(&mut local, &mut remote).await;
                }
                Err(_) => reply.reject(ChannelOpenFailure::ConnectFailed).await,
            }
        });
        Ok(())
    }

    // Session requests: the channel's task acts on them; here the client gets its answer.

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _cols: u32,
        _rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        _value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The container's environment is the devcontainer's; the client's is not passed on.
        session.channel_failure(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _protocol: &str,
        _cookie: &str,
        _screen: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }
}

/// One client session: wait for its shell or exec request, run the landing's command on a
/// channel of the machine connection, then carry bytes, window changes, signals and the
/// exit code until either side ends.
async fn run_session(channel: Channel<Msg>, connection: Connection, landing: Arc<dyn Landing>) {
    let (mut local_read, local_write) = channel.split();
    // The client's pseudo-terminal request, passed on as it came.
    let mut pty: Option<ChannelMsg> = None;
    let command = loop {
        match local_read.wait().await {
            Some(request @ ChannelMsg::RequestPty { .. }) => pty = Some(request),
            Some(ChannelMsg::RequestShell { .. }) => break None,
            Some(ChannelMsg::Exec { command, .. }) => {
                break Some(String::from_utf8_lossy(&command).into_owned());
            }
            Some(ChannelMsg::Close | ChannelMsg::Eof) | None => return,
            Some(_) => {}
        }
    };
    let term = match &pty {
        Some(ChannelMsg::RequestPty { term, .. }) if !term.is_empty() => Some(term.clone()),
        _ => None,
    };
    let request = SessionRequest {
        command,
        tty: pty.is_some(),
        term,
    };
    let argv = landing.command(&request);
    let fail = |message: String| {
        let write = &local_write;
        async move {
            let _ = write
                .extended_data_bytes(1, format!("kamal-dev: {message}\r\n").into_bytes())
                .await;
            let _ = write.exit_status(255).await;
            let _ = write.eof().await;
            let _ = write.close().await;
        }
    };
    let remote = match connection.handle().channel_open_session().await {
        Ok(remote) => remote,
        Err(err) => {
            fail(format!(
                "could not open a session on {}: {err}",
                connection.target().label()
            ))
            .await;
            return;
        }
    };
    let (mut remote_read, remote_write) = remote.split();
    if let Some(ChannelMsg::RequestPty {
        term,
        col_width,
        row_height,
        pix_width,
        pix_height,
        terminal_modes,
        ..
    }) = &pty
    {
        let _ = remote_write
            .request_pty(
                false,
                term,
                *col_width,
                *row_height,
                *pix_width,
                *pix_height,
                terminal_modes,
            )
            .await;
    }
    if let Err(err) = remote_write
        .exec(true, crate::shell::join(&argv).into_bytes())
        .await
    {
        fail(format!("could not start the session: {err}")).await;
        return;
    }
    // Client -> machine, in its own task so neither direction can stall the other.
    let upstream = tokio::spawn(async move {
        while let Some(message) = local_read.wait().await {
            let sent = match message {
                ChannelMsg::Data { data } => remote_write.data_bytes(data).await,
                ChannelMsg::Eof => remote_write.eof().await,
                ChannelMsg::WindowChange {
                    col_width,
                    row_height,
                    pix_width,
                    pix_height,
                } => {
                    remote_write
                        .window_change(col_width, row_height, pix_width, pix_height)
                        .await
                }
                ChannelMsg::Signal { signal } => remote_write.signal(signal).await,
                ChannelMsg::Close => break,
                _ => Ok(()),
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = remote_write.close().await;
    });
    // Machine -> client.
    let mut exit_sent = false;
    while let Some(message) = remote_read.wait().await {
        let sent = match message {
            ChannelMsg::Data { data } => local_write.data_bytes(data).await,
            ChannelMsg::ExtendedData { data, ext } => {
                local_write.extended_data_bytes(ext, data).await
            }
            ChannelMsg::ExitStatus { exit_status } => {
                exit_sent = true;
                local_write.exit_status(exit_status).await
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                exit_sent = true;
                local_write
                    .exit_status(128 + signal_number(&signal_name))
                    .await
            }
            ChannelMsg::Eof => local_write.eof().await,
            ChannelMsg::Failure => {
                fail("the machine refused to start the session".to_string()).await;
                exit_sent = true;
                break;
            }
            ChannelMsg::Close => break,
            _ => Ok(()),
        };
        if sent.is_err() {
            break;
        }
    }
    if !exit_sent {
        // The machine connection went away mid-session: say so rather than exit 0.
        fail(format!(
            "the connection to {} ended",
            connection.target().label()
        ))
        .await;
    }
    let _ = local_write.eof().await;
    let _ = local_write.close().await;
    upstream.abort();
}

/// The POSIX number of a signal (for the shell-style exit status 128 + n).
fn signal_number(sig: &Sig) -> u32 {
    match sig {
        Sig::HUP => 1,
        Sig::INT => 2,
        Sig::QUIT => 3,
        Sig::ILL => 4,
        Sig::ABRT => 6,
        Sig::FPE => 8,
        Sig::KILL => 9,
        Sig::USR1 => 10,
        Sig::SEGV => 11,
        Sig::PIPE => 13,
        Sig::ALRM => 14,
        Sig::TERM | Sig::Custom(_) => 15,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_key_is_created_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".kamal/ssh_proxy_key");
        let (key, created) = load_or_create_host_key(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = load_or_create_host_key(&path).unwrap();
        assert!(!created);
        assert_eq!(public_key_text(&key), public_key_text(&again));
        assert!(public_key_text(&key).starts_with("ssh-ed25519 "));
        std::fs::write(&path, "not a key").unwrap();
        let err = load_or_create_host_key(&path).unwrap_err();
        assert!(matches!(err, ProxyError::KeyInvalid { .. }), "{err}");
        assert!(err.hint().unwrap().contains("kamal-dev ssh-config"));
    }

    #[test]
    fn signals_map_to_shell_exit_codes() {
        assert_eq!(128 + signal_number(&Sig::KILL), 137);
        assert_eq!(128 + signal_number(&Sig::INT), 130);
    }
}
