//! A run on a remote host, in tmux, over the host's one multiplexed ssh
//! connection.
//!
//! The pane runs `sh -c WRAPPER NONCE ARGV…`: the wrapper runs the agent
//! (its argv passed as arguments, never parsed by a shell), then prints the
//! done token `__BATON_DONE__ <code> <nonce>` and keeps the pane open until
//! baton destroys the session, so tmux hands every byte to `pipe-pane`
//! before it goes. `pipe-pane` appends the terminal output to a file on the
//! host; the host's feed ([`HostFeed`]: one ssh call per tick for all its
//! sessions) brings the new bytes from the offset this run has, so the
//! local `<id>.out.log` has no gap or duplicate, and the state of the pane
//! (L0). Signals go to the pane's process group on the host; the wrapper
//! outlives a SIGTERM (it traps it) so an agent that cleans up on SIGTERM
//! is seen to finish. A host that does not answer for `remote_timeout` ends
//! the run as `remote_unreachable`, and the next run first looks for the
//! tmux session it left (the run's nonce is in `<id>.remote` locally and in
//! the session's `@baton_id` remotely) and re-adopts it when it survived.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::RecordedRun;
use super::{
    Backend, Begun, Delivery, InputDelivery, Leftovers, Observation, OnConductorGone, RunEnd,
    Spawned, StartError, Stream,
};
use super::{Launch, RecoveredOutcome, RunRequest};
use crate::proc::remote_feed::{self, FeedEvent, FeedWatch, HostFeed};
use crate::proc::ssh::{SshError, SshHost};
use crate::proc::{self, ExitStatus, MarkerScanner, Pid, Signal, TmuxError, TmuxServer};
use crate::seglog::RollingWriter;
use crate::state::Missing;
use crate::supervisor::driver::{UNKNOWN, session_file};

/// How long a run that could not end its remote session keeps trying.
const CLEANUP_RETRY: Duration = Duration::from_secs(600);
/// How soon a session whose host did not answer tries again.
pub(crate) const PROBE: Duration = Duration::from_secs(2);

/// The wrapper the pane runs: `$0` is the run's nonce, `"$@"` the agent.
/// A SIGTERM to the pane's group reaches the agent; the wrapper's own is
/// deferred by its trap until the agent has ended, so the done token still
/// tells how the agent ended. (A caught signal is reset for the agent by
/// `exec`, unlike an ignored one.) The wrapper's own stderr is /dev/null,
/// so the shell's report of a signalled child ("Terminated") never enters
/// the agent's output; the agent gets the pane's stderr back, through an
/// inner `sh` that drops the wrapper's redirections before it execs it.
///
/// `$1` is the run's env file (`export K='V'` lines, 0600): sourced and
/// deleted before the agent starts, so no value is on a command line.
/// A run whose CLI reads its hooks from a settings file gets that file
/// beside it, private, unless the host has the file it would stand in for
/// (see [`crate::hooks::HOST_SETTINGS_ENV`]).
const WRAPPER: &str = "exec 3>&2 2>/dev/null; trap : TERM; \
                       . \"$1\" && rm -f -- \"$1\" || exit 125; \
                       export BATON_HOOK_FILE=\"${1%.env}.hooks\"; \
                       if [ -n \"$BATON_HOOK_SETTINGS\" ]; then \
                       s=\"${1%.env}.settings.json\"; \
                       if [ ! -e \"$BATON_HOOK_SETTINGS_OVER\" ] \
                       && (umask 077; printf %s \"$BATON_HOOK_SETTINGS\" > \"$s\"); then \
                       export \"$BATON_HOOK_SETTINGS_VAR=$s\"; fi; \
                       unset BATON_HOOK_SETTINGS BATON_HOOK_SETTINGS_VAR BATON_HOOK_SETTINGS_OVER; fi; \
                       shift; \
                       sh -c 'exec \"$@\" 2>&3 3>&-' sh \"$@\"; c=$?; \
                       printf '__BATON_DONE__ %s %s\\n' \"$c\" \"$0\"; \
                       while :; do sleep 3600; done";

/// Run on the host to signal a run: `$1` the tmux server, `$2` the target
/// session, `$3` the pane's pid (its process group), `$4` the signal. The
/// group is signalled only while that pane still has that pid, so a pid the
/// host gave to someone else since is never touched; exits 3 otherwise.
const SIGNAL: &str = "p=$(tmux -L \"$1\" list-panes -t \"$2\" -F '#{pane_pid}' 2>/dev/null) \
                      || exit 3; [ \"$p\" = \"$3\" ] || exit 3; kill -s \"$4\" -- \"-$3\"";

