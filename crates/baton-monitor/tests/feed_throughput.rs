//! Throughput of `PayloadCapture::feed` on marker-free bulk output (it
//! runs on every stdout chunk at pipe speed). Ignored by default; run with
//! `cargo test -p baton-monitor --release --test feed_throughput -- --ignored --nocapture`.

use std::time::Instant;

use baton_monitor::payload::PayloadCapture;

#[test]
#[ignore = "timing; run in release"]
fn feed_throughput_on_marker_free_data() {
    let line =
        b"   Compiling serde v1.0.228 <T as Trait>::method -> Vec<u8> 0123456789 abcdefghij\n";
    let chunk: Vec<u8> = line.iter().copied().cycle().take(64 * 1024).collect();
    let total: usize = 1 << 30;
    let mut c = PayloadCapture::new();
    let start = Instant::now();
    let mut fed = 0;
    while fed < total {
        c.feed(&chunk);
        fed += chunk.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "feed: {:.2} GB/s over {} MiB",
        fed as f64 / secs / 1e9,
        fed >> 20
    );
    assert!(c.finish(b"").is_none());
}
