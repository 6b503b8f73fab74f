//! One run of one session: the process, its pipes, its deadlines.
//!
//! The run task observes and reports; it never decides a state. It owns the
//! silence deadline (one timer per session, armed from the last output byte),
//! the startup deadline, and the termination state machine:
//! running → terminating (SIGTERM, grace) → killed (SIGKILL) → group empty.
//! When the leader exits, the rest of its group is ended the same way, so a
//! grandchild holding the output pipe cannot keep the session alive.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_config::SessionId;
use baton_monitor::input_wait::{Detection, InputWaitDetector};
use baton_monitor::payload::PayloadCapture;
use baton_monitor::tail::Tail;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::termination::Termination;
use crate::proc::{self, ExitStatus, Pid, Signal, SpawnRequest};

/// After the group is empty, how long to keep reading a pipe that something
/// outside the group (a process that called `setsid`) still holds open.
const ESCAPED_DRAIN: Duration = Duration::from_millis(200);
/// Bytes of stdout read back for the "last JSON object" payload fallback.
const STDOUT_TAIL: u64 = 64 * 1024;
/// How often loops that follow files re-read them without a notification.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// First size of a pipe read buffer.
const READ_MIN: usize = 8 * 1024;
/// Largest pipe read buffer (the pipe itself is grown to this size).
const READ_MAX: usize = 128 * 1024;

/// Everything a run needs, resolved by the supervisor.
pub(crate) struct RunConfig {
    pub id: SessionId,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub stdin_pipe: bool,
    pub branch_guard: bool,
    pub out_path: PathBuf,
    pub err_path: PathBuf,
    pub stall_after: Duration,
    pub startup_timeout: Duration,
    pub grace: Duration,
    pub detector: Arc<InputWaitDetector>,
    /// Run on a pseudo-terminal of this size instead of pipes.
    pub pty: Option<proc::PtySize>,
    /// For a remote run: the workdir on the host as the spec gives it
    /// (`None`: the login directory).
    pub remote_workdir: Option<PathBuf>,
    pub l2: Option<L2Check>,
}

/// The optional L2 hook: a command that must keep succeeding.
#[derive(Clone)]
pub(crate) struct L2Check {
    pub argv: Vec<String>,
    pub interval: Duration,
    pub failures: u32,
}

/// Counters and the combined tail, shared with the supervisor for snapshots.
/// Lives across runs of a session.
pub(crate) struct RunShared {
    pub out_bytes: AtomicU64,
    pub err_bytes: AtomicU64,
    pub tail: Mutex<Tail>,
    /// Milliseconds since the conductor's epoch of the last output byte.
    pub last_output_ms: AtomicU64,
}

impl RunShared {
    pub fn new(tail_bytes: usize) -> RunShared {
        RunShared {
            out_bytes: AtomicU64::new(0),
            err_bytes: AtomicU64::new(0),
            tail: Mutex::new(Tail::new(tail_bytes)),
            last_output_ms: AtomicU64::new(0),
        }
    }

    pub fn tail_bytes(&self) -> Vec<u8> {
        self.tail.lock().map(|t| t.to_vec()).unwrap_or_default()
    }

    pub fn last_line(&self) -> Option<String> {
        self.tail.lock().ok().and_then(|t| t.last_line())
    }
}

/// What a run executed, as the `spawn` record states it.
pub(crate) struct Launch {
    pub argv: Vec<String>,
    pub workdir: String,
    /// Names of the variables baton set, each once, in first-set order; never values.
    pub env_keys: Vec<String>,
    pub tmux: Option<crate::eventlog::TmuxTarget>,
    /// The run's leader is `baton-shim`.
    pub shim: bool,
    /// The inventory host of a remote run.
    pub host: Option<String>,
}

