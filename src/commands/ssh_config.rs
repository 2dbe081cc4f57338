//! `kamal-dev ssh-config`: write `.kamal/ssh_config` (one `Host <workspace>` entry whose
//! `ProxyCommand` is `kamal-dev ssh <workspace> --stdio`, landing every session in the
//! container, and one `Host <workspace>.machine` for the machine) and `.kamal/known_hosts`
//! (the host keys pinned in the state plus the proxy's own key), and print the `Include`
//! line for `~/.ssh/config`. [`refresh`] keeps both files current after deploy and remove.
//! Rendering is pure; this file only writes the files and prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Args as ClapArgs;

use super::Context;
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus, Message};
use crate::remote::known_hosts_line;
use crate::state::State;

#[derive(Debug, ClapArgs)]
pub struct Args {}

/// The name the proxy's host key is pinned under (`HostKeyAlias`) in `.kamal/known_hosts`.
pub const PROXY_HOST_KEY_ALIAS: &str = "kamal-dev-proxy";

/// One workspace's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub alias: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The command line (for `sh`) that serves SSH for the workspace on stdin/stdout.
    pub proxy_command: String,
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
    ctx.printer.info(
        "Then `ssh NAME` opens a shell in the workspace's container, `ssh NAME CMD` runs a command there (VS Code Remote-SSH can open NAME too), and `ssh NAME.machine` reaches its machine.",
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

/// The private host key of the `ssh NAME --stdio` proxy.
pub fn proxy_key_path(project_root: &Path) -> PathBuf {
    project_root.join(".kamal").join("ssh_proxy_key")
}

/// Rewrite `.kamal/ssh_config` and `.kamal/known_hosts` from the state. Returns the config
/// path and the number of workspaces in it. Does nothing for the local provider. Never
/// connects: the proxy finds the container when `ssh` runs it.
pub async fn refresh(fleet: &Fleet) -> Result<(PathBuf, usize), Error> {
    let root = fleet.project_root().clone();
    let path = ssh_config_path(&root);
    if fleet.is_local() {
        return Ok((path, 0));
    }
    let known_hosts = write_known_hosts(fleet).await?;
    let state = fleet.read_state().await?;
    let ssh = &fleet.config().ssh;
    let program = std::env::current_exe().map_err(|err| {
        Message::new(
            "could not find the kamal-dev program to write into .kamal/ssh_config",
            ExitStatus::Failure,
        )
        .with_source(err)
    })?;
    let entries: Vec<Entry> = state
        .workspaces
        .iter()
        .filter_map(|(name, workspace)| {
            let machine = workspace.machine.as_deref().unwrap_or_default();
            let host = state.machines.get(machine).and_then(|m| m.ip.clone())?;
            Some(Entry {
                alias: name.clone(),
                host,
                port: ssh.port,
                user: ssh.user.clone(),
                proxy_command: proxy_command(
                    &program,
                    &fleet.settings.config_path,
                    fleet.settings.destination.as_deref(),
                    name,
                ),
            })
        })
        .collect();
    let identity = absolute(&root, &crate::remote::private_key_path(&ssh.key_path));
    write_private(&path, &render(&entries, &identity, &known_hosts))?;
    Ok((path, entries.len()))
}

/// `kamal-dev -c CONFIG [-d DEST] ssh NAME --stdio`, quoted for the shell `ssh` runs it with.
pub fn proxy_command(
    program: &Path,
    config: &Path,
    destination: Option<&str>,
    name: &str,
) -> String {
    let mut argv = vec![
        program.to_string_lossy().into_owned(),
        "-c".to_string(),
        config.to_string_lossy().into_owned(),
    ];
    if let Some(destination) = destination {
        argv.extend(["-d".to_string(), destination.to_string()]);
    }
    argv.extend(["ssh".to_string(), name.to_string(), "--stdio".to_string()]);
    crate::shell::join(&argv)
}

/// Rewrite `.kamal/known_hosts` from the host keys pinned in the state and the proxy's key
/// (created on first use); returns its path.
pub async fn write_known_hosts(fleet: &Fleet) -> Result<PathBuf, Error> {
    let state = fleet.read_state().await?;
    let root = fleet.project_root();
    let (key, _) = crate::remote::load_or_create_host_key(&proxy_key_path(root))?;
    let path = known_hosts_path(root);
    let mut text = render_known_hosts(&state, fleet.config().ssh.port);
    let _ = writeln!(
        text,
        "{PROXY_HOST_KEY_ALIAS} {}",
        crate::remote::public_key_text(&key)
    );
    write_private(&path, &text)?;
    Ok(path)
}

/// The `known_hosts` lines pinning every recorded machine's host key.
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
    let known_hosts = |text: &mut String| {
        let _ = writeln!(
            text,
            "  UserKnownHostsFile {}",
            config_value(&known_hosts.to_string_lossy())
        );
        let _ = writeln!(text, "  StrictHostKeyChecking yes");
    };
    for entry in entries {
        let _ = writeln!(text, "\nHost {}", entry.alias);
        // ssh runs the proxy with `sh -c "exec ..."` after expanding %-tokens.
        let _ = writeln!(
            text,
            "  ProxyCommand {}",
            entry.proxy_command.replace('%', "%%")
        );
        let _ = writeln!(text, "  HostKeyAlias {PROXY_HOST_KEY_ALIAS}");
        known_hosts(&mut text);

        let _ = writeln!(text, "\nHost {}.machine", entry.alias);
        let _ = writeln!(text, "  HostName {}", entry.host);
        let _ = writeln!(text, "  User {}", config_value(&entry.user));
        let _ = writeln!(text, "  Port {}", entry.port);
        let _ = writeln!(
            text,
            "  IdentityFile {}",
            config_value(&identity.to_string_lossy())
        );
        let _ = writeln!(text, "  IdentitiesOnly yes");
        known_hosts(&mut text);
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
    fn renders_proxy_and_machine_entries() {
        let entries = vec![Entry {
            alias: "app-1".into(),
            host: "94.2.3.1".into(),
            port: 2222,
            user: "root".into(),
            proxy_command: proxy_command(
                Path::new("/opt/kamal dev/kamal-dev"),
                Path::new("/p/config/dev.yml"),
                Some("100%"),
                "app-1",
            ),
        }];
        let text = render(
            &entries,
            Path::new("/home/me/.ssh/id_ed25519"),
            Path::new("/p q/.kamal/known_hosts"),
        );
        assert!(
            text.contains("\nHost app-1\n  ProxyCommand /opt/kamal' dev/kamal-dev' -c /p/config/dev.yml -d 100'%%' ssh app-1 --stdio\n"),
            "{text}"
        );
        assert!(text.contains("  HostKeyAlias kamal-dev-proxy\n"));
        assert!(text.contains("  UserKnownHostsFile \"/p q/.kamal/known_hosts\"\n"));
        assert!(
            text.contains("\nHost app-1.machine\n  HostName 94.2.3.1\n  User root\n  Port 2222\n")
        );
        assert_eq!(
            include_line(Path::new("/p/.kamal/ssh_config")),
            "Include /p/.kamal/ssh_config"
        );
    }
}
