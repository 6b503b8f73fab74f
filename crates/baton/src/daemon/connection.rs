//! One client connection: who it is, the hello, one request, its answer.
//!
//! Nothing a client sends may crash or stall the daemon: the hello and the
//! request must arrive within [`HANDSHAKE`], frames are size-checked by
//! baton-proto before anything is allocated, and a bad frame gets an error
//! reply (when the client can still read one) and a closed connection.

use std::sync::Arc;
use std::time::Duration;

use baton_core::ConductorError;
use baton_proto::response::ErrorKind;
use baton_proto::{
    Hello, HelloReply, PROTOCOL, ProtoError, Refused, Request, Response, read_frame_async,
    write_frame_async,
};
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::{Daemon, control, events, logs, ps, spawn};

/// Time a client has, from connecting, to send its hello and its request.
pub const HANDSHAKE: Duration = Duration::from_secs(10);

/// Time a refusal or error reply may take to write before we give up on
/// the client.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// The client end of a connection, split so that a stream can watch for
/// the client going away while it waits for output.
pub struct Peer {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
}

impl Peer {
    /// Writes one frame.
    pub async fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), ProtoError> {
        write_frame_async(&mut self.write, msg).await
    }

    /// Writes frames already encoded ([`baton_proto::encode_frame`]), one
    /// after another, in one write.
    pub async fn send_encoded(&mut self, frames: &[u8]) -> Result<(), ProtoError> {
        self.send_parts(&[frames]).await
    }

    /// Writes `parts` one after another, as if joined (one frame made of
    /// pieces: a large body is not copied to put its head before it).
    pub async fn send_parts(&mut self, parts: &[&[u8]]) -> Result<(), ProtoError> {
        use std::io::IoSlice;
        use tokio::io::AsyncWriteExt;
        let mut slices: Vec<IoSlice> = parts.iter().map(|p| IoSlice::new(p)).collect();
        let mut left = &mut slices[..];
        while !left.is_empty() {
            let n = self.write.write_vectored(left).await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            IoSlice::advance_slices(&mut left, n);
        }
        Ok(())
    }

    /// Resolves when the client closes its end. After its request a client
    /// sends nothing more, so any byte is also taken as "gone".
    /// Cancel-safe.
    pub async fn gone(&mut self) {
        let mut byte = [0u8; 1];
        let _ = self.read.read(&mut byte).await;
    }
}

/// Serves one connection to its end. Never panics on client input.
pub async fn serve(daemon: Arc<Daemon>, stream: UnixStream) {
    let refusal = match stream.peer_cred() {
        Err(e) => Some(format!("the daemon cannot tell which user connected ({e})")),
        Ok(cred) if cred.uid() != daemon.euid => Some(format!(
            "this baton daemon serves uid {} only; this connection is from uid {}",
            daemon.euid,
            cred.uid()
        )),
        Ok(_) => None,
    };
    let (read, write) = stream.into_split();
    let mut peer = Peer { read, write };
    let mut welcomed = false;
    let handshake = handshake(&mut peer, refusal.clone(), &mut welcomed);
    let request = match tokio::time::timeout(HANDSHAKE, handshake).await {
        Ok(Some(request)) => request,
        Ok(None) => return,
        Err(_) => {
            tracing::debug!(
                "a client did not finish its hello and request within {HANDSHAKE:?}; closing"
            );
            let why = format!(
                "no complete hello and request within {} s",
                HANDSHAKE.as_secs()
            );
            // Answer in the frame the client is waiting for.
            let sent = if let Some(reason) = refusal {
                tokio::time::timeout(LAST_WORDS, peer.send(&refused(reason))).await
            } else if welcomed {
                let reply = Response::error(ErrorKind::BadRequest, why);
                tokio::time::timeout(LAST_WORDS, peer.send(&reply)).await
            } else {
                tokio::time::timeout(LAST_WORDS, peer.send(&refused(why))).await
            };
            drop(sent);
            return;
        }
    };
    let verb = request.verb();
    tracing::debug!(verb, "request");
    if let Err(e) = dispatch(&daemon, request, &mut peer).await {
        tracing::debug!(verb, "client connection ended: {e}");
    }
}

