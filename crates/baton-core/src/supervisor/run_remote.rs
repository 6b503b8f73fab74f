//! One run of a session on a remote host, in tmux, over the host's one
//! multiplexed ssh connection.
//!
//! The pane runs `sh -c WRAPPER NONCE ARGV…`: the wrapper runs the agent
//! (its argv passed as arguments, never parsed by a shell), then prints the
//! done token `__BATON_DONE__ <code> <nonce>` and keeps the pane open until
//! baton destroys the session, so tmux hands every byte to `pipe-pane`
//! before it goes. `pipe-pane` appends the terminal output to a file on the
//! host; the host's feed ([`HostFeed`]: one ssh call per tick for all its
//! sessions) brings the new bytes from the offset this run has, so the
//! local `<id>.out.log` has no gap or duplicate, and the state of the pane
//! (L0). A host that does not answer for `remote_timeout` ends the run as
//! `remote_unreachable`, and the next run
//! first looks for the tmux session it left (the run's nonce is in
//! `<id>.remote` locally and in the session's `@baton_id` remotely) and
//! re-adopts it when it survived.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use baton_monitor::payload::PayloadCapture;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::run::{Launch, Liveness, Report, RunConfig, RunCtl, RunMsg, RunShared, run_stdout_tail};
use crate::proc::remote_feed::{FeedEvent, HostFeed};
use crate::proc::ssh::SshError;
use crate::proc::{self, ExitStatus, MarkerScanner, Pid, TmuxError, TmuxServer};

/// How long a run that could not end its remote session keeps trying.
const CLEANUP_RETRY: Duration = Duration::from_secs(600);
/// How soon a session whose host did not answer tries again.
pub(crate) const PROBE: Duration = Duration::from_secs(2);

/// The wrapper the pane runs: `$0` is the run's nonce, `"$@"` the agent.
const WRAPPER: &str = "\"$@\"; c=$?; printf '__BATON_DONE__ %s %s\\n' \"$c\" \"$0\"; \
                       while :; do sleep 3600; done";

/// Where a remote run lives.
pub(crate) struct RemoteRun {
    /// baton's tmux server on the host (calls go over ssh).
    pub tmux: TmuxServer,
    /// The tmux session name.
    pub session: String,
    /// The inventory name of the host.
    pub host: String,
    /// The host's output and pane fetcher.
    pub feed: Arc<HostFeed>,
}

/// Run on the host before a new run: `$1` the tmux server name, `$2` the
/// workdir (empty: the login directory), `$3` the program. Exits 3 for a
/// missing workdir, 4 for a missing program; prints the output directory.
const PREPARE: &str = "umask 077; \
    if [ -n \"$2\" ]; then cd \"$2\" 2>/dev/null || exit 3; fi; \
    command -v \"$3\" >/dev/null 2>&1 || exit 4; \
    mkdir -p -- \"$HOME/.baton/$1\" || exit 5; printf %s \"$HOME/.baton/$1\"";

/// Run on the host when a run ends: `$1` server, `$2` target session, `$3`
/// output file, `$4` its `pipe-pane` marker, `$5` their directory, `$6`
/// `+N` (the first byte not yet fetched). Ends the session, waits (≤ 5 s)
/// for `pipe-pane` to write its last bytes, prints the file from byte N,
/// and removes the files.
const CLEANUP: &str = "if tmux -L \"$1\" kill-session -t \"$2\" 2>/dev/null; then \
    i=0; while [ ! -e \"$4\" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; fi; \
    tail -c \"$6\" \"$3\" 2>/dev/null; \
    rm -f \"$3\" \"$4\"; rmdir \"$5\" 2>/dev/null; exit 0";

/// What `<id>.remote` remembers of the current run, so a later run (or a
/// later conductor) can take the tmux session over.
struct RunState {
    nonce: String,
    /// Where the run's output begins in the local `<id>.out.log`.
    out_offset: u64,
    /// The output file on the host.
    remote_log: String,
}

