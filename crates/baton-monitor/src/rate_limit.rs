//! Rate-limit and quota detection.
//!
//! Before a non-zero exit is treated as a crash, the supervisor asks whether
//! the agent's last words were about a rate limit or quota. If so the failure
//! is `rate_limited`, the account cools down, and — when the output says when
//! the limit resets — that is the cooldown. Reset parsing must never invent a
//! time: anything it does not understand is `None`.

use std::sync::LazyLock;
use std::time::Duration;

use jiff::Zoned;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use regex::Regex;

use crate::text;

/// Longest reset delay ever reported.
const MAX_RESET: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest `matched` line, in chars.
const MAX_MATCHED: usize = 200;
/// How many lines after (then before) the matched line may carry the reset.
const NEARBY: usize = 3;

/// Evidence that the agent hit a rate limit or quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// The last output line with rate-limit wording, trimmed, at most 200 chars.
    pub matched: String,
    /// When the output says the limit resets: the time from `now` until then,
    /// at most 7 days.
    pub reset_after: Option<Duration>,
}

/// Compiles every pattern of the rate-limit detector now, so the first
/// detection (which runs when a session fails) does not pay for it.
pub fn prepare() {
    LazyLock::force(&WORDING);
    LazyLock::force(&RETRY_AFTER_HEADER);
    LazyLock::force(&EPOCH_SUFFIX);
    LazyLock::force(&ISO);
    LazyLock::force(&RELATIVE_KEY);
    LazyLock::force(&CLOCK);
}

static WORDING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)rate[\s_-]?limit|quota|throttl|too many requests|usage[\s_-]limit|resource_exhausted",
    )
    .expect("static regex")
});

/// `429` as a status code: not part of a longer number, word or version.
fn has_429(line: &str) -> bool {
    let b = line.as_bytes();
    memchr::memmem::find_iter(b, b"429").any(|i| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + 3).copied();
        let bad =
            |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_');
        !bad(before) && !bad(after)
    })
}

fn is_rate_limit_line(line: &str) -> bool {
    WORDING.is_match(line) || has_429(line)
}

/// Looks at recent output for rate-limit or quota wording (case-insensitive:
/// "rate limit", "quota", "throttl…", "too many requests", a `429` status,
/// "usage limit", `RESOURCE_EXHAUSTED`) and returns the last such line, with
/// the reset delay parsed from that line or the few lines around it.
/// `None` when no line matches. Never panics.
pub fn detect(tail: &[u8], now: Zoned) -> Option<RateLimit> {
    let text = text::normalize(tail);
    let lines: Vec<&str> = text.lines().collect();
    let idx = lines.iter().rposition(|l| is_rate_limit_line(l))?;
    let matched: String = lines[idx].trim().chars().take(MAX_MATCHED).collect();
    let after = lines.iter().skip(idx + 1).take(NEARBY);
    let before = lines[..idx].iter().rev().take(NEARBY);
    let reset_after = std::iter::once(&lines[idx])
        .chain(after)
        .chain(before)
        .find_map(|l| parse_reset(l, &now));
    Some(RateLimit {
        matched,
        reset_after,
    })
}

static RETRY_AFTER_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bretry-after\s*:\s*(\d{1,9})\s*(?:$|[^\w.:])").expect("static regex")
});

static EPOCH_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    // Claude Code's "Claude AI usage limit reached|1750000000".
    Regex::new(r"(?i)limit reached\s*\|\s*(\d{10})\b").expect("static regex")
});

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:reset|retry|try again|until|after|available)\D{0,20}?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)",
    )
    .expect("static regex")
});

static RELATIVE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:retry[-_ ]?delay"?\s*[:=]\s*"?|try(?:ing)? again|retry(?:ing)?|resets?|available(?: again)?|wait|refresh(?:es)?|renews?)\s*(?:(?:in|after|for)\b)?\s*(?:about|approximately|approx\.?|roughly|~)?\s*"#,
    )
    .expect("static regex")
});

static CLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:resets?|try again|retry|available(?: again)?|until|refresh(?:es)?)\s+(?:(?:at|after|on|by)\s+)?(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*(a\.?m\.?|p\.?m\.?)?(?:\s*(utc|gmt|z)\b|\s*\(([A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\))?",
    )
    .expect("static regex")
});