impl Launch {
    pub(super) fn of(cfg: &RunConfig, tmux: Option<crate::eventlog::TmuxTarget>) -> Launch {
        let mut env_keys: Vec<String> = Vec::with_capacity(cfg.env.len());
        for (key, _) in &cfg.env {
            if !env_keys.contains(key) {
                env_keys.push(key.clone());
            }
        }
        Launch {
            argv: cfg.argv.clone(),
            workdir: cfg.cwd.display().to_string(),
            env_keys,
            tmux,
            shim: false,
            host: None,
        }
    }
}

/// Requests from the supervisor to a run.
pub(crate) enum RunCtl {
    /// Stop the run: SIGTERM, grace, SIGKILL. `force` skips the grace.
    Terminate { force: bool },
    /// Write bytes to the agent's stdin.
    Input {
        bytes: Vec<u8>,
        source: String,
        reply: oneshot::Sender<Result<(), String>>,
    },
}

/// What a run reports to the supervisor, in the order it happened.
pub(crate) enum RunMsg {
    Spawned {
        pid: Pid,
        start_time: Option<u64>,
        out_offset: u64,
        err_offset: u64,
        /// What was executed, for the `spawn` record.
        launch: Box<Launch>,
    },
    SpawnFailed {
        missing: String,
        message: String,
    },
    /// The remote host stopped answering; the run ends without touching it.
    Unreachable {
        message: String,
    },
    /// A run started by an earlier conductor was taken over (tmux).
    Recovered {
        pid: Pid,
        /// `readopted` or `exited` (see [`crate::eventlog::Event::Recovered`]).
        outcome: &'static str,
    },
    /// First output byte of this run (L3 acknowledged).
    Acknowledged,
    /// No output for `stall_after`; the detection says whether it looks like a question.
    Silent(Option<Detection>),
    /// Output resumed after a silence.
    Resumed,
    StartupTimeout,
    L2Failed(String),
    Signalled {
        signal: Signal,
        reason: &'static str,
    },
    InputDone {
        len: usize,
        sha256: String,
        source: String,
        result: Result<(), String>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// The leader was reaped. Sent at once: exit detection latency is measured here.
    Exited {
        status: ExitStatus,
        runtime: Duration,
    },
    /// Group empty, pipes drained: the run is over.
    Finished {
        status: ExitStatus,
        payload: Option<serde_json::Value>,
        tail: Vec<u8>,
    },
}

pub(crate) type Report = Arc<dyn Fn(RunMsg) + Send + Sync>;

/// Outcome of checking the branch guard.
pub(super) async fn branch_guard(cwd: &std::path::Path) -> Result<(), String> {
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(["symbolic-ref", "--quiet", "--short", "HEAD"])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(out) if out.status.success() => {
            let branch = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if branch == "main" || branch == "master" {
                Err(format!(
                    "branch_guard: workdir `{}` is on branch `{branch}`; refusing to start an agent there",
                    cwd.display()
                ))
            } else {
                Ok(())
            }
        }
        // Detached HEAD or not a repository: not on main/master.
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "branch_guard: cannot run git to check the branch of `{}`: {e}",
            cwd.display()
        )),
    }
}

/// Opens an output log positioned at its end. Not `O_APPEND`: each log has
/// exactly one writer (this run), and on ext4 append-mode writes of a flood
/// cost measurably more CPU than positioned ones.
fn open_append(path: &std::path::Path) -> std::io::Result<(File, u64)> {
    use std::io::Seek;
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)?;
    let len = file.seek(std::io::SeekFrom::End(0))?;
    Ok((file, len))
}

