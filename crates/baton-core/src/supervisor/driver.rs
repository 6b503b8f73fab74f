//! The run driver: one attempt of one session, whatever its backend.
//!
//! The driver observes and reports; it never decides a state. It owns what
//! every run has: the startup (L3) and silence (L1) deadlines, armed from
//! the last output byte; the termination sequence (SIGTERM → grace →
//! SIGKILL, a second request skips the grace); input hashing; the
//! completion payload; the L2 hook; and the reports to the supervisor, in
//! the order things happened. How a process is started, read, signalled and
//! cleaned up is its [`Backend`]'s business.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_monitor::input_wait::terminal::Terminal;
use baton_monitor::input_wait::{Detection, InputWaitDetector};
use baton_monitor::payload::PayloadCapture;
use baton_monitor::screen::Screen;
use baton_monitor::tail::Tail;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::backend::{
    Backend, Begun, Delivery, InputError, Observation, OnConductorGone, RunEnd, RunRequest,
    StartError, Stream,
};
use super::backend::{RecoveredOutcome, Spawned};
use super::termination::{KillReason, KillStep, Termination};
use crate::proc::{self, ExitStatus, Pid, Signal};
use crate::state::Missing;

/// How long what a run detached gets between SIGTERM and SIGKILL.
pub(crate) const STRAY_GRACE: Duration = Duration::from_secs(2);

/// Bytes of stdout read back for the "last JSON object" payload fallback.
const STDOUT_TAIL: u64 = 64 * 1024;

/// Everything a run needs, resolved by the supervisor: what its backend
/// is asked to run, and what the driver judges it by.
pub(crate) struct RunConfig {
    /// What the backend starts.
    pub run: RunRequest,
    pub stall_after: Duration,
    /// A confident prompt after this much quiet is `input_wait` at once
    /// (below `stall_after`; `None`: only at `stall_after`).
    pub input_wait_after: Option<Duration>,
    pub startup_timeout: Duration,
    pub grace: Duration,
    pub detector: Arc<InputWaitDetector>,
    pub l2: Option<L2Check>,
    /// The agent is on a terminal (PTY or tmux pane) of this size: it is
    /// judged by what its screen shows, not by its byte stream.
    pub screen: Option<proc::PtySize>,
    /// The session runs in a git worktree of its own; `run.cwd` is then its
    /// workdir in the user's checkout until the worktree step moves it.
    pub worktree: Option<super::worktree::WorktreePlan>,
    /// Reads the output for what the agent CLI says of itself (`None`: an
    /// agent with nothing to listen for).
    pub listener: Option<baton_agents::Listener>,
    /// The run's CLI reports through baton's hooks.
    pub hooked: bool,
    /// The hook settings file written for the run (removed at its end).
    pub hook_file: Option<PathBuf>,
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
    /// What the session showed last: one lock per output chunk.
    shown: Mutex<Shown>,
    /// Milliseconds since the conductor's epoch of the last output byte.
    pub last_output_ms: AtomicU64,
}

/// The recent output bytes, and for a run on a terminal its screen.
struct Shown {
    tail: Tail,
    screen: Option<Screen>,
    /// What an agent with structured output shows a person now (its last
    /// message line, its tool), instead of its last raw line.
    status: Option<String>,
    /// The last line of the tail or screen, as last worked out; `None`
    /// once output came since. A `ps` of a thousand sessions reads it for
    /// each, and most said nothing new since the last one.
    last_line: Option<Option<String>>,
}

impl RunShared {
    pub fn new(tail_bytes: usize) -> RunShared {
        RunShared {
            out_bytes: AtomicU64::new(0),
            err_bytes: AtomicU64::new(0),
            shown: Mutex::new(Shown {
                tail: Tail::new(tail_bytes),
                screen: None,
                status: None,
                last_line: None,
            }),
            last_output_ms: AtomicU64::new(0),
        }
    }

    /// A new run begins: a terminal run starts on a blank screen.
    pub fn begin_run(&self, screen: Option<proc::PtySize>) {
        if let Ok(mut shown) = self.shown.lock() {
            shown.screen = screen.map(|size| Screen::new(size.rows, size.cols));
            shown.status = None;
            shown.last_line = None;
        }
    }

