//! Supervision CPU under a steady trickle of output, beside the physical
//! limit: a minimal relay written for the bench.
//!
//! The workload is the one the reference conductors are compared on: N
//! agents each writing a line every 500 ms for T seconds. baton supervises
//! them as sessions (an embedded conductor: pipes, logs, the event log,
//! health, detectors); the relay (`--relay-worker`, a separate process so
//! its CPU is its own) does only what no supervisor can skip — spawn the
//! children, `epoll` their pipes, `read` each chunk and `pwrite` it to the
//! child's file, reap each at its end. No state machine, no event log. The
//! agents' own CPU is counted on neither side.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use baton_config::ProbeConfig;
use baton_core::SessionState;
use tokio::time::Instant;

use super::{Ctx, Outcome, SHUTDOWN_LIMIT};
use crate::Fallible;
use crate::harness::Harness;
use crate::report::{Row, Target};
use crate::stats::median;
use crate::sys::cpu_time_self;

/// The pause between two lines of every agent.
const INTERVAL: Duration = Duration::from_millis(500);

/// How big the trickle is.
pub struct RelayPlan {
    /// Agents at once.
    pub sessions: usize,
    /// Lines each writes, one per [`INTERVAL`].
    pub lines: u64,
    /// Runs per side, interleaved.
    pub runs: usize,
}

impl RelayPlan {
    /// How long one side's run may take: twice the agents' lines, and a
    /// minute for spawning and reaping them.
    fn limit(&self) -> Duration {
        Duration::from_secs(60) + INTERVAL * self.lines as u32 * 2
    }
}

/// One side's run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    /// CPU time (user + system) of the supervising process over the run.
    pub cpu_s: f64,
    /// First spawn to the last child's end.
    pub wall_s: f64,
    /// Output bytes that reached the files.
    pub bytes: u64,
}

