//! `events`: the event log, from its file and then live.
//!
//! A follower subscribes *before* reading the file, so every record is in
//! the file part, the live part, or both; records are deduplicated by
//! `seq`, so none is missing and none is sent twice. The live part is the
//! conductor's bounded broadcast: a follower that falls behind it is moved
//! ahead and told how many records it missed — the log writer, and so
//! every session, never waits for it. What the broadcast holds when a
//! follower wakes is written to it at once, in one write.

use std::sync::Arc;

use baton_core::eventlog::{LogContents, LoggedEvent, Record, read_log_since};
use baton_proto::request::Events;
use baton_proto::response::{EndOfStream, ErrorKind, EventRecord, SkippedEvents};
use baton_proto::{ProtoError, Response, encode_frame};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::Daemon;
use super::connection::Peer;

pub async fn stream(daemon: &Daemon, req: Events, peer: &mut Peer) -> Result<(), ProtoError> {
    let mut live = daemon.conductor.subscribe();
    // Everything after `since` is still to come: skip the file (a `wait`
    // from `baton mcp` resumes this way, and must not read the whole log).
    let written = daemon.conductor.last_seq();
    let path = daemon.conductor.events_path();
    let read = match req.since {
        Some(since) if since >= written => Ok(Ok(LogContents::default())),
        _ => {
            let since = req.since.unwrap_or(0);
            tokio::task::spawn_blocking(move || read_log_since(&path, since)).await
        }
    };
    let mut seen = Seen::default();
    if let Some(since) = req.since {
        // Records up to `since` are not wanted, and none up to `written`
        // was left unread.
        seen.note(since.min(written));
    }
    let records = match read {
        Ok(Ok(log)) => {
            // Asked for records that retention deleted: say how many.
            if let Some(first) = log.deleted_before {
                let from = req.since.unwrap_or(0) + 1;
                if from < first {
                    let skipped = SkippedEvents {
                        count: first - from,
                        deleted: true,
                    };
                    peer.send(&Response::SkippedEvents(skipped)).await?;
                }
            }
            log.records
        }
        Ok(Err(e)) => {
            return peer
                .send(&Response::error(ErrorKind::Internal, e.to_string()))
                .await;
        }
        Err(e) => {
            let message = format!("reading the event log failed: {e}");
            return peer
                .send(&Response::error(ErrorKind::Internal, message))
                .await;
        }
    };
    for record in records {
        seen.note(record.seq);
        if wanted(&req, &record) {
            peer.send(&event(record)).await?;
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
                    if wanted(self.req, &logged.record) {
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

fn wanted(req: &Events, record: &Record) -> bool {
    req.since.is_none_or(|since| record.seq > since)
        && req
            .session
            .as_deref()
            .is_none_or(|id| record.session.as_deref() == Some(id))
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
