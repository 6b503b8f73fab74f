//! Idle supervision cost: the conductor's CPU and memory while N healthy
//! sessions say nothing.

use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::SessionState;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT, steps};
use crate::Fallible;
use crate::harness::Harness;
use crate::report::{Row, Target};
use crate::sys::{cpu_time_self, release_free_memory, rss_kib};

/// Time after the last `healthy` before the idle window opens, so the window
/// does not see the tail of the spawn burst (log group commit, reaping).
const SETTLE: Duration = Duration::from_secs(1);

/// Measures idle cost with each of `counts` sessions over `window`.
pub async fn measure(ctx: &Ctx, counts: &[usize], window: Duration) -> Fallible<Outcome> {
    let empty = run(ctx, 0, window).await?;
    let mut out = Outcome::default();
    out.notes.push(format!(
        "idle: CPU = getrusage(RUSAGE_SELF) of the bench process (conductor + subscriber, all \
         threads) over a {} s window once every session was healthy (stall_after = 1 h); the \
         agents are separate processes and are NOT counted; baseline = the same window with a \
         conductor and no sessions; RSS = VmRSS before spawning (after malloc_trim) vs with N healthy sessions",
        window.as_secs_f64()
    ));
    for &n in counts {
        let m = run(ctx, n, window).await?;
        let per_session_us = m.cpu_per_s / n as f64 * 1e6;
        out.rows.push(Row::new(
            format!("idle CPU, {n} sessions (CPU s/s)"),
            m.cpu_per_s,
            Some(empty.cpu_per_s),
            Target::AtMost(0.01),
        ));
        out.rows.push(Row::new(
            format!("idle CPU per session, {n} (us/s)"),
            per_session_us,
            None,
            Target::None,
        ));
        out.rows.push(Row::new(
            format!("RSS per session, {n} (KiB)"),
            m.rss_growth_kib as f64 / n as f64,
            None,
            Target::None,
        ));
        out.notes.push(format!(
            "idle: {n} sessions: RSS {} KiB before spawning, {} KiB with {n} healthy; \
             shutdown took {:.0} ms",
            m.rss_before_kib,
            m.rss_before_kib as i64 + m.rss_growth_kib,
            m.shutdown.as_secs_f64() * 1e3
        ));
    }
    Ok(out)
}

struct Measured {
    cpu_per_s: f64,
    rss_before_kib: u64,
    rss_growth_kib: i64,
    shutdown: Duration,
}

async fn run(ctx: &Ctx, sessions: usize, window: Duration) -> Fallible<Measured> {
    let probe = ProbeConfig {
        stall_after: Duration::from_secs(3600),
        ..Default::default()
    };
    let mut h = Harness::start(&ctx.dir.join(format!("idle-{sessions}")), probe, ctx)?;
    let measured: Fallible<_> = async {
        let deadline =
            Instant::now() + Duration::from_secs(60) + Duration::from_millis(50) * sessions as u32;
        release_free_memory();
        let rss_before = rss_kib()?;
        let script = steps(&["print:ready", "stall"]);
        for i in 0..sessions {
            h.spawn(&format!("idle-{i:04}"), &script).await?;
        }
        h.collect(sessions, deadline, "healthy transitions", |r| {
            Some((r.entered(SessionState::Healthy)?.to_owned(), ()))
        })
        .await?;
        tokio::time::sleep(SETTLE).await;
        let rss_with = rss_kib()?;
        let (cpu0, wall0) = (cpu_time_self()?, std::time::Instant::now());
        tokio::time::sleep(window).await;
        let (cpu1, wall) = (cpu_time_self()?, wall0.elapsed());
        let cpu_per_s = (cpu1 - cpu0).as_secs_f64() / wall.as_secs_f64();
        Ok((cpu_per_s, rss_before, rss_with as i64 - rss_before as i64))
    }
    .await;
    let stopped = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let (cpu_per_s, rss_before_kib, rss_growth_kib) = measured?;
    Ok(Measured {
        cpu_per_s,
        rss_before_kib,
        rss_growth_kib,
        shutdown: stopped?,
    })
}