/// Runs one attempt of a session to its end.
pub(crate) async fn run(
    cfg: RunConfig,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    mut ctl: mpsc::UnboundedReceiver<RunCtl>,
) {
    if cfg.branch_guard
        && let Err(message) = branch_guard(&cfg.cwd).await
    {
        report(RunMsg::SpawnFailed {
            missing: "branch_guard".into(),
            message,
        });
        return;
    }
    let files = open_append(&cfg.out_path).and_then(|out| Ok((out, open_append(&cfg.err_path)?)));
    let ((mut out_file, out_offset), (mut err_file, err_offset)) = match files {
        Ok(files) => files,
        Err(e) => {
            report(RunMsg::SpawnFailed {
                missing: "logs_dir".into(),
                message: format!("cannot open output logs {}: {e}", cfg.out_path.display()),
            });
            return;
        }
    };
    let req = SpawnRequest {
        argv: cfg.argv.clone(),
        cwd: cfg.cwd.clone(),
        env: cfg.env.clone(),
        stdin_pipe: cfg.stdin_pipe,
    };
    let spawned = match cfg.pty {
        None => proc::spawn_async(req).await.map(Streams::pipes),
        Some(size) => proc::spawn_pty_async(req, size).await.map(Streams::pty),
    };
    let spawned = match spawned {
        Ok(child) => child,
        Err(failure) => {
            report(RunMsg::SpawnFailed {
                missing: failure.missing().into(),
                message: failure.to_string(),
            });
            return;
        }
    };
    let started = Instant::now();
    let pid = spawned.pid;
    report(RunMsg::Spawned {
        pid,
        start_time: spawned.start_time,
        out_offset,
        err_offset,
        launch: Box::new(Launch::of(&cfg, None)),
    });
    let Streams {
        mut child,
        mut stdout,
        stderr,
        stdin_tx,
        pipe_fd,
        ..
    } = spawned;
    // A PTY merges both streams into one; its stderr side never produces.
    let err_open_at_start = stderr.is_some();
    let mut stderr = stderr.unwrap_or_else(|| Box::new(tokio::io::empty()));
    let mut l2_task = cfg.l2.clone().map(|check| {
        let report = report.clone();
        let cwd = cfg.cwd.clone();
        tokio::spawn(async move {
            let why = l2_loop(check, cwd).await;
            report(RunMsg::L2Failed(why));
        })
    });

    // Small at first: most sessions are idle most of the time, and a
    // thousand of them must stay cheap. A buffer that a read fills doubles,
    // up to READ_MAX, so a flood is read in large chunks.
    let mut out_buf = vec![0u8; READ_MIN];
    let mut err_buf = vec![0u8; READ_MIN];
    let mut out_open = true;
    let mut err_open = err_open_at_start;
    let mut payload = PayloadCapture::new();
    let mut live = Liveness::new(false);
    let mut status: Option<ExitStatus> = None;
    let mut group_empty = false;
    let mut group_poll = Duration::from_millis(1);
    let mut next_group_poll = started;
    let mut drain_deadline: Option<Instant> = None;
    let mut termination = Termination::new(cfg.grace);
    let mut ctl_open = true;
    let far = started + Duration::from_secs(86400 * 365);
    let sleep = tokio::time::sleep_until(far);
    tokio::pin!(sleep);
    let mut armed = far;

    let signal = group_signaller(&cfg.id, pid, true, &report);

    loop {
        if status.is_some() && group_empty && !out_open && !err_open {
            break;
        }
        // The next moment something must be checked.
        let mut wake = far;
        if status.is_none()
            && let Some(deadline) = live.next_deadline(&cfg)
        {
            wake = wake.min(deadline);
        }
        if let Some(deadline) = termination.wake() {
            wake = wake.min(deadline);
        }
        if status.is_some() && !group_empty {
            wake = wake.min(next_group_poll);
        }
        if let Some(deadline) = drain_deadline {
            wake = wake.min(deadline);
        }
        // Re-arm only when the wake moved earlier; a later one is handled
        // when the early timer fires, so a flood of output costs no timer work.
        if wake < armed {
            armed = wake;
            sleep.as_mut().reset(wake);
        }

        // Biased: output already in the pipe is recorded before the exit
        // that followed it, so the log reads in causal order.
        tokio::select! {
            biased;
            read = stdout.read(&mut out_buf), if out_open => match read {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    let full = n == out_buf.len();
                    let bytes = &out_buf[..n];
                    if let Err(e) = out_file.write_all(bytes) {
                        tracing::error!(path = %cfg.out_path.display(), "output log write failed: {e}");
                    }
                    shared.out_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    payload.feed(bytes);
                    live.output(&shared, bytes, epoch, &report);
                    if grow(&mut out_buf, full) && out_buf.len() == READ_MAX
                        && let Some(fd) = pipe_fd
                    {
                        proc::grow_pipe(fd, READ_MAX);
                    }
                }
            },
            read = stderr.read(&mut err_buf), if err_open => match read {
                Ok(0) | Err(_) => err_open = false,
                Ok(n) => {
                    let full = n == err_buf.len();
                    let bytes = &err_buf[..n];
                    if let Err(e) = err_file.write_all(bytes) {
                        tracing::error!(path = %cfg.err_path.display(), "stderr log write failed: {e}");
                    }
                    shared.err_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    live.output(&shared, bytes, epoch, &report);
                    let _ = grow(&mut err_buf, full);
                }
            },
            result = child.wait(), if status.is_none() => {
                let st = match result {
                    Ok(st) => ExitStatus::from(st),
                    Err(e) => {
                        tracing::error!(session = %cfg.id, %pid, "waiting for child failed: {e}");
                        ExitStatus { code: None, signal: None }
                    }
                };
                status = Some(st);
                report(RunMsg::Exited { status: st, runtime: started.elapsed() });
                if let Some(task) = l2_task.take() {
                    task.abort();
                }
                group_empty = proc::group_is_empty(pid);
                if !group_empty {
                    // The leader is gone; whatever it left in its group goes too.
                    termination.begin("leader_exited", &signal);
                }
                next_group_poll = Instant::now() + group_poll;
            }
            request = ctl.recv(), if ctl_open => match request {
                Some(RunCtl::Terminate { force }) => termination.request(force, &signal),
                Some(RunCtl::Input { bytes, source, reply }) => {
                    let len = bytes.len();
                    let sha256 = hex(&Sha256::digest(&bytes));
                    match &stdin_tx {
                        Some(tx) => {
                            let (done_tx, done_rx) = oneshot::channel();
                            if tx.send((bytes, done_tx)).is_err() {
                                report(RunMsg::InputDone { len, sha256, source, result: Err("the agent's stdin is closed".into()), reply });
                            } else {
                                let report = report.clone();
                                tokio::spawn(async move {
                                    let result = done_rx
                                        .await
                                        .unwrap_or_else(|_| Err("the agent's stdin writer stopped".into()));
                                    report(RunMsg::InputDone { len, sha256, source, result, reply });
                                });
                            }
                        }
                        None => report(RunMsg::InputDone {
                            len, sha256, source,
                            result: Err("this session's stdin is not a pipe (stdin = \"null\")".into()),
                            reply,
                        }),
                    }
                }
                // The supervisor is gone: end the run as if asked to.
                None => {
                    ctl_open = false;
                    if status.is_none() {
                        termination.begin("conductor_gone", &signal);
                    }
                }
            },
            () = &mut sleep => {
                armed = far;
                sleep.as_mut().reset(far);
                let now = Instant::now();
                if status.is_none() {
                    live.check(now, &cfg, &shared, &report);
                }
                termination.tick(now, &signal);
                if status.is_some() && !group_empty && now >= next_group_poll {
                    group_empty = proc::group_is_empty(pid);
                    group_poll = (group_poll * 2).min(Duration::from_millis(50));
                    next_group_poll = now + group_poll;
                    if group_empty && (out_open || err_open) {
                        drain_deadline = Some(now + ESCAPED_DRAIN);
                    }
                }
                if let Some(deadline) = drain_deadline
                    && now >= deadline
                {
                    if out_open || err_open {
                        tracing::warn!(session = %cfg.id, %pid, "a process outside the session's group still holds its output pipe; stopped reading");
                    }
                    out_open = false;
                    err_open = false;
                }
            }
        }
        if status.is_some() && group_empty && (out_open || err_open) && drain_deadline.is_none() {
            drain_deadline = Some(Instant::now() + ESCAPED_DRAIN);
        }
    }
    if let Some(task) = l2_task.take() {
        task.abort();
    }
    let _ = out_file.flush();
    let _ = err_file.flush();
    let status = status.unwrap_or(ExitStatus {
        code: None,
        signal: None,
    });
    let payload = payload.finish(&run_stdout_tail(&cfg.out_path, out_offset));
    report(RunMsg::Finished {
        status,
        payload,
        tail: shared.tail_bytes(),
    });
}

