//! One logged-in SSH session ([`Connection`]) and running commands on it, one channel per
//! command. It must not connect or retry (that is `ssh.rs`) nor decide what to run.

use std::sync::Arc;

use russh::ChannelMsg;
use russh::client::{self, Handle};
use tokio::sync::Semaphore;

use super::Input;
use super::error::RemoteError;
use super::hostkey::Fingerprint;
use super::output::{Exit, Sink};
use super::ssh::Client;
use super::target::SshTarget;

/// One logged-in SSH session with a machine. Clone it freely: all clones share the session,
/// and each command opens its own channel on it, so commands can run concurrently.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<ConnectionInner>,
}

struct ConnectionInner {
    handle: Handle<Client>,
    target: SshTarget,
    fingerprint: Fingerprint,
    public_key: String,
    first_use: bool,
    channels: Semaphore,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("target", &self.inner.target)
            .field("host_key", &self.inner.fingerprint)
            .finish_non_exhaustive()
    }
}

impl Connection {
    pub(crate) fn new(
        handle: Handle<Client>,
        target: SshTarget,
        fingerprint: Fingerprint,
        public_key: String,
        first_use: bool,
        max_channels: usize,
    ) -> Connection {
        Connection {
            inner: Arc::new(ConnectionInner {
                handle,
                target,
                fingerprint,
                public_key,
                first_use,
                channels: Semaphore::new(max_channels.max(1)),
            }),
        }
    }

    pub fn target(&self) -> &SshTarget {
        &self.inner.target
    }

    /// The fingerprint of the host key the server proved it holds.
    pub fn host_key(&self) -> &Fingerprint {
        &self.inner.fingerprint
    }

    /// The host key itself in OpenSSH form (`ssh-ed25519 AAAA...`), for `known_hosts` files.
    pub fn host_public_key(&self) -> &str {
        &self.inner.public_key
    }

    /// The underlying session, for port forwards (`forward.rs`).
    pub(crate) fn handle(&self) -> &Handle<Client> {
        &self.inner.handle
    }

    /// True when no fingerprint was expected: the caller should record [`Self::host_key`].
    pub fn host_key_first_seen(&self) -> bool {
        self.inner.first_use
    }

    /// True once the session has ended (the server went away or [`Self::close`] was called).
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    /// End the session for every clone.
    pub async fn close(&self) {
        let _ = self
            .inner
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    /// Run one already-quoted command line on a new channel, feeding `stdin` then EOF, and
    /// pass output to `sink` as it arrives.
    pub(crate) async fn exec(
        &self,
        program: &str,
        command: Vec<u8>,
        stdin: Option<&mut Input<'_>>,
        sink: &mut dyn Sink,
    ) -> Result<Exit, RemoteError> {
        let target = &self.inner.target;
        let _permit = self.inner.channels.acquire().await;
        let cut_off = |reason: String| RemoteError::Interrupted {
            host: target.label(),
            program: program.to_string(),
            reason,
        };
        let channel = self
            .inner
            .handle
            .channel_open_session()
            .await
            .map_err(|e| cut_off(format!("could not open an SSH channel: {e}")))?;
        let (mut read, write) = channel.split();
        let write = Arc::new(write);
        let mut guard = CancelGuard(Some(Arc::clone(&write)));
        write
            .exec(true, command)
            .await
            .map_err(|e| cut_off(e.to_string()))?;
        // Write stdin while reading output: a command that echoes large input would otherwise
        // fill both windows and stall.
        let writer = async {
            if let Some(data) = stdin {
                write.data(&mut *data).await?;
            }
            write.eof().await
        };
        let reader = async {
            let mut exit = Exit::Unknown;
            let mut refused = false;
            while let Some(message) = read.wait().await {
                match message {
                    ChannelMsg::Data { data } => sink.stdout(&data),
                    ChannelMsg::ExtendedData { data, ext: 1 } => sink.stderr(&data),
                    ChannelMsg::ExitStatus { exit_status } => exit = Exit::Code(exit_status),
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        exit = Exit::Signal(signal_name_text(&signal_name));
                    }
                    // The server will not run it and may keep the channel open: stop
                    // waiting; the guard closes the channel.
                    ChannelMsg::Failure => {
                        refused = true;
                        break;
                    }
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            (exit, refused)
        };
        let (written, (exit, refused)) = tokio::join!(writer, reader);
        if refused {
            return Err(cut_off("the server refused to run it".to_string()));
        }
        guard.0 = None;
        // A command may exit without reading all of stdin; only a lost channel is an error.
        if let (Err(err), Exit::Unknown) = (&written, &exit) {
            return Err(cut_off(format!("sending input failed: {err}")));
        }
        if exit == Exit::Unknown && self.is_closed() {
            return Err(cut_off("the SSH connection closed".to_string()));
        }
        Ok(exit)
    }
}

/// When a caller drops a running command (a timeout, Ctrl-C, the end of `docker logs -f`),
/// ask the server to stop it and close the channel, so nothing is left running remotely.
struct CancelGuard(Option<Arc<russh::ChannelWriteHalf<client::Msg>>>);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        let Some(write) = self.0.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = write.signal(russh::Sig::TERM).await;
                let _ = write.close().await;
            });
        }
    }
}

fn signal_name_text(sig: &russh::Sig) -> String {
    match sig {
        russh::Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}
