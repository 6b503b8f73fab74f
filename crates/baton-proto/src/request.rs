//! What a client asks the daemon: one struct per verb, wrapped in [`Request`].
//!
//! Every field added after protocol 1.0 must carry `#[serde(default)]`, so
//! that a request from an older client still decodes.

use serde::{Deserialize, Serialize};

use crate::frame::{Message, Tag};
use crate::spawn_spec::SpawnSpec;

impl Request {
    /// Refuses to send this request to a daemon that speaks `theirs`, when
    /// it uses what that daemon would not understand (an older daemon
    /// skips unknown fields, so it would silently run something else).
    pub fn check_peer(&self, theirs: crate::Version) -> Result<(), crate::ProtoError> {
        let needs = match self {
            // 1.3 reads a spawn's session as a manifest table; an older
            // daemon would skip the keys it does not know (`stall_after`).
            Request::Spawn(_) => Some((
                crate::Version::new(1, 3),
                "spawn specs written as [[session]] tables",
            )),
            _ => None,
        };
        match needs {
            Some((needs, feature)) if theirs.minor < needs.minor => {
                Err(crate::ProtoError::TooOld {
                    theirs,
                    needs,
                    feature,
                })
            }
            _ => Ok(()),
        }
    }
}

/// One request, tagged by `verb`: `{"verb":"kill","id":"w1"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Request {
    /// Start a session. Answered by `spawned` or `error`.
    Spawn(Box<Spawn>),
    /// List sessions. Answered by `sessions` or `error`.
    Ps(Ps),
    /// Print or follow a session's output. Answered by `log_chunk`s and
    /// `skipped`s, then `end_of_stream`; or `error`.
    Logs(Logs),
    /// Print or follow the event log. Answered by `event`s and
    /// `skipped_events`, then `end_of_stream`; or `error`.
    Events(Events),
    /// Write a line to a session's input. Answered by `done` or `error`.
    Send(SendInput),
    /// Stop one session. Answered by `done` or `error`.
    Kill(Kill),
    /// Stop every session and the daemon. Answered by `done` or `error`.
    Shutdown(Shutdown),
    /// The account broker's state. Answered by `accounts` or `error`.
    Accounts(Accounts),
}

impl Request {
    /// Every verb this version knows, as written in the `verb` field.
    pub const VERBS: &'static [&'static str] = &[
        "spawn", "ps", "logs", "events", "send", "kill", "shutdown", "accounts",
    ];

    /// This request's `verb` field.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Spawn(_) => "spawn",
            Request::Ps(_) => "ps",
            Request::Logs(_) => "logs",
            Request::Events(_) => "events",
            Request::Send(_) => "send",
            Request::Kill(_) => "kill",
            Request::Shutdown(_) => "shutdown",
            Request::Accounts(_) => "accounts",
        }
    }

    /// True for the verbs answered by a stream of responses ending in
    /// `end_of_stream` (`logs`, `events`).
    pub fn is_streaming(&self) -> bool {
        matches!(self, Request::Logs(_) | Request::Events(_))
    }
}

impl Message for Request {
    const TAG: Option<Tag> = Some(Tag {
        field: "verb",
        known: Request::VERBS,
    });
}

/// Which kind of client sent a control request (`spawn`, `send`, `kill`);
/// the daemon records it in the event log with the request (protocol 1.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A `baton` verb on the command line (also what a 1.0 client is taken for).
    #[default]
    Cli,
    /// `baton mcp`, on behalf of an MCP client (a lead agent).
    Mcp,
    /// `baton tui`, on behalf of the person at the dashboard.
    Tui,
    /// `baton web`, on behalf of the person at its page (or a script
    /// using its API).
    Web,
    /// A client kind this version does not know (from a newer client).
    #[serde(other)]
    Other,
}

impl Via {
    /// True for the default, [`Via::Cli`] (left out on the wire).
    pub fn is_cli(&self) -> bool {
        *self == Via::Cli
    }

    /// The name written in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Cli => "cli",
            Via::Mcp => "mcp",
            Via::Tui => "tui",
            Via::Web => "web",
            Via::Other => "other",
        }
    }
}

/// `spawn`: start a session from a manifest-like entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spawn {
    /// The session; the daemon validates it (see [`SpawnSpec`]).
    pub spec: SpawnSpec,
    /// The session file the spec was read from (`baton spawn --file`), so
    /// that a refusal by the daemon — which alone checks what it owns, such
    /// as the hosts inventory — names the file and line of the field (1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::SpawnOrigin>,
    /// Who asks (1.1).
    #[serde(default, skip_serializing_if = "Via::is_cli")]
    pub via: Via,
}

/// `ps`: list sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ps {
    /// Only sessions tagged with this capability; `None`: all.
    #[serde(default)]
    pub capability: Option<String>,
}

/// `logs`: a session's output, from its log file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logs {
    /// The session.
    pub id: String,
    /// Stderr instead of stdout.
    #[serde(default)]
    pub stderr: bool,
    /// Start this many lines before the end; `None`: from the beginning.
    #[serde(default)]
    pub tail: Option<u64>,
    /// Start at this byte of the log file (1.1). Wins over `tail` and
    /// `tail_bytes`; past the end, nothing is sent.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Start this many bytes before the end (1.1). Wins over `tail`.
    #[serde(default)]
    pub tail_bytes: Option<u64>,
    /// Send at most this many bytes, then `end_of_stream` (1.1); ignored
    /// with `follow`. The last chunk ends at this limit, wherever it falls.
    #[serde(default)]
    pub max_bytes: Option<u64>,
    /// Keep streaming new output until the session ends or the client
    /// disconnects.
    #[serde(default)]
    pub follow: bool,
}

/// `events`: the event log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Events {
    /// Only records about this session; `None`: all.
    #[serde(default)]
    pub session: Option<String>,
    /// Only records with `seq` greater than this; `None`: all.
    #[serde(default)]
    pub since: Option<u64>,
    /// Keep streaming new records until the daemon stops or the client
    /// disconnects.
    #[serde(default)]
    pub follow: bool,
}

/// `send`: write `text` and Enter to a session's input.
///
/// `text` may be secret: the daemon never logs or echoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendInput {
    /// The session.
    pub id: String,
    /// One line, without its newline.
    pub text: String,
    /// Only if the session is in `input_wait`; otherwise the daemon answers
    /// `error` with kind `not_waiting` and writes nothing.
    #[serde(default)]
    pub if_waiting: bool,
    /// Who asks (1.1); the `input` record's `source` is `user` for
    /// [`Via::Cli`], else this client's name.
    #[serde(default, skip_serializing_if = "Via::is_cli")]
    pub via: Via,
}

/// `kill`: stop one session for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    /// The session.
    pub id: String,
    /// Who asks (1.1).
    #[serde(default, skip_serializing_if = "Via::is_cli")]
    pub via: Via,
}

/// `shutdown`: stop every session, then the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shutdown {
    /// Skip the grace period (SIGKILL at once).
    #[serde(default)]
    pub force: bool,
}

/// `accounts`: the account broker's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {}
