//! One run of a session inside tmux.
//!
//! The pane's process on baton's private tmux server is `baton-shim`, which
//! runs the agent; tmux's `pipe-pane` appends the terminal output to the
//! session's log. This task reads the log as it grows (inotify) and learns
//! of the agent's end from the shim's marker in it: everything before the
//! marker is in the log, so the session can be destroyed without losing the
//! last bytes, and the marker is cut off the log again. A pidfd on the shim
//! covers a shim that is itself killed. The task owns the same deadlines and
//! termination sequence as a pipes run, and can adopt a pane that a previous
//! conductor started: tmux sessions outlive the conductor.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_monitor::payload::PayloadCapture;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::run::{
    Launch, Liveness, Report, RunConfig, RunCtl, RunMsg, RunShared, branch_guard, hex,
    run_stdout_tail,
};
use super::termination::Termination;
use crate::proc::{self, ExitStatus, ExitWatch, FileWatch, Pid, TmuxError, TmuxServer};

/// Where a tmux run lives, and what to adopt if it already runs.
#[derive(Clone)]
pub(crate) struct TmuxRun {
    pub server: TmuxServer,
    pub session: String,
    pub adopt: Option<Adopt>,
}

/// A pane started by an earlier conductor, as its `spawn` record tells it.
#[derive(Clone, Debug)]
pub(crate) struct Adopt {
    pub pid: u32,
    pub start_time: Option<u64>,
    pub out_offset: u64,
    pub err_offset: u64,
    /// The run had produced output (it was past `starting`).
    pub acknowledged: bool,
    /// Token of the shim's end-of-run marker (absent for runs of older baton
    /// versions, whose pane ran the agent directly).
    pub marker: Option<String>,
}

/// When the pane's process died without the marker (the shim was killed),
/// how long the log must stop growing before the session is destroyed: tmux
/// frees (and drops) whatever it still buffers for the pipe when the session
/// goes, so it must have handed everything to `cat` first.
const QUIET: Duration = Duration::from_secs(1);
const QUIET_MAX: Duration = Duration::from_secs(5);
/// How long to wait for `cat` to write its last bytes after the session is
/// destroyed (it signals that with the marker file).
const MARKER_MAX: Duration = Duration::from_secs(10);