/// Run on the host before a new run: `$1` the tmux server name, `$2` the
/// workdir (empty: the login directory), `$3` the program, `$4` the name of
/// the run's env file, written (0600) from stdin. Exits 3 for a missing
/// workdir, 4 for a missing program; prints the output directory.
const PREPARE: &str = "umask 077; \
    if [ -n \"$2\" ]; then cd \"$2\" 2>/dev/null || exit 3; fi; \
    command -v \"$3\" >/dev/null 2>&1 || exit 4; \
    mkdir -p -- \"$HOME/.baton/$1\" || exit 5; \
    cat > \"$HOME/.baton/$1/$4\" || exit 5; printf %s \"$HOME/.baton/$1\"";

/// Run on the host when a run ends: `$1` server, `$2` target session, `$3`
/// output file, `$4` its `pipe-pane` marker, `$5` their directory, `$6`
/// `+N` (the first byte not yet fetched). Ends the session, waits (≤ 5 s)
/// for `pipe-pane` to write its last bytes, prints the file from byte N,
/// and removes the files.
const CLEANUP: &str = "if tmux -L \"$1\" kill-session -t \"$2\" 2>/dev/null; then \
    i=0; while [ ! -e \"$4\" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; fi; \
    tail -c \"$6\" \"$3\" 2>/dev/null; \
    rm -f \"$3\" \"$4\" \"${3%.log}.hooks\" \"${3%.log}.settings.json\"; rmdir \"$5\" 2>/dev/null; exit 0";

/// Where a remote run lives.
struct RemoteRun {
    /// baton's tmux server on the host (calls go over ssh).
    tmux: TmuxServer,
    /// The tmux session name.
    session: String,
    /// The inventory name of the host.
    host: String,
    /// The host's output and pane fetcher.
    feed: Arc<HostFeed>,
    /// The run whose `spawn` is recorded, as the record tells it (a
    /// conductor continues it after a restart): its pane is adopted, or,
    /// gone, the run ended unseen; it is never started again.
    recorded: Option<RecordedRun>,
}

/// What `<id>.remote` remembers of the current run, so a later run (or a
/// later conductor) can take the tmux session over.
struct RunState {
    nonce: String,
    /// Where the run's output begins in the local `<id>.out.log`.
    out_offset: u64,
    /// The output file on the host.
    remote_log: String,
    /// Bytes of its hook file already heard: a conductor that takes the
    /// run over hears only what its hooks say from then on (the log holds
    /// the state they led to).
    hooks_offset: u64,
}

impl RunState {
    fn path(out_path: &Path) -> PathBuf {
        session_file(out_path, "remote")
    }

    fn load(out_path: &Path) -> Option<RunState> {
        let text = std::fs::read_to_string(Self::path(out_path)).ok()?;
        let mut lines = text.lines();
        let nonce = lines.next()?.to_owned();
        let out_offset = lines.next()?.parse().ok()?;
        let remote_log = lines.next()?.to_owned();
        // Written since hooks came to remote runs; none before.
        let hooks_offset = lines.next().and_then(|l| l.parse().ok()).unwrap_or(0);
        Some(RunState {
            nonce,
            out_offset,
            remote_log,
            hooks_offset,
        })
    }

    fn save(&self, out_path: &Path) -> std::io::Result<()> {
        let path = Self::path(out_path);
        let tmp = path.with_extension("remote.tmp");
        std::fs::write(
            &tmp,
            format!(
                "{}\n{}\n{}\n{}\n",
                self.nonce, self.out_offset, self.remote_log, self.hooks_offset
            ),
        )?;
        std::fs::rename(tmp, path)
    }
}

impl From<TmuxError> for StartError {
    fn from(e: TmuxError) -> StartError {
        match e {
            TmuxError::Ssh(e) if e.is_unreachable() => StartError::Unreachable(e.to_string()),
            TmuxError::Ssh(e @ (SshError::Auth { .. } | SshError::HostKey { .. })) => {
                StartError::failed(Missing::Ssh, e.to_string())
            }
            other => StartError::failed(Missing::Tmux, other.to_string()),
        }
    }
}

/// A run in a tmux pane on a host.
pub(crate) struct Remote {
    id: String,
    tmux: TmuxServer,
    ssh: Arc<SshHost>,
    session: String,
    host_name: String,
    /// The pane's process: the leader of its group on the host.
    pid: u32,
    state: RunState,
    out: RollingWriter,
    out_path: PathBuf,
    /// Bytes of this run received so far (the next fetch's offset).
    received: u64,
    scanner: MarkerScanner,
    passed: Vec<u8>,
    watch: Option<FeedWatch>,
    last_answer: Instant,
    remote_timeout: Duration,
    exited: bool,
    /// The done token came with the last output: the end is observed next.
    pending_exit: Option<ExitStatus>,
    /// A signal found the host unreachable: the run ends so.
    cut: Option<String>,
    /// The run's hook lines on the host (see [`crate::hooks::REMOTE_COMMAND`]),
    /// for a run with hooks.
    hooks: Option<FeedWatch>,
    /// The hook line being fetched, and reports heard but not yet passed on.
    hook_line: Vec<u8>,
    heard: std::collections::VecDeque<crate::hooks::HookReport>,
    attempt: u32,
}

