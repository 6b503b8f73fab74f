//! The deterministic flood pattern written by `flood:` and `eflood:`.
//!
//! The pattern must never look like anything a monitor reacts to (a prompt, a
//! rate-limit notice, a completion marker), so it is made of consonants and
//! spaces only: no vowels means no English words, no digits means no "429".

use std::io::{self, Write};
use std::sync::OnceLock;

/// Length in bytes of [`flood_block`]: exactly 1 MiB.
pub const FLOOD_BLOCK_LEN: usize = 1 << 20;

/// Longest line in the pattern, counting its `'\n'`.
pub const FLOOD_MAX_LINE: usize = 100;

const ALPHABET: &[u8; 16] = b"bcdfghjkmnpqvwxz";

/// The 1 MiB block the flood repeats.
///
/// Guarantees: the same bytes on every call and in every process; exactly
/// [`FLOOD_BLOCK_LEN`] bytes; lines of at most [`FLOOD_MAX_LINE`] bytes, each
/// ending in `'\n'` (so the block also ends in `'\n'`); only the bytes
/// `bcdfghjkmnpqvwxz`, space and newline.
pub fn flood_block() -> &'static [u8] {
    static BLOCK: OnceLock<Box<[u8]>> = OnceLock::new();
    BLOCK.get_or_init(build_block)
}

/// The first `size` bytes of the flood: [`flood_block`] repeated, cut at `size`.
///
/// Yields whole blocks and then one shorter tail, so a writer can pass each
/// item straight to `write_all`.
pub fn flood_bytes(size: u64) -> impl Iterator<Item = &'static [u8]> {
    let block = flood_block();
    let mut remaining = size;
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        let take = usize::try_from(remaining).map_or(block.len(), |r| r.min(block.len()));
        remaining -= take as u64;
        Some(&block[..take])
    })
}

/// Writes exactly the bytes of [`flood_bytes`]`(size)` to `w`, 1 MiB per write.
pub fn write_flood<W: Write + ?Sized>(w: &mut W, size: u64) -> io::Result<()> {
    for chunk in flood_bytes(size) {
        w.write_all(chunk)?;
    }
    Ok(())
}

/// Writes claude's `stream-json` shape to `w`: one assistant message line
/// per line of the flood pattern (which needs no JSON escaping) until at
/// least `size` bytes are written, then a `result` line with usage and a
/// cost. Returns the bytes written.
pub fn write_json_flood<W: Write + ?Sized>(w: &mut W, size: u64) -> io::Result<u64> {
    const HEAD: &[u8] =
        br#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":""#;
    const TAIL: &[u8] = b"\"}]}}\n";
    let mut written = 0u64;
    let mut out = Vec::with_capacity(FLOOD_BLOCK_LEN + (FLOOD_BLOCK_LEN / 16) * 96);
    'blocks: loop {
        for line in flood_block().split_inclusive(|b| *b == b'\n') {
            if written >= size {
                break 'blocks;
            }
            out.extend_from_slice(HEAD);
            out.extend_from_slice(&line[..line.len() - 1]);
            out.extend_from_slice(TAIL);
            written += (HEAD.len() + line.len() - 1 + TAIL.len()) as u64;
            if out.len() >= FLOOD_BLOCK_LEN {
                w.write_all(&out)?;
                out.clear();
            }
        }
    }
    let result = br#"{"type":"result","subtype":"success","is_error":false,"result":"flooded","total_cost_usd":0.01,"usage":{"input_tokens":10,"output_tokens":20}}
"#;
    out.extend_from_slice(result);
    w.write_all(&out)?;
    Ok(written + result.len() as u64)
}

/// xorshift64*: tiny, and fixed forever so the pattern never changes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        // n is tiny; the modulo bias is irrelevant for filler text.
        (self.next() % n) as usize
    }
}

fn build_block() -> Box<[u8]> {
    let mut rng = Rng(0x5eed_ba70_f100_d000);
    let mut block = Vec::with_capacity(FLOOD_BLOCK_LEN);
    while block.len() < FLOOD_BLOCK_LEN {
        let remaining = FLOOD_BLOCK_LEN - block.len();
        let line_len = if remaining <= FLOOD_MAX_LINE {
            remaining
        } else {
            let wanted = 16 + rng.below((FLOOD_MAX_LINE - 16 + 1) as u64);
            // Leave a tail of at least 16 bytes so the last line is not a stub.
            wanted.min(remaining - 16)
        };
        push_line(&mut block, line_len, &mut rng);
    }
    block.into_boxed_slice()
}

/// Appends `len` bytes: filler words and a final `'\n'`.
fn push_line(block: &mut Vec<u8>, len: usize, rng: &mut Rng) {
    let text_len = len - 1;
    let mut prev_space = true;
    for i in 0..text_len {
        let last = i + 1 == text_len;
        let space = !prev_space && !last && rng.below(6) == 0;
        if space {
            block.push(b' ');
        } else {
            block.push(ALPHABET[rng.below(ALPHABET.len() as u64)]);
        }
        prev_space = space;
    }
    block.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_stable_and_exactly_one_mib() {
        let a = flood_block();
        assert_eq!(a.len(), FLOOD_BLOCK_LEN);
        assert_eq!(
            build_block().as_ref(),
            a,
            "regenerating must give the same bytes"
        );
        assert!(std::ptr::eq(a, flood_block()), "the block is built once");
    }

    #[test]
    fn block_lines_are_short_and_harmless() {
        let block = flood_block();
        assert_eq!(block.last(), Some(&b'\n'));
        for line in block.split_inclusive(|&b| b == b'\n') {
            assert!(
                line.len() <= FLOOD_MAX_LINE,
                "line too long: {}",
                line.len()
            );
            assert!(line.len() >= 2, "empty line in pattern");
        }
        assert!(
            block
                .iter()
                .all(|b| ALPHABET.contains(b) || *b == b' ' || *b == b'\n')
        );
        let text = std::str::from_utf8(block).expect("ascii");
        for word in ["rate limit", "quota", "429", "{", "<", "?", "error"] {
            assert!(!text.contains(word), "pattern contains {word:?}");
        }
    }

    #[test]
    fn flood_bytes_has_exact_size_and_repeats_the_block() {
        let block = flood_block();
        for size in [
            0u64,
            1,
            99,
            FLOOD_BLOCK_LEN as u64 - 1,
            FLOOD_BLOCK_LEN as u64,
            FLOOD_BLOCK_LEN as u64 + 1,
            3 * FLOOD_BLOCK_LEN as u64 + 12_345,
        ] {
            let mut out = Vec::new();
            write_flood(&mut out, size).expect("vec write");
            assert_eq!(out.len() as u64, size);
            for (i, chunk) in out.chunks(FLOOD_BLOCK_LEN).enumerate() {
                assert_eq!(chunk, &block[..chunk.len()], "size {size}, block {i}");
            }
            let joined: Vec<u8> = flood_bytes(size).flatten().copied().collect();
            assert_eq!(joined, out);
        }
    }
}

#[cfg(test)]
mod json_tests {
    use super::*;

    #[test]
    fn a_json_flood_is_json_lines_of_at_least_its_size() {
        let mut out = Vec::new();
        let written = write_json_flood(&mut out, 300_000).unwrap();
        assert_eq!(written, out.len() as u64);
        assert!(out.len() >= 300_000);
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            let value: serde_json::Value = serde_json::from_str(line).expect(line);
            assert!(value["type"] == "assistant" || value["type"] == "result");
        }
        assert!(text.lines().last().unwrap().contains("\"result\""));
    }
}