    /// Takes a chunk of output; returns what the terminal answers to
    /// queries in it (nothing off a terminal).
    fn push(&self, bytes: &[u8]) -> Vec<u8> {
        let Ok(mut shown) = self.shown.lock() else {
            return Vec::new();
        };
        shown.tail.push(bytes);
        shown.last_line = None;
        match shown.screen.as_mut() {
            Some(screen) => screen.push(bytes),
            None => Vec::new(),
        }
    }

    /// What the input-wait detector judges: the screen for a terminal run,
    /// else the output tail.
    pub fn judged(&self) -> Vec<u8> {
        match self.shown.lock() {
            Ok(shown) => match &shown.screen {
                Some(screen) => screen.judged().into_bytes(),
                None => shown.tail.to_vec(),
            },
            Err(_) => Vec::new(),
        }
    }

    /// What a run's end is judged by (the CLI's last words): its last
    /// output bytes and, for a run on a terminal, its screen after them —
    /// a TUI places its words with cursor moves, so only the screen holds
    /// "Unable to connect" as a line.
    pub fn end_tail(&self) -> Vec<u8> {
        let Ok(shown) = self.shown.lock() else {
            return Vec::new();
        };
        let mut tail = shown.tail.to_vec();
        if let Some(screen) = &shown.screen {
            tail.push(b'\n');
            tail.extend_from_slice(screen.text().as_bytes());
        }
        tail
    }

    pub fn tail_bytes(&self) -> Vec<u8> {
        self.shown
            .lock()
            .map(|s| s.tail.to_vec())
            .unwrap_or_default()
    }

    /// What the agent says it shows now (see [`Shown::status`]).
    pub fn set_status(&self, status: String) {
        if let Ok(mut shown) = self.shown.lock() {
            shown.status = Some(status);
        }
    }

    #[cfg(test)]
    pub fn last_line(&self) -> Option<String> {
        self.with_last_line(|line| line.map(str::to_owned))
            .flatten()
    }

    /// `f` of the last line shown, without copying it (`None` when the
    /// shared state is poisoned).
    pub fn with_last_line<R>(&self, f: impl FnOnce(Option<&str>) -> R) -> Option<R> {
        let mut shown = self.shown.lock().ok()?;
        if let Some(status) = &shown.status {
            return Some(f(Some(status)));
        }
        if shown.last_line.is_none() {
            let line = match &shown.screen {
                Some(screen) => screen.last_line(),
                None => shown.tail.last_line(),
            };
            shown.last_line = Some(line);
        }
        Some(f(shown.last_line.as_ref().and_then(Option::as_deref)))
    }
}

/// Requests from the supervisor to a run.
pub(crate) enum RunCtl {
    /// Stop the run: SIGTERM, grace, SIGKILL. `force` skips the grace.
    Terminate { force: bool },
    /// Write bytes to the agent's input.
    Input {
        bytes: Vec<u8>,
        source: String,
        reply: oneshot::Sender<Result<(), InputError>>,
        /// A dialog its hooks announced may still be drawing until then:
        /// the bytes wait for its screen to settle, at most that long.
        settle: Option<Instant>,
    },
}

/// What a run reports to the supervisor, in the order it happened.
pub(crate) enum RunMsg {
    /// The session's worktree is ready and the run will start in it.
    Worktree(Box<crate::worktree::Prepared>),
    Spawned(Box<Spawned>),
    SpawnFailed {
        missing: Missing,
        message: String,
    },
    /// The remote host stopped answering; the run ends without touching it.
    Unreachable {
        message: String,
    },
    /// A run started by an earlier conductor was taken over.
    Recovered {
        pid: Pid,
        outcome: RecoveredOutcome,
    },
    /// First output byte of this run (L3 acknowledged).
    Acknowledged,
    /// No output for `stall_after`; the detection says whether it looks like a question.
    Silent(Option<Detection>),
    /// Output resumed after a silence.
    Resumed,
    /// What the agent CLI said of itself while it runs.
    Said(baton_agents::Said),
    /// What one of its hooks said, heard by the run's backend (its token
    /// not checked yet).
    Hook(crate::hooks::HookReport),
    StartupTimeout,
    L2Failed(String),
    /// A signal reached the run's processes.
    Signalled {
        signal: Signal,
        reason: KillReason,
    },
    InputDone {
        len: usize,
        sha256: String,
        source: String,
        result: Result<(), InputError>,
        reply: oneshot::Sender<Result<(), InputError>>,
    },
    /// The agent ended. Sent at once: exit detection latency is measured here.
    Exited {
        status: ExitStatus,
        runtime: Duration,
    },
    /// Group empty, output complete: the run is over.
    Finished {
        status: ExitStatus,
        payload: Option<serde_json::Value>,
        tail: Vec<u8>,
    },
}

