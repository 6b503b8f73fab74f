//! What reading an agent's structured output costs: the same claude-shaped
//! `stream-json` flood through a `claude` session (its listener reads
//! every line: status, usage, answer) and through a `command` session
//! (nothing reads it), interleaved.

use std::collections::BTreeMap;
use std::time::Duration;

use baton_config::{AgentKind, ProbeConfig, SessionSpec};
use baton_core::SessionState;
use baton_core::eventlog::Event;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT};
use crate::Fallible;
use crate::harness::{Harness, ms_between};
use crate::report::{Row, Target};
use crate::stats::median;

/// Floods `size` bytes of stream-json `runs` times each way.
pub async fn measure(ctx: &Ctx, size: u64, runs: usize) -> Fallible<Outcome> {
    let limit = Duration::from_secs(60) + Duration::from_secs(size / 5_000_000);
    let mut agents = baton_config::AgentsConfig::default();
    agents.claude.bin = Some(ctx.stand_in.display().to_string());
    let mut h = Harness::start_with(
        &ctx.dir.join("parser"),
        ProbeConfig::default(),
        ctx,
        BTreeMap::new(),
        agents,
    )?;
    let steps = format!("jflood:{size}");
    let measured: Fallible<_> = async {
        let (mut parsed, mut plain) = (Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!("  parser run {}/{runs}: claude session", run + 1);
            let mut spec = SessionSpec::command(format!("read-{run}").parse()?, Vec::new());
            spec.agent = AgentKind::Claude;
            spec.command = None;
            spec.prompt = Some(steps.clone());
            let (secs, bytes) = to_completion(&mut h, spec, limit).await?;
            parsed.push((secs, bytes));
            eprintln!("  parser run {}/{runs}: command session", run + 1);
            let spec = h.stand_in_spec(&format!("raw-{run}"), std::slice::from_ref(&steps))?;
            plain.push(to_completion(&mut h, spec, limit).await?);
        }
        Ok((parsed, plain))
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let (parsed, plain) = measured?;
    closed?;

    let mbps = |v: &[(f64, u64)]| -> Fallible<f64> {
        let rates: Vec<f64> = v.iter().map(|(s, b)| *b as f64 / 1e6 / s).collect();
        Ok(median(&rates).ok_or("no parser samples")?)
    };
    let bytes = parsed.first().map_or(0, |(_, b)| *b);
    Ok(Outcome {
        rows: vec![Row::new(
            format!("stream-json MB/s read by claude's listener, median of {runs}"),
            mbps(&parsed)?,
            Some(mbps(&plain)?),
            Target::RatioAtLeast(0.95),
        )],
        notes: vec![format!(
            "parser: {bytes} bytes of claude-shaped stream-json per run (`stand-in jflood:{size}`), \
             runs interleaved; baton = a claude session whose listener reads every line; baseline \
             = the same bytes from a command session, which nothing reads; spawn -> completed"
        )],
    })
}

/// Seconds from `spec`'s `spawn` record to its `completed` record, and the
/// bytes it wrote.
async fn to_completion(
    h: &mut Harness,
    spec: SessionSpec,
    limit: Duration,
) -> Fallible<(f64, u64)> {
    let id = spec.id.to_string();
    let deadline = Instant::now() + limit;
    h.spawn_spec(spec).await?;
    let what = format!("session {id} to complete its flood");
    let mut spawned = None;
    loop {
        let r = h.next(deadline, &what).await?;
        if r.session() != Some(id.as_str()) {
            continue;
        }
        match r.event() {
            Event::Spawn { .. } => spawned = Some(r.at_ns),
            Event::Completed { .. } => {
                let start = spawned.ok_or_else(|| format!("{id}: `completed` before `spawn`"))?;
                // Across the log's segments.
                let bytes = baton_core::seglog::global_len(&h.out_log(&id))
                    .map_err(|e| format!("{id}: {e}"))?;
                return Ok((ms_between(r.at_ns, start) / 1e3, bytes));
            }
            Event::State {
                to: to @ (SessionState::Failed | SessionState::Dead),
                reason,
                ..
            } => return Err(format!("flood session {id} went {to:?}: {reason}").into()),
            _ => {}
        }
    }
}
