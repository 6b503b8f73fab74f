//! The log writer: one thread, group commit, publish after write.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use baton_config::FsyncPolicy;
use tokio::sync::{broadcast, oneshot};

use super::{Event, FORMAT_MAJOR, FORMAT_MINOR, FORMAT_NAME, Header, Record, now_rfc3339};
use crate::seglog::{self, Head, Limits};

/// Longest time a written record may stay unsynced under `fsync = "batch"`.
const BATCH_WINDOW: Duration = Duration::from_millis(50);

/// A record as published to subscribers, with the exact line written to disk.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    /// The record.
    pub record: Record,
    /// The JSON line as written (without the newline).
    pub line: String,
}

/// Errors opening or writing the event log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Filesystem error, with the path.
    #[error("event log {}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file was written by a newer, incompatible baton.
    #[error(
        "event log {} has format version {found}; this baton writes {FORMAT_MAJOR}.{FORMAT_MINOR} and will not append to a newer major version",
        path.display()
    )]
    NewerMajor {
        /// The log file.
        path: PathBuf,
        /// The version found.
        found: String,
    },
    /// The file is not a baton event log or is damaged in the middle.
    #[error("event log {}: line {line}: {problem}", path.display())]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The writer thread is gone (it failed earlier or the log was closed).
    #[error("event log is closed")]
    Closed,
}

enum Request {
    Append {
        session: Option<String>,
        event: Box<Event>,
    },
    /// Reply once everything queued before it is written (and synced if `sync`).
    Barrier {
        sync: bool,
        reply: oneshot::Sender<Result<(), WriteFailed>>,
    },
    Close {
        reply: oneshot::Sender<Result<(), WriteFailed>>,
    },
}

/// Handle to the event log. Appends never block the caller; records reach
/// subscribers only after they are in the file.
#[derive(Debug, Clone)]
pub struct EventLog {
    tx: mpsc::Sender<Request>,
    events: broadcast::Sender<Arc<LoggedEvent>>,
    path: PathBuf,
    written: Arc<AtomicU64>,
}

impl EventLog {
    /// Opens (or creates) the log at `path`, repairing a torn last line and
    /// continuing the sequence after the last record. It never rolls over.
    pub fn open(path: &Path, fsync: FsyncPolicy) -> Result<EventLog, LogError> {
        EventLog::open_with(path, fsync, Limits::UNBOUNDED)
    }

    /// [`EventLog::open`] for a log that rolls over into segments at
    /// `limits.max_size` (between whole batches of records, never inside
    /// one) and keeps the newest `limits.keep` finished ones — never one
    /// that holds a record of a session not yet ended. The layout is
    /// [`crate::seglog`]'s, each segment named by the `seq` of its first
    /// record, which its header states too. Repairs what a conductor that
    /// died mid-roll-over left.
    pub fn open_with(
        path: &Path,
        fsync: FsyncPolicy,
        limits: Limits,
    ) -> Result<EventLog, LogError> {
        let io = |source| LogError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let opened = open_active(path)?;
        // What retention must keep: every record of a session still going.
        let live = match limits.keep {
            Some(_) => live_sessions(&super::read_log(path)?.records),
            None => HashMap::new(),
        };
        let next_seq = opened.next_seq;
        let (tx, rx) = mpsc::channel();
        let (events, _) = broadcast::channel(4096);
        let written = Arc::new(AtomicU64::new(next_seq - 1));
        let writer = Writer {
            path: path.to_owned(),
            file: opened.file,
            active: opened.active,
            has_records: opened.has_records,
            len: opened.len,
            limits,
            live,
            fsync,
            next_seq,
            written: written.clone(),
            events: events.clone(),
            dirty_since: None,
            failed: None,
        };
        std::thread::Builder::new()
            .name("baton-eventlog".into())
            .spawn(move || writer.run(rx))
            .map_err(io)?;
        Ok(EventLog {
            tx,
            events,
            path: path.to_owned(),
            written,
        })
    }

    /// The `seq` of the last record written to the file (0 for none).
    /// Every record after it is published after this call returns, so a
    /// subscriber made before the call misses none of them.
    pub fn last_seq(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The file this log writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues an event. It is published to subscribers once written.
    pub fn append(&self, session: Option<&str>, event: Event) {
        // A send error means the writer is gone; barriers report it.
        let _ = self.tx.send(Request::Append {
            session: session.map(str::to_owned),
            event: Box::new(event),
        });
    }

    /// [`EventLog::append`] for an event already boxed, as the supervisor
    /// holds its decided records.
    pub(crate) fn append_boxed(&self, session: Option<String>, event: Box<Event>) {
        let _ = self.tx.send(Request::Append { session, event });
    }

    /// Subscribes to records as they are written. A subscriber that falls
    /// more than 4096 records behind is told how many it missed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LoggedEvent>> {
        self.events.subscribe()
    }

