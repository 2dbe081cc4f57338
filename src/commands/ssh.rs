//! `kamal-dev ssh`: an interactive shell inside a workspace's container (or, with
//! `--machine`, on its machine) through the system `ssh -t`, trusting only the host key
//! pinned in the state (written to the project's `.kamal/known_hosts`). With `--stdio` it is
//! the `ProxyCommand` of the entries `kamal-dev ssh-config` writes: an SSH server on
//! stdin/stdout whose sessions run in the container (see `remote/proxy.rs`).

use clap::Args as ClapArgs;

use super::Context;
use crate::deploy::access::{ContainerLanding, Resolver};
use crate::deploy::fleet::Fleet;
use crate::error::{Error, ExitStatus, Message};
use crate::remote::{Executor, Exit};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Workspace to open
    pub name: String,

    /// Open a shell on the machine instead of inside the container
    #[arg(long)]
    pub machine: bool,

    /// Speak the SSH protocol on stdin/stdout instead of opening a shell: the
    /// `ProxyCommand` of the entries `kamal-dev ssh-config` writes, so `ssh NAME CMD`,
    /// `ssh NAME`, `ssh -L` and VS Code Remote-SSH land in the container
    #[arg(long, conflicts_with = "machine")]
    pub stdio: bool,
}

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let settings = ctx.settings()?;
    let fleet = Fleet::open(settings, "ssh")?;
    if args.stdio {
        let served = serve_stdio(&fleet, &args.name).await;
        fleet.close().await;
        return served.map(|()| ExitStatus::Success);
    }
    let command = command_line(ctx, &fleet, &args).await;
    fleet.close().await;
    let Some(program) = command? else {
        return Ok(ExitStatus::Success);
    };
    ctx.printer.verbose(crate::shell::join(&program));
    let exit = tokio::task::spawn_blocking(move || crate::remote::interactive(&program))
        .await
        .map_err(|e| Error::failed(format!("internal task failed: {e}")))??;
    Ok(exit_status(&exit))
}

/// Resolve the workspace, then serve SSH on stdin/stdout until the client hangs up.
async fn serve_stdio(fleet: &Fleet, name: &str) -> Result<(), Error> {
    let state = fleet.read_state().await?;
    let resolver = Resolver::new(fleet)?;
    let (access, executor) = resolver.resolve(&state, name).await?;
    let address = container_address(&executor, &access.container).await;
    let Executor::Ssh(connection) = executor else {
        return Err(Message::new(
            "the local provider runs workspaces on this machine: there is no SSH to proxy",
            ExitStatus::Usage,
        )
        .with_hint(format!("use `kamal-dev ssh {name}` to open a shell"))
        .into());
    };
    let key =
        crate::remote::load_host_key(&super::ssh_config::proxy_key_path(fleet.project_root()))?;
    let landing = ContainerLanding { access, address };
    crate::remote::serve_stdio(connection, key, std::sync::Arc::new(landing)).await?;
    Ok(())
}

/// The container's address on its network, when Docker reports one.
async fn container_address(executor: &Executor, container: &str) -> Option<String> {
    let output = executor
        .run(&crate::docker::addresses(container), None)
        .await
        .ok()?;
    output
        .success()
        .then(|| ContainerLanding::parse_address(&output.stdout_text()))
        .flatten()
}

async fn command_line(
    ctx: &Context,
    fleet: &Fleet,
    args: &Args,
) -> Result<Option<Vec<String>>, Error> {
    use std::io::IsTerminal as _;
    // A piped script (no terminal) still runs, without a pseudo-terminal.
    let tty = std::io::stdin().is_terminal();
    let state = fleet.read_state().await?;
    let resolver = Resolver::new(fleet)?;
    let (access, _executor) = resolver.resolve(&state, &args.name).await?;
    if fleet.is_local() {
        if args.machine {
            ctx.printer
                .info("The local provider's machine is this one: you are already on it.");
            return Ok(None);
        }
        return Ok(Some(access.shell(tty)));
    }
    // Resolving connected (and pinned the key if it was new): write known_hosts now.
    let known_hosts = super::ssh_config::write_known_hosts(fleet).await?;
    let ip = access.ip.clone().ok_or_else(|| {
        Message::new(
            format!("machine {} has no address recorded", access.machine),
            ExitStatus::Failure,
        )
        .with_hint("run `kamal-dev deploy` again to finish creating it")
    })?;
    let ssh = &fleet.config().ssh;
    let identity = crate::remote::private_key_path(&ssh.key_path);
    let mut line = system_ssh(
        tty,
        &identity.to_string_lossy(),
        &known_hosts.to_string_lossy(),
        ssh.port,
        &ssh.user,
        &ip,
    );
    if !args.machine {
        line.push("--".into());
        line.push(crate::shell::join(&access.shell(tty)));
    }
    Ok(Some(line))
}

/// `ssh -t` (`-T` without a terminal) with the key, the project's `known_hosts` (strict)
/// and the port.
pub fn system_ssh(
    tty: bool,
    identity: &str,
    known_hosts: &str,
    port: u16,
    user: &str,
    host: &str,
) -> Vec<String> {
    vec![
        "ssh".into(),
        if tty { "-t" } else { "-T" }.into(),
        "-i".into(),
        identity.into(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={known_hosts}"),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-p".into(),
        port.to_string(),
        format!("{user}@{host}"),
    ]
}

/// The shell's own exit code, passed on.
pub fn exit_status(exit: &Exit) -> ExitStatus {
    match exit.code() {
        Some(0) => ExitStatus::Success,
        Some(code) => ExitStatus::Code(u8::try_from(code).unwrap_or(1)),
        None => ExitStatus::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_ssh_pins_the_key_file() {
        let argv = system_ssh(
            true,
            "/k/id",
            "/p/.kamal/known_hosts",
            2222,
            "root",
            "1.2.3.4",
        );
        let line = argv.join(" ");
        assert!(line.starts_with("ssh -t -i /k/id"));
        assert!(line.contains("-o UserKnownHostsFile=/p/.kamal/known_hosts"));
        assert!(line.contains("-o StrictHostKeyChecking=yes"));
        assert!(line.ends_with("-p 2222 root@1.2.3.4"));
        assert_eq!(exit_status(&Exit::Code(3)), ExitStatus::Code(3));
        assert_eq!(exit_status(&Exit::Code(0)), ExitStatus::Success);
        assert_eq!(exit_status(&Exit::Unknown), ExitStatus::Failure);
    }
}