pub(crate) type Report = Arc<dyn Fn(RunMsg) + Send + Sync>;

/// The status of a run whose end nothing could tell.
pub(crate) const UNKNOWN: ExitStatus = ExitStatus {
    code: None,
    signal: None,
};

/// Runs one attempt of a session to its end: `started` is what its backend's
/// start (or adoption) gave.
///
/// `cfg` and `started` come boxed: an async fn keeps its arguments for its
/// whole life even after they were moved out, so unboxed they would take
/// their size twice in every run's task (about 1.6 KiB per session).
pub(crate) async fn drive<B: Backend>(
    cfg: Box<RunConfig>,
    started: Box<Result<(B, Begun), StartError>>,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    mut ctl: mpsc::UnboundedReceiver<RunCtl>,
) {
    // Everything that is only needed to begin lives in this block, so none
    // of it takes room in the task while the run goes on (a local's storage
    // lasts to the end of its scope, moved out or not).
    let (mut backend, out_offset, acknowledged) = {
        let (backend, begun) = match *started {
            Ok(started) => {
                shared.begin_run(cfg.screen);
                started
            }
            Err(StartError::Failed { missing, message }) => {
                report(RunMsg::SpawnFailed { missing, message });
                return;
            }
            Err(StartError::Unreachable(message)) => {
                report(RunMsg::Unreachable { message });
                report(RunMsg::Finished {
                    status: UNKNOWN,
                    payload: None,
                    tail: shared.tail_bytes(),
                });
                return;
            }
        };
        match begun {
            Begun::Spawned(spawned) => {
                let out_offset = spawned.out_offset;
                report(RunMsg::Spawned(spawned));
                (backend, out_offset, false)
            }
            Begun::Adopted {
                pid,
                out_offset,
                acknowledged,
                outcome,
            } => {
                report(RunMsg::Recovered { pid, outcome });
                (backend, out_offset, acknowledged)
            }
        }
    };
    let l2 = cfg.l2.clone().map(|check| {
        let report = report.clone();
        let cwd = cfg.run.cwd.clone();
        tokio::spawn(async move {
            let why = l2_loop(check, cwd).await;
            report(RunMsg::L2Failed(why));
        })
    });
    let (later_tx, mut later_rx) = mpsc::unbounded_channel();
    let mut run = Run {
        later: later_tx,
        termination: Termination::new(cfg.grace),
        cfg: {
            let boxed = cfg;
            *boxed
        },
        shared,
        epoch,
        report,
        live: Liveness::new(acknowledged),
        payload: PayloadCapture::new(),
        status: None,
        l2,
    };

    let never = run.live.started() + Duration::from_secs(86400 * 365);
    let sleep = tokio::time::sleep_until(never);
    tokio::pin!(sleep);
    let mut armed = never;
    let mut ctl_open = true;
    let end = loop {
        // The next moment something must be checked. Re-armed only when it
        // moved earlier; a later one is handled when the early timer fires,
        // so a flood of output costs no timer work.
        let mut wake = never;
        if run.status.is_none()
            && let Some(deadline) = run.live.next_deadline(&run.cfg)
        {
            wake = wake.min(deadline);
        }
        if let Some(deadline) = run.termination.wake() {
            wake = wake.min(deadline);
        }
        if wake < armed {
            armed = wake;
            sleep.as_mut().reset(wake);
        }
        // Biased: output the backend already has is recorded before the
        // exit that followed it, so the log reads in causal order.
        tokio::select! {
            biased;
            seen = backend.observe() => match seen {
                Observation::Output { stream, bytes } => {
                    let replies = run.output(stream, bytes);
                    run.answer_queries(&mut backend, replies);
                }
                Observation::Exited(status) => run.exited(&mut backend, status).await,
                Observation::Idle => {}
                Observation::Hook(report) => run.report(RunMsg::Hook(report)),
                Observation::Settled => break RunEnd::Settled,
                Observation::Unreachable(message) => {
                    run.report(RunMsg::Unreachable { message });
                    break RunEnd::Unreachable;
                }
                // The backend's source is gone with the conductor.
                Observation::Detached => return,
            },
            request = ctl.recv(), if ctl_open => match request {
                Some(RunCtl::Terminate { force }) => {
                    let step = run.termination.request(force);
                    run.deliver(&mut backend, step).await;
                }
                Some(RunCtl::Input { bytes, source, reply, settle }) => {
                    run.input_when_settled(&mut backend, bytes, source, reply, settle);
                }
                None => match B::ON_CONDUCTOR_GONE {
                    // The run outlives the conductor by design: touch
                    // nothing, so the next conductor can adopt it.
                    OnConductorGone::Detach => return,
                    OnConductorGone::Terminate => {
                        ctl_open = false;
                        if run.status.is_none() {
                            let step = run.termination.begin(KillReason::ConductorGone);
                            run.deliver(&mut backend, step).await;
                        }
                    }
                },
            },
            Some(later) = later_rx.recv() => match later {
                Later::Enter(typed) => run.enter(&mut backend, typed),
                Later::Type { bytes, source, reply } => run.input(&mut backend, bytes, source, reply),
            },
            () = &mut sleep => {
                armed = never;
                sleep.as_mut().reset(never);
                let now = Instant::now();
                if run.status.is_none() {
                    run.live.check(now, &run.cfg, &run.shared, &run.report, || {
                        backend.terminal()
                    });
                }
                let step = run.termination.tick(now);
                run.deliver(&mut backend, step).await;
            }
        }
    };
    if let Some(task) = run.l2.take() {
        task.abort();
    }
    let rest = backend.finish(end, run.termination.begun()).await;
    run.output(Stream::Stdout, &rest);
    // The group is empty; what the agent detached from it goes too, whatever
    // its backend (a killed shim or pane leaves no subreaper behind).
    if let Some(mark) = run.cfg.run.mark.clone() {
        let found = proc::sweep_strays(mark, STRAY_GRACE).await.unwrap_or(0);
        if found > 0 {
            tracing::info!(session = %run.cfg.run.id, "ended {found} process(es) the run had detached from its group");
        }
    }
    let status = run.status.unwrap_or(UNKNOWN);
    let answer = run.cfg.listener.as_ref().and_then(|l| l.answer());
    let payload = match answer {
        Some(answer) => answer_payload(answer),
        None => run
            .payload
            .finish(&run_stdout_tail(&run.cfg.run.out_path, out_offset)),
    };
    // Before the end is reported: whoever hears of it finds no file left.
    if let Some(file) = &run.cfg.hook_file {
        let _ = std::fs::remove_file(file);
    }
    run.report(RunMsg::Finished {
        status,
        payload,
        tail: run.shared.end_tail(),
    });
}

