//! Live `status`: the provider's view of each machine and Docker's view of each container,
//! beside what the state records. Reads only; never changes the state; never prints.

use futures::future::join_all;
use serde::Serialize;

use crate::deploy::apply::inspect;
use crate::deploy::fleet::Fleet;
use crate::error::Error;
use crate::provider::{MachineId, Provider as _};

use super::by_machine;

/// Live status of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveStatus {
    pub name: String,
    pub machine: String,
    pub ip: Option<String>,
    /// As recorded in the state.
    pub recorded: String,
    /// The provider's view of the machine (`running`, `stopped`, `gone`, or an error).
    pub machine_state: String,
    /// `docker inspect` State.Status, `missing`, or why it could not be asked.
    pub container: String,
    /// Container start time (RFC 3339), when running.
    pub started_at: Option<String>,
    pub ports: Vec<String>,
}

/// Ask the provider and Docker about each workspace.
pub async fn status(fleet: &Fleet, names: &[String]) -> Result<Vec<LiveStatus>, Error> {
    let state = fleet.read_state().await?;
    let jobs = by_machine(&state, names)
        .into_iter()
        .map(|(machine, names)| {
            let state = &state;
            async move {
                let record = state.machines.get(&machine);
                let machine_state = match record.and_then(|m| m.id.clone()) {
                    Some(id) if fleet.config().provider.kind.is_cloud() => {
                        match fleet.provider.get(&MachineId(id)).await {
                            Ok(Some(m)) => format!("{:?}", m.state).to_lowercase(),
                            Ok(None) => "gone".to_string(),
                            Err(err) => format!("unknown ({})", Error::from(err).one_line()),
                        }
                    }
                    _ => "running".to_string(),
                };
                let executor = if machine_state == "running" {
                    Some(fleet.executor(&machine).await)
                } else {
                    None
                };
                let mut out = Vec::new();
                for name in names {
                    let workspace = state.workspaces.get(&name);
                    let (container, started_at) = match &executor {
                        Some(Ok(executor)) => {
                            let format = "{{.State.Status}} {{.State.StartedAt}}";
                            match inspect(executor, &name, format).await {
                                Ok(o) if o.success() => {
                                    let text = o.stdout_text();
                                    let mut parts = text.split_whitespace();
                                    let status = parts.next().unwrap_or("unknown").to_string();
                                    let started = parts
                                        .next()
                                        .map(str::to_string)
                                        .filter(|_| status == "running");
                                    (status, started)
                                }
                                Ok(_) => ("missing".to_string(), None),
                                Err(err) => {
                                    (format!("unknown ({})", Error::from(err).one_line()), None)
                                }
                            }
                        }
                        Some(Err(err)) => (format!("unreachable ({})", err.one_line()), None),
                        None => ("-".to_string(), None),
                    };
                    out.push(LiveStatus {
                        name: name.clone(),
                        machine: machine.clone(),
                        ip: workspace.and_then(|w| w.vm_ip.clone()),
                        recorded: workspace.map_or("missing".into(), |w| w.status.to_string()),
                        machine_state: machine_state.clone(),
                        container,
                        started_at,
                        ports: workspace
                            .map(|w| {
                                w.ports
                                    .iter()
                                    .map(|p| format!("{}->{}", p.host, p.container))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    });
                }
                out
            }
        });
    let mut all: Vec<LiveStatus> = join_all(jobs).await.into_iter().flatten().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(all)
}