pub(crate) async fn run_tmux(
    cfg: RunConfig,
    tmux: TmuxRun,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    mut ctl: mpsc::UnboundedReceiver<RunCtl>,
) {
    let server = tmux.server.clone();
    let session = tmux.session.clone();
    let (pid, out_offset, acknowledged, token) = match &tmux.adopt {
        Some(adopt) => {
            report(RunMsg::Recovered {
                pid: Pid(adopt.pid),
                outcome: "readopted",
            });
            (
                Pid(adopt.pid),
                adopt.out_offset,
                adopt.acknowledged,
                adopt.marker.clone(),
            )
        }
        None => match start(&cfg, &server, &session).await {
            Ok((pid, out_offset, err_offset, token)) => {
                let target = crate::eventlog::TmuxTarget {
                    server: server.name().to_owned(),
                    session: session.clone(),
                    marker: Some(token.clone()),
                };
                report(RunMsg::Spawned {
                    pid,
                    start_time: proc::process_start_time(pid),
                    out_offset,
                    err_offset,
                    launch: Box::new(Launch::of(&cfg, Some(target))),
                });
                (pid, out_offset, false, Some(token))
            }
            Err((missing, message)) => {
                report(RunMsg::SpawnFailed { missing, message });
                return;
            }
        },
    };
    // A pane adopted after a restart must still be the process that was recorded.
    let same_process = match &tmux.adopt {
        Some(a) => a.start_time.is_none() || proc::process_start_time(pid) == a.start_time,
        None => true,
    };
    let exit_watch = if same_process {
        ExitWatch::new(pid).ok()
    } else {
        None
    };
    let file_watch = FileWatch::new(&cfg.out_path).ok();
    let mut log = match std::fs::File::open(&cfg.out_path) {
        Ok(mut f) => f.seek(SeekFrom::Start(out_offset)).map(|_| f).ok(),
        Err(_) => None,
    };

    let mut scanner = token.as_deref().map(proc::MarkerScanner::new);
    let mut payload = PayloadCapture::new();
    let mut live = Liveness::new(acknowledged);
    let mut status: Option<ExitStatus> = None;
    // A pid whose start time no longer matches belongs to someone else now:
    // it is never signalled, and its "group" is not ours to wait for.
    let mut group_empty = !same_process;
    let mut termination = Termination::new(cfg.grace);
    let far = live.started() + Duration::from_secs(86400 * 365);

    let signal = super::run::group_signaller(&cfg.id, pid, same_process, &report);
    // One buffer for the run, not one per notification.
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_new = |log: &mut Option<std::fs::File>,
                        scanner: &mut Option<proc::MarkerScanner>,
                        live: &mut Liveness|
     -> usize {
        let Some(file) = log else { return 0 };
        let mut total = 0;
        while let Ok(n) = file.read(&mut buf) {
            if n == 0 {
                break;
            }
            let passed;
            let bytes = match scanner.as_mut() {
                Some(scanner) => {
                    passed = scanner.feed(&buf[..n]);
                    &passed[..]
                }
                None => &buf[..n],
            };
            let n = bytes.len();
            total += n;
            shared.out_bytes.fetch_add(n as u64, Ordering::Relaxed);
            payload.feed(bytes);
            live.output(&shared, bytes, epoch, &report);
        }
        total
    };
    // An adopted pane may have written while no conductor watched.
    read_new(&mut log, &mut scanner, &mut live);
    if exit_watch.is_none() {
        status = Some(pane_exit(&server, &session).await);
        report(RunMsg::Exited {
            status: status.unwrap_or(UNKNOWN),
            runtime: live.started().elapsed(),
        });
    }

    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    // The marker was seen and the session destroyed.
    let mut session_gone = false;
    loop {
        if !session_gone && let Some(st) = scanner.as_ref().and_then(|s| s.ended()) {
            if status.is_none() {
                status = Some(st);
                report(RunMsg::Exited {
                    status: st,
                    runtime: live.started().elapsed(),
                });
            }
            // Everything the agent wrote is in the log now; the shim holds
            // the pane open until the session goes.
            if let Err(e) = server.kill_session(&session).await {
                tracing::warn!(session = %cfg.id, "tmux kill-session: {e}");
            }
            session_gone = true;
            // The shim leaves once its terminal closes; only what is left of
            // the group after that needs ending.
            if let Some(watch) = &exit_watch {
                let _ = tokio::time::timeout(Duration::from_secs(2), watch.exited()).await;
            }
        }
        if status.is_some() && !group_empty {
            group_empty = termination.group_gone(pid, &signal);
        }
        if status.is_some() && group_empty {
            break;
        }
        sleep
            .as_mut()
            .reset(live.follow_wake(&cfg, status.is_some(), &termination));
        tokio::select! {
            biased;
            () = async { if let Some(w) = &file_watch { w.changed().await } else { std::future::pending().await } } => {
                read_new(&mut log, &mut scanner, &mut live);
            }
            () = async { if let Some(w) = &exit_watch { w.exited().await } else { std::future::pending().await } }, if status.is_none() => {
                read_new(&mut log, &mut scanner, &mut live);
                let st = pane_exit(&server, &session).await;
                status = Some(st);
                report(RunMsg::Exited { status: st, runtime: live.started().elapsed() });
            }
            request = ctl.recv() => match request {
                Some(RunCtl::Terminate { force }) => termination.request(force, &signal),
                Some(RunCtl::Input { bytes, source, reply }) => {
                    type_keys(&server, &session, bytes, source, reply, &report);
                }
                // The conductor is gone. A tmux session outlives its conductor
                // by design: stop watching and touch nothing, so the next
                // conductor can adopt it.
                None => return,
            },
            () = &mut sleep => {
                let now = Instant::now();
                read_new(&mut log, &mut scanner, &mut live);
                if status.is_none() {
                    live.check(now, &cfg, &shared, &report);
                }
                termination.tick(now, &signal);
            }
        }
    }
    if !session_gone {
        // The pane died without the marker (its shim was killed, or an older
        // baton ran the agent directly). Let tmux hand what it still buffers
        // to the pipe, then destroy the session.
        let quiet_until = Instant::now() + QUIET_MAX;
        let mut quiet_since = Instant::now();
        while Instant::now() < quiet_until && quiet_since.elapsed() < QUIET {
            if read_new(&mut log, &mut scanner, &mut live) > 0 {
                quiet_since = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Err(e) = server.kill_session(&session).await {
            tracing::warn!(session = %cfg.id, "tmux kill-session: {e}");
        }
    }
    // Only once `cat` says it wrote everything does the next run, or the
    // payload, see a complete log.
    let marker = proc::pipe_done_marker(&cfg.out_path);
    let marker_until = Instant::now() + MARKER_MAX;
    while !marker.exists() && Instant::now() < marker_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if !marker.exists() {
        tracing::warn!(session = %cfg.id, "tmux's output pipe did not finish within 10 s");
    }
    let _ = std::fs::remove_file(&marker);
    read_new(&mut log, &mut scanner, &mut live);
    match scanner.as_mut() {
        // The log keeps the agent's bytes only: the marker goes again.
        Some(scanner) if scanner.ended().is_some() => {
            if let Some(at) = scanner.marker_at() {
                cut_log(&cfg.out_path, out_offset + at);
            }
        }
        Some(scanner) => {
            let rest = scanner.flush();
            shared
                .out_bytes
                .fetch_add(rest.len() as u64, Ordering::Relaxed);
            payload.feed(&rest);
            live.output(&shared, &rest, epoch, &report);
        }
        None => {}
    }
    let status = status.unwrap_or(UNKNOWN);
    let payload = payload.finish(&run_stdout_tail(&cfg.out_path, out_offset));
    report(RunMsg::Finished {
        status,
        payload,
        tail: shared.tail_bytes(),
    });
}

/// Truncates the log to `len` bytes (what follows is the shim's marker).
fn cut_log(path: &std::path::Path, len: u64) {
    let result = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| match f.metadata()?.len() > len {
            true => f.set_len(len),
            false => Ok(()),
        });
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), "removing the end-of-run marker from the log: {e}");
    }
}

