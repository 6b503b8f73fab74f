//! The supervisor: one loop that owns the session table.
//!
//! Every input — control requests, reports from runs, timers — arrives on
//! one channel and is handled in order, so the order of the event log is the
//! order in which things were decided. No lock guards session state. State
//! changes go through [`Supervisor::transition`], the only place the transition
//! table is enforced. Handlers decide and [`Supervisor::perform`] acts: see
//! [`effect`].

pub mod backend;
pub(crate) mod driver;
mod effect;
mod hooked;
mod leasing;
mod placement;
mod policy;
mod recovery;
mod table;
mod termination;
#[cfg(test)]
mod tests;
mod worktree;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use baton_config::{AgentKind, OnStall, SessionId, SessionSpec, StdinMode};
use baton_monitor::input_wait::InputWaitDetector;
use tokio::sync::{mpsc, oneshot, watch};

use crate::conductor::{ConductorError, ConductorOptions, SessionRow, ShutdownReport};
use crate::eventlog::{Event, EventLog};
use crate::proc::{self, ExitStatus};
use crate::state::{FailureClass, SessionState};
use driver::{L2Check, RunConfig, RunCtl, RunMsg, RunShared};
use effect::{Drive, Effect, Effects, Resume};
use policy::{AfterFailure, Verdict};
pub(crate) use recovery::{LastRun, Left, Recoverable};

/// Messages into the supervisor loop.
pub(crate) enum SupMsg {
    Control(Control),
    Run {
        id: SessionId,
        attempt: u32,
        msg: RunMsg,
    },
    Timer(Timer),
    Broker(leasing::BrokerReply),
    /// A session's worktree was dealt with at its end.
    WorktreeDone {
        id: SessionId,
        ending: crate::worktree::Ending,
    },
    /// A hook of a run said something (its token verified).
    Hook(crate::hooks::HookReport),
}

/// Requests from the public API.
pub(crate) enum Control {
    Spawn {
        spec: Box<SessionSpec>,
        reply: oneshot::Sender<Result<SessionId, ConductorError>>,
    },
    Kill {
        id: SessionId,
        reply: oneshot::Sender<Result<(), ConductorError>>,
    },
    Send {
        id: SessionId,
        bytes: Vec<u8>,
        if_waiting: bool,
        source: String,
        reply: oneshot::Sender<Result<(), ConductorError>>,
    },
    Snapshot {
        reply: oneshot::Sender<Vec<SessionRow>>,
    },
    /// The table as JSON (see [`table`]), only live sessions with the
    /// capability when one is given.
    TableJson {
        capability: Option<String>,
        reply: oneshot::Sender<Vec<u8>>,
    },
    Contains {
        id: SessionId,
        reply: oneshot::Sender<bool>,
    },
    Shutdown {
        reason: String,
        force: bool,
        reply: oneshot::Sender<ShutdownReport>,
    },
}

#[derive(Debug)]
pub(crate) enum Timer {
    RestartDue {
        id: SessionId,
        attempt: u32,
    },
    StallRestartDue {
        id: SessionId,
        attempt: u32,
        generation: u64,
    },
    BudgetReset {
        id: SessionId,
        generation: u64,
    },
    RetryLease {
        id: SessionId,
        ticket: u64,
    },
    HealthTick,
    /// A session ended: one waiting for a host slot may have one now.
    HostSlotFree,
}

/// One row of the session table.
struct Entry {
    spec: Arc<SessionSpec>,
    state: SessionState,
    reason: String,
    restarts: u32,
    attempt: u32,
    run: Option<mpsc::UnboundedSender<RunCtl>>,
    pid: Option<u32>,
    shared: Arc<RunShared>,
    /// Set when the supervisor ended the run on purpose; overrides the exit status.
    ending: Option<FailureClass>,
    kill_waiters: Vec<oneshot::Sender<Result<(), ConductorError>>>,
    payload: Option<serde_json::Value>,
    exit: Option<ExitStatus>,
    created: SystemTime,
    /// Bumped on every state change; stale timers compare against it.
    generation: u64,
    message: Option<String>,
    /// The evidence of the last transition.
    evidence: Option<String>,
    /// The account this session's runs use, while leased.
    lease: Option<baton_accounts::Lease>,
    /// Bumped on every lease request; a reply with an older ticket is stale.
    lease_ticket: u64,
    /// What the session waits for before its next run can start.
    waiting: Option<Waiting>,
    /// The inventory host the session runs on (`None`: this machine).
    host: Option<String>,
    /// `[[session.answer]]` rules (compiled by the session checker), in
    /// priority order.
    answers: Vec<baton_config::AnswerRule>,
    /// The rule (by index) and question line of the last auto-answer: the
    /// same rule never answers the same question twice in a row. A question
    /// still seen after its answer is a new dialog judged on a stale screen,
    /// or an answer that did not take; either way a person decides.
    answered: Option<(usize, String)>,
    /// The session's git worktree, once a run made it ready (or the log of
    /// an earlier conductor said where it is); dealt with at its end.
    worktree: Option<crate::worktree::Worktree>,
    /// What `ps` shows of it, also after the session ended.
    worktree_view: Option<baton_proto::SessionWorktree>,
    /// What its agent CLI reported its runs used, summed.
    usage: Option<baton_proto::Usage>,
    /// Runs in a row its agent CLI said it could not reach its provider:
    /// the wait before the next doubles with each.
    offline_runs: u32,
    /// Whether its run's CLI reports through hooks (`None`: the run has
    /// none).
    hooks: Option<baton_proto::HooksState>,
    /// In `input_wait`: what it waits for, when its hooks said; a wait
    /// its hooks declared ends only by its hooks (or an answer), not by
    /// output resuming.
    wait_kind: Option<baton_proto::WaitKind>,
    /// When the dialog its hooks announced last is surely drawn: an answer
    /// sent before waits for its screen to settle, at most until then.
    drawn_by: Option<tokio::time::Instant>,
    /// The end-of-run token of its last run whose `spawn` is recorded.
    recorded_marker: Option<String>,
    /// Recovered from an earlier conductor without taking a run over: its
    /// next run may be an attempt that conductor started and never
    /// recorded, so that run first ends what carries its mark.
    unrecorded_run: bool,
    /// Its row as `ps` last showed it (see [`table`]).
    shown: Option<Box<table::Kept>>,
}

/// What a session that is to run next waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Waiting {
    /// A slot on an inventory host: `host = "any"` and every host is full.
    /// Tried again when a remote session ends.
    HostSlot,
    /// The broker's answer to a lease request (`after_no_account`: an
    /// earlier request found no free account, so `no_lease` is not
    /// recorded again).
    LeaseReply { after_no_account: bool },
    /// A free account: none was at the last request. Tried again when an
    /// account of its provider is released, and at the broker's ETA.
    Account,
}

impl Waiting {
    /// The reason a session in `init` shows while it waits.
    fn reason(self) -> &'static str {
        match self {
            Waiting::HostSlot => "waiting_for_host",
            Waiting::LeaseReply { .. } | Waiting::Account => "waiting_for_account",
        }
    }
}

