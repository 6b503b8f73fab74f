//! The first two frames of every connection: who speaks which protocol.
//!
//! The shapes here are frozen across protocol majors: a 1.x client and a 9.x
//! daemon must still be able to tell each other, in words, that they cannot
//! talk. Never remove or rename a field of these types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ProtoError;
use crate::frame::{Message, Tag};

/// A protocol version. Peers with the same `major` can talk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    /// Bumped when an older peer could misread a message.
    pub major: u32,
    /// Bumped when something optional is added.
    pub minor: u32,
}

impl Version {
    /// The version `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Version {
        Version { major, minor }
    }

    /// True when a peer speaking `other` can talk to one speaking `self`
    /// (same major; minors may differ either way).
    pub fn is_compatible(self, other: Version) -> bool {
        self.major == other.major
    }
}

impl fmt::Display for Version {
    /// `MAJOR.MINOR`, e.g. `1.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The protocol this build speaks.
///
/// 1.1 added `via` on control requests, `offset` / `tail_bytes` /
/// `max_bytes` on `logs`, `seq` and `seq_end` on `sessions` and `log_len` on
/// `end_of_stream`; 1.2 `worktree` on a spawn spec; 1.3 the spawn spec as
/// a `[[session]]` table (durations as strings, `answer`, `command` as a
/// string too, unknown keys refused) and its `origin` beside it, and
/// `usage` on a `sessions` row; 1.4 `wait_kind` and `hooks` on a
/// `sessions` row.
pub const PROTOCOL: Version = Version::new(1, 4);

/// Which end of a connection a message or error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// `baton daemon`.
    Daemon,
    /// A client verb (`baton ps`, `baton logs`, …).
    Client,
}

/// What to tell the user when a daemon speaking `daemon` and a client
/// speaking `client` cannot talk, or `None` when they can.
///
/// The message names both majors, which side is newer and what to do, and is
/// the same whichever side produces it.
pub fn incompatibility(daemon: Version, client: Version) -> Option<String> {
    if daemon.is_compatible(client) {
        return None;
    }
    let versions = format!(
        "the daemon speaks protocol {}.x, this client {}.x",
        daemon.major, client.major
    );
    Some(if daemon.major > client.major {
        format!("{versions}: upgrade baton")
    } else {
        format!(
            "{versions}: the daemon is older; stop it and start `baton daemon` again with this baton"
        )
    })
}

/// [`incompatibility`] seen from one side; used for [`ProtoError::Incompatible`].
pub(crate) fn incompatibility_for(we_are: Side, ours: Version, theirs: Version) -> String {
    let (daemon, client) = match we_are {
        Side::Daemon => (ours, theirs),
        Side::Client => (theirs, ours),
    };
    incompatibility(daemon, client).unwrap_or_else(|| {
        format!("protocol {ours} and {theirs} are compatible, but the peer refused them")
    })
}

/// The client's first frame: `{"protocol":{"major":1,"minor":0},"client":"0.1.0"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The protocol the client speaks.
    pub protocol: Version,
    /// The client's baton version, for messages and logs.
    pub client: String,
}

impl Hello {
    /// A hello for this build's [`PROTOCOL`], from baton version `client`.
    pub fn new(client: impl Into<String>) -> Hello {
        Hello {
            protocol: PROTOCOL,
            client: client.into(),
        }
    }

    /// Daemon side: `Ok` if a daemon speaking `ours` can serve this client,
    /// else [`ProtoError::Incompatible`] from the daemon's point of view.
    pub fn check(&self, ours: Version) -> Result<(), ProtoError> {
        if ours.is_compatible(self.protocol) {
            Ok(())
        } else {
            Err(ProtoError::Incompatible {
                ours,
                theirs: self.protocol,
                we_are: Side::Daemon,
            })
        }
    }

    /// Daemon side: the reply for this hello from a daemon speaking `ours`,
    /// running baton version `server` as process `pid`. A different major
    /// gets [`HelloReply::Refused`] with the [`incompatibility`] wording.
    pub fn answer(&self, ours: Version, server: &str, pid: u32) -> HelloReply {
        match incompatibility(ours, self.protocol) {
            None => HelloReply::Welcome(Welcome {
                protocol: ours,
                server: server.to_owned(),
                pid,
            }),
            Some(reason) => HelloReply::Refused(Refused {
                reason: format!("{reason} (daemon pid {pid}, baton {server})"),
                protocol: ours,
            }),
        }
    }
}

impl Message for Hello {
    const TAG: Option<Tag> = None;
}

/// The daemon's answer to a [`Hello`]. Tagged by `reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum HelloReply {
    /// Go ahead and send one request.
    Welcome(Welcome),
    /// The daemon will close the connection.
    Refused(Refused),
}

impl HelloReply {
    /// Client side: the [`Welcome`] if a client speaking `ours` may go on.
    ///
    /// A refusal becomes [`ProtoError::Refused`] carrying the daemon's
    /// reason; a welcome with a different major (a daemon that should have
    /// refused) becomes [`ProtoError::Incompatible`].
    pub fn accept(self, ours: Version) -> Result<Welcome, ProtoError> {
        match self {
            HelloReply::Welcome(w) if ours.is_compatible(w.protocol) => Ok(w),
            HelloReply::Welcome(w) => Err(ProtoError::Incompatible {
                ours,
                theirs: w.protocol,
                we_are: Side::Client,
            }),
            HelloReply::Refused(r) => Err(ProtoError::Refused { reason: r.reason }),
        }
    }
}

impl Message for HelloReply {
    const TAG: Option<Tag> = Some(Tag {
        field: "reply",
        known: &["welcome", "refused"],
    });
}

/// The daemon accepted the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol the daemon speaks (same major as the client's).
    pub protocol: Version,
    /// The daemon's baton version.
    pub server: String,
    /// The daemon's pid.
    pub pid: u32,
}

/// The daemon will not serve this client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    /// Why, in words meant for the user (what is newer, what to do).
    pub reason: String,
    /// The protocol the daemon speaks.
    pub protocol: Version,
}
