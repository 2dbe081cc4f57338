//! The one place an argv becomes a POSIX `sh` command line (for `ssh host <line>` and
//! `sh -c <line>`). Every argument is quoted with `shell-quote`'s `Sh` quoter, so `sh` hands
//! the program exactly the original strings: quotes, `$()`, backticks, globs, newlines,
//! unicode and empty strings included. Pure; never builds a line by string concatenation
//! elsewhere.

use shell_quote::Sh;

/// Quote one argument for POSIX `sh`.
pub fn quote(arg: &str) -> String {
    String::from_utf8(Sh::quote_vec(arg)).unwrap_or_else(|_| single_quote(arg))
}

/// Plain single quoting, used only if the quoter's bytes were not UTF-8 (they always are
/// for UTF-8 input, which only gains ASCII quoting).
fn single_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', "'\\''"))
}

/// Turn an argv into one `sh` command line.
pub fn join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Run `line` with `sh -c` where the line is `printf '%s\0' x <args...>`, and return the
    /// arguments printf received (after the sentinel `x`).
    fn round_trip(original: &[String]) -> Vec<String> {
        let mut command = vec!["printf".to_string(), "%s\\000".to_string(), "x".to_string()];
        command.extend(original.iter().cloned());
        let line = join(&command);
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .output()
            .expect("run sh");
        assert!(output.status.success(), "sh failed on {line:?}");
        let text = String::from_utf8(output.stdout).expect("utf-8 output");
        let mut parts: Vec<String> = text.split('\0').map(str::to_string).collect();
        assert_eq!(parts.pop().as_deref(), Some(""), "output ends with NUL");
        assert_eq!(parts.first().map(String::as_str), Some("x"));
        parts.remove(0);
        parts
    }

    #[test]
    fn plain_words_stay_readable_and_empty_stays_a_word() {
        assert_eq!(join(&["docker", "ps", "-a"]), "docker ps -a");
        assert_eq!(join(&["printf", ""]), "printf ''");
    }

    #[test]
    fn hostile_examples() {
        let args: Vec<String> = [
            "",
            "it's",
            "$(touch /tmp/pwned)",
            "`id`",
            "a\nb",
            "*",
            "~",
            "\"q\"",
            "\\",
            "ünï ☃",
            "-e",
            "$HOME",
            "a b\tc",
            "!",
        ]
        .map(str::to_string)
        .to_vec();
        assert_eq!(round_trip(&args), args);
        assert_eq!(join(&["echo", "a b", ""]), "echo a' b' ''");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn sh_receives_the_original_argv(args in proptest::collection::vec("[^\u{0}]{0,12}", 0..6)) {
            prop_assert_eq!(round_trip(&args), args);
        }

        #[test]
        fn shell_metacharacters_survive(args in proptest::collection::vec("[ '\"$`\\\\\n\t*?;&|<>(){}!#~=a-z]{0,10}", 0..6)) {
            prop_assert_eq!(round_trip(&args), args);
        }
    }
}