/// The driver's own state for one run.
struct Run {
    cfg: RunConfig,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: Report,
    live: Liveness,
    payload: PayloadCapture,
    termination: Termination,
    status: Option<ExitStatus>,
    l2: Option<tokio::task::JoinHandle<()>>,
    /// Input due now: a line's Enter (see [`ENTER_AFTER`]), or bytes that
    /// waited for a dialog to be drawn (see [`SETTLED`]).
    later: mpsc::UnboundedSender<Later>,
}

/// Input the run types later than it was asked to.
enum Later {
    /// The Enter of a line whose text is in.
    Enter(Typed),
    /// Bytes that waited for the screen to settle.
    Type {
        bytes: Vec<u8>,
        source: String,
        reply: oneshot::Sender<Result<(), InputError>>,
    },
}

/// How long a terminal's output must have been quiet for a dialog its
/// hooks announced (at once, before it is drawn) to count as drawn: keys
/// typed into a screen still being drawn may be taken by what was there.
pub(crate) const SETTLED: Duration = Duration::from_millis(150);

/// How long after a line's text its Enter is typed into a terminal. TUIs
/// take keys that come together for a paste, and an Enter right behind
/// them for a newline in it, not a submission (codex: within 120 ms of a
/// burst; claude's composer alike): the field's "typed but never
/// submitted". Typed apart, the Enter is a key of its own.
pub(crate) const ENTER_AFTER: Duration = Duration::from_millis(150);

