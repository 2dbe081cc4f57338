//! Hostnames from machine names, the part every cloud provider shares: which characters
//! survive and the fallback when none do. How long a name may be and where it is cut stay
//! with each provider. Pure.

/// The name a machine gets when nothing of its own name survives.
pub const FALLBACK: &str = "kamal-dev";

/// `name` with ASCII letters lower-cased, digits kept and every other character as `-`.
pub fn dns_characters(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// `label`, or [`FALLBACK`] when it is empty.
pub fn or_fallback(label: &str) -> String {
    if label.is_empty() {
        FALLBACK.into()
    } else {
        label.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lower_case_letters_digits_and_dashes_survive() {
        assert_eq!(dns_characters("My App_1.ö"), "my-app-1--");
        assert_eq!(or_fallback(""), FALLBACK);
        assert_eq!(or_fallback("web-1"), "web-1");
    }
}
