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
    let files = files_since(path, since)?;
    let mut out = LogContents {
        deleted_before: files.deleted_before,
        ..LogContents::default()
    };
    for (bytes, file) in files {
        let part = parse_log(&bytes?, &file)?;
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

/// One record of a log as its line was written: its `seq` and `session`
/// read, the rest left as it is.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub seq: u64,
    pub session: Option<&'a str>,
    /// The line, without its newline.
    pub line: &'a [u8],
}

/// The log at `path` as [`read_log_since`] reads it, handing each record
/// over as its line was written, without decoding it whole: what forwards
/// records as they are (`events` through the daemon) pays only for finding
/// the two fields it needs. A line is a record when it is a JSON object
/// with a `seq` and an `event` of a kind this baton knows; torn, garbage and
/// newer-kind lines are passed over as [`read_log`] passes them over — but
/// a line in the writer's own form is taken as written past its key
/// (see `written_key`), where `read_log` would parse it whole.
pub struct RawLog {
    files: Files,
}

impl RawLog {
    /// Lists the files that hold records after `since`; nothing is read yet.
    pub fn open(path: &Path, since: u64) -> Result<RawLog, LogError> {
        Ok(RawLog {
            files: files_since(path, since)?,
        })
    }

    /// Where retention's deletions end ([`LogContents::deleted_before`]).
    pub fn deleted_before(&self) -> Option<u64> {
        self.files.deleted_before
    }

