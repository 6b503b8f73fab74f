#![no_main]
//! Input-wait and rate-limit detection on arbitrary output tails.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let detector = baton_monitor::input_wait::InputWaitDetector::builtin();
    let _ = detector.detect(data);
    let now = jiff::Zoned::now();
    let _ = baton_monitor::rate_limit::detect(data, now.clone());
    let _ = baton_monitor::rate_limit::parse_reset(&String::from_utf8_lossy(data), &now);
    let _ = baton_monitor::text::normalize(data);
});
