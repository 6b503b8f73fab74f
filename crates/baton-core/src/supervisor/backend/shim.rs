//! A pipes run under `baton-shim`, as the daemon runs them.
//!
//! The shim leads the run's process group and outlives the conductor: the
//! agent's stdout and stderr go to the session's logs through the shim's
//! own writers (`baton-shim --logs`, which roll the logs over; with
//! `max_log_size = 0`, the log files themselves, in append mode), its stdin
//! is a FIFO the shim holds open, and its exit status goes to a status
//! file. Nothing the agent writes waits in a pipe for a conductor that may
//! be gone, so a conductor SIGKILLed mid-run loses no byte, and the next one
//! adopts the run (or, if it ended meanwhile, reads how it ended).
//! This backend follows the logs (inotify, and a slow poll in case a
//! notification is missed) and the shim (its exit, through `wait` for our
//! own child or a pidfd for an adopted one).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::{
    Backend, Begun, Delivery, InputDelivery, InputError, Leftovers, Observation, OnConductorGone,
    RunEnd, Spawned, StartError, StdinJob, Stream,
};
use super::{Launch, RecordedRun, RecoveredOutcome, RunRequest};
use crate::proc::{self, ExitWatch, FileWatch, Pid, Signal};
use crate::seglog::{Got, LogReader};
use crate::state::Missing;
use crate::supervisor::driver::{UNKNOWN, session_file};

/// How often a followed log is read again without a notification while
/// it is not watched (its file is not there yet, or no watch could be
/// set): the only way its output is noticed then.
const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// How often a watched log is read again without a notification: only a
/// safety net, since every write wakes its follower. A thousand idle
/// sessions read four times a second each kept the daemon busy (a tenth of
/// a core on this project's build machine).
const WATCHED_POLL: Duration = Duration::from_secs(5);
/// How often the group of a leader that exited is looked at.
pub(super) const GROUP_POLL: Duration = Duration::from_millis(10);
/// How long a run whose group is empty waits for its log writers.
const WRITERS_MAX: Duration = Duration::from_secs(10);
/// Size of the buffer followed logs are read into (one per run).
const READ_BUF: usize = 64 * 1024;

/// The status file of session `out_path`'s runs (`<id>.status` beside it).
pub(crate) fn status_path(out_path: &Path) -> PathBuf {
    session_file(out_path, "status")
}

/// The stdin FIFO of session `out_path`'s runs (`<id>.stdin` beside it).
pub(crate) fn fifo_path(out_path: &Path) -> PathBuf {
    session_file(out_path, "stdin")
}

/// A log followed from a run's offset, across its segments (see
/// [`crate::seglog`]), with a watch on its active file.
pub(super) struct Follow {
    reader: LogReader,
    /// Global offset of the next byte to read.
    pos: u64,
    /// The watch, and the active file it is on (a new one after a roll-over).
    watch: Option<(PathBuf, FileWatch)>,
    /// The reader's [`LogReader::located`] the watch was set for.
    watched: Option<u64>,
}

impl Follow {
    pub(super) fn open(path: &Path, offset: u64) -> Follow {
        let mut follow = Follow {
            reader: LogReader::new(path),
            pos: offset,
            watch: None,
            watched: None,
        };
        follow.rewatch();
        follow
    }

    /// Reads what is there now into `buf`; 0 when nothing new. Bytes
    /// retention deleted before they were read are passed over.
    pub(super) fn read(&mut self, buf: &mut [u8]) -> usize {
        loop {
            match self.reader.read_into(self.pos, buf) {
                Ok(Got::Bytes(0)) => {
                    // A new watch wakes for writes from now on: what came
                    // before it is read once more.
                    if self.rewatch() {
                        continue;
                    }
                    return 0;
                }
                Ok(Got::Bytes(n)) => {
                    self.pos += n as u64;
                    return n;
                }
                Ok(Got::Dropped { to }) => {
                    tracing::warn!(
                        log = %self.reader.path().display(),
                        "{} bytes were deleted before they were read (keep_segments)",
                        to - self.pos
                    );
                    self.pos = to;
                }
                Err(e) => {
                    tracing::debug!(log = %self.reader.path().display(), "reading: {e}");
                    return 0;
                }
            }
        }
    }

    /// Resolves when the active file changed (or never, without a watch).
    pub(super) async fn changed(&self) {
        super::maybe(self.watch.as_ref().map(|(_, w)| w.changed())).await
    }

    /// How long to wait for a notification before reading again.
    pub(super) fn poll(&self) -> Duration {
        if self.watch.is_some() {
            WATCHED_POLL
        } else {
            FOLLOW_POLL
        }
    }

