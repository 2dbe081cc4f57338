//! The Docker env-file contents that carry selected secrets into a workspace. Pure.
//!
//! Docker's `--env-file` reader (docker/cli `opts/envfile.go`) takes each line literally: no
//! quoting, no escapes; the value runs from the first `=` to the end of the line. Lines are
//! split by `bufio.Scanner`, which drops one trailing `\r` and refuses lines of 64 KiB or more;
//! the file must be UTF-8. So a value round-trips exactly as `KEY=value` when it has no line
//! break and no NUL (which no environment variable can hold), and the line fits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{Secret, SecretBytes, SecretsError, SecretsWarning};

/// `bufio.MaxScanTokenSize`; the line plus its newline must fit in the scanner's buffer.
const MAX_LINE: usize = 64 * 1024 - 1;

/// A rendered env file: contents to upload with mode 0600, the variable names it defines (safe
/// to show), and warnings to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    pub contents: SecretBytes,
    pub variables: Vec<String>,
    pub warnings: Vec<SecretsWarning>,
}

/// Each key as `KEY=value` and `KEY_B64=<base64>` (standard alphabet, padded, no line breaks,
/// like Ruby's `strict_encode64`); a value with `\n` or `\r` as `KEY_B64` only, with a warning.
/// An empty selection still yields one newline, as Kamal writes it.
pub fn env_file(secrets: &[(String, Secret)]) -> Result<EnvFile, SecretsError> {
    let mut text = String::new();
    let mut variables: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    for (key, secret) in secrets {
        let value = secret.expose();
        if value.contains('\0') {
            return Err(not_representable(
                key,
                "it contains a NUL byte, which no environment variable can hold",
            ));
        }
        let b64_key = format!("{key}_B64");
        let b64_line = format!("{b64_key}={}\n", STANDARD.encode(value));
        if value.contains(['\n', '\r']) {
            warnings.push(SecretsWarning::Base64Only { key: key.clone() });
        } else {
            let line = format!("{key}={value}\n");
            check_length(key, &line)?;
            claim(&mut variables, key)?;
            text.push_str(&line);
        }
        check_length(key, &b64_line)?;
        claim(&mut variables, &b64_key)?;
        text.push_str(&b64_line);
    }
    if text.is_empty() {
        text.push('\n');
    }
    Ok(EnvFile {
        contents: SecretBytes::new(text.into_bytes()),
        variables,
        warnings,
    })
}

fn check_length(key: &str, line: &str) -> Result<(), SecretsError> {
    if line.len() > MAX_LINE {
        return Err(not_representable(
            key,
            &format!(
                "its line would be {} bytes; Docker reads env-file lines of at most {MAX_LINE}",
                line.len() - 1
            ),
        ));
    }
    Ok(())
}

/// `A_B64` listed as a secret of its own would collide with the Base64 form of `A`.
fn claim(variables: &mut Vec<String>, name: &str) -> Result<(), SecretsError> {
    if variables.iter().any(|v| v == name) {
        return Err(not_representable(
            name,
            &format!(
                "{name} is defined twice (a key named {name} clashes with the _B64 form of another)"
            ),
        ));
    }
    variables.push(name.to_string());
    Ok(())
}

fn not_representable(key: &str, reason: &str) -> SecretsError {
    SecretsError::NotRepresentable {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, value: &str) -> (String, Secret) {
        (key.to_string(), Secret::new(value))
    }

    /// Docker's reader, as documented in the module comment, to prove the round trip.
    fn docker_read(contents: &[u8]) -> Vec<(String, String)> {
        let text = std::str::from_utf8(contents).unwrap();
        text.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn values_round_trip_through_dockers_reader() {
        let tricky = [
            "plain",
            "",
            "  leading and trailing spaces  ",
            "quotes \"double\" 'single' and = signs",
            "# not a comment",
            "$HOME ${X} $(not run) `nor this` \\n backslash",
            "ünïcödé ✓",
        ];
        let pairs: Vec<_> = tricky
            .iter()
            .enumerate()
            .map(|(i, v)| pair(&format!("K{i}"), v))
            .collect();
        let file = env_file(&pairs).unwrap();
        let read = docker_read(file.contents.expose());
        for (i, value) in tricky.iter().enumerate() {
            assert!(
                read.contains(&(format!("K{i}"), (*value).to_string())),
                "value {i}"
            );
            let b64 = &read
                .iter()
                .find(|(k, _)| *k == format!("K{i}_B64"))
                .unwrap()
                .1;
            assert_eq!(STANDARD.decode(b64).unwrap(), value.as_bytes());
        }
        assert!(file.warnings.is_empty());
    }

    #[test]
    fn multiline_values_are_base64_only_with_a_warning() {
        let file = env_file(&[pair("KEY", "line1\nline2"), pair("CR", "ends\r")]).unwrap();
        let text = std::str::from_utf8(file.contents.expose()).unwrap();
        assert!(!text.contains("KEY="), "{text}");
        assert!(text.contains(&format!("KEY_B64={}\n", STANDARD.encode("line1\nline2"))));
        assert_eq!(file.variables, vec!["KEY_B64", "CR_B64"]);
        assert_eq!(
            file.warnings,
            vec![
                SecretsWarning::Base64Only { key: "KEY".into() },
                SecretsWarning::Base64Only { key: "CR".into() }
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_value_round_trips_or_is_refused(value in "\\PC{0,60}|[\\x00-\\x7f]{0,60}") {
            match env_file(&[pair("K", &value)]) {
                Ok(file) => {
                    let read = docker_read(file.contents.expose());
                    let b64 = &read.iter().find(|(k, _)| k == "K_B64").unwrap().1;
                    proptest::prop_assert_eq!(STANDARD.decode(b64).unwrap(), value.as_bytes());
                    if let Some((_, plain)) = read.iter().find(|(k, _)| k == "K") {
                        proptest::prop_assert_eq!(plain, &value);
                    } else {
                        proptest::prop_assert!(value.contains(['\n', '\r']));
                    }
                }
                Err(_) => proptest::prop_assert!(value.contains('\0')),
            }
        }
    }

    #[test]
    fn empty_selection_is_one_newline() {
        assert_eq!(env_file(&[]).unwrap().contents.expose(), b"\n");
    }

    #[test]
    fn unrepresentable_values_are_errors_naming_the_key() {
        let err = env_file(&[pair("NUL", "a\0b")]).unwrap_err();
        assert!(err.to_string().contains("secret NUL"), "{err}");
        assert!(!err.to_string().contains("a\0b"));
        let big = "x".repeat(70_000);
        let err = env_file(&[pair("BIG", &big)]).unwrap_err();
        assert!(err.to_string().contains("BIG"));
        let err = env_file(&[pair("A", "1"), pair("A_B64", "2")]).unwrap_err();
        assert!(err.to_string().contains("A_B64"), "{err}");
    }
}
