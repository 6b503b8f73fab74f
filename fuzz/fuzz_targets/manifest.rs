#![no_main]
//! The manifest, hosts-file and session-file parsers must return an error,
//! never panic, on any input.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let base = std::path::Path::new("/tmp");
        let _ = baton_config::Manifest::parse(text, Some(&base.join("baton.toml")), base);
        let _ = baton_config::HostsFile::parse(text, &base.join("hosts.toml"));
        let _ = baton_config::SessionFile::parse(text, Some(&base.join("s.toml")), base);
    }
});