/// Measures baton and the relay on the same trickle, `plan.runs` times
/// each, interleaved (each side first in every other run).
pub async fn measure(ctx: &Ctx, plan: &RelayPlan) -> Fallible<Outcome> {
    let steps = vec![format!("lines:{}:{}ms", plan.lines, INTERVAL.as_millis())];
    let mut ours = Vec::new();
    let mut relay = Vec::new();
    for run in 0..plan.runs {
        let dir = ctx.dir.join(format!("run-{run}"));
        if run % 2 == 0 {
            ours.push(under_baton(ctx, &dir, plan, &steps).await?);
            relay.push(relayed(ctx, &dir, plan, &steps).await?);
        } else {
            relay.push(relayed(ctx, &dir, plan, &steps).await?);
            ours.push(under_baton(ctx, &dir, plan, &steps).await?);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let expected = ours[0].bytes;
    if let Some(bad) = ours.iter().chain(&relay).find(|r| r.bytes != expected) {
        return Err(format!(
            "relay: the two sides kept different output ({} vs {expected} bytes)",
            bad.bytes
        )
        .into());
    }
    let cpu =
        |runs: &[Run]| median(&runs.iter().map(|r| r.cpu_s).collect::<Vec<_>>()).unwrap_or(0.0);
    let wall =
        |runs: &[Run]| median(&runs.iter().map(|r| r.wall_s).collect::<Vec<_>>()).unwrap_or(0.0);
    let (n, secs) = (plan.sessions, plan.lines as f64 * INTERVAL.as_secs_f64());
    let chunks = (n as u64 * plan.lines) as f64;
    let (our_cpu, relay_cpu) = (cpu(&ours), cpu(&relay));
    let listed = |runs: &[Run]| {
        runs.iter()
            .map(|r| format!("{:.2}", r.cpu_s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(Outcome {
        rows: vec![
            Row::new(
                format!("conductor CPU, {n} agents x a line every 500 ms for {secs:.0} s (CPU s)"),
                our_cpu,
                Some(relay_cpu),
                Target::RatioAtMost(0.5),
            ),
            Row::new(
                "CPU per output line (us)",
                our_cpu / chunks * 1e6,
                Some(relay_cpu / chunks * 1e6),
                Target::None,
            ),
        ],
        notes: vec![
            format!(
                "relay: baton = an embedded conductor supervising {n} command sessions of the \
                 stand-in `{}` (getrusage of the bench process, first spawn to the last \
                 `completed`); baseline = the physical limit, a minimal relay process (fork+exec \
                 the same agents, epoll their pipes, read + pwrite each chunk to its file, reap \
                 at EOF; its own getrusage); agents' CPU counted on neither side; {} runs per \
                 side, interleaved, medians",
                steps[0], plan.runs
            ),
            format!(
                "relay: CPU s per run, baton [{}], relay [{}]; wall s (median) baton {:.2}, relay \
                 {:.2}; every run kept the same {expected} bytes",
                listed(&ours),
                listed(&relay),
                wall(&ours),
                wall(&relay)
            ),
        ],
    })
}

async fn under_baton(ctx: &Ctx, dir: &Path, plan: &RelayPlan, steps: &[String]) -> Fallible<Run> {
    let probe = ProbeConfig {
        stall_after: Duration::from_secs(3600),
        ..Default::default()
    };
    let mut h = Harness::start(&dir.join("baton"), probe, ctx)?;
    let measured: Fallible<_> = async {
        let deadline = Instant::now() + plan.limit();
        let cpu_before = cpu_time_self()?;
        let started = std::time::Instant::now();
        let ids: Vec<String> = (0..plan.sessions).map(|i| format!("t-{i:04}")).collect();
        for id in &ids {
            h.spawn(id, steps).await?;
        }
        h.collect(plan.sessions, deadline, "completed sessions", |r| {
            Some((r.entered(SessionState::Completed)?.to_owned(), ()))
        })
        .await?;
        let wall = started.elapsed();
        let cpu = cpu_time_self()? - cpu_before;
        let mut bytes = 0;
        for id in &ids {
            bytes += std::fs::metadata(h.out_log(id))
                .map_err(|e| format!("relay: {id}'s log: {e}"))?
                .len();
        }
        Ok(Run {
            cpu_s: cpu.as_secs_f64(),
            wall_s: wall.as_secs_f64(),
            bytes,
        })
    }
    .await;
    let stopped = h.shutdown(measured.is_err(), SHUTDOWN_LIMIT).await;
    let run = measured?;
    stopped?;
    Ok(run)
}

/// Runs the relay as a separate process (this binary, `--relay-worker`).
async fn relayed(ctx: &Ctx, dir: &Path, plan: &RelayPlan, steps: &[String]) -> Fallible<Run> {
    let out = dir.join("relay");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let me = std::env::current_exe().map_err(|e| format!("cannot find baton-bench: {e}"))?;
    let child = tokio::process::Command::new(me)
        .arg("--relay-worker")
        .arg(&out)
        .arg("--relay-sessions")
        .arg(plan.sessions.to_string())
        .arg("--")
        .arg(&ctx.stand_in)
        .args(steps)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(plan.limit(), child)
        .await
        .map_err(|_| "relay worker did not finish in time")?
        .map_err(|e| format!("relay worker: {e}"))?;
    if !output.status.success() {
        return Err(format!("relay worker failed: {}", output.status).into());
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("relay worker's report: {e}"))?;
    let number = |key: &str| {
        report[key]
            .as_f64()
            .ok_or_else(|| format!("relay worker's report has no {key}: {report}"))
    };
    Ok(Run {
        cpu_s: number("cpu_s")?,
        wall_s: number("wall_s")?,
        bytes: number("bytes")? as u64,
    })
}

/// The relay itself (`baton-bench --relay-worker DIR --relay-sessions N --
/// AGENT ARGS…`): runs `sessions` copies of `argv`, each one's stdout and
/// stderr into one pipe relayed to `DIR/N.log`, and prints its [`Run`] as
/// JSON.
pub fn work(dir: &Path, sessions: usize, argv: &[String]) -> Fallible<()> {
    let (program, args) = argv.split_first().ok_or("relay worker: no agent given")?;
    let cpu_before = cpu_time_self()?;
    let started = std::time::Instant::now();
    // SAFETY: epoll_create1 returns a new descriptor or -1.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epoll < 0 {
        return Err(format!("epoll_create1: {}", std::io::Error::last_os_error()).into());
    }
    // SAFETY: a descriptor we just created and own.
    let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
    struct Agent {
        pipe: Option<OwnedFd>,
        file: std::fs::File,
        offset: u64,
        child: std::process::Child,
    }
    let mut agents = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| format!("pipe: {e}"))?;
        let err = write.try_clone().map_err(|e| format!("dup: {e}"))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let file = std::fs::File::create(dir.join(format!("{i}.log")))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: both descriptors are open; the event is a local.
        let added = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                read.as_raw_fd(),
                &mut event,
            )
        };
        if added != 0 {
            return Err(format!("epoll_ctl: {}", std::io::Error::last_os_error()).into());
        }
        agents.push(Agent {
            pipe: Some(read),
            file,
            offset: 0,
            child,
        });
    }
    let mut open = sessions;
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 64 << 10];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 64];
    while open > 0 {
        // SAFETY: `events` has room for its length of entries.
        let ready = unsafe {
            libc::epoll_wait(
                epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                -1,
            )
        };
        if ready < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("epoll_wait: {e}").into());
        }
        for event in &events[..ready as usize] {
            let agent = &mut agents[event.u64 as usize];
            let Some(pipe) = &agent.pipe else { continue };
            let n = rustix::io::read(pipe, &mut buf).map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                agent.pipe = None;
                agent.child.wait().map_err(|e| format!("wait: {e}"))?;
                open -= 1;
                continue;
            }
            agent
                .file
                .write_all_at(&buf[..n], agent.offset)
                .map_err(|e| format!("pwrite: {e}"))?;
            agent.offset += n as u64;
            bytes += n as u64;
        }
    }
    let run = serde_json::json!({
        "cpu_s": (cpu_time_self()? - cpu_before).as_secs_f64(),
        "wall_s": started.elapsed().as_secs_f64(),
        "bytes": bytes,
    });
    println!("{run}");
    Ok(())
}