/// Signals the run's process group `pid` and reports each signal that
/// reached someone. With `ours` false (a recorded pid whose start time no
/// longer matches: someone else's process now) it signals nothing.
pub(super) fn group_signaller<'a>(
    id: &'a SessionId,
    pid: Pid,
    ours: bool,
    report: &'a Report,
) -> impl Fn(Signal, &'static str) + 'a {
    move |sig, reason| {
        if !ours {
            return;
        }
        match proc::signal_group(pid, sig) {
            Ok(true) => report(RunMsg::Signalled {
                signal: sig,
                reason,
            }),
            Ok(false) => {}
            Err(e) => tracing::warn!(session = %id, %pid, "signalling group failed: {e}"),
        }
    }
}

/// The file `<id>.<ext>` beside a session's `<id>.out.log`.
pub(super) fn session_file(out_path: &std::path::Path, ext: &str) -> PathBuf {
    let name = out_path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".out.log"))
        .unwrap_or("session");
    out_path.with_file_name(format!("{name}.{ext}"))
}

/// The last [`STDOUT_TAIL`] bytes this run wrote to `out_path` (which it
/// began at `out_offset`). Read back once at the end instead of copying every
/// chunk into a ring as it passes: the log already holds them.
pub(super) fn run_stdout_tail(out_path: &std::path::Path, out_offset: u64) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = File::open(out_path)?;
        let len = file.metadata()?.len();
        let start = len.saturating_sub(STDOUT_TAIL).max(out_offset.min(len));
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::with_capacity((len - start) as usize);
        file.read_to_end(&mut tail)?;
        Ok(tail)
    };
    read().unwrap_or_default()
}

