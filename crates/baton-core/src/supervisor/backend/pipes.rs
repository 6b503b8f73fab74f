//! A child of the conductor on pipes or a pseudo-terminal.
//!
//! Every chunk is written to the session's log as soon as it is read. When
//! the leader exits, the run settles once its group is empty and its pipes
//! are drained; a process outside the group (one that called `setsid`)
//! still holding a pipe is read for a short while and then left behind, so
//! it cannot keep the session alive. The process lives in the conductor's
//! care: when the conductor goes, the run is ended.

use std::io::Write;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{
    Backend, Begun, Delivery, InputDelivery, InputError, Leftovers, Observation, OnConductorGone,
    RunEnd, Spawned, StartError, StdinJob, Stream,
};
use super::{Launch, RunRequest};
use crate::proc::{self, ExitStatus, Pid, Signal, SpawnRequest};
use crate::seglog::RollingWriter;
use crate::state::Missing;
use crate::supervisor::driver::UNKNOWN;
use baton_monitor::input_wait::terminal::{Reads, Terminal};

/// After the group is empty, how long to keep reading a pipe that something
/// outside the group still holds open.
const ESCAPED_DRAIN: Duration = Duration::from_millis(200);
/// First size of a pipe read buffer.
const READ_MIN: usize = 8 * 1024;
/// Largest pipe read buffer (the pipe itself is grown to this size).
const READ_MAX: usize = 128 * 1024;
/// Longest wait between two looks at the group of a leader that exited.
const GROUP_POLL_MAX: Duration = Duration::from_millis(50);

type Reader = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// A run on pipes or a PTY.
pub(crate) struct Pipes {
    id: String,
    child: proc::AgentProcess,
    pid: Pid,
    stdout: Reader,
    stderr: Reader,
    out_file: RollingWriter,
    err_file: RollingWriter,
    out_path: std::path::PathBuf,
    // Small at first: most sessions are idle most of the time, and a
    // thousand of them must stay cheap. A buffer that a read fills doubles,
    // up to READ_MAX, so a flood is read in large chunks.
    out_buf: Vec<u8>,
    err_buf: Vec<u8>,
    out_open: bool,
    err_open: bool,
    /// Input: the stdin pipe or the PTY master; `None` with `stdin = "null"`.
    stdin: Option<mpsc::UnboundedSender<StdinJob>>,
    /// The agent is on a PTY: a line's Enter is `\r`, as a terminal sends it.
    terminal: bool,
    /// The PTY's master, to read how the agent set the terminal.
    tty: Option<std::os::fd::OwnedFd>,
    /// The stdout pipe, which may be grown when the agent floods.
    pipe_fd: Option<std::os::fd::RawFd>,
    exited: bool,
    group_empty: bool,
    group_poll: Duration,
    next_group_poll: Instant,
    drain_deadline: Option<Instant>,
}

