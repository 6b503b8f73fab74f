//! Exit detection latency: from the agent's last write before `exit` to the
//! subscriber holding the `exit` record.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::eventlog::Event;
use stand_in_agent::monotonic_ns;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT};
use crate::Fallible;
use crate::harness::{Harness, Rng, ms_between, parse_stamp, read_stamp};
use crate::report::{Row, Target};
use crate::stats::Summary;

/// Slack on top of the longest scripted sleep before a wait gives up.
const SLACK: Duration = Duration::from_secs(60);

/// Runs `sessions` sessions that sleep 50..1000 ms and exit, under baton and raw.
pub async fn measure(ctx: &Ctx, sessions: usize) -> Fallible<Outcome> {
    let mut rng = Rng::new(0x00ba_7011_e417);
    let sleeps: Vec<u64> = (0..sessions).map(|_| rng.range(50, 1000)).collect();
    let baton = under_baton(ctx, &sleeps).await?;
    let raw = {
        let (stand_in, dir, sleeps) = (ctx.stand_in.clone(), ctx.dir.join("raw"), sleeps.clone());
        tokio::task::spawn_blocking(move || raw_with_threads(&stand_in, &dir, &sleeps))
            .await
            .map_err(|e| format!("raw exit baseline panicked: {e}"))??
    };
    let (b, r) = (summary(&baton)?, summary(&raw)?);
    Ok(Outcome {
        rows: vec![
            Row::new("exit latency p50 (ms)", b.p50, Some(r.p50), Target::None),
            Row::new(
                "exit latency p99 (ms)",
                b.p99,
                Some(r.p99),
                Target::AtMost(5.0),
            ),
            Row::new("exit latency max (ms)", b.max, Some(r.max), Target::None),
        ],
        notes: vec![format!(
            "exit: {sessions} sessions spawned together, each `sleep:50..1000ms stamp-exit:0`; \
             latency = subscriber receipt of `exit` - stamp; baseline = same processes via \
             std::process::Command, one thread blocked in wait() each"
        )],
    })
}

fn summary(samples: &[f64]) -> Fallible<Summary> {
    Summary::of(samples).ok_or_else(|| "no exit samples".into())
}

fn steps(sleep_ms: u64) -> Vec<String> {
    vec![format!("sleep:{sleep_ms}ms"), "stamp-exit:0".into()]
}

async fn under_baton(ctx: &Ctx, sleeps: &[u64]) -> Fallible<Vec<f64>> {
    let mut h = Harness::start(&ctx.dir.join("baton"), ProbeConfig::default(), ctx)?;
    let measured: Fallible<_> = async {
        let longest = Duration::from_millis(sleeps.iter().copied().max().unwrap_or(0));
        let deadline = Instant::now() + longest + SLACK;
        let ids: Vec<String> = (0..sleeps.len()).map(|i| format!("exit-{i:04}")).collect();
        for (id, ms) in ids.iter().zip(sleeps) {
            h.spawn(id, &steps(*ms)).await?;
        }
        let exits = h
            .collect(ids.len(), deadline, "exit events", |r| match r.event() {
                Event::Exit { code, signal, .. } => {
                    Some((r.session()?.to_owned(), (r.at_ns, *code, *signal)))
                }
                _ => None,
            })
            .await?;
        h.wait_all_terminal(deadline).await?;
        let mut latencies = Vec::with_capacity(ids.len());
        for id in &ids {
            let (at, code, signal) = exits[id];
            if code != Some(0) {
                return Err(format!(
                    "session {id} ended with code {code:?} signal {signal:?}, not 0"
                )
                .into());
            }
            let stamp = read_stamp(&h.out_log(id), deadline).await?;
            latencies.push(ms_between(at, stamp));
        }
        Ok(latencies)
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let latencies = measured?;
    closed?;
    Ok(latencies)
}

/// The baseline: plain children, one thread each blocked in `wait()`.
fn raw_with_threads(stand_in: &Path, dir: &Path, sleeps: &[u64]) -> Fallible<Vec<f64>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (tx, rx) = mpsc::channel();
    let mut pids: Vec<Option<u32>> = Vec::with_capacity(sleeps.len());
    let mut outs: Vec<PathBuf> = Vec::with_capacity(sleeps.len());
    let result = (|| -> Fallible<Vec<f64>> {
        for (i, ms) in sleeps.iter().enumerate() {
            let out = dir.join(format!("{i}.out"));
            let file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            let mut child = Command::new(stand_in)
                .args(steps(*ms))
                .stdin(Stdio::null())
                .stdout(file)
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", stand_in.display()))?;
            pids.push(Some(child.id()));
            outs.push(out);
            let tx = tx.clone();
            std::thread::spawn(move || {
                let status = child.wait();
                let at = monotonic_ns();
                let _ = tx.send((i, at, status));
            });
        }
        let longest = Duration::from_millis(sleeps.iter().copied().max().unwrap_or(0));
        let deadline = std::time::Instant::now() + longest + SLACK;
        let mut exited_at = vec![0u128; sleeps.len()];
        for _ in 0..sleeps.len() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let (i, at, status) = rx
                .recv_timeout(left)
                .map_err(|_| "timed out waiting for raw baseline children to exit")?;
            // Reaped: its pid may be reused from now on, so never signal it.
            pids[i] = None;
            match status {
                Ok(s) if s.success() => exited_at[i] = at,
                Ok(s) => return Err(format!("raw stand-in {i} ended with {s}").into()),
                Err(e) => return Err(format!("wait() on raw stand-in {i}: {e}").into()),
            }
        }
        let mut latencies = Vec::with_capacity(sleeps.len());
        for (out, at) in outs.iter().zip(exited_at) {
            let text =
                std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
            let stamp = parse_stamp(&text)
                .ok_or_else(|| format!("no `stamp <ns>` line in {}", out.display()))?;
            latencies.push(ms_between(at, stamp));
        }
        Ok(latencies)
    })();
    if result.is_err() {
        while let Ok((i, _, _)) = rx.try_recv() {
            pids[i] = None;
        }
        for pid in pids.into_iter().flatten() {
            // SAFETY: plain kill(2) on our own unreaped child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
    result
}