    /// Watches the log's active file, once there is one, and again after
    /// each roll-over: only when the reader looked for that file again, so
    /// reading on costs no look at the directory. Whether a new watch was
    /// set.
    fn rewatch(&mut self) -> bool {
        if self.watch.is_some() && self.watched == Some(self.reader.located()) {
            return false;
        }
        let Ok(Some(active)) = self.reader.active_path() else {
            return false;
        };
        self.watched = Some(self.reader.located());
        if self.watch.as_ref().map(|(path, _)| path) == Some(&active) {
            return false;
        }
        self.watch = FileWatch::new(&active).ok().map(|w| (active, w));
        self.watch.is_some()
    }
}

/// The leader: our child (watched through a pidfd, then reaped), or a shim
/// an earlier conductor started.
enum Leader {
    Child(proc::AgentProcess),
    Adopted(Option<ExitWatch>),
}

impl Leader {
    /// Cancel-safe: a pidfd's readiness and `wait` both are.
    async fn exited(&mut self) {
        match self {
            Leader::Child(child) => {
                let _ = child.wait().await;
            }
            Leader::Adopted(Some(watch)) => watch.exited().await,
            Leader::Adopted(None) => std::future::pending().await,
        }
    }
}

/// A run under the shim.
pub(crate) struct Shim {
    pid: Pid,
    /// The recorded pid is still our process.
    ours: bool,
    leader: Leader,
    out: Follow,
    err: Follow,
    buf: Vec<u8>,
    status_file: PathBuf,
    /// The run lock file (see [`claim_run`]).
    lock_file: PathBuf,
    fifo: Option<PathBuf>,
    stdin: Option<mpsc::UnboundedSender<StdinJob>>,
    /// The shim is gone; its status is read once the logs are drained.
    leader_gone: bool,
    /// Since when the run's log writers were waited for, once its group
    /// was empty (see [`Shim::writers_done`]).
    writers_waited: Option<std::time::Instant>,
    exited: bool,
    group_empty: bool,
}

/// Starts a new run under the shim, or adopts `adopt`.
async fn start(cfg: &RunRequest, adopt: Option<RecordedRun>) -> Result<(Shim, Begun), StartError> {
    let status_file = status_path(&cfg.out_path);
    let fifo = cfg.stdin_pipe.then(|| fifo_path(&cfg.out_path));
    // A run this session's lock file says is there (or was, and ended)
    // while the log has no `spawn` for it: the conductor that started it
    // died first. It is taken over, and its `spawn` recorded now.
    let mut lock = None;
    let (adopt, lost) = match adopt {
        Some(a) => (Some(a), false),
        None => match claim_run(cfg).await? {
            Claim::Lost(a) => (Some(a), true),
            Claim::Free(file) => {
                lock = Some(file);
                (None, false)
            }
        },
    };
    let (leader, pid, out_offset, err_offset, ours, begun) = match adopt {
        Some(a) => {
            let pid = Pid(a.pid);
            let watch = if a.same_process() {
                ExitWatch::new(pid).ok()
            } else {
                None
            };
            let ours = watch.is_some();
            let begun = if lost {
                let mut launch = Launch::of(cfg, None);
                launch.shim = true;
                Begun::Spawned(Box::new(Spawned {
                    pid,
                    start_time: a.start_time,
                    out_offset: a.out_offset,
                    err_offset: a.err_offset,
                    launch,
                }))
            } else {
                Begun::Adopted {
                    pid,
                    out_offset: a.out_offset,
                    acknowledged: a.acknowledged,
                    outcome: if ours {
                        RecoveredOutcome::Readopted
                    } else {
                        RecoveredOutcome::Exited
                    },
                }
            };
            (
                Leader::Adopted(watch),
                pid,
                a.out_offset,
                a.err_offset,
                ours,
                begun,
            )
        }
        None => {
            let (child, pid, start_time, out_offset, err_offset) =
                spawn(cfg, &status_file, fifo.as_deref(), lock).await?;
            let mut launch = Launch::of(cfg, None);
            launch.shim = true;
            let begun = Begun::Spawned(Box::new(Spawned {
                pid,
                start_time,
                out_offset,
                err_offset,
                launch,
            }));
            (
                Leader::Child(child),
                pid,
                out_offset,
                err_offset,
                true,
                begun,
            )
        }
    };
    let shim = Shim {
        pid,
        ours,
        leader,
        out: Follow::open(&cfg.out_path, out_offset),
        err: Follow::open(&cfg.err_path, err_offset),
        buf: vec![0u8; READ_BUF],
        stdin: fifo.clone().map(fifo_writer),
        status_file,
        lock_file: lock_path(&cfg.out_path),
        fifo,
        // An adopted shim that is gone: its status file says how the agent ended.
        leader_gone: !ours,
        writers_waited: None,
        exited: false,
        group_empty: !ours,
    };
    Ok((shim, begun))
}

