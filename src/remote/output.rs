//! What a finished command gives back ([`Output`], [`Exit`]) and the line splitting used by
//! streaming runs. Pure: no I/O.

use std::borrow::Cow;
use std::fmt;

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status (0 is success).
    Code(u32),
    /// It was killed by this signal (e.g. `KILL`, `TERM`).
    Signal(String),
    /// The channel closed without an exit status (the connection dropped or the server did
    /// not say).
    Unknown,
}

impl Exit {
    pub fn success(&self) -> bool {
        matches!(self, Exit::Code(0))
    }

    /// The exit code, if the command exited on its own.
    pub fn code(&self) -> Option<u32> {
        match self {
            Exit::Code(code) => Some(*code),
            _ => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit status {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::Unknown => f.write_str("no exit status"),
        }
    }
}

/// Everything a finished command printed, and how it ended. Output is raw bytes: it may hold
/// data the caller must not show (redact before printing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub exit: Exit,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.exit.success()
    }

    /// Stdout as text (invalid UTF-8 replaced), for parsing `docker inspect` and friends.
    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The longest line handed to a streaming callback; longer runs are cut into pieces so a
/// command that never prints a newline cannot grow memory without bound.
pub const MAX_LINE: usize = 64 * 1024;

/// Cuts a byte stream into lines (without the `\n` or a trailing `\r`).
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feed bytes; `emit` gets every complete line.
    pub(crate) fn push(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(&str)) {
        while let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
            let (head, rest) = bytes.split_at(pos);
            self.pending.extend_from_slice(head);
            self.flush_line(emit);
            bytes = rest.get(1..).unwrap_or_default();
        }
        self.pending.extend_from_slice(bytes);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let piece = std::mem::replace(&mut self.pending, rest);
            emit(&String::from_utf8_lossy(&piece));
        }
    }

    /// Emit what is left when the stream ends without a final newline.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(&str)) {
        if !self.pending.is_empty() {
            self.flush_line(emit);
        }
    }

    fn flush_line(&mut self, emit: &mut dyn FnMut(&str)) {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        emit(&String::from_utf8_lossy(&self.pending));
        self.pending.clear();
    }
}

/// Where a running command's output goes as it arrives.
pub(crate) trait Sink: Send {
    fn stdout(&mut self, data: &[u8]);
    fn stderr(&mut self, data: &[u8]);
}

/// Keeps everything, for [`Output`].
#[derive(Debug, Default)]
pub(crate) struct Collect {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

impl Sink for Collect {
    fn stdout(&mut self, data: &[u8]) {
        self.stdout.extend_from_slice(data);
    }

    fn stderr(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
    }
}

/// Hands each complete line to a callback, for long commands (builds, `docker logs -f`).
pub(crate) struct Lines<F: FnMut(Stream, &str) + Send> {
    out: LineSplitter,
    err: LineSplitter,
    callback: F,
}

impl<F: FnMut(Stream, &str) + Send> Lines<F> {
    pub(crate) fn new(callback: F) -> Self {
        Lines {
            out: LineSplitter::default(),
            err: LineSplitter::default(),
            callback,
        }
    }

    pub(crate) fn finish(&mut self) {
        let callback = &mut self.callback;
        self.out.finish(&mut |line| callback(Stream::Stdout, line));
        self.err.finish(&mut |line| callback(Stream::Stderr, line));
    }
}

impl<F: FnMut(Stream, &str) + Send> Sink for Lines<F> {
    fn stdout(&mut self, data: &[u8]) {
        let callback = &mut self.callback;
        self.out
            .push(data, &mut |line| callback(Stream::Stdout, line));
    }

    fn stderr(&mut self, data: &[u8]) {
        let callback = &mut self.callback;
        self.err
            .push(data, &mut |line| callback(Stream::Stderr, line));
    }
}

/// A short name for a command in messages: the program and, when it is a plain word, its
/// subcommand (`docker run`). Never more: later arguments may carry data.
pub fn program_label<S: AsRef<str>>(argv: &[S]) -> String {
    let mut words = argv.iter().map(AsRef::as_ref);
    let program = words.next().unwrap_or_default();
    let program = program.rsplit('/').next().unwrap_or(program);
    let plain = |w: &str| {
        !w.is_empty()
            && w.len() <= 32
            && !w.starts_with('-')
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match words.next() {
        Some(sub) if plain(sub) && plain(program) => format!("{program} {sub}"),
        _ => program.chars().take(64).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut splitter = LineSplitter::default();
        for chunk in chunks {
            splitter.push(chunk, &mut |l| lines.push(l.to_string()));
        }
        splitter.finish(&mut |l| lines.push(l.to_string()));
        lines
    }

    #[test]
    fn lines_across_chunks_and_crlf() {
        assert_eq!(
            split(&[b"ab", b"c\nde", b"f\r\n\n", b"tail"]),
            vec!["abc", "def", "", "tail"]
        );
        assert!(split(&[b""]).is_empty());
    }

    #[test]
    fn very_long_lines_are_cut() {
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        let lines = split(&[&long]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[2].len(), 5);
    }

    #[test]
    fn program_label_never_shows_data() {
        assert_eq!(
            program_label(&["docker", "run", "--env", "X=secret"]),
            "docker run"
        );
        assert_eq!(program_label(&["/usr/bin/docker", "ps"]), "docker ps");
        assert_eq!(program_label(&["sh", "-c", "echo secret"]), "sh");
        assert_eq!(program_label(&["printf", "%s secret"]), "printf");
        assert_eq!(program_label::<&str>(&[]), "");
    }

    #[test]
    fn exit_display() {
        assert_eq!(Exit::Code(3).to_string(), "exit status 3");
        assert_eq!(Exit::Signal("KILL".into()).to_string(), "signal KILL");
        assert!(Exit::Code(0).success());
        assert!(!Exit::Unknown.success());
    }
}
