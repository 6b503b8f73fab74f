//! How soon what a CLI's hook says is a record: claude sessions (the
//! stand-in as claude) on a PTY stamp the clock and at once fire
//! `PermissionRequest` through the hooks baton installed for their run;
//! baton's figure is the stamp to the subscriber holding the session's
//! `input_wait` record. The baseline, in the same run, is the hook itself:
//! the stand-in firing the same hook command with no conductor to hear it,
//! from the stamp to the hook's end (a shell and `baton-shim hook`
//! starting, reading, sending) — what any hook-driven conductor pays.

use std::collections::BTreeMap;
use std::time::Duration;

use baton_config::{AgentKind, AgentsConfig, Backend, ProbeConfig, SessionSpec};
use baton_core::eventlog::Event;
use stand_in_agent::monotonic_ns;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT};
use crate::Fallible;
use crate::harness::{Harness, ms_between, read_stamp};
use crate::report::{Row, Target};
use crate::stats::Summary;

/// How long any wait in this figure may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The hook every session fires.
const PERMISSION: &str =
    r#"hook:PermissionRequest:{"tool_name":"Bash","tool_input":{"description":"Run the tests"}}"#;

/// Fires `runs` hooks, one session at a time, under baton and alone.
pub async fn measure(ctx: &Ctx, runs: usize) -> Fallible<Outcome> {
    let mut agents = AgentsConfig::default();
    agents.claude.bin = Some(ctx.stand_in.display().to_string());
    let baton = under_baton(ctx, runs, agents.clone()).await?;
    let alone = alone(runs, &agents).await?;
    let b = Summary::of(&baton).ok_or("no hook samples")?;
    let a = Summary::of(&alone).ok_or("no baseline samples")?;
    Ok(Outcome {
        rows: vec![
            Row::new(
                "hook to input_wait p50 (ms)",
                b.p50,
                Some(a.p50),
                Target::None,
            ),
            Row::new(
                "hook to input_wait p99 (ms)",
                b.p99,
                Some(a.p99),
                Target::AtMost(100.0),
            ),
        ],
        notes: vec![format!(
            "hook: {runs} claude sessions (stand-in) on a PTY, one at a time, `stamp` then \
             `PermissionRequest` through baton's hook (`sh -c 'baton-shim hook'`); figure = \
             stamp to the subscriber holding `input_wait` (kind permission); baseline = the \
             same hook fired with no conductor, stamp to the hook's end"
        )],
    })
}

async fn under_baton(ctx: &Ctx, runs: usize, agents: AgentsConfig) -> Fallible<Vec<f64>> {
    let mut h = Harness::start_with(
        &ctx.dir.join("baton"),
        ProbeConfig::default(),
        ctx,
        BTreeMap::new(),
        agents,
    )?;
    let measured: Fallible<_> = async {
        let deadline = Instant::now() + LIMIT + Duration::from_millis(500) * runs as u32;
        let mut latencies = Vec::with_capacity(runs);
        for run in 0..runs {
            let id = format!("hook-{run:04}");
            let mut spec = SessionSpec::command(id.parse()?, Vec::new());
            spec.agent = AgentKind::Claude;
            spec.command = None;
            spec.backend = Backend::Pty;
            spec.prompt = Some("benchmark".into());
            spec.env.insert(
                stand_in_agent::SCRIPT_ENV.into(),
                ["print:x", "stamp", PERMISSION, "stall"].join("\n"),
            );
            h.spawn_spec(spec).await?;
            let heard = h
                .collect(1, deadline, "input_wait from a hook", |r| match r.event() {
                    Event::InputWait { kind: Some(_), .. } => {
                        Some((r.session()?.to_owned(), r.at_ns))
                    }
                    _ => None,
                })
                .await?;
            let stamp = read_stamp(&h.out_log(&id), deadline).await?;
            latencies.push(ms_between(heard[&id], stamp));
            h.kill(&id).await?;
        }
        Ok(latencies)
    }
    .await;
    let closed = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let latencies = measured?;
    closed?;
    Ok(latencies)
}

/// The same hook fired by the stand-in with baton's hook settings and no
/// conductor: the time from its stamp to the hook's end.
async fn alone(runs: usize, agents: &AgentsConfig) -> Fallible<Vec<f64>> {
    let shim = baton_core::proc::shim_path()?;
    let command = format!("{} hook", shell_words::quote(&shim.to_string_lossy()));
    let mut spec = SessionSpec::command("alone".parse()?, Vec::new());
    spec.agent = AgentKind::Claude;
    spec.command = None;
    spec.prompt = Some("benchmark".into());
    let argv = baton_agents::agent(AgentKind::Claude)
        .interactive_argv(&spec, agents, Some(&command))
        .ok_or("claude has no interactive argv")?;
    let script = ["stamp", PERMISSION].join("\n");
    let mut latencies = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (argv, script) = (argv.clone(), script.clone());
        let (stamped, ended) = tokio::task::spawn_blocking(move || -> Fallible<(String, u128)> {
            let out = std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .env(stand_in_agent::SCRIPT_ENV, script)
                .stderr(std::process::Stdio::null())
                .output()?;
            Ok((
                String::from_utf8_lossy(&out.stdout).into_owned(),
                monotonic_ns(),
            ))
        })
        .await??;
        let stamp = crate::harness::parse_stamp(&stamped).ok_or("the stand-in wrote no stamp")?;
        latencies.push(ms_between(ended, stamp));
    }
    Ok(latencies)
}
