//! Completion payload capture.
//!
//! An agent may print a JSON value between two lines that are exactly
//! [`BEGIN`] and [`END`]. [`PayloadCapture`] watches every stdout byte for
//! those frames. It sits on the output hot path, so on marker-free data it
//! must cost no more than a SIMD scan for `<<<`, and it must never buffer more
//! than one capped frame.

use memchr::memmem;
use serde_json::Value;

use crate::text;

/// The line that opens a completion frame.
pub const BEGIN: &str = "<<<BATON_COMPLETION_BEGIN>>>";
/// The line that closes a completion frame.
pub const END: &str = "<<<BATON_COMPLETION_END>>>";
/// Largest frame body, in bytes, that can yield a payload.
pub const MAX_FRAME: usize = 1 << 20;

/// The reference conductor's markers, also accepted.
pub(crate) const TFX_BEGIN: &str = "<<<TFX_COMPLETION_BEGIN>>>";
pub(crate) const TFX_END: &str = "<<<TFX_COMPLETION_END>>>";
/// Longest line (marker plus `\r`) that can still be a marker.
const MAX_MARKER_LINE: usize = 32;
/// Slack over [`MAX_FRAME`] so the start of an END line fits in the buffer.
const MARGIN: usize = 64;
/// Most `{` starts [`last_json_object`] will try, bounding its cost.
const MAX_JSON_ATTEMPTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Begin,
    End,
}

fn marker_of(line: &[u8]) -> Option<Marker> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line == BEGIN.as_bytes() || line == TFX_BEGIN.as_bytes() {
        Some(Marker::Begin)
    } else if line == END.as_bytes() || line == TFX_END.as_bytes() {
        Some(Marker::End)
    } else {
        None
    }
}

/// Could `bytes` (the start of a line, no `\n` yet) still become a marker line?
fn is_marker_prefix(bytes: &[u8]) -> bool {
    [BEGIN, END, TFX_BEGIN, TFX_END].iter().any(|m| {
        let m = m.as_bytes();
        let n = bytes.len().min(m.len());
        bytes.len() <= m.len() + 1
            && bytes[..n] == m[..n]
            && (bytes.len() <= m.len() || bytes[m.len()] == b'\r')
    })
}

/// A marker line found in the stream: absolute offsets of its first byte and
/// of the byte after its `\n`.
struct MarkerLine {
    kind: Marker,
    start: u64,
    end: u64,
}

/// Streaming capture of completion frames over all of a session's stdout.
///
/// Guarantees: feeding the same bytes in any chunking gives the same result;
/// memory stays below [`MAX_FRAME`] plus a few dozen bytes; a frame whose body
/// exceeds [`MAX_FRAME`] or does not parse as JSON never yields a payload.
#[derive(Debug, Clone)]
pub struct PayloadCapture {
    finder: memmem::Finder<'static>,
    /// Absolute offset of the next byte fed.
    pos: u64,
    /// The next byte fed starts a line.
    at_line_start: bool,
    /// The current, unfinished line, while it could still be a marker.
    partial: Vec<u8>,
    partial_active: bool,
    partial_start: u64,
    /// Inside a frame: absolute offset of the body's first byte.
    frame_start: Option<u64>,
    body: Vec<u8>,
    overflowed: bool,
    last_good: Option<Value>,
    saw_complete_frame: bool,
}

impl Default for PayloadCapture {
    fn default() -> Self {
        Self::new()
    }
}

impl PayloadCapture {
    /// A capture that has seen no bytes.
    pub fn new() -> Self {
        PayloadCapture {
            finder: memmem::Finder::new(b"<<<").into_owned(),
            pos: 0,
            at_line_start: true,
            partial: Vec::new(),
            partial_active: false,
            partial_start: 0,
            frame_start: None,
            body: Vec::new(),
            overflowed: false,
            last_good: None,
            saw_complete_frame: false,
        }
    }