/// Doubles a read buffer that the last read filled, up to [`READ_MAX`];
/// returns whether it grew.
fn grow(buf: &mut Vec<u8>, was_full: bool) -> bool {
    let grows = was_full && buf.len() < READ_MAX;
    if grows {
        buf.resize(buf.len() * 2, 0);
    }
    grows
}

/// The L3 (first output) and L1 (silence) deadlines of a run, the same in
/// every run loop: told of each chunk of output, it says when it must be
/// checked next and reports what is due.
pub(super) struct Liveness {
    started: Instant,
    acked: bool,
    silent: bool,
    startup_reported: bool,
    last_output: Instant,
}

impl Liveness {
    /// A run that starts now; `acknowledged` when it had produced output
    /// before (an adopted run).
    pub fn new(acknowledged: bool) -> Liveness {
        let now = Instant::now();
        Liveness {
            started: now,
            acked: acknowledged,
            silent: false,
            startup_reported: false,
            last_output: now,
        }
    }

    /// When the run (or its watching, for an adopted one) began.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Bookkeeping for every chunk of output, from either stream.
    pub fn output(
        &mut self,
        shared: &RunShared,
        bytes: &[u8],
        epoch: std::time::Instant,
        report: &Report,
    ) {
        if let Ok(mut tail) = shared.tail.lock() {
            tail.push(bytes);
        }
        self.last_output = Instant::now();
        shared
            .last_output_ms
            .store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
        if !self.acked {
            self.acked = true;
            report(RunMsg::Acknowledged);
        }
        if self.silent {
            self.silent = false;
            report(RunMsg::Resumed);
        }
    }

    /// The next deadline while the agent runs, if any is armed.
    pub fn next_deadline(&self, cfg: &RunConfig) -> Option<Instant> {
        if !self.acked && !self.startup_reported {
            Some(self.started + cfg.startup_timeout)
        } else if self.acked && !self.silent {
            Some(self.last_output + cfg.stall_after)
        } else {
            None
        }
    }