pub(crate) struct Supervisor {
    opts: ConductorOptions,
    log: EventLog,
    tx: mpsc::UnboundedSender<SupMsg>,
    sessions: BTreeMap<SessionId, Entry>,
    detectors: HashMap<AgentKind, Arc<InputWaitDetector>>,
    epoch: std::time::Instant,
    live: watch::Sender<usize>,
    shutting_down: Option<(ShutdownReport, Vec<oneshot::Sender<ShutdownReport>>)>,
    closed: bool,
    jitter_state: u64,
    broker: Option<Arc<baton_accounts::Broker>>,
    /// Lease and release calls in flight; shutdown waits for them.
    broker_ops: usize,
    /// Ended sessions' worktrees being looked at or removed; shutdown waits
    /// for them, so their records are in the log before it closes.
    worktree_ops: usize,
    /// Worktrees of sessions an earlier conductor saw end but whose end it
    /// did not record; dealt with before the first message.
    orphan_worktrees: Vec<(SessionId, crate::worktree::Worktree)>,
    /// Sessions that ended under an earlier conductor that died: shown by
    /// `ps` as they ended, their ids taken, nothing to run.
    ended: BTreeMap<SessionId, SessionRow>,
    /// tmux runs an earlier conductor left running, by session id; taken
    /// over when a session with that id is spawned again.
    recoverable: HashMap<String, Recoverable>,
    /// Where runs' hooks report, once bound (see [`crate::hooks`]).
    hooks: Option<hooked::HookChannel>,
    /// One multiplexed ssh connection per remote host, made on first use.
    ssh_hosts: HashMap<String, (Arc<proc::ssh::SshHost>, Arc<proc::remote_feed::HostFeed>)>,
    /// What the handlers of the current message decided; performed after it.
    effects: Effects,
    /// The session table as `ps` last showed it.
    table: table::Table,
}

/// `" (known: a, b)"`, or `" (it is empty)"`.
fn known_hosts(hosts: &std::collections::BTreeMap<String, baton_config::HostConfig>) -> String {
    if hosts.is_empty() {
        " (it is empty)".into()
    } else {
        let names: Vec<&str> = hosts.keys().map(String::as_str).collect();
        format!(" (known: {})", names.join(", "))
    }
}