    /// Reads the records in order, handing each to `each`, which may stop
    /// the reading with `Break`.
    pub fn for_each(
        self,
        mut each: impl FnMut(RawRecord<'_>) -> std::ops::ControlFlow<()>,
    ) -> Result<(), LogError> {
        #[derive(serde::Deserialize)]
        struct Key<'a> {
            seq: u64,
            #[serde(default, borrow)]
            session: Option<std::borrow::Cow<'a, str>>,
            #[serde(borrow)]
            event: std::borrow::Cow<'a, str>,
        }
        for (bytes, file) in self.files {
            let bytes = bytes?;
            for (number, line) in lines(&bytes) {
                if number == 1 && header_of(line, &file)?.is_some() {
                    continue;
                }
                let parsed;
                let (seq, session, event) = match written_key(line) {
                    Some(key) => key,
                    None => {
                        let Ok(key) = serde_json::from_slice::<Key>(line) else {
                            continue;
                        };
                        parsed = key;
                        (parsed.seq, parsed.session.as_deref(), parsed.event.as_ref())
                    }
                };
                if !super::Event::NAMES.contains(&event) {
                    continue;
                }
                let record = RawRecord { seq, session, line };
                if each(record).is_break() {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The `seq`, `session` and `event` of a line in the form the writer
/// writes (`{"seq":N,"ts":"…","session":"…","event":"…",…}`), read without
/// a JSON parser; `None` for a line in any other form (hand-made, or with
/// an escape where the writer writes none), which is then parsed. The rest
/// of such a line is taken as the writer wrote it: the log is baton's own,
/// private to its user, and a line damaged past its key would reach a
/// client whose decoding names it, rather than be passed over.
fn written_key(line: &[u8]) -> Option<(u64, Option<&str>, &str)> {
    /// The text up to the next quote, with none of JSON's escapes in it.
    fn plain_string(rest: &[u8]) -> Option<(&str, &[u8])> {
        let end = memchr::memchr(b'"', rest)?;
        let text = std::str::from_utf8(&rest[..end]).ok()?;
        (!text.contains('\\')).then_some((text, &rest[end + 1..]))
    }
    if line.last() != Some(&b'}') {
        return None;
    }
    let rest = line.strip_prefix(br#"{"seq":"#)?;
    let digits = rest.iter().position(|b| !b.is_ascii_digit())?;
    let seq = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let (_ts, rest) = plain_string(rest[digits..].strip_prefix(br#","ts":""#)?)?;
    let (session, rest) = match rest.strip_prefix(br#","session":""#) {
        Some(rest) => {
            let (id, rest) = plain_string(rest)?;
            (Some(id), rest)
        }
        None => (None, rest),
    };
    let (event, _) = plain_string(rest.strip_prefix(br#","event":""#)?)?;
    Some((seq, session, event))
}

/// The files of a log that hold records after `since`, oldest first, each
/// read whole when its turn comes (one segment in memory at a time).
struct Files {
    paths: std::vec::IntoIter<std::path::PathBuf>,
    /// Where retention's deletions end, when it deleted anything.
    deleted_before: Option<u64>,
}

fn files_since(path: &Path, since: u64) -> Result<Files, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let plain = matches!(
        crate::seglog::head(path).map_err(io)?,
        crate::seglog::Head::Plain
    );
    let segments = if plain {
        Vec::new()
    } else {
        crate::seglog::segments(path).map_err(io)?
    };
    if segments.is_empty() {
        // A plain log, or none at all: the error a plain read gives.
        std::fs::metadata(path).map_err(io)?;
        return Ok(Files {
            paths: vec![path.to_owned()].into_iter(),
            deleted_before: None,
        });
    }
    let deleted_before = segments.first().map(|s| s.start).filter(|first| *first > 1);
    let wanted: Vec<_> = segments
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            segments
                .get(i + 1)
                .is_none_or(|next| next.start > since + 1)
        })
        .map(|(_, s)| s.path.clone())
        .collect();
    Ok(Files {
        paths: wanted.into_iter(),
        deleted_before,
    })
}

impl Iterator for Files {
    /// A file's bytes (empty when retention deleted it since it was
    /// listed), and its path.
    type Item = (Result<Vec<u8>, LogError>, std::path::PathBuf);

    fn next(&mut self) -> Option<Self::Item> {
        let path = self.paths.next()?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(LogError::Io {
                path: path.clone(),
                source,
            }),
        };
        Some((bytes, path))
    }
}

/// The complete lines of `bytes` with their 1-based numbers; a last line
/// without its newline (a torn write) is not one.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let complete = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    let mut start = 0;
    memchr::memchr_iter(b'\n', &bytes[..complete])
        .enumerate()
        .map(move |(i, end)| {
            let line = &bytes[start..end];
            start = end + 1;
            (i + 1, line)
        })
        .filter(|(_, line)| !line.is_empty())
}

/// `line` as the log's header, when it is one; a header of a newer major
/// version is refused.
fn header_of(line: &[u8], path: &Path) -> Result<Option<Header>, LogError> {
    let Ok(header) = serde_json::from_slice::<Header>(line) else {
        return Ok(None);
    };
    if header.format != FORMAT_NAME {
        return Ok(None);
    }
    if let Some((major, _)) = header.version_parts()
        && major > FORMAT_MAJOR
    {
        return Err(LogError::NewerMajor {
            path: path.to_owned(),
            found: header.version,
        });
    }
    Ok(Some(header))
}

/// Parses log bytes; `path` only names the file in errors. Never panics.
pub fn parse_log(bytes: &[u8], path: &Path) -> Result<LogContents, LogError> {
    let mut out = LogContents {
        torn_tail: bytes.last().is_some_and(|&b| b != b'\n'),
        ..LogContents::default()
    };
    for (number, line) in lines(bytes) {
        if number == 1
            && let Some(header) = header_of(line, path)?
        {
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

    /// The raw reader hands over exactly the records the whole reader
    /// decodes, each as its line was written, and stops when told.
    #[test]
    fn raw_records_are_the_records_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let lines = [
            r#"{"seq":1,"ts":"t","event":"shutdown","reason":"request","sessions":0}"#,
            "not json",
            r#"{"seq":2,"ts":"t","session":"w1","event":"exit","code":3,"signal":null,"runtime_ms":5}"#,
            r#"{"seq":3,"ts":"t","event":"teleported","where":"mars"}"#,
            r#"{"seq":4,"ts":"t","session":"w\u0032","event":"exit","code":0,"signal":null,"runtime_ms":5}"#,
            r#"{"ts":"t","seq":5,"event":"shutdown","reason":"request","sessions":0}"#,
        ];
        let text = format!("{HEADER}\n{}\n{}", lines.join("\n"), r#"{"seq":6,"ts"#);
        std::fs::write(&path, &text).unwrap();
        let whole = read_log(&path).unwrap();
        // Lines in the writer's form are read without a parser; the others
        // (an escape in the id, fields in another order) are parsed.
        assert_eq!(
            written_key(lines[2].as_bytes()),
            Some((2, Some("w1"), "exit"))
        );
        assert_eq!(
            written_key(lines[0].as_bytes()),
            Some((1, None, "shutdown"))
        );
        assert_eq!(written_key(lines[4].as_bytes()), None);
        assert_eq!(written_key(lines[5].as_bytes()), None);
        // The writer's lines (`serde_json::to_string` of a record) are in
        // that form, with a session and without.
        for session in [Some("w-1.a_b".to_owned()), None] {
            let record = Record {
                seq: 42,
                ts: "2026-12-07T18:00:00.000001Z".into(),
                session: session.clone(),
                event: super::super::Event::Shutdown {
                    reason: "request".into(),
                    sessions: 2,
                },
            };
            let line = serde_json::to_string(&record).unwrap();
            let key = written_key(line.as_bytes());
            assert_eq!(key, Some((42, session.as_deref(), "shutdown")), "{line}");
        }
        let mut raw = Vec::new();
        let log = RawLog::open(&path, 0).unwrap();
        assert_eq!(log.deleted_before(), None);
        log.for_each(|r| {
            raw.push((r.seq, r.session.map(str::to_owned), r.line.to_vec()));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        let seqs: Vec<u64> = whole.records.iter().map(|r| r.seq).collect();
        assert_eq!(raw.iter().map(|r| r.0).collect::<Vec<_>>(), seqs);
        assert_eq!(seqs, [1, 2, 4, 5]);
        assert_eq!(raw[1].1.as_deref(), Some("w1"));
        assert_eq!(raw[2].1.as_deref(), Some("w2"), "escapes are read");
        assert_eq!(raw[1].2, lines[2].as_bytes());
        // Told to stop: nothing more.
        let mut n = 0;
        let log = RawLog::open(&path, 0).unwrap();
        log.for_each(|_| {
            n += 1;
            std::ops::ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(n, 1);
        // A newer major version is refused, as by the whole reader.
        std::fs::write(&path, format!("{}\n", HEADER.replace("1.0", "2.0"))).unwrap();
        let log = RawLog::open(&path, 0).unwrap();
        let refused = log.for_each(|_| std::ops::ControlFlow::Continue(()));
        assert!(matches!(refused, Err(LogError::NewerMajor { .. })));
        // No log at all: the error a plain read gives.
        let none = RawLog::open(&dir.path().join("nope"), 0);
        assert!(matches!(none, Err(LogError::Io { .. })));
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

        /// The key read without a parser is the key a parser reads, for
        /// lines in the writer's form and lines close to it.
        #[test]
        fn a_written_key_is_the_parsed_key(
            seq in 0u64..u64::MAX,
            ts in r#"[0-9TZ:.\-"\\]{0,8}"#,
            session in proptest::option::of(r#"[a-z0-9"\\é]{0,6}"#),
            event in "[a-z_]{1,12}",
            tail in r#"(,"x":[1-9][0-9]{0,2})?\}?"#,
        ) {
            let session_field = session
                .as_ref()
                .map(|s| format!(r#","session":"{s}""#))
                .unwrap_or_default();
            let line = format!(r#"{{"seq":{seq},"ts":"{ts}"{session_field},"event":"{event}"{tail}"#);
            if let Some((s, id, e)) = written_key(line.as_bytes()) {
                let value: serde_json::Value = serde_json::from_str(&line)
                    .map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
                prop_assert_eq!(value["seq"].as_u64(), Some(s));
                prop_assert_eq!(value.get("session").and_then(|v| v.as_str()), id);
                prop_assert_eq!(value["event"].as_str(), Some(e));
            }
        }
    }
}
