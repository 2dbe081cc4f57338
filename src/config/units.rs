//! Exact parsing of sizes (`4g`, `512m`, `1.5g`) into bytes and CPU counts (`1.5`) into
//! millicores. Decimal arithmetic on the digits: never floats.

use std::fmt;

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

/// A CPU count in thousandths of a CPU (`1.5` CPUs = 1500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millicores(pub u64);

impl fmt::Display for Bytes {
    /// The shortest exact docker form: `4g`, `512m`, `1536k` or plain bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "g"), (1 << 20, "m"), (1 << 10, "k")];
        for (size, unit) in UNITS {
            if self.0 != 0 && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Millicores {
    /// Docker's `--cpus` form: `2`, `1.5`, `0.25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1000;
        let frac = self.0 % 1000;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let digits = format!("{frac:03}");
            write!(f, "{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// Split `1.5` into (1, 5, 1): whole part, fraction digits as a number, number of digits.
fn decimal(text: &str) -> Option<(u64, u64, u32)> {
    let (whole, frac) = match text.split_once('.') {
        Some((whole, frac)) => (whole, frac),
        None => (text, ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) || frac.len() > 9 {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    Some((whole, frac_value, u32::try_from(frac.len()).ok()?))
}

/// Multiply a decimal by an integer scale, exactly; `None` when the result is not whole.
fn scale(whole: u64, frac: u64, digits: u32, factor: u64) -> Option<u64> {
    let denominator = 10u64.pow(digits);
    let whole_part = whole.checked_mul(factor)?;
    let frac_product = u128::from(frac) * u128::from(factor);
    if frac_product % u128::from(denominator) != 0 {
        return None;
    }
    let frac_part = u64::try_from(frac_product / u128::from(denominator)).ok()?;
    whole_part.checked_add(frac_part)
}

/// Parse a size like docker's `--memory`: a number with an optional unit `b`, `k`, `m`, `g`
/// or `t` (powers of 1024, case-insensitive, an optional trailing `b`/`ib`). A plain number is
/// bytes. The result must be a whole, positive number of bytes.
pub fn parse_size(text: &str) -> Result<Bytes, String> {
    let invalid = || format!("{text:?} is not a size");
    let lower = text.trim().to_ascii_lowercase();
    let number_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(number_end);
    let factor: u64 = match unit.trim_start() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    let (whole, frac, digits) = decimal(number).ok_or_else(invalid)?;
    let bytes = scale(whole, frac, digits, factor)
        .ok_or_else(|| format!("{text:?} is not a whole number of bytes"))?;
    if bytes == 0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(Bytes(bytes))
}

/// Parse a CPU count like docker's `--cpus` (`2`, `1.5`, `0.25`) into millicores.
pub fn parse_cpus(text: &str) -> Result<Millicores, String> {
    let trimmed = text.trim();
    let (whole, frac, digits) =
        decimal(trimmed).ok_or_else(|| format!("{text:?} is not a CPU count"))?;
    let millis = scale(whole, frac, digits, 1000)
        .ok_or_else(|| format!("{text:?} has more than 3 decimal places"))?;
    if millis == 0 {
        return Err(format!("{text:?} must be more than zero"));
    }
    Ok(Millicores(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_exactly() {
        let table = [
            ("4g", 4 * (1 << 30)),
            ("512m", 512 * (1 << 20)),
            ("1.5g", 1_610_612_736),
            ("1.5G", 1_610_612_736),
            ("4096", 4096),
            ("64k", 65536),
            ("2gb", 2 * (1 << 30)),
            ("1t", 1 << 40),
            ("0.5m", 524_288),
        ];
        for (text, bytes) in table {
            assert_eq!(parse_size(text), Ok(Bytes(bytes)), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_rejected() {
        for text in ["4 gigs", "", "g", "-1g", "1.2.3g", "0", "0.0000001k", "4x"] {
            assert!(parse_size(text).is_err(), "{text} should fail");
        }
    }

    #[test]
    fn cpus_parse_to_millicores() {
        assert_eq!(parse_cpus("1.5"), Ok(Millicores(1500)));
        assert_eq!(parse_cpus("2"), Ok(Millicores(2000)));
        assert_eq!(parse_cpus("0.25"), Ok(Millicores(250)));
        assert!(parse_cpus("0.0001").is_err());
        assert!(parse_cpus("0").is_err());
        assert!(parse_cpus("two").is_err());
    }

    #[test]
    fn display_round_trips() {
        assert_eq!(Bytes(1_610_612_736).to_string(), "1536m");
        assert_eq!(Bytes(4 << 30).to_string(), "4g");
        assert_eq!(Bytes(1000).to_string(), "1000");
        assert_eq!(Millicores(1500).to_string(), "1.5");
        assert_eq!(Millicores(250).to_string(), "0.25");
        assert_eq!(Millicores(2000).to_string(), "2");
    }
}
