//! A run inside tmux on this machine.
//!
//! The pane's process on baton's private tmux server is `baton-shim`, which
//! runs the agent; tmux's `pipe-pane` appends the terminal output to the
//! session's log. This backend follows the log as it grows (inotify) and
//! learns of the agent's end from the shim's marker in it: everything before
//! the marker is in the log, so the session can be destroyed without losing
//! the last bytes, and the marker is cut off the log again. A pidfd on the
//! shim covers a shim that is itself killed. tmux sessions outlive the
//! conductor, so a pane a previous conductor started can be adopted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::RecordedRun;
use super::shim::{Follow, GROUP_POLL, RunLock, lock_path};
use super::{
    Backend, Begun, Delivery, InputDelivery, InputError, Leftovers, Observation, OnConductorGone,
    RunEnd, Spawned, StartError, Stream,
};
use super::{Launch, RecoveredOutcome, RunRequest};
use crate::proc::{self, ExitStatus, ExitWatch, MarkerScanner, Pid, Signal, TmuxError, TmuxServer};
use crate::state::Missing;
use crate::supervisor::driver::{UNKNOWN, session_file};
use baton_monitor::input_wait::terminal::Terminal;

/// When the pane's process died without the marker (the shim was killed),
/// how long the log must stop growing before the session is destroyed: tmux
/// frees (and drops) whatever it still buffers for the pipe when the session
/// goes, so it must have handed everything to `cat` first.
const QUIET: Duration = Duration::from_secs(1);
const QUIET_MAX: Duration = Duration::from_secs(5);
/// How long to wait for `cat` to write its last bytes after the session is
/// destroyed (it signals that with the marker file).
const MARKER_MAX: Duration = Duration::from_secs(10);
/// How long the shim may take to leave once its session is destroyed.
const SHIM_EXIT: Duration = Duration::from_secs(2);

/// A run in a tmux pane.
pub(crate) struct Tmux {
    id: String,
    server: TmuxServer,
    session: String,
    pid: Pid,
    /// The recorded pid is still our process.
    ours: bool,
    exit_watch: Option<ExitWatch>,
    log: Follow,
    out_path: PathBuf,
    out_offset: u64,
    /// Finds the shim's end-of-run marker (absent for panes of older baton
    /// versions, which ran the agent directly).
    scanner: Option<MarkerScanner>,
    buf: Vec<u8>,
    /// What the scanner let through of the last chunk.
    passed: Vec<u8>,
    leader_gone: bool,
    exited: bool,
    /// The pane's terminal (`/dev/pts/N`), looked at for its mode.
    tty: Option<PathBuf>,
    /// The marker was seen and the session destroyed.
    session_gone: bool,
    group_empty: bool,
}