/// Starts the agent in a tmux session on the host, or takes over the one a
/// previous run of this session left there.
async fn start(cfg: &RunRequest, remote: RemoteRun) -> Result<(Remote, Begun), StartError> {
    let Some(ssh) = remote.tmux.host().cloned() else {
        return Err(StartError::failed(
            Missing::Host,
            "a remote run needs a host",
        ));
    };
    // The local log first: output that cannot be kept must not run unseen.
    // It is opened again once the host was looked at, which may have
    // appended what an earlier run left there.
    let open_log = || {
        RollingWriter::open(&cfg.out_path, cfg.log_limits).map_err(|e| {
            StartError::failed(
                Missing::LogsDir,
                format!("cannot open the output log {}: {e}", cfg.out_path.display()),
            )
        })
    };
    drop(open_log()?);
    let (state, pid, how) = adopt_or_start(cfg, &remote, &ssh).await?;
    let out = open_log()?;
    let adopted = match how {
        Found::Adopted { acknowledged, dead } => Some((acknowledged, dead)),
        Found::Gone { acknowledged } => Some((acknowledged, true)),
        Found::Lost { .. } | Found::Started => None,
    };
    let begun = if let Some((acknowledged, ended)) = adopted {
        Begun::Adopted {
            pid: Pid(pid),
            out_offset: state.out_offset,
            acknowledged,
            outcome: if ended {
                RecoveredOutcome::Exited
            } else {
                RecoveredOutcome::Readopted
            },
        }
    } else {
        let mut launch = Launch::of(
            cfg,
            Some(crate::eventlog::TmuxTarget {
                server: remote.tmux.name().to_owned(),
                session: remote.session.clone(),
                marker: Some(state.nonce.clone()),
            }),
        );
        launch.host = Some(remote.host.clone());
        // The workdir on the host (`~`: its login directory).
        launch.workdir = cfg
            .remote_workdir
            .as_deref()
            .map_or_else(|| "~".to_owned(), |w| w.display().to_string());
        Begun::Spawned(Box::new(Spawned {
            pid: Pid(pid),
            start_time: None,
            out_offset: state.out_offset,
            err_offset: match how {
                Found::Lost { err_offset } => err_offset,
                _ => file_len(&cfg.err_path),
            },
            launch,
        }))
    };
    // Bytes after a done token are never written, so what the local log
    // holds of this run is exactly what was received before.
    let received = file_len(&cfg.out_path).saturating_sub(state.out_offset);
    // A run that ended unseen has nothing more to fetch: its end is
    // observed at once, its status unknown.
    let gone = matches!(how, Found::Gone { .. });
    let watch = (!gone).then(|| {
        remote
            .feed
            .watch(&remote.session, &state.remote_log, received)
    });
    // A run with hooks: the lines they append beside its output file.
    let hooked = cfg.env.iter().any(|(k, _)| k == crate::hooks::TOKEN_ENV);
    let hooks = (!gone && hooked && !state.remote_log.is_empty()).then(|| {
        let file = crate::hooks::remote_hook_file(&state.remote_log);
        remote
            .feed
            .watch(&remote.session, &file, state.hooks_offset)
    });
    let run = Remote {
        id: cfg.id.to_string(),
        remote_timeout: ssh.timeout().max(remote_feed::TICK_MAX * 2),
        ssh,
        tmux: remote.tmux,
        session: remote.session,
        host_name: remote.host,
        pid,
        scanner: MarkerScanner::done_token(&state.nonce),
        state,
        out,
        out_path: cfg.out_path.clone(),
        received,
        passed: Vec::new(),
        watch,
        last_answer: Instant::now(),
        exited: false,
        pending_exit: gone.then_some(UNKNOWN),
        cut: None,
        hooks,
        hook_line: Vec::new(),
        heard: std::collections::VecDeque::new(),
        attempt: cfg.attempt,
    };
    Ok((run, begun))
}

