//! User-facing errors: one type that every module error converts into, rendered once at the
//! top as `error:` / `caused by:` / `hint:`, and the exit status it maps to.
//!
//! Modules keep their own `thiserror` enums with the facts a user needs (path, line, host, API
//! code) and implement [`UserFacing`] to say which exit status they mean and what to do next.
//! This module never prints; `output` renders a [`Error`] through [`Error::render`].

use std::fmt;

/// The process exit status: 0 ok, 1 the operation failed (partial failure included),
/// 2 usage or configuration error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success,
    Failure,
    Usage,
    /// The exit code of a command run for the user (`exec` in one workspace, `ssh`), passed on.
    Code(u8),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Code(code) => code,
        }
    }
}

/// Implemented by every module error that can reach the user.
pub trait UserFacing: std::error::Error + Send + Sync + 'static {
    /// Usage/configuration problems return [`ExitStatus::Usage`]; everything else fails with 1.
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }

    /// The next step the user should take, if there is one worth saying.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// The error type `run` and the commands return.
pub struct Error {
    inner: Box<dyn UserFacing>,
}

impl<E: UserFacing> From<E> for Error {
    fn from(err: E) -> Self {
        Error {
            inner: Box::new(err),
        }
    }
}

impl Error {
    /// A usage or configuration error (exit 2) with a plain message.
    pub fn usage(message: impl Into<String>) -> Self {
        Message::new(message, ExitStatus::Usage).into()
    }

    /// An operation that failed (exit 1) with a plain message.
    pub fn failed(message: impl Into<String>) -> Self {
        Message::new(message, ExitStatus::Failure).into()
    }

    /// A command whose implementation belongs to a later piece of work. Exit code 2, never a
    /// fake success.
    pub fn not_implemented(command: &str) -> Self {
        Message::new(
            format!("`kamal-dev {command}` is not implemented yet"),
            ExitStatus::Usage,
        )
        .with_hint("this command's arguments are accepted, but it does nothing yet; see README.md for the commands that work today")
        .into()
    }

    pub fn exit_status(&self) -> ExitStatus {
        self.inner.exit_status()
    }

    /// The module error inside, when it is an `E` (for callers that can recover from it).
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let inner: &(dyn std::error::Error + 'static) = &*self.inner;
        inner.downcast_ref::<E>()
    }

    /// The message and its causes on one line (`message: cause: cause`), for progress lines
    /// and the state's `last_error`.
    pub fn one_line(&self) -> String {
        let rendered = self.render();
        std::iter::once(rendered.message)
            .chain(rendered.causes)
            .collect::<Vec<_>>()
            .join(": ")
    }

    /// Lines to show on stderr: the message, each cause, then the hint.
    pub fn render(&self) -> Rendered {
        let message = self.inner.to_string();
        let mut causes = Vec::new();
        let mut source = self.inner.source();
        while let Some(err) = source {
            let text = err.to_string();
            if !message.contains(&text) && !causes.contains(&text) {
                causes.push(text);
            }
            source = err.source();
        }
        Rendered {
            message,
            causes,
            hint: self.inner.hint(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

/// An error ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

/// A plain error built from a message, for failures that carry no structured facts.
#[derive(Debug)]
#[allow(clippy::struct_field_names)] // `Message::message` is the plain reading
pub struct Message {
    message: String,
    status: ExitStatus,
    hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Message {
    pub fn new(message: impl Into<String>, status: ExitStatus) -> Self {
        Message {
            message: message.into(),
            status,
            hint: None,
            source: None,
        }
    }

    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Message {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl UserFacing for Message {
    fn exit_status(&self) -> ExitStatus {
        self.status
    }

    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_causes_and_hint() {
        let io = std::io::Error::other("disk full");
        let err: Error = Message::new("could not write state", ExitStatus::Failure)
            .with_source(io)
            .with_hint("free some space")
            .into();
        let rendered = err.render();
        assert_eq!(rendered.message, "could not write state");
        assert_eq!(rendered.causes, vec!["disk full".to_string()]);
        assert_eq!(rendered.hint.as_deref(), Some("free some space"));
        assert_eq!(err.one_line(), "could not write state: disk full");
        assert_eq!(err.exit_status().code(), 1);
    }

    #[test]
    fn not_implemented_exits_with_usage_code() {
        let err = Error::not_implemented("logs");
        assert_eq!(err.exit_status(), ExitStatus::Usage);
        assert!(err.to_string().contains("not implemented yet"));
    }
}
