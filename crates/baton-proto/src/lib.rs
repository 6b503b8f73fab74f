//! The control-socket protocol between `baton daemon` and its client verbs.
//!
//! This crate exists so that the daemon and every client agree on one typed,
//! versioned wire format, and so that a mismatch between two baton builds is
//! reported as such ("the daemon speaks protocol 2.x, this client 1.x:
//! upgrade baton") instead of as a confusing parse error. It does no I/O of
//! its own beyond reading and writing frames on a stream it is handed, and it
//! must never panic on anything a peer sends.
//!
//! # Framing
//!
//! Every message is one frame: a `u32` big-endian length, then that many
//! bytes of UTF-8 JSON holding one JSON object. A frame longer than
//! [`MAX_FRAME`] is refused before anything is allocated for it. End of
//! stream exactly at a frame boundary is a clean close (`Ok(None)`); end of
//! stream inside a frame is [`ProtoError::Truncated`]. See [`read_frame`],
//! [`write_frame`] and their async twins [`read_frame_async`] and
//! [`write_frame_async`].
//!
//! # The exchange
//!
//! One connection carries one request:
//!
//! 1. client → daemon: [`Hello`] (the client's [`PROTOCOL`] and baton version);
//! 2. daemon → client: [`HelloReply::Welcome`], or [`HelloReply::Refused`]
//!    and the daemon closes the connection (different protocol major, or a
//!    peer the daemon does not serve);
//! 3. client → daemon: one [`Request`];
//! 4. daemon → client: one or more [`Response`]s — exactly one for every verb
//!    except `logs` and `events`, which stream chunks (and
//!    [`Response::Skipped`] / [`Response::SkippedEvents`] when the reader was
//!    too slow) and end with [`Response::EndOfStream`]; any verb may instead
//!    end with [`Response::Error`]. [`Response::ends_exchange`] says which
//!    response is the last;
//! 5. both sides close.
//!
//! # Compatibility
//!
//! Peers with the same protocol major talk; a newer minor may add optional
//! fields (always with a default, so an older peer ignores them or fills
//! them in), new verbs, new replies and new error kinds. An older peer that
//! receives a verb or reply it does not know gets [`ProtoError::NewerPeer`],
//! told apart from [`ProtoError::Garbage`]; an unknown error kind decodes as
//! [`ErrorKind::Unsupported`]. The shapes of [`Hello`] and [`HelloReply`]
//! are frozen across majors, so that any two baton builds can at least tell
//! each other that they are incompatible.

#![warn(missing_docs)]

pub mod base64;
mod error;
mod frame;
mod hello;
pub mod record;
pub mod request;
pub mod response;
mod session;
mod spawn_spec;

pub use error::ProtoError;
pub use frame::{
    MAX_FRAME, Message, Tag, decode_body, encode_frame, length_prefix, read_frame,
    read_frame_async, read_frame_body, write_frame, write_frame_async,
};
pub use hello::{Hello, HelloReply, PROTOCOL, Refused, Side, Version, Welcome, incompatibility};
pub use request::Request;
pub use response::{ErrorKind, Response};
pub use session::{HooksState, SessionRow, SessionState, SessionWorktree, Usage, WaitKind};
pub use spawn_spec::{
    DurationText, SpawnAgent, SpawnAnswer, SpawnBackend, SpawnCommand, SpawnOnStall, SpawnOrigin,
    SpawnSpec, SpawnStdin, SpawnWorktree,
};
