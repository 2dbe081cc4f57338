//! Pure dotenv-3 parsing with Kamal's command-substitution override (kamal.md §1.2, §1.3):
//! splitting a secrets file into entries, and expanding one entry's raw value. Runs nothing and
//! reads no environment itself: variable lookups and commands go through [`Resolve`], so the
//! caller decides what is evaluated, when, and how often. Never sees a file system.

use std::sync::LazyLock;

use regex::Regex;

/// How a value was written, which decides what expansion it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    Single,
    Double,
    Unquoted,
}

/// One `KEY=value` line (or a double/single-quoted value spanning lines), not yet expanded.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// The value with surrounding whitespace and quotes removed, before any escape handling.
    pub raw: String,
    pub quote: Quote,
    /// 1-based line of the key, for error messages.
    pub line: usize,
}

// Raw values are secrets; a derived Debug would print them.
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("quote", &self.quote)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// A line dotenv itself rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    pub line: usize,
    pub key: String,
}

// dotenv 3's LINE pattern, transcribed: Ruby's `\s` is ASCII whitespace and `\w` is ASCII, so
// both are spelled out; `(?m)` gives Ruby's line-anchored `^`/`$`. The regex crate and Onigmo
// agree on leftmost-first alternation and greedy/lazy choice, which is what decides how a
// quoted value that is followed by junk falls back to the unquoted branch.
static LINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?m)(?:^|\A)[\t\n\x0B\x0C\r ]*",
        r"(?P<export>export[\t\n\x0B\x0C\r ]+)?",
        r"(?P<key>[A-Za-z0-9_.]+)",
        r"(?:(?:[\t\n\x0B\x0C\r ]*=[\t\n\x0B\x0C\r ]*?|:[\t\n\x0B\x0C\r ]+?)",
        r"(?P<value>[\t\n\x0B\x0C\r ]*'(?:\\'|[^'])*'",
        r#"|[\t\n\x0B\x0C\r ]*"(?:\\"|[^"])*""#,
        r"|[^#\n]+)?)?",
        r"[\t\n\x0B\x0C\r ]*(?:#.*)?(?:$|\z)",
    ))
    .ok()
});

/// Split a file's text into entries in file order (duplicates kept: the later one wins when
/// looked up). Lines that match nothing are skipped, as dotenv does.
pub fn parse_file(text: &str) -> Result<Vec<Entry>, FormatError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let Some(line_re) = LINE.as_ref() else {
        return Ok(Vec::new());
    };
    let mut entries: Vec<Entry> = Vec::new();
    for caps in line_re.captures_iter(&text) {
        let Some(key) = caps.name("key") else {
            continue;
        };
        let line = 1 + text
            .get(..key.start())
            .map_or(0, |before| before.matches('\n').count());
        let value = caps.name("value");
        if caps.name("export").is_some() && value.is_none() {
            // `export KEY` only re-exports a key defined earlier in the same file.
            if entries.iter().any(|e| e.key == key.as_str()) {
                continue;
            }
            return Err(FormatError {
                line,
                key: key.as_str().to_string(),
            });
        }
        let (raw, quote) = unquote(value.map_or("", |v| v.as_str()));
        entries.push(Entry {
            key: key.as_str().to_string(),
            raw,
            quote,
            line,
        });
    }
    Ok(entries)
}

