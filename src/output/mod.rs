//! The only module that prints. Data goes to stdout, messages to stderr; colour only on a
//! terminal and never with `NO_COLOR` (anstream decides). Lower modules never import this:
//! they return values or emit events, and commands hand them to a [`Printer`].

pub mod progress;
pub mod table;

use std::io::Write as _;

use anstyle::{AnsiColor, Style};

use crate::error::Rendered;

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Prints messages (stderr) and data (stdout) at the chosen verbosity.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    verbosity: Verbosity,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const DIM: Style = Style::new().dimmed();

impl Printer {
    pub fn new(verbosity: Verbosity) -> Self {
        Printer { verbosity }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// A progress or result message for people; hidden by `--quiet`.
    pub fn info(&self, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Normal {
            let _ = writeln!(anstream::stderr(), "{message}");
        }
    }

    /// Detail shown only with `-v`.
    pub fn verbose(&self, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Verbose {
            let _ = writeln!(anstream::stderr(), "{DIM}{message}{DIM:#}");
        }
    }

    /// A warning; shown even with `--quiet`, because it asks the user to act.
    pub fn warn(&self, message: impl std::fmt::Display) {
        let _ = writeln!(anstream::stderr(), "{WARN}warning{WARN:#}: {message}");
    }

    /// Machine-readable or primary output: always printed, to stdout.
    pub fn data(&self, text: impl std::fmt::Display) {
        let mut out = anstream::stdout();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A line of a remote command's stderr, passed on to stderr as is (`exec`, `logs`).
    pub fn data_err(&self, text: impl std::fmt::Display) {
        let _ = writeln!(anstream::stderr(), "{text}");
    }

    /// Raw bytes to stdout, without a trailing newline (man pages, completions).
    pub fn raw(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    /// The final rendering of an error.
    pub fn error(&self, rendered: &Rendered) {
        let mut err = anstream::stderr();
        let _ = writeln!(err, "{ERROR}error{ERROR:#}: {}", rendered.message);
        for cause in &rendered.causes {
            let _ = writeln!(err, "  caused by: {cause}");
        }
        if let Some(hint) = &rendered.hint {
            let _ = writeln!(err, "  {HINT}hint{HINT:#}: {hint}");
        }
    }

    /// Ask a yes/no question on the terminal. Without a terminal it refuses (returns `None`)
    /// so that scripts and agents never hang on a prompt.
    pub fn confirm(&self, question: &str) -> Option<bool> {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let mut err = anstream::stderr();
        let _ = write!(err, "{question} [y/N] ");
        let _ = err.flush();
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_err() {
            return Some(false);
        }
        Some(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes" | "YES"))
    }
}
