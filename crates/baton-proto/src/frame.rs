//! Length-prefixed JSON frames, and decoding that tells a newer peer from
//! garbage.
//!
//! Nothing here may panic or allocate more than [`MAX_FRAME`] on behalf of a
//! peer: the daemon reads frames from any local process of its user.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ProtoError;

/// The largest frame body, in bytes (4 MiB). Larger frames are neither
/// written nor read.
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

const HEADER: usize = 4;

/// How a message type names its variants on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    /// The JSON field holding the variant name (`verb`, `reply`).
    pub field: &'static str,
    /// Every variant name this version knows.
    pub known: &'static [&'static str],
}

/// A type that travels as one frame.
///
/// Implemented by [`crate::Hello`], [`crate::HelloReply`], [`crate::Request`]
/// and [`crate::Response`].
pub trait Message: Serialize + DeserializeOwned {
    /// The tag naming the variant, for tagged enums; `None` for a plain
    /// struct. Decoding uses it to report an unknown variant as
    /// [`ProtoError::NewerPeer`] rather than [`ProtoError::Garbage`].
    const TAG: Option<Tag>;
}

/// `msg` as one complete frame: length prefix and JSON body.
///
/// Fails with [`ProtoError::FrameTooLarge`] if the body would exceed
/// [`MAX_FRAME`] (the peer would refuse it), and with
/// [`ProtoError::Unencodable`] if `msg` has no JSON form.
pub fn encode_frame<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, ProtoError> {
    let mut frame = vec![0; HEADER];
    serde_json::to_writer(&mut frame, msg).map_err(|e| ProtoError::Unencodable {
        detail: e.to_string(),
    })?;
    let prefix = length_prefix(frame.len() - HEADER)?;
    frame[..HEADER].copy_from_slice(&prefix);
    Ok(frame)
}

/// The length prefix of a frame whose body is `len` bytes: for a frame
/// put together from pieces already encoded. Fails with
/// [`ProtoError::FrameTooLarge`] past [`MAX_FRAME`] (the peer would refuse
/// it).
pub fn length_prefix(len: usize) -> Result<[u8; HEADER], ProtoError> {
    if len > MAX_FRAME {
        return Err(ProtoError::FrameTooLarge {
            len: len as u64,
            max: MAX_FRAME as u64,
        });
    }
    // `len <= MAX_FRAME < u32::MAX`, so the cast is exact.
    Ok((len as u32).to_be_bytes())
}

/// Decodes one frame body (without its length prefix).
///
/// Errors: [`ProtoError::Garbage`] for bytes that are not JSON, JSON that is
/// not an object, an object without the type's tag, or a known variant of
/// the wrong shape; [`ProtoError::NewerPeer`] for a JSON object whose tag
/// names a variant this version does not know. Unknown fields are ignored.
pub fn decode_body<T: Message>(body: &[u8]) -> Result<T, ProtoError> {
    let typed_err = match serde_json::from_slice::<T>(body) {
        Ok(msg) => return Ok(msg),
        Err(e) => e,
    };
    let garbage = |detail: String| ProtoError::Garbage { detail };
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Err(garbage(format!("not json: {e}"))),
    };
    let Some(object) = value.as_object() else {
        return Err(garbage(format!(
            "expected a json object, got {}",
            json_kind(&value)
        )));
    };
    let Some(tag) = T::TAG else {
        return Err(garbage(typed_err.to_string()));
    };
    match object.get(tag.field) {
        None => Err(garbage(format!("object has no `{}` field", tag.field))),
        Some(serde_json::Value::String(name)) if !tag.known.contains(&name.as_str()) => {
            Err(ProtoError::NewerPeer {
                verb_or_reply: name.clone(),
            })
        }
        Some(serde_json::Value::String(name)) => {
            Err(garbage(format!("bad `{name}` {}: {typed_err}", tag.field)))
        }
        Some(other) => Err(garbage(format!(
            "`{}` is {}, not a string",
            tag.field,
            json_kind(other)
        ))),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The body length a header announces, if it is allowed.
fn body_len(header: [u8; HEADER]) -> Result<usize, ProtoError> {
    let len = u32::from_be_bytes(header);
    // u32 always fits in usize on the 32- and 64-bit targets baton supports.
    match usize::try_from(len) {
        Ok(len) if len <= MAX_FRAME => Ok(len),
        _ => Err(ProtoError::FrameTooLarge {
            len: u64::from(len),
            max: MAX_FRAME as u64,
        }),
    }
}

/// Fills `buf` from `r`; returns how many bytes arrived before end of stream.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

async fn fill_async(r: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]).await {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn truncated(needed: usize, got: usize) -> ProtoError {
    ProtoError::Truncated {
        needed: needed as u64,
        got: got as u64,
    }
}

/// Writes `msg` as one frame and flushes `w`.
///
/// Nothing is written if encoding fails (see [`encode_frame`]).
pub fn write_frame<T: Serialize + ?Sized>(w: &mut impl Write, msg: &T) -> Result<(), ProtoError> {
    let frame = encode_frame(msg)?;
    w.write_all(&frame)?;
    w.flush()?;
    Ok(())
}

/// Reads one frame and decodes it as `T`.
///
/// `Ok(None)`: the stream ended cleanly before the first byte of a frame.
/// A length over [`MAX_FRAME`] is refused before allocating or reading the
/// body; end of stream inside the frame is [`ProtoError::Truncated`];
/// decoding errors are as for [`decode_body`], after which the stream is
/// still aligned on the next frame.
pub fn read_frame<T: Message>(r: &mut impl Read) -> Result<Option<T>, ProtoError> {
    match read_frame_body(r)? {
        Some(body) => decode_body(&body).map(Some),
        None => Ok(None),
    }
}

/// Reads one frame's body, not decoded: [`read_frame`] without its last
/// step, for a reader that looks at the bytes as they came.
pub fn read_frame_body(r: &mut impl Read) -> Result<Option<Vec<u8>>, ProtoError> {
    let mut header = [0; HEADER];
    match fill(r, &mut header)? {
        0 => return Ok(None),
        HEADER => {}
        got => return Err(truncated(HEADER, got)),
    }
    let len = body_len(header)?;
    let mut body = vec![0; len];
    let got = fill(r, &mut body)?;
    if got < len {
        return Err(truncated(len, got));
    }
    Ok(Some(body))
}

/// [`write_frame`] for a tokio stream: writes `msg` as one frame and flushes.
pub async fn write_frame_async<T: Serialize + ?Sized>(
    w: &mut (impl AsyncWrite + Unpin),
    msg: &T,
) -> Result<(), ProtoError> {
    let frame = encode_frame(msg)?;
    w.write_all(&frame).await?;
    w.flush().await?;
    Ok(())
}

/// [`read_frame`] for a tokio stream, with the same guarantees.
///
/// Not cancel-safe: if the future is dropped mid-frame, the stream is no
/// longer aligned on a frame and must be closed. Race it against a shutdown
/// signal only when cancelling also drops the connection.
pub async fn read_frame_async<T: Message>(
    r: &mut (impl AsyncRead + Unpin),
) -> Result<Option<T>, ProtoError> {
    let mut header = [0; HEADER];
    match fill_async(r, &mut header).await? {
        0 => return Ok(None),
        HEADER => {}
        got => return Err(truncated(HEADER, got)),
    }
    let len = body_len(header)?;
    let mut body = vec![0; len];
    let got = fill_async(r, &mut body).await?;
    if got < len {
        return Err(truncated(len, got));
    }
    decode_body(&body).map(Some)
}
