//! Server lifecycle: every change (create, power on, shutdown, power off, delete) returns an
//! action, polled with growing intervals until it succeeds or fails; then the server's own
//! status is confirmed, because `shutdown` "succeeds" once the ACPI signal is sent. A busy
//! server answers 423 `locked`; the transport retries that.

use std::time::Duration;

use super::request::{self, PowerVerb};
use super::{Hetzner, NAME, model};
use crate::provider::poll::{self, Poller, Waited};
use crate::provider::{ApiFailure, Machine, MachineId, MachineState, ProviderError};

impl Hetzner {
    /// Polling for at most `deadline`, the pause growing by half (as the hcloud CLI does).
    fn poller(&self, deadline: Duration) -> Poller {
        Poller::new(
            deadline,
            self.options.poll_min,
            self.options.poll_max,
            |pause| pause + pause / 2,
        )
    }

    /// Poll `GET /actions/{id}` until it is no longer `running`, at most the action timeout.
    pub(super) async fn wait_action(&self, id: u64, what: &str) -> Result<(), ProviderError> {
        let action_name = format!("{what} (action {id})");
        let deadline = self.options.action_timeout;
        let mut poller = self.poller(deadline);
        loop {
            let envelope: model::ActionEnvelope = self
                .transport
                .call(&request::get_action(id), &action_name)
                .await?;
            let action = envelope.action;
            match action.status.as_str() {
                "success" => return Ok(()),
                "error" => {
                    let error = action.error.unwrap_or(model::ActionError {
                        code: String::new(),
                        message: String::new(),
                    });
                    return Err(ProviderError::Api {
                        provider: NAME,
                        action: format!("{what}: action {} ({}) failed", id, action.command),
                        // The poll itself answered 200; the failure is the action's.
                        failure: ApiFailure::new(200, error.code, &error.message),
                    });
                }
                _ => {}
            }
            if !poller.pause().await {
                return Err(ProviderError::StateTimeout {
                    provider: NAME,
                    id: format!("action {id}"),
                    wanted: "finished",
                    waited: deadline,
                    states_seen: vec![action.status],
                });
            }
        }
    }

    /// Send a power action or delete and wait for its action.
    async fn act(&self, request: &request::ApiRequest, what: &str) -> Result<(), ProviderError> {
        let envelope: model::ActionEnvelope = self.transport.call(request, what).await?;
        self.wait_action(envelope.action.id, what).await
    }

    async fn poll_until(
        &self,
        id: &MachineId,
        deadline: Duration,
        done: impl Fn(&model::Server) -> bool,
    ) -> Result<Waited<model::Server>, ProviderError> {
        let fetch = move || async move { self.server(id).await?.ok_or_else(|| vanished(id)) };
        poll::until(self.poller(deadline), fetch, |s| &s.status, done).await
    }

    /// Wait for the actions a create started (so a failed one is reported as such), then for
    /// the server to run.
    pub(super) async fn wait_started(
        &self,
        id: &MachineId,
        deadline: Duration,
    ) -> Result<Machine, ProviderError> {
        let actions = self
            .pending_actions
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(id))
            .unwrap_or_default();
        for action in actions {
            self.wait_action(action, &format!("create server {id}"))
                .await?;
        }
        let server = self
            .poll_until(id, deadline, |s| s.machine_state() == MachineState::Running)
            .await?
            .started(NAME, id, deadline)?;
        Ok(server.into_machine())
    }

    pub(super) async fn start_server(&self, id: &MachineId) -> Result<Machine, ProviderError> {
        let server = self.server(id).await?.ok_or_else(|| vanished(id))?;
        match server.machine_state() {
            MachineState::Running => return Ok(server.into_machine()),
            // Already on its way up (created or powered on by someone else): just wait.
            MachineState::Pending
                if server.status == "starting" || server.status == "initializing" => {}
            _ => {
                self.act(
                    &request::power(id.as_str(), PowerVerb::PowerOn),
                    &format!("start server {id}"),
                )
                .await?;
            }
        }
        self.wait_started(id, self.options.wait_timeout).await
    }

    /// Graceful shutdown, then power off if it did not take within the soft-stop timeout;
    /// waits for `off`. Already off: nothing to do.
    pub(super) async fn stop_server(&self, id: &MachineId) -> Result<(), ProviderError> {
        let Some(server) = self.server(id).await? else {
            return Err(vanished(id));
        };
        if server.machine_state() == MachineState::Stopped {
            return Ok(());
        }
        let what = format!("stop server {id}");
        self.act(&request::power(id.as_str(), PowerVerb::Shutdown), &what)
            .await?;
        let soft = self.options.soft_stop_timeout;
        let mut seen = match self.poll_until(id, soft, is_off).await? {
            Waited::Reached(_) => return Ok(()),
            Waited::TimedOut(seen) => seen,
        };
        self.act(&request::power(id.as_str(), PowerVerb::PowerOff), &what)
            .await?;
        let hard = self.options.wait_timeout;
        match self.poll_until(id, hard, is_off).await? {
            Waited::Reached(_) => Ok(()),
            Waited::TimedOut(more) => {
                seen.extend(more);
                seen.dedup();
                Err(ProviderError::StateTimeout {
                    provider: NAME,
                    id: id.to_string(),
                    wanted: "off",
                    waited: soft + hard,
                    states_seen: seen,
                })
            }
        }
    }

    /// `DELETE /servers/{id}` (no stop needed; the primary IPs made with it go too) and wait
    /// for its action. Gone already counts as done.
    pub(super) async fn delete_server(&self, id: &MachineId) -> Result<(), ProviderError> {
        if self.server(id).await?.is_none() {
            return Ok(());
        }
        let what = format!("delete server {id}");
        match self.act(&request::delete_server(id.as_str()), &what).await {
            Ok(()) => Ok(()),
            Err(err) if err.is_not_found() => Ok(()),
            Err(err) => Err(err),
        }
    }
}

fn is_off(server: &model::Server) -> bool {
    server.machine_state() == MachineState::Stopped
}

fn vanished(id: &MachineId) -> ProviderError {
    ProviderError::Api {
        provider: NAME,
        action: format!("read server {id}"),
        failure: ApiFailure::new(404, "not_found", "the server does not exist"),
    }
}
