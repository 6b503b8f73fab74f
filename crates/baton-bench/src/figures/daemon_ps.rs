//! `ps` latency of a real `baton daemon` holding many live sessions, timed
//! from a client: over the protocol directly, and as a `baton ps --json`
//! process.

use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton_core::SessionState;
use baton_proto::Response;
use baton_proto::response::Sessions;

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::daemon::Daemon;
use crate::report::{Row, Target};
use crate::stats::Summary;
use crate::sys::{ProcStat, group_exists};

/// Requests before each timed series, not counted (page cache, allocator).
const WARMUP: usize = 5;

/// Time after the last session turned `healthy` before timing, so the
/// requests do not meet the tail of the spawn burst.
const SETTLE: Duration = Duration::from_secs(1);

/// How long the daemon's CPU is read while nothing asks it anything.
const IDLE_WINDOW: Duration = Duration::from_secs(3);

/// How long one `baton ps` process may take.
const CLIENT_LIMIT: Duration = Duration::from_secs(30);

/// Times `requests` `ps` exchanges and `baton ps --json` runs against a
/// daemon, first empty (the baseline), then holding `sessions` healthy
/// sessions.
pub async fn measure(ctx: &Ctx, sessions: usize, requests: usize) -> Fallible<Outcome> {
    let (baton, stand_in, dir) = (ctx.baton.clone(), ctx.stand_in.clone(), ctx.dir.clone());
    let fsync = ctx.fsync.as_str();
    let config = format!(
        "[conductor]\nfsync = \"{fsync}\"\ngrace = \"5s\"\n\n[probe]\nstall_after = \"1h\"\n"
    );
    let m = tokio::task::spawn_blocking(move || {
        let mut daemon = Daemon::start(&baton, &dir, &config)?;
        let measured = run(&mut daemon, &stand_in, sessions, requests);
        // The daemon's own verdict on stopping comes second: a failed
        // measurement is the more useful message. On `Err` the handle's
        // Drop stops it.
        let m = measured?;
        let stop = daemon.shutdown()?;
        let alive = m.pids.iter().filter(|pid| group_exists(**pid)).count();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((m, stop, alive))
    })
    .await
    .map_err(|e| format!("daemon ps figure panicked: {e}"))?;
    let (m, stop, alive) = m?;
    let summary = |samples: &[f64], what: &str| {
        Summary::of(samples).ok_or_else(|| format!("no {what} samples"))
    };
    let (full, empty) = (summary(&m.full, "ps")?, summary(&m.empty, "ps")?);
    let (raw_full, raw_empty) = (summary(&m.raw_full, "ps")?, summary(&m.raw_empty, "ps")?);
    let (cli_full, cli_empty) = (
        summary(&m.cli_full, "baton ps")?,
        summary(&m.cli_empty, "baton ps")?,
    );
    let n = sessions;
    let mut notes = vec![
        format!(
            "daemon-ps: real `baton daemon` child (pipes sessions under baton-shim), {n} sessions \
             `print:up stall` spawned over the socket, all healthy (stall_after = 1 h); {requests} \
             sequential requests per series after {WARMUP} unmeasured; answered = connect + hello \
             + `ps` + the whole `sessions` reply read, from the bench process (what the daemon \
             does); decoded = the same and the reply decoded into rows (a client's share added); \
             baseline = the same on the same daemon before any session was spawned; idle CPU = \
             the daemon's user + system time over {} s in which nothing asks it anything",
            IDLE_WINDOW.as_secs()
        ),
        format!(
            "daemon-ps: `baton ps --json` = wall time of the client process (exec, connect, \
             exchange, print JSON into a pipe read by the bench); baseline = the same with no \
             sessions; the `sessions` reply with {n} sessions is {} bytes",
            m.reply_bytes
        ),
        format!(
            "daemon-ps: spawning {n} sessions over the socket took {:.0} ms, all healthy after \
             {:.0} ms; `shutdown` request to daemon exit: {:.0} ms",
            m.spawn.as_secs_f64() * 1e3,
            m.healthy.as_secs_f64() * 1e3,
            stop.as_secs_f64() * 1e3
        ),
    ];
    if alive > 0 {
        notes.push(format!(
            "daemon-ps: WARNING {alive} of {n} session process groups still have members after the daemon exited"
        ));
    } else {
        notes.push(format!(
            "daemon-ps: after the daemon exited none of the {n} session process groups has a member left"
        ));
    }
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("daemon CPU while idle, {n} sessions (ms/s)"),
                m.idle_full,
                Some(m.idle_empty),
                Target::None,
            ),
            Row::new(
                format!("ps answered, {n} sessions, p50 (ms)"),
                raw_full.p50,
                Some(raw_empty.p50),
                Target::None,
            ),
            Row::new(
                format!("ps answered, {n} sessions, p99 (ms)"),
                raw_full.p99,
                Some(raw_empty.p99),
                Target::AtMost(2.0),
            ),
            Row::new(
                format!("ps decoded, {n} sessions, p50 (ms)"),
                full.p50,
                Some(empty.p50),
                Target::None,
            ),
            Row::new(
                format!("ps decoded, {n} sessions, p99 (ms)"),
                full.p99,
                Some(empty.p99),
                Target::None,
            ),
            Row::new(
                format!("ps decoded, {n} sessions, max (ms)"),
                full.max,
                Some(empty.max),
                Target::None,
            ),
            Row::new(
                format!("`baton ps --json`, {n} sessions, p50 (ms)"),
                cli_full.p50,
                Some(cli_empty.p50),
                Target::None,
            ),
            Row::new(
                format!("`baton ps --json`, {n} sessions, p99 (ms)"),
                cli_full.p99,
                Some(cli_empty.p99),
                Target::None,
            ),
        ],
        notes,
    })
}

