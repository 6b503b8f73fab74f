//! A bounded ring of the most recent output bytes.
//!
//! The supervisor keeps one per session (default 2 KiB, stdout and
//! stderr combined) so the detectors can look at "what the agent printed last"
//! without ever holding more than `capacity` bytes.

use std::collections::VecDeque;

use crate::{payload, text};

/// Longest line, in chars, that [`Tail::last_line`] returns.
const MAX_LAST_LINE: usize = 200;

/// The last `capacity` bytes pushed into it, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    buf: VecDeque<u8>,
    capacity: usize,
}

impl Tail {
    /// An empty tail that will never hold more than `capacity` bytes
    /// (a capacity of 0 keeps nothing).
    pub fn new(capacity: usize) -> Tail {
        // No reservation up front: a tail that never fills costs what it holds.
        Tail {
            buf: VecDeque::new(),
            capacity,
        }
    }

    /// Appends `bytes`, dropping the oldest bytes so that at most `capacity`
    /// remain. Runs in O(`bytes.len()`) and never allocates past `capacity`.
    pub fn push(&mut self, bytes: &[u8]) {
        if bytes.len() >= self.capacity {
            self.buf.clear();
            self.buf.extend(&bytes[bytes.len() - self.capacity..]);
            return;
        }
        let excess = (self.buf.len() + bytes.len()).saturating_sub(self.capacity);
        if excess > 0 {
            self.buf.drain(..excess);
        }
        self.buf.extend(bytes);
    }

    /// The retained bytes, oldest to newest.
    pub fn to_vec(&self) -> Vec<u8> {
        let (a, b) = self.buf.as_slices();
        let mut v = Vec::with_capacity(a.len() + b.len());
        v.extend_from_slice(a);
        v.extend_from_slice(b);
        v
    }

    /// Number of bytes retained (never more than the capacity).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is retained.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets every retained byte; the capacity is unchanged.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The last line a person would call output: the last non-empty line
    /// as a terminal would show it (see [`text::normalize`]), not inside a
    /// completion frame (its markers and payload are for baton), trimmed and
    /// cut to at most 200 chars; `None` when there is no such text.
    pub fn last_line(&self) -> Option<String> {
        let text = text::normalize(&self.to_vec());
        let mut in_frame = false;
        for line in text.lines().rev().map(str::trim) {
            match line {
                payload::END | payload::TFX_END => in_frame = true,
                payload::BEGIN | payload::TFX_BEGIN => in_frame = false,
                "" => {}
                _ if in_frame => {}
                line => return Some(line.chars().take(MAX_LAST_LINE).collect()),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Capacity, pushes, expected contents.
    type Case<'a> = (usize, &'a [&'a [u8]], &'a [u8]);

    #[test]
    fn keeps_only_the_newest_bytes() {
        let cases: &[Case] = &[
            (4, &[b"ab", b"cd"], b"abcd"),
            (4, &[b"ab", b"cde"], b"bcde"),
            (4, &[b"abcdefgh"], b"efgh"),
            (4, &[b"abcdefgh", b"", b"i"], b"fghi"),
            (0, &[b"abc"], b""),
            (3, &[b"a", b"b", b"c", b"d", b"e"], b"cde"),
        ];
        for (cap, pushes, want) in cases {
            let mut t = Tail::new(*cap);
            for p in *pushes {
                t.push(p);
                assert!(t.len() <= *cap);
            }
            assert_eq!(t.to_vec(), *want, "cap {cap} pushes {pushes:?}");
            assert_eq!(t.is_empty(), want.is_empty());
        }
    }

    #[test]
    fn clear_empties() {
        let mut t = Tail::new(8);
        t.push(b"hello");
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.last_line(), None);
    }

    #[test]
    fn last_line_is_normalized() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"one\ntwo\n\n  \n", Some("two")),
            (b"\x1b[32mgreen\x1b[0m\n", Some("green")),
            (b"50%\r100%", Some("100%")),
            (b"\n\n", None),
            (b"", None),
            // A completion frame is baton's, not output a person reads.
            (
                b"all tests pass\n<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":true}\n<<<BATON_COMPLETION_END>>>\n",
                Some("all tests pass"),
            ),
            (
                b"done\r\n<<<TFX_COMPLETION_BEGIN>>>\r\n{}\r\n<<<TFX_COMPLETION_END>>>\r\nbye\n",
                Some("bye"),
            ),
            (
                b"<<<BATON_COMPLETION_BEGIN>>>\n{}\n<<<BATON_COMPLETION_END>>>\n",
                None,
            ),
        ];
        for (input, want) in cases {
            let mut t = Tail::new(256);
            t.push(input);
            assert_eq!(t.last_line().as_deref(), *want, "{input:?}");
        }
        let mut t = Tail::new(1000);
        t.push(&[b'x'; 500]);
        assert_eq!(t.last_line().map(|l| l.chars().count()), Some(200));
    }
}
