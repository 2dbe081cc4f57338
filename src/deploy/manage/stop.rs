//! `stop`: `docker stop` each workspace's container; machines keep running (and billing).
//! A workspace is recorded as stopped only once its container is. Never prints.

use std::time::Instant;

use futures::future::join_all;

use crate::deploy::apply::{Outcome, container_status};
use crate::deploy::events::{Reporter, Step};
use crate::deploy::fleet::Fleet;
use crate::error::Error;
use crate::remote::Executor;
use crate::state::WorkspaceStatus;

use super::{by_machine, docker, each_workspace};

/// `docker stop` each workspace; machines keep running.
pub async fn stop(
    fleet: &Fleet,
    names: &[String],
    reporter: &dyn Reporter,
) -> Result<Vec<Outcome>, Error> {
    let state = fleet.read_state().await?;
    let started = Instant::now();
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| async move {
            let step = (Step::Stop, "stopped");
            let each =
                async |executor: &Executor, name: &str| stop_one(fleet, executor, name).await;
            each_workspace(fleet, reporter, started, &machine, &names, step, each).await
        });
    Ok(join_all(jobs).await.into_iter().flatten().collect())
}

/// Stop one container (already stopped is fine) and record the workspace as stopped.
async fn stop_one(fleet: &Fleet, executor: &Executor, name: &str) -> Result<(), Error> {
    match container_status(executor, name).await {
        None => {
            return Err(Error::failed(format!(
                "container {name} does not exist on {}",
                executor.label()
            )));
        }
        Some(status) if status != "running" => {}
        Some(_) => docker(executor, &crate::docker::stop(name)).await?,
    }
    set_status(fleet, name, WorkspaceStatus::Stopped).await
}

async fn set_status(fleet: &Fleet, name: &str, status: WorkspaceStatus) -> Result<(), Error> {
    let name = name.to_string();
    fleet
        .update(move |state| {
            if let Some(workspace) = state.workspaces.get_mut(&name) {
                workspace.set_status(status);
            }
            Ok(())
        })
        .await
}
