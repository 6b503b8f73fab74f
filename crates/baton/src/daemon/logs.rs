//! `logs`: a session's output, read back from the log file it appends to.
//!
//! The daemon only ever reads the file; the session's run writes it without
//! knowing anyone is looking. So a reader, however slow, can never hold a
//! session up: it only falls behind the end of the file, and once it is
//! more than [`MAX_LAG`] behind it is moved to the last [`RESUME_TAIL`]
//! bytes (from a line start) and told how many bytes it missed (they stay
//! in the file). New output is noticed through an inotify watch on the
//! file (a short poll until the file exists), the session's end through the
//! event broadcast.

use std::io::{self, ErrorKind as IoErrorKind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_config::SessionId;
use baton_core::SessionState;
use baton_core::eventlog::{Event, LoggedEvent};
use baton_core::proc::FileWatch;
use baton_core::seglog::{Chunk, LogReader};
use baton_proto::request::Logs;
use baton_proto::response::{EndOfStream, ErrorKind, LogChunk, Skipped};
use baton_proto::{ProtoError, Response};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Daemon;
use super::connection::{Peer, conductor_error, unknown_session};

/// How far a follower may trail the end of the file before it is moved ahead.
pub const MAX_LAG: u64 = 4 * 1024 * 1024;

/// How much of the most recent output a follower that was moved ahead
/// still gets, from the first line start in it: what is happening now.
const RESUME_TAIL: u64 = 64 * 1024;

/// How often a follower looks for new output when it cannot be told of
/// it: the file does not exist yet, or no inotify watch could be set.
const POLL: Duration = Duration::from_millis(50);

/// With a watch on the file, how often a follower looks anyway: a safety
/// net should a notice ever be lost.
const POLL_WATCHED: Duration = Duration::from_secs(1);

/// Block size for scanning backwards for `--tail`.
const TAIL_BLOCK: usize = 64 * 1024;

/// Why a stream stopped early.
enum Stop {
    /// The client is gone or the frame could not be written.
    Peer(ProtoError),
    /// The log file could not be read; the client is told.
    File(String),
}

impl From<ProtoError> for Stop {
    fn from(e: ProtoError) -> Stop {
        Stop::Peer(e)
    }
}

pub async fn stream(daemon: &Daemon, req: Logs, peer: &mut Peer) -> Result<(), ProtoError> {
    match run(daemon, &req, peer).await {
        Ok(()) => Ok(()),
        Err(Stop::Peer(e)) => Err(e),
        Err(Stop::File(message)) => {
            peer.send(&Response::error(ErrorKind::Internal, message))
                .await
        }
    }
}

async fn run(daemon: &Daemon, req: &Logs, peer: &mut Peer) -> Result<(), Stop> {
    let Ok(id) = req.id.parse::<SessionId>() else {
        peer.send(&unknown_session(&req.id)).await?;
        return Ok(());
    };
    // Subscribed before the state is read: an end after that read is seen.
    let mut events = daemon.conductor.subscribe();
    let state = match session_state(daemon, &id).await {
        Ok(Some(state)) => state,
        Ok(None) => {
            peer.send(&unknown_session(&req.id)).await?;
            return Ok(());
        }
        Err(reply) => {
            peer.send(&reply).await?;
            return Ok(());
        }
    };
    let stream = if req.stderr { "err" } else { "out" };
    let log = LogFile::new(daemon.logs_dir.join(format!("{id}.{stream}.log")));
    let len = log.len().await?;
    let start = match (req.offset, req.tail_bytes, req.tail) {
        (Some(offset), _, _) => offset,
        (None, Some(bytes), _) => len.saturating_sub(bytes),
        (None, None, Some(lines)) => log.tail_start(len, lines).await?,
        (None, None, None) => 0,
    };
    let mut reader = Reader {
        log,
        pos: start,
        catch_up_end: len,
    };
    if !req.follow {
        let limit = req
            .max_bytes
            .map_or(len, |max| start.saturating_add(max).min(len));
        reader.pump(peer, Some(limit)).await?;
        let end = EndOfStream { log_len: Some(len) };
        peer.send(&Response::EndOfStream(end)).await?;
        return Ok(());
    }

    let mut stopping = daemon.stopping.clone();
    let mut ended = state.is_terminal() || *stopping.borrow();
    // The watch, on the log's active file (a new one after a roll-over).
    let mut watch: Option<(PathBuf, FileWatch)> = None;
    loop {
        // Set before the file is read, so no write after the read is missed.
        let active = reader.log.active_path().await;
        if active.is_some() && active.as_ref() != watch.as_ref().map(|(path, _)| path) {
            watch = active.and_then(|path| Some((path.clone(), FileWatch::new(&path).ok()?)));
        }
        let drained_after_end = ended;
        let sent = reader.pump(peer, None).await?;
        if drained_after_end {
            break;
        }
        loop {
            match events.try_recv() {
                Ok(event) => ended |= ends(&event, &id),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(_)) => ended |= is_over(daemon, &id).await,
                Err(TryRecvError::Closed) => {
                    ended = true;
                    break;
                }
            }
        }
        if ended || sent {
            continue;
        }
        let poll = if watch.is_some() { POLL_WATCHED } else { POLL };
        let modified = async {
            match &watch {
                Some((_, watch)) => watch.changed().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            () = modified => {}
            event = events.recv() => match event {
                Ok(event) => ended |= ends(&event, &id),
                Err(RecvError::Lagged(_)) => ended |= is_over(daemon, &id).await,
                Err(RecvError::Closed) => ended = true,
            },
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    ended = true;
                }
            }
            () = peer.gone() => return Ok(()),
        }
    }
    peer.send(&Response::EndOfStream(EndOfStream::default()))
        .await?;
    Ok(())
}