/// Types an answer into a tmux session (literal keys, off the run's loop)
/// and reports it as `InputDone`.
pub(super) fn type_keys(
    server: &TmuxServer,
    session: &str,
    bytes: Vec<u8>,
    source: String,
    reply: tokio::sync::oneshot::Sender<Result<(), String>>,
    report: &Report,
) {
    let len = bytes.len();
    let sha256 = hex(&Sha256::digest(&bytes));
    let (server, session, report) = (server.clone(), session.to_owned(), report.clone());
    tokio::spawn(async move {
        let result = server
            .send_text(&session, &bytes)
            .await
            .map_err(|e| e.to_string());
        report(RunMsg::InputDone {
            len,
            sha256,
            source,
            result,
            reply,
        });
    });
}

const UNKNOWN: ExitStatus = ExitStatus {
    code: None,
    signal: None,
};

/// The exit status of a dead pane; unknown when the session is gone.
///
/// The pidfd says the process exited before tmux has necessarily reaped it
/// and marked the pane dead, so a pane still shown alive is asked again.
async fn pane_exit(server: &TmuxServer, session: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match server.pane_status(session).await {
            Ok(Some(pane)) if pane.dead => {
                return ExitStatus {
                    code: pane.code,
                    signal: pane.signal,
                };
            }
            // Gone: nothing can tell the status any more.
            Ok(None) => return UNKNOWN,
            // Not marked dead yet, or a busy server refused the call: ask again.
            Ok(Some(_)) => {}
            Err(e) => tracing::debug!(%session, "reading the pane status: {e}"),
        }
        if Instant::now() >= deadline {
            tracing::warn!(%session, "no exit status from tmux within 5 s");
            return UNKNOWN;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Creates the tmux session; returns (pane pid, out offset, err offset) or
/// (what is missing, message).
async fn start(
    cfg: &RunConfig,
    server: &TmuxServer,
    session: &str,
) -> Result<(Pid, u64, u64, String), (String, String)> {
    if cfg.branch_guard {
        branch_guard(&cfg.cwd)
            .await
            .map_err(|m| ("branch_guard".to_owned(), m))?;
    }
    if !cfg.cwd.is_dir() {
        return Err((
            "workdir".into(),
            format!(
                "workdir `{}` does not exist or is not a directory",
                cfg.cwd.display()
            ),
        ));
    }
    let offset = |path: &std::path::Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|f| f.metadata())
            .map(|m| m.len())
            .map_err(|e| {
                (
                    "logs_dir".to_owned(),
                    format!("cannot open {}: {e}", path.display()),
                )
            })
    };
    let out_offset = offset(&cfg.out_path)?;
    let err_offset = offset(&cfg.err_path)?;
    // A session of this name may be left over: a dead pane from a run whose
    // cleanup never happened is cleared; a live one is somebody's agent.
    match server.pane_status(session).await {
        Ok(Some(pane)) if pane.dead => {
            let _ = server.kill_session(session).await;
        }
        Ok(Some(pane)) => {
            return Err((
                "tmux".into(),
                format!(
                    "tmux session `{session}` on server `{}` is already running (pid {}), left by \
                     an earlier conductor that did not record it; attach to it or kill it first",
                    server.name(),
                    pane.pid
                ),
            ));
        }
        Ok(None) => {}
        Err(e) => return Err(("tmux".into(), e.to_string())),
    }
    let shim = proc::shim_path().map_err(|m| ("baton-shim".to_owned(), m))?;
    let token = marker_token();
    let size = cfg.pty.unwrap_or_default();
    // The pane's process is the shim, which runs the agent and, when it
    // ends, writes the end-of-run marker and keeps the terminal open until
    // the session is destroyed: tmux reads everything before the marker.
    let mut pane = vec![
        shim.to_string_lossy().into_owned(),
        "--marker".to_owned(),
        token.clone(),
        "--".to_owned(),
    ];
    pane.extend(cfg.argv.iter().cloned());
    let _ = std::fs::remove_file(proc::pipe_done_marker(&cfg.out_path));
    let pid = server
        .new_session(
            session,
            cfg.id.as_str(),
            Some(&cfg.cwd),
            &cfg.env,
            &pane,
            size,
            &cfg.out_path,
        )
        .await
        .map_err(|e| {
            let missing = match e {
                TmuxError::Missing(_) => "tmux",
                _ => "binary",
            };
            (missing.to_owned(), e.to_string())
        })?;
    Ok((Pid(pid), out_offset, err_offset, token))
}

/// A fresh token for a run's end-of-run marker (the shim's, or a remote
/// run's done token): output that merely mentions a marker cannot end the
/// run by accident.
pub(super) fn marker_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:016x}", hasher.finish())
}
