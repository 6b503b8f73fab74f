#![no_main]
//! Completion-payload capture over arbitrary stdout, in arbitrary chunks.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut capture = baton_monitor::payload::PayloadCapture::new();
    let split = data.first().map_or(1, |b| usize::from(*b).max(1));
    for chunk in data.chunks(split) {
        capture.feed(chunk);
    }
    let _ = capture.finish(data);
});
