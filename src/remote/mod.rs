//! Executing argv on a machine: over SSH (russh) or as a local process, with bounded fan-out.
//! Knows nothing about clouds, Docker or workspaces.
//!
//! Commands are argv and are quoted once, here, at the SSH edge. Data (env files, archives)
//! travels on stdin, never on a command line. Every SSH machine gets one [`Connection`]
//! (see [`Pool`]) reused for every step; host keys are trusted on first use and a changed key
//! is refused.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kamal_dev::remote::RemoteError> {
//! use kamal_dev::remote::{ConnectOptions, Connector, Executor, Pool, SshTarget};
//! let connector = Connector::new(
//!     Some(std::path::Path::new("/home/me/.ssh/id_ed25519.pub")),
//!     ConnectOptions::default(),
//! )?;
//! let pool = Pool::new(connector);
//! let target = SshTarget::new("94.2.3.1").with_name("my-app-1");
//! let connection = pool.get(&target, None).await?; // record connection.host_key()
//! let machine = Executor::from(connection);
//! machine.write_file("/root/.kamal-dev/my-app-1.env", 0o600, b"KEY=value\n").await?;
//! let out = machine.run_checked(&["docker", "ps", "-q"], None).await?;
//! # let _ = out; Ok(()) }
//! ```

mod auth;
mod connection;
mod error;
mod forward;
mod hostkey;
mod interactive;
mod local;
mod output;
mod pool;
mod proxy;
mod ssh;
mod target;

pub use auth::private_key_path;
pub use connection::Connection;
pub use error::RemoteError;
pub use forward::{ForwardError, Forwarding};
pub use hostkey::{
    BadFingerprint, Fingerprint, HostKeyCheck, check as check_host_key, known_hosts_line,
};
pub use interactive::interactive;
pub use local::{LOCAL_HOST, Local};
pub use output::{Exit, MAX_LINE, Output, Stream, program_label};
pub use pool::Pool;
pub use proxy::{
    Landing, ProxyError, SessionRequest, load_host_key, load_or_create_host_key, public_key_text,
    serve_stdio,
};
pub use ssh::{ConnectOptions, Connector};
pub use target::SshTarget;

use output::{Collect, Lines, Sink};

/// What a command reads on stdin: bytes in memory or a stream (an archive being built).
pub type Input<'a> = dyn tokio::io::AsyncRead + Unpin + Send + 'a;

/// Where commands run: one machine over SSH, or this machine.
#[derive(Debug, Clone)]
pub enum Executor {
    Ssh(Connection),
    Local(Local),
}

impl Executor {
    /// Commands on this machine (the `local` provider).
    pub fn local() -> Executor {
        Executor::Local(Local)
    }

    /// The host key fingerprint of an SSH machine (`None` for this machine).
    pub fn host_key(&self) -> Option<&Fingerprint> {
        match self {
            Executor::Ssh(connection) => Some(connection.host_key()),
            Executor::Local(_) => None,
        }
    }

    /// The machine as messages name it: `my-app-1 (94.2.3.1)` or `this machine`.
    pub fn label(&self) -> String {
        match self {
            Executor::Ssh(connection) => connection.target().label(),
            Executor::Local(_) => LOCAL_HOST.to_string(),
        }
    }