    /// When a loop that follows files (tmux, shim) must look again: at the
    /// next deadline, at a poll interval in case a notification was missed,
    /// and often while a run that `ended` waits for its group to empty.
    pub fn follow_wake(
        &self,
        cfg: &RunConfig,
        ended: bool,
        termination: &super::termination::Termination,
    ) -> Instant {
        let now = Instant::now();
        let mut wake = now + FOLLOW_POLL;
        if ended {
            wake = wake.min(now + Duration::from_millis(10));
        } else if let Some(deadline) = self.next_deadline(cfg) {
            wake = wake.min(deadline);
        }
        if let Some(deadline) = termination.wake() {
            wake = wake.min(deadline);
        }
        wake
    }

    /// Reports the deadlines that have passed at `now` (while the agent runs).
    pub fn check(&mut self, now: Instant, cfg: &RunConfig, shared: &RunShared, report: &Report) {
        if !self.acked && !self.startup_reported && now >= self.started + cfg.startup_timeout {
            self.startup_reported = true;
            report(RunMsg::StartupTimeout);
        }
        if self.acked && !self.silent && now >= self.last_output + cfg.stall_after {
            self.silent = true;
            let tail = shared.tail_bytes();
            report(RunMsg::Silent(cfg.detector.detect(&tail)));
        }
    }
}

type StdinJob = (Vec<u8>, oneshot::Sender<Result<(), String>>);
type Reader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// The started process and the streams the run loop reads and writes, the
/// same shape for pipes and a PTY.
struct Streams {
    child: tokio::process::Child,
    pid: Pid,
    start_time: Option<u64>,
    stdout: Reader,
    /// `None` for a PTY: one terminal carries both streams.
    stderr: Option<Reader>,
    /// Input: the stdin pipe or the PTY master; `None` with `stdin = "null"`.
    stdin_tx: Option<mpsc::UnboundedSender<StdinJob>>,
    /// The stdout pipe, which may be grown when the agent floods.
    pipe_fd: Option<std::os::fd::RawFd>,
}

impl Streams {
    fn pipes(c: proc::SpawnedChild) -> Streams {
        use std::os::fd::AsRawFd;
        Streams {
            pipe_fd: Some(c.stdout.as_raw_fd()),
            child: c.child,
            pid: c.pid,
            start_time: c.start_time,
            stdout: Box::new(c.stdout),
            stderr: Some(Box::new(c.stderr)),
            stdin_tx: c.stdin.map(stdin_writer),
        }
    }

    fn pty(c: proc::PtyChild) -> Streams {
        Streams {
            child: c.child,
            pid: c.pid,
            start_time: c.start_time,
            stdout: Box::new(c.output),
            stderr: None,
            stdin_tx: Some(stdin_writer(c.input)),
            pipe_fd: None,
        }
    }
}

/// A task owning the agent's input, so a slow reader never blocks the run loop.
fn stdin_writer<W>(mut stdin: W) -> mpsc::UnboundedSender<StdinJob>
where
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<StdinJob>();
    tokio::spawn(async move {
        while let Some((bytes, done)) = rx.recv().await {
            let result = async {
                stdin.write_all(&bytes).await?;
                stdin.flush().await
            }
            .await
            .map_err(|e| format!("writing to the agent's stdin failed: {e}"));
            let _ = done.send(result);
        }
    });
    tx
}

pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Runs the L2 check every `interval`; returns a description after
/// `failures` consecutive failures.
async fn l2_loop(check: L2Check, cwd: PathBuf) -> String {
    let mut consecutive = 0;
    loop {
        tokio::time::sleep(check.interval).await;
        let Some((program, args)) = check.argv.split_first() else {
            return "empty l2_check".into();
        };
        let run = tokio::process::Command::new(program)
            .args(args)
            .current_dir(&cwd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let ok = matches!(
            tokio::time::timeout(check.interval, run).await,
            Ok(Ok(status)) if status.success()
        );
        consecutive = if ok { 0 } else { consecutive + 1 };
        if consecutive >= check.failures {
            return format!("l2_check failed {consecutive} times in a row");
        }
    }
}
