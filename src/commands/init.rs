//! `kamal-dev init`: write a commented config/dev.yml, a .kamal/secrets template (0600) and
//! the .gitignore entry for the state file. Never overwrites without `--force`.

use std::io::Write as _;
use std::path::Path;

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus, Message};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,

    /// Show which files would be written, without writing them
    #[arg(long)]
    pub dry_run: bool,
}

const SECRETS_TEMPLATE: &str = "\
# Secrets for kamal-dev (and Kamal): KEY=value, one per line, dotenv syntax.
# Values may come from commands, e.g. GITHUB_TOKEN=$(gh auth token)
# List the keys each workspace needs under `secrets:` in config/dev.yml.
# Keep this file out of git and readable only by you (chmod 600).
";

/// What kamal-dev writes into `.kamal/` that belongs to this machine only: the state file
/// (with its lock and backup), the generated SSH files (the proxy's private host key among
/// them) and the local provider's env files.
const GITIGNORE_ENTRIES: [&str; 5] = [
    ".kamal/dev_state.yml*",
    ".kamal/ssh_config",
    ".kamal/known_hosts",
    ".kamal/ssh_proxy_key",
    ".kamal/env/",
];

pub async fn run(ctx: &Context, args: Args) -> Result<ExitStatus, Error> {
    let config_path = ctx.global.config_path();
    let root = crate::settings::project_root(&config_path);
    let devcontainer = root.join(".devcontainer/devcontainer.json");
    let has_devcontainer = devcontainer.is_file();
    let service = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .map_or_else(|| "app".to_string(), |n| sanitize_service(&n));
    let config_text = config_template(&service, has_devcontainer);
    let secrets_path = root.join(".kamal/secrets");
    let gitignore = root.join(".gitignore");

    let mut wrote_any = false;
    for (path, text, mode) in [
        (&config_path, config_text.as_str(), 0o644),
        (&secrets_path, SECRETS_TEMPLATE, 0o600),
    ] {
        if path.exists() && !args.force {
            ctx.printer.info(format!(
                "kept {} (exists; use --force to overwrite)",
                path.display()
            ));
            continue;
        }
        if args.dry_run {
            ctx.printer.info(format!("would create {}", path.display()));
            continue;
        }
        write_file(path, text, mode)?;
        wrote_any = true;
        let note = if mode == 0o600 {
            " (mode 0600): add the secrets your workspaces need"
        } else if has_devcontainer {
            " (image: .devcontainer/devcontainer.json, provider: local)"
        } else {
            " (image: ubuntu:24.04, provider: local)"
        };
        ctx.printer
            .info(format!("created {}{note}", path.display()));
    }

    let existing = std::fs::read_to_string(&gitignore).unwrap_or_default();
    let missing: Vec<&str> = GITIGNORE_ENTRIES
        .into_iter()
        .filter(|entry| !existing.lines().any(|l| l.trim() == *entry))
        .collect();
    if missing.is_empty() {
        ctx.printer.verbose(format!(
            "{} already ignores kamal-dev's local files",
            gitignore.display()
        ));
    } else if args.dry_run {
        ctx.printer.info(format!(
            "would add {} to {}",
            missing.join(" "),
            gitignore.display()
        ));
    } else {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&gitignore)
            .map_err(|e| io_error(&gitignore, e))?;
        let separator = if existing.is_empty() || existing.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        file.write_all(format!("{separator}{}\n", missing.join("\n")).as_bytes())
            .map_err(|e| io_error(&gitignore, e))?;
        ctx.printer.info(format!(
            "added {} to {}",
            missing.join(" "),
            gitignore.display()
        ));
        wrote_any = true;
    }
    if wrote_any {
        ctx.printer.info("next: kamal-dev deploy --dry-run");
    }
    Ok(ExitStatus::Success)
}

fn sanitize_service(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if cleaned.trim_matches('-').is_empty() {
        "app".into()
    } else {
        cleaned
    }
}

fn config_template(service: &str, has_devcontainer: bool) -> String {
    let image = if has_devcontainer {
        ".devcontainer/devcontainer.json"
    } else {
        "ubuntu:24.04"
    };
    format!(
        "# kamal-dev configuration. Reference: `kamal-dev --help` and README.md.
service: {service}             # prefix of workspace names and machine labels
image: {image}   # a devcontainer.json, or a plain image such as ruby:3.3

provider:
  type: local                  # local (this machine's Docker), upcloud, hetzner or ssh
  # zone: de-fra1              # cloud providers: data-center zone
  # plan: 2xCPU-4GB            # cloud providers: machine size
  # hosts: [192.0.2.10]        # ssh provider: existing machines

# Keys from .kamal/secrets to inject into every workspace (never on a command line).
secrets: []

# ssh:
#   key_path: ~/.ssh/id_ed25519.pub   # public key; the private key is the same path without .pub
#   user: root
#   port: 22

defaults:                      # limits per workspace container
  cpus: 2
  memory: 4g
  # memory_swap: 8g

vms:
  count: 1                     # workspaces to deploy (deploy --count overrides)
  spread: false                # true: one machine per workspace; false: pack them

naming:
  pattern: \"{{service}}-{{index}}\"

# ports:
#   publish: loopback          # loopback (reach through SSH) or public
"
    )
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    // The mode above applies only to new files; an overwritten one keeps its old mode.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| io_error(path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, err: std::io::Error) -> Error {
    Message::new(
        format!("could not write {}", path.display()),
        ExitStatus::Failure,
    )
    .with_source(err)
    .into()
}