impl Remote {
    /// Bytes of the run's hook file: each whole line is one hook's report.
    fn hear(&mut self, bytes: &[u8]) {
        self.hook_line.extend_from_slice(bytes);
        while let Some(nl) = self.hook_line.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.hook_line.drain(..=nl).collect();
            self.state.hooks_offset += line.len() as u64;
            if let Err(e) = self.state.save(&self.out_path) {
                tracing::warn!(session = %self.id, "cannot note the hooks heard of its remote run: {e}");
            }
            match crate::hooks::parse_remote_line(&line, &self.id, self.attempt) {
                Some(report) => self.heard.push_back(report),
                None => {
                    tracing::debug!(session = %self.id, "a hook line that is no report; dropped")
                }
            }
        }
        // A line longer than a hook writes is no report.
        if self.hook_line.len() > crate::hooks::INPUT_MAX * 2 {
            self.state.hooks_offset += self.hook_line.len() as u64;
            self.hook_line.clear();
        }
    }

    /// Agent output: into the local log.
    fn append_to_log(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Err(e) = self.out.append(bytes) {
            tracing::error!(path = %self.out_path.display(), "output log write failed: {e}");
        }
    }

    fn silent_for(&self) -> String {
        format!(
            "host `{}` has not answered for {} s",
            self.host_name,
            self.last_answer.elapsed().as_secs()
        )
    }

    /// The words of the call that ends the session on the host and returns
    /// what the agent wrote after the last fetch.
    fn cleanup_words(&self) -> Vec<String> {
        cleanup_words(&self.tmux, &self.session, &self.state, self.received)
    }
}

/// The words of the call that ends `session` on the host and returns what
/// the run of `state` wrote after its first `received` bytes.
fn cleanup_words(tmux: &TmuxServer, session: &str, state: &RunState, received: u64) -> Vec<String> {
    let log = Path::new(&state.remote_log);
    let piped = proc::pipe_done_marker(log);
    let dir = log.parent().unwrap_or(Path::new("."));
    vec![
        "sh".into(),
        "-c".into(),
        CLEANUP.into(),
        "sh".into(),
        tmux.name().into(),
        format!("={session}"),
        state.remote_log.clone(),
        piped.to_string_lossy().into_owned(),
        dir.to_string_lossy().into_owned(),
        format!("+{}", received + 1),
    ]
}

/// Whether a remote run of the session logging to `out_path` may have left
/// its tmux session on its host: its run ended without ending it (the host
/// stopped answering) and no later run took it over or ended it.
pub(crate) fn left_behind(out_path: &Path) -> bool {
    RunState::path(out_path).exists()
}

/// Ends what the session's last remote run left at `site` once the session
/// has ended (a user kill while it waited for its host): the tmux session
/// on the host goes, what the agent wrote there since the last fetch is
/// kept (up to its done token), and the files go. Tries again while the
/// host does not answer, for up to [`CLEANUP_RETRY`]; `<id>.remote` stays
/// until it is done, so a later conductor tries again.
///
/// The rest of the run whose `spawn` is recorded (its token is
/// `recorded_marker`) joins its slice of `<id>.out.log`. A run no record
/// knows — its conductor died after making its pane and before recording
/// it, and no later attempt got to take it over — has no slice there: its
/// bytes would join the run before it. They are kept beside the log, in
/// [`unrecorded_log`], whole (from its first byte, which no fetch took).
pub(crate) async fn end_left_behind(
    site: super::Site,
    out_path: PathBuf,
    recorded_marker: Option<String>,
) {
    let Some(state) = RunState::load(&out_path) else {
        return;
    };
    let Some(ssh) = site.tmux.host().cloned() else {
        return;
    };
    let recorded = recorded_marker.as_deref() == Some(state.nonce.as_str());
    let (keep_in, received) = if recorded {
        let received = file_len(&out_path).saturating_sub(state.out_offset);
        (out_path.clone(), received)
    } else {
        (unrecorded_log(&out_path, &state.nonce), 0)
    };
    let words = cleanup_words(&site.tmux, &site.session, &state, received);
    let until = Instant::now() + CLEANUP_RETRY;
    loop {
        match ssh.exec(&words, None).await {
            Ok(out) => {
                keep_rest(&out.stdout, &state, &keep_in);
                let _ = std::fs::remove_file(RunState::path(&out_path));
                if recorded {
                    tracing::info!(session = %site.session, "ended the tmux session a remote run left on its host");
                } else {
                    tracing::warn!(
                        session = %site.session,
                        kept = %keep_in.display(),
                        "ended the tmux session of a remote run no record knows; what it wrote is kept beside the log"
                    );
                }
                return;
            }
            Err(e) if Instant::now() < until => {
                tracing::debug!(session = %site.session, "the host does not answer yet: {e}");
                tokio::time::sleep(PROBE).await;
            }
            Err(e) => {
                tracing::error!(session = %site.session, "gave up ending the tmux session a remote run left on its host: {e}");
                return;
            }
        }
    }
}

/// Where the output of a remote run no `spawn` record names is kept once its
/// session has ended: `<id>.unrecorded-<nonce>.out.log` beside the log.
pub(crate) fn unrecorded_log(out_path: &Path, nonce: &str) -> PathBuf {
    // The nonce is baton's own hex; anything else in the file is not a name.
    let nonce = if !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        nonce
    } else {
        "unknown"
    };
    session_file(out_path, &format!("unrecorded-{nonce}.out.log"))
}

