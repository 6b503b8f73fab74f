//! `events`: the event log, from its file and then live.
//!
//! A follower subscribes *before* reading the file, so every record is in
//! the file part, the live part, or both; records are deduplicated by
//! `seq`, so none is missing and none is sent twice. The live part is the
//! conductor's bounded broadcast: a follower that falls behind it is moved
//! ahead and told how many records it missed — the log writer, and so
//! every session, never waits for it. What the broadcast holds when a
//! follower wakes is written to it at once, in one write.

use std::ops::ControlFlow;
use std::sync::Arc;

use baton_core::eventlog::{LoggedEvent, RawLog, Record};
use baton_proto::request::Events;
use baton_proto::response::{EndOfStream, ErrorKind, EventRecord, SkippedEvents};
use baton_proto::{ProtoError, Response, encode_frame, length_prefix};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Daemon;
use super::connection::Peer;

pub async fn stream(daemon: &Daemon, req: Events, peer: &mut Peer) -> Result<(), ProtoError> {
    let mut live = daemon.conductor.subscribe();
    // Everything after `since` is still to come: skip the file (a `wait`
    // from `baton mcp` resumes this way, and must not read the whole log).
    let written = daemon.conductor.last_seq();
    let mut seen = Seen::default();
    if let Some(since) = req.since {
        // Records up to `since` are not wanted, and none up to `written`
        // was left unread.
        seen.note(since.min(written));
    }
    if req.since.is_none_or(|since| since < written) {
        let path = daemon.conductor.events_path();
        match from_file(path, &req, peer).await? {
            Ok(last) => seen = seen.max(last),
            Err(message) => {
                return peer
                    .send(&Response::error(ErrorKind::Internal, message))
                    .await;
            }
        }
    }
    if !req.follow {
        return peer
            .send(&Response::EndOfStream(EndOfStream::default()))
            .await;
    }

    let mut stopping = daemon.stopping.clone();
    let mut follow = Follow {
        req: &req,
        seen,
        lagged: None,
        batch: Vec::new(),
    };
    loop {
        let next = if *stopping.borrow() {
            // The daemon is stopping: send what is queued, then end.
            match queued(&mut live) {
                Some(next) => next,
                None => break,
            }
        } else {
            tokio::select! {
                next = live.recv() => next,
                changed = stopping.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
                () = peer.gone() => return Ok(()),
            }
        };
        if !follow.take(next)? {
            break;
        }
        // What else is queued now goes in the same write: a subscriber
        // behind a busy log pays one syscall per wake-up, not per record.
        while follow.batch.len() < BATCH_BYTES
            && let Some(next) = queued(&mut live)
        {
            follow.take(next)?;
        }
        if !follow.batch.is_empty() {
            peer.send_encoded(&follow.batch).await?;
            follow.batch.clear();
        }
    }
    if let Some(count) = follow.lagged.filter(|n| *n > 0) {
        let skipped = SkippedEvents {
            count,
            deleted: false,
        };
        peer.send(&Response::SkippedEvents(skipped)).await?;
    }
    peer.send(&Response::EndOfStream(EndOfStream::default()))
        .await
}