struct Measured {
    /// The daemon's CPU while idle, milliseconds per second.
    idle_empty: f64,
    idle_full: f64,
    raw_empty: Vec<f64>,
    raw_full: Vec<f64>,
    empty: Vec<f64>,
    full: Vec<f64>,
    cli_empty: Vec<f64>,
    cli_full: Vec<f64>,
    reply_bytes: usize,
    spawn: Duration,
    healthy: Duration,
    pids: Vec<u32>,
}

fn run(
    daemon: &mut Daemon,
    stand_in: &std::path::Path,
    sessions: usize,
    requests: usize,
) -> Fallible<Measured> {
    let idle_empty = idle_cpu(daemon)?;
    let raw_empty = time_answer(daemon, requests)?;
    let empty = time_ps(daemon, requests, 0)?;
    let cli_empty = time_cli(daemon, requests, 0)?;

    let started = Instant::now();
    let argv = vec![
        stand_in.to_string_lossy().into_owned(),
        "print:up".to_owned(),
        "stall".to_owned(),
    ];
    for i in 0..sessions {
        daemon.spawn(&format!("ps-{i:04}"), argv.clone())?;
    }
    let spawn = started.elapsed();
    let deadline =
        Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * sessions as u32;
    let table = daemon.wait_all_in(sessions, SessionState::Healthy, deadline)?;
    let healthy = started.elapsed();
    let pids: Vec<u32> = table.iter().filter_map(|s| s.pid).collect();
    if pids.len() != sessions {
        return Err(format!("{} of {sessions} healthy sessions report a pid", pids.len()).into());
    }
    std::thread::sleep(SETTLE);

    let idle_full = idle_cpu(daemon)?;
    let raw_full = time_answer(daemon, requests)?;
    let full = time_ps(daemon, requests, sessions)?;
    let cli_full = time_cli(daemon, requests, sessions)?;
    let reply_bytes = baton_proto::encode_frame(&Response::Sessions(Sessions {
        sessions: daemon.ps()?,
        seq: None,
        seq_end: None,
    }))
    .map_err(|e| format!("cannot encode a `sessions` reply: {e}"))?
    .len();
    daemon.check_running()?;
    Ok(Measured {
        idle_empty,
        idle_full,
        raw_empty,
        raw_full,
        empty,
        full,
        cli_empty,
        cli_full,
        reply_bytes,
        spawn,
        healthy,
        pids,
    })
}

