//! `kamal-dev ssh-config`: write `.kamal/ssh_config` (one `Host <workspace>` entry landing
//! in the container, one `Host <workspace>.machine` for the machine) and
//! `.kamal/known_hosts` (the host keys pinned in the state), and print the `Include` line
//! for `~/.ssh/config`. [`refresh`] keeps both files current after deploy and remove.
//! Rendering is pure; this file only writes the two files and prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;

use super::Context;
use crate::deploy::access::Resolver;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus, Message};
use crate::remote::known_hosts_line;
use crate::state::State;

#[derive(Debug, ClapArgs)]
pub struct Args {}

/// How long [`refresh`] waits for one workspace's machine.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// One machine-side SSH destination of a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub alias: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The command line that opens a shell in the container (`None` when it could not be
    /// worked out; then only the machine entry is written).
    pub remote_command: Option<String>,
}

pub async fn run(ctx: &Context, _args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "ssh-config")?;
    if fleet.is_local() {
        ctx.printer.info(
            "The local provider runs workspaces on this machine: there is no SSH to configure. Use `kamal-dev ssh NAME` to open a shell.",
        );
        return Ok(ExitStatus::Success);
    }
    let written = refresh(&fleet).await;
    fleet.close().await;
    let (path, count) = written?;
    ctx.printer.info(format!(
        "Wrote {} ({count} workspaces) and its known_hosts. Add this line near the top of ~/.ssh/config, before any Host:",
        path.display()
    ));
    ctx.printer.data(include_line(&path));
    // OpenSSH before 10 refuses a command line on a host with RemoteCommand: say which entry
    // takes one.
    ctx.printer.info(
        "Then `ssh NAME` opens a shell in the workspace's container and `ssh NAME.machine` reaches its machine (use that one, or `kamal-dev exec NAME -- CMD`, to run a single command).",
    );
    Ok(ExitStatus::Success)
}

/// `Include "<path>"`.
pub fn include_line(path: &Path) -> String {
    format!("Include {}", config_value(&path.to_string_lossy()))
}

/// Where the files live.
pub fn ssh_config_path(project_root: &Path) -> PathBuf {
    project_root.join(".kamal").join("ssh_config")
}

pub fn known_hosts_path(project_root: &Path) -> PathBuf {
    project_root.join(".kamal").join("known_hosts")
}

/// Rewrite `.kamal/ssh_config` and `.kamal/known_hosts` from the state (connecting to each
/// machine to learn the container's user and folder). Returns the config path and the
/// number of workspaces in it. Does nothing for the local provider.
pub async fn refresh(fleet: &Fleet) -> Result<(PathBuf, usize), Error> {
    let root = fleet.project_root().clone();
    let path = ssh_config_path(&root);
    if fleet.is_local() {
        return Ok((path, 0));
    }
    let state = fleet.read_state().await?;
    let resolver = Resolver::new(fleet)?;
    let ssh = &fleet.config().ssh;
    let jobs = state.workspaces.iter().filter_map(|(name, workspace)| {
        let machine = workspace.machine.as_deref().unwrap_or_default();
        let host = state.machines.get(machine).and_then(|m| m.ip.clone())?;
        let (resolver, state) = (&resolver, &state);
        Some(async move {
            // A machine that does not answer soon keeps only its machine entry, so a deploy
            // with a broken machine does not wait here for the connect retries.
            let remote_command =
                tokio::time::timeout(RESOLVE_TIMEOUT, resolver.resolve(state, name))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .map(|(access, _)| crate::shell::join(&access.shell(true)));
            Entry {
                alias: name.clone(),
                host,
                port: ssh.port,
                user: ssh.user.clone(),
                remote_command,
            }
        })
    });
    let entries = futures::future::join_all(jobs).await;
    // Resolving may have pinned keys for the first time: read them afresh.
    let known_hosts = write_known_hosts(fleet).await?;
    let identity = absolute(&root, &crate::remote::private_key_path(&ssh.key_path));
    write_private(&path, &render(&entries, &identity, &known_hosts))?;
    Ok((path, entries.len()))
}