/// Appends to `keep_in` what a cleanup call returned of the run of `state`:
/// its output up to its done token.
fn keep_rest(fetched: &[u8], state: &RunState, keep_in: &Path) {
    let mut scanner = MarkerScanner::done_token(&state.nonce);
    let mut rest = scanner.feed(fetched);
    rest.extend(scanner.flush());
    if rest.is_empty() {
        return;
    }
    // Appended where the log ends, in its active segment.
    let appended = RollingWriter::open(keep_in, crate::seglog::Limits::UNBOUNDED)
        .and_then(|mut log| log.append(&rest));
    if let Err(e) = appended {
        tracing::error!(path = %keep_in.display(), "output log write failed: {e}");
    }
}

impl Backend for Remote {
    const ON_CONDUCTOR_GONE: OnConductorGone = OnConductorGone::Detach;

    async fn start(
        cfg: &RunRequest,
        site: super::Site,
        resume: Option<RecordedRun>,
    ) -> Result<(Remote, Begun), StartError> {
        let Some((host, feed)) = site.host else {
            return Err(StartError::failed(
                Missing::Host,
                "a remote run needs a host",
            ));
        };
        let remote = RemoteRun {
            tmux: site.tmux,
            session: site.session,
            host,
            feed,
            recorded: resume,
        };
        start(cfg, remote).await
    }

    /// The session goes on the host (when it answers).
    async fn end_recorded(site: super::Site, _run: &RecordedRun, _out_path: &Path) {
        let _ = site.tmux.kill_session(&site.session).await;
    }

    async fn observe(&mut self) -> Observation<'_> {
        if let Some(message) = self.cut.take() {
            return Observation::Unreachable(message);
        }
        if let Some(status) = self.pending_exit.take() {
            self.exited = true;
            return Observation::Exited(status);
        }
        if self.exited {
            // Nothing of the run is local: once its end is known, it is settled.
            return Observation::Settled;
        }
        if let Some(report) = self.heard.pop_front() {
            return Observation::Hook(report);
        }
        let Some(watch) = self.watch.as_mut() else {
            return Observation::Detached;
        };
        let hooks = self.hooks.as_mut();
        // A fetch that never comes back at all also counts as silence.
        let give_up = self.last_answer + self.remote_timeout + remote_feed::TICK_MAX;
        tokio::select! {
            biased;
            event = watch.rx.recv() => match event {
                Some(FeedEvent::Output(bytes)) => {
                    self.last_answer = Instant::now();
                    self.received += bytes.len() as u64;
                    let passed = self.scanner.feed(&bytes);
                    self.append_to_log(&passed);
                    self.passed = passed;
                    if let Some(status) = self.scanner.ended() {
                        // The token ends the output: no more is fetched.
                        self.watch = None;
                        if self.passed.is_empty() {
                            self.exited = true;
                            return Observation::Exited(status);
                        }
                        // The bytes first; the end follows on the next call.
                        self.pending_exit = Some(status);
                    }
                    Observation::Output { stream: Stream::Stdout, bytes: &self.passed }
                }
                Some(FeedEvent::Pane(pane)) => {
                    self.last_answer = Instant::now();
                    let status = match pane {
                        // The wrapper itself died (killed on the host): no
                        // token will come.
                        Some(pane) if pane.dead => ExitStatus { code: pane.code, signal: pane.signal },
                        Some(_) => return Observation::Idle,
                        // The session is gone (the host restarted, or someone
                        // killed it): the agent's end is unknown.
                        None => UNKNOWN,
                    };
                    self.exited = true;
                    self.watch = None;
                    Observation::Exited(status)
                }
                Some(FeedEvent::Failed(e)) => {
                    tracing::debug!(session = %self.id, host = %self.host_name, "fetch failed: {e}");
                    if self.last_answer.elapsed() >= self.remote_timeout {
                        let message = format!("{}: {e}", self.silent_for());
                        return Observation::Unreachable(message);
                    }
                    Observation::Idle
                }
                // The feed is gone (the conductor is stopping).
                None => Observation::Detached,
            },
            Some(event) = async {
                match hooks {
                    Some(hooks) => hooks.rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let FeedEvent::Output(bytes) = event {
                    self.hear(&bytes);
                }
                match self.heard.pop_front() {
                    Some(report) => Observation::Hook(report),
                    None => Observation::Idle,
                }
            }
            () = tokio::time::sleep_until(give_up) => Observation::Unreachable(self.silent_for()),
        }
    }

    async fn after_exit(&mut self) -> Leftovers {
        // The host's processes end with the session, in `finish`.
        Leftovers::None
    }

