//! Event-stream throughput of a real `baton daemon` to an `events -f`
//! subscriber while sessions churn, and reading the whole log through the
//! daemon against reading the file directly.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use baton_core::SessionState;
use baton_core::eventlog::Record;
use baton_proto::request::Events;
use baton_proto::{Request, Response, read_frame};

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::daemon::Daemon;
use crate::report::{Row, Target};
use crate::stats::Summary;
use crate::sys::{group_exists, parse_log_ts, unix_us};

/// Time from the last spawn to the start of the window, so that the window
/// sees steady churn and not the spawn burst.
const WARMUP: Duration = Duration::from_secs(2);

/// Read deadline of the subscriber: longer than any quiet spell of the run
/// (the kills, the read-back), short enough to end a run whose daemon hangs.
const FOLLOW_LIMIT: Duration = Duration::from_secs(120);

/// Read deadline of the full read-back through the daemon.
const READ_BACK_LIMIT: Duration = Duration::from_secs(60);

/// Kill requests in flight at once.
const KILLERS: usize = 16;

/// Buffer of the subscriber's and read-back's socket readers.
const READ_BUFFER: usize = 64 << 10;

/// Runs `sessions` restart loops under a daemon, counts what an `events -f`
/// subscriber receives over `window` against what the daemon wrote, then
/// reads the whole log through the daemon and from the file.
pub async fn measure(ctx: &Ctx, sessions: usize, window: Duration) -> Fallible<Outcome> {
    let (baton, stand_in, dir) = (ctx.baton.clone(), ctx.stand_in.clone(), ctx.dir.clone());
    // backoff = backoff_max = 1 ms and a budget that never runs out: every
    // session restarts as soon as its run has failed.
    let config = format!(
        "[conductor]\nfsync = \"{}\"\ngrace = \"5s\"\nmax_restarts = 1000000000\n\
         backoff = \"1ms\"\nbackoff_max = \"1ms\"\n\n[probe]\nstall_after = \"1h\"\n",
        ctx.fsync.as_str()
    );
    let m = tokio::task::spawn_blocking(move || {
        let daemon = Daemon::start(&baton, &dir, &config)?;
        run(daemon, &stand_in, sessions, window)
    })
    .await
    .map_err(|e| format!("daemon events figure panicked: {e}"))??;
    let n = sessions;
    let w = &m.window;
    let recv_rate = w.received as f64 / w.received_secs;
    let written_rate = w.written as f64 / w.written_secs;
    let lag = Summary::of(&w.lag_ms).ok_or("no records received in the window")?;
    let skipped: u64 = m.skipped.iter().sum();
    let kinds: Vec<String> = w
        .kinds
        .iter()
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    let mut notes = vec![
        format!(
            "daemon-events: real `baton daemon` child, {n} sessions `exit:1` spawned over the \
             socket, max_restarts = 1e9, backoff = backoff_max = 1 ms: each restarts as soon as \
             its run failed ({} runs started by the end of the window, {:.0} runs/s in it); records the \
             daemon wrote in the {:.1} s window: {}",
            m.runs,
            w.runs as f64 / w.written_secs,
            w.written_secs,
            kinds.join(", ")
        ),
        format!(
            "daemon-events: received = `events -f` records the bench's subscriber (one thread, \
             baton-proto frames over a 64 KiB BufReader) got within the window; baseline = \
             records the daemon wrote in the same wall-clock window by their own `ts` (seq {}..={}, \
             {} records); of those, {} never reached the subscriber; SkippedEvents frames: {} \
             totalling {skipped} records",
            w.first_seq,
            w.last_seq,
            w.written,
            w.lost,
            m.skipped.len()
        ),
        "daemon-events: lag = subscriber's wall clock on receipt - the record's `ts` (taken \
         when the log writer commits the record, before it is written and published)"
            .to_owned(),
        format!(
            "daemon-events: read-back = after killing every session, the whole log ({} records) \
             as a non-follow `events` over the socket until end_of_stream; baseline = the bench \
             reading events.jsonl itself (BufReader lines + serde_json into baton-core's \
             Record); medians of {READ_ROUNDS} reads of each, interleaved{}",
            m.socket_records,
            if m.socket_records == m.file_records {
                String::new()
            } else {
                format!(" — WARNING: the file held {} records", m.file_records)
            }
        ),
        format!(
            "daemon-events: killing the {n} sessions ({KILLERS} `kill` requests at a time) took {:.0} ms; `shutdown` request to daemon \
             exit: {:.0} ms",
            m.kill.as_secs_f64() * 1e3,
            m.stop.as_secs_f64() * 1e3
        ),
    ];
    if m.alive > 0 {
        notes.push(format!(
            "daemon-events: WARNING {} session process groups still had members after the daemon exited",
            m.alive
        ));
    }
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("events -f received, {n} restart loops (records/s)"),
                recv_rate,
                Some(written_rate),
                Target::None,
            ),
            Row::new(
                "events -f delivery lag p50 (ms)",
                lag.p50,
                None,
                Target::None,
            ),
            Row::new(
                "events -f delivery lag p99 (ms)",
                lag.p99,
                None,
                Target::None,
            ),
            Row::new(
                "events -f skipped (records)",
                skipped as f64,
                None,
                Target::None,
            ),
            Row::new(
                "event log read via daemon (records/s)",
                m.socket_records as f64 / m.socket_read.as_secs_f64(),
                Some(m.file_records as f64 / m.file_read.as_secs_f64()),
                Target::RatioAtLeast(0.8),
            ),
        ],
        notes,
    })
}

