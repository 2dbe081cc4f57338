//! Hidden `kamal-dev __internal ...` commands that exist for the test suite (for example the
//! state store's multi-process stress test). Not part of the user interface.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::Context;
use crate::error::{Error, ExitStatus};
use crate::state::{StateStore, Workspace, WorkspaceStatus};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run TIMES read-modify-write updates on a state file, each adding workspace `ID-<n>`
    /// (so `serial` and the number of workspaces both count the updates)
    #[command(name = "state-bump")]
    StateBump {
        /// The state file
        #[arg(long, value_name = "PATH", default_value = crate::state::DEFAULT_PATH)]
        state: PathBuf,
        /// How many updates
        #[arg(long, default_value_t = 1)]
        times: u32,
        /// Prefix of the workspace names this process adds
        #[arg(long)]
        id: String,
        /// Keep the lock this long inside each update (to test waiting and timeouts)
        #[arg(long, value_name = "MS", default_value_t = 0)]
        hold_ms: u64,
        /// Give up waiting for the lock after this long
        #[arg(long, value_name = "MS")]
        lock_timeout_ms: Option<u64>,
    },
}

#[allow(clippy::unused_async)] // every command shares one async signature
pub async fn run(ctx: &Context, command: Command) -> Result<ExitStatus, Error> {
    match command {
        Command::StateBump {
            state,
            times,
            id,
            hold_ms,
            lock_timeout_ms,
        } => {
            let mut store = StateStore::new(state);
            if let Some(ms) = lock_timeout_ms {
                store = store.with_timeout(Duration::from_millis(ms));
            }
            for n in 1..=times {
                let name = format!("{id}-{n}");
                let serial = store.update(|state| {
                    std::thread::sleep(Duration::from_millis(hold_ms));
                    state.workspaces.insert(
                        name.clone(),
                        Workspace {
                            machine: None,
                            vm_id: None,
                            vm_ip: None,
                            container_name: name.clone(),
                            ports: Vec::new(),
                            status: WorkspaceStatus::Running,
                            deployed_at: jiff::Timestamp::now(),
                            updated_at: None,
                            last_error: None,
                        },
                    );
                    Ok::<_, Error>(state.serial)
                })?;
                ctx.printer.verbose(format!("{name}: serial was {serial}"));
            }
            ctx.printer.info(format!("{times} updates done"));
            Ok(ExitStatus::Success)
        }
    }
}