/// A line whose text a terminal has taken, waiting for its Enter.
struct Typed {
    len: usize,
    sha256: String,
    source: String,
    reply: oneshot::Sender<Result<(), InputError>>,
}

impl Run {
    fn report(&self, msg: RunMsg) {
        (self.report)(msg);
    }

    /// Bookkeeping for a chunk the backend has put in the session's log.
    /// Returns what the terminal answers to queries in it (for a PTY run).
    fn output(&mut self, stream: Stream, bytes: &[u8]) -> Vec<u8> {
        if bytes.is_empty() {
            return Vec::new();
        }
        let counter = match stream {
            Stream::Stdout => {
                self.payload.feed(bytes);
                &self.shared.out_bytes
            }
            Stream::Stderr => &self.shared.err_bytes,
        };
        counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if let Some(listener) = self.cfg.listener.as_mut() {
            let report = &self.report;
            let shared = &self.shared;
            let said = |said| match said {
                baton_agents::Said::Status(text) => shared.set_status(text),
                said => report(RunMsg::Said(said)),
            };
            match stream {
                Stream::Stdout => listener.feed(bytes, said),
                Stream::Stderr => listener.feed_stderr(bytes, said),
            }
        }
        self.live
            .output(&self.shared, bytes, self.epoch, &self.report)
    }

    /// Writes a terminal's answers to the PTY's input, off the loop. A tmux
    /// pane answers its program itself.
    fn answer_queries<B: Backend>(&self, backend: &mut B, replies: Vec<u8>) {
        if replies.is_empty() || self.cfg.run.pty.is_none() {
            return;
        }
        let delivery = backend.input(replies);
        let id = self.cfg.run.id.clone();
        tokio::spawn(async move {
            if let Err(e) = delivery.await {
                tracing::debug!(session = %id, "terminal answer not delivered: {e}");
            }
        });
    }

    /// The agent ended: report it at once, then let the backend end what
    /// is left of its group.
    async fn exited<B: Backend>(&mut self, backend: &mut B, status: ExitStatus) {
        if self.status.is_some() {
            return;
        }
        self.status = Some(status);
        self.report(RunMsg::Exited {
            status,
            runtime: self.live.started().elapsed(),
        });
        if let Some(task) = self.l2.take() {
            task.abort();
        }
        if backend.after_exit().await == super::backend::Leftovers::Some {
            // The leader is gone; whatever it left in its group goes too.
            let step = self.termination.begin(KillReason::LeaderExited);
            self.deliver(backend, step).await;
        }
    }

    /// Sends what the termination machine decided, and records it when it
    /// reached a process.
    async fn deliver<B: Backend>(&mut self, backend: &mut B, step: Option<KillStep>) {
        let Some((signal, reason)) = step else {
            return;
        };
        match backend.signal(signal).await {
            Delivery::Delivered => self.report(RunMsg::Signalled { signal, reason }),
            Delivery::NoneLeft => {}
            Delivery::Failed(why) => {
                tracing::warn!(session = %self.cfg.run.id, signal = signal.name(), "signalling the run failed: {why}");
            }
        }
    }

    /// [`Run::input`], once the terminal's output has been quiet for
    /// [`SETTLED`] or `settle` has passed, whichever comes first.
    fn input_when_settled<B: Backend>(
        &mut self,
        backend: &mut B,
        bytes: Vec<u8>,
        source: String,
        reply: oneshot::Sender<Result<(), InputError>>,
        settle: Option<Instant>,
    ) {
        let Some(until) =
            settle.filter(|until| self.cfg.screen.is_some() && *until > Instant::now())
        else {
            self.input(backend, bytes, source, reply);
            return;
        };
        let shared = self.shared.clone();
        let epoch = self.epoch;
        let later = self.later.clone();
        tokio::spawn(async move {
            loop {
                let last = Duration::from_millis(shared.last_output_ms.load(Ordering::Relaxed));
                let quiet = epoch.elapsed().saturating_sub(last);
                let now = Instant::now();
                if quiet >= SETTLED || now >= until {
                    break;
                }
                tokio::time::sleep_until((now + (SETTLED - quiet)).min(until)).await;
            }
            let _ = later.send(Later::Type {
                bytes,
                source,
                reply,
            });
        });
    }