impl RunState {
    fn path(out_path: &Path) -> PathBuf {
        super::run::session_file(out_path, "remote")
    }

    fn load(out_path: &Path) -> Option<RunState> {
        let text = std::fs::read_to_string(Self::path(out_path)).ok()?;
        let mut lines = text.lines();
        let nonce = lines.next()?.to_owned();
        let out_offset = lines.next()?.parse().ok()?;
        let remote_log = lines.next()?.to_owned();
        Some(RunState {
            nonce,
            out_offset,
            remote_log,
        })
    }

    fn save(&self, out_path: &Path) -> std::io::Result<()> {
        let path = Self::path(out_path);
        let tmp = path.with_extension("remote.tmp");
        std::fs::write(
            &tmp,
            format!("{}\n{}\n{}\n", self.nonce, self.out_offset, self.remote_log),
        )?;
        std::fs::rename(tmp, path)
    }
}

/// Why a run could not start.
enum StartError {
    /// The host did not answer: retry once it does.
    Unreachable(String),
    /// Retrying cannot help (auth, host key, tmux missing…).
    Failed { missing: String, message: String },
}

impl From<TmuxError> for StartError {
    fn from(e: TmuxError) -> StartError {
        match e {
            TmuxError::Ssh(e) if e.is_unreachable() => StartError::Unreachable(e.to_string()),
            TmuxError::Ssh(e @ (SshError::Auth { .. } | SshError::HostKey { .. })) => {
                StartError::Failed {
                    missing: "ssh".into(),
                    message: e.to_string(),
                }
            }
            other => StartError::Failed {
                missing: "tmux".into(),
                message: other.to_string(),
            },
        }
    }
}

