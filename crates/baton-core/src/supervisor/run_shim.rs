//! One run of a pipes session under `baton-shim`, as the daemon runs them.
//!
//! The shim leads the run's process group and outlives the conductor: the
//! agent's stdout and stderr are the session's log files themselves (append
//! mode), its stdin a FIFO the shim holds open, and its exit status goes to
//! a status file. Nothing the agent writes waits in a pipe for a conductor
//! that may be gone, so a conductor SIGKILLed mid-run loses no byte, and the
//! next one adopts the run (or, if it ended meanwhile, reads how it ended).
//! This task follows the logs (inotify), the shim (its exit, through `wait`
//! for our own child or a pidfd for an adopted one), and owns the same
//! deadlines and termination sequence as the other runs.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use baton_monitor::payload::PayloadCapture;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::run::{
    Launch, Liveness, Report, RunConfig, RunCtl, RunMsg, RunShared, branch_guard, hex,
    run_stdout_tail, session_file,
};
use super::run_tmux::Adopt;
use super::termination::Termination;
use crate::proc::{self, ExitStatus, ExitWatch, FileWatch, Pid};

/// The status file of session `out_path`'s runs (`<id>.status` beside it).
pub(crate) fn status_path(out_path: &Path) -> PathBuf {
    session_file(out_path, "status")
}

/// The stdin FIFO of session `out_path`'s runs (`<id>.stdin` beside it).
pub(crate) fn fifo_path(out_path: &Path) -> PathBuf {
    session_file(out_path, "stdin")
}

/// The leader: our child (watched through a pidfd, then reaped), or a shim
/// an earlier conductor started.
enum Leader {
    Child(tokio::process::Child, Option<ExitWatch>),
    Adopted(Option<ExitWatch>),
}

impl Leader {
    async fn exited(&mut self) {
        match self {
            Leader::Child(child, Some(watch)) => {
                watch.exited().await;
                let _ = child.try_wait();
            }
            Leader::Child(child, None) => {
                let _ = child.wait().await;
            }
            Leader::Adopted(Some(watch)) => watch.exited().await,
            Leader::Adopted(None) => {}
        }
    }
}

/// A log being followed from a run's offset.
struct Follow {
    file: Option<std::fs::File>,
    counter: fn(&RunShared) -> &AtomicU64,
    stdout: bool,
}

pub(crate) async fn run_shim(
    cfg: RunConfig,
    adopt: Option<Adopt>,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    mut ctl: mpsc::UnboundedReceiver<RunCtl>,
) {
    let status_file = status_path(&cfg.out_path);
    let fifo = cfg.stdin_pipe.then(|| fifo_path(&cfg.out_path));
    let (mut leader, pid, out_offset, err_offset, acknowledged, same_process) = match &adopt {
        Some(a) => {
            let pid = Pid(a.pid);
            // The recorded pid is acted on only while it is still that process.
            let same = a.start_time.is_none() || proc::process_start_time(pid) == a.start_time;
            let watch = if same { ExitWatch::new(pid).ok() } else { None };
            let same = same && watch.is_some();
            report(RunMsg::Recovered {
                pid,
                outcome: if same { "readopted" } else { "exited" },
            });
            (
                Leader::Adopted(watch),
                pid,
                a.out_offset,
                a.err_offset,
                a.acknowledged,
                same,
            )
        }
        None => match start(&cfg, &status_file, fifo.as_deref()).await {
            Ok((child, pid, start_time, out_offset, err_offset)) => {
                let mut launch = Launch::of(&cfg, None);
                launch.shim = true;
                report(RunMsg::Spawned {
                    pid,
                    start_time,
                    out_offset,
                    err_offset,
                    launch: Box::new(launch),
                });
                let watch = ExitWatch::new(pid).ok();
                (
                    Leader::Child(child, watch),
                    pid,
                    out_offset,
                    err_offset,
                    false,
                    true,
                )
            }
            Err((missing, message)) => {
                report(RunMsg::SpawnFailed { missing, message });
                return;
            }
        },
    };

    let open_at = |path: &Path, offset: u64| {
        std::fs::File::open(path)
            .and_then(|mut f| f.seek(SeekFrom::Start(offset)).map(|_| f))
            .ok()
    };
    let mut logs = [
        Follow {
            file: open_at(&cfg.out_path, out_offset),
            counter: |s| &s.out_bytes,
            stdout: true,
        },
        Follow {
            file: open_at(&cfg.err_path, err_offset),
            counter: |s| &s.err_bytes,
            stdout: false,
        },
    ];
    let out_watch = FileWatch::new(&cfg.out_path).ok();
    let err_watch = FileWatch::new(&cfg.err_path).ok();

    let mut payload = PayloadCapture::new();
    let mut live = Liveness::new(acknowledged);
    let mut status: Option<ExitStatus> = None;
    let mut group_empty = !same_process;
    let mut termination = Termination::new(cfg.grace);
    let mut stdin: Option<tokio::net::unix::pipe::Sender> = None;
    let far = live.started() + Duration::from_secs(86400 * 365);

    let signal = super::run::group_signaller(&cfg.id, pid, same_process, &report);
    // One buffer for the run, not one per notification.
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_new =
        |logs: &mut [Follow; 2], payload: &mut PayloadCapture, live: &mut Liveness| {
            for log in logs.iter_mut() {
                let Some(file) = log.file.as_mut() else {
                    continue;
                };
                while let Ok(n) = file.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let bytes = &buf[..n];
                    (log.counter)(&shared).fetch_add(n as u64, Ordering::Relaxed);
                    if log.stdout {
                        payload.feed(bytes);
                    }
                    live.output(&shared, bytes, epoch, &report);
                }
            }
        };
    // An adopted run may have written while no conductor watched.
    read_new(&mut logs, &mut payload, &mut live);
    if !same_process {
        // The shim is gone: its status file says how the agent ended.
        let st = proc::read_status(&status_file, pid.0).unwrap_or(UNKNOWN);
        status = Some(st);
        report(RunMsg::Exited {
            status: st,
            runtime: live.started().elapsed(),
        });
    }

    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    loop {
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
            () = changed(out_watch.as_ref()) => {
                read_new(&mut logs, &mut payload, &mut live);
            }
            () = changed(err_watch.as_ref()) => {
                read_new(&mut logs, &mut payload, &mut live);
            }
            () = leader.exited(), if status.is_none() => {
                read_new(&mut logs, &mut payload, &mut live);
                let st = proc::read_status(&status_file, pid.0).unwrap_or(UNKNOWN);
                status = Some(st);
                report(RunMsg::Exited { status: st, runtime: live.started().elapsed() });
                stdin = None;
            }
            request = ctl.recv() => match request {
                Some(RunCtl::Terminate { force }) => termination.request(force, &signal),
                Some(RunCtl::Input { bytes, source, reply }) => {
                    let len = bytes.len();
                    let sha256 = hex(&Sha256::digest(&bytes));
                    let result = match &fifo {
                        None => Err("this session's stdin is not a pipe (stdin = \"null\")".to_owned()),
                        Some(_) if status.is_some() => Err("the agent's stdin is closed".to_owned()),
                        Some(path) => write_input(&mut stdin, path, &bytes).await,
                    };
                    report(RunMsg::InputDone { len, sha256, source, result, reply });
                }
                // The conductor is gone. The run outlives it by design: touch
                // nothing, so the next conductor can adopt it.
                None => return,
            },
            () = &mut sleep => {
                let now = Instant::now();
                read_new(&mut logs, &mut payload, &mut live);
                if status.is_none() {
                    live.check(now, &cfg, &shared, &report);
                }
                termination.tick(now, &signal);
            }
        }
    }
    // The group is empty: nothing of ours can write any more.
    read_new(&mut logs, &mut payload, &mut live);
    let _ = std::fs::remove_file(&status_file);
    if let Some(path) = &fifo {
        let _ = std::fs::remove_file(path);
    }
    let status = status.unwrap_or(UNKNOWN);
    let payload = payload.finish(&run_stdout_tail(&cfg.out_path, out_offset));
    report(RunMsg::Finished {
        status,
        payload,
        tail: shared.tail_bytes(),
    });
}