    /// Resolves once every event appended before this call is in the file
    /// (and on stable storage when `sync`).
    pub async fn barrier(&self, sync: bool) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Barrier { sync, reply })
            .map_err(|_| LogError::Closed)?;
        self.await_reply(rx).await
    }

    /// Writes and syncs everything queued, then stops the writer.
    pub async fn close(&self) -> Result<(), LogError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request::Close { reply })
            .map_err(|_| LogError::Closed)?;
        self.await_reply(rx).await
    }

    async fn await_reply(
        &self,
        rx: oneshot::Receiver<Result<(), WriteFailed>>,
    ) -> Result<(), LogError> {
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failed)) => Err(LogError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(failed.kind(), failed),
            }),
            Err(_) => Err(LogError::Closed),
        }
    }
}

/// The file records are appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Active {
    /// `events.jsonl` itself: the log never rolled over.
    Plain,
    /// The segment whose first record has this `seq`.
    Segment(u64),
}

/// The active file, opened and checked.
struct Opened {
    file: File,
    active: Active,
    len: u64,
    has_records: bool,
    next_seq: u64,
}

/// Opens the file the next record goes to, repairing what a conductor that
/// died mid-roll-over left: no `events.jsonl` after the first roll-over's
/// rename (a new segment follows the last), a newest segment the link does
/// not name yet (it is the active one), a segment without its header.
fn open_active(path: &Path) -> Result<Opened, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let found = seglog::segments(path).map_err(io)?;
    let head = seglog::head(path).map_err(io)?;
    let (active, file_path) = match (head, found.last()) {
        (Head::Plain, _) | (Head::Missing, None) => (Active::Plain, path.to_owned()),
        (Head::Missing, Some(last)) => {
            let next = last_seq(&last.path)? + 1;
            let opened = start_segment(path, next)?;
            seglog::link_to(path, next).map_err(io)?;
            return Ok(opened);
        }
        (Head::Link(linked), Some(last)) => {
            if linked != last.start {
                seglog::link_to(path, last.start).map_err(io)?;
            }
            (Active::Segment(last.start), last.path.clone())
        }
        (Head::Link(linked), None) => {
            let opened = start_segment(path, linked)?;
            return Ok(opened);
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&file_path)
        .map_err(|source| LogError::Io {
            path: file_path.clone(),
            source,
        })?;
    let first = match active {
        Active::Plain => None,
        Active::Segment(first) => Some(first),
    };
    let next_seq = prepare(&mut file, &file_path, first)?;
    let len = file
        .metadata()
        .map_err(|source| LogError::Io {
            path: file_path.clone(),
            source,
        })?
        .len();
    Ok(Opened {
        file,
        active,
        len,
        has_records: next_seq > first.unwrap_or(1),
        next_seq,
    })
}

/// Makes the segment whose first record will be `first` (its header only)
/// and opens it.
fn start_segment(path: &Path, first: u64) -> Result<Opened, LogError> {
    let file_path = seglog::segment_path(path, first);
    let io = |source| LogError::Io {
        path: file_path.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&file_path)
        .map_err(io)?;
    let line = header_line(Some(first)).map_err(io)?;
    file.write_all(&line)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    // Appends from here on.
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(&file_path)
        .map_err(io)?;
    Ok(Opened {
        file,
        active: Active::Segment(first),
        len: line.len() as u64,
        has_records: false,
        next_seq: first,
    })
}

/// The header line of a new file (`first_seq` for a segment).
fn header_line(first_seq: Option<u64>) -> std::io::Result<Vec<u8>> {
    let header = Header {
        format: FORMAT_NAME.into(),
        version: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
        created: now_rfc3339(),
        first_seq,
    };
    let mut line = serde_json::to_vec(&header)?;
    line.push(b'\n');
    Ok(line)
}

/// The `seq` of the last record of a finished file.
fn last_seq(path: &Path) -> Result<u64, LogError> {
    let bytes = std::fs::read(path).map_err(|source| LogError::Io {
        path: path.to_owned(),
        source,
    })?;
    let log = super::parse_log(&bytes, path)?;
    Ok(match log.records.last() {
        Some(record) => record.seq,
        None => log
            .header
            .and_then(|h| h.first_seq)
            .map_or(0, |first| first.saturating_sub(1)),
    })
}