/// The file part: the log's records after `req.since`, forwarded as their
/// lines were written (each spliced into an `event` frame, never decoded
/// whole and encoded again), in writes of [`BATCH_BYTES`] while the file is
/// still being read. The highest `seq` read, or why the log could not be
/// read.
async fn from_file(
    path: std::path::PathBuf,
    req: &Events,
    peer: &mut Peer,
) -> Result<Result<Seen, String>, ProtoError> {
    let (tx, mut batches) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
    let (since, session) = (req.since.unwrap_or(0), req.session.clone());
    let reading = tokio::task::spawn_blocking(move || {
        let mut seen = Seen::default();
        let mut batch = Vec::new();
        let mut failed = None;
        let log = match RawLog::open(&path, since) {
            Ok(log) => log,
            Err(e) => return (Err(e), seen, None),
        };
        // Asked for records that retention deleted: say how many.
        let from = since + 1;
        if let Some(first) = log.deleted_before().filter(|first| from < *first) {
            let skipped = SkippedEvents {
                count: first - from,
                deleted: true,
            };
            match encode_frame(&Response::SkippedEvents(skipped)) {
                Ok(frame) => batch.extend(frame),
                Err(e) => return (Ok(()), seen, Some(e)),
            }
        }
        let read = log.for_each(|raw| {
            seen.note(raw.seq);
            if wanted(since, session.as_deref(), raw.seq, raw.session) {
                if let Err(e) = splice_event(&mut batch, raw.line) {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
                if batch.len() >= BATCH_BYTES
                    && tx.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        (read, seen, failed)
    });
    while let Some(batch) = batches.recv().await {
        peer.send_encoded(&batch).await?;
    }
    let (read, seen, failed) = match reading.await {
        Ok(done) => done,
        Err(e) => return Ok(Err(format!("reading the event log failed: {e}"))),
    };
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(read.map(|()| seen).map_err(|e| e.to_string()))
}

/// Appends to `frames` the `event` frame of the record whose line, as the
/// log holds it, is `line`: the frame [`encode_frame`] makes of it, but
/// without decoding the record and encoding it again.
fn splice_event(frames: &mut Vec<u8>, line: &[u8]) -> Result<(), ProtoError> {
    const HEAD: &[u8] = br#"{"reply":"event","record":"#;
    frames.extend_from_slice(&length_prefix(HEAD.len() + line.len() + 1)?);
    frames.extend_from_slice(HEAD);
    frames.extend_from_slice(line);
    frames.push(b'}');
    Ok(())
}

/// What the broadcast holds now, without waiting: `None` when it holds
/// nothing (or has closed).
fn queued(live: &mut Receiver<Arc<LoggedEvent>>) -> Option<Result<Arc<LoggedEvent>, RecvError>> {
    match live.try_recv() {
        Ok(record) => Some(Ok(record)),
        Err(TryRecvError::Lagged(n)) => Some(Err(RecvError::Lagged(n))),
        Err(TryRecvError::Empty | TryRecvError::Closed) => None,
    }
}

/// Frames gathered for one write before it is sent: a few hundred
/// records.
const BATCH_BYTES: usize = 256 << 10;

/// A follower's live part: what it has seen, what the broadcast said it
/// missed, and the frames not written yet.
struct Follow<'a> {
    req: &'a Events,
    seen: Seen,
    /// Records missed from the broadcast, until the next record says
    /// exactly how many.
    lagged: Option<u64>,
    batch: Vec<u8>,
}

impl Follow<'_> {
    /// Takes what the broadcast gave: the frames it calls for go into the
    /// batch. `false` when the broadcast has closed.
    fn take(&mut self, next: Result<Arc<LoggedEvent>, RecvError>) -> Result<bool, ProtoError> {
        match next {
            Ok(logged) => {
                if let Some(count) = self
                    .lagged
                    .take()
                    .map(|n| self.seen.missed_before(logged.record.seq, n))
                    && count > 0
                {
                    let skipped = SkippedEvents {
                        count,
                        deleted: false,
                    };
                    self.batch
                        .extend(encode_frame(&Response::SkippedEvents(skipped))?);
                }
                if self.seen.is_new(logged.record.seq) {
                    self.seen.note(logged.record.seq);
                    let record = &logged.record;
                    let since = self.req.since.unwrap_or(0);
                    let session = self.req.session.as_deref();
                    if wanted(since, session, record.seq, record.session.as_deref()) {
                        self.batch
                            .extend(encode_frame(&event(unwrap_record(logged)))?);
                    }
                }
                Ok(true)
            }
            Err(RecvError::Lagged(n)) => {
                *self.lagged.get_or_insert(0) += n;
                Ok(true)
            }
            Err(RecvError::Closed) => Ok(false),
        }
    }
}

/// Whether a follower asking for records after `since` (of `session`
/// only, when it names one) wants record `seq` of `of`.
fn wanted(since: u64, session: Option<&str>, seq: u64, of: Option<&str>) -> bool {
    seq > since && session.is_none_or(|id| of == Some(id))
}

fn event(record: Record) -> Response {
    Response::Event(Box::new(EventRecord { record }))
}

fn unwrap_record(logged: Arc<LoggedEvent>) -> Record {
    Arc::try_unwrap(logged)
        .map(|logged| logged.record)
        .unwrap_or_else(|shared| shared.record.clone())
}

/// The highest `seq` seen so far, from the file or live.
#[derive(Debug, Default, Clone, Copy)]
struct Seen(Option<u64>);

impl Seen {
    fn note(&mut self, seq: u64) {
        self.0 = Some(self.0.map_or(seq, |last| last.max(seq)));
    }

    /// The higher of two.
    fn max(self, other: Seen) -> Seen {
        Seen(self.0.max(other.0))
    }

    fn is_new(self, seq: u64) -> bool {
        self.0.is_none_or(|last| seq > last)
    }

    /// How many records before `seq` were never seen, after the broadcast
    /// reported `lagged` lost ones. The log's `seq`s have no gaps, so the
    /// distance is exact; some of the lost ones may have been in the file.
    fn missed_before(self, seq: u64, lagged: u64) -> u64 {
        match self.0 {
            Some(last) => seq.saturating_sub(last).saturating_sub(1),
            None => lagged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record's line spliced into a frame is the frame of that record.
    #[test]
    fn a_spliced_line_is_the_records_event_frame() {
        let line = br#"{"seq":7,"ts":"2026-12-07T17:00:00.000001Z","session":"w1","event":"exit","code":3,"signal":null,"runtime_ms":12}"#;
        let record: Record = serde_json::from_slice(line).unwrap();
        let mut frames = Vec::new();
        splice_event(&mut frames, line).unwrap();
        splice_event(&mut frames, line).unwrap();
        let mut reader = &frames[..];
        for _ in 0..2 {
            let got = baton_proto::read_frame::<Response>(&mut reader).unwrap();
            assert_eq!(got, Some(event(record.clone())));
        }
        assert!(reader.is_empty());
        let huge = vec![b' '; baton_proto::MAX_FRAME];
        assert!(matches!(
            splice_event(&mut frames, &huge),
            Err(ProtoError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn dedupe_and_gap_counting() {
        let mut seen = Seen::default();
        assert!(seen.is_new(1));
        assert_eq!(seen.missed_before(5, 9), 9);
        for seq in [1, 2, 3] {
            seen.note(seq);
        }
        assert!(!seen.is_new(3));
        assert!(!seen.is_new(2));
        assert!(seen.is_new(4));
        // Lost 4..=9 from the broadcast, next record is 10.
        assert_eq!(seen.missed_before(10, 100), 6);
        // The lost ones had all been read from the file.
        assert_eq!(seen.missed_before(4, 100), 0);
        assert_eq!(seen.missed_before(2, 100), 0);
    }
}
