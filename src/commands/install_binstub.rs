//! `kamal-dev install-binstub`: make `bin/kamal dev <command>` run kamal-dev while every other
//! `bin/kamal` command runs Kamal as before. An existing binstub keeps all of its content: a
//! small marked dispatch goes right after its shebang (Ruby or shell, matching the file), and
//! running the command again replaces that block instead of adding another. Without a
//! binstub, a shell one is written that runs `kamal` for everything else.

use std::path::Path;

use clap::Args as ClapArgs;

use super::Context;
use crate::error::{Error, ExitStatus, Message};

#[derive(Debug, ClapArgs)]
pub struct Args {}

const BEGIN: &str = "# kamal-dev: begin (added by `kamal-dev install-binstub`)";
const END: &str = "# kamal-dev: end";

const RUBY_BLOCK: &str = r#"if ARGV.first == "dev"
  exec(ENV.fetch("KAMAL_DEV", "kamal-dev"), *ARGV.drop(1))
end"#;

const SHELL_BLOCK: &str = r#"if [ "${1:-}" = "dev" ]; then
  shift
  exec "${KAMAL_DEV:-kamal-dev}" "$@"
fi"#;

/// What the binstub becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patched {
    Created(String),
    Updated(String),
    Unchanged,
}

/// The new text of `bin/kamal` given its current text (`None` when it does not exist).
pub fn patch(existing: Option<&str>) -> Result<Patched, String> {
    let Some(text) = existing else {
        return Ok(Patched::Created(format!(
            "#!/usr/bin/env sh\n{BEGIN}\n{SHELL_BLOCK}\n{END}\nexec kamal \"$@\"\n"
        )));
    };
    let (shebang, rest) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("#!") => (first, rest),
        None if text.starts_with("#!") => (text, ""),
        _ => return Err("it does not start with a #! line".into()),
    };
    let interpreter = shebang.to_ascii_lowercase();
    let block = if interpreter.contains("ruby") {
        RUBY_BLOCK
    } else if ["sh", "bash", "zsh", "dash", "ksh"]
        .iter()
        .any(|shell| interpreter.split(['/', ' ']).any(|word| word == *shell))
    {
        SHELL_BLOCK
    } else {
        return Err(format!(
            "its interpreter ({shebang}) is neither Ruby nor a shell"
        ));
    };
    let body = strip_block(rest)?;
    let new = format!("{shebang}\n{BEGIN}\n{block}\n{END}\n{body}");
    if new == text {
        Ok(Patched::Unchanged)
    } else {
        Ok(Patched::Updated(new))
    }
}

/// `rest` without an earlier kamal-dev block (so patching twice changes nothing).
fn strip_block(rest: &str) -> Result<String, String> {
    let Some(start) = rest.find(BEGIN) else {
        return Ok(rest.to_string());
    };
    let after = rest.get(start..).unwrap_or_default();
    let Some(end) = after.find(END) else {
        return Err("it has a kamal-dev block without its end marker; remove it by hand".into());
    };
    let tail = after.get(end + END.len()..).unwrap_or_default();
    let tail = tail.strip_prefix('\n').unwrap_or(tail);
    Ok(format!("{}{tail}", rest.get(..start).unwrap_or_default()))
}

pub async fn run(ctx: &Context, _args: Args) -> Result<ExitStatus, Error> {
    let root = std::env::current_dir()
        .map_err(|e| Error::failed(format!("could not read the current folder: {e}")))?;
    let path = root.join("bin").join("kamal");
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(write_error(&path, err)),
    };
    let patched = patch(existing.as_deref()).map_err(|why| {
        Message::new(
            format!("{} was left as it is: {why}", path.display()),
            ExitStatus::Failure,
        )
        .with_hint("run kamal-dev directly, or add the dispatch for `bin/kamal dev` by hand")
    })?;
    let (text, said) = match patched {
        Patched::Unchanged => {
            ctx.printer.info(format!(
                "{} already runs kamal-dev for `bin/kamal dev`.",
                path.display()
            ));
            return Ok(ExitStatus::Success);
        }
        Patched::Created(text) => (text, "Wrote"),
        Patched::Updated(text) => (text, "Updated"),
    };
    write_executable(&path, &text).map_err(|e| write_error(&path, e))?;
    ctx.printer.info(format!(
        "{said} {}: `bin/kamal dev <command>` runs kamal-dev; every other command runs Kamal as before.",
        path.display()
    ));
    Ok(ExitStatus::Success)
}

fn write_error(path: &Path, err: std::io::Error) -> Error {
    Message::new(
        format!("could not write {}", path.display()),
        ExitStatus::Failure,
    )
    .with_source(err)
    .into()
}

/// Replace `path` atomically, keeping its permissions (and making it executable).
fn write_executable(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mode = std::fs::metadata(path).map_or(0o755, |m| m.permissions().mode() | 0o111);
    let tmp = path.with_extension("kamal-dev-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode & 0o7777))?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUBY: &str =
        "#!/usr/bin/env ruby\nrequire \"bundler/setup\"\nload Gem.bin_path(\"kamal\", \"kamal\")\n";

    #[test]
    fn creates_a_shell_binstub() {
        let Ok(Patched::Created(text)) = patch(None) else {
            panic!()
        };
        assert!(text.starts_with("#!/usr/bin/env sh\n"));
        assert!(text.contains(SHELL_BLOCK));
        assert!(text.ends_with("exec kamal \"$@\"\n"));
    }

    #[test]
    fn patches_ruby_after_the_shebang_keeping_the_rest_and_is_idempotent() {
        let Ok(Patched::Updated(once)) = patch(Some(RUBY)) else {
            panic!()
        };
        assert!(once.starts_with("#!/usr/bin/env ruby\n# kamal-dev: begin"));
        assert!(once.contains(RUBY_BLOCK));
        assert!(
            once.ends_with("require \"bundler/setup\"\nload Gem.bin_path(\"kamal\", \"kamal\")\n")
        );
        assert_eq!(patch(Some(&once)), Ok(Patched::Unchanged));
        assert_eq!(once.matches(BEGIN).count(), 1);
    }

    #[test]
    fn patches_shell_and_refuses_unknown_interpreters() {
        let Ok(Patched::Updated(text)) =
            patch(Some("#!/bin/bash\nexec bundle exec kamal \"$@\"\n"))
        else {
            panic!()
        };
        assert!(text.contains(SHELL_BLOCK));
        assert!(text.ends_with("exec bundle exec kamal \"$@\"\n"));
        assert!(patch(Some("#!/usr/bin/env python3\nprint()\n")).is_err());
        assert!(patch(Some("no shebang\n")).is_err());
        let broken = format!("#!/bin/sh\n{BEGIN}\nstuff\n");
        assert!(patch(Some(&broken)).is_err());
    }
}