pub(crate) async fn run_remote(
    cfg: RunConfig,
    remote: RemoteRun,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    mut ctl: mpsc::UnboundedReceiver<RunCtl>,
) {
    let tmux = remote.tmux.clone();
    let session = remote.session.clone();
    let Some(host) = tmux.host().cloned() else {
        report(RunMsg::SpawnFailed {
            missing: "host".into(),
            message: "a remote run needs a host".into(),
        });
        return;
    };
    let (state, pid, adopted, acknowledged) = match adopt_or_start(&cfg, &remote).await {
        Ok(started) => started,
        Err(StartError::Unreachable(message)) => {
            report(RunMsg::Unreachable { message });
            report(RunMsg::Finished {
                status: UNKNOWN,
                payload: None,
                tail: shared.tail_bytes(),
            });
            return;
        }
        Err(StartError::Failed { missing, message }) => {
            report(RunMsg::SpawnFailed { missing, message });
            return;
        }
    };
    if adopted {
        report(RunMsg::Recovered {
            pid: Pid(pid),
            outcome: "readopted",
        });
    } else {
        let mut launch = Launch::of(
            &cfg,
            Some(crate::eventlog::TmuxTarget {
                server: tmux.name().to_owned(),
                session: session.clone(),
                marker: Some(state.nonce.clone()),
            }),
        );
        launch.host = Some(remote.host.clone());
        // The workdir on the host (`~`: its login directory).
        launch.workdir = cfg
            .remote_workdir
            .as_deref()
            .map_or_else(|| "~".to_owned(), |w| w.display().to_string());
        report(RunMsg::Spawned {
            pid: Pid(pid),
            start_time: None,
            out_offset: state.out_offset,
            err_offset: file_len(&cfg.err_path),
            launch: Box::new(launch),
        });
    }

    // The local log: bytes of this run so far are what was received.
    let mut out = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&cfg.out_path)
    {
        Ok(f) => f,
        Err(e) => {
            // Output that cannot be kept must not run unseen: end it.
            tracing::error!(path = %cfg.out_path.display(), "cannot open the output log: {e}; ending the session");
            let _ = tmux.kill_session(&session).await;
            report(RunMsg::Finished {
                status: UNKNOWN,
                payload: None,
                tail: shared.tail_bytes(),
            });
            return;
        }
    };
    // Bytes after a done token are never written, so what the local log
    // holds of this run is exactly what was received before.
    let mut received = file_len(&cfg.out_path).saturating_sub(state.out_offset);
    let mut scanner = MarkerScanner::done_token(&state.nonce);
    let mut payload = PayloadCapture::new();
    let mut live = Liveness::new(acknowledged);
    let mut status: Option<ExitStatus> = None;
    // Agent output: into the log, the counters, the payload and the detectors.
    let keep = |bytes: &[u8],
                out: &mut std::fs::File,
                payload: &mut PayloadCapture,
                live: &mut Liveness| {
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = out.write_all(bytes) {
            tracing::error!(path = %cfg.out_path.display(), "output log write failed: {e}");
        }
        shared
            .out_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        payload.feed(bytes);
        live.output(&shared, bytes, epoch, &report);
    };
    let mut watch = remote.feed.watch(&session, &state.remote_log, received);
    let mut last_answer = Instant::now();
    let mut terminating = false;
    let remote_timeout = host.timeout().max(proc::remote_feed::TICK_MAX * 2);
    let far = live.started() + Duration::from_secs(86400 * 365);
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);

    let ended: Option<&'static str> = loop {
        let mut wake = Instant::now() + proc::remote_feed::TICK_MAX;
        if let Some(deadline) = live.next_deadline(&cfg) {
            wake = wake.min(deadline);
        }
        sleep.as_mut().reset(wake);
        tokio::select! {
            biased;
            event = watch.rx.recv() => match event {
                Some(FeedEvent::Output(bytes)) => {
                    last_answer = Instant::now();
                    received += bytes.len() as u64;
                    let passed = scanner.feed(&bytes);
                    keep(&passed, &mut out, &mut payload, &mut live);
                    if let Some(st) = scanner.ended() {
                        status = Some(st);
                        report(RunMsg::Exited { status: st, runtime: live.started().elapsed() });
                        break None;
                    }
                }
                Some(FeedEvent::Pane(pane)) => {
                    last_answer = Instant::now();
                    match pane {
                        Some(pane) if pane.dead => {
                            // The wrapper itself died (killed on the host):
                            // no token will come.
                            let st = ExitStatus { code: pane.code, signal: pane.signal };
                            status = Some(st);
                            report(RunMsg::Exited { status: st, runtime: live.started().elapsed() });
                            break None;
                        }
                        Some(_) => {}
                        None => {
                            // The session is gone (the host restarted, or
                            // someone killed it): the agent's end is unknown.
                            status = Some(UNKNOWN);
                            report(RunMsg::Exited { status: UNKNOWN, runtime: live.started().elapsed() });
                            break None;
                        }
                    }
                }
                Some(FeedEvent::Failed(e)) => {
                    tracing::debug!(session = %cfg.id, host = %remote.host, "fetch failed: {e}");
                    if last_answer.elapsed() >= remote_timeout {
                        report(RunMsg::Unreachable {
                            message: format!(
                                "host `{}` has not answered for {} s: {e}",
                                remote.host,
                                last_answer.elapsed().as_secs()
                            ),
                        });
                        break Some("unreachable");
                    }
                }
                // The feed is gone (the conductor is stopping).
                None => return,
            },
            request = ctl.recv() => match request {
                Some(RunCtl::Terminate { .. }) => {
                    terminating = true;
                    break Some("kill");
                }
                Some(RunCtl::Input { bytes, source, reply }) => {
                    super::run_tmux::type_keys(&tmux, &session, bytes, source, reply, &report);
                }
                // The conductor is gone: the remote session outlives it by
                // design; the next conductor re-adopts it.
                None => return,
            },
            () = &mut sleep => {
                let now = Instant::now();
                if status.is_none() {
                    live.check(now, &cfg, &shared, &report);
                }
                // A fetch that never comes back at all also counts as silence.
                if last_answer.elapsed() >= remote_timeout + proc::remote_feed::TICK_MAX {
                    report(RunMsg::Unreachable {
                        message: format!(
                            "host `{}` has not answered for {} s",
                            remote.host,
                            last_answer.elapsed().as_secs()
                        ),
                    });
                    break Some("unreachable");
                }
            }
        }
    };
    // No more output is fetched for this run.
    watch.rx.close();
    drop(watch);
    match ended {
        Some("unreachable") => {}
        _ => {
            // Done (token seen, pane dead or gone) or killed: one call
            // destroys the session and removes the output file (and a
            // `pipe-pane` marker an older baton left) and, once no other run
            // uses it, their directory.
            let log = Path::new(&state.remote_log);
            let piped = proc::pipe_done_marker(log);
            let dir = log.parent().unwrap_or(Path::new("."));
            let target = format!("={session}");
            let from = format!("+{}", received + 1);
            let words = [
                "sh",
                "-c",
                CLEANUP,
                "sh",
                tmux.name(),
                &target,
                state.remote_log.as_str(),
                &piped.to_string_lossy(),
                &dir.to_string_lossy(),
                &from,
            ];
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            match host.exec(&words, None).await {
                // What the agent wrote after the last fetch (a kill, a dead
                // pane): kept, up to a done token.
                Ok(rest) => {
                    if scanner.ended().is_none() {
                        let passed = scanner.feed(&rest.stdout);
                        keep(&passed, &mut out, &mut payload, &mut live);
                        let held = scanner.flush();
                        keep(&held, &mut out, &mut payload, &mut live);
                    }
                    let _ = std::fs::remove_file(RunState::path(&cfg.out_path));
                }
                Err(e) => {
                    // The host does not answer (a kill during a cut): the
                    // agent may live on there. Keep trying in the background,
                    // and keep `<id>.remote` until it is done, so a later run
                    // or conductor finds the session instead of losing it.
                    tracing::error!(
                        session = %cfg.id,
                        host = %remote.host,
                        "cannot end the tmux session now ({e}); retrying for up to {} s",
                        CLEANUP_RETRY.as_secs()
                    );
                    let (host, state_path, id) =
                        (host.clone(), RunState::path(&cfg.out_path), cfg.id.clone());
                    tokio::spawn(async move {
                        let until = Instant::now() + CLEANUP_RETRY;
                        while Instant::now() < until {
                            tokio::time::sleep(PROBE).await;
                            if host.exec(&words, None).await.is_ok() {
                                let _ = std::fs::remove_file(&state_path);
                                tracing::info!(session = %id, "remote tmux session ended after the host answered again");
                                return;
                            }
                        }
                        tracing::error!(session = %id, "gave up ending the remote tmux session; `<id>.remote` keeps it for the next run");
                    });
                }
            }
            if terminating {
                report(RunMsg::Signalled {
                    signal: proc::Signal::Term,
                    reason: "kill_session",
                });
            }
        }
    }
    let _ = out.flush();
    let payload = match status {
        Some(st) if st.success() => {
            payload.finish(&run_stdout_tail(&cfg.out_path, state.out_offset))
        }
        _ => None,
    };
    report(RunMsg::Finished {
        status: status.unwrap_or(UNKNOWN),
        payload,
        tail: shared.tail_bytes(),
    });
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

