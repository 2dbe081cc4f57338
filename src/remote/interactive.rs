//! Handing this terminal to a program (system `ssh -t ...`, `docker exec -it ...`) for an
//! interactive session. The one place outside the executors that starts a process, so the
//! rule "only `remote/` runs processes" holds. It must not build the argv (callers do).

use std::process::Command;

use super::error::RemoteError;
use super::local::{LOCAL_HOST, exit_of};
use super::output::{Exit, program_label};

/// Run `argv` on this machine with stdin, stdout and stderr inherited, wait for it and
/// return how it ended. Blocks: call it from a blocking context.
pub fn interactive(argv: &[String]) -> Result<Exit, RemoteError> {
    let program = program_label(argv);
    let Some((first, rest)) = argv.split_first() else {
        return Err(RemoteError::EmptyCommand {
            host: LOCAL_HOST.to_string(),
        });
    };
    let status = Command::new(first)
        .args(rest)
        .status()
        .map_err(|source| RemoteError::Spawn {
            host: LOCAL_HOST.to_string(),
            program,
            source,
        })?;
    Ok(exit_of(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_exit_code_and_refuses_empty() {
        let exit = interactive(&["sh".into(), "-c".into(), "exit 7".into()]).unwrap();
        assert_eq!(exit, Exit::Code(7));
        assert!(matches!(
            interactive(&[]),
            Err(RemoteError::EmptyCommand { .. })
        ));
        assert!(matches!(
            interactive(&["/nonexistent/kamal-dev-test".into()]),
            Err(RemoteError::Spawn { .. })
        ));
    }
}
