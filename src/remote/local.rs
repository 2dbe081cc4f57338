//! Running argv as a process on this machine, for the `local` provider: same contract as SSH
//! (argv in, stdin bytes in, output and exit out) but no shell and no quoting at all.

use std::process::Stdio;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::mpsc;

use super::Input;
use super::error::RemoteError;
use super::output::{Exit, Sink, Stream};

/// What messages call this machine.
pub const LOCAL_HOST: &str = "this machine";

/// Runs commands as child processes of kamal-dev.
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Local {
    pub(crate) async fn exec<S: AsRef<str> + Sync>(
        &self,
        argv: &[S],
        program: &str,
        stdin: Option<&mut Input<'_>>,
        sink: &mut dyn Sink,
    ) -> Result<Exit, RemoteError> {
        let Some((first, rest)) = argv.split_first() else {
            return Err(RemoteError::EmptyCommand {
                host: LOCAL_HOST.to_string(),
            });
        };
        let mut child = tokio::process::Command::new(first.as_ref())
            .args(rest.iter().map(AsRef::as_ref))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RemoteError::Spawn {
                host: LOCAL_HOST.to_string(),
                program: program.to_string(),
                source,
            })?;

        // Each pipe is drained by its own task so neither can fill up and stall the child.
        let (tx, mut rx) = mpsc::channel::<(Stream, Vec<u8>)>(16);
        if let Some(pipe) = child.stdout.take() {
            tokio::spawn(drain(pipe, Stream::Stdout, tx.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            tokio::spawn(drain(pipe, Stream::Stderr, tx.clone()));
        }
        drop(tx);
        let mut input = child.stdin.take();
        let writer = async {
            if let (Some(pipe), Some(data)) = (input.as_mut(), stdin) {
                // A child that exits without reading its input is not our failure.
                let _ = tokio::io::copy(data, pipe).await;
                let _ = pipe.shutdown().await;
            }
            drop(input.take());
        };
        let reader = async {
            while let Some((stream, data)) = rx.recv().await {
                match stream {
                    Stream::Stdout => sink.stdout(&data),
                    Stream::Stderr => sink.stderr(&data),
                }
            }
        };
        tokio::join!(writer, reader);
        let status = child.wait().await.map_err(|source| RemoteError::Spawn {
            host: LOCAL_HOST.to_string(),
            program: program.to_string(),
            source,
        })?;
        Ok(exit_of(status))
    }
}

async fn drain<R: tokio::io::AsyncRead + Unpin>(
    mut pipe: R,
    stream: Stream,
    tx: mpsc::Sender<(Stream, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let chunk = buf.get(..n).unwrap_or_default().to_vec();
                if tx.send((stream, chunk)).await.is_err() {
                    break;
                }
            }
        }
    }
}

pub(crate) fn exit_of(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt as _;
    if let Some(code) = status.code() {
        return Exit::Code(u32::try_from(code).unwrap_or(u32::MAX));
    }
    match status.signal() {
        Some(signal) => Exit::Signal(signal_name(signal)),
        None => Exit::Unknown,
    }
}

/// Names as SSH reports them (`KILL`, not `SIGKILL`), so both executors read the same.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        6 => "ABRT",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return signal.to_string(),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_match_ssh() {
        assert_eq!(signal_name(9), "KILL");
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(40), "40");
    }
}