/// The daemon's CPU time over [`IDLE_WINDOW`] in which nothing asks it
/// anything, in milliseconds per second: what its sessions cost it while
/// they are quiet.
fn idle_cpu(daemon: &Daemon) -> Fallible<f64> {
    let pid = daemon.pid().ok_or("the daemon has no pid")?;
    let cpu = || {
        ProcStat::read(pid)
            .map(|s| s.cpu())
            .ok_or_else(|| format!("cannot read the daemon's CPU time (pid {pid})"))
    };
    let before = cpu()?;
    std::thread::sleep(IDLE_WINDOW);
    let used = cpu()?.saturating_sub(before);
    Ok(used.as_secs_f64() * 1e3 / IDLE_WINDOW.as_secs_f64())
}

/// Milliseconds of `requests` `ps` exchanges, each to the last byte of
/// its reply, not decoded.
fn time_answer(daemon: &Daemon, requests: usize) -> Fallible<Vec<f64>> {
    let mut samples = Vec::with_capacity(requests);
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        let body = daemon.ps_body()?;
        let took = started.elapsed();
        std::hint::black_box(body);
        if i >= WARMUP {
            samples.push(took.as_secs_f64() * 1e3);
        }
    }
    Ok(samples)
}

/// Milliseconds of `requests` full `ps` exchanges, each checked to list
/// `expect` sessions.
fn time_ps(daemon: &Daemon, requests: usize, expect: usize) -> Fallible<Vec<f64>> {
    let mut samples = Vec::with_capacity(requests);
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        let table = daemon.ps()?;
        let took = started.elapsed();
        if table.len() != expect {
            return Err(format!("ps listed {} sessions, expected {expect}", table.len()).into());
        }
        if i >= WARMUP {
            samples.push(took.as_secs_f64() * 1e3);
        }
    }
    Ok(samples)
}

/// Milliseconds of `requests` runs of `baton ps --json`, each checked to
/// succeed and print a JSON array of `expect` sessions.
fn time_cli(daemon: &Daemon, requests: usize, expect: usize) -> Fallible<Vec<f64>> {
    let mut samples = Vec::with_capacity(requests);
    for i in 0..WARMUP + requests {
        let (took, out) = run_client(daemon)?;
        if !out.status.success() {
            return Err(format!(
                "`baton ps --json` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
        let listed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("`baton ps --json` printed something else than an array: {e}"))?;
        if listed.len() != expect {
            return Err(format!(
                "`baton ps --json` listed {} sessions, expected {expect}",
                listed.len()
            )
            .into());
        }
        if i >= WARMUP {
            samples.push(took.as_secs_f64() * 1e3);
        }
    }
    Ok(samples)
}

/// Runs `baton ps --json` once; the time is from spawn to its exit with
/// all of its output read.
fn run_client(daemon: &Daemon) -> Fallible<(Duration, Output)> {
    let mut cmd = Command::new(daemon.baton());
    cmd.args(["ps", "--json", "--socket"])
        .arg(daemon.socket())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {} ps: {e}", daemon.baton().display()))?;
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send((started.elapsed(), out));
    });
    match rx.recv_timeout(CLIENT_LIMIT) {
        Ok((took, Ok(out))) => Ok((took, out)),
        Ok((_, Err(e))) => Err(format!("waiting for `baton ps`: {e}").into()),
        Err(_) => {
            // SAFETY: kill(2) on our own child; the waiting thread has not
            // reaped it, since it has not reported.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            let _ = rx.recv();
            Err(format!("`baton ps --json` did not finish within {CLIENT_LIMIT:?}").into())
        }
    }
}