/// Parses when a limit resets from one line of text, as a delay from `now`.
///
/// Understands relative delays ("try again in 2h 13m", "retry in 30s",
/// "retry after 2 minutes", "resets in 5m", `Retry-After: 120`), wall-clock
/// times ("resets at 14:05" — today, or tomorrow if already past — "2:05 PM",
/// "14:05 UTC", "5pm (America/New_York)") and timestamps ("reset at
/// 2026-11-21T14:05:00Z"). Results are capped at 7 days; times in the past
/// and impossible values give `None`. Never panics.
pub fn parse_reset(text: &str, now: &Zoned) -> Option<Duration> {
    let d = retry_after_header(text)
        .or_else(|| epoch_suffix(text, now))
        .or_else(|| iso_time(text, now))
        .or_else(|| relative(text))
        .or_else(|| clock_time(text, now))?;
    Some(d.min(MAX_RESET))
}

fn retry_after_header(text: &str) -> Option<Duration> {
    let caps = RETRY_AFTER_HEADER.captures(text)?;
    let secs: u64 = caps.get(1)?.as_str().parse().ok()?;
    Some(Duration::from_secs(secs))
}

fn epoch_suffix(text: &str, now: &Zoned) -> Option<Duration> {
    let caps = EPOCH_SUFFIX.captures(text)?;
    let secs: i64 = caps.get(1)?.as_str().parse().ok()?;
    let at = jiff::Timestamp::from_second(secs).ok()?;
    until(at, now)
}

fn until(at: jiff::Timestamp, now: &Zoned) -> Option<Duration> {
    let d = at.duration_since(now.timestamp());
    Duration::try_from(d).ok()
}

fn iso_time(text: &str, now: &Zoned) -> Option<Duration> {
    for caps in ISO.captures_iter(text) {
        let Some(m) = caps.get(1) else { continue };
        let s = m.as_str().replace(' ', "T");
        let at = if caps.get(2).is_some() {
            s.parse::<jiff::Timestamp>().ok()
        } else {
            s.parse::<DateTime>()
                .ok()
                .and_then(|dt| dt.to_zoned(now.time_zone().clone()).ok())
                .map(|z| z.timestamp())
        };
        if let Some(d) = at.and_then(|at| until(at, now)) {
            return Some(d);
        }
    }
    None
}

fn unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => 86_400.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "ms" | "millisecond" | "milliseconds" => 0.001,
        _ => return None,
    })
}

/// Parses "2h 13m", "45 seconds", "1 hour and 5 minutes", "23.5s" from the
/// start of `s`.
fn duration_prefix(s: &str) -> Option<Duration> {
    let mut rest = s;
    let mut total = 0.0f64;
    let mut terms = 0;
    loop {
        let trimmed = rest.trim_start_matches([' ', ',']);
        let trimmed = trimmed
            .strip_prefix("and ")
            .map(|t| t.trim_start())
            .unwrap_or(trimmed);
        let num_len = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        if num_len == 0 || num_len > 12 {
            break;
        }
        let Ok(n) = trimmed[..num_len].parse::<f64>() else {
            break;
        };
        let after_num = trimmed[num_len..].trim_start();
        let unit_len = after_num
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_num.len());
        let Some(unit) = unit_seconds(&after_num[..unit_len]) else {
            break;
        };
        total += n * unit;
        terms += 1;
        rest = &after_num[unit_len..];
    }
    if terms == 0 || !total.is_finite() || total < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(total.min(MAX_RESET.as_secs_f64())))
}

fn relative(text: &str) -> Option<Duration> {
    RELATIVE_KEY
        .find_iter(text)
        .find_map(|m| duration_prefix(&text[m.end()..]))
}

fn clock_time(text: &str, now: &Zoned) -> Option<Duration> {
    for caps in CLOCK.captures_iter(text) {
        let minute = caps.get(2);
        let meridiem = caps.get(4);
        // A bare number ("retry 5") is not a time of day.
        if minute.is_none() && meridiem.is_none() {
            continue;
        }
        let Some(hour) = caps.get(1).and_then(|h| h.as_str().parse::<i8>().ok()) else {
            continue;
        };
        let minute: i8 = match minute.map(|m| m.as_str().parse()) {
            Some(Ok(m)) => m,
            Some(Err(_)) => continue,
            None => 0,
        };
        let second: i8 = caps
            .get(3)
            .and_then(|s| s.as_str().parse().ok())
            .unwrap_or(0);
        let hour = match meridiem.map(|m| m.as_str().to_ascii_lowercase()) {
            Some(m) if m.starts_with('p') && (1..=12).contains(&hour) => hour % 12 + 12,
            Some(_) if (1..=12).contains(&hour) => hour % 12,
            Some(_) => continue,
            None => hour,
        };
        if !(0..=23).contains(&hour) || !(0..=59).contains(&minute) || !(0..=59).contains(&second) {
            continue;
        }
        let tz = if caps.get(5).is_some() {
            TimeZone::UTC
        } else if let Some(name) = caps.get(6) {
            TimeZone::get(name.as_str()).unwrap_or_else(|_| now.time_zone().clone())
        } else {
            now.time_zone().clone()
        };
        let local_now = now.with_time_zone(tz.clone());
        let today: Date = local_now.date();
        let Some(d) = next_occurrence(today, hour, minute, second, &tz, now) else {
            continue;
        };
        return Some(d);
    }
    None
}