    async fn signal(&mut self, signal: Signal) -> Delivery {
        let name = signal.name();
        let pid = self.pid.to_string();
        let target = format!("={}", self.session);
        let words = [
            "sh",
            "-c",
            SIGNAL,
            "sh",
            self.tmux.name(),
            target.as_str(),
            pid.as_str(),
            name,
        ];
        match self.ssh.exec(&words, None).await {
            Ok(out) if out.status == 0 => Delivery::Delivered,
            Ok(_) => Delivery::NoneLeft,
            Err(e) if e.is_unreachable() => {
                self.cut = Some(format!(
                    "host `{}` did not answer a {name} for the session: {e}",
                    self.host_name
                ));
                Delivery::Failed(e.to_string())
            }
            Err(e) => Delivery::Failed(e.to_string()),
        }
    }

    fn input(&mut self, bytes: Vec<u8>) -> InputDelivery {
        super::tmux::send_keys(&self.tmux, &self.session, bytes)
    }

    async fn finish(&mut self, end: RunEnd, terminating: bool) -> Vec<u8> {
        // No more output is fetched for this run.
        self.watch = None;
        self.hooks = None;
        if end == RunEnd::Unreachable && !terminating {
            // The session may live on there: the next run re-adopts it.
            return Vec::new();
        }
        if self.state.remote_log.is_empty() {
            // A recorded run found gone, whose files this conductor never
            // knew: nothing of it is left to end or fetch.
            let _ = std::fs::remove_file(RunState::path(&self.out_path));
            return Vec::new();
        }
        // Done (token seen, pane dead or gone) or killed: one call destroys
        // the session and removes the output file (and a `pipe-pane` marker
        // an older baton left) and, once no other run uses it, their
        // directory.
        let words = self.cleanup_words();
        let mut rest = Vec::new();
        match self.ssh.exec(&words, None).await {
            // What the agent wrote after the last fetch (a kill, a dead
            // pane): kept, up to a done token.
            Ok(out) => {
                if self.scanner.ended().is_none() {
                    rest = self.scanner.feed(&out.stdout);
                    rest.extend(self.scanner.flush());
                    let kept = std::mem::take(&mut rest);
                    self.append_to_log(&kept);
                    rest = kept;
                }
                let _ = std::fs::remove_file(RunState::path(&self.out_path));
            }
            Err(e) => {
                // The host does not answer (a kill during a cut): the agent
                // may live on there. Keep trying in the background, and keep
                // `<id>.remote` until it is done, so a later run or
                // conductor finds the session instead of losing it.
                tracing::error!(
                    session = %self.id,
                    host = %self.host_name,
                    "cannot end the tmux session now ({e}); retrying for up to {} s",
                    CLEANUP_RETRY.as_secs()
                );
                let (ssh, state_path, id) = (
                    self.ssh.clone(),
                    RunState::path(&self.out_path),
                    self.id.clone(),
                );
                tokio::spawn(async move {
                    let until = Instant::now() + CLEANUP_RETRY;
                    while Instant::now() < until {
                        tokio::time::sleep(PROBE).await;
                        if ssh.exec(&words, None).await.is_ok() {
                            let _ = std::fs::remove_file(&state_path);
                            tracing::info!(session = %id, "remote tmux session ended after the host answered again");
                            return;
                        }
                    }
                    tracing::error!(session = %id, "gave up ending the remote tmux session; `<id>.remote` keeps it for the next run");
                });
            }
        }
        let _ = self.out.flush();
        rest
    }
}

/// The global length of a local log (every byte it was given, across its
/// segments).
fn file_len(path: &Path) -> u64 {
    crate::seglog::global_len(path).unwrap_or(0)
}

/// Whether the run `state` describes is the one a recorded `spawn` names
/// (the session's last recorded run, since `<id>.remote` holds only the
/// newest run): not a run whose conductor died, or whose start failed,
/// before recording it.
fn is_recorded(cfg: &RunRequest, state: &RunState) -> bool {
    cfg.recorded_marker.as_deref() == Some(state.nonce.as_str())
}

/// What became of the tmux session a run looks at first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// The pane of a recorded run (or, alive, of an earlier run whose host
    /// stopped answering): taken over.
    Adopted { acknowledged: bool, dead: bool },
    /// The pane of a run no record knows — its conductor died, or its start
    /// failed, after creating it and before recording its `spawn`: taken
    /// over, its `spawn` recorded now, with its own log offsets.
    Lost { err_offset: u64 },
    /// The recorded run's pane is gone (its tmux server was killed, the
    /// host restarted): it ended unseen, its status unknown.
    Gone { acknowledged: bool },
    /// A new pane was started.
    Started,
}

