#![no_main]
//! The event-log reader on arbitrary (torn, corrupt, foreign) files.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = baton_core::eventlog::parse_log(data, std::path::Path::new("fuzz.jsonl"));
});
