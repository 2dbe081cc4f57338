//! `stop`: `docker stop` each workspace's container; machines keep running (and billing).
//! A workspace is recorded as stopped only once its container is. Never prints.

use std::time::Instant;

use futures::future::join_all;

use crate::deploy::apply::{Outcome, container_status};
use crate::deploy::events::{Event, Reporter, Step};
use crate::deploy::fleet::Fleet;
use crate::error::Error;
use crate::state::WorkspaceStatus;

use super::{by_machine, conclude, docker, failed_all};

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
            let executor = match fleet.executor(&machine).await {
                Ok(executor) => executor,
                Err(err) => {
                    return failed_all(&names, reporter, Step::Connect, &err.one_line(), started);
                }
            };
            let per = names.iter().map(|name| {
                let executor = executor.clone();
                async move {
                    reporter.event(Event::Step {
                        subject: name.clone(),
                        step: Step::Stop,
                        detail: None,
                    });
                    let result = async {
                        match container_status(&executor, name).await {
                            None => {
                                return Err(Error::failed(format!(
                                    "container {name} does not exist on {}",
                                    executor.label()
                                )));
                            }
                            Some(status) if status != "running" => {}
                            Some(_) => docker(&executor, &crate::docker::stop(name)).await?,
                        }
                        set_status(fleet, name, WorkspaceStatus::Stopped).await
                    }
                    .await;
                    conclude(reporter, name, Step::Stop, "stopped", result, started)
                }
            });
            join_all(per).await
        });
    Ok(join_all(jobs).await.into_iter().flatten().collect())
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