impl Shim {
    /// Whether the shim's log writers (`baton-shim --logs`) have written
    /// their last byte: they hold the run's lock until they end, so the run
    /// settles only once it is free — every byte it wrote is in the logs
    /// then, even those still in the pipes when a SIGKILL ended the group.
    /// Given up after [`WRITERS_MAX`] (a process that left the group may
    /// still hold the agent's stdout; the sweep of the run's strays ends it).
    fn writers_done(&mut self) -> bool {
        let free = match std::fs::File::open(&self.lock_file) {
            Ok(file) => !matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => true,
        };
        if free {
            return true;
        }
        let since = *self
            .writers_waited
            .get_or_insert_with(std::time::Instant::now);
        if since.elapsed() < WRITERS_MAX {
            return false;
        }
        tracing::warn!(
            log = %self.lock_file.display(),
            "the run's log writers have not finished within {} s; it ends without them",
            WRITERS_MAX.as_secs()
        );
        true
    }
}

impl Backend for Shim {
    const ON_CONDUCTOR_GONE: OnConductorGone = OnConductorGone::Detach;

    async fn start(
        cfg: &RunRequest,
        _site: super::Site,
        resume: Option<RecordedRun>,
    ) -> Result<(Shim, Begun), StartError> {
        start(cfg, resume).await
    }

    /// The run's status file and FIFO go, and its lock file no longer
    /// names it.
    async fn end_recorded(_site: super::Site, _run: &RecordedRun, out_path: &Path) {
        let _ = std::fs::remove_file(status_path(out_path));
        let _ = std::fs::remove_file(fifo_path(out_path));
        forget_run(&lock_path(out_path));
    }

    async fn observe(&mut self) -> Observation<'_> {
        // What the logs hold now comes first: output before the exit.
        let n = self.out.read(&mut self.buf);
        if n > 0 {
            return Observation::Output {
                stream: Stream::Stdout,
                bytes: &self.buf[..n],
            };
        }
        let n = self.err.read(&mut self.buf);
        if n > 0 {
            return Observation::Output {
                stream: Stream::Stderr,
                bytes: &self.buf[..n],
            };
        }
        if self.leader_gone && !self.exited {
            self.exited = true;
            self.stdin = None;
            let status = proc::read_status(&self.status_file, self.pid.0).unwrap_or(UNKNOWN);
            return Observation::Exited(status);
        }
        // Settled once the log writers are done too.
        if let Some(seen) = super::settled_after_exit(self.exited, self.pid, &mut self.group_empty)
            && (!matches!(seen, Observation::Settled) || self.writers_done())
        {
            return seen;
        }
        let poll = if self.exited {
            GROUP_POLL
        } else {
            self.out.poll().min(self.err.poll())
        };
        tokio::select! {
            biased;
            () = self.out.changed() => {}
            () = self.err.changed() => {}
            () = self.leader.exited(), if !self.leader_gone => self.leader_gone = true,
            () = tokio::time::sleep(poll) => {}
        }
        Observation::Idle
    }

    async fn after_exit(&mut self) -> Leftovers {
        super::leftovers(self.pid, &mut self.group_empty)
    }

    async fn signal(&mut self, signal: Signal) -> Delivery {
        super::signal_group(self.pid, self.ours, signal)
    }

    fn input(&mut self, bytes: Vec<u8>) -> InputDelivery {
        if self.fifo.is_none() {
            return Box::pin(async { Err(InputError::NoStdin) });
        }
        super::queue_input(self.stdin.as_ref(), InputError::Closed, bytes)
    }

    async fn finish(&mut self, _end: RunEnd, _terminating: bool) -> Vec<u8> {
        let _ = std::fs::remove_file(&self.status_file);
        forget_run(&self.lock_file);
        if let Some(path) = &self.fifo {
            let _ = std::fs::remove_file(path);
        }
        Vec::new()
    }
}

/// The run lock file of the session logging to `out_path`: `<id>.run`.
pub(crate) fn lock_path(out_path: &Path) -> PathBuf {
    session_file(out_path, "run")
}

