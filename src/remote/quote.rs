//! Turns an argv into the one command line an SSH server hands to the remote login shell.
//! Owns only quoting; it must not build commands or look at what they mean.
//!
//! Temporary: `crate::shell` is the project's quoting edge and is being written in parallel;
//! once it lands, this file should call it instead (same `shell_quote::Sh` rules).

use shell_quote::Sh;

/// Quote every element with POSIX `sh` rules and join with spaces, so the remote shell
/// splits the line back into exactly `argv`. Callers reject NUL bytes first: no shell (and
/// no process argument) can carry them.
pub(crate) fn command_line<S: AsRef<str>>(argv: &[S]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in argv.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        Sh::quote_into_vec(arg.as_ref(), &mut line);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(argv: &[&str]) -> String {
        String::from_utf8(command_line(argv)).unwrap()
    }

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(line(&["docker", "ps", "-a"]), "docker ps -a");
    }

    #[test]
    fn empty_argument_survives_as_a_word() {
        assert_eq!(line(&["printf", ""]), "printf ''");
    }

    #[test]
    fn metacharacters_are_not_live() {
        let out = line(&["echo", "$(id) `id` ; rm -rf / | x & y > z"]);
        assert!(out.starts_with("echo "));
        // Whatever form the quoter picks, the shell must see it as one word with no
        // unquoted expansion; the integration test checks that on a real shell.
        assert!(!out.contains(" ; rm") || out.contains('\''));
    }

    /// Run `printf '%s\0' <quoted argv>` in a real `sh` and split what it printed.
    fn through_sh(argv: &[String]) -> Vec<Vec<u8>> {
        let mut script = b"printf '%s\\0' ".to_vec();
        script.extend(command_line(argv));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(String::from_utf8(script).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut parts: Vec<Vec<u8>> = out.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
        assert_eq!(parts.pop(), Some(Vec::new()));
        parts
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn any_text_without_nul_round_trips(argv in proptest::collection::vec("[^\\x00]{0,24}", 1..6)) {
            let got = through_sh(&argv);
            let want: Vec<Vec<u8>> = argv.iter().map(|a| a.as_bytes().to_vec()).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn round_trips_through_a_real_shell() {
        let argv = [
            "it's",
            "",
            "a b",
            "line1\nline2",
            "$(echo pwned)",
            "`id`",
            "\\",
            "\"q\"",
            "tab\there",
            "ünïcode ✓",
            "*",
            "~",
            "-n",
        ];
        let mut script = b"printf '%s\\0' ".to_vec();
        script.extend(command_line(&argv));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(String::from_utf8(script).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        let got: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
        // printf '%s\0' ends with a terminator, so the last split piece is empty.
        assert_eq!(got.len(), argv.len() + 1);
        for (want, got) in argv.iter().zip(got) {
            assert_eq!(want.as_bytes(), got);
        }
    }
}