/// Reads the hello, answers it (with a refusal when `refusal` says the
/// peer is not ours), and reads the request; `None` when the connection is
/// to be closed (refused, malformed, or the client left).
///
/// The hello is read even from a peer that will be refused, so that its
/// write never meets a closed socket and it reads our reason instead.
async fn handshake(
    peer: &mut Peer,
    refusal: Option<String>,
    welcomed: &mut bool,
) -> Option<Request> {
    let hello = read_frame_async::<Hello>(&mut peer.read).await;
    let reply = match (refusal, hello) {
        (Some(reason), _) => {
            tracing::warn!("refused a connection: {reason}");
            refused(reason)
        }
        (None, Ok(Some(hello))) => {
            hello.answer(PROTOCOL, env!("CARGO_PKG_VERSION"), std::process::id())
        }
        (None, Ok(None)) => return None,
        (None, Err(e)) if e.reply().is_some() => {
            tracing::debug!("malformed hello: {e}");
            refused(format!("malformed hello: {e}"))
        }
        (None, Err(_)) => return None,
    };
    if !matches!(reply, HelloReply::Welcome(_)) {
        let _ = tokio::time::timeout(LAST_WORDS, peer.send(&reply)).await;
        return None;
    }
    peer.send(&reply).await.ok()?;
    *welcomed = true;
    match read_frame_async::<Request>(&mut peer.read).await {
        Ok(request) => request,
        Err(e) => {
            tracing::debug!("bad request: {e}");
            if let Some(reply) = e.reply() {
                let _ = tokio::time::timeout(LAST_WORDS, peer.send(&reply)).await;
            }
            None
        }
    }
}

fn refused(reason: String) -> HelloReply {
    HelloReply::Refused(Refused {
        reason,
        protocol: PROTOCOL,
    })
}

async fn dispatch(daemon: &Daemon, request: Request, peer: &mut Peer) -> Result<(), ProtoError> {
    let reply = match request {
        Request::Logs(req) => return logs::stream(daemon, req, peer).await,
        Request::Events(req) => return events::stream(daemon, req, peer).await,
        Request::Spawn(req) => spawn::handle(daemon, req.spec, req.origin.as_ref(), req.via).await,
        Request::Ps(req) => return ps::answer(daemon, req, peer).await,
        Request::Send(req) => control::send(daemon, req).await,
        Request::Kill(req) => control::kill(daemon, req).await,
        Request::Shutdown(req) => control::shutdown(daemon, req).await,
        Request::Accounts(_) => control::accounts(daemon).await,
    };
    match peer.send(&reply).await {
        // Nothing was written: the client can still be told why.
        Err(e @ ProtoError::FrameTooLarge { .. }) => peer.send(&too_large(&e)).await,
        other => other,
    }
}

/// The error reply for an answer that did not fit in a frame (nothing of
/// it was written).
pub fn too_large(e: &ProtoError) -> Response {
    Response::error(ErrorKind::Internal, format!("the answer is too large: {e}"))
}

/// The error reply for a conductor refusal.
pub fn conductor_error(e: ConductorError) -> Response {
    let kind = match &e {
        ConductorError::UnknownSession(_) => ErrorKind::UnknownSession,
        ConductorError::NotWaiting { .. } => ErrorKind::NotWaiting,
        ConductorError::DuplicateSession(_) | ConductorError::Config(_) => ErrorKind::BadRequest,
        ConductorError::NotRunning { .. }
        | ConductorError::ShuttingDown
        | ConductorError::Closed => ErrorKind::Refused,
        // Input, log, broker and logs-dir failures, and whatever a newer
        // baton-core adds.
        _ => ErrorKind::Internal,
    };
    Response::error(kind, e.to_string())
}

/// The reply for an id no session has (or that cannot be a session id).
pub fn unknown_session(id: &str) -> Response {
    Response::error(
        ErrorKind::UnknownSession,
        format!("no session with id `{}`", id.escape_debug()),
    )
}
