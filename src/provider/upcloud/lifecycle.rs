//! Server lifecycle: waiting for a state by polling with growing intervals, start, stop (soft,
//! then hard) and delete with disks. UpCloud answers start/stop at once with the old state and
//! refuses operations during `maintenance` with 409 `SERVER_STATE_ILLEGAL`, so every step
//! re-reads the state instead of trusting an answer.

use std::time::Duration;

use super::request::{self, StopType};
use super::{NAME, Upcloud, model};
use crate::provider::http::CallError;
use crate::provider::poll::{self, Poller, Waited};
use crate::provider::{ApiFailure, Machine, MachineId, MachineState, ProviderError};

/// How often a refused (409) step is re-tried before giving up.
const STATE_RETRIES: usize = 10;

impl Upcloud {
    /// Poll `GET /server/{id}` until `done`, at most `deadline`, the pause doubling each time.
    async fn poll_until(
        &self,
        id: &MachineId,
        deadline: Duration,
        done: impl Fn(&model::Server) -> bool,
    ) -> Result<Waited<model::Server>, ProviderError> {
        let poller = Poller::new(
            deadline,
            self.options.poll_min,
            self.options.poll_max,
            |pause| pause * 2,
        );
        let fetch = move || async move { self.server(id).await?.ok_or_else(|| vanished(id)) };
        poll::until(poller, fetch, |s| &s.state, done).await
    }

    pub(super) async fn wait_started(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        let server = self
            .poll_until(id, deadline, |s| s.machine_state() == MachineState::Running)
            .await?
            .started(NAME, id, deadline)?;
        Ok(server.into_machine())
    }

    async fn wait_stopped(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> Result<Option<Vec<String>>, ProviderError> {
        match self
            .poll_until(id, deadline, |s| s.machine_state() == MachineState::Stopped)
            .await?
        {
            Waited::Reached(_) => Ok(None),
            Waited::TimedOut(seen) => Ok(Some(seen)),
        }
    }

    /// Wait out `maintenance` (another operation in progress); the settled server.
    async fn settled(&self, id: &MachineId) -> Result<model::Server, ProviderError> {
        let deadline = self.options.wait_timeout;
        match self
            .poll_until(id, deadline, |s| s.machine_state() != MachineState::Pending)
            .await?
        {
            Waited::Reached(server) => Ok(*server),
            Waited::TimedOut(states_seen) => Err(ProviderError::StateTimeout {
                provider: NAME,
                id: id.to_string(),
                wanted: "not maintenance",
                waited: deadline,
                states_seen,
            }),
        }
    }

    pub(super) async fn start_server(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        let action = format!("start server {id}");
        for _ in 0..STATE_RETRIES {
            let server = self.settled(id).await?;
            match server.machine_state() {
                MachineState::Running => return Ok(server.into_machine()),
                _ => match self
                    .transport
                    .send(&request::start_server(id.as_str()))
                    .await
                {
                    Ok(_) => return self.wait_started(id, self.options.wait_timeout).await,
                    Err(err) if is_state_conflict(&err) => {
                        tokio::time::sleep(self.options.poll_max).await;
                    }
                    Err(err) => return Err(self.transport.fail(&action, err)),
                },
            }
        }
        Err(Self::state_refused(id, &action))
    }

    /// Soft stop with the configured timeout, then hard if it did not take; waits for
    /// `stopped`. Already stopped: nothing to do.
    pub(super) async fn stop_server(&self, id: &MachineId) -> Result<(), ProviderError> {
        let action = format!("stop server {id}");
        let soft_timeout = self.options.soft_stop_timeout;
        let mut soft_sent = false;
        for _ in 0..STATE_RETRIES {
            let server = self.settled(id).await?;
            if server.machine_state() == MachineState::Stopped {
                return Ok(());
            }
            let stop = request::stop_server(id.as_str(), StopType::Soft, api_timeout(soft_timeout));
            match self.transport.send(&stop).await {
                Ok(_) => {
                    soft_sent = true;
                    break;
                }
                Err(err) if is_state_conflict(&err) => {
                    tokio::time::sleep(self.options.poll_max).await;
                }
                Err(err) => return Err(self.transport.fail(&action, err)),
            }
        }
        if !soft_sent {
            return Err(Self::state_refused(id, &action));
        }
        // The platform itself forces the server off after the soft timeout; half as long again
        // covers its own delay before kamal-dev stops it hard.
        let soft_wait = soft_timeout + soft_timeout / 2;
        let Some(mut seen) = self.wait_stopped(id, soft_wait).await? else {
            return Ok(());
        };
        let hard = request::stop_server(id.as_str(), StopType::Hard, api_timeout(soft_timeout));
        match self.transport.send(&hard).await {
            Ok(_) => {}
            // Stopped (or stopping) meanwhile: the wait below tells.
            Err(err) if is_state_conflict(&err) => {}
            Err(err) => return Err(self.transport.fail(&action, err)),
        }
        let hard_wait = self.options.wait_timeout;
        match self.wait_stopped(id, hard_wait).await? {
            None => Ok(()),
            Some(more) => {
                seen.extend(more);
                seen.dedup();
                Err(ProviderError::StateTimeout {
                    provider: NAME,
                    id: id.to_string(),
                    wanted: "stopped",
                    waited: soft_wait + hard_wait,
                    states_seen: seen,
                })
            }
        }
    }

    /// Stop if needed, then `DELETE /server/{id}/?storages=1`. Gone already counts as done.
    pub(super) async fn delete_server(&self, id: &MachineId) -> Result<(), ProviderError> {
        let action = format!("delete server {id}");
        for _ in 0..STATE_RETRIES {
            let Some(server) = self.server(id).await? else {
                return Ok(());
            };
            if server.machine_state() != MachineState::Stopped {
                match self.stop_server(id).await {
                    Ok(()) => {}
                    Err(err) if err.is_not_found() => return Ok(()),
                    Err(err) => return Err(err),
                }
            }
            match self
                .transport
                .send(&request::delete_server(id.as_str(), true))
                .await
            {
                Ok(_) => return Ok(()),
                Err(CallError::Api { failure, .. }) if failure.status == 404 => return Ok(()),
                Err(err) if is_state_conflict(&err) => {
                    tokio::time::sleep(self.options.poll_min).await;
                }
                Err(err) => return Err(self.transport.fail(&action, err)),
            }
        }
        Err(Self::state_refused(id, &action))
    }

    fn state_refused(id: &MachineId, action: &str) -> ProviderError {
        ProviderError::Api {
            provider: NAME,
            action: action.to_string(),
            failure: ApiFailure::new(
                409,
                "SERVER_STATE_ILLEGAL",
                &format!("server {id} kept refusing the operation in its current state"),
            ),
        }
    }
}

/// The API takes whole seconds and refuses zero.
fn api_timeout(timeout: Duration) -> u64 {
    timeout.as_secs().max(1)
}

fn is_state_conflict(err: &CallError) -> bool {
    matches!(err, CallError::Api { failure, .. } if failure.status == 409 && failure.code == "SERVER_STATE_ILLEGAL")
}

fn vanished(id: &MachineId) -> ProviderError {
    ProviderError::Api {
        provider: NAME,
        action: format!("read server {id}"),
        failure: ApiFailure::new(404, "SERVER_NOT_FOUND", "the server disappeared"),
    }
}
