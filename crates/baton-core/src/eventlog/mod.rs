//! The black box: an append-only JSONL log of everything that happened.
//!
//! The log is the source of truth. Every record is written before it is
//! published to any subscriber, so nothing anyone saw can be missing after a
//! crash. This module must never write a secret: env values and input text
//! do not appear in any [`Event`].

mod reader;
mod writer;

pub use reader::{LogContents, RawLog, RawRecord, parse_log, read_log, read_log_since};
pub use writer::{EventLog, LogError, LoggedEvent};

pub use baton_proto::record::{
    Event, FORMAT_MAJOR, FORMAT_MINOR, FORMAT_NAME, Header, Record, TmuxTarget, WorktreeSummary,
};

/// Current time as RFC 3339 UTC with microseconds.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}