/// What the subscriber got: every record, in order of receipt.
#[derive(Default)]
struct Followed {
    heard: Vec<Heard>,
    /// Counts of the `skipped_events` responses.
    skipped: Vec<u64>,
}

struct Heard {
    at: Instant,
    wall_us: i64,
    seq: u64,
    ts_us: Option<i64>,
}

/// One record of the log as the plain reader saw it.
struct Written {
    seq: u64,
    ts_us: i64,
    kind: &'static str,
}

/// The window, from both ends.
struct Window {
    received: usize,
    received_secs: f64,
    written: usize,
    written_secs: f64,
    first_seq: u64,
    last_seq: u64,
    lost: usize,
    lag_ms: Vec<f64>,
    kinds: BTreeMap<&'static str, usize>,
    runs: usize,
}

struct Measured {
    window: Window,
    skipped: Vec<u64>,
    runs: u64,
    kill: Duration,
    socket_records: usize,
    socket_read: Duration,
    file_records: usize,
    file_read: Duration,
    stop: Duration,
    alive: usize,
}

/// What the load phase produced, before the subscriber is joined.
struct Loaded {
    window: (Instant, Instant, i64, i64),
    runs: u64,
    kill: Duration,
    pgids: Vec<u32>,
    socket_records: usize,
    socket_read: Duration,
    file: Vec<Written>,
    file_read: Duration,
}

fn run(
    mut daemon: Daemon,
    stand_in: &Path,
    sessions: usize,
    window: Duration,
) -> Fallible<Measured> {
    let stream = daemon.open(
        &Request::Events(Events {
            follow: true,
            ..Default::default()
        }),
        FOLLOW_LIMIT,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let stop = stop.clone();
        std::thread::spawn(move || follow(stream, &stop))
    };
    let loaded = load(&mut daemon, stand_in, sessions, window);
    // Stopping the daemon (by request, or by Drop on an error) ends the
    // subscriber's stream; from here on its end is expected.
    stop.store(true, Ordering::Release);
    let stopped = match &loaded {
        Ok(_) => daemon.shutdown().map(Some),
        Err(_) => {
            drop(daemon);
            Ok(None)
        }
    };
    let followed = follower
        .join()
        .map_err(|_| "the events -f subscriber panicked")?;
    let loaded = loaded?;
    let stop = stopped?.ok_or("the daemon was not stopped by request")?;
    let followed = followed?;
    let alive = loaded.pgids.iter().filter(|g| group_exists(**g)).count();
    let window = judge(&loaded, &followed)?;
    Ok(Measured {
        window,
        skipped: followed.skipped,
        runs: loaded.runs,
        kill: loaded.kill,
        socket_records: loaded.socket_records,
        socket_read: loaded.socket_read,
        file_records: loaded.file.len(),
        file_read: loaded.file_read,
        stop,
        alive,
    })
}