/// Starts the agent in a new tmux session `session` of `server`, or adopts
/// the pane `adopt` describes (a run whose `spawn` is recorded).
///
/// Without `adopt`, a pane this session's run of `cfg.attempt` left — its
/// conductor died after creating it and before recording its `spawn` — is
/// taken over instead of starting the attempt twice: its `@baton_run` tag
/// says which run it is and where its output begins, and its `spawn` is
/// recorded now.
async fn start(
    cfg: &RunRequest,
    server: TmuxServer,
    session: String,
    adopt: Option<RecordedRun>,
) -> Result<(Tmux, Begun), StartError> {
    let (adopt, lost) = match adopt {
        Some(a) => (Some(a), false),
        None => match claim_pane(cfg, &server, &session).await? {
            Some(a) => (Some(a), true),
            None => (None, false),
        },
    };
    let (pid, out_offset, ours, token, begun) = match adopt {
        Some(a) if lost => {
            let target = crate::eventlog::TmuxTarget {
                server: server.name().to_owned(),
                session: session.clone(),
                marker: a.marker.clone(),
            };
            let begun = Begun::Spawned(Box::new(Spawned {
                pid: Pid(a.pid),
                start_time: a.start_time,
                out_offset: a.out_offset,
                err_offset: a.err_offset,
                launch: Launch::of(cfg, Some(target)),
            }));
            let ours = a.start_time.is_some() && a.same_process();
            (Pid(a.pid), a.out_offset, ours, a.marker.clone(), begun)
        }
        Some(a) => {
            let begun = Begun::Adopted {
                pid: Pid(a.pid),
                out_offset: a.out_offset,
                acknowledged: a.acknowledged,
                outcome: RecoveredOutcome::Readopted,
            };
            (
                Pid(a.pid),
                a.out_offset,
                a.same_process(),
                a.marker.clone(),
                begun,
            )
        }
        None => {
            let (pid, out_offset, err_offset, token) = spawn(cfg, &server, &session).await?;
            let target = crate::eventlog::TmuxTarget {
                server: server.name().to_owned(),
                session: session.clone(),
                marker: Some(token.clone()),
            };
            let begun = Begun::Spawned(Box::new(Spawned {
                pid,
                start_time: proc::process_start_time(pid),
                out_offset,
                err_offset,
                launch: Launch::of(cfg, Some(target)),
            }));
            (pid, out_offset, true, Some(token), begun)
        }
    };
    let exit_watch = if ours { ExitWatch::new(pid).ok() } else { None };
    let tty = match server.option(&session, "pane_tty").await {
        Ok(tty) => tty.map(PathBuf::from),
        Err(e) => {
            tracing::debug!(session = %cfg.id, "no pane tty to read the terminal's mode from: {e}");
            None
        }
    };
    let tmux = Tmux {
        id: cfg.id.to_string(),
        server,
        session,
        pid,
        ours,
        // Without a watch the pane's end is asked of tmux at once.
        leader_gone: exit_watch.is_none(),
        exit_watch,
        log: Follow::open(&cfg.out_path, out_offset),
        out_path: cfg.out_path.clone(),
        out_offset,
        scanner: token.as_deref().map(MarkerScanner::new),
        buf: vec![0u8; 64 * 1024],
        passed: Vec::new(),
        exited: false,
        tty,
        session_gone: false,
        // A pid that is someone else's now has no group of ours to wait for.
        group_empty: !ours,
    };
    Ok((tmux, begun))
}

/// What a pane's `@baton_run` tag says of the run in it: which attempt,
/// where its output begins in the session's logs, and the token of its
/// end-of-run marker (the shim's, or a remote run's done token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PaneRun {
    pub attempt: u32,
    pub out_offset: u64,
    pub err_offset: u64,
    pub token: String,
}

impl PaneRun {
    /// The tag's text: `1 ATTEMPT OUT ERR TOKEN` (1: the tag's format).
    pub(super) fn tag(&self) -> String {
        format!(
            "1 {} {} {} {}",
            self.attempt, self.out_offset, self.err_offset, self.token
        )
    }

    pub(super) fn parse(tag: &str) -> Option<PaneRun> {
        let mut words = tag.split(' ');
        (words.next()? == "1").then_some(())?;
        let run = PaneRun {
            attempt: words.next()?.parse().ok()?,
            out_offset: words.next()?.parse().ok()?,
            err_offset: words.next()?.parse().ok()?,
            token: words.next()?.to_owned(),
        };
        words.next().is_none().then_some(run)
    }
}

/// The run is over: its run file no longer names it, so a later run with
/// the same attempt number (the session spawned again) is not taken for
/// it. Unlike a shim's lock, a pane's run file is emptied whoever holds it:
/// the pane's shim may linger a moment after its run ended.
fn forget_pane_run(out_path: &Path) {
    if let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(lock_path(out_path))
    {
        let _ = file.set_len(0);
    }
}

/// The run of `cfg.attempt` whose pane is gone (its tmux server was killed)
/// before any conductor recorded it: the run file says it started (the
/// shim wrote itself in), so its output in the log is its own, not the
/// previous run's, and its end is read from its marker there (or unknown).
fn lost_without_pane(cfg: &RunRequest) -> Option<RecordedRun> {
    let run = RunLock::read(&cfg.out_path).filter(|r| r.attempt == cfg.attempt)?;
    let (pid, start_time) = run.shim?;
    let token = run.token?;
    tracing::info!(
        session = %cfg.id,
        attempt = run.attempt,
        "recording the run of this attempt whose tmux pane is gone, started by a conductor \
         that died before recording it"
    );
    Some(RecordedRun {
        pid,
        start_time: Some(start_time),
        out_offset: run.out_offset,
        err_offset: run.err_offset,
        acknowledged: false,
        marker: Some(token),
    })
}

