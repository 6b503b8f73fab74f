//! Stall detection error: how far after `last output + stall_after` the
//! subscriber holds the `stalled` transition.

use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::SessionState;
use stand_in_agent::monotonic_ns;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT, steps};
use crate::Fallible;
use crate::harness::{Harness, ms_between, read_stamp};
use crate::report::{Row, Target};
use crate::stats::Summary;

/// The silence threshold under test.
const STALL_AFTER: Duration = Duration::from_millis(300);
/// How long any wait in this figure may take.
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `sessions` sessions that print, stamp and go silent.
pub async fn measure(ctx: &Ctx, sessions: usize) -> Fallible<Outcome> {
    let baton = under_baton(ctx, sessions).await?;
    let timer = timer_error(sessions).await?;
    let b = Summary::of(&baton).ok_or("no stall samples")?;
    let t = Summary::of(&timer).ok_or("no timer samples")?;
    let early = baton.iter().filter(|e| **e < 0.0).count();
    let min = baton.iter().copied().fold(f64::INFINITY, f64::min);
    let mut notes = vec![format!(
        "stall: {sessions} sessions `print:x stamp stall`, stall_after = {} ms; error = receipt of \
         `stalled` - (stamp + {} ms); baseline = error of tokio::time::sleep({} ms) itself; \
         earliest error {min:.3} ms",
        STALL_AFTER.as_millis(),
        STALL_AFTER.as_millis(),
        STALL_AFTER.as_millis()
    )];
    if early > 0 {
        notes.push(format!(
            "stall: WARNING {early} of {sessions} sessions were marked stalled before the threshold"
        ));
    }
    Ok(Outcome {
        rows: vec![
            Row::new("stall error p50 (ms)", b.p50, Some(t.p50), Target::None),
            Row::new(
                "stall error p99 (ms)",
                b.p99,
                Some(t.p99),
                Target::AtMost(10.0),
            ),
            Row::new("stall error max (ms)", b.max, Some(t.max), Target::None),
        ],
        notes,
    })
}

async fn under_baton(ctx: &Ctx, sessions: usize) -> Fallible<Vec<f64>> {
    let probe = ProbeConfig {
        stall_after: STALL_AFTER,
        ..Default::default()
    };
    let mut h = Harness::start(&ctx.dir.join("baton"), probe, ctx)?;
    let measured: Fallible<_> = async {
        let deadline = Instant::now() + LIMIT;
        let ids: Vec<String> = (0..sessions).map(|i| format!("stall-{i:04}")).collect();
        let script = steps(&["print:x", "stamp", "stall"]);
        for id in &ids {
            h.spawn(id, &script).await?;
        }
        let stalled = h
            .collect(sessions, deadline, "stalled transitions", |r| {
                Some((r.entered(SessionState::Stalled)?.to_owned(), r.at_ns))
            })
            .await?;
        let threshold = STALL_AFTER.as_nanos();
        let mut errors = Vec::with_capacity(sessions);
        for id in &ids {
            let stamp = read_stamp(&h.out_log(id), deadline).await?;
            errors.push(ms_between(stalled[id], stamp + threshold));
        }
        Ok(errors)
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let errors = measured?;
    closed?;
    Ok(errors)
}

/// The baseline: how late `tokio::time::sleep(STALL_AFTER)` wakes, with as
/// many timers running together.
async fn timer_error(count: usize) -> Fallible<Vec<f64>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        tasks.spawn(async {
            let start = monotonic_ns();
            tokio::time::sleep(STALL_AFTER).await;
            ms_between(monotonic_ns(), start + STALL_AFTER.as_nanos())
        });
    }
    let joined = tokio::time::timeout(LIMIT, tasks.join_all())
        .await
        .map_err(|_| "timer baseline did not finish")?;
    Ok(joined)
}