impl Supervisor {
    pub(crate) fn new(
        opts: ConductorOptions,
        log: EventLog,
        tx: mpsc::UnboundedSender<SupMsg>,
        live: watch::Sender<usize>,
        broker: Option<Arc<baton_accounts::Broker>>,
        detectors: Vec<(AgentKind, InputWaitDetector)>,
        left: Left,
    ) -> Supervisor {
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9)
            ^ u64::from(std::process::id());
        baton_monitor::rate_limit::prepare();
        let ended = left
            .ended
            .into_iter()
            .filter_map(|s| {
                let id: SessionId = s.id.parse().ok()?;
                let mut row = ended_row(s);
                let logs = &opts.conductor.logs_dir;
                let size = |stream| {
                    crate::seglog::global_len(&logs.join(format!("{id}.{stream}.log"))).unwrap_or(0)
                };
                (row.out_bytes, row.err_bytes) = (size("out"), size("err"));
                let tail = driver::run_stdout_tail(&logs.join(format!("{id}.out.log")), 0);
                let mut last = baton_monitor::tail::Tail::new(opts.conductor.tail_bytes);
                last.push(&tail);
                row.last_line = last.last_line();
                Some((id, row))
            })
            .collect();
        Supervisor {
            opts,
            log,
            tx,
            sessions: BTreeMap::new(),
            detectors: detectors
                .into_iter()
                .map(|(kind, d)| (kind, Arc::new(d)))
                .collect(),
            epoch: std::time::Instant::now(),
            live,
            shutting_down: None,
            closed: false,
            jitter_state: seed | 1,
            broker,
            broker_ops: 0,
            worktree_ops: 0,
            orphan_worktrees: left.worktrees,
            ended,
            recoverable: left
                .sessions
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect(),
            hooks: None,
            ssh_hosts: HashMap::new(),
            effects: Effects::default(),
            table: table::Table::default(),
        }
    }

    /// The loop. Returns when a shutdown has completed.
    pub(crate) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<SupMsg>) {
        if let Some(every) = self.opts.probe.health_interval {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if tx.send(SupMsg::Timer(Timer::HealthTick)).is_err() {
                        break;
                    }
                }
            });
        }
        self.hooks = hooked::HookChannel::open(&self.opts.conductor.logs_dir, &self.tx);
        // Before any spawn: a session spawned again under the same id must
        // not find its old worktree while it is being removed.
        for (id, worktree) in std::mem::take(&mut self.orphan_worktrees) {
            let ending = crate::worktree::finish(&worktree).await;
            self.on_worktree_done_for(&id, ending);
            self.perform();
        }
        while let Some(msg) = rx.recv().await {
            self.handle(msg);
            self.perform();
            let live = self.publish_live();
            if live == 0
                && self.shutting_down.is_some()
                && self.broker_ops == 0
                && self.worktree_ops == 0
            {
                self.finish_shutdown().await;
                break;
            }
        }
    }

    /// Decides what `msg` calls for (performed by [`Supervisor::perform`]).
    fn handle(&mut self, msg: SupMsg) {
        match msg {
            SupMsg::Control(c) => self.control(c),
            SupMsg::Run { id, attempt, msg } => self.on_run_report(id, attempt, msg),
            SupMsg::Timer(t) => self.timer(t),
            SupMsg::Broker(reply) => self.on_broker_reply(reply),
            SupMsg::WorktreeDone { id, ending } => self.on_worktree_done(&id, ending),
            SupMsg::Hook(report) => self.on_hook(report),
        }
    }

    /// Publishes the number of live sessions; returns it.
    fn publish_live(&self) -> usize {
        let live = self
            .sessions
            .values()
            .filter(|e| !e.state.is_terminal())
            .count();
        self.live.send_replace(live);
        live
    }

    fn append(&mut self, id: &SessionId, event: Event) {
        self.effects.record(Some(id.as_str()), event);
    }

    /// The one place a state changes. A change the table refuses is logged
    /// as `invalid_transition` and not applied.
    fn transition(
        &mut self,
        id: &SessionId,
        to: SessionState,
        reason: &str,
        delay: Option<Duration>,
        evidence: Option<String>,
    ) -> bool {
        let Some(entry) = self.sessions.get_mut(id) else {
            return false;
        };
        let from = entry.state;
        if !from.can_go_to(to) {
            tracing::error!(session = %id, "refused transition {from} -> {to} ({reason})");
            self.effects.record(
                Some(id.as_str()),
                Event::InvalidTransition {
                    from,
                    to,
                    reason: reason.to_owned(),
                },
            );
            return false;
        }
        entry.state = to;
        entry.reason = reason.to_owned();
        if to != SessionState::InputWait {
            entry.wait_kind = None;
        }
        entry.evidence.clone_from(&evidence);
        entry.generation += 1;
        let restarts = entry.restarts;
        if to.is_terminal() {
            entry.waiting = None;
        }
        if to.is_terminal() && entry.host.is_some() {
            self.effects.arm(Duration::ZERO, Timer::HostSlotFree);
        }
        let worktree = if to.is_terminal() {
            entry.worktree.take()
        } else {
            None
        };
        if let (Some(_), Some(view)) = (&worktree, &mut entry.worktree_view) {
            view.state = "finishing".into();
        }
        self.effects.record(
            Some(id.as_str()),
            Event::State {
                from,
                to,
                reason: reason.to_owned(),
                restarts,
                delay_ms: delay.map(|d| d.as_millis() as u64),
                evidence,
            },
        );
        if to.is_terminal() && entry.spec.is_remote() && entry.run.is_none() {
            // A remote run that ended because its host stopped answering
            // may have left its tmux session there; with no run to take it
            // over any more, it is ended once the host answers.
            let host = entry.host.clone().or_else(|| {
                entry
                    .spec
                    .host
                    .clone()
                    .filter(|h| h != baton_config::HOST_ANY)
            });
            if let Some(host) = host {
                self.effects.push(Effect::EndLeftBehind {
                    id: id.clone(),
                    host,
                    recorded_marker: entry.recorded_marker.clone(),
                });
            }
        }
        if let Some(worktree) = worktree {
            self.worktree_ops += 1;
            self.effects.push(Effect::FinishWorktree {
                id: id.clone(),
                worktree: Box::new(worktree),
            });
        }
        true
    }

    /// Records what became of an ended session's worktree.
    fn on_worktree_done(&mut self, id: &SessionId, ending: crate::worktree::Ending) {
        self.worktree_ops = self.worktree_ops.saturating_sub(1);
        self.on_worktree_done_for(id, ending);
    }

    fn on_worktree_done_for(&mut self, id: &SessionId, ending: crate::worktree::Ending) {
        if let Some(view) = self
            .sessions
            .get_mut(id)
            .and_then(|e| e.worktree_view.as_mut())
        {
            let (state, reason, summary) = match &ending {
                crate::worktree::Ending::Removed(summary) => ("removed", None, summary),
                crate::worktree::Ending::Kept { summary, reason } => {
                    ("kept", Some(reason.clone()), summary)
                }
            };
            view.state = state.into();
            view.reason = reason;
            view.end = Some(summary.clone());
        }
        let event = match ending {
            crate::worktree::Ending::Removed(summary) => Event::WorktreeRemoved { summary },
            crate::worktree::Ending::Kept { summary, reason } => {
                Event::WorktreeKept { summary, reason }
            }
        };
        self.append(id, event);
    }

    fn control(&mut self, c: Control) {
        match c {
            Control::Spawn { spec, reply } => {
                let result = self.spawn(*spec);
                // Count the new session before the caller hears of it, so a
                // `wait_all_terminal` that follows cannot see a stale zero.
                self.publish_live();
                self.effects.reply(move || {
                    let _ = reply.send(result);
                });
            }
            Control::Kill { id, reply } => self.kill(id, reply),
            Control::Send {
                id,
                bytes,
                if_waiting,
                source,
                reply,
            } => self.send_input(id, bytes, if_waiting, source, reply),
            Control::Contains { id, reply } => {
                let _ = reply.send(self.sessions.contains_key(&id) || self.ended.contains_key(&id));
            }
            Control::Snapshot { reply } => {
                let snapshot = self.snapshot();
                // Whoever asks sees only what is already in the log.
                self.effects.after_log(move |_| {
                    let _ = reply.send(snapshot);
                });
            }
            Control::TableJson { capability, reply } => {
                let table = self.table.json(
                    &mut self.sessions,
                    &self.ended,
                    self.epoch,
                    capability.as_deref(),
                );
                self.effects.after_log(move |_| {
                    let _ = reply.send(table);
                });
            }
            Control::Shutdown {
                reason,
                force,
                reply,
            } => self.shutdown(reason, force, reply),
        }
    }

    fn spawn(&mut self, spec: SessionSpec) -> Result<SessionId, ConductorError> {
        if self.closed || self.shutting_down.is_some() {
            return Err(ConductorError::ShuttingDown);
        }
        if self.sessions.contains_key(&spec.id) || self.ended.contains_key(&spec.id) {
            return Err(ConductorError::DuplicateSession(spec.id));
        }
        if spec.worktree.is_some() && spec.is_remote() {
            return Err(ConductorError::Config(
                "`worktree` is for sessions on this machine, not on a remote host".into(),
            ));
        }
        if let baton_config::Backend::Custom(name) = &spec.backend {
            if spec.is_remote() {
                return Err(ConductorError::Config(format!(
                    "session `{}` runs on a remote host, in tmux: it cannot also run on backend `{name}`",
                    spec.id
                )));
            }
            if !self.opts.backends.knows(&spec.backend) {
                return Err(ConductorError::Config(format!(
                    "session `{}`: {}",
                    spec.id,
                    self.opts.backends.unknown(name)
                )));
            }
        }
        match spec.placement() {
            baton_config::Placement::Host(name) if !self.opts.hosts.contains_key(name) => {
                return Err(ConductorError::Config(format!(
                    "host `{name}` is not in the hosts inventory{}",
                    known_hosts(&self.opts.hosts)
                )));
            }
            baton_config::Placement::AnyHost if self.opts.hosts.is_empty() => {
                return Err(ConductorError::Config(
                    "host = \"any\" needs a hosts inventory ([hosts.NAME]), and there is none"
                        .into(),
                ));
            }
            _ => {}
        }
        let answers = spec.answers.clone();
        let id = spec.id.clone();
        // A session an earlier conductor left live goes on from where it was.
        let recovered = self.recoverable.remove(id.as_str());
        self.sessions.insert(
            id.clone(),
            Entry {
                spec: Arc::new(spec),
                state: SessionState::Init,
                reason: "registered".into(),
                restarts: 0,
                attempt: 0,
                run: None,
                pid: None,
                shared: Arc::new(RunShared::new(self.opts.conductor.tail_bytes)),
                ending: None,
                kill_waiters: Vec::new(),
                payload: None,
                exit: None,
                created: SystemTime::now(),
                generation: 0,
                message: None,
                evidence: None,
                lease: None,
                lease_ticket: 0,
                waiting: None,
                host: None,
                answers,
                answered: None,
                worktree: None,
                worktree_view: None,
                usage: None,
                offline_runs: 0,
                hooks: None,
                wait_kind: None,
                drawn_by: None,
                recorded_marker: None,
                unrecorded_run: false,
                shown: None,
            },
        );
        match recovered {
            Some(rec) => self.recover(&id, rec),
            None => self.request_run(&id),
        }
        Ok(id)
    }

    /// Moves a session to `starting`, counts the attempt and spawns its driver.
    fn start_run(&mut self, id: &SessionId, reason: &str) {
        if !self.transition(id, SessionState::Starting, reason, None, None) {
            return;
        }
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        entry.attempt += 1;
        entry.ending = None;
        entry.exit = None;
        entry.pid = None;
        let attempt = entry.attempt;
        self.spawn_driver(id, attempt, Resume::New);
    }

    /// Decides the driver of run `attempt` of session `id`: one that
    /// starts a process or, resuming a recorded run, takes over the run an
    /// earlier conductor left.
    fn spawn_driver(&mut self, id: &SessionId, attempt: u32, resume: Resume) {
        let (adopt, reported) = match resume {
            Resume::New => (None, 0),
            Resume::Recorded(adopt, reported) => (Some(adopt), reported),
        };
        let detach = self.opts.detach;
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        let (spec, shared, restarts) = (entry.spec.clone(), entry.shared.clone(), entry.restarts);
        let target = backend::RunTarget::of(&spec, entry.host.as_deref(), detach);
        // Boxed so that neither the task nor the driver holds it twice.
        let mut cfg = Box::new(self.run_config(&spec, attempt, restarts, entry.lease.as_ref()));
        cfg.run.recorded_marker.clone_from(&entry.recorded_marker);
        cfg.run.sweep_first = entry.unrecorded_run && adopt.is_none();
        // A run taken over is read again from its start: what its agent
        // said and the earlier conductor recorded is not recorded twice.
        cfg.listener = cfg.listener.take().map(|l| l.skipping(reported));
        let (ctl_tx, ctl) = mpsc::unbounded_channel();
        if let Some(entry) = self.sessions.get_mut(id) {
            entry.unrecorded_run = false;
            entry.run = Some(ctl_tx);
            entry.hooks = cfg.hooked.then_some(baton_proto::HooksState::Expected);
            entry.wait_kind = None;
        }
        self.effects.push(Effect::Drive(Box::new(Drive {
            id: id.clone(),
            attempt,
            cfg,
            shared,
            ctl,
            target,
            resume: adopt,
        })));
    }

    /// The private tmux server of this conductor's logs directory.
    fn tmux_server(&self) -> proc::TmuxServer {
        proc::TmuxServer::for_logs_dir(&self.opts.conductor.logs_dir)
    }

    /// Continues a session an earlier conductor left live, with its counters.
    /// A tmux or shim run is taken over (no new process; the session stays in
    /// the state the log left it in). A run that lived inside the earlier
    /// conductor cannot be: what is left of its group is ended (only if the
    /// recorded pid is still the same process) and the session fails as a
    /// crash, so its restart policy decides. A session without a run goes on
    /// from `init`.
    fn recover(&mut self, id: &SessionId, rec: Recoverable) {
        let detach = self.opts.detach;
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        entry.restarts = rec.restarts;
        entry.attempt = rec.attempt;
        entry.worktree.clone_from(&rec.worktree);
        entry.worktree_view = rec.worktree.as_ref().map(live_view);
        entry.usage = rec.usage;
        entry.recorded_marker.clone_from(&rec.marker);
        // Unless its recorded run is taken over below.
        entry.unrecorded_run = true;
        if let (Some(status), true) = (rec.exited, rec.state.has_process()) {
            // The run ended and its `exit` is recorded; only the rest of its
            // end was lost with the conductor. It is finished from the log,
            // never run again; a tmux session it left is ended.
            entry.state = rec.state;
            entry.reason = "recovered".into();
            // A remote pid means nothing here.
            let pid = rec
                .run
                .as_ref()
                .filter(|r| !matches!(r.target, backend::RunTarget::Remote { .. }))
                .map(|r| r.run.pid);
            self.append(
                id,
                Event::Recovered {
                    pid,
                    outcome: "exited".into(),
                },
            );
            self.effects.push(Effect::FinishRecorded {
                id: id.clone(),
                rec: Box::new(rec),
                status,
            });
            return;
        }
        // The recorded run is taken over when it outlives its conductor
        // and the session would still run there; a remote run on the host
        // it was placed on (`any` chose it then).
        let adopt = match rec.run {
            Some(LastRun {
                target: backend::RunTarget::Remote { host },
                run,
            }) if entry.spec.is_remote() => {
                entry.host = Some(host);
                Ok(run)
            }
            // A remote pid means nothing here; its session is left to its host.
            Some(LastRun {
                target: backend::RunTarget::Remote { .. },
                ..
            }) => Err(None),
            Some(r)
                if r.target.outlives_conductor(&self.opts.backends)
                    && r.target == backend::RunTarget::of(&entry.spec, None, detach) =>
            {
                Ok(r.run)
            }
            Some(r) => Err(Some((r.run.pid, r.run.start_time))),
            None => Err(None),
        };
        match adopt {
            Ok(a) => {
                entry.state = rec.state;
                entry.reason = "recovered".into();
                self.spawn_driver(id, rec.attempt, Resume::Recorded(a, rec.reported));
            }
            Err(Some((pid, start_time))) => {
                // Only a process that is provably the recorded one is touched.
                let pid = proc::Pid(pid);
                if let Some(start_time) = start_time {
                    self.effects.push(Effect::EndLeftover { pid, start_time });
                }
                // And what that run detached from its group.
                self.effects.push(Effect::SweepRun {
                    mark: proc::run_mark(&self.opts.conductor.logs_dir, id.as_str(), rec.attempt),
                });
                entry.state = rec.state;
                entry.reason = "recovered".into();
                self.append(
                    id,
                    Event::Recovered {
                        pid: Some(pid.0),
                        outcome: "restarted".into(),
                    },
                );
                self.fail(
                    id,
                    FailureClass::Crash,
                    Some("its run lived inside a conductor that stopped; leftovers ended".into()),
                    None,
                );
            }
            Err(None) => {
                self.append(
                    id,
                    Event::Recovered {
                        pid: None,
                        outcome: "resumed".into(),
                    },
                );
                self.request_run(id);
            }
        }
    }

    fn run_config(
        &self,
        spec: &SessionSpec,
        attempt: u32,
        restarts: u32,
        lease: Option<&baton_accounts::Lease>,
    ) -> RunConfig {
        let probe = &self.opts.probe;
        let stall_after = spec.stall_after.unwrap_or(probe.stall_after);
        let conductor = &self.opts.conductor;
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // A leased account's profile replaces the session's own.
        let leased_spec;
        let spec = match lease.and_then(|l| l.credentials.profile.clone()) {
            Some(profile) => {
                leased_spec = SessionSpec {
                    profile: Some(profile),
                    ..spec.clone()
                };
                &leased_spec
            }
            None => spec,
        };
        if let Some(lease) = lease {
            env.extend(lease.credentials.env.iter().cloned());
            env.push(("BATON_ACCOUNT".into(), lease.account.clone()));
        }
        env.push(("BATON_SESSION_ID".into(), spec.id.to_string()));
        env.push(("BATON_ATTEMPT".into(), attempt.to_string()));
        env.push(("BATON_RESTARTS".into(), restarts.to_string()));
        // Marks every process of this run, also those that leave its group.
        let mark = proc::run_mark(&conductor.logs_dir, spec.id.as_str(), attempt);
        env.push((proc::RUN_MARK.into(), mark.clone()));
        if spec.agent == AgentKind::Command {
            if let Some(prompt) = &spec.prompt {
                env.push(("BATON_PROMPT".into(), prompt.clone()));
            }
            if let Some(model) = &spec.model {
                env.push(("BATON_MODEL".into(), model.clone()));
            }
            if let Some(profile) = &spec.profile {
                env.push(("BATON_PROFILE".into(), profile.clone()));
            }
        }
        let stdin = spec
            .stdin
            .or(self.opts.agents.get(spec.agent).stdin)
            .unwrap_or_else(|| baton_config::default_stdin(spec.agent));
        let cwd = match &spec.workdir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => self.opts.base_dir.join(dir),
            None => self.opts.base_dir.clone(),
        };
        let agent = baton_agents::agent(spec.agent);
        let preflight = agent.preflight(spec, &env);
        // On a terminal (local, or a host's tmux) a CLI runs interactively,
        // with baton's hooks for this run when the conductor hears hooks.
        let remote = spec.is_remote();
        let terminal = spec.backend.is_terminal() || remote;
        let wants_hooks = self
            .opts
            .agents
            .get(spec.agent)
            .hooks
            .unwrap_or_else(|| agent.hooks_by_default());
        let hook = self
            .hooks
            .as_ref()
            .filter(|_| terminal && wants_hooks)
            .map(|channel| channel.for_run(spec.id.as_str(), attempt, remote));
        let interactive = terminal
            .then(|| {
                agent.interactive_argv(
                    spec,
                    &self.opts.agents,
                    hook.as_ref().map(|h| h.command.as_str()),
                )
            })
            .flatten();
        let mut hooked = interactive.is_some() && hook.is_some();
        let mut hook_file = None;
        if let (true, Some(hook)) = (hooked, &hook) {
            env.extend(hook.env());
            // A CLI that reads its hooks from a file gets one for this run
            // (on a host, its pane's wrapper writes it there); the others
            // carry them in their argv.
            if remote {
                match agent.host_hook_file(&hook.command, &env) {
                    Some(file) => env.extend(crate::hooks::host_settings_env(&file)),
                    None => hooked = !agent.hooks_in_a_file(),
                }
            } else {
                match agent.hook_file(&hook.command, &env) {
                    Some(file) => match crate::hooks::write_settings(&mark, &file.contents) {
                        Ok(path) => {
                            env.push((file.env.into(), path.display().to_string()));
                            hook_file = Some(path);
                        }
                        Err(e) => {
                            tracing::warn!(session = %spec.id, "its hooks' settings cannot be written ({e}): it is judged by its screen");
                            hooked = false;
                        }
                    },
                    // No file for a CLI that needs one (defaults baton will
                    // not replace): no hooks.
                    None => hooked = !agent.hooks_in_a_file(),
                }
            }
        }
        let argv = interactive
            .clone()
            .unwrap_or_else(|| agent.argv(spec, &self.opts.agents));
        let logged_argv = match &spec.prompt {
            // A `command` gets its prompt in the environment, not in its argv.
            Some(prompt) if !conductor.log_input && spec.agent != AgentKind::Command => {
                Some(driver::argv_without_prompt(&argv, prompt))
            }
            _ => None,
        };
        RunConfig {
            run: backend::RunRequest {
                id: spec.id.clone(),
                attempt,
                recorded_marker: None,
                sweep_first: false,
                // What a remote run leaves is on its host, not here.
                mark: (!spec.is_remote()).then_some(mark),
                argv,
                logged_argv,
                cwd,
                env,
                stdin_pipe: stdin == StdinMode::Pipe,
                branch_guard: spec.branch_guard,
                out_path: self.output_path(&spec.id, "out"),
                err_path: self.output_path(&spec.id, "err"),
                log_limits: crate::seglog::Limits {
                    max_size: conductor.max_log_size,
                    keep: conductor.keep_segments,
                },
                pty: (spec.backend == baton_config::Backend::Pty).then(proc::PtySize::default),
                remote_workdir: if spec.is_remote() {
                    spec.workdir.clone()
                } else {
                    None
                },
                agent_check: preflight,
            },
            stall_after,
            input_wait_after: match spec.input_wait_after {
                Some(after) => Some(after).filter(|a| !a.is_zero()),
                None => probe.input_wait_after,
            }
            .filter(|after| *after < stall_after),
            startup_timeout: spec.startup_timeout.unwrap_or(probe.startup_timeout),
            grace: conductor.grace,
            detector: self
                .detectors
                .get(&spec.agent)
                .cloned()
                .unwrap_or_else(|| Arc::new(InputWaitDetector::builtin())),
            l2: probe.l2_check.as_ref().map(|argv| L2Check {
                argv: argv.clone(),
                interval: probe.l2_interval,
                failures: probe.l2_failures,
            }),
            // What an interactive CLI says is on its screen and in its
            // hooks, not in structured output.
            listener: if interactive.is_some() {
                None
            } else {
                baton_agents::Listener::of(agent)
            },
            hooked,
            hook_file,
            // tmux panes get the same size as a PTY (see proc::tmux).
            screen: spec.backend.is_terminal().then(proc::PtySize::default),
            worktree: spec.worktree.clone().map(|spec_wt| worktree::WorktreePlan {
                spec: spec_wt,
                owner: crate::worktree::owner_tag(&spec.id, &conductor.logs_dir),
            }),
        }
    }

    fn output_path(&self, id: &SessionId, stream: &str) -> PathBuf {
        self.opts
            .conductor
            .logs_dir
            .join(format!("{}.{stream}.log", id.as_str()))
    }

    fn on_run_report(&mut self, id: SessionId, attempt: u32, msg: RunMsg) {
        let Some(entry) = self.sessions.get_mut(&id) else {
            return;
        };
        if entry.attempt != attempt {
            // A report from an earlier run that raced with its replacement.
            if let RunMsg::InputDone { reply, .. } = msg {
                let _ = reply.send(Err(backend::InputError::RunEnded));
            }
            return;
        }
        match msg {
            RunMsg::Worktree(prepared) => {
                let crate::worktree::Prepared {
                    worktree, created, ..
                } = *prepared;
                let known = entry.worktree.as_ref() == Some(&worktree);
                if created || !known {
                    let event = Event::Worktree {
                        path: worktree.path.display().to_string(),
                        repo: worktree.repo.display().to_string(),
                        branch: worktree.branch.clone(),
                        base: worktree.base.clone(),
                        base_commit: worktree.base_commit.clone(),
                        created,
                        copied: worktree
                            .copied
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect(),
                    };
                    entry.worktree_view = Some(live_view(&worktree));
                    entry.worktree = Some(worktree);
                    self.append(&id, event);
                }
            }
            RunMsg::Spawned(spawned) => {
                let backend::Spawned {
                    pid,
                    start_time,
                    out_offset,
                    err_offset,
                    launch,
                } = *spawned;
                if launch.tmux.is_none() && launch.host.is_none() && !launch.shim {
                    crate::fault::point_after(
                        crate::fault::RUN_UNRECORDED,
                        crate::fault::UNRECORDED_FOR,
                    );
                }
                entry.pid = Some(pid.0);
                entry.recorded_marker = launch.tmux.as_ref().and_then(|t| t.marker.clone());
                let event = Event::Spawn {
                    agent: Some(entry.spec.agent.to_string()),
                    restart: entry.restarts,
                    attempt,
                    pid: pid.0,
                    start_time,
                    argv: launch.argv,
                    workdir: launch.workdir,
                    env_keys: launch.env_keys,
                    out_offset,
                    err_offset,
                    tmux: launch.tmux,
                    shim: launch.shim,
                    host: launch.host,
                    backend: Some(entry.spec.backend.to_string()),
                    capabilities: entry.spec.capabilities.clone(),
                };
                self.append(&id, event);
            }
            RunMsg::Unreachable { message } => {
                if entry.ending.is_none() {
                    entry.ending = Some(FailureClass::RemoteUnreachable);
                }
                entry.message = Some(message);
            }
            RunMsg::Recovered { pid, outcome } => {
                entry.pid = Some(pid.0);
                self.append(
                    &id,
                    Event::Recovered {
                        pid: Some(pid.0),
                        outcome: outcome.as_str().into(),
                    },
                );
            }
            RunMsg::SpawnFailed { missing, message } => {
                entry.run = None;
                entry.message = Some(message.clone());
                self.append(
                    &id,
                    Event::SpawnError {
                        missing: missing.as_str().into(),
                        message: message.clone(),
                    },
                );
                self.fail(&id, FailureClass::SpawnError, Some(message), None);
            }
            RunMsg::Acknowledged => {
                if entry.state == SessionState::Starting
                    && self.transition(&id, SessionState::Healthy, "first_output", None, None)
                {
                    self.arm_budget_reset(&id);
                }
            }
            RunMsg::Silent(detection) => {
                self.hooks_silent(&id);
                self.on_silent(&id, detection);
            }
            RunMsg::Resumed => {
                if matches!(entry.state, SessionState::Stalled | SessionState::InputWait)
                    && entry.ending.is_none()
                    && entry.wait_kind.is_none()
                    && self.transition(&id, SessionState::Healthy, "output_resumed", None, None)
                {
                    self.arm_budget_reset(&id);
                }
            }
            // A hook its backend heard (a remote run's): checked like the
            // socket's.
            RunMsg::Hook(report) => {
                if self
                    .hooks
                    .as_ref()
                    .is_some_and(|channel| channel.verify(&report))
                {
                    self.on_hook(report);
                }
            }
            // The driver keeps the status, for the session's row.
            RunMsg::Said(baton_agents::Said::Status(_)) => {}
            RunMsg::Said(baton_agents::Said::TurnStarted) => self.append(&id, Event::TurnStarted),
            RunMsg::Said(baton_agents::Said::TurnEnded { usage, error }) => {
                if error.is_none() {
                    // It reached its provider.
                    entry.offline_runs = 0;
                }
                let usage = usage.map(|used| {
                    let price = baton_config::price_of(
                        &self.opts.pricing,
                        entry.spec.model.as_deref(),
                        entry.spec.agent,
                    );
                    priced(used, price)
                });
                if let Some(used) = usage {
                    entry.usage = Some(entry.usage.unwrap_or_default().plus(used));
                }
                self.append(&id, Event::TurnEnded { usage, error });
            }
            RunMsg::Said(baton_agents::Said::Tool(name)) => self.append(&id, Event::Tool { name }),
            RunMsg::Said(baton_agents::Said::Error { message, retrying }) => {
                self.append(&id, Event::AgentError { message, retrying });
            }
            RunMsg::Said(baton_agents::Said::Offline(line)) => {
                // It waits for the network itself, printing nothing useful:
                // end the run and wait as for a host, without the budget.
                if entry.state.has_process() && entry.ending.is_none() {
                    entry.message = Some(line);
                    self.end_run(&id, FailureClass::Network, false);
                }
            }
            RunMsg::StartupTimeout => {
                if entry.state == SessionState::Starting && entry.ending.is_none() {
                    self.end_run(&id, FailureClass::StartupTimeout, false);
                }
            }
            RunMsg::L2Failed(why) => {
                if entry.state.has_process() && entry.ending.is_none() {
                    let state = entry.state;
                    let out_bytes = entry.shared.out_bytes.load(Ordering::Relaxed);
                    let err_bytes = entry.shared.err_bytes.load(Ordering::Relaxed);
                    let silent_ms = silent_ms(self.epoch, &entry.shared);
                    self.append(
                        &id,
                        Event::Health {
                            state,
                            out_bytes,
                            err_bytes,
                            silent_ms,
                            l2: Some(why),
                        },
                    );
                    self.end_run(&id, FailureClass::ToolsUnavailable, false);
                }
            }
            RunMsg::Signalled { signal, reason } => {
                // A stop the supervisor asked for is recorded under the
                // session's failure class (user_kill, shutdown, stalled…).
                let reason = match (reason, entry.ending) {
                    (termination::KillReason::Terminate, Some(class)) => class.as_str(),
                    (other, _) => other.as_str(),
                };
                self.append(
                    &id,
                    Event::Kill {
                        signal: signal.name().into(),
                        reason: reason.into(),
                    },
                );
            }
            RunMsg::InputDone {
                len,
                sha256,
                source,
                result,
                reply,
            } => {
                if result.is_ok() {
                    let answered = entry.state == SessionState::InputWait
                        && matches!(
                            entry.wait_kind,
                            Some(
                                baton_proto::WaitKind::Permission | baton_proto::WaitKind::Question
                            )
                        );
                    self.append(
                        &id,
                        Event::Input {
                            len,
                            sha256,
                            source,
                        },
                    );
                    // Its dialog has its answer: no hook says so (the tool
                    // runs, perhaps long; a refusal ends nothing), so the
                    // answer does. Its turn over (`idle`), a prompt starts
                    // a turn only once its hook says so.
                    if answered
                        && self.transition(&id, SessionState::Healthy, "answered", None, None)
                    {
                        self.arm_budget_reset(&id);
                    }
                }
                self.effects.after_log(move |_| {
                    let _ = reply.send(result);
                });
            }
            RunMsg::Exited { status, runtime } => {
                entry.exit = Some(status);
                self.append(
                    &id,
                    Event::Exit {
                        code: status.code,
                        signal: status.signal,
                        runtime_ms: runtime.as_millis() as u64,
                    },
                );
            }
            RunMsg::Finished {
                status,
                payload,
                tail,
            } => self.on_finished(&id, status, payload, tail),
        }
    }

    /// No output for `stall_after`: a question (`input_wait`, perhaps
    /// answered by a rule) or a stall (restarted later if `on_stall` says so).
    fn on_silent(
        &mut self,
        id: &SessionId,
        detection: Option<baton_monitor::input_wait::Detection>,
    ) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        if entry.state != SessionState::Healthy || entry.ending.is_some() {
            return;
        }
        let stall_after = entry
            .spec
            .stall_after
            .unwrap_or(self.opts.probe.stall_after);
        let on_stall = entry.spec.on_stall.unwrap_or(self.opts.probe.on_stall);
        match detection {
            Some(d) => {
                if self.transition(
                    id,
                    SessionState::InputWait,
                    &format!("input_wait:{}", d.rule),
                    None,
                    Some(d.line.clone()),
                ) {
                    self.append(
                        id,
                        Event::InputWait {
                            rule: d.rule.clone(),
                            line: d.line.clone(),
                            kind: None,
                        },
                    );
                    self.auto_answer(id, &d);
                }
            }
            None => {
                let reason = format!("no_output_for_{}", humanize(stall_after));
                if self.transition(id, SessionState::Stalled, &reason, None, None)
                    && on_stall == OnStall::Restart
                {
                    self.arm_stall_restart(id);
                }
            }
        }
    }

    /// The run is over: judge how it ended and go on from there.
    fn on_finished(
        &mut self,
        id: &SessionId,
        status: ExitStatus,
        payload: Option<serde_json::Value>,
        tail: Vec<u8>,
    ) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        entry.run = None;
        entry.pid = None;
        entry.exit = Some(status);
        let agent = baton_agents::agent(entry.spec.agent);
        match policy::judge_run(agent, entry.ending, status, &tail, jiff::Zoned::now()) {
            Verdict::Completed => {
                entry.payload = payload.clone();
                // The payload record precedes the terminal state, so
                // whoever stops reading at `completed` already has it.
                if entry.state.can_go_to(SessionState::Completed) {
                    let usage = entry.usage;
                    self.append(id, Event::Completed { payload, usage });
                }
                self.release_lease(id, baton_accounts::Outcome::Success);
                if self.transition(id, SessionState::Completed, "exit_0", None, None) {
                    self.answer_kill_waiters(id);
                }
            }
            Verdict::RateLimited {
                evidence,
                reset_after,
            } => {
                let leased = entry.lease.is_some();
                let wait = policy::rate_limit_wait(
                    leased,
                    reset_after,
                    self.opts.conductor.rate_limit_cooldown,
                );
                if leased {
                    self.release_lease(id, baton_accounts::Outcome::RateLimited { reset_after });
                }
                self.fail(id, FailureClass::RateLimited, Some(evidence), wait);
            }
            Verdict::Failed { class, evidence } => {
                // An unreachable host's evidence is what the run said of it.
                let evidence = match class {
                    FailureClass::RemoteUnreachable | FailureClass::Network => {
                        entry.message.clone().or(evidence)
                    }
                    // Ended on a hook's word: what it said.
                    FailureClass::RateLimited | FailureClass::AuthRequired
                        if evidence.is_none() =>
                    {
                        entry.message.clone()
                    }
                    // The CLI's words are also the `dead` record's message:
                    // they say what a person must do.
                    FailureClass::AuthRequired
                    | FailureClass::UntrustedFolder
                    | FailureClass::SpawnError
                        if evidence.is_some() =>
                    {
                        entry.message.clone_from(&evidence);
                        evidence
                    }
                    _ => evidence,
                };
                self.fail(id, class, evidence, None);
            }
        }
    }

    /// Answers a detected question when one of the session's
    /// `[[session.answer]]` rules matches it (rule name, then pattern on the
    /// question line). The answer goes through the run like a user's `send`
    /// and is recorded as an `input` event with source `auto_answer`.
    fn auto_answer(&mut self, id: &SessionId, detection: &baton_monitor::input_wait::Detection) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let Some((index, rule)) = entry.answers.iter().enumerate().find(|(_, rule)| {
            rule.rule.as_deref().is_none_or(|r| r == detection.rule)
                && rule.pattern.is_match(&detection.line)
        }) else {
            entry.answered = None;
            return;
        };
        let this = (index, detection.line.clone());
        if entry.answered.as_ref() == Some(&this) {
            tracing::info!(
                session = %id,
                "not answering `{}` again with the same rule; it waits for a person",
                detection.line
            );
            return;
        }
        let Some(run) = &entry.run else {
            return;
        };
        entry.answered = Some(this);
        let mut bytes = rule.reply.clone().into_bytes();
        bytes.push(b'\n');
        let (reply, rx) = oneshot::channel();
        let sent = run.send(RunCtl::Input {
            bytes,
            source: "auto_answer".into(),
            reply,
            settle: entry.drawn_by,
        });
        if sent.is_ok() {
            let id = id.clone();
            self.effects.forward(async move {
                if let Ok(Err(e)) = rx.await {
                    tracing::warn!(session = %id, "auto-answer not delivered: {e}");
                }
            });
        }
    }

    /// Asks the current run to stop; its `Finished` report then fails the
    /// session with `class`.
    fn end_run(&mut self, id: &SessionId, class: FailureClass, force: bool) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        // A user kill or shutdown outranks a probe's reason already in flight.
        if entry.ending.is_none()
            || matches!(class, FailureClass::UserKill | FailureClass::Shutdown)
        {
            entry.ending = Some(class);
        }
        if let Some(run) = &entry.run {
            let _ = run.send(RunCtl::Terminate { force });
        }
    }

    /// `failed`, then `restarting` or `dead` per the class and the budget.
    fn fail(
        &mut self,
        id: &SessionId,
        class: FailureClass,
        evidence: Option<String>,
        retry_after: Option<Duration>,
    ) {
        if !self.transition(id, SessionState::Failed, class.as_str(), None, evidence) {
            return;
        }
        // Asked before the lease goes back: it decides whether refused
        // credentials were the account's fault.
        let leased = self.sessions.get(id).is_some_and(|e| e.lease.is_some());
        self.release_lease(id, leasing::outcome_for(class));
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let policy = policy::RestartPolicy {
            max_restarts: entry
                .spec
                .max_restarts
                .unwrap_or(self.opts.conductor.max_restarts),
            backoff: self.opts.conductor.backoff,
            backoff_max: self.opts.conductor.backoff_max,
            host_retry: backend::remote::PROBE,
            leased,
        };
        let restarts = entry.restarts;
        entry.offline_runs = if class == FailureClass::Network {
            entry.offline_runs.saturating_add(1)
        } else {
            0
        };
        let offline_runs = entry.offline_runs;
        let stopping = self.shutting_down.is_some();
        let jitter = self.next_jitter();
        match policy::after_failure(
            class,
            restarts,
            offline_runs,
            &policy,
            stopping,
            retry_after,
            jitter,
        ) {
            AfterFailure::Restart { delay, restarts } => {
                let Some(entry) = self.sessions.get_mut(id) else {
                    return;
                };
                entry.restarts = restarts;
                let attempt = entry.attempt;
                if self.transition(
                    id,
                    SessionState::Restarting,
                    class.as_str(),
                    Some(delay),
                    None,
                ) {
                    self.effects.arm(
                        delay,
                        Timer::RestartDue {
                            id: id.clone(),
                            attempt,
                        },
                    );
                }
            }
            AfterFailure::Dead { reason, gave_up } => {
                let Some(entry) = self.sessions.get_mut(id) else {
                    return;
                };
                let message = if gave_up {
                    Some(format!("gave up after {restarts} restarts"))
                } else if reason == class {
                    entry.message.clone()
                } else {
                    None
                };
                if gave_up {
                    entry.message = message.clone();
                }
                let reason = reason.as_str();
                self.append(
                    id,
                    Event::Dead {
                        reason: reason.to_owned(),
                        restarts,
                        message,
                    },
                );
                if self.transition(id, SessionState::Dead, reason, None, None) {
                    self.answer_kill_waiters(id);
                }
            }
        }
    }

    /// A session reached a terminal state: answer whoever waits on it, once
    /// the terminal record is in the log.
    fn answer_kill_waiters(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        if entry.kill_waiters.is_empty() {
            return;
        }
        let waiters = std::mem::take(&mut entry.kill_waiters);
        self.effects.after_log(move |logged| {
            let result = logged.map_err(|e| e.to_string());
            for waiter in waiters {
                let _ = waiter.send(result.clone().map_err(ConductorError::LogFailed));
            }
        });
    }

    fn kill(&mut self, id: SessionId, reply: oneshot::Sender<Result<(), ConductorError>>) {
        if self.ended.contains_key(&id) {
            let _ = reply.send(Ok(()));
            return;
        }
        let Some(entry) = self.sessions.get_mut(&id) else {
            let _ = reply.send(Err(ConductorError::UnknownSession(id)));
            return;
        };
        if entry.state.is_terminal() {
            let _ = reply.send(Ok(()));
            return;
        }
        entry.kill_waiters.push(reply);
        self.stop_session(&id, FailureClass::UserKill, false);
    }

    /// Stops a live session for `class` (user kill or shutdown).
    fn stop_session(&mut self, id: &SessionId, class: FailureClass, force: bool) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        match entry.state {
            s if s.is_terminal() => {}
            SessionState::Init | SessionState::Restarting => {
                // No process exists. The table only leaves these states through
                // `starting`, so pass through it without spawning anything.
                entry.attempt += 1; // invalidates a pending restart timer
                entry.message = Some(format!("stopped before it ran ({})", class.as_str()));
                if self.transition(id, SessionState::Starting, class.as_str(), None, None) {
                    self.fail(id, class, None, None);
                }
            }
            _ => {
                // A repeated request skips the rest of the grace: the
                // run's termination records it as `second_request`.
                self.end_run(id, class, force);
            }
        }
    }

    fn send_input(
        &mut self,
        id: SessionId,
        bytes: Vec<u8>,
        if_waiting: bool,
        source: String,
        reply: oneshot::Sender<Result<(), ConductorError>>,
    ) {
        let Some(entry) = self.sessions.get(&id) else {
            let result = match self.ended.get(&id).map(|row| row.state) {
                Some(state) if if_waiting => Err(ConductorError::NotWaiting { id, state }),
                Some(state) => Err(ConductorError::NotRunning { id, state }),
                None => Err(ConductorError::UnknownSession(id)),
            };
            let _ = reply.send(result);
            return;
        };
        if if_waiting && entry.state != SessionState::InputWait {
            let state = entry.state;
            let _ = reply.send(Err(ConductorError::NotWaiting { id, state }));
            return;
        }
        let Some(run) = entry.run.as_ref().filter(|_| entry.state.has_process()) else {
            let state = entry.state;
            let _ = reply.send(Err(ConductorError::NotRunning { id, state }));
            return;
        };
        let (tx, rx) = oneshot::channel();
        let request = RunCtl::Input {
            bytes,
            source,
            reply: tx,
            settle: entry.drawn_by,
        };
        if run.send(request).is_err() {
            let state = entry.state;
            let _ = reply.send(Err(ConductorError::NotRunning { id, state }));
            return;
        }
        self.effects.forward(async move {
            let result = match rx.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ConductorError::Input {
                    id,
                    message: e.to_string(),
                }),
                Err(_) => Err(ConductorError::Input {
                    id,
                    message: "the run ended before the input was written".into(),
                }),
            };
            let _ = reply.send(result);
        });
    }

    fn shutdown(&mut self, reason: String, force: bool, reply: oneshot::Sender<ShutdownReport>) {
        let live: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, e)| !e.state.is_terminal())
            .map(|(id, _)| id.clone())
            .collect();
        match &mut self.shutting_down {
            Some((_, waiters)) => waiters.push(reply),
            None => {
                self.effects.record(
                    None,
                    Event::Shutdown {
                        reason,
                        sessions: live.len(),
                    },
                );
                let report = ShutdownReport {
                    stopped: live.iter().map(|id| id.to_string()).collect(),
                    forced: force,
                };
                self.shutting_down = Some((report, vec![reply]));
            }
        }
        if force && let Some((report, _)) = &mut self.shutting_down {
            report.forced = true;
        }
        for id in &live {
            self.stop_session(id, FailureClass::Shutdown, force);
        }
        if live.is_empty() {
            // Nothing to wait for: the loop finishes after this message.
            self.live.send_replace(0);
        }
    }

    async fn finish_shutdown(&mut self) {
        self.closed = true;
        self.close_ssh_hosts().await;
        if let Err(e) = self.log.close().await {
            tracing::error!("closing the event log: {e}");
        }
        if let Some((report, waiters)) = self.shutting_down.take() {
            for waiter in waiters {
                let _ = waiter.send(report.clone());
            }
        }
    }

    fn timer(&mut self, t: Timer) {
        match t {
            Timer::RestartDue { id, attempt } => {
                let due = self
                    .sessions
                    .get(&id)
                    .is_some_and(|e| e.attempt == attempt && e.state == SessionState::Restarting);
                if due && self.shutting_down.is_none() {
                    self.request_run(&id);
                }
            }
            Timer::StallRestartDue {
                id,
                attempt,
                generation,
            } => {
                let due = self.sessions.get(&id).is_some_and(|e| {
                    e.attempt == attempt
                        && e.generation == generation
                        && e.state == SessionState::Stalled
                        && e.ending.is_none()
                });
                if due {
                    self.end_run(&id, FailureClass::Stalled, false);
                }
            }
            Timer::BudgetReset { id, generation } => {
                if let Some(entry) = self.sessions.get_mut(&id)
                    && entry.generation == generation
                    && entry.state == SessionState::Healthy
                    && entry.restarts > 0
                {
                    let restarts = entry.restarts;
                    entry.restarts = 0;
                    self.append(&id, Event::BudgetReset { restarts });
                }
            }
            Timer::RetryLease { id, ticket } => {
                let due = self.sessions.get(&id).is_some_and(|e| {
                    e.waiting == Some(Waiting::Account)
                        && e.lease_ticket == ticket
                        && matches!(e.state, SessionState::Init | SessionState::Restarting)
                });
                if due && self.shutting_down.is_none() {
                    self.request_lease(&id);
                }
            }
            Timer::HostSlotFree => self.place_waiting(),
            Timer::HealthTick => {
                let rows: Vec<(SessionId, Event)> = self
                    .sessions
                    .iter()
                    .filter(|(_, e)| e.state.has_process())
                    .map(|(id, e)| {
                        (
                            id.clone(),
                            Event::Health {
                                state: e.state,
                                out_bytes: e.shared.out_bytes.load(Ordering::Relaxed),
                                err_bytes: e.shared.err_bytes.load(Ordering::Relaxed),
                                silent_ms: silent_ms(self.epoch, &e.shared),
                                l2: None,
                            },
                        )
                    })
                    .collect();
                for (id, event) in rows {
                    self.append(&id, event);
                }
            }
        }
    }

    fn arm_budget_reset(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        if entry.restarts == 0 {
            return;
        }
        let timer = Timer::BudgetReset {
            id: id.clone(),
            generation: entry.generation,
        };
        self.effects.arm(self.opts.conductor.reset_after, timer);
    }

    fn arm_stall_restart(&mut self, id: &SessionId) {
        let Some(entry) = self.sessions.get(id) else {
            return;
        };
        let timer = Timer::StallRestartDue {
            id: id.clone(),
            attempt: entry.attempt,
            generation: entry.generation,
        };
        self.effects.arm(self.opts.probe.stall_restart_after, timer);
    }

    fn snapshot(&mut self) -> Vec<SessionRow> {
        self.table.rows(&mut self.sessions, &self.ended, self.epoch)
    }

    /// Uniform in [0, 1), from xorshift64; jitter needs no cryptographic quality.
    fn next_jitter(&mut self) -> f64 {
        let mut x = self.jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The row of a session that ended under an earlier conductor, as its
/// records tell it; its age counts to when this conductor started.
fn ended_row(s: crate::replay::ReplayedSession) -> SessionRow {
    let age_ms = s
        .first_ts
        .parse::<jiff::Timestamp>()
        .ok()
        .and_then(|first| {
            let age = jiff::Timestamp::now().duration_since(first);
            u64::try_from(age.as_millis()).ok()
        })
        .unwrap_or(0);
    SessionRow {
        agent: s.agent.unwrap_or_else(|| "command".into()),
        host: s.host.unwrap_or_else(|| "local".into()),
        state: s.state,
        reason: s.reason,
        restarts: s.restarts,
        attempt: s.attempts,
        pid: None,
        age_ms,
        last_line: None,
        out_bytes: 0,
        err_bytes: 0,
        exit_code: s.exit_code,
        exit_signal: s.exit_signal,
        payload: s.payload,
        message: s.message,
        capabilities: s.capabilities,
        account: None,
        backend: s.backend.unwrap_or_default(),
        evidence: s.evidence,
        worktree: None,
        usage: s.usage,
        wait_kind: None,
        hooks: None,
        id: s.id,
    }
}

/// What `ps` shows of a worktree its session may still run in.
fn live_view(wt: &crate::worktree::Worktree) -> baton_proto::SessionWorktree {
    baton_proto::SessionWorktree {
        path: wt.path.display().to_string(),
        branch: wt.branch.clone(),
        state: "live".into(),
        reason: None,
        end: None,
    }
}

fn silent_ms(epoch: std::time::Instant, shared: &RunShared) -> u64 {
    let last = shared.last_output_ms.load(Ordering::Relaxed);
    (epoch.elapsed().as_millis() as u64).saturating_sub(last)
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `used`, with its cost estimated at `price` when its CLI stated none.
fn priced(used: baton_proto::Usage, price: Option<&baton_config::Price>) -> baton_proto::Usage {
    match (used.cost_usd, price) {
        (None, Some(price)) => baton_proto::Usage {
            cost_usd: Some(price.cost(used.input_tokens, used.cached_tokens, used.output_tokens)),
            cost_estimated: true,
            ..used
        },
        _ => used,
    }
}