/// The session's state, `None` if it does not exist, or the reply to send.
async fn session_state(daemon: &Daemon, id: &SessionId) -> Result<Option<SessionState>, Response> {
    match daemon.conductor.snapshot().await {
        Ok(table) => Ok(table
            .into_iter()
            .find(|s| s.id == id.as_str())
            .map(|s| s.state)),
        Err(e) => Err(conductor_error(e)),
    }
}

/// True when the session is terminal or gone, or the conductor has stopped.
async fn is_over(daemon: &Daemon, id: &SessionId) -> bool {
    match session_state(daemon, id).await {
        Ok(Some(state)) => state.is_terminal(),
        Ok(None) | Err(_) => true,
    }
}

/// True if `event` puts session `id` in a terminal state.
fn ends(event: &LoggedEvent, id: &SessionId) -> bool {
    event.record.session.as_deref() == Some(id.as_str())
        && matches!(event.record.event, Event::State { to, .. } if to.is_terminal())
}

/// A session's log, read across its segments (see [`baton_core::seglog`]).
struct LogFile {
    path: PathBuf,
    reader: Arc<std::sync::Mutex<LogReader>>,
}

impl LogFile {
    fn new(path: PathBuf) -> LogFile {
        let reader = Arc::new(std::sync::Mutex::new(LogReader::new(&path)));
        LogFile { path, reader }
    }

    fn failed(&self, e: io::Error) -> Stop {
        Stop::File(format!("cannot read {}: {e}", self.path.display()))
    }

    /// Runs `f` on the reader on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut LogReader) -> io::Result<T> + Send + 'static,
    ) -> Result<T, Stop> {
        let reader = self.reader.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut reader = reader.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut reader)
        })
        .await;
        match done {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(e) => Err(self.failed(io::Error::other(e))),
        }
    }

    /// The active file, once the log has one (to watch it).
    async fn active_path(&self) -> Option<PathBuf> {
        self.with(|r| r.active_path()).await.ok().flatten()
    }

    /// The global length (0 while the log does not exist).
    async fn len(&self) -> Result<u64, Stop> {
        self.with(|r| r.len()).await
    }

    /// Up to `max` bytes at `pos`.
    async fn read(&self, pos: u64, max: usize) -> Result<Chunk, Stop> {
        self.with(move |r| r.read_at(pos, max)).await
    }

    /// Where the last `lines` lines of the first `len` bytes begin (not
    /// before the first byte still kept).
    async fn tail_start(&self, len: u64, lines: u64) -> Result<u64, Stop> {
        self.with(move |r| {
            let first = r.first_kept()?;
            let found = tail_start(
                |pos, buf| match r.read_at(pos, buf.len())? {
                    Chunk::Bytes(bytes) => {
                        buf[..bytes.len()].copy_from_slice(&bytes);
                        Ok(bytes.len())
                    }
                    Chunk::Dropped { .. } => Ok(0),
                },
                first,
                len,
                lines,
            );
            match found {
                Ok(pos) => Ok(pos),
                // Deleted while it was read: from the first byte kept.
                Err(e) if e.kind() == IoErrorKind::UnexpectedEof => Ok(first),
                Err(e) => Err(e),
            }
        })
        .await
    }
}

/// A reader's place in a log file.
struct Reader {
    log: LogFile,
    /// Next byte to send.
    pos: u64,
    /// The file's length when the request came: output up to here is sent
    /// in full however long it takes; only later output can be skipped.
    catch_up_end: u64,
}