const UNKNOWN: ExitStatus = ExitStatus {
    code: None,
    signal: None,
};

/// Takes over the tmux session a previous run of this session left on the
/// host (same nonce, pane alive), or starts a new one. Returns the run's
/// state, the pane pid, whether it was adopted, and whether it had output.
async fn adopt_or_start(
    cfg: &RunConfig,
    remote: &RemoteRun,
) -> Result<(RunState, u32, bool, bool), StartError> {
    let tmux = &remote.tmux;
    let session = &remote.session;
    let existing = tmux.pane_status(session).await?;
    if let (Some(pane), Some(state)) = (existing, RunState::load(&cfg.out_path)) {
        let tag = tmux.session_tag(session).await?;
        if tag.as_deref() == Some(&format!("{} {}", cfg.id, state.nonce)) && !pane.dead {
            let acknowledged = file_len(&cfg.out_path) > state.out_offset;
            return Ok((state, pane.pid, true, acknowledged));
        }
    }
    if existing.is_some() {
        // A dead pane of ours, or a session of an earlier run of this id,
        // goes; a session tagged for another id (or untagged) is someone
        // else's and is never touched.
        let tag = tmux.session_tag(session).await?;
        let ours = tag
            .as_deref()
            .and_then(|t| t.split_once(' '))
            .is_some_and(|(id, _)| id == cfg.id.as_str());
        if !ours {
            return Err(StartError::Failed {
                missing: "tmux".into(),
                message: format!(
                    "tmux session `{session}` on host `{}` (server `{}`) belongs to something else \
                     (tag {tag:?}); baton leaves it alone",
                    remote.host,
                    tmux.name()
                ),
            });
        }
        tmux.kill_session(session).await?;
    }
    let host = tmux.host().cloned().ok_or_else(|| StartError::Failed {
        missing: "host".into(),
        message: "a remote run needs a host".into(),
    })?;
    let nonce = super::run_tmux::marker_token();
    // One call checks what the agent needs (tmux dies back to $HOME for a
    // missing workdir, and a missing program would only show as exit 127),
    // and makes the private directory for the output file under the login
    // directory of the host.
    let workdir = cfg
        .remote_workdir
        .as_deref()
        .map(|w| w.to_string_lossy().into_owned())
        .unwrap_or_default();
    let program = cfg.argv.first().cloned().unwrap_or_default();
    let answer = host
        .exec(
            &[
                "sh",
                "-c",
                PREPARE,
                "sh",
                tmux.name(),
                workdir.as_str(),
                program.as_str(),
            ],
            None,
        )
        .await
        .map_err(|e| StartError::from(TmuxError::Ssh(e)))?;
    let dir = match answer.status {
        0 => String::from_utf8_lossy(&answer.stdout).into_owned(),
        3 => {
            return Err(StartError::Failed {
                missing: "workdir".into(),
                message: format!(
                    "workdir `{workdir}` does not exist or is not a directory on host `{}`",
                    remote.host
                ),
            });
        }
        4 => {
            return Err(StartError::Failed {
                missing: "binary".into(),
                message: format!(
                    "program `{program}` not found on host `{}` (looked up in {}, on the login PATH)",
                    remote.host,
                    if workdir.is_empty() {
                        "the login directory"
                    } else {
                        &workdir
                    }
                ),
            });
        }
        other => {
            return Err(StartError::Failed {
                missing: "host".into(),
                message: format!(
                    "preparing host `{}` failed (status {other}): {}",
                    remote.host,
                    answer.stderr.trim()
                ),
            });
        }
    };
    let remote_log = format!("{dir}/{session}.{nonce}.log");
    let out_offset = file_len(&cfg.out_path);
    let state = RunState {
        nonce: nonce.clone(),
        out_offset,
        remote_log: remote_log.clone(),
    };
    state.save(&cfg.out_path).map_err(|e| StartError::Failed {
        missing: "logs_dir".into(),
        message: format!(
            "cannot record the remote run next to {}: {e}",
            cfg.out_path.display()
        ),
    })?;
    let mut pane = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        WRAPPER.to_owned(),
        nonce.clone(),
    ];
    pane.extend(cfg.argv.iter().cloned());
    let cwd = cfg.remote_workdir.as_deref();
    let pid = tmux
        .new_session(
            session,
            &format!("{} {}", cfg.id, nonce),
            cwd,
            &cfg.env,
            &pane,
            cfg.pty.unwrap_or_default(),
            Path::new(&remote_log),
        )
        .await?;
    Ok((state, pid, false, false))
}