    /// Run `argv` to completion, with `stdin` bytes as its input (or none), and collect its
    /// output. A non-zero exit is not an error here; see [`Self::run_checked`].
    pub async fn run<S: AsRef<str> + Sync>(
        &self,
        argv: &[S],
        stdin: Option<&[u8]>,
    ) -> Result<Output, RemoteError> {
        let mut bytes = stdin;
        let input = bytes.as_mut().map(|b| b as &mut Input<'_>);
        let mut sink = Collect::default();
        let exit = self.exec(argv, input, &mut sink).await?;
        Ok(Output {
            exit,
            stdout: sink.stdout,
            stderr: sink.stderr,
        })
    }

    /// Like [`Self::run`], with stdin streamed from `input` until it ends (data too large to
    /// hold in memory, such as an archive of a source folder).
    pub async fn run_reading<S: AsRef<str> + Sync>(
        &self,
        argv: &[S],
        input: &mut Input<'_>,
    ) -> Result<Output, RemoteError> {
        let mut sink = Collect::default();
        let exit = self.exec(argv, Some(input), &mut sink).await?;
        Ok(Output {
            exit,
            stdout: sink.stdout,
            stderr: sink.stderr,
        })
    }

    /// Like [`Self::run`], but a command that does not exit 0 is a
    /// [`RemoteError::CommandFailed`] carrying its raw stderr.
    pub async fn run_checked<S: AsRef<str> + Sync>(
        &self,
        argv: &[S],
        stdin: Option<&[u8]>,
    ) -> Result<Output, RemoteError> {
        let output = self.run(argv, stdin).await?;
        if output.success() {
            Ok(output)
        } else {
            Err(RemoteError::CommandFailed {
                host: self.label(),
                program: program_label(argv),
                exit: output.exit,
                stderr: output.stderr,
            })
        }
    }

    /// Run a long command and hand each output line to `on_line` as it arrives (build output,
    /// `docker logs -f`). Returns how it ended; nothing is kept in memory.
    pub async fn run_streaming<S, F>(
        &self,
        argv: &[S],
        stdin: Option<&[u8]>,
        on_line: F,
    ) -> Result<Exit, RemoteError>
    where
        S: AsRef<str> + Sync,
        F: FnMut(Stream, &str) + Send,
    {
        let mut bytes = stdin;
        let input = bytes.as_mut().map(|b| b as &mut Input<'_>);
        let mut sink = Lines::new(on_line);
        let exit = self.exec(argv, input, &mut sink).await;
        sink.finish();
        exit
    }

    /// Write `data` to `path` on the machine with permission `mode` (e.g. `0o600`), creating
    /// its folder. The bytes go over stdin and the file is created under `umask 077` and
    /// renamed into place, so it is never readable by others, not even briefly.
    pub async fn write_file(&self, path: &str, mode: u32, data: &[u8]) -> Result<(), RemoteError> {
        let argv = write_file_argv(path, mode);
        self.run_checked(&argv, Some(data)).await.map(drop)
    }

    async fn exec<S: AsRef<str> + Sync>(
        &self,
        argv: &[S],
        stdin: Option<&mut Input<'_>>,
        sink: &mut dyn Sink,
    ) -> Result<Exit, RemoteError> {
        let program = program_label(argv);
        if argv.is_empty() {
            return Err(RemoteError::EmptyCommand { host: self.label() });
        }
        if argv.iter().any(|arg| arg.as_ref().contains('\0')) {
            return Err(RemoteError::NulInArgument {
                host: self.label(),
                program,
            });
        }
        match self {
            Executor::Ssh(connection) => {
                connection
                    .exec(&program, crate::shell::join(argv).into_bytes(), stdin, sink)
                    .await
            }
            Executor::Local(local) => local.exec(argv, &program, stdin, sink).await,
        }
    }
}

impl From<Connection> for Executor {
    fn from(connection: Connection) -> Self {
        Executor::Ssh(connection)
    }
}

/// The argv that stores stdin at `path` with `mode`: a private temp file next to it, then an
/// atomic rename. Path and mode are positional parameters, never spliced into the script.
pub fn write_file_argv(path: &str, mode: u32) -> Vec<String> {
    const SCRIPT: &str = r#"umask 077 && mkdir -p -- "$(dirname -- "$1")" && cat > "$1.kamal-dev-tmp" && chmod "$2" -- "$1.kamal-dev-tmp" && mv -f -- "$1.kamal-dev-tmp" "$1""#;
    vec![
        "sh".to_string(),
        "-c".to_string(),
        SCRIPT.to_string(),
        "sh".to_string(),
        path.to_string(),
        format!("{mode:o}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_file_keeps_path_and_mode_out_of_the_script() {
        let argv = write_file_argv("/root/.kamal-dev/my app/env", 0o600);
        assert_eq!(argv[0], "sh");
        assert!(!argv[2].contains("my app"));
        assert_eq!(argv[4], "/root/.kamal-dev/my app/env");
        assert_eq!(argv[5], "600");
    }

    #[tokio::test]
    async fn local_run_rejects_empty_and_nul() {
        let local = Executor::Local(Local);
        let empty: [&str; 0] = [];
        assert!(matches!(
            local.run(&empty, None).await,
            Err(RemoteError::EmptyCommand { .. })
        ));
        assert!(matches!(
            local.run(&["echo", "a\0b"], None).await,
            Err(RemoteError::NulInArgument { .. })
        ));
    }

    #[tokio::test]
    async fn local_run_checked_keeps_stderr_as_data() {
        let local = Executor::Local(Local);
        let err = local
            .run_checked(&["sh", "-c", "echo oops >&2; exit 3"], None)
            .await
            .unwrap_err();
        assert!(matches!(
            &err,
            RemoteError::CommandFailed {
                exit: Exit::Code(3),
                ..
            }
        ));
        assert_eq!(err.stderr(), b"oops\n");
        assert_eq!(
            err.to_string(),
            "`sh` failed on this machine with exit status 3"
        );
    }
}
