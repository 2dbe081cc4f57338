//! One SSH connection per machine for a whole run: the first caller for a (user, host, port)
//! connects, later callers share it, and a dropped session is replaced on the next request.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

use super::connection::Connection;
use super::error::RemoteError;
use super::hostkey::{self, Fingerprint, HostKeyCheck};
use super::ssh::Connector;
use super::target::SshTarget;

type Key = (String, u16, String);

/// Connections keyed by (host, port, user). Share one per run (wrap in `Arc` or clone the
/// `Connector` inside it).
pub struct Pool {
    connector: Connector,
    slots: Mutex<HashMap<Key, Arc<OnceCell<Connection>>>>,
}

impl Pool {
    pub fn new(connector: Connector) -> Pool {
        Pool {
            connector,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The connection to `target`, opening it on first use (concurrent callers wait for the
    /// same attempt). `expected` is the recorded host key, as for [`Connector::connect`].
    pub async fn get(
        &self,
        target: &SshTarget,
        expected: Option<&Fingerprint>,
    ) -> Result<Connection, RemoteError> {
        let key = (target.host.clone(), target.port, target.user.clone());
        // A cached session that died is replaced once; a fresh one that is already closed
        // again is returned as is and fails on first use with a clear error.
        for attempt in 0..2 {
            let slot = {
                let mut slots = self.slots.lock().await;
                let slot = slots.entry(key.clone()).or_default();
                if slot.get().is_some_and(Connection::is_closed) {
                    *slot = Arc::default();
                }
                Arc::clone(slot)
            };
            let connection = slot
                .get_or_try_init(|| self.connector.connect(target, expected))
                .await?
                .clone();
            if connection.is_closed() && attempt == 0 {
                continue;
            }
            if let Some(want) = expected
                && hostkey::check(Some(want), connection.host_key()) == HostKeyCheck::Changed
            {
                return Err(RemoteError::HostKeyChanged {
                    target: Box::new(target.clone()),
                    expected: want.clone(),
                    seen: connection.host_key().clone(),
                });
            }
            return Ok(connection);
        }
        self.connector.connect(target, expected).await
    }

    /// Disconnect every pooled connection (at the end of a run).
    pub async fn close_all(&self) {
        let slots = std::mem::take(&mut *self.slots.lock().await);
        for slot in slots.into_values() {
            if let Some(connection) = slot.get() {
                connection.close().await;
            }
        }
    }
}
