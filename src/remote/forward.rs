//! SSH local port forwards: a listener on this machine's 127.0.0.1 whose connections are
//! carried over the pooled SSH session (one `direct-tcpip` channel each) to a host and port
//! as seen from the machine. It must not decide which ports to forward, nor print.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::{ExitStatus, UserFacing};

use super::connection::Connection;

/// Why a forward could not start.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("local port {port} is already in use on this machine")]
    PortTaken {
        port: u16,
        #[source]
        source: std::io::Error,
    },

    #[error("could not listen on local port {port}")]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
}

impl UserFacing for ForwardError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }

    fn hint(&self) -> Option<String> {
        match self {
            ForwardError::PortTaken { port, .. } => Some(format!(
                "stop what listens on {port}, or pick another local port: `kamal-dev forward NAME LOCAL:REMOTE` (e.g. {}:{port})",
                port.saturating_add(10000)
            )),
            ForwardError::Bind { .. } => None,
        }
    }
}

/// One listening forward: 127.0.0.1:`local_port` here to `remote_host:remote_port` there.
pub struct Forwarding {
    listener: TcpListener,
    connection: Connection,
    remote_host: String,
    remote_port: u16,
}

impl Forwarding {
    /// Listen on 127.0.0.1:`local_port` (0 picks a free port) for `remote_host:remote_port`
    /// as the machine behind `connection` sees it.
    pub async fn bind(
        connection: &Connection,
        local_port: u16,
        remote_host: &str,
        remote_port: u16,
    ) -> Result<Forwarding, ForwardError> {
        let listener = TcpListener::bind(("127.0.0.1", local_port))
            .await
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AddrInUse {
                    ForwardError::PortTaken {
                        port: local_port,
                        source,
                    }
                } else {
                    ForwardError::Bind {
                        port: local_port,
                        source,
                    }
                }
            })?;
        Ok(Forwarding {
            listener,
            connection: connection.clone(),
            remote_host: remote_host.to_string(),
            remote_port,
        })
    }

    /// The local port actually listened on.
    pub fn local_port(&self) -> u16 {
        self.listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default()
    }

    /// Accept connections until the future is dropped (Ctrl-C) or the SSH session ends.
    /// `on_problem` hears about each connection that could not be carried.
    pub async fn serve<F>(self, on_problem: F)
    where
        F: Fn(String) + Send + Sync + 'static,
    {
        let on_problem = Arc::new(on_problem);
        loop {
            let Ok((mut socket, peer)) = self.listener.accept().await else {
                // Out of file descriptors and the like: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            if self.connection.is_closed() {
                on_problem("the SSH connection closed; stopping the forward".to_string());
                return;
            }
            let connection = self.connection.clone();
            let host = self.remote_host.clone();
            let port = self.remote_port;
            let on_problem = Arc::clone(&on_problem);
            tokio::spawn(async move {
                let channel = connection
                    .handle()
                    .channel_open_direct_tcpip(
                        host.clone(),
                        u32::from(port),
                        peer.ip().to_string(),
                        u32::from(peer.port()),
                    )
                    .await;
                match channel {
                    Ok(channel) => {
                        let mut stream = channel.into_stream();
                        let _ = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
                    }
                    Err(err) => on_problem(format!(
                        "could not reach {host}:{port} on {}: {err}",
                        connection.target().label()
                    )),
                }
            });
        }
    }
}
