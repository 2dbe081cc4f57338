//! Replacing known secret values with `****` in any text (commands, URLs, error messages)
//! before it is shown. Pure; knows nothing about where the values came from.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Secret;

/// Lines of a multi-line value shorter than this are not redacted on their own: a PEM's
/// `-----END` line is not secret, and redacting it would garble unrelated text.
const MIN_LINE_LEN: usize = 8;

/// Known secret values, replaced by `****` wherever they appear.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so a value containing another is replaced whole.
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.needles.len())
    }
}

impl Redactor {
    pub fn new() -> Self {
        Redactor::default()
    }

    /// Learn a value: the value itself, its Base64 form (it is injected as `KEY_B64` too) and,
    /// for multi-line values, each substantial line, since text may quote one line of it.
    /// Empty values are ignored: there is nothing to hide.
    pub fn add(&mut self, secret: &Secret) {
        let value = secret.expose();
        if value.is_empty() {
            return;
        }
        self.push(value.to_string());
        self.push(STANDARD.encode(value));
        if value.contains(['\n', '\r']) {
            for line in value.split(['\n', '\r']) {
                if line.trim().len() >= MIN_LINE_LEN {
                    self.push(line.to_string());
                }
            }
        }
    }

    fn push(&mut self, needle: String) {
        if !self.needles.contains(&needle) {
            self.needles.push(needle);
            self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        }
    }

    /// `text` with every known value replaced by `****`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), "****");
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_values_their_base64_and_lines() {
        let mut redactor = Redactor::new();
        redactor.add(&Secret::new("s3cr3t-token"));
        redactor.add(&Secret::new("s3cr3t"));
        redactor.add(&Secret::new(""));
        redactor.add(&Secret::new(
            "-----BEGIN KEY-----\nabcdefghijkl\n-----END KEY-----",
        ));
        let b64 = STANDARD.encode("s3cr3t-token");
        let text = format!(
            "git clone https://x:s3cr3t-token@host/r -e T_B64={b64} pw=s3cr3t line abcdefghijkl"
        );
        assert_eq!(
            redactor.redact(&text),
            "git clone https://x:****@host/r -e T_B64=**** pw=**** line ****"
        );
        assert_eq!(redactor.redact("nothing here"), "nothing here");
    }
}