    /// Hands input to the backend; its delivery is reported when done, off
    /// the loop, so a slow reader never holds the run up.
    fn input<B: Backend>(
        &mut self,
        backend: &mut B,
        bytes: Vec<u8>,
        source: String,
        reply: oneshot::Sender<Result<(), InputError>>,
    ) {
        let len = bytes.len();
        let sha256 = hex(&Sha256::digest(&bytes));
        let report = self.report.clone();
        // A line for a terminal: its text now, its Enter on its own later.
        if self.cfg.screen.is_some()
            && let Some((b'\n', text)) = bytes.split_last()
            && !text.is_empty()
        {
            let delivery = backend.input(text.to_vec());
            let later = self.later.clone();
            tokio::spawn(async move {
                match delivery.await {
                    Ok(()) => {
                        tokio::time::sleep(ENTER_AFTER).await;
                        let _ = later.send(Later::Enter(Typed {
                            len,
                            sha256,
                            source,
                            reply,
                        }));
                    }
                    Err(e) => report(RunMsg::InputDone {
                        len,
                        sha256,
                        source,
                        result: Err(e),
                        reply,
                    }),
                }
            });
            return;
        }
        let delivery = backend.input(bytes);
        tokio::spawn(async move {
            let result = delivery.await;
            report(RunMsg::InputDone {
                len,
                sha256,
                source,
                result,
                reply,
            });
        });
    }

    /// Types the Enter of a line whose text a terminal took earlier. The
    /// line is reported delivered (and recorded) as the Enter is queued,
    /// before it reaches the terminal: whatever it sets off (a turn its
    /// hook announces) comes after its `input` record. An Enter that then
    /// fails to reach it means the terminal is gone, and the run's end
    /// says so.
    fn enter<B: Backend>(&mut self, backend: &mut B, typed: Typed) {
        self.report(RunMsg::InputDone {
            len: typed.len,
            sha256: typed.sha256,
            source: typed.source,
            result: Ok(()),
            reply: typed.reply,
        });
        let delivery = backend.input(b"\n".to_vec());
        let id = self.cfg.run.id.clone();
        tokio::spawn(async move {
            if let Err(e) = delivery.await {
                tracing::warn!(session = %id, "the Enter of a line typed into its terminal was not delivered: {e}");
            }
        });
    }
}

