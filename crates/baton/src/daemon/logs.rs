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

use std::fs::File;
use std::io::{self, ErrorKind as IoErrorKind};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_config::SessionId;
use baton_core::SessionState;
use baton_core::eventlog::{Event, LoggedEvent};
use baton_core::proc::FileWatch;
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
    let mut log = LogFile::new(daemon.logs_dir.join(format!("{id}.{stream}.log")));
    let len = log.len().map_err(|e| log.failed(e))?;
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
    let mut watch: Option<FileWatch> = None;
    loop {
        // Set before the file is read, so no write after the read is missed.
        if watch.is_none() && reader.log.exists() {
            watch = FileWatch::new(&reader.log.path).ok();
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
                Some(watch) => watch.changed().await,
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

/// A session's log file, opened once it exists.
struct LogFile {
    path: PathBuf,
    file: Option<Arc<File>>,
}

impl LogFile {
    fn new(path: PathBuf) -> LogFile {
        LogFile { path, file: None }
    }

    fn failed(&self, e: io::Error) -> Stop {
        Stop::File(format!("cannot read {}: {e}", self.path.display()))
    }

    /// The file, if it exists yet (a session that has not started has none).
    fn file(&mut self) -> io::Result<Option<Arc<File>>> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(file) => self.file = Some(Arc::new(file)),
                Err(e) if e.kind() == IoErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(self.file.clone())
    }

    /// True once the file exists.
    fn exists(&mut self) -> bool {
        matches!(self.file(), Ok(Some(_)))
    }

    /// Current length (0 while the file does not exist).
    fn len(&mut self) -> io::Result<u64> {
        match self.file()? {
            Some(file) => Ok(file.metadata()?.len()),
            None => Ok(0),
        }
    }

    /// Up to `max` bytes at `pos`, read on a blocking thread.
    async fn read(&mut self, pos: u64, max: usize) -> Result<Vec<u8>, Stop> {
        let Some(file) = self.file().map_err(|e| self.failed(e))? else {
            return Ok(Vec::new());
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; max];
            let mut got = 0;
            while got < max {
                match file.read_at(&mut buf[got..], pos + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(got);
            Ok(buf)
        })
        .await;
        match read {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(e) => Err(self.failed(io::Error::other(e))),
        }
    }

    /// Where the last `lines` lines of the first `len` bytes begin.
    async fn tail_start(&mut self, len: u64, lines: u64) -> Result<u64, Stop> {
        let Some(file) = self.file().map_err(|e| self.failed(e))? else {
            return Ok(0);
        };
        let found = tokio::task::spawn_blocking(move || {
            tail_start(|pos, buf| file.read_at(buf, pos), len, lines)
        })
        .await;
        match found {
            Ok(Ok(pos)) => Ok(pos),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(e) => Err(self.failed(io::Error::other(e))),
        }
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
            let len = self.log.len().map_err(|e| self.log.failed(e))?;
            let end = limit.map_or(len, |limit| limit.min(len));
            if end <= self.pos {
                return Ok(sent);
            }
            let behind = end - self.pos;
            if limit.is_none() && self.pos >= self.catch_up_end && behind > MAX_LAG {
                let resume = self.resume_point(end).await?;
                let bytes = resume - self.pos;
                self.pos = resume;
                peer.send(&Response::Skipped(Skipped { bytes })).await?;
                sent = true;
                continue;
            }
            let want = behind.min(LogChunk::MAX_BYTES as u64) as usize;
            let bytes = self.log.read(self.pos, want).await?;
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
        let tail = self.log.read(from, (end - from) as usize).await?;
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
    read_at: impl Fn(u64, &mut [u8]) -> io::Result<usize>,
    len: u64,
    lines: u64,
) -> io::Result<u64> {
    if lines == 0 {
        return Ok(len);
    }
    let read_exact = |pos: u64, buf: &mut [u8]| -> io::Result<()> {
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
    if len == 0 {
        return Ok(0);
    }
    let mut last = [0u8; 1];
    read_exact(len - 1, &mut last)?;
    let mut end = if last[0] == b'\n' { len - 1 } else { len };
    let mut found = 0u64;
    let mut buf = vec![0u8; TAIL_BLOCK];
    while end > 0 {
        let start = end.saturating_sub(TAIL_BLOCK as u64);
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
    Ok(0)
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
        tail_start(read_at, text.len() as u64, lines).unwrap()
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