/// Reads the `events -f` stream until it ends; a read error or end of
/// stream is a failure unless `stop` says the daemon has been stopped.
fn follow(stream: UnixStream, stop: &AtomicBool) -> Fallible<Followed> {
    let mut reader = BufReader::with_capacity(READ_BUFFER, stream);
    let mut out = Followed::default();
    loop {
        match read_frame::<Response>(&mut reader) {
            Ok(Some(Response::Event(e))) => out.heard.push(Heard {
                at: Instant::now(),
                wall_us: unix_us(SystemTime::now()),
                seq: e.record.seq,
                ts_us: parse_log_ts(&e.record.ts),
            }),
            Ok(Some(Response::SkippedEvents(s))) => out.skipped.push(s.count),
            Ok(Some(Response::EndOfStream(_))) => return Ok(out),
            Ok(Some(Response::Error(e))) => {
                return Err(format!("events -f: the daemon answered: {}", e.message).into());
            }
            Ok(Some(other)) => {
                return Err(format!("events -f: unexpected `{}` response", other.reply()).into());
            }
            Ok(None) if stop.load(Ordering::Acquire) => return Ok(out),
            Ok(None) => return Err("events -f: the daemon closed the stream early".into()),
            Err(_) if stop.load(Ordering::Acquire) => return Ok(out),
            Err(e) => return Err(format!("events -f: {e}").into()),
        }
    }
}

/// Spawns the loops, takes the window, kills them, reads the log back.
fn load(
    daemon: &mut Daemon,
    stand_in: &Path,
    sessions: usize,
    window: Duration,
) -> Fallible<Loaded> {
    let ids: Vec<String> = (0..sessions).map(|i| format!("ev-{i:04}")).collect();
    let argv = vec![stand_in.to_string_lossy().into_owned(), "exit:1".to_owned()];
    for id in &ids {
        daemon.spawn(id, argv.clone())?;
    }
    std::thread::sleep(WARMUP);
    check_looping(daemon, sessions)?;
    let (t0, w0) = (Instant::now(), unix_us(SystemTime::now()));
    std::thread::sleep(window);
    let (t1, w1) = (Instant::now(), unix_us(SystemTime::now()));
    let table = check_looping(daemon, sessions)?;
    let runs = table.iter().map(|s| u64::from(s.attempt)).sum();
    // Groups of runs in flight now; checked again once the daemon is gone.
    let pgids = table.iter().filter_map(|s| s.pid).collect();

    let killing = Instant::now();
    kill_all(daemon, &ids)?;
    let kill = killing.elapsed();
    daemon.check_running()?;

    // The daemon is left to finish what the kills started (sweeps end
    // 2 s after a run) before it is timed.
    std::thread::sleep(SETTLE);
    // Interleaved, which goes first alternating; the medians are compared.
    let (mut socket_reads, mut file_reads) = (Vec::new(), Vec::new());
    let (mut socket_records, mut file) = (0, Vec::new());
    for round in 0..READ_ROUNDS {
        for socket in [round % 2 == 0, round % 2 == 1] {
            if socket {
                let (records, took) = read_through_daemon(daemon)?;
                socket_records = records;
                socket_reads.push(took);
            } else {
                let (records, took) = read_file(&daemon.events_path())?;
                file = records;
                file_reads.push(took);
            }
        }
    }
    let (socket_read, file_read) = (median(socket_reads), median(file_reads));
    Ok(Loaded {
        window: (t0, t1, w0, w1),
        runs,
        kill,
        pgids,
        socket_records,
        socket_read,
        file,
        file_read,
    })
}

/// Reads of the whole log, through the daemon and from its file, whose
/// medians are compared.
const READ_ROUNDS: usize = 9;

/// Quiet time between the last kill and the reads.
const SETTLE: Duration = Duration::from_secs(3);

fn median(mut took: Vec<Duration>) -> Duration {
    took.sort();
    took.get(took.len() / 2).copied().unwrap_or_default()
}

/// Kills every session in `ids`, [`KILLERS`] requests at a time, so that
/// the loops stop about together rather than one by one under full load.
fn kill_all(daemon: &Daemon, ids: &[String]) -> Fallible<()> {
    let per_thread = ids.len().div_ceil(KILLERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = ids
            .chunks(per_thread)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|id| daemon.kill(id))))
            .collect();
        for worker in workers {
            worker.join().map_err(|_| "a kill thread panicked")??;
        }
        Ok(())
    })
}