/// Rewrite `.kamal/known_hosts` from the host keys pinned in the state; returns its path.
pub async fn write_known_hosts(fleet: &Fleet) -> Result<PathBuf, Error> {
    let state = fleet.read_state().await?;
    let path = known_hosts_path(fleet.project_root());
    write_private(&path, &render_known_hosts(&state, fleet.config().ssh.port))?;
    Ok(path)
}

/// The `known_hosts` file pinning every recorded machine's host key.
pub fn render_known_hosts(state: &State, port: u16) -> String {
    let mut text = String::new();
    for machine in state.machines.values() {
        if let (Some(ip), Some(key)) = (&machine.ip, &machine.host_key) {
            let _ = writeln!(text, "{}", known_hosts_line(ip, port, key));
        }
    }
    text
}

/// The `ssh_config` text.
pub fn render(entries: &[Entry], identity: &Path, known_hosts: &Path) -> String {
    let mut text = String::from(
        "# Written by kamal-dev (`kamal-dev ssh-config`); deploy and remove rewrite it.\n",
    );
    let common = |text: &mut String, entry: &Entry| {
        let _ = writeln!(text, "  HostName {}", entry.host);
        let _ = writeln!(text, "  User {}", config_value(&entry.user));
        let _ = writeln!(text, "  Port {}", entry.port);
        let _ = writeln!(
            text,
            "  IdentityFile {}",
            config_value(&identity.to_string_lossy())
        );
        let _ = writeln!(text, "  IdentitiesOnly yes");
        let _ = writeln!(
            text,
            "  UserKnownHostsFile {}",
            config_value(&known_hosts.to_string_lossy())
        );
        let _ = writeln!(text, "  StrictHostKeyChecking yes");
    };
    for entry in entries {
        if let Some(command) = &entry.remote_command {
            let _ = writeln!(text, "\nHost {}", entry.alias);
            common(&mut text, entry);
            let _ = writeln!(text, "  RequestTTY yes");
            // ssh expands %-tokens in RemoteCommand.
            let _ = writeln!(text, "  RemoteCommand {}", command.replace('%', "%%"));
        }
        let _ = writeln!(text, "\nHost {}.machine", entry.alias);
        common(&mut text, entry);
    }
    text
}

/// A value for `ssh_config`: double-quoted when it has spaces.
fn config_value(value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

fn absolute(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// Write `text` to `path` readable by its owner only (ssh refuses group-writable configs).
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let fail = |err: std::io::Error| -> Error {
        Message::new(
            format!("could not write {}", path.display()),
            ExitStatus::Failure,
        )
        .with_source(err)
        .into()
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let tmp = path.with_extension("kamal-dev-tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(fail)?;
    file.write_all(text.as_bytes()).map_err(fail)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_container_and_machine_entries() {
        let entries = vec![
            Entry {
                alias: "app-1".into(),
                host: "94.2.3.1".into(),
                port: 22,
                user: "root".into(),
                remote_command: Some("docker exec -it app-1 sh -c 'echo 100%'".into()),
            },
            Entry {
                alias: "app-2".into(),
                host: "94.2.3.2".into(),
                port: 2222,
                user: "root".into(),
                remote_command: None,
            },
        ];
        let text = render(
            &entries,
            Path::new("/home/me/.ssh/id_ed25519"),
            Path::new("/p q/.kamal/known_hosts"),
        );
        assert!(text.contains("\nHost app-1\n  HostName 94.2.3.1\n  User root\n  Port 22\n"));
        assert!(text.contains("  UserKnownHostsFile \"/p q/.kamal/known_hosts\"\n"));
        assert!(text.contains("  RemoteCommand docker exec -it app-1 sh -c 'echo 100%%'\n"));
        assert!(text.contains("\nHost app-1.machine\n"));
        assert!(!text.contains("\nHost app-2\n"));
        assert!(
            text.contains("\nHost app-2.machine\n  HostName 94.2.3.2\n  User root\n  Port 2222\n")
        );
        assert_eq!(
            include_line(Path::new("/p/.kamal/ssh_config")),
            "Include /p/.kamal/ssh_config"
        );
    }
}