/// Looks at the tmux session a new run of `cfg.attempt` would create. The
/// run of that attempt, tagged by this session: taken over (`Some`), alive
/// or ended. A dead pane of anything else: cleared. A live pane that is
/// not that run: refused (it is an earlier run, or somebody's agent).
async fn claim_pane(
    cfg: &RunRequest,
    server: &TmuxServer,
    session: &str,
) -> Result<Option<RecordedRun>, StartError> {
    let tmux_failed = |e: TmuxError| StartError::failed(Missing::Tmux, e.to_string());
    let Some(pane) = server.pane_status(session).await.map_err(tmux_failed)? else {
        return Ok(lost_without_pane(cfg));
    };
    let owner = server
        .option(session, "@baton_id")
        .await
        .map_err(tmux_failed)?;
    let run = server
        .option(session, "@baton_run")
        .await
        .map_err(tmux_failed)?
        .as_deref()
        .and_then(PaneRun::parse);
    if let Some(run) =
        run.filter(|r| owner.as_deref() == Some(cfg.id.as_str()) && r.attempt == cfg.attempt)
    {
        // A dead pane's pid may be anybody's by now: never ours to signal.
        let start_time = if pane.dead {
            None
        } else {
            proc::process_start_time(Pid(pane.pid))
        };
        tracing::info!(
            session = %cfg.id,
            attempt = run.attempt,
            "taking over the tmux pane of this run, started by a conductor that died before \
             recording it"
        );
        return Ok(Some(RecordedRun {
            pid: pane.pid,
            start_time,
            out_offset: run.out_offset,
            err_offset: run.err_offset,
            acknowledged: false,
            marker: Some(run.token),
        }));
    }
    if pane.dead {
        // A run whose cleanup never happened.
        let _ = server.kill_session(session).await;
        return Ok(None);
    }
    // Its tags unread because the session (or its server) went between the
    // looks: what is left is what a vanished pane leaves.
    if owner.is_none()
        && server
            .pane_status(session)
            .await
            .map_err(tmux_failed)?
            .is_none()
    {
        return Ok(lost_without_pane(cfg));
    }
    Err(StartError::failed(
        Missing::Tmux,
        format!(
            "tmux session `{session}` on server `{}` is already running (pid {}), left by an \
             earlier conductor that did not record it; attach to it or kill it first",
            server.name(),
            pane.pid
        ),
    ))
}

impl Tmux {
    /// Reads the next chunk of the log that holds agent output (the shim's
    /// marker is held back); `false` when there is nothing new.
    fn read_chunk(&mut self) -> bool {
        loop {
            let n = self.log.read(&mut self.buf);
            if n == 0 {
                return false;
            }
            match self.scanner.as_mut() {
                Some(scanner) => self.passed = scanner.feed(&self.buf[..n]),
                None => {
                    self.passed.clear();
                    self.passed.extend_from_slice(&self.buf[..n]);
                }
            }
            if !self.passed.is_empty() {
                return true;
            }
        }
    }

    /// Everything the log holds now, appended to `rest`; how much it was.
    fn read_all(&mut self, rest: &mut Vec<u8>) -> usize {
        let mut total = 0;
        while self.read_chunk() {
            total += self.passed.len();
            rest.extend_from_slice(&self.passed);
        }
        total
    }

    fn marker_status(&self) -> Option<ExitStatus> {
        self.scanner.as_ref().and_then(MarkerScanner::ended)
    }
}

impl Backend for Tmux {
    /// The pane's terminal, opened for a moment (never kept: a slave
    /// held open would outlive the pane's program), and what the programs
    /// in its foreground are blocked in.
    fn terminal(&self) -> Option<Terminal> {
        use rustix::fs::{Mode, OFlags};
        use rustix::termios::LocalModes;
        let path = self.tty.as_ref()?;
        let flags = OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let tty = rustix::fs::open(path, flags, Mode::empty()).ok()?;
        let modes = rustix::termios::tcgetattr(&tty).ok()?.local_modes;
        Some(Terminal {
            echo: modes.contains(LocalModes::ECHO),
            canonical: modes.contains(LocalModes::ICANON),
            reads: proc::foreground_reads(self.pid, path),
        })
    }