/// The run is over and its end known: its lock file no longer names it (it
/// is emptied, never unlinked), so a later run with the same attempt number
/// (the session spawned again after a clean restart) is not taken for it.
pub(crate) fn forget_run(lock_file: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new().write(true).open(lock_file)
        && file.try_lock().is_ok()
    {
        let _ = file.set_len(0);
    }
}

/// What the session's run lock file says.
enum Claim {
    /// No run holds it: locked by us, to be handed to the new shim.
    Free(std::fs::File),
    /// The run of this attempt is there, or was: its shim wrote itself in.
    Lost(RecordedRun),
}

/// Looks at the session's run lock file before a new run of `cfg.attempt`
/// is started. Never unlinked (a holder could keep the old inode locked).
async fn claim_run(cfg: &RunRequest) -> Result<Claim, StartError> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_path(&cfg.out_path);
    let failed = |e: std::io::Error| {
        StartError::failed(
            Missing::LogsDir,
            format!("cannot use the run lock {}: {e}", path.display()),
        )
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(failed)?;
    let held = match file.try_lock() {
        Ok(()) => false,
        Err(std::fs::TryLockError::WouldBlock) => true,
        Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
    };
    // A shim writes itself in right after it starts: a held lock without
    // its line is given a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let mut text = String::new();
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text))
            .map_err(failed)?;
        // A line with a marker token is a tmux pane's run, not a shim's.
        let run = RunLock::parse(&text).filter(|r| r.attempt == cfg.attempt && r.token.is_none());
        match (run, held) {
            (
                Some(RunLock {
                    shim: Some((pid, start)),
                    out_offset,
                    err_offset,
                    ..
                }),
                _,
            ) => {
                return Ok(Claim::Lost(RecordedRun {
                    pid,
                    start_time: Some(start),
                    out_offset,
                    err_offset,
                    acknowledged: false,
                    marker: None,
                }));
            }
            (_, false) => return Ok(Claim::Free(file)),
            (_, true) if tokio::time::Instant::now() >= deadline => {
                return Err(StartError::failed(
                    Missing::Os,
                    format!(
                        "another run of session `{}` still holds {} (it says: {:?}); not starting \
                         a second one",
                        cfg.id,
                        path.display(),
                        text.trim()
                    ),
                ));
            }
            (_, true) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The contents of a run lock file: `<attempt> <out offset> <err offset>
/// [<marker token>]` from the conductor (the token for a tmux pane's run),
/// then `<shim pid> <start time>` from the shim.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct RunLock {
    pub attempt: u32,
    pub out_offset: u64,
    pub err_offset: u64,
    pub token: Option<String>,
    pub shim: Option<(u32, u64)>,
}

impl RunLock {
    fn parse(text: &str) -> Option<RunLock> {
        let mut lines = text.lines();
        let mut first = lines.next()?.split_whitespace();
        let attempt = first.next()?.parse().ok()?;
        let out_offset = first.next()?.parse().ok()?;
        let err_offset = first.next()?.parse().ok()?;
        let token = first.next().map(str::to_owned);
        let shim = lines.next().and_then(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        });
        Some(RunLock {
            attempt,
            out_offset,
            err_offset,
            token,
            shim,
        })
    }

    /// What the run lock file of the session logging to `out_path` says.
    pub(super) fn read(out_path: &Path) -> Option<RunLock> {
        RunLock::parse(&std::fs::read_to_string(lock_path(out_path)).ok()?)
    }

    /// Writes the conductor's line of a run that is about to start, in a
    /// new file (through a rename, so a reader sees the old or the new).
    pub(super) fn write_new(
        out_path: &Path,
        attempt: u32,
        out_offset: u64,
        err_offset: u64,
        token: &str,
    ) -> std::io::Result<()> {
        let line = format!("{attempt} {out_offset} {err_offset} {token}\n");
        crate::proc::write_private(&lock_path(out_path), line.as_bytes())
    }
}

/// A task writing answers into the agent's stdin FIFO, opened on first use
/// (a restarted conductor opens it again), so a slow reader never holds the
/// run up.
fn fifo_writer(path: PathBuf) -> mpsc::UnboundedSender<StdinJob> {
    let (tx, mut rx) = mpsc::unbounded_channel::<StdinJob>();
    tokio::spawn(async move {
        let mut sender: Option<tokio::net::unix::pipe::Sender> = None;
        while let Some((bytes, done)) = rx.recv().await {
            let _ = done.send(write_fifo(&mut sender, &path, &bytes).await);
        }
    });
    tx
}

