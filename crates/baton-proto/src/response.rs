//! What the daemon answers: one struct per reply, wrapped in [`Response`].
//!
//! Every field added after protocol 1.0 must carry `#[serde(default)]`, so
//! that a response from an older daemon still decodes.

use serde::{Deserialize, Serialize};

use crate::base64::{self, Base64Error};
use crate::frame::{Message, Tag};
use crate::record::Record;
use crate::session::SessionRow;

/// One response, tagged by `reply`: `{"reply":"spawned","id":"w1"}`.
///
/// Decoding reads the tag first when it comes first, as every peer writes
/// it, and the reply's fields straight into their struct; serde's derived
/// decoding of a tagged enum would first copy the whole reply into a
/// generic tree (a `ps` of 1,000 sessions decoded 2× slower that way).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    /// `spawn` succeeded.
    Spawned(Spawned),
    /// The answer to `ps`.
    Sessions(Sessions),
    /// A piece of `logs` output.
    LogChunk(LogChunk),
    /// A slow `logs -f` reader missed output.
    Skipped(Skipped),
    /// A slow `events -f` reader missed records.
    SkippedEvents(SkippedEvents),
    /// One record of `events`.
    Event(Box<EventRecord>),
    /// The last response of `logs` and `events`.
    EndOfStream(EndOfStream),
    /// `send`, `kill` or `shutdown` has been carried out.
    Done(Done),
    /// The request failed; always the last response.
    Error(ErrorReply),
    /// The answer to `accounts`.
    Accounts(AccountsReport),
}

impl<'de> Deserialize<'de> for Response {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Response, D::Error> {
        d.deserialize_map(ResponseVisitor)
    }
}

struct ResponseVisitor;

impl<'de> serde::de::Visitor<'de> for ResponseVisitor {
    type Value = Response;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a response object with a `reply` field")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Response, A::Error> {
        use serde::de::Error;
        let Some(first) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
            return Err(A::Error::missing_field("reply"));
        };
        if first == "reply" {
            let reply = map.next_value::<std::borrow::Cow<'de, str>>()?;
            return Response::variant(&reply, serde::de::value::MapAccessDeserializer::new(map));
        }
        // The tag comes later: gather the object, then read it as above.
        let mut object = serde_json::Map::new();
        object.insert(first.into_owned(), map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        let reply = match object.remove("reply") {
            Some(serde_json::Value::String(reply)) => reply,
            Some(_) => return Err(A::Error::custom("`reply` is not a string")),
            None => return Err(A::Error::missing_field("reply")),
        };
        Response::variant(&reply, serde_json::Value::Object(object)).map_err(A::Error::custom)
    }
}

impl Response {
    /// The reply named `reply`, its fields read from `fields`.
    fn variant<'de, D: serde::Deserializer<'de>>(
        reply: &str,
        fields: D,
    ) -> Result<Response, D::Error> {
        Ok(match reply {
            "spawned" => Response::Spawned(Spawned::deserialize(fields)?),
            "sessions" => Response::Sessions(Sessions::deserialize(fields)?),
            "log_chunk" => Response::LogChunk(LogChunk::deserialize(fields)?),
            "skipped" => Response::Skipped(Skipped::deserialize(fields)?),
            "skipped_events" => Response::SkippedEvents(SkippedEvents::deserialize(fields)?),
            "event" => Response::Event(Box::new(EventRecord::deserialize(fields)?)),
            "end_of_stream" => Response::EndOfStream(EndOfStream::deserialize(fields)?),
            "done" => Response::Done(Done::deserialize(fields)?),
            "error" => Response::Error(ErrorReply::deserialize(fields)?),
            "accounts" => Response::Accounts(AccountsReport::deserialize(fields)?),
            other => {
                return Err(serde::de::Error::unknown_variant(other, Response::REPLIES));
            }
        })
    }

    /// Every reply this version knows, as written in the `reply` field.
    pub const REPLIES: &'static [&'static str] = &[
        "spawned",
        "sessions",
        "log_chunk",
        "skipped",
        "skipped_events",
        "event",
        "end_of_stream",
        "done",
        "error",
        "accounts",
    ];

    /// This response's `reply` field.
    pub fn reply(&self) -> &'static str {
        match self {
            Response::Spawned(_) => "spawned",
            Response::Sessions(_) => "sessions",
            Response::LogChunk(_) => "log_chunk",
            Response::Skipped(_) => "skipped",
            Response::SkippedEvents(_) => "skipped_events",
            Response::Event(_) => "event",
            Response::EndOfStream(_) => "end_of_stream",
            Response::Done(_) => "done",
            Response::Error(_) => "error",
            Response::Accounts(_) => "accounts",
        }
    }

    /// True if no response follows this one on the connection: everything
    /// except the streamed pieces (`log_chunk`, `skipped`, `skipped_events`,
    /// `event`).
    pub fn ends_exchange(&self) -> bool {
        !matches!(
            self,
            Response::LogChunk(_)
                | Response::Skipped(_)
                | Response::SkippedEvents(_)
                | Response::Event(_)
        )
    }

    /// An `error` reply.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error(ErrorReply {
            kind,
            message: message.into(),
        })
    }
}

