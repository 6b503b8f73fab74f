//! Reading a log back: tolerant of a torn last line and of newer minor versions.

use std::path::Path;

use super::{FORMAT_MAJOR, FORMAT_NAME, Header, Record};
use crate::eventlog::LogError;

/// What a log file holds.
#[derive(Debug, Default)]
pub struct LogContents {
    /// The header, when the file has one.
    pub header: Option<Header>,
    /// Every record this baton understands, in file order.
    pub records: Vec<Record>,
    /// Lines that are valid JSON records of event kinds this baton does not know
    /// (written by a newer minor version). Kept, not dropped.
    pub unknown: Vec<serde_json::Value>,
    /// True when the last line was incomplete (a crash mid-write) and was skipped.
    pub torn_tail: bool,
    /// 1-based numbers of unreadable lines elsewhere in the file, which were skipped.
    pub skipped_lines: Vec<usize>,
    /// The `seq` of the oldest record still kept, when retention deleted
    /// the segments before it (`[conductor] keep_segments`).
    pub deleted_before: Option<u64>,
}

/// Reads a whole event log: `events.jsonl`, or every segment it rolled
/// over into, in order (see [`crate::seglog`]).
///
/// A last line without its newline is a torn write and is skipped, as is any
/// line that does not parse; a newer *major* version is refused.
pub fn read_log(path: &Path) -> Result<LogContents, LogError> {
    read_log_since(path, 0)
}

/// [`read_log`] without the segments that hold only records up to `since`:
/// the time it takes is that of reading what is wanted.
pub fn read_log_since(path: &Path, since: u64) -> Result<LogContents, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    if matches!(
        crate::seglog::head(path).map_err(io)?,
        crate::seglog::Head::Plain
    ) {
        let bytes = std::fs::read(path).map_err(io)?;
        return parse_log(&bytes, path);
    }
    let segments = crate::seglog::segments(path).map_err(io)?;
    if segments.is_empty() {
        // No log at all: the error a plain read gives.
        let bytes = std::fs::read(path).map_err(io)?;
        return parse_log(&bytes, path);
    }
    let mut out = LogContents {
        deleted_before: segments.first().map(|s| s.start).filter(|first| *first > 1),
        ..LogContents::default()
    };
    for (i, segment) in segments.iter().enumerate() {
        if segments
            .get(i + 1)
            .is_some_and(|next| next.start <= since + 1)
        {
            continue;
        }
        let bytes = match std::fs::read(&segment.path) {
            Ok(bytes) => bytes,
            // Deleted by retention since it was listed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(LogError::Io {
                    path: segment.path.clone(),
                    source,
                });
            }
        };
        let part = parse_log(&bytes, &segment.path)?;
        if out.header.is_none() {
            out.header = part.header;
        }
        out.records.extend(part.records);
        out.unknown.extend(part.unknown);
        out.torn_tail = part.torn_tail;
        out.skipped_lines.extend(part.skipped_lines);
    }
    Ok(out)
}

/// Parses log bytes; `path` only names the file in errors. Never panics.
pub fn parse_log(bytes: &[u8], path: &Path) -> Result<LogContents, LogError> {
    let mut out = LogContents::default();
    let mut rest = bytes;
    let mut number = 0usize;
    while !rest.is_empty() {
        number += 1;
        let (line, complete) = match memchr_newline(rest) {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                (line, true)
            }
            None => {
                let line = rest;
                rest = &[];
                (line, false)
            }
        };
        if !complete {
            out.torn_tail = true;
            break;
        }
        if line.is_empty() {
            continue;
        }
        if number == 1
            && let Ok(header) = serde_json::from_slice::<Header>(line)
            && header.format == FORMAT_NAME
        {
            if let Some((major, _)) = header.version_parts()
                && major > FORMAT_MAJOR
            {
                return Err(LogError::NewerMajor {
                    path: path.to_owned(),
                    found: header.version,
                });
            }
            out.header = Some(header);
            continue;
        }
        match serde_json::from_slice::<Record>(line) {
            Ok(record) => out.records.push(record),
            Err(_) => match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(value) if value.get("seq").is_some() && value.get("event").is_some() => {
                    out.unknown.push(value)
                }
                _ => out.skipped_lines.push(number),
            },
        }
    }
    Ok(out)
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        r#"{"format":"baton-events","version":"1.0","created":"2026-01-01T00:00:00.000000Z"}"#;

    #[test]
    fn torn_last_line_is_skipped() {
        let text = format!(
            "{HEADER}\n{}\n{}",
            r#"{"seq":1,"ts":"t","event":"shutdown","reason":"request","sessions":0}"#,
            r#"{"seq":2,"ts":"t","event":"sta"#
        );
        let log = parse_log(text.as_bytes(), Path::new("x")).expect("reads");
        assert!(log.torn_tail);
        assert_eq!(log.records.len(), 1);
        assert_eq!(log.records[0].seq, 1);
    }

    #[test]
    fn newer_minor_with_unknown_event_and_field_is_read() {
        let text = format!(
            "{}\n{}\n{}\n",
            HEADER.replace("1.0", "1.7"),
            r#"{"seq":1,"ts":"t","event":"shutdown","reason":"request","sessions":0,"extra":true}"#,
            r#"{"seq":2,"ts":"t","event":"teleported","where":"mars"}"#
        );
        let log = parse_log(text.as_bytes(), Path::new("x")).expect("reads");
        assert_eq!(log.records.len(), 1);
        assert_eq!(log.unknown.len(), 1);
        assert!(!log.torn_tail);
    }

    #[test]
    fn newer_major_is_refused() {
        let text = format!("{}\n", HEADER.replace("1.0", "2.0"));
        assert!(matches!(
            parse_log(text.as_bytes(), Path::new("x")),
            Err(LogError::NewerMajor { .. })
        ));
    }

    #[test]
    fn garbage_line_is_skipped_and_reported() {
        let text = format!(
            "{HEADER}\nnot json\n{}\n",
            r#"{"seq":1,"ts":"t","event":"shutdown","reason":"request","sessions":0}"#
        );
        let log = parse_log(text.as_bytes(), Path::new("x")).expect("reads");
        assert_eq!(log.skipped_lines, vec![2]);
        assert_eq!(log.records.len(), 1);
    }
}

#[cfg(test)]
mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_log(&bytes, Path::new("x"));
        }

        #[test]
        fn json_like_lines_never_panic(lines in proptest::collection::vec(r#"\{"seq":[0-9]{1,3},"ts":"t","event":"[a-z_]{1,12}"[^\n]{0,40}\}"#, 0..20)) {
            let text = lines.join("\n");
            let _ = parse_log(text.as_bytes(), Path::new("x"));
        }
    }
}