/// Takes over the tmux session of this session on the host when it is the
/// run to continue — the recorded run, a run whose `spawn` was never
/// recorded, or a live run of an earlier attempt that ended only because
/// the host stopped answering — or starts a new one.
/// Returns the run's state, the pane pid, and which it was.
async fn adopt_or_start(
    cfg: &RunRequest,
    remote: &RemoteRun,
    host: &SshHost,
) -> Result<(RunState, u32, Found), StartError> {
    let tmux = &remote.tmux;
    let session = &remote.session;
    let mut existing = tmux.pane_status(session).await?;
    // The pane of the run `<id>.remote` names, when it is there.
    let mut this_run = None;
    let saved = RunState::load(&cfg.out_path);
    if let (Some(pane), Some(state)) = (existing, &saved) {
        let tag = tmux.option(session, "@baton_id").await?;
        if tag.as_deref() == Some(&format!("{} {}", cfg.id, state.nonce)) {
            let run = tmux
                .option(session, "@baton_run")
                .await?
                .as_deref()
                .and_then(super::tmux::PaneRun::parse)
                .filter(|r| r.token == state.nonce);
            this_run = Some((pane, run));
        }
    }
    let acknowledged = |state: &RunState| file_len(&cfg.out_path) > state.out_offset;
    if let Some(recorded) = &remote.recorded {
        // The recorded run: its pane, or the news that it ended unseen.
        // Never a new pane for an attempt whose `spawn` is recorded.
        let state = saved.filter(|s| Some(&s.nonce) == recorded.marker.as_ref());
        return Ok(match (this_run, state) {
            (Some((pane, _)), Some(state)) => {
                let found = Found::Adopted {
                    acknowledged: acknowledged(&state),
                    dead: pane.dead,
                };
                (state, pane.pid, found)
            }
            (_, state) => {
                tracing::info!(
                    session = %cfg.id,
                    host = %remote.host,
                    "the recorded run's tmux session is gone; it ended while no conductor watched"
                );
                let state = state.unwrap_or_else(|| RunState {
                    nonce: recorded.marker.clone().unwrap_or_default(),
                    out_offset: recorded.out_offset,
                    remote_log: String::new(),
                    hooks_offset: 0,
                });
                let found = Found::Gone {
                    acknowledged: acknowledged(&state),
                };
                (state, recorded.pid, found)
            }
        });
    }
    if let (Some((pane, run)), Some(state)) = (this_run, saved) {
        if is_recorded(cfg, &state) {
            // A live run of an earlier attempt, recorded, which ended only
            // because the host stopped answering: it goes on.
            if !pane.dead {
                let found = Found::Adopted {
                    acknowledged: acknowledged(&state),
                    dead: false,
                };
                return Ok((state, pane.pid, found));
            }
            // Dead, its end is recorded; what it wrote while the host did
            // not answer is kept (in its own slice, before the next run's),
            // and its session goes.
            let received = file_len(&cfg.out_path).saturating_sub(state.out_offset);
            let words = cleanup_words(tmux, session, &state, received);
            let out = host.exec(&words, None).await.map_err(TmuxError::Ssh)?;
            keep_rest(&out.stdout, &state, &cfg.out_path);
            existing = None;
        } else {
            // A run no record knows: this attempt's or, when starting it
            // failed after its pane was made (the link cut), an earlier
            // one's. Its output and end are kept under a `spawn` recorded
            // now, alive or not.
            tracing::info!(
                session = %cfg.id,
                attempt = run.as_ref().map(|r| r.attempt),
                host = %remote.host,
                "taking over the remote pane of a run started by a conductor that \
                 did not record it"
            );
            let found = Found::Lost {
                err_offset: run.map_or_else(|| file_len(&cfg.err_path), |r| r.err_offset),
            };
            return Ok((state, pane.pid, found));
        }
    }
    if existing.is_some() {
        // A dead pane of ours, or a session of an earlier run of this id,
        // goes; a session tagged for another id (or untagged) is someone
        // else's and is never touched.
        let tag = tmux.option(session, "@baton_id").await?;
        let ours = tag
            .as_deref()
            .and_then(|t| t.split_once(' '))
            .is_some_and(|(id, _)| id == cfg.id.as_str());
        // No tag can also mean the session (or its whole server) went
        // between the two looks: nothing is there to leave alone then.
        let gone = tag.is_none() && tmux.pane_status(session).await?.is_none();
        if gone {
            tracing::info!(session = %cfg.id, host = %remote.host, "the tmux session went while it was looked at");
        } else if !ours {
            return Err(StartError::failed(
                Missing::Tmux,
                format!(
                    "tmux session `{session}` on host `{}` (server `{}`) belongs to something else \
                     (tag {tag:?}); baton leaves it alone",
                    remote.host,
                    tmux.name()
                ),
            ));
        } else {
            tmux.kill_session(session).await?;
        }
    }
    let nonce = super::tmux::marker_token();
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
    // The environment travels on ssh's stdin into a private file there.
    let exports = proc::export_lines(&cfg.env).map_err(|e| StartError::failed(Missing::Host, e))?;
    let env_name = format!("{session}.{nonce}.env");
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
                env_name.as_str(),
            ],
            Some(exports.as_bytes()),
        )
        .await
        .map_err(|e| StartError::from(TmuxError::Ssh(e)))?;
    let dir = match answer.status {
        0 => String::from_utf8_lossy(&answer.stdout).into_owned(),
        3 => {
            return Err(StartError::failed(
                Missing::Workdir,
                format!(
                    "workdir `{workdir}` does not exist or is not a directory on host `{}`",
                    remote.host
                ),
            ));
        }
        4 => {
            return Err(StartError::failed(
                Missing::Binary,
                format!(
                    "program `{program}` not found on host `{}` (looked up in {}, on the login PATH)",
                    remote.host,
                    if workdir.is_empty() {
                        "the login directory"
                    } else {
                        &workdir
                    }
                ),
            ));
        }
        other => {
            return Err(StartError::failed(
                Missing::Host,
                format!(
                    "preparing host `{}` failed (status {other}): {}",
                    remote.host,
                    answer.stderr.trim()
                ),
            ));
        }
    };
    let remote_log = format!("{dir}/{session}.{nonce}.log");
    let out_offset = file_len(&cfg.out_path);
    let state = RunState {
        nonce: nonce.clone(),
        out_offset,
        remote_log: remote_log.clone(),
        hooks_offset: 0,
    };
    state.save(&cfg.out_path).map_err(|e| {
        StartError::failed(
            Missing::LogsDir,
            format!(
                "cannot record the remote run next to {}: {e}",
                cfg.out_path.display()
            ),
        )
    })?;
    let mut pane = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        WRAPPER.to_owned(),
        nonce.clone(),
        format!("{dir}/{env_name}"),
    ];
    pane.extend(cfg.argv.iter().cloned());
    let cwd = cfg.remote_workdir.as_deref();
    let run = super::tmux::PaneRun {
        attempt: cfg.attempt,
        out_offset,
        err_offset: file_len(&cfg.err_path),
        token: nonce.clone(),
    };
    let pid = tmux
        .new_session(
            session,
            &format!("{} {}", cfg.id, nonce),
            &run.tag(),
            cwd,
            &pane,
            cfg.pty.unwrap_or_default(),
            Path::new(&remote_log),
            // The host has no baton-shim: the file there is fetched and
            // removed by the run; the local log is what rolls over.
            &[],
        )
        .await?;
    crate::fault::point(crate::fault::REMOTE_PANE_CREATED);
    Ok((state, pid, Found::Started))
}

