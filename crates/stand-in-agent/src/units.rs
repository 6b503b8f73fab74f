//! Duration and byte-size literals used by step arguments.

use std::fmt;
use std::time::Duration;

/// A duration or size literal that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError {
    /// What kind of literal was expected ("duration" or "size").
    pub kind: &'static str,
    /// The text as given.
    pub input: String,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = match self.kind {
            "duration" => "expected e.g. 500ms, 2s, 1.5s, 1m, 1h or a plain number of ms",
            _ => "expected e.g. 4096, 64K, 10M, 1G",
        };
        write!(f, "invalid {} `{}`: {hint}", self.kind, self.input)
    }
}

impl std::error::Error for UnitError {}

/// Reads a duration: `500ms`, `2s`, `1.5s`, `1m`, `1h`; a plain number is milliseconds.
///
/// Fractions are allowed with every unit; negative, non-finite and overflowing
/// values are rejected.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let err = || UnitError {
        kind: "duration",
        input: text.to_owned(),
    };
    let trimmed = text.trim();
    // "ms" must be tried before "m" and "s".
    let (number, seconds_per_unit) = if let Some(n) = trimmed.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = trimmed.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = trimmed.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = trimmed.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (trimmed, 0.001)
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(err());
    }
    let value: f64 = number.parse().map_err(|_| err())?;
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| err())
}

/// Reads a byte count: a plain number is bytes; `K`, `M`, `G` (either case,
/// optionally followed by `B` or `iB`) multiply by 1024, 1024², 1024³.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let err = || UnitError {
        kind: "size",
        input: text.to_owned(),
    };
    let trimmed = text.trim();
    let without_b = trimmed
        .strip_suffix("iB")
        .or_else(|| trimmed.strip_suffix('B'))
        .unwrap_or(trimmed);
    let (number, multiplier) = match without_b.as_bytes().last() {
        Some(b'k' | b'K') => (&without_b[..without_b.len() - 1], 1u64 << 10),
        Some(b'm' | b'M') => (&without_b[..without_b.len() - 1], 1u64 << 20),
        Some(b'g' | b'G') => (&without_b[..without_b.len() - 1], 1u64 << 30),
        _ => (without_b, 1),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let value: u64 = number.parse().map_err(|_| err())?;
    value.checked_mul(multiplier).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok: &[(&str, Duration)] = &[
            ("500ms", Duration::from_millis(500)),
            ("0ms", Duration::ZERO),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
            ("1m", Duration::from_secs(60)),
            ("2h", Duration::from_secs(7200)),
            ("250", Duration::from_millis(250)),
            ("0.5", Duration::from_micros(500)),
            (" 3s ", Duration::from_secs(3)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text).as_ref(), Ok(want), "{text}");
        }
        for bad in [
            "", "s", "ms", "-1s", "1x", "1.2.3s", "nan", "inf", "1e3", "1 s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn sizes() {
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("4096", 4096),
            ("1K", 1024),
            ("64k", 65536),
            ("10M", 10 << 20),
            ("1G", 1 << 30),
            ("2KiB", 2048),
            ("3MB", 3 << 20),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
        for bad in ["", "K", "-1", "1.5M", "1T", "99999999999999999999G", "abc"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
