//! The command line: global flags and the subcommand enum. Each variant wraps the `Args` of
//! its file under `commands/`. Raw input only; `settings` turns it into validated values.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands;

/// Where the configuration lives unless `-c` says otherwise.
pub const DEFAULT_CONFIG: &str = "config/dev.yml";

#[derive(Debug, Parser)]
#[command(
    name = "kamal-dev",
    version,
    about = "Deploy devcontainer workspaces to cloud VMs, many at once",
    long_about = "Deploy devcontainer workspaces to cloud VMs, many at once.\n\n\
kamal-dev reads .devcontainer/devcontainer.json and config/dev.yml, provisions machines \
(UpCloud, Hetzner, your own hosts over SSH, or this machine's Docker with the `local` \
provider), injects secrets from .kamal/secrets without putting them on any command line, \
runs the containers with resource limits and records everything in .kamal/dev_state.yml.",
    after_help = "Start with `kamal-dev init`, then `kamal-dev deploy`.",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the configuration file [default: config/dev.yml]. For `devcontainer`
    /// commands: the devcontainer.json to read instead of the discovered one
    #[arg(short, long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Destination: deep-merges config/dev.<DESTINATION>.yml over the config and reads
    /// .kamal/secrets.<DESTINATION>
    #[arg(short, long, global = true, value_name = "DESTINATION")]
    pub destination: Option<String>,

    /// Show detail of every step (also VERBOSE=1)
    #[arg(
        short,
        long,
        global = true,
        env = "VERBOSE",
        value_parser = clap::builder::BoolishValueParser::new(),
        action = clap::ArgAction::SetTrue,
        hide_env_values = true
    )]
    pub verbose: bool,

    /// Print only errors, warnings and requested data
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Answer yes to confirmation prompts (needed without a terminal)
    #[arg(short, long, global = true)]
    pub yes: bool,
}

impl GlobalArgs {
    /// The config file: `-c PATH` or config/dev.yml.
    pub fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented config/dev.yml and a .kamal/secrets template
    Init(commands::init::Args),
    /// Provision machines and start the workspaces (resumes an interrupted deploy)
    Deploy(commands::deploy::Args),
    /// List workspaces recorded in the state file
    List(commands::list::Args),
    /// Show live machine and container state, uptime and cost so far
    Status(commands::status::Args),
    /// Stop workspace containers; machines keep running
    Stop(commands::stop::Args),
    /// Start stopped workspaces (and their machines if needed)
    Start(commands::start::Args),
    /// Remove workspaces, and destroy machines with their disks once empty
    Remove(commands::remove::Args),
    /// Open a shell inside a workspace's container
    Ssh(commands::ssh::Args),
    /// Run a command in one or all workspaces
    Exec(commands::exec::Args),
    /// Show a workspace container's logs
    Logs(commands::logs::Args),
    /// Write `.kamal/ssh_config` (a Host entry per workspace) and print its `Include` line
    ///
    /// `Host NAME` lands in the workspace's container through `ProxyCommand kamal-dev ssh
    /// NAME --stdio`, so `ssh NAME`, `ssh NAME CMD`, `ssh -L` and VS Code Remote-SSH work;
    /// `Host NAME.machine` reaches its machine. Deploy and remove rewrite the file.
    SshConfig(commands::ssh_config::Args),
    /// Forward local ports to a workspace's published ports over SSH, until Ctrl-C
    Forward(commands::forward::Args),
    /// Make `bin/kamal dev <command>` run kamal-dev (other commands still run Kamal)
    InstallBinstub(commands::install_binstub::Args),
    /// Show hourly and monthly cost of the configured fleet and of what runs now
    Cost(commands::cost::Args),
    /// Read devcontainer.json the way the Dev Containers CLI does
    #[command(subcommand)]
    Devcontainer(commands::devcontainer::Command),
    /// Print shell completions
    Completions(commands::completions::Args),
    /// Print the man page
    #[command(hide = true)]
    Man(commands::man::Args),
    /// Internal commands used by the test suite
    #[command(hide = true, name = "__internal", subcommand)]
    Internal(commands::internal::Command),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
