//! How soon a prompt on screen is `input_wait`: sessions that work, stamp
//! the clock and print a clear prompt (`Apply these 3 edits to src/lib.rs?
//! [y/N] `, the cursor left after it), half on pipes and half on a PTY,
//! with the default probe (`input_wait_after` about 2 s, `stall_after`
//! 30 s). Baton's figure is the stamp to the subscriber holding the
//! session's `input_wait` record; the baseline is `input_wait_after`
//! itself, the quiet a confident prompt waits for on purpose (output that
//! merely pauses must not be called a prompt).

use std::collections::BTreeMap;
use std::time::Duration;

use baton_config::{AgentsConfig, Backend, ProbeConfig};
use baton_core::SessionState;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT, steps};
use crate::Fallible;
use crate::harness::{Harness, ms_between, read_stamp};
use crate::report::{Row, Target};
use crate::stats::Summary;

/// How long any wait in this figure may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The prompt every session leaves on screen.
const PROMPT: &str = "say:Apply these 3 edits to src/lib.rs? [y/N] ";

/// Runs `sessions` sessions at once that stamp and then prompt.
pub async fn measure(ctx: &Ctx, sessions: usize) -> Fallible<Outcome> {
    let probe = ProbeConfig::default();
    let quiet = probe
        .input_wait_after
        .ok_or("the default probe has no input_wait_after")?;
    let mut h = Harness::start_with(
        &ctx.dir.join("baton"),
        probe.clone(),
        ctx,
        BTreeMap::new(),
        AgentsConfig::default(),
    )?;
    let measured: Fallible<_> = async {
        let deadline = Instant::now() + LIMIT;
        let script = steps(&["print:working", "sleep:200ms", "stamp", PROMPT, "stall"]);
        let ids: Vec<String> = (0..sessions).map(|i| format!("prompt-{i:04}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let mut spec = h.stand_in_spec(id, &script)?;
            spec.backend = if i % 2 == 0 {
                Backend::Pipes
            } else {
                Backend::Pty
            };
            h.spawn_spec(spec).await?;
        }
        let judged = h
            .collect(sessions, deadline, "input_wait transitions", |r| {
                Some((r.entered(SessionState::InputWait)?.to_owned(), r.at_ns))
            })
            .await?;
        let mut latencies = Vec::with_capacity(sessions);
        for id in &ids {
            let stamp = read_stamp(&h.out_log(id), deadline).await?;
            latencies.push(ms_between(judged[id], stamp));
        }
        Ok(latencies)
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let latencies = measured?;
    closed?;
    let b = Summary::of(&latencies).ok_or("no prompt samples")?;
    let floor = quiet.as_secs_f64() * 1000.0;
    Ok(Outcome {
        rows: vec![
            Row::new(
                "prompt to input_wait p50 (ms)",
                b.p50,
                Some(floor),
                Target::None,
            ),
            Row::new(
                "prompt to input_wait p99 (ms)",
                b.p99,
                Some(floor),
                Target::AtMost(4000.0),
            ),
        ],
        notes: vec![format!(
            "prompt: {sessions} sessions at once, half on pipes and half on a PTY, `print:working \
             sleep:200ms stamp say:Apply these 3 edits to src/lib.rs? [y/N] stall`, the default \
             probe (input_wait_after {} ms, stall_after {} s); figure = stamp to the subscriber \
             holding `input_wait`; baseline = input_wait_after, the quiet a confident prompt \
             waits for on purpose",
            quiet.as_millis(),
            probe.stall_after.as_secs()
        )],
    })
}
