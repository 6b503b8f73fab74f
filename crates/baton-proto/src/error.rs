//! Everything that can go wrong on the wire.

use crate::hello::{Side, Version, incompatibility_for};
use crate::response::{ErrorKind, Response};

/// A failure to read, write, decode or agree on a message.
///
/// [`ProtoError::Garbage`] and [`ProtoError::NewerPeer`] leave the stream
/// aligned on the next frame (see [`ProtoError::stream_intact`]); every other
/// variant means the connection is unusable and must be closed.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// The socket failed.
    #[error("control socket i/o failed: {0}")]
    Io(#[from] std::io::Error),
    /// A frame announced (or would need) more than `max` bytes. Nothing was
    /// allocated for it, and its body (if any) was not read.
    #[error("frame of {len} bytes is larger than the {max}-byte limit")]
    FrameTooLarge {
        /// Announced or required body length.
        len: u64,
        /// [`crate::MAX_FRAME`].
        max: u64,
    },
    /// The stream ended inside a frame (in its length or its body).
    #[error("truncated frame: the connection closed after {got} of {needed} bytes")]
    Truncated {
        /// Bytes the length prefix or body needed.
        needed: u64,
        /// Bytes that arrived before the end of the stream.
        got: u64,
    },
    /// The body is not JSON, not a JSON object, or an object of the wrong
    /// shape for a variant this version knows.
    #[error("malformed message: {detail}")]
    Garbage {
        /// What was wrong, for a log line or an error reply.
        detail: String,
    },
    /// A well-formed JSON object whose `verb` (request) or `reply`
    /// (response) this version does not know: the peer is newer.
    #[error(
        "the peer sent `{verb_or_reply}`, which this baton does not know: the peer runs a newer baton"
    )]
    NewerPeer {
        /// The unknown tag value.
        verb_or_reply: String,
    },
    /// The hello exchange found different protocol majors.
    #[error("{}", incompatibility_for(*we_are, *ours, *theirs))]
    Incompatible {
        /// Our protocol version.
        ours: Version,
        /// The peer's protocol version.
        theirs: Version,
        /// Which end of the connection we are.
        we_are: Side,
    },
    /// The daemon speaks an older minor that cannot carry what the request asks for.
    #[error(
        "the daemon speaks protocol {theirs}, which has no {feature} (protocol {needs}); \
         restart it with this baton (`baton shutdown`, then start it again)"
    )]
    TooOld {
        /// The daemon's protocol.
        theirs: crate::Version,
        /// The protocol the request needs.
        needs: crate::Version,
        /// What it is, e.g. "`worktree` on spawn".
        feature: &'static str,
    },
    /// The daemon answered the hello with [`crate::HelloReply::Refused`].
    #[error("the daemon refused the connection: {reason}")]
    Refused {
        /// The daemon's explanation.
        reason: String,
    },
    /// A message could not be turned into JSON (e.g. a path that is not
    /// UTF-8). Nothing was written.
    #[error("cannot encode message: {detail}")]
    Unencodable {
        /// serde_json's explanation.
        detail: String,
    },
}

impl ProtoError {
    /// True when the bad frame was read whole, so the next frame can still be
    /// read from the same stream.
    pub fn stream_intact(&self) -> bool {
        matches!(
            self,
            ProtoError::Garbage { .. } | ProtoError::NewerPeer { .. }
        )
    }

    /// The error reply a daemon should send for a request it could not read,
    /// or `None` when the peer can no longer be answered (the socket failed
    /// or the stream ended).
    ///
    /// Oversized and malformed requests get [`ErrorKind::BadRequest`]; a verb
    /// from a newer client gets [`ErrorKind::Unsupported`]; a version
    /// mismatch gets [`ErrorKind::Refused`].
    pub fn reply(&self) -> Option<Response> {
        let kind = match self {
            ProtoError::Io(_) | ProtoError::Truncated { .. } => return None,
            ProtoError::FrameTooLarge { .. }
            | ProtoError::Garbage { .. }
            | ProtoError::Unencodable { .. } => ErrorKind::BadRequest,
            ProtoError::NewerPeer { verb_or_reply } => {
                return Some(Response::error(
                    ErrorKind::Unsupported,
                    format!(
                        "this daemon does not know the verb `{verb_or_reply}`: \
                         restart the daemon with the same baton as this client"
                    ),
                ));
            }
            ProtoError::Incompatible { .. }
            | ProtoError::Refused { .. }
            | ProtoError::TooOld { .. } => ErrorKind::Refused,
        };
        Some(Response::error(kind, self.to_string()))
    }
}