/// Every session whose last `state` record is not terminal, with the
/// `seq` of its first record since it last ended: retention keeps those.
fn live_sessions(records: &[Record]) -> HashMap<String, u64> {
    let mut live = HashMap::new();
    for record in records {
        note_live(&mut live, record);
    }
    live
}

fn note_live(live: &mut HashMap<String, u64>, record: &Record) {
    let Some(session) = &record.session else {
        return;
    };
    match &record.event {
        Event::State { to, .. } if to.is_terminal() => {
            live.remove(session);
        }
        _ => {
            if !live.contains_key(session) {
                live.insert(session.clone(), record.seq);
            }
        }
    }
}

/// Checks the header, truncates a torn last line, validates the sequence
/// and returns the next `seq`. Writes the header into an empty file. A
/// segment's (`first`: its first record's `seq`) header must say so.
fn prepare(file: &mut File, path: &Path, first: Option<u64>) -> Result<u64, LogError> {
    let io = |source| LogError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.read_to_end(&mut bytes).map_err(io)?;
    // A crash can leave a partial last line: drop it so the next record starts clean.
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < bytes.len() {
        file.set_len(complete as u64).map_err(io)?;
        bytes.truncate(complete);
    }
    if bytes.is_empty() {
        let line = header_line(first).map_err(io)?;
        file.write_all(&line).map_err(io)?;
        file.sync_all().map_err(io)?;
        return Ok(first.unwrap_or(1));
    }
    let corrupt = |line: usize, problem: String| LogError::Corrupt {
        path: path.to_owned(),
        line,
        problem,
    };
    let mut lines = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let first_line = lines.next().unwrap_or_default();
    let header: Header = serde_json::from_slice(first_line)
        .map_err(|e| corrupt(1, format!("not a baton event log header: {e}")))?;
    if header.format != FORMAT_NAME {
        return Err(corrupt(1, format!("unknown format `{}`", header.format)));
    }
    match header.version_parts() {
        Some((major, _)) if major > FORMAT_MAJOR => {
            return Err(LogError::NewerMajor {
                path: path.to_owned(),
                found: header.version,
            });
        }
        Some(_) => {}
        None => {
            return Err(corrupt(1, format!("bad version `{}`", header.version)));
        }
    }
    // The first file (`events.jsonl`, or its first segment) starts at 1.
    if header.first_seq.unwrap_or(1) != first.unwrap_or(1) {
        return Err(corrupt(
            1,
            format!(
                "the header says the first record is {:?}, the file's name {first:?}",
                header.first_seq
            ),
        ));
    }
    #[derive(serde::Deserialize)]
    struct SeqOnly {
        seq: u64,
    }
    let mut last = first.map_or(0, |f| f - 1);
    for (i, line) in lines.enumerate() {
        let number = i + 2;
        let seq = serde_json::from_slice::<SeqOnly>(line)
            .map_err(|e| corrupt(number, format!("unreadable record: {e}")))?
            .seq;
        if seq != last + 1 {
            return Err(corrupt(
                number,
                format!("seq {seq} follows {last}; refusing to append to a log with a gap"),
            ));
        }
        last = seq;
    }
    Ok(last + 1)
}

/// The first write or fsync error of the log; every later request is
/// answered with it (shared, since many waiters may get it).
type WriteFailed = Arc<std::io::Error>;