/// Opens the logs and starts the agent on pipes (or on a PTY of `cfg.pty`'s size).
async fn start(cfg: &RunRequest) -> Result<(Pipes, Begun), StartError> {
    cfg.preflight().await?;
    if let (true, Some(mark)) = (cfg.sweep_first, &cfg.mark) {
        // At once: they outlived the conductor that started them, and this
        // run will carry the same mark.
        let ended = proc::sweep_strays(mark.clone(), Duration::ZERO)
            .await
            .unwrap_or(0);
        if ended > 0 {
            tracing::info!(session = %cfg.id, attempt = cfg.attempt, ended, "ended what an unrecorded run of this attempt left");
        }
    }
    let open = |path: &std::path::Path| {
        RollingWriter::open(path, cfg.log_limits).map_err(|e| {
            StartError::failed(
                Missing::LogsDir,
                format!("cannot open output logs {}: {e}", path.display()),
            )
        })
    };
    let out_file = open(&cfg.out_path)?;
    let err_file = open(&cfg.err_path)?;
    let (out_offset, err_offset) = (out_file.len(), err_file.len());
    let req = SpawnRequest {
        argv: cfg.argv.clone(),
        cwd: cfg.cwd.clone(),
        env: cfg.env.clone(),
        stdin_pipe: cfg.stdin_pipe,
    };
    let failed =
        |failure: proc::SpawnFailure| StartError::failed(failure.missing(), failure.to_string());
    let mut tty = None;
    let (child, pid, start_time, stdout, stderr, stdin, pipe_fd, err_open): (
        _,
        _,
        _,
        Reader,
        Reader,
        _,
        _,
        _,
    ) = match cfg.pty {
        None => {
            use std::os::fd::AsRawFd;
            let c = proc::spawn_async(req).await.map_err(failed)?;
            let fd = c.stdout.as_raw_fd();
            let stdin = c.stdin.map(stdin_writer);
            (
                c.child,
                c.pid,
                c.start_time,
                Box::new(c.stdout),
                Box::new(c.stderr),
                stdin,
                Some(fd),
                true,
            )
        }
        Some(size) => {
            let c = proc::spawn_pty_async(req, size).await.map_err(failed)?;
            tty = std::os::fd::AsFd::as_fd(&c.input).try_clone_to_owned().ok();
            // A PTY merges both streams into one; its stderr side never produces.
            (
                c.child,
                c.pid,
                c.start_time,
                Box::new(c.output),
                Box::new(tokio::io::empty()),
                Some(stdin_writer(c.input)),
                None,
                false,
            )
        }
    };
    // Its group is a live run's until it ends: the stray sweep of other
    // runs passes over its members.
    if let Some(start_time) = start_time {
        proc::note_run_leader(pid, start_time);
    }
    let begun = Begun::Spawned(Box::new(Spawned {
        pid,
        start_time,
        out_offset,
        err_offset,
        launch: Launch::of(cfg, None),
    }));
    let now = Instant::now();
    let pipes = Pipes {
        id: cfg.id.to_string(),
        child,
        pid,
        stdout,
        stderr,
        out_file,
        err_file,
        out_path: cfg.out_path.clone(),
        out_buf: vec![0u8; READ_MIN],
        err_buf: vec![0u8; READ_MIN],
        out_open: true,
        err_open,
        stdin,
        terminal: cfg.pty.is_some(),
        tty,
        pipe_fd,
        exited: false,
        group_empty: false,
        group_poll: Duration::from_millis(1),
        next_group_poll: now,
        drain_deadline: None,
    };
    Ok((pipes, begun))
}

impl Pipes {
    /// Once the leader exited and the group is empty, pipes still open are
    /// held by something outside the group: read them only a little longer.
    fn arm_drain(&mut self) {
        if self.exited
            && self.group_empty
            && (self.out_open || self.err_open)
            && self.drain_deadline.is_none()
        {
            self.drain_deadline = Some(Instant::now() + ESCAPED_DRAIN);
        }
    }
}

impl Backend for Pipes {
    const ON_CONDUCTOR_GONE: OnConductorGone = OnConductorGone::Terminate;

    /// The PTY's modes, and what the programs in its foreground are
    /// blocked in.
    fn terminal(&self) -> Option<Terminal> {
        use rustix::termios::LocalModes;
        use std::os::unix::ffi::OsStrExt;
        let master = self.tty.as_ref()?;
        let modes = rustix::termios::tcgetattr(master).ok()?.local_modes;
        let reads = match rustix::pty::ptsname(master, Vec::new()) {
            Ok(name) => {
                let path = std::path::Path::new(std::ffi::OsStr::from_bytes(name.as_bytes()));
                proc::foreground_reads(self.pid, path)
            }
            Err(_) => Reads::Unknown,
        };
        Some(Terminal {
            echo: modes.contains(LocalModes::ECHO),
            canonical: modes.contains(LocalModes::ICANON),
            reads,
        })
    }

    /// A run of the conductor's own children is never taken over: it ended
    /// with the conductor that started it.
    async fn start(
        cfg: &RunRequest,
        _site: super::Site,
        _resume: Option<super::RecordedRun>,
    ) -> Result<(Pipes, Begun), StartError> {
        start(cfg).await
    }

    /// What such a run detached is swept by its run mark, for every backend.
    async fn end_recorded(
        _site: super::Site,
        _run: &super::RecordedRun,
        _out_path: &std::path::Path,
    ) {
    }