impl Reader {
    /// Sends everything from `pos` to the end of the file (or to `limit`),
    /// skipping ahead when more than [`MAX_LAG`] behind after the catch-up.
    /// Returns whether anything was sent.
    async fn pump(&mut self, peer: &mut Peer, limit: Option<u64>) -> Result<bool, Stop> {
        let mut sent = false;
        loop {
            let len = self.log.len().await?;
            let end = limit.map_or(len, |limit| limit.min(len));
            if end <= self.pos {
                return Ok(sent);
            }
            let behind = end - self.pos;
            if limit.is_none() && self.pos >= self.catch_up_end && behind > MAX_LAG {
                let resume = self.resume_point(end).await?;
                let bytes = resume - self.pos;
                self.pos = resume;
                let skipped = Skipped {
                    bytes,
                    deleted: false,
                };
                peer.send(&Response::Skipped(skipped)).await?;
                sent = true;
                continue;
            }
            let want = behind.min(LogChunk::MAX_BYTES as u64) as usize;
            let bytes = match self.log.read(self.pos, want).await? {
                Chunk::Bytes(bytes) => bytes,
                Chunk::Dropped { to } => {
                    let bytes = to - self.pos;
                    self.pos = to;
                    let skipped = Skipped {
                        bytes,
                        deleted: true,
                    };
                    peer.send(&Response::Skipped(skipped)).await?;
                    sent = true;
                    continue;
                }
            };
            if bytes.is_empty() {
                return Ok(sent);
            }
            peer.send(&Response::LogChunk(LogChunk::new(self.pos, &bytes)))
                .await?;
            self.pos += bytes.len() as u64;
            sent = true;
        }
    }
}

impl Reader {
    /// Where a reader moved ahead resumes: the first line start in the last
    /// [`RESUME_TAIL`] bytes before `end` (or that point itself when the
    /// tail holds no newline).
    async fn resume_point(&mut self, end: u64) -> Result<u64, Stop> {
        let from = end.saturating_sub(RESUME_TAIL).max(self.pos);
        let tail = match self.log.read(from, (end - from) as usize).await? {
            Chunk::Bytes(tail) => tail,
            Chunk::Dropped { to } => return Ok(to),
        };
        Ok(match tail.iter().position(|b| *b == b'\n') {
            Some(i) if (i as u64) + 1 < end - from => from + i as u64 + 1,
            _ => from,
        })
    }
}

/// Offset where the last `lines` lines of a `len`-byte file begin. A final
/// newline ends the last line rather than starting an empty one; a last
/// line without a newline counts as a line.
fn tail_start(
    mut read_at: impl FnMut(u64, &mut [u8]) -> io::Result<usize>,
    first: u64,
    len: u64,
    lines: u64,
) -> io::Result<u64> {
    if lines == 0 {
        return Ok(len);
    }
    let mut read_exact = |pos: u64, buf: &mut [u8]| -> io::Result<()> {
        let mut got = 0;
        while got < buf.len() {
            match read_at(pos + got as u64, &mut buf[got..]) {
                Ok(0) => return Err(io::Error::from(IoErrorKind::UnexpectedEof)),
                Ok(n) => got += n,
                Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    if len <= first {
        return Ok(len);
    }
    let mut last = [0u8; 1];
    read_exact(len - 1, &mut last)?;
    let mut end = if last[0] == b'\n' { len - 1 } else { len };
    let mut found = 0u64;
    let mut buf = vec![0u8; TAIL_BLOCK];
    while end > first {
        let start = end.saturating_sub(TAIL_BLOCK as u64).max(first);
        let n = (end - start) as usize;
        read_exact(start, &mut buf[..n])?;
        for i in (0..n).rev() {
            if buf[i] == b'\n' {
                found += 1;
                if found == lines {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &[u8], lines: u64) -> u64 {
        let read_at = |pos: u64, buf: &mut [u8]| -> io::Result<usize> {
            let pos = pos as usize;
            let n = buf.len().min(text.len().saturating_sub(pos));
            buf[..n].copy_from_slice(&text[pos..pos + n]);
            Ok(n)
        };
        tail_start(read_at, 0, text.len() as u64, lines).unwrap()
    }

    #[test]
    fn tail_counts_lines_from_the_end() {
        let cases: &[(&[u8], u64, u64)] = &[
            (b"", 3, 0),
            (b"a\nb\nc\n", 0, 6),
            (b"a\nb\nc\n", 1, 4),
            (b"a\nb\nc\n", 2, 2),
            (b"a\nb\nc\n", 3, 0),
            (b"a\nb\nc\n", 9, 0),
            (b"a\nb\nc", 1, 4),
            (b"a\nb\nc", 2, 2),
            (b"\n\n", 1, 1),
            (b"\n\n", 2, 0),
            (b"no newline", 1, 0),
        ];
        for (text, lines, want) in cases {
            assert_eq!(
                tail(text, *lines),
                *want,
                "{:?} tail {lines}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn tail_crosses_block_boundaries() {
        let mut text = Vec::new();
        for i in 0..50_000 {
            text.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let start = tail(&text, 20_000) as usize;
        let rest = String::from_utf8(text[start..].to_vec()).unwrap();
        assert_eq!(rest.lines().count(), 20_000);
        assert!(rest.starts_with("line 30000\n"), "{}", &rest[..20]);
    }
}