async fn changed(watch: Option<&FileWatch>) {
    match watch {
        Some(w) => w.changed().await,
        None => std::future::pending().await,
    }
}

/// Writes an answer into the agent's stdin FIFO (opened on first use; a
/// restarted conductor opens it again).
async fn write_input(
    stdin: &mut Option<tokio::net::unix::pipe::Sender>,
    path: &Path,
    bytes: &[u8],
) -> Result<(), String> {
    if stdin.is_none() {
        let sender = tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(path)
            .map_err(|e| format!("cannot open the agent's stdin {}: {e}", path.display()))?;
        *stdin = Some(sender);
    }
    let Some(sender) = stdin.as_mut() else {
        return Err("the agent's stdin is closed".into());
    };
    let written = tokio::time::timeout(Duration::from_secs(5), sender.write_all(bytes)).await;
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            *stdin = None;
            Err(format!("writing to the agent's stdin failed: {e}"))
        }
        Err(_) => Err("the agent did not read its stdin within 5 s".into()),
    }
}

const UNKNOWN: ExitStatus = ExitStatus {
    code: None,
    signal: None,
};

/// Opens the logs, makes the FIFO, and starts the shim. Returns the child,
/// its pid and start time, and the log offsets; or (what is missing, message).
async fn start(
    cfg: &RunConfig,
    status_file: &Path,
    fifo: Option<&Path>,
) -> Result<(tokio::process::Child, Pid, Option<u64>, u64, u64), (String, String)> {
    if cfg.branch_guard {
        branch_guard(&cfg.cwd)
            .await
            .map_err(|m| ("branch_guard".to_owned(), m))?;
    }
    let shim = proc::shim_path().map_err(|m| ("baton-shim".to_owned(), m))?;
    let logs_err = |path: &Path, e: std::io::Error| {
        (
            "logs_dir".to_owned(),
            format!("cannot open {}: {e}", path.display()),
        )
    };
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|f| Ok((f.metadata()?.len(), f)))
            .map_err(|e| logs_err(path, e))
    };
    let (out_offset, stdout) = open(&cfg.out_path)?;
    let (err_offset, stderr) = open(&cfg.err_path)?;
    let _ = std::fs::remove_file(status_file);
    if let Some(path) = fifo {
        let _ = std::fs::remove_file(path);
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            path,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .map_err(|e| logs_err(path, e.into()))?;
    }
    let req = proc::SpawnRequest {
        argv: cfg.argv.clone(),
        cwd: cfg.cwd.clone(),
        env: cfg.env.clone(),
        stdin_pipe: false,
    };
    let setup = proc::ShimSetup {
        shim,
        status: status_file.to_owned(),
        stdin_fifo: fifo.map(Path::to_owned),
        stdout,
        stderr,
    };
    let (child, pid, start_time) = proc::spawn_shim_async(req, setup)
        .await
        .map_err(|failure| (failure.missing().to_owned(), failure.to_string()))?;
    Ok((child, pid, start_time, out_offset, err_offset))
}