    const ON_CONDUCTOR_GONE: OnConductorGone = OnConductorGone::Detach;

    async fn start(
        cfg: &RunRequest,
        site: super::Site,
        resume: Option<RecordedRun>,
    ) -> Result<(Tmux, Begun), StartError> {
        start(cfg, site.tmux, site.session, resume).await
    }

    /// The pane goes, the shim's end-of-run marker is cut off the log, and
    /// the run file no longer names the run.
    async fn end_recorded(site: super::Site, run: &RecordedRun, out_path: &Path) {
        let _ = site.tmux.kill_session(&site.session).await;
        if let Some(token) = &run.marker {
            cut_recorded_marker(out_path, run.out_offset, token).await;
        }
        forget_pane_run(out_path);
    }

    async fn observe(&mut self) -> Observation<'_> {
        if self.read_chunk() {
            return Observation::Output {
                stream: Stream::Stdout,
                bytes: &self.passed,
            };
        }
        if !self.exited {
            if let Some(status) = self.marker_status() {
                self.exited = true;
                return Observation::Exited(status);
            }
            if self.leader_gone {
                // Asking again after a cancelled call is harmless: it only reads.
                let status = pane_exit(&self.server, &self.session).await;
                self.exited = true;
                return Observation::Exited(status);
            }
        }
        if let Some(seen) = super::settled_after_exit(self.exited, self.pid, &mut self.group_empty)
        {
            return seen;
        }
        let poll = if self.exited {
            GROUP_POLL
        } else {
            self.log.poll()
        };
        let watching = !self.leader_gone && !self.exited;
        tokio::select! {
            biased;
            () = self.log.changed() => {}
            () = super::maybe(self.exit_watch.as_ref().map(ExitWatch::exited)), if watching => {
                self.leader_gone = true;
            }
            () = tokio::time::sleep(poll) => {}
        }
        Observation::Idle
    }

    async fn after_exit(&mut self) -> Leftovers {
        if self.marker_status().is_some() && !self.session_gone {
            // Everything the agent wrote is in the log now; the shim holds
            // the pane open until the session goes.
            if let Err(e) = self.server.kill_session(&self.session).await {
                tracing::warn!(session = %self.id, "tmux kill-session: {e}");
            }
            self.session_gone = true;
            // The shim leaves once its terminal closes; only what is left of
            // the group after that needs ending.
            if let Some(watch) = &self.exit_watch {
                let _ = tokio::time::timeout(SHIM_EXIT, watch.exited()).await;
            }
        }
        super::leftovers(self.pid, &mut self.group_empty)
    }

    async fn signal(&mut self, signal: Signal) -> Delivery {
        super::signal_group(self.pid, self.ours, signal)
    }

    fn input(&mut self, bytes: Vec<u8>) -> InputDelivery {
        send_keys(&self.server, &self.session, bytes)
    }

    async fn finish(&mut self, _end: RunEnd, _terminating: bool) -> Vec<u8> {
        let mut rest = Vec::new();
        if !self.session_gone {
            // The pane died without the marker (its shim was killed, or an
            // older baton ran the agent directly). Let tmux hand what it
            // still buffers to the pipe, then destroy the session.
            let until = Instant::now() + QUIET_MAX;
            let mut quiet_since = Instant::now();
            while Instant::now() < until && quiet_since.elapsed() < QUIET {
                if self.read_all(&mut rest) > 0 {
                    quiet_since = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if let Err(e) = self.server.kill_session(&self.session).await {
                tracing::warn!(session = %self.id, "tmux kill-session: {e}");
            }
        }
        // Only once `cat` says it wrote everything does the next run, or the
        // payload, see a complete log.
        let marker = proc::pipe_done_marker(&self.out_path);
        let until = Instant::now() + MARKER_MAX;
        while !marker.exists() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !marker.exists() {
            tracing::warn!(session = %self.id, "tmux's output pipe did not finish within 10 s");
        }
        let _ = std::fs::remove_file(&marker);
        self.read_all(&mut rest);
        match self.scanner.as_mut() {
            // The log keeps the agent's bytes only: the marker goes again.
            Some(scanner) if scanner.ended().is_some() => {
                if let Some(at) = scanner.marker_at() {
                    cut_log(&self.out_path, self.out_offset + at);
                }
            }
            Some(scanner) => rest.extend(scanner.flush()),
            None => {}
        }
        forget_pane_run(&self.out_path);
        rest
    }
}

/// Types an answer into tmux session `session` (literal keys).
pub(super) fn send_keys(server: &TmuxServer, session: &str, bytes: Vec<u8>) -> InputDelivery {
    let (server, session) = (server.clone(), session.to_owned());
    Box::pin(async move {
        server
            .send_text(&session, &bytes)
            .await
            .map_err(InputError::from)
    })
}

/// Cuts the shim's end-of-run marker (with `token`) off a log whose run
/// began at `from`, when a conductor that died first could not: the run's
/// `exit` is recorded, its end is finished from the log. Waits (at most
/// [`MARKER_MAX`]) for tmux's pipe to have written everything.
async fn cut_recorded_marker(out_path: &Path, from: u64, token: &str) {
    let piped = proc::pipe_done_marker(out_path);
    let until = Instant::now() + MARKER_MAX;
    while !piped.exists() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = std::fs::remove_file(&piped);
    // The marker ends the log: its last bytes are enough to find it.
    let Ok(end) = crate::seglog::global_len(out_path) else {
        return;
    };
    let from = from.max(end.saturating_sub(MARKER_TAIL));
    let Ok(bytes) = crate::seglog::read_from(out_path, from, u64::MAX) else {
        return;
    };
    let mut scanner = MarkerScanner::new(token);
    scanner.feed(&bytes);
    if let Some(at) = scanner.marker_at().filter(|_| scanner.ended().is_some()) {
        cut_log(out_path, from + at);
    }
}

/// How much of a log's end is read to find a run's end-of-run marker:
/// the marker itself, and room for the escape's parts.
const MARKER_TAIL: u64 = 4096;

/// Cuts the log back to `len` bytes, a global length (what follows is the
/// shim's marker, which may have rolled the log over).
fn cut_log(path: &Path, len: u64) {
    if let Err(e) = crate::seglog::truncate(path, len) {
        tracing::warn!(path = %path.display(), "removing the end-of-run marker from the log: {e}");
    }
}

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

/// Creates the tmux session; returns the pane's pid, the log offsets and
/// the marker token.
async fn spawn(
    cfg: &RunRequest,
    server: &TmuxServer,
    session: &str,
) -> Result<(Pid, u64, u64, String), StartError> {
    cfg.preflight().await?;
    if !cfg.cwd.is_dir() {
        return Err(StartError::failed(
            Missing::Workdir,
            format!(
                "workdir `{}` does not exist or is not a directory",
                cfg.cwd.display()
            ),
        ));
    }
    let offset = |path: &Path| {
        crate::seglog::RollingWriter::open(path, cfg.log_limits)
            .map(|log| log.len())
            .map_err(|e| {
                StartError::failed(
                    Missing::LogsDir,
                    format!("cannot open {}: {e}", path.display()),
                )
            })
    };
    let out_offset = offset(&cfg.out_path)?;
    let err_offset = offset(&cfg.err_path)?;
    let shim =
        proc::shim_path().map_err(|e| StartError::failed(Missing::BatonShim, e.to_string()))?;
    let token = marker_token();
    let size = cfg.pty.unwrap_or_default();
    // The pane's process is the shim, which runs the agent and, when it
    // ends, writes the end-of-run marker and keeps the terminal open until
    // the session is destroyed: tmux reads everything before the marker.
    // The environment goes through a private file the shim reads and
    // deletes: never on tmux's command line, where every user sees it.
    let env_file = session_file(&cfg.out_path, "env");
    proc::write_env_file(&env_file, &cfg.env).map_err(|e| {
        StartError::failed(
            Missing::LogsDir,
            format!(
                "cannot write the run's env file {}: {e}",
                env_file.display()
            ),
        )
    })?;
    // The run is in its run file before its pane exists, and its shim
    // writes itself in: a conductor that dies before recording the run's
    // `spawn` leaves the next one what it needs to record it, even once
    // the pane is gone.
    RunLock::write_new(&cfg.out_path, cfg.attempt, out_offset, err_offset, &token).map_err(
        |e| {
            let _ = std::fs::remove_file(&env_file);
            StartError::failed(
                Missing::LogsDir,
                format!(
                    "cannot write the run file {}: {e}",
                    lock_path(&cfg.out_path).display()
                ),
            )
        },
    )?;
    let mut pane = vec![
        shim.to_string_lossy().into_owned(),
        "--marker".to_owned(),
        token.clone(),
        "--env-file".to_owned(),
        env_file.to_string_lossy().into_owned(),
        "--run-file".to_owned(),
        lock_path(&cfg.out_path).to_string_lossy().into_owned(),
        "--".to_owned(),
    ];
    pane.extend(cfg.argv.iter().cloned());
    let _ = std::fs::remove_file(proc::pipe_done_marker(&cfg.out_path));
    let run = PaneRun {
        attempt: cfg.attempt,
        out_offset,
        err_offset,
        token: token.clone(),
    };
    let pid = server
        .new_session(
            session,
            cfg.id.as_str(),
            &run.tag(),
            Some(&cfg.cwd),
            &pane,
            size,
            &cfg.out_path,
            &log_writer(&shim, cfg.log_limits),
        )
        .await
        .map_err(|e| {
            let _ = std::fs::remove_file(&env_file);
            let missing = match e {
                TmuxError::Missing(_) => Missing::Tmux,
                _ => Missing::Binary,
            };
            StartError::failed(missing, e.to_string())
        })?;
    crate::fault::point(crate::fault::TMUX_PANE_CREATED);
    Ok((Pid(pid), out_offset, err_offset, token))
}

/// The words of `pipe-pane`'s writer of a local log: `baton-shim log`,
/// which rolls it over at `limits` as baton's own writers do.
fn log_writer(shim: &Path, limits: crate::seglog::Limits) -> Vec<String> {
    let mut words = vec![
        shim.to_string_lossy().into_owned(),
        "log".to_owned(),
        "--max-size".to_owned(),
        limits.max_size.to_string(),
    ];
    if let Some(keep) = limits.keep {
        words.extend(["--keep".to_owned(), keep.to_string()]);
    }
    words
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

#[cfg(test)]
mod recorded_tests {
    use super::*;

    #[test]
    fn a_pane_run_tag_reads_back_and_nothing_else_does() {
        let run = PaneRun {
            attempt: 3,
            out_offset: 1234,
            err_offset: 56,
            token: "00ff00ff00ff00ff".into(),
        };
        assert_eq!(PaneRun::parse(&run.tag()), Some(run.clone()));
        for bad in [
            "",
            "1",
            "2 3 1234 56 tok",
            "1 x 1 1 t",
            "1 3 1234 56 tok extra",
            "1 3 1234 56",
        ] {
            assert_eq!(PaneRun::parse(bad), None, "{bad:?}");
        }
    }

    /// Found by the chaos suite: a conductor killed between a tmux run's
    /// marker and cutting it left the marker in the log for good.
    #[tokio::test]
    async fn a_recorded_end_cuts_the_marker_off_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("w.out.log");
        let earlier = b"an earlier run\n".to_vec();
        let mut bytes = earlier.clone();
        bytes.extend_from_slice(b"line 1\r\nline 2\r\n\x1b]777;baton-done;abc123;code;0\x07");
        std::fs::write(&log, &bytes).unwrap();
        std::fs::write(proc::pipe_done_marker(&log), b"").unwrap();
        cut_recorded_marker(&log, earlier.len() as u64, "abc123").await;
        let mut want = earlier.clone();
        want.extend_from_slice(b"line 1\r\nline 2\r\n");
        assert_eq!(std::fs::read(&log).unwrap(), want);
        assert!(!proc::pipe_done_marker(&log).exists());
        // Another run's token is not this run's end: nothing is cut.
        std::fs::write(&log, &bytes).unwrap();
        std::fs::write(proc::pipe_done_marker(&log), b"").unwrap();
        cut_recorded_marker(&log, earlier.len() as u64, "other").await;
        assert_eq!(std::fs::read(&log).unwrap(), bytes);
    }
}