    /// Consumes the next stdout bytes. Chunk boundaries may fall anywhere,
    /// including inside a marker. Costs one memchr-speed scan on data with no
    /// `<<<` in it.
    pub fn feed(&mut self, chunk: &[u8]) {
        if chunk.is_empty() {
            return;
        }
        let base = self.pos;
        let markers = self.scan(chunk);
        let mut cursor = 0usize;
        for m in markers {
            let end_idx = usize::try_from(m.end - base)
                .unwrap_or(chunk.len())
                .min(chunk.len());
            if self.frame_start.is_some() {
                self.append(&chunk[cursor..end_idx]);
            }
            match (self.frame_start, m.kind) {
                (Some(start), Marker::End) => {
                    self.close_frame(start, m.start);
                }
                (_, Marker::Begin) => {
                    self.frame_start = Some(m.end);
                    self.body.clear();
                    self.overflowed = false;
                }
                (None, Marker::End) => {}
            }
            cursor = end_idx;
        }
        if self.frame_start.is_some() {
            self.append(&chunk[cursor..]);
        }
        self.pos += chunk.len() as u64;
    }

    /// The payload: the value of the last complete, well-formed frame; when no
    /// frame was ever completed, the last complete JSON object in the
    /// normalised `stdout_tail` (see [`last_json_object`]).
    pub fn finish(&self, stdout_tail: &[u8]) -> Option<Value> {
        if let Some(v) = &self.last_good {
            return Some(v.clone());
        }
        if self.saw_complete_frame {
            return None;
        }
        last_json_object(&text::normalize(stdout_tail))
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.overflowed || bytes.is_empty() {
            return;
        }
        if self.body.len() + bytes.len() > MAX_FRAME + MARGIN {
            self.overflowed = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(bytes);
    }

    fn close_frame(&mut self, body_start: u64, end_line_start: u64) {
        self.frame_start = None;
        self.saw_complete_frame = true;
        let body = std::mem::take(&mut self.body);
        if self.overflowed {
            self.overflowed = false;
            return;
        }
        let Ok(len) = usize::try_from(end_line_start.saturating_sub(body_start)) else {
            return;
        };
        if len > MAX_FRAME || len > body.len() {
            return;
        }
        let body = &body[..len];
        let value = serde_json::from_slice::<Value>(body)
            .ok()
            .or_else(|| serde_json::from_str::<Value>(&text::normalize(body)).ok());
        if let Some(v) = value {
            self.last_good = Some(v);
        }
    }

    /// Finds the marker lines that complete within `chunk`, and updates the
    /// line-tracking state for the next chunk.
    fn scan(&mut self, chunk: &[u8]) -> Vec<MarkerLine> {
        let base = self.pos;
        let mut found = Vec::new();
        let mut i = 0usize;
        let mut start_is_line_start = self.at_line_start;

        if self.partial_active {
            let room = MAX_MARKER_LINE + 1 - self.partial.len();
            let window = &chunk[..chunk.len().min(room)];
            match memchr::memchr(b'\n', window) {
                Some(j) => {
                    self.partial.extend_from_slice(&chunk[..j]);
                    if let Some(kind) = marker_of(&self.partial) {
                        found.push(MarkerLine {
                            kind,
                            start: self.partial_start,
                            end: base + j as u64 + 1,
                        });
                    }
                    self.partial.clear();
                    self.partial_active = false;
                    i = j + 1;
                    start_is_line_start = true;
                }
                None if chunk.len() < room => {
                    self.partial.extend_from_slice(chunk);
                    self.partial_active = is_marker_prefix(&self.partial);
                    if !self.partial_active {
                        self.partial.clear();
                    }
                    self.at_line_start = false;
                    return found;
                }
                None => {
                    self.partial.clear();
                    self.partial_active = false;
                    start_is_line_start = false;
                }
            }
        }

        let rest = &chunk[i..];
        for off in self.finder.find_iter(rest) {
            let h = i + off;
            let line_start = if h == i {
                start_is_line_start
            } else {
                chunk[h - 1] == b'\n'
            };
            if !line_start {
                continue;
            }
            let window_end = chunk.len().min(h + MAX_MARKER_LINE + 1);
            let Some(nl) = memchr::memchr(b'\n', &chunk[h..window_end]) else {
                continue;
            };
            if let Some(kind) = marker_of(&chunk[h..h + nl]) {
                found.push(MarkerLine {
                    kind,
                    start: base + h as u64,
                    end: base + (h + nl) as u64 + 1,
                });
            }
        }

        // Track the unfinished last line, in case it is a marker split
        // across chunks.
        let last = chunk[chunk.len() - 1];
        self.at_line_start = last == b'\n';
        if !self.at_line_start {
            let win_start = chunk.len().saturating_sub(MAX_MARKER_LINE + 1).max(i);
            let tail_start = match memchr::memrchr(b'\n', &chunk[win_start..]) {
                Some(k) => Some(win_start + k + 1),
                None if start_is_line_start && chunk.len() - i <= MAX_MARKER_LINE + 1 => Some(i),
                None => None,
            };
            if let Some(t) = tail_start
                && is_marker_prefix(&chunk[t..])
            {
                self.partial.clear();
                self.partial.extend_from_slice(&chunk[t..]);
                self.partial_active = true;
                self.partial_start = base + t as u64;
            }
        }
        found
    }
}

/// The last complete top-level JSON object in `text` that parses, searching
/// from the end: an object nested inside a later-ending enclosing object is
/// never returned in place of the enclosing one. `None` when there is none.
/// Never panics; work is bounded by trying at most a few thousand `{` starts.
pub fn last_json_object(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let mut best: Option<(usize, usize, Value)> = None;
    let mut attempts = 0usize;
    let mut search_end = bytes.len();
    while let Some(s) = memchr::memrchr(b'{', &bytes[..search_end]) {
        search_end = s;
        attempts += 1;
        if attempts > MAX_JSON_ATTEMPTS {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(&text[s..]).into_iter::<Value>();
        let Some(Ok(value @ Value::Object(_))) = stream.next() else {
            continue;
        };
        let e = s + stream.byte_offset();
        match &best {
            // A later object already found; this one only wins if it encloses it.
            Some((_, best_end, _)) if e < *best_end => {}
            _ => best = Some((s, e, value)),
        }
    }
    best.map(|(_, _, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(chunks: &[&[u8]], tail: &[u8]) -> Option<Value> {
        let mut c = PayloadCapture::new();
        for ch in chunks {
            c.feed(ch);
        }
        c.finish(tail)
    }

    fn every_split(input: &[u8]) -> Vec<Option<Value>> {
        (0..=input.len())
            .map(|k| run(&[&input[..k], &input[k..]], b""))
            .collect()
    }

    #[test]
    fn frames_table() {
        let cases: &[(&str, Option<Value>)] = &[
            (
                "hello\n<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":true}\n<<<BATON_COMPLETION_END>>>\nbye\n",
                Some(json!({"ok": true})),
            ),
            (
                "<<<BATON_COMPLETION_BEGIN>>>\r\n{\"a\":1}\r\n<<<BATON_COMPLETION_END>>>\r\n",
                Some(json!({"a": 1})),
            ),
            (
                "<<<TFX_COMPLETION_BEGIN>>>\n{\"tfx\":1}\n<<<TFX_COMPLETION_END>>>\n",
                Some(json!({"tfx": 1})),
            ),
            (
                "<<<BATON_COMPLETION_BEGIN>>>\n{\"n\":1}\n<<<BATON_COMPLETION_END>>>\n\
                 <<<BATON_COMPLETION_BEGIN>>>\n{\"n\":2}\n<<<BATON_COMPLETION_END>>>\n",
                Some(json!({"n": 2})),
            ),
            // A bad later frame does not erase the earlier good one.
            (
                "<<<BATON_COMPLETION_BEGIN>>>\n{\"n\":1}\n<<<BATON_COMPLETION_END>>>\n\
                 <<<BATON_COMPLETION_BEGIN>>>\nnot json\n<<<BATON_COMPLETION_END>>>\n",
                Some(json!({"n": 1})),
            ),
            // The last line has no newline yet: the frame is not complete.
            (
                "<<<BATON_COMPLETION_BEGIN>>>\n{\"n\":1}\n<<<BATON_COMPLETION_END>>>",
                None,
            ),
            // Markers must be whole lines.
            (
                "say <<<BATON_COMPLETION_BEGIN>>>\n{\"n\":1}\n<<<BATON_COMPLETION_END>>>\n",
                None,
            ),
            (
                "<<<BATON_COMPLETION_BEGIN>>> \n{\"n\":1}\n<<<BATON_COMPLETION_END>>>\n",
                None,
            ),
            // An unclosed frame yields nothing; no fallback from an empty tail.
            ("<<<BATON_COMPLETION_BEGIN>>>\n{\"n\":1}\n", None),
            // A restarted frame: the inner BEGIN wins.
            (
                "<<<BATON_COMPLETION_BEGIN>>>\ngarbage\n<<<BATON_COMPLETION_BEGIN>>>\n[1,2]\n<<<BATON_COMPLETION_END>>>\n",
                Some(json!([1, 2])),
            ),
            ("<<<<<<\n<<<\n<<<BATON\n", None),
        ];
        for (input, want) in cases {
            for (k, got) in every_split(input.as_bytes()).into_iter().enumerate() {
                assert_eq!(&got, want, "input {input:?} split at {k}");
            }
            let bytewise: Vec<&[u8]> = input.as_bytes().chunks(1).collect();
            assert_eq!(&run(&bytewise, b""), want, "bytewise {input:?}");
        }
    }

    #[test]
    fn fallback_to_tail_json() {
        let tail = b"log line\n{\"result\": {\"ok\": true}, \"n\": 2}\ntrailing words\n";
        assert_eq!(
            run(&[b"no frames here\n"], tail),
            Some(json!({"result": {"ok": true}, "n": 2}))
        );
        // A completed (even bad) frame disables the fallback.
        let bad = b"<<<BATON_COMPLETION_BEGIN>>>\nnope\n<<<BATON_COMPLETION_END>>>\n";
        assert_eq!(run(&[bad], tail), None);
    }

    #[test]
    fn oversized_frame_yields_nothing() {
        let mut c = PayloadCapture::new();
        c.feed(b"<<<BATON_COMPLETION_BEGIN>>>\n{\"s\":\"");
        let filler = vec![b'x'; 64 * 1024];
        for _ in 0..17 {
            c.feed(&filler);
            assert!(c.body.len() <= MAX_FRAME + MARGIN);
        }
        c.feed(b"\"}\n<<<BATON_COMPLETION_END>>>\n");
        assert_eq!(c.finish(b"{\"fallback\":1}"), None);
        // Just under the cap still works.
        let mut c = PayloadCapture::new();
        c.feed(b"<<<BATON_COMPLETION_BEGIN>>>\n\"");
        c.feed(&vec![b'y'; MAX_FRAME - 3]);
        c.feed(b"\"\n<<<BATON_COMPLETION_END>>>\n");
        assert!(c.finish(b"").is_some());
    }

    #[test]
    fn last_json_object_table() {
        let cases: &[(&str, Option<Value>)] = &[
            ("", None),
            ("no json", None),
            ("{\"a\":1}", Some(json!({"a": 1}))),
            ("{\"a\":1} then {\"b\":2} end", Some(json!({"b": 2}))),
            ("x {\"a\":{\"b\":1}} y", Some(json!({"a": {"b": 1}}))),
            (
                "{\"x\":{\"a\":1},\"y\":{\"b\":2}}",
                Some(json!({"x": {"a": 1}, "y": {"b": 2}})),
            ),
            ("{\"a\":1} {\"broken\": ", Some(json!({"a": 1}))),
            (
                "{\"s\":\"has } and { inside\"}",
                Some(json!({"s": "has } and { inside"})),
            ),
            ("[1,2,3]", None),
            ("{{{{", None),
        ];
        for (input, want) in cases {
            assert_eq!(&last_json_object(input), want, "{input:?}");
        }
    }
}