/// The session table, checked to hold `sessions` sessions, none of them
/// ended (a loop that died would lower the record rate unnoticed).
fn check_looping(daemon: &mut Daemon, sessions: usize) -> Fallible<Vec<baton_core::SessionRow>> {
    daemon.check_running()?;
    let table = daemon.ps()?;
    if table.len() != sessions {
        return Err(format!("ps listed {} sessions, expected {sessions}", table.len()).into());
    }
    if let Some(s) = table.iter().find(|s| s.state.is_terminal()) {
        return Err(format!(
            "session {} left its restart loop: {} ({}{})",
            s.id,
            s.state,
            s.reason,
            s.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )
        .into());
    }
    if let Some(s) = table.iter().find(|s| s.state == SessionState::Healthy) {
        return Err(format!("session {} is healthy: `exit:1` printed output?", s.id).into());
    }
    Ok(table)
}

/// The whole log as a non-follow `events` over the socket: records, time.
fn read_through_daemon(daemon: &Daemon) -> Fallible<(usize, Duration)> {
    let started = Instant::now();
    let request = Request::Events(Events::default());
    let mut reader = BufReader::with_capacity(READ_BUFFER, daemon.open(&request, READ_BACK_LIMIT)?);
    let mut records = 0usize;
    loop {
        match read_frame::<Response>(&mut reader) {
            Ok(Some(Response::Event(_))) => records += 1,
            Ok(Some(Response::EndOfStream(_))) => break,
            Ok(Some(other)) => {
                return Err(format!("events: unexpected `{}` response", other.reply()).into());
            }
            Ok(None) => return Err("events: the daemon closed the stream early".into()),
            Err(e) => return Err(format!("events: {e}").into()),
        }
    }
    Ok((records, started.elapsed()))
}

/// The whole log read from its file by a plain line reader.
fn read_file(path: &Path) -> Fallible<(Vec<Written>, Duration)> {
    let started = Instant::now();
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut records = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        // Line 1 is the format header.
        if i == 0 || line.is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line)
            .map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))?;
        let ts_us = parse_log_ts(&record.ts)
            .ok_or_else(|| format!("{} line {}: bad ts {:?}", path.display(), i + 1, record.ts))?;
        records.push(Written {
            seq: record.seq,
            ts_us,
            kind: record.event.name(),
        });
    }
    Ok((records, started.elapsed()))
}

/// Lines up what the subscriber got in the window with what the daemon
/// wrote in it.
fn judge(loaded: &Loaded, followed: &Followed) -> Fallible<Window> {
    let (t0, t1, w0, w1) = loaded.window;
    let in_window: Vec<&Written> = loaded
        .file
        .iter()
        .filter(|r| (w0..w1).contains(&r.ts_us))
        .collect();
    let (Some(first), Some(last)) = (in_window.first(), in_window.last()) else {
        return Err("the daemon wrote no records in the window".into());
    };
    let (first_seq, last_seq) = (first.seq, last.seq);
    if last_seq - first_seq + 1 != in_window.len() as u64 {
        return Err(format!(
            "records of the window are not a dense seq range: {} records in {first_seq}..={last_seq}",
            in_window.len()
        )
        .into());
    }
    let heard: HashSet<u64> = followed.heard.iter().map(|h| h.seq).collect();
    let lost = (first_seq..=last_seq)
        .filter(|s| !heard.contains(s))
        .count();
    let mut kinds = BTreeMap::new();
    for r in &in_window {
        *kinds.entry(r.kind).or_insert(0) += 1;
    }
    let received: Vec<&Heard> = followed
        .heard
        .iter()
        .filter(|h| (t0..t1).contains(&h.at))
        .collect();
    let lag_ms = received
        .iter()
        .filter_map(|h| Some((h.wall_us - h.ts_us?) as f64 / 1e3))
        .collect();
    Ok(Window {
        received: received.len(),
        received_secs: (t1 - t0).as_secs_f64(),
        written: in_window.len(),
        written_secs: (w1 - w0) as f64 / 1e6,
        first_seq,
        last_seq,
        lost,
        lag_ms,
        runs: kinds.get("spawn").copied().unwrap_or(0),
        kinds,
    })
}