    async fn observe(&mut self) -> Observation<'_> {
        if self.exited && self.group_empty && !self.out_open && !self.err_open {
            return Observation::Settled;
        }
        // One timer for both waits after the exit, which never overlap: the
        // group is polled while it has members, and the pipes get a drain
        // deadline only once it is empty. (Each timer in the `select!` is
        // part of every session's task, idle or not.)
        let polling = self.exited && !self.group_empty;
        let wake = if polling {
            Some(self.next_group_poll)
        } else {
            self.drain_deadline
        };
        tokio::select! {
            biased;
            read = self.stdout.read(&mut self.out_buf), if self.out_open => match read {
                Ok(0) | Err(_) => {
                    self.out_open = false;
                    self.arm_drain();
                    Observation::Idle
                }
                Ok(n) => {
                    if let Err(e) = self.out_file.append(&self.out_buf[..n]) {
                        tracing::error!(path = %self.out_path.display(), "output log write failed: {e}");
                    }
                    let full = n == self.out_buf.len();
                    if grow(&mut self.out_buf, full) && self.out_buf.len() == READ_MAX
                        && let Some(fd) = self.pipe_fd
                    {
                        proc::grow_pipe(fd, READ_MAX);
                    }
                    Observation::Output { stream: Stream::Stdout, bytes: &self.out_buf[..n] }
                }
            },
            read = self.stderr.read(&mut self.err_buf), if self.err_open => match read {
                Ok(0) | Err(_) => {
                    self.err_open = false;
                    self.arm_drain();
                    Observation::Idle
                }
                Ok(n) => {
                    if let Err(e) = self.err_file.append(&self.err_buf[..n]) {
                        tracing::error!(path = %self.out_path.display(), "stderr log write failed: {e}");
                    }
                    let full = n == self.err_buf.len();
                    let _ = grow(&mut self.err_buf, full);
                    Observation::Output { stream: Stream::Stderr, bytes: &self.err_buf[..n] }
                }
            },
            result = self.child.wait(), if !self.exited => {
                let status = match result {
                    Ok(st) => ExitStatus::from(st),
                    Err(e) => {
                        tracing::error!(session = %self.id, pid = %self.pid, "waiting for child failed: {e}");
                        UNKNOWN
                    }
                };
                self.exited = true;
                self.group_empty = proc::group_is_empty(self.pid);
                self.next_group_poll = Instant::now() + self.group_poll;
                self.arm_drain();
                Observation::Exited(status)
            }
            () = super::maybe(wake.map(tokio::time::sleep_until)) => {
                if polling {
                    let now = Instant::now();
                    self.group_empty = proc::group_is_empty(self.pid);
                    self.group_poll = (self.group_poll * 2).min(GROUP_POLL_MAX);
                    self.next_group_poll = now + self.group_poll;
                    self.arm_drain();
                } else {
                    if self.out_open || self.err_open {
                        tracing::warn!(session = %self.id, pid = %self.pid, "a process outside the session's group still holds its output pipe; stopped reading");
                    }
                    self.out_open = false;
                    self.err_open = false;
                }
                Observation::Idle
            }
        }
    }

    async fn after_exit(&mut self) -> Leftovers {
        if self.group_empty {
            Leftovers::None
        } else {
            Leftovers::Some
        }
    }

    async fn signal(&mut self, signal: Signal) -> Delivery {
        super::signal_group(self.pid, true, signal)
    }

    fn input(&mut self, mut bytes: Vec<u8>) -> InputDelivery {
        if self.terminal {
            enter_as_a_terminal_sends_it(&mut bytes);
        }
        super::queue_input(self.stdin.as_ref(), InputError::NoStdin, bytes)
    }

    async fn finish(&mut self, _end: RunEnd, _terminating: bool) -> Vec<u8> {
        let _ = self.out_file.flush();
        let _ = self.err_file.flush();
        Vec::new()
    }
}

/// Turns a line's final `\n` into the `\r` a terminal's Enter key sends.
/// The line discipline maps it back for programs in cooked mode; full-screen
/// CLIs (claude's and gemini's dialogs) read raw and ignore a bare `\n`.
fn enter_as_a_terminal_sends_it(bytes: &mut [u8]) {
    if let Some(last) = bytes.last_mut()
        && *last == b'\n'
    {
        *last = b'\r';
    }
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

/// A task owning the agent's input, so a slow reader never blocks the run.
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
            .map_err(InputError::Write);
            let _ = done.send(result);
        }
    });
    tx
}
