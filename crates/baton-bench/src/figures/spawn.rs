//! Spawn rate to `healthy`, and how long stopping them all takes.

use std::process::Stdio;
use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::SessionState;
use stand_in_agent::monotonic_ns;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT, steps};
use crate::Fallible;
use crate::harness::{Harness, ms_between};
use crate::report::{Row, Target};
use crate::sys::pid_exists;

/// How long any wait in this figure may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Spawns `sessions` sessions that print one line and wait, under baton and raw.
pub async fn measure(ctx: &Ctx, sessions: usize) -> Fallible<Outcome> {
    let baton = under_baton(ctx, sessions).await?;
    let raw = raw_tokio(ctx, sessions).await?;
    let mut notes = vec![format!(
        "spawn: {sessions} sessions `print:ready stall`; baton = first spawn() call -> last \
         `healthy` received, then conductor.shutdown (SIGTERM, grace); baseline = \
         tokio::process::Command until each printed its first line, then SIGTERM + wait"
    )];
    if baton.alive_after > 0 {
        notes.push(format!(
            "spawn: WARNING {} of {sessions} session pids still exist after shutdown returned",
            baton.alive_after
        ));
    } else {
        notes.push(format!(
            "spawn: after shutdown none of the {sessions} session pids exists"
        ));
    }
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("spawn rate to healthy, {sessions} (sessions/s)"),
                baton.rate,
                Some(raw.rate),
                Target::AtLeast(200.0),
            ),
            Row::new(
                format!("shutdown of {sessions} sessions (ms)"),
                baton.stop_ms,
                Some(raw.stop_ms),
                Target::None,
            ),
        ],
        notes,
    })
}

struct Measured {
    rate: f64,
    stop_ms: f64,
    alive_after: usize,
}

async fn under_baton(ctx: &Ctx, sessions: usize) -> Fallible<Measured> {
    let probe = ProbeConfig {
        stall_after: Duration::from_secs(3600),
        ..Default::default()
    };
    let mut h = Harness::start(&ctx.dir.join("baton"), probe, ctx)?;
    let measured: Fallible<_> = async {
        let deadline = Instant::now() + LIMIT;
        let script = steps(&["print:ready", "stall"]);
        let started = monotonic_ns();
        for i in 0..sessions {
            h.spawn(&format!("spawn-{i:04}"), &script).await?;
        }
        let healthy = h
            .collect(sessions, deadline, "healthy transitions", |r| {
                Some((r.entered(SessionState::Healthy)?.to_owned(), r.at_ns))
            })
            .await?;
        let last = healthy.values().copied().max().unwrap_or(started);
        let pids = h.pids().await?;
        Ok((sessions as f64 / (ms_between(last, started) / 1e3), pids))
    }
    .await;
    let stopped = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let (rate, pids) = measured?;
    let stop = stopped?;
    let alive_after = pids.iter().filter(|pid| pid_exists(**pid)).count();
    Ok(Measured {
        rate,
        stop_ms: stop.as_secs_f64() * 1e3,
        alive_after,
    })
}

/// The baseline: plain tokio children, each read until its first line.
async fn raw_tokio(ctx: &Ctx, sessions: usize) -> Fallible<Measured> {
    let started = std::time::Instant::now();
    let mut children = Vec::with_capacity(sessions);
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..sessions {
        // kill_on_drop: an error below must not leave children behind.
        let mut child = tokio::process::Command::new(&ctx.stand_in)
            .args(["print:ready", "stall"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", ctx.stand_in.display()))?;
        let stdout = child.stdout.take().ok_or("child without stdout")?;
        readers.spawn(async move { BufReader::new(stdout).lines().next_line().await });
        children.push(child);
    }
    let lines = tokio::time::timeout(LIMIT, readers.join_all())
        .await
        .map_err(|_| "raw spawn baseline: children did not print in time")?;
    let elapsed = started.elapsed();
    for line in lines {
        match line {
            Ok(Some(l)) if l == "ready" => {}
            other => return Err(format!("raw spawn baseline: first line was {other:?}").into()),
        }
    }
    let stopping = std::time::Instant::now();
    for child in &children {
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
    }
    for child in &mut children {
        tokio::time::timeout(SHUTDOWN_LIMIT, child.wait())
            .await
            .map_err(|_| "raw spawn baseline: a child ignored SIGTERM")?
            .map_err(|e| format!("raw spawn baseline: wait: {e}"))?;
    }
    Ok(Measured {
        rate: sessions as f64 / elapsed.as_secs_f64(),
        stop_ms: stopping.elapsed().as_secs_f64() * 1e3,
        alive_after: 0,
    })
}
