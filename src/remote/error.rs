//! What can go wrong running commands on a machine, with the facts a user needs (host, user,
//! port, key path) and the next step. Messages never carry command arguments, stdin data or
//! command output: a failed command's stderr is kept as data for the caller to redact.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ExitStatus, UserFacing};

use super::hostkey::Fingerprint;
use super::output::Exit;
use super::target::SshTarget;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("SSH key {} could not be read", path.display())]
    KeyUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("SSH key {} is protected by a passphrase and no ssh-agent is running", path.display())]
    KeyEncrypted { path: PathBuf },

    #[error("SSH key {} is not a private key kamal-dev can use", path.display())]
    KeyInvalid {
        path: PathBuf,
        #[source]
        source: russh::keys::Error,
    },

    #[error("no SSH key to log in with: ssh.key_path is not set and no ssh-agent is running")]
    NoKey,

    #[error("could not connect to {target} over SSH ({attempts} attempts in {:.0}s)", waited.as_secs_f64())]
    Unreachable {
        target: Box<SshTarget>,
        attempts: u32,
        waited: Duration,
        /// The last failure, e.g. "connection refused" or "timed out after 10s".
        last: String,
    },

    #[error("host key of {} changed since it was first seen", target.label())]
    HostKeyChanged {
        target: Box<SshTarget>,
        expected: Fingerprint,
        seen: Fingerprint,
    },

    #[error("SSH login to {target} was refused (tried {tried})")]
    AuthRejected {
        target: Box<SshTarget>,
        /// What was offered, e.g. `key ~/.ssh/id_ed25519` or `2 ssh-agent keys`.
        tried: String,
        /// The private key path, for the hint.
        key: Option<PathBuf>,
    },

    #[error("ssh-agent could not sign the login to {}", target.label())]
    Agent {
        target: Box<SshTarget>,
        #[source]
        source: russh::AgentAuthError,
    },

    #[error("SSH session with {} failed", target.label())]
    Protocol {
        target: Box<SshTarget>,
        #[source]
        source: russh::Error,
    },

    #[error("`{program}` on {host} was cut off: {reason}")]
    Interrupted {
        host: String,
        program: String,
        reason: String,
    },

    #[error("`{program}` failed on {host} with {exit}")]
    CommandFailed {
        host: String,
        program: String,
        exit: Exit,
        /// Raw stderr; may contain data. Not part of the message: redact before showing.
        stderr: Vec<u8>,
    },

    #[error("could not run `{program}` on {host}")]
    Spawn {
        host: String,
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("empty command for {host}")]
    EmptyCommand { host: String },

    #[error("an argument of `{program}` for {host} contains a NUL byte")]
    NulInArgument { host: String, program: String },
}

impl RemoteError {
    /// The raw stderr of a failed command (empty for other errors).
    pub fn stderr(&self) -> &[u8] {
        match self {
            RemoteError::CommandFailed { stderr, .. } => stderr,
            _ => &[],
        }
    }

    /// True when the machine could not be reached at all (as opposed to refusing us or a
    /// command failing): callers may treat it as "still booting" or "gone".
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RemoteError::Unreachable { .. })
    }
}

impl UserFacing for RemoteError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            RemoteError::KeyUnreadable { .. }
            | RemoteError::KeyEncrypted { .. }
            | RemoteError::KeyInvalid { .. }
            | RemoteError::NoKey => ExitStatus::Usage,
            _ => ExitStatus::Failure,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RemoteError::KeyUnreadable { path, .. } => Some(format!(
                "ssh.key_path in config/dev.yml names the public key; the private key must be next to it at {}, or load it into ssh-agent",
                path.display()
            )),
            RemoteError::KeyEncrypted { path } => Some(format!(
                "start ssh-agent and run `ssh-add {}`, then try again",
                path.display()
            )),
            RemoteError::NoKey => Some(
                "set ssh.key_path in config/dev.yml to your public key, or start ssh-agent (SSH_AUTH_SOCK)"
                    .to_string(),
            ),
            RemoteError::KeyInvalid { .. } => Some(
                "point ssh.key_path at an OpenSSH key pair (ssh-keygen -t ed25519 makes one)"
                    .to_string(),
            ),
            RemoteError::Unreachable { target, last, .. } => Some(format!(
                "last error: {last}; check that the machine is running and that port {} on {} accepts SSH connections",
                target.port, target.host
            )),
            RemoteError::HostKeyChanged { .. } => Some(
                "if the VM was re-created outside kamal-dev, run `kamal-dev list --rebuild`; otherwise do not connect: someone may be intercepting the connection"
                    .to_string(),
            ),
            RemoteError::AuthRejected { target, key, .. } => Some(match key {
                Some(key) => format!(
                    "make sure {}.pub is in ~{}/.ssh/authorized_keys on {}, or that ssh-agent holds a key the machine accepts (`ssh-add -l`)",
                    key.display(),
                    target.user,
                    target.host
                ),
                None => format!(
                    "add your public key to ~{}/.ssh/authorized_keys on {}, or set ssh.key_path in config/dev.yml",
                    target.user, target.host
                ),
            }),
            RemoteError::Interrupted { .. } | RemoteError::Protocol { .. } => {
                Some("run the command again; if it keeps failing, check the machine's network and sshd".to_string())
            }
            RemoteError::Spawn { program, .. } => {
                Some(format!("make sure `{program}` is installed and on PATH"))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> SshTarget {
        SshTarget::new("94.2.3.1").with_name("my-app-1")
    }

    #[test]
    fn host_key_changed_reads_like_the_user_journey() {
        let fp = Fingerprint::parse("SHA256:VrG1bS6tj502+rGcijaBKJLekY5xAsa+/Aq8LO5OjmQ").unwrap();
        let err = RemoteError::HostKeyChanged {
            target: Box::new(target()),
            expected: fp.clone(),
            seen: fp,
        };
        assert_eq!(
            err.to_string(),
            "host key of my-app-1 (94.2.3.1) changed since it was first seen"
        );
        assert!(err.hint().unwrap().contains("kamal-dev list --rebuild"));
        assert_eq!(err.exit_status(), ExitStatus::Failure);
    }

    #[test]
    fn auth_hint_names_the_key() {
        let err = RemoteError::AuthRejected {
            target: Box::new(target()),
            tried: "key /k/id".into(),
            key: Some(PathBuf::from("/k/id")),
        };
        assert_eq!(
            err.to_string(),
            "SSH login to my-app-1 (root@94.2.3.1:22) was refused (tried key /k/id)"
        );
        assert!(err.hint().unwrap().contains("/k/id.pub"));
    }

    #[test]
    fn command_failure_keeps_stderr_out_of_the_message() {
        let err = RemoteError::CommandFailed {
            host: "my-app-1".into(),
            program: "docker run".into(),
            exit: Exit::Code(125),
            stderr: b"TOKEN=hunter2".to_vec(),
        };
        assert!(!err.to_string().contains("hunter2"));
        assert_eq!(err.stderr(), b"TOKEN=hunter2");
    }

    #[test]
    fn key_problems_are_configuration_errors() {
        let err = RemoteError::KeyEncrypted {
            path: PathBuf::from("/k/id"),
        };
        assert_eq!(err.exit_status(), ExitStatus::Usage);
        assert!(err.hint().unwrap().contains("ssh-add /k/id"));
    }
}
