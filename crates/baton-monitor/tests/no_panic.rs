//! Property tests: no detector panics on arbitrary input, and payload
//! capture does not depend on chunk boundaries.

use baton_monitor::input_wait::InputWaitDetector;
use baton_monitor::payload::{PayloadCapture, last_json_object};
use baton_monitor::{rate_limit, text};
use proptest::prelude::*;

fn now() -> jiff::Zoned {
    "2026-11-21T12:00:00+02:00[+02:00]"
        .parse()
        .expect("valid zoned")
}

/// Bytes biased towards what the detectors care about.
fn interesting_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"\x1b[".to_vec()),
        Just(b"\x1b]0;t\x07".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\x08".to_vec()),
        Just(b"\x1b[2K\x1b[1A".to_vec()),
        Just(b"<<<BATON_COMPLETION_BEGIN>>>\n".to_vec()),
        Just(b"<<<BATON_COMPLETION_END>>>\r\n".to_vec()),
        Just(b"<<<TFX_COMPLETION_END>>>\n".to_vec()),
        Just(b"{\"a\":[1,{\"b\":2}]}".to_vec()),
        Just(b"? (y/n) ".to_vec()),
        Just("❯ 1. Yes\n  2. No\n".as_bytes().to_vec()),
        // Shading: inverse video, a background colour, wide characters.
        Just(b"\x1b[7m".to_vec()),
        Just(b"\x1b[44m".to_vec()),
        Just(b"\x1b[0m".to_vec()),
        Just("\r\n漢字 item\r\n".as_bytes().to_vec()),
        Just(b"try again in 2h 13m resets at 14:05 PM 429 quota".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\xe2\x9d".to_vec()),
        Just(b"\x1b(0".to_vec()),
        Just(b"\x1b(B".to_vec()),
        Just(b"\x1b)0\x0e".to_vec()),
        Just(b"\x0f".to_vec()),
        Just(b"lqqk x mj".to_vec()),
    ];
    prop::collection::vec(atoms, 0..64).prop_map(|v| v.concat())
}

fn feed_all(chunks: &[&[u8]]) -> Option<serde_json::Value> {
    let mut c = PayloadCapture::new();
    for ch in chunks {
        c.feed(ch);
    }
    c.finish(b"")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn normalize_never_panics(bytes in interesting_bytes(), raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = text::normalize(&bytes);
        let _ = text::normalize(&raw);
    }

    #[test]
    fn input_wait_never_panics(bytes in interesting_bytes(), raw in prop::collection::vec(any::<u8>(), 0..512)) {
        let det = InputWaitDetector::builtin();
        let _ = det.detect(&bytes);
        let _ = det.detect(&raw);
    }

    #[test]
    fn judging_with_a_terminal_never_panics(bytes in interesting_bytes(), echo: bool, canonical: bool, reads in 0..4u8) {
        use baton_monitor::input_wait::terminal::{Reads, Terminal};
        let reads = [Reads::Terminal, Reads::Polls, Reads::Elsewhere, Reads::Unknown][usize::from(reads)];
        let terminal = Terminal { echo, canonical, reads };
        let _ = InputWaitDetector::builtin().judge(&bytes, Some(&terminal));
    }

    #[test]
    fn the_screen_does_not_depend_on_chunk_boundaries(bytes in interesting_bytes(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        use baton_monitor::screen::Screen;
        let mut whole = Screen::new(12, 40);
        whole.push(&bytes);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.sort_unstable();
        let mut chunked = Screen::new(12, 40);
        let mut from = 0;
        for cut in at.into_iter().chain([bytes.len()]) {
            chunked.push(&bytes[from..cut]);
            from = cut;
        }
        prop_assert_eq!(whole.text(), chunked.text());
        prop_assert_eq!(whole.judged(), chunked.judged());
    }

    #[test]
    fn rate_limit_never_panics(bytes in interesting_bytes(), s in ".{0,200}") {
        let _ = rate_limit::detect(&bytes, now());
        let _ = rate_limit::parse_reset(&s, &now());
        let _ = rate_limit::parse_reset(&String::from_utf8_lossy(&bytes), &now());
    }

    #[test]
    fn parse_reset_is_capped(n in any::<u64>(), unit in prop::sample::select(vec!["s", "m", "h", "d", "days", "ms"])) {
        let d = rate_limit::parse_reset(&format!("try again in {n}{unit}"), &now());
        prop_assert!(d.is_none_or(|d| d <= std::time::Duration::from_secs(7 * 24 * 3600)));
    }

    #[test]
    fn last_json_object_never_panics(bytes in interesting_bytes(), s in ".{0,300}") {
        let _ = last_json_object(&String::from_utf8_lossy(&bytes));
        let _ = last_json_object(&s);
    }

    #[test]
    fn feed_is_chunking_independent(bytes in interesting_bytes(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8)) {
        let whole = feed_all(&[&bytes]);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut prev = 0;
        for p in points {
            chunks.push(&bytes[prev..p]);
            prev = p;
        }
        chunks.push(&bytes[prev..]);
        prop_assert_eq!(feed_all(&chunks), whole.clone());
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(feed_all(&bytewise), whole);
        let mut c = PayloadCapture::new();
        c.feed(&bytes);
        let _ = c.finish(&bytes);
    }
}