impl Message for Response {
    const TAG: Option<Tag> = Some(Tag {
        field: "reply",
        known: Response::REPLIES,
    });
}

/// The session was registered and its first start is under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawned {
    /// The session's id.
    pub id: String,
}

/// The sessions a `ps` asked for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sessions {
    /// One snapshot per session that matched the `ps` filter.
    pub sessions: Vec<SessionRow>,
    /// The event log's last `seq` before the table was taken (1.1): every
    /// record up to it is reflected in `sessions` (later ones may be too),
    /// so `events --since seq` continues from this table with no gap.
    /// `None` from a 1.0 daemon or while the log is empty.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The event log's last `seq` when the table was answered (1.1): no
    /// record after it is reflected in `sessions`. With `seq`, it brackets
    /// the table: a reader of the records after `seq` has seen everything
    /// the table shows once it has passed `seq_end`.
    #[serde(default)]
    pub seq_end: Option<u64>,
}

/// Output bytes from a session's log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunk {
    /// Standard base64 of the raw bytes (see [`crate::base64`]); output is
    /// not necessarily UTF-8.
    pub data: String,
    /// Byte offset of the first byte in the session's log file.
    pub offset: u64,
}

impl LogChunk {
    /// The raw size a daemon should keep each chunk under; its frame is then
    /// far below [`crate::MAX_FRAME`].
    pub const MAX_BYTES: usize = 256 * 1024;

    /// A chunk carrying `bytes`, which start at `offset` in the log file.
    pub fn new(offset: u64, bytes: &[u8]) -> LogChunk {
        LogChunk {
            data: base64::encode(bytes),
            offset,
        }
    }

    /// The raw bytes; an error only if the peer sent invalid base64.
    pub fn bytes(&self) -> Result<Vec<u8>, Base64Error> {
        base64::decode(&self.data)
    }
}

/// Output the reader did not get: it fell behind and was moved ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// How many bytes were skipped.
    pub bytes: u64,
    /// The bytes are gone: they were in segments of the log that
    /// `keep_segments` deleted (else the reader fell behind; the log keeps
    /// them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// Event records the reader did not get: it fell behind and was moved ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedEvents {
    /// How many records were skipped.
    pub count: u64,
    /// The records are gone: they were in segments of the event log that
    /// `keep_segments` deleted (else the reader fell behind; the log keeps
    /// them).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// One record of the event log, as written to the log file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The record.
    pub record: Record,
}

/// Nothing more follows for `logs` or `events` (the session ended, the log
/// was read to its end without `follow`, `max_bytes` was reached, or the
/// daemon is stopping).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndOfStream {
    /// For `logs` without `follow` (1.1): the log file's length when it was
    /// read, so a client paging by `offset` knows whether more is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_len: Option<u64>,
}

/// The daemon has carried out `send`, `kill` or `shutdown` (input written,
/// session stopped, sessions stopped) — not merely accepted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {}

/// Why a request failed. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What kind of failure, for the client's exit code.
    pub kind: ErrorKind,
    /// What went wrong, for the user; lowercase, names the session or field.
    pub message: String,
}

/// The kinds of [`ErrorReply`]. A kind this version does not know (from a
/// newer daemon) decodes as [`ErrorKind::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No session has that id.
    UnknownSession,
    /// `send --if-waiting` to a session not in `input_wait`.
    NotWaiting,
    /// The request was malformed, oversized or invalid (e.g. a bad spawn spec).
    BadRequest,
    /// The daemon will not do this (e.g. it is shutting down, or a version
    /// mismatch).
    Refused,
    /// The daemon failed; the message says how.
    Internal,
    /// The daemon does not support this, or (when decoded) a newer kind.
    #[serde(other)]
    Unsupported,
}

/// The account broker's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountsReport {
    /// The broker status object exactly as `baton accounts --json` prints it
    /// (`{"accounts":[…],"eta":[…]}`); kept as JSON so this crate does not
    /// pin the broker's types.
    pub status: serde_json::Value,
}
