//! The one place secrets code starts a process: `sh` for a secrets file's `$(command)`.
//! Behind [`CommandRunner`] so tests can count and fake what runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a `$(command)` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub success: bool,
    /// `exit status N` or `signal N`, for messages.
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs a secrets file's `$(command)`.
pub trait CommandRunner: Send + Sync {
    fn run(&self, command: &str, env: &BTreeMap<String, String>) -> std::io::Result<CommandOutput>;
}

/// The real runner: `/bin/sh`, with the environment given and stdin closed (a prompt would
/// otherwise hang invisibly; it fails instead and its stderr is reported).
///
/// The command text goes to `sh` in an environment variable, not as an argument: it may hold
/// expanded secrets, and another user can read any process's command line but not its
/// environment.
#[derive(Debug, Clone, Default)]
pub struct ShellRunner {
    dir: Option<PathBuf>,
}

impl ShellRunner {
    /// Run commands in `dir` (the project folder), as Kamal runs them from the app's root.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        ShellRunner {
            dir: Some(dir.into()),
        }
    }
}

const COMMAND_VAR: &str = "KAMAL_DEV_SECRETS_COMMAND";

impl CommandRunner for ShellRunner {
    fn run(&self, command: &str, env: &BTreeMap<String, String>) -> std::io::Result<CommandOutput> {
        let script = format!("c=${COMMAND_VAR}; unset {COMMAND_VAR}; eval \"$c\"");
        let mut sh = std::process::Command::new("sh");
        if let Some(dir) = &self.dir {
            sh.current_dir(dir);
        }
        let output = sh
            .arg("-c")
            .arg(script)
            .env_clear()
            .envs(env)
            .env(COMMAND_VAR, command)
            .stdin(std::process::Stdio::null())
            .output()?;
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "a signal".to_string(),
        };
        Ok(CommandOutput {
            success: output.status.success(),
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}

/// This process's environment (entries that are not UTF-8 cannot be referred to by a secrets
/// file and are left out).
pub fn process_environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