/// Ruby's `strip` (ASCII whitespace and NUL) followed by `sub(/\A(['"])(.*)\1\z/m, '\2')`.
fn unquote(value: &str) -> (String, Quote) {
    let value = value
        .trim_matches(|c: char| matches!(c, '\0' | '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' '));
    let bytes = value.as_bytes();
    if bytes.len() >= 2 {
        let (first, last) = (bytes[0], bytes[bytes.len() - 1]);
        if first == last && (first == b'\'' || first == b'"') {
            let inner = value.get(1..value.len() - 1).unwrap_or("").to_string();
            let quote = if first == b'"' {
                Quote::Double
            } else {
                Quote::Single
            };
            return (inner, quote);
        }
    }
    (value.to_string(), Quote::Unquoted)
}

/// What expanding a value needs from the outside world.
pub trait Resolve {
    type Error;
    /// The value of `name` from keys earlier in the same file, else the environment.
    fn lookup(&mut self, name: &str) -> Result<Option<String>, Self::Error>;
    /// Run `command` (already variable-expanded) and return its stdout without the trailing
    /// newline.
    fn run(&mut self, command: &str) -> Result<String, Self::Error>;
}

/// Expand an entry's raw value: escapes, then `$(command)`, then `$VAR` (kamal.md §1.2).
pub fn expand<R: Resolve>(raw: &str, quote: Quote, resolver: &mut R) -> Result<String, R::Error> {
    let unescaped = match quote {
        Quote::Single => return Ok(raw.to_string()),
        Quote::Double => {
            let legacy = resolver.lookup("DOTENV_LINEBREAK_MODE")?.as_deref() == Some("legacy");
            unescape(&expand_newlines(raw, legacy))
        }
        Quote::Unquoted => unescape(raw),
    };
    let commanded = substitute_commands(&unescaped, resolver)?;
    substitute_variables(&commanded, resolver)
}

/// In the default mode `\n` survives unescaping as a literal backslash-n (it is doubled here
/// and halved by [`unescape`]); `DOTENV_LINEBREAK_MODE=legacy` makes it a real line break.
fn expand_newlines(value: &str, legacy: bool) -> String {
    if legacy {
        value.replace("\\n", "\n").replace("\\r", "\r")
    } else {
        value.replace("\\n", "\\\\n").replace("\\r", "\\\\r")
    }
}

/// `gsub(/\\([^$])/, '\1')`: a backslash drops before anything but `$`.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next != '$'
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// The end (exclusive) of a balanced `( ... )` group starting at `open`, with Kamal's rules:
/// at least one item per level, and `\` plus any character but a newline is one opaque item.
/// Iterative so a hostile nesting depth cannot exhaust the stack.
fn group_end(bytes: &[u8], open: usize) -> Option<usize> {
    if bytes.get(open) != Some(&b'(') {
        return None;
    }
    let mut items = vec![0usize];
    let mut i = open + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' => {
                if *bytes.get(i + 1)? == b'\n' {
                    return None;
                }
                i += 2;
                *items.last_mut()? += 1;
            }
            b'(' => {
                items.push(0);
                i += 1;
            }
            b')' => {
                if items.pop()? == 0 {
                    return None;
                }
                i += 1;
                match items.last_mut() {
                    None => return Some(i),
                    Some(count) => *count += 1,
                }
            }
            _ => {
                i += 1;
                *items.last_mut()? += 1;
            }
        }
    }
}

fn substitute_commands<R: Resolve>(value: &str, resolver: &mut R) -> Result<String, R::Error> {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes[i] == b'\\';
        let dollar = if escaped { i + 1 } else { i };
        if bytes.get(dollar) == Some(&b'$')
            && let Some(end) = group_end(bytes, dollar + 1)
        {
            out.push_str(value.get(copied..i).unwrap_or(""));
            if escaped {
                // `\$(...)` stays literal, minus the backslash.
                out.push_str(value.get(dollar..end).unwrap_or(""));
            } else {
                let command = value.get(dollar + 2..end - 1).unwrap_or("");
                let command = substitute_variables(command, resolver)?;
                out.push_str(&resolver.run(&command)?);
            }
            i = end;
            copied = end;
            continue;
        }
        i += 1;
    }
    out.push_str(value.get(copied..).unwrap_or(""));
    Ok(out)
}

/// dotenv's VARIABLE pattern: `\\?\$(?!\()\{?([A-Za-z0-9_]+)?\}?`, braces matched
/// independently (so `${A` and `$A}` both expand `A`, consuming the brace).
fn substitute_variables<R: Resolve>(value: &str, resolver: &mut R) -> Result<String, R::Error> {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'$');
        let dollar = if escaped { i + 1 } else { i };
        if bytes.get(dollar) != Some(&b'$') || bytes.get(dollar + 1) == Some(&b'(') {
            i += 1;
            continue;
        }
        let mut end = dollar + 1;
        if bytes.get(end) == Some(&b'{') {
            end += 1;
        }
        let name_start = end;
        while bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            end += 1;
        }
        let name_end = end;
        if bytes.get(end) == Some(&b'}') {
            end += 1;
        }
        out.push_str(value.get(copied..i).unwrap_or(""));
        if escaped {
            out.push_str(value.get(dollar..end).unwrap_or(""));
        } else if name_end > name_start {
            let name = value.get(name_start..name_end).unwrap_or("");
            out.push_str(&resolver.lookup(name)?.unwrap_or_default());
        } else {
            out.push_str(value.get(dollar..end).unwrap_or(""));
        }
        i = end;
        copied = end;
    }
    out.push_str(value.get(copied..).unwrap_or(""));
    Ok(out)
}

/// Ruby's `chomp`: one trailing `\r\n`, `\n` or `\r`.
pub fn chomp(mut text: String) -> String {
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') || text.ends_with('\r') {
        text.truncate(text.len() - 1);
    }
    text
}

/// Kamal runs `kamal secrets ...` in-process instead of spawning it (kamal.md §1.4).
pub fn is_kamal_secrets_command(command: &str) -> bool {
    let rest = command.trim_start_matches([' ', '\t', '\n', '\x0B', '\x0C', '\r']);
    let Some(rest) = rest.strip_prefix("kamal") else {
        return false;
    };
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\x0B', '\x0C', '\r']);
    let Some(rest) = rest.strip_prefix("secrets") else {
        return false;
    };
    rest.starts_with([' ', '\t', '\n', '\x0B', '\x0C', '\r'])
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