struct Writer {
    /// The log's name (`events.jsonl`).
    path: PathBuf,
    file: File,
    active: Active,
    /// Bytes in the active file.
    len: u64,
    /// The active file holds a record (not only its header): it may roll.
    has_records: bool,
    limits: Limits,
    /// With retention: sessions not yet ended, and their first record's
    /// `seq` since they last ended (see [`live_sessions`]).
    live: HashMap<String, u64>,
    fsync: FsyncPolicy,
    next_seq: u64,
    /// Shared with [`EventLog::last_seq`].
    written: Arc<AtomicU64>,
    events: broadcast::Sender<Arc<LoggedEvent>>,
    dirty_since: Option<Instant>,
    failed: Option<WriteFailed>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut batch: Vec<Request> = Vec::new();
        loop {
            let first = match self.dirty_since {
                Some(since) if self.fsync == FsyncPolicy::Batch => {
                    let left = BATCH_WINDOW.saturating_sub(since.elapsed());
                    match rx.recv_timeout(left) {
                        Ok(req) => Some(req),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            self.sync();
                            return;
                        }
                    }
                }
                _ => match rx.recv() {
                    Ok(req) => Some(req),
                    Err(_) => {
                        self.sync();
                        return;
                    }
                },
            };
            let Some(first) = first else {
                self.sync();
                continue;
            };
            batch.push(first);
            batch.extend(rx.try_iter().take(4095));
            if self.commit(&mut batch) {
                return;
            }
        }
    }

    /// Writes one batch; returns true when the log was closed.
    fn commit(&mut self, batch: &mut Vec<Request>) -> bool {
        let first_of_batch = self.next_seq;
        let mut buf = Vec::with_capacity(batch.len() * 160);
        let mut written = Vec::new();
        let mut replies = Vec::new();
        let mut must_sync = self.fsync == FsyncPolicy::Always;
        let mut closed = false;
        for req in batch.drain(..) {
            match req {
                Request::Append { session, event } => {
                    must_sync |= self.fsync == FsyncPolicy::Batch && event.is_terminal();
                    let record = Record {
                        seq: self.next_seq,
                        ts: now_rfc3339(),
                        session,
                        event: *event,
                    };
                    match serde_json::to_string(&record) {
                        Ok(line) => {
                            self.next_seq += 1;
                            buf.extend_from_slice(line.as_bytes());
                            buf.push(b'\n');
                            written.push(LoggedEvent { record, line });
                        }
                        Err(e) => tracing::error!("event not serialisable: {e}"),
                    }
                }
                Request::Barrier { sync, reply } => {
                    must_sync |= sync;
                    replies.push(reply);
                }
                Request::Close { reply } => {
                    must_sync = true;
                    closed = true;
                    replies.push(reply);
                }
            }
        }
        if !buf.is_empty() {
            let max = self.limits.max_size;
            if max > 0
                && self.has_records
                && self.len + buf.len() as u64 > max
                && let Err(e) = self.roll(first_of_batch)
            {
                tracing::error!("event log roll-over failed: {e}");
                self.failed = Some(Arc::new(e));
            }
            if let Err(e) = self.file.write_all(&buf) {
                tracing::error!("event log write failed: {e}");
                self.failed = Some(Arc::new(e));
            }
            self.len += buf.len() as u64;
            self.has_records = true;
            self.dirty_since.get_or_insert_with(Instant::now);
            if self.limits.keep.is_some() {
                for event in &written {
                    note_live(&mut self.live, &event.record);
                }
            }
        }
        if must_sync && self.fsync != FsyncPolicy::Off {
            self.sync();
        } else if self.fsync == FsyncPolicy::Off {
            self.dirty_since = None;
        }
        if let Some(last) = written.last() {
            self.written.store(last.record.seq, Ordering::Release);
        }
        // Write-ahead: subscribers hear of a record only after it is in the file.
        for event in written {
            let _ = self.events.send(Arc::new(event));
        }
        for reply in replies {
            let _ = reply.send(self.status());
        }
        closed
    }

    /// Finishes the active file (synced) and starts the segment whose first
    /// record is `first`; then deletes what retention no longer keeps.
    fn roll(&mut self, first: u64) -> std::io::Result<()> {
        self.file.sync_data()?;
        self.dirty_since = None;
        if self.active == Active::Plain {
            // The plain file holds the log from its first record on.
            std::fs::rename(&self.path, seglog::segment_path(&self.path, 1))?;
            crate::fault::point(crate::fault::EVENTS_ROLLED);
        }
        let opened = start_segment(&self.path, first).map_err(std::io::Error::other)?;
        seglog::link_to(&self.path, first)?;
        self.file = opened.file;
        self.active = opened.active;
        self.len = opened.len;
        self.has_records = false;
        self.retention()
    }

    /// Deletes the oldest finished segments past the newest `keep`, up to
    /// the first that holds a record of a session not yet ended.
    fn retention(&self) -> std::io::Result<()> {
        let Some(keep) = self.limits.keep else {
            return Ok(());
        };
        let all = seglog::segments(&self.path)?;
        let finished = all.len().saturating_sub(1);
        let drop = finished.saturating_sub(keep as usize);
        let oldest_live = self.live.values().min().copied().unwrap_or(u64::MAX);
        for (i, segment) in all[..drop].iter().enumerate() {
            // It holds the records before the next one's first.
            if all[i + 1].start > oldest_live {
                break;
            }
            match std::fs::remove_file(&segment.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn status(&self) -> Result<(), WriteFailed> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn sync(&mut self) {
        if self.dirty_since.take().is_some()
            && let Err(e) = self.file.sync_data()
        {
            tracing::error!("event log fsync failed: {e}");
            self.failed = Some(Arc::new(e));
        }
    }
}