/// `argv` with every word that carries `prompt` (the word itself, or an
/// `--option=PROMPT`) holding `<prompt N bytes sha256:HEX>` instead: what
/// the event log may say of the input.
pub(crate) fn argv_without_prompt(argv: &[String], prompt: &str) -> Vec<String> {
    let stand_in = format!(
        "<prompt {} bytes sha256:{}>",
        prompt.len(),
        hex(&Sha256::digest(prompt.as_bytes()))
    );
    argv.iter()
        .map(|word| {
            if word == prompt {
                return stand_in.clone();
            }
            match word.strip_suffix(prompt) {
                Some(option) if option.starts_with('-') && option.ends_with('=') => {
                    format!("{option}{stand_in}")
                }
                _ => word.clone(),
            }
        })
        .collect()
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

/// The completion payload of an agent's answer (heard in its structured
/// output): a frame or a JSON object in it, else the answer itself.
pub(super) fn answer_payload(answer: &str) -> Option<serde_json::Value> {
    let mut capture = PayloadCapture::new();
    capture.feed(answer.as_bytes());
    capture
        .finish(answer.as_bytes())
        .or_else(|| Some(serde_json::Value::String(answer.to_owned())))
}

/// What `listener` hears in the stdout a run wrote to `out_path` from
/// `out_offset` on, read in chunks to its end, and the answer it kept.
pub(super) fn hear_recorded(
    mut listener: baton_agents::Listener,
    out_path: &std::path::Path,
    out_offset: u64,
) -> (Vec<baton_agents::Said>, Option<String>) {
    use crate::seglog::{Chunk, LogReader};
    let mut said = Vec::new();
    let mut read = |said: &mut Vec<_>| -> std::io::Result<()> {
        let mut log = LogReader::new(out_path);
        let mut pos = out_offset;
        loop {
            let bytes = match log.read_at(pos, 64 * 1024)? {
                Chunk::Bytes(bytes) if bytes.is_empty() => return Ok(()),
                Chunk::Bytes(bytes) => bytes,
                Chunk::Dropped { to } => {
                    pos = to;
                    continue;
                }
            };
            pos += bytes.len() as u64;
            listener.feed(&bytes, |s| {
                if !matches!(s, baton_agents::Said::Status(_)) {
                    said.push(s);
                }
            });
        }
    };
    if let Err(e) = read(&mut said) {
        tracing::warn!("cannot read {} again: {e}", out_path.display());
    }
    let answer = listener.answer().map(str::to_owned);
    (said, answer)
}

/// The last [`STDOUT_TAIL`] bytes this run wrote to `out_path` (which it
/// began at `out_offset`). Read back once at the end instead of copying every
/// chunk into a ring as it passes: the log already holds them.
pub(super) fn run_stdout_tail(out_path: &std::path::Path, out_offset: u64) -> Vec<u8> {
    crate::seglog::read_from(out_path, out_offset, STDOUT_TAIL).unwrap_or_default()
}

/// The L3 (first output) and L1 (silence) deadlines of a run: told of each
/// chunk of output, it says when it must be checked next and reports what
/// is due.
pub(super) struct Liveness {
    started: Instant,
    acked: bool,
    silent: bool,
    /// The screen was judged for a confident prompt in this quiet spell.
    glanced: bool,
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
            glanced: false,
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
    ) -> Vec<u8> {
        let replies = shared.push(bytes);
        self.last_output = Instant::now();
        self.glanced = false;
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
        replies
    }

    /// The next deadline while the agent runs, if any is armed.
    pub fn next_deadline(&self, cfg: &RunConfig) -> Option<Instant> {
        if !self.acked && !self.startup_reported {
            Some(self.started + cfg.startup_timeout)
        } else if self.acked && !self.silent {
            let stall = self.last_output + cfg.stall_after;
            match cfg.input_wait_after {
                Some(after) if !self.glanced => Some(stall.min(self.last_output + after)),
                _ => Some(stall),
            }
        } else {
            None
        }
    }

    /// Reports the deadlines that have passed at `now` (while the agent
    /// runs); `terminal` tells how the agent's terminal takes input, when
    /// that is known.
    pub fn check(
        &mut self,
        now: Instant,
        cfg: &RunConfig,
        shared: &RunShared,
        report: &Report,
        terminal: impl FnOnce() -> Option<Terminal>,
    ) {
        if !self.acked && !self.startup_reported && now >= self.started + cfg.startup_timeout {
            self.startup_reported = true;
            report(RunMsg::StartupTimeout);
        }
        if self.acked && !self.silent && now >= self.last_output + cfg.stall_after {
            self.silent = true;
            let shown = shared.judged();
            let found = cfg.detector.judge(&shown, terminal().as_ref());
            report(RunMsg::Silent(found));
        } else if let Some(after) = cfg.input_wait_after
            && self.acked
            && !self.silent
            && !self.glanced
            && now >= self.last_output + after
        {
            // A short quiet: only a prompt nobody could mistake counts now;
            // anything else waits for `stall_after`.
            self.glanced = true;
            let shown = shared.judged();
            let judged = cfg.detector.judge(&shown, terminal().as_ref());
            if let Some(prompt) = judged.filter(|d| d.confident) {
                self.silent = true;
                report(RunMsg::Silent(Some(prompt)));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_worked_out_once_per_change() {
        let shared = RunShared::new(256);
        assert_eq!(shared.last_line(), None);
        shared.push(b"compiling\n");
        assert_eq!(shared.last_line().as_deref(), Some("compiling"));
        // Asked again with nothing new: the same line, from the cache.
        assert!(shared.shown.lock().unwrap().last_line.is_some());
        assert_eq!(shared.last_line().as_deref(), Some("compiling"));
        // New output, a new line.
        shared.push(b"done\r\n");
        assert!(shared.shown.lock().unwrap().last_line.is_none());
        assert_eq!(shared.last_line().as_deref(), Some("done"));
        // A run on a terminal shows its screen, blank at first.
        shared.begin_run(Some(proc::PtySize::default()));
        assert_eq!(shared.last_line(), None);
        shared.push(b"\x1b[2J\x1b[5;1Hready");
        assert_eq!(shared.last_line().as_deref(), Some("ready"));
        // What an agent says it is doing wins over its bytes.
        shared.set_status("Editing src/lib.rs".into());
        assert_eq!(shared.last_line().as_deref(), Some("Editing src/lib.rs"));
    }
}
