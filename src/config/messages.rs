//! The wording of config errors: serde-saphyr's messages reworded in plain terms, the YAML
//! key at a line and column, and did-you-mean suggestions. Pure text work.

/// `key: ` as messages print it before the problem, or nothing when there is no key.
pub(super) fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// `did you mean "upcloud"?` when one candidate is close.
pub(super) fn suggest(input: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(input, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!("did you mean {c:?}?"))
}

/// Drop serde-saphyr's ` at line L, column C` suffix; we print the location first.
pub(super) fn strip_location(message: &str) -> String {
    let message = message.trim();
    match message.rfind(" at line ") {
        Some(index) if message[index..].contains(", column ") => message[..index].to_string(),
        _ => message.to_string(),
    }
}

/// Reword serde's messages: unknown fields get a did-you-mean; type names get plain words.
pub(super) fn improve_message(message: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, expected)) = rest.split_once("`, expected one of ") {
            let candidates: Vec<&str> = expected.split(", ").map(|c| c.trim_matches('`')).collect();
            let hint = suggest(field, &candidates)
                .unwrap_or_else(|| format!("valid keys here: {}", candidates.join(", ")));
            return (format!("unknown key {field:?}"), Some(hint));
        }
        if let Some((field, _)) = rest.split_once('`') {
            return (
                format!("unknown key {field:?}"),
                Some("this section takes no keys".into()),
            );
        }
    }
    let plain = message
        .replace("expected string scalar", "expected a string")
        .replace("expected mapping start", "expected a mapping of keys")
        .replace("expected sequence start", "expected a list")
        .replace("invalid i64", "expected a whole number")
        .replace("invalid boolean", "expected true or false")
        .replace("invalid bool", "expected true or false");
    if let Some(rest) = plain.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (
            format!("duplicate key {key:?}"),
            Some("each key may appear once; delete one of them".into()),
        );
    }
    (plain, None)
}

/// The dotted key path of the YAML key at (or governing) a 1-based line and column, found
/// from indentation. Good enough for messages; the location itself is exact.
pub(super) fn key_path_at(text: &str, line: u64, column: u64) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(index) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return String::new();
    };
    if index >= lines.len() {
        return String::new();
    }
    let column = usize::try_from(column).unwrap_or(1);
    let mut path = Vec::new();
    let mut limit = usize::MAX;
    for (i, raw) in lines[..=index].iter().enumerate().rev() {
        let content = raw.trim_start_matches(' ');
        let indent = raw.len() - content.len();
        if content.is_empty() || content.starts_with('#') || indent >= limit {
            continue;
        }
        let content = content.strip_prefix("- ").unwrap_or(content);
        let key = content
            .split_once(':')
            .filter(|(k, rest)| {
                !k.is_empty() && !k.contains(' ') && (rest.is_empty() || rest.starts_with(' '))
            })
            .map(|(k, _)| k.trim_matches(|c| c == '"' || c == '\''));
        if i == index && key.is_none() && indent + 1 >= column {
            limit = indent;
            continue;
        }
        if let Some(key) = key {
            path.push(key.to_string());
            limit = indent;
            if indent == 0 {
                break;
            }
        } else if i != index {
            limit = indent;
        }
    }
    path.reverse();
    path.join(".")
}

#[cfg(test)]
mod tests {
    use super::key_path_at;

    #[test]
    fn key_paths_follow_indentation() {
        let text = "service: a\nprovider:\n  type: upclod\n  zone: x\nsecrets:\n  - A\n";
        assert_eq!(key_path_at(text, 3, 9), "provider.type");
        assert_eq!(key_path_at(text, 4, 3), "provider.zone");
        assert_eq!(key_path_at(text, 1, 10), "service");
        assert_eq!(key_path_at(text, 6, 5), "secrets");
    }
}
