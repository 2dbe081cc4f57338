//! `$(kamal secrets ...)` inside a secrets file (kamal.md §1.2 special case, §1.4, §1.5 option
//! b). Kamal runs these in-process with `--inline`; spawning a plain `kamal` would print raw
//! JSON that the next `sh` word-splits. So: `extract` is done here, natively; `fetch` is
//! delegated to the real `kamal` with `--inline`, which shell-escapes its JSON exactly as
//! Kamal does for itself. Pure: decides what to do, runs nothing. Errors never quote the
//! command text, which holds fetched secrets after `$SECRETS` expansion.

/// What a `kamal secrets ...` command text asks for.
#[derive(PartialEq, Eq)]
pub enum Inline {
    /// Run this through `sh` (the vault adapters live in Kamal).
    Shell(String),
    /// The extracted value.
    Value(String),
    /// Cannot be done; the reason names no value.
    Refused(String),
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inline::Shell(_) => f.write_str("Shell(..)"),
            Inline::Value(_) => f.write_str("Value(****)"),
            Inline::Refused(reason) => write!(f, "Refused({reason:?})"),
        }
    }
}

/// Decide how to handle `command`, already known to start with `kamal secrets`.
pub fn handle(command: &str) -> Inline {
    let Some(words) = shell_split(command) else {
        return Inline::Refused("its `kamal secrets` command has an unmatched quote".to_string());
    };
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["kamal", "secrets", "fetch", ..] => Inline::Shell(format!("{command} --inline")),
        ["kamal", "secrets", "extract", rest @ ..] => {
            let positional: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|a| *a != "--inline")
                .collect();
            match positional.as_slice() {
                [name, json] => extract(name, json),
                _ => Inline::Refused(
                    "`kamal secrets extract` takes a NAME and the fetched JSON".to_string(),
                ),
            }
        }
        _ => Inline::Refused(
            "kamal-dev handles only `kamal secrets fetch` and `kamal secrets extract` inside a secrets file"
                .to_string(),
        ),
    }
}

/// Kamal's `extract`: the value under `name`, else the first key ending in `/name`.
fn extract(name: &str, json: &str) -> Inline {
    let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) else {
        return Inline::Refused(format!(
            "`kamal secrets extract {name}` was not given a JSON object (did the fetch fail?)"
        ));
    };
    let suffix = format!("/{name}");
    let found = map.get(name).filter(|v| !v.is_null()).or_else(|| {
        map.iter()
            .find(|(k, v)| k.ends_with(&suffix) && !v.is_null())
            .map(|(_, v)| v)
    });
    match found {
        Some(serde_json::Value::String(s)) => Inline::Value(s.clone()),
        Some(other) => Inline::Value(other.to_string()),
        None => Inline::Refused(format!("the fetched secrets have no {name}")),
    }
}

/// Ruby's `Shellwords.shellsplit`: whitespace-separated words with single quotes (literal),
/// double quotes (where a backslash escapes only dollar, backtick, double quote, backslash and
/// newline) and backslash escapes. `None` for an
/// unmatched quote.
pub fn shell_split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut field = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut field));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => field.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            n @ ('$' | '`' | '"' | '\\' | '\n') => field.push(n),
                            n => {
                                field.push('\\');
                                field.push(n);
                            }
                        },
                        ch => field.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                field.push(chars.next().unwrap_or('\\'));
            }
            ch => {
                in_word = true;
                field.push(ch);
            }
        }
    }
    if in_word {
        words.push(field);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ruby_shellwords() {
        let rows: &[(&str, &[&str])] = &[
            ("a b  c", &["a", "b", "c"]),
            ("'a b' \"c d\"", &["a b", "c d"]),
            ("a\"b c\"d", &["ab cd"]),
            (r#""x\"y\$z\q""#, &[r#"x"y$z\q"#]),
            (r"a\ b \'", &["a b", "'"]),
            ("''", &[""]),
        ];
        for (line, expected) in rows {
            assert_eq!(shell_split(line).unwrap(), *expected, "{line}");
        }
        assert_eq!(shell_split("'open"), None);
        assert_eq!(shell_split("\"open"), None);
    }

    #[test]
    fn extract_finds_exact_then_suffix() {
        // kamal.md §1.4: exact key, else the first key ending in /NAME
        let json = r#"{"Vault/Item/KEY":"v1","Other/KEY2":"v2","KEY2":"exact"}"#;
        let quoted = shell_quote::Sh::quote_vec(json);
        let quoted = String::from_utf8(quoted).unwrap();
        assert_eq!(
            handle(&format!("kamal secrets extract KEY {quoted}")),
            Inline::Value("v1".into())
        );
        assert_eq!(
            handle(&format!("kamal secrets extract KEY2 {quoted} --inline")),
            Inline::Value("exact".into())
        );
        let missing = handle(&format!("kamal secrets extract NOPE {quoted}"));
        assert_eq!(
            missing,
            Inline::Refused("the fetched secrets have no NOPE".into())
        );
        assert!(!format!("{missing:?}").contains("v1"));
    }

    #[test]
    fn fetch_goes_to_kamal_inline_and_others_are_refused() {
        assert_eq!(
            handle("kamal secrets fetch -a op --account a --from V/I K"),
            Inline::Shell("kamal secrets fetch -a op --account a --from V/I K --inline".into())
        );
        assert!(matches!(handle("kamal secrets print"), Inline::Refused(_)));
        assert!(matches!(
            handle("kamal secrets extract 'A"),
            Inline::Refused(_)
        ));
        assert!(matches!(
            handle("kamal secrets extract A not-json"),
            Inline::Refused(_)
        ));
    }
}