fn next_occurrence(
    today: Date,
    hour: i8,
    minute: i8,
    second: i8,
    tz: &TimeZone,
    now: &Zoned,
) -> Option<Duration> {
    let at_today = today
        .at(hour, minute, second, 0)
        .to_zoned(tz.clone())
        .ok()?;
    if at_today.timestamp() > now.timestamp() {
        return until(at_today.timestamp(), now);
    }
    let tomorrow = today.tomorrow().ok()?;
    let at = tomorrow
        .at(hour, minute, second, 0)
        .to_zoned(tz.clone())
        .ok()?;
    until(at.timestamp(), now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        // 12:00 local in UTC+2, i.e. 10:00Z.
        "2026-11-21T12:00:00+02:00[+02:00]"
            .parse()
            .expect("valid zoned")
    }

    const fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn parse_reset_table() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("Please try again in 2h 13m.", secs(2 * 3600 + 13 * 60)),
            ("try again in 45 seconds", secs(45)),
            ("Rate limited, retry in 30s", secs(30)),
            ("Retry-After: 120", secs(120)),
            ("retry after 2 minutes", secs(120)),
            ("Your quota resets in 5m", secs(300)),
            ("try again in 1 hour and 5 minutes", secs(3900)),
            ("try again in 2 days 3 hours", secs(2 * 86400 + 3 * 3600)),
            ("Please retry in 23.5s", Some(Duration::from_millis(23_500))),
            ("\"retryDelay\": \"17s\"", secs(17)),
            ("try again in 30 days", secs(7 * 86400)),
            ("resets at 14:05", secs(2 * 3600 + 5 * 60)),
            ("resets at 11:00", secs(23 * 3600)),
            ("try again at 2:05 PM", secs(2 * 3600 + 5 * 60)),
            ("resets at 14:05 UTC", secs(4 * 3600 + 5 * 60)),
            ("limit will reset at 5pm (UTC)", secs(7 * 3600)),
            ("reset at 2026-11-21T14:05:00Z", secs(4 * 3600 + 5 * 60)),
            ("reset at 2026-11-21 14:05", secs(2 * 3600 + 5 * 60)),
            ("reset at 2020-01-01T00:00:00Z", None),
            ("Claude AI usage limit reached|1795257000", secs(1800)),
            ("resets at 25:99", None),
            ("try again at 13 pm", None),
            ("retry 5", None),
            ("try again later", None),
            ("rate limit exceeded", None),
            ("", None),
        ];
        let now = now();
        for (input, want) in cases {
            assert_eq!(parse_reset(input, &now), *want, "{input:?}");
        }
    }

    type Expected<'a> = Option<(&'a str, Option<Duration>)>;

    #[test]
    fn detect_table() {
        let cases: &[(&str, Expected)] = &[
            ("working\nall good\n", None),
            (
                "Error: 429 Too Many Requests\n",
                Some(("Error: 429 Too Many Requests", None)),
            ),
            (
                "doing stuff\n■ You've hit your usage limit. Try again in 4 hours 43 minutes.\n",
                Some((
                    "■ You've hit your usage limit. Try again in 4 hours 43 minutes.",
                    secs(4 * 3600 + 43 * 60),
                )),
            ),
            (
                "API Error: Rate limit reached\nYour limit will reset at 1pm\n",
                Some(("API Error: Rate limit reached", secs(3600))),
            ),
            (
                "status RESOURCE_EXHAUSTED: Quota exceeded for metric\nPlease retry in 20s\n",
                Some((
                    "status RESOURCE_EXHAUSTED: Quota exceeded for metric",
                    secs(20),
                )),
            ),
            (
                "rate limit hit\nthen\nrecovered: THROTTLED again\n",
                Some(("recovered: THROTTLED again", None)),
            ),
            (
                "processed 14290 items\ncommit a429f3e\nversion 1.429.0\n",
                None,
            ),
            ("HTTP status 429\n", Some(("HTTP status 429", None))),
            ("ratelimit\n", Some(("ratelimit", None))),
        ];
        for (input, want) in cases {
            let got = detect(input.as_bytes(), now());
            let got = got.as_ref().map(|r| (r.matched.as_str(), r.reset_after));
            assert_eq!(got, *want, "{input:?}");
        }
    }
}