async fn write_fifo(
    sender: &mut Option<tokio::net::unix::pipe::Sender>,
    path: &Path,
    bytes: &[u8],
) -> Result<(), InputError> {
    if sender.is_none() {
        let opened = tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(path)
            .map_err(|source| InputError::Open {
                path: path.to_owned(),
                source,
            })?;
        *sender = Some(opened);
    }
    let Some(writer) = sender.as_mut() else {
        return Err(InputError::Closed);
    };
    match tokio::time::timeout(Duration::from_secs(5), writer.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            *sender = None;
            Err(InputError::Write(e))
        }
        Err(_) => Err(InputError::Timeout),
    }
}

/// Opens the logs, makes the FIFO, and starts the shim. Returns the child,
/// its pid and start time, and the log offsets.
async fn spawn(
    cfg: &RunRequest,
    status_file: &Path,
    fifo: Option<&Path>,
    lock: Option<std::fs::File>,
) -> Result<(proc::AgentProcess, Pid, Option<u64>, u64, u64), StartError> {
    cfg.preflight().await?;
    let shim =
        proc::shim_path().map_err(|e| StartError::failed(Missing::BatonShim, e.to_string()))?;
    let logs_err = |path: &Path, e: std::io::Error| {
        StartError::failed(
            Missing::LogsDir,
            format!("cannot open {}: {e}", path.display()),
        )
    };
    // Opened as a writer would (which repairs what a writer that died
    // mid-roll-over left): where this run's output begins.
    let offset = |path: &Path| {
        crate::seglog::RollingWriter::open(path, cfg.log_limits)
            .map(|log| log.len())
            .map_err(|e| logs_err(path, e))
    };
    let (out_offset, err_offset) = (offset(&cfg.out_path)?, offset(&cfg.err_path)?);
    let output = if cfg.log_limits.max_size == 0 {
        let open = |path: &Path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| logs_err(path, e))
        };
        proc::ShimOutput::Files {
            stdout: open(&cfg.out_path)?,
            stderr: open(&cfg.err_path)?,
        }
    } else {
        proc::ShimOutput::Rolling {
            out: cfg.out_path.clone(),
            err: cfg.err_path.clone(),
            limits: cfg.log_limits,
        }
    };
    let lock = match lock {
        Some(mut file) => {
            use std::io::{Seek, SeekFrom, Write};
            let path = lock_path(&cfg.out_path);
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{} {out_offset} {err_offset}", cfg.attempt))
                .and_then(|()| file.sync_data())
                .map_err(|e| logs_err(&path, e))?;
            Some(file)
        }
        None => None,
    };
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
        output,
        lock,
    };
    let (child, pid, start_time) = proc::spawn_shim_async(req, setup)
        .await
        .map_err(|failure| StartError::failed(failure.missing(), failure.to_string()))?;
    Ok((child, pid, start_time, out_offset, err_offset))
}

#[cfg(test)]
mod tests {
    use super::RunLock;

    #[test]
    fn run_files_read_back_with_or_without_a_token_and_a_shim() {
        let cases = [
            ("3 100 7\n", Some((3, 100, 7, None, None))),
            (
                "3 100 7\n41 9001\n",
                Some((3, 100, 7, None, Some((41, 9001)))),
            ),
            (
                "2 0 0 00ff00ff00ff00ff\n41 9001\n",
                Some((2, 0, 0, Some("00ff00ff00ff00ff"), Some((41, 9001)))),
            ),
            ("2 0 0 tok\n", Some((2, 0, 0, Some("tok"), None))),
            ("2 0 0 tok\nnot a pid\n", Some((2, 0, 0, Some("tok"), None))),
            ("", None),
            ("x 0 0\n", None),
            ("1 2\n", None),
        ];
        for (text, want) in cases {
            let got = RunLock::parse(text).map(|r| {
                (
                    r.attempt,
                    r.out_offset,
                    r.err_offset,
                    r.token.clone(),
                    r.shim,
                )
            });
            let want = want.map(|(a, o, e, t, s)| (a, o, e, t.map(str::to_owned), s));
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn a_new_run_file_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("w.out.log");
        std::fs::write(super::lock_path(&out), "9 9 9\n1 1\n").unwrap();
        RunLock::write_new(&out, 2, 10, 20, "abc").unwrap();
        let run = RunLock::read(&out).unwrap();
        assert_eq!(
            (
                run.attempt,
                run.out_offset,
                run.err_offset,
                run.token.as_deref(),
                run.shim
            ),
            (2, 10, 20, Some("abc"), None)
        );
    }
}