#[cfg(test)]
mod tests {
    use super::SIGNAL;
    use std::process::Command;

    /// The host-side signal script against a real tmux server (this machine
    /// standing in for the host): it signals the pane's group only while the
    /// pane has the recorded pid.
    #[test]
    fn the_signal_script_touches_only_the_recorded_pane() {
        let server = format!("baton-signal-test-{}", std::process::id());
        let tmux = |args: &[&str]| {
            Command::new("tmux")
                .arg("-L")
                .arg(&server)
                .args(args)
                .output()
        };
        let Ok(started) = tmux(&["new-session", "-d", "-s", "sig", "sleep 60"]) else {
            assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
            return;
        };
        assert!(started.status.success(), "{started:?}");
        let listed = tmux(&["list-panes", "-t", "=sig", "-F", "#{pane_pid}"]).expect("tmux");
        let pid = String::from_utf8_lossy(&listed.stdout).trim().to_owned();
        let run = |target: &str, pid: &str| {
            Command::new("sh")
                .args(["-c", SIGNAL, "sh", &server, target, pid, "TERM"])
                .status()
                .expect("sh")
                .code()
        };
        assert_eq!(
            run("=sig", "999999"),
            Some(3),
            "a pid the pane no longer has"
        );
        assert_eq!(run("=other", &pid), Some(3), "a session that is gone");
        let alive = tmux(&["has-session", "-t", "=sig"]).expect("tmux");
        assert!(alive.status.success(), "nothing was signalled so far");
        assert_eq!(run("=sig", &pid), Some(0));
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            !tmux(&["has-session", "-t", "=sig"])
                .expect("tmux")
                .status
                .success()
        });
        let _ = tmux(&["kill-server"]);
        // tmux leaves its socket file behind.
        let dir =
            std::env::var_os("TMUX_TMPDIR").map_or_else(|| "/tmp".into(), std::path::PathBuf::from);
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let _ = std::fs::remove_file(dir.join(format!("tmux-{uid}")).join(&server));
        assert!(gone, "the pane's process got the TERM");
    }
}
