#![no_main]
//! Control-socket frames from a hostile peer: arbitrary bytes read as a
//! stream of frames of every message type, and as a single frame body.
use std::io::Cursor;

use baton_proto::{
    Hello, HelloReply, Message, ProtoError, Request, Response, decode_body, encode_frame,
    read_frame,
};
use libfuzzer_sys::fuzz_target;

/// Reads frames until the stream ends or breaks; a frame that decodes must
/// encode again and decode to the same value.
fn frames<T: Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Cursor::new(data);
    loop {
        match read_frame::<T>(&mut r) {
            Ok(Some(msg)) => {
                let again = encode_frame(&msg).expect("a decoded message encodes");
                let back: T = decode_body(&again[4..]).expect("an encoded message decodes");
                assert_eq!(back, msg);
            }
            Ok(None) => break,
            Err(e) if e.stream_intact() => {}
            Err(ProtoError::Truncated { .. } | ProtoError::FrameTooLarge { .. }) => break,
            Err(e) => panic!("unexpected error from an in-memory stream: {e}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // A spawn request that decodes is checked by the session checker, which
    // refuses it or makes a session of it, never panics.
    if let Ok(Request::Spawn(spawn)) = decode_body::<Request>(data) {
        let _ = baton_config::check_spawn(spawn.spec, spawn.origin.as_ref(), None, Some(&[]));
    }
    frames::<Request>(data);
    frames::<Response>(data);
    frames::<Hello>(data);
    frames::<HelloReply>(data);
    let errors = [
        decode_body::<Request>(data).err(),
        decode_body::<Response>(data).err(),
    ];
    for e in errors.into_iter().flatten() {
        let _ = e.to_string();
        let _ = e.reply();
    }
});
