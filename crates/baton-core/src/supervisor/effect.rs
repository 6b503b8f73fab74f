//! Decisions as values. A handler of the supervisor loop changes the
//! session table and says what else must happen — a record, a timer, a run
//! to start, a broker call, an answer — as [`Effect`]s; after each message,
//! [`Supervisor::perform`] carries them out, in the order they were decided.
//! So the policy is tested by handing the loop a message and reading the
//! effects it decided, with no process, timer or broker involved.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use baton_config::{AgentKind, SessionId};
use tokio::sync::mpsc;

use super::backend::{self, Backend, RecordedRun, RunTarget, Site};
use super::driver::{self, RunConfig, RunCtl, RunMsg, RunShared};
use super::leasing::{BrokerReply, outcome_name};
use super::worktree::{Entered, enter};
use super::{Recoverable, SupMsg, Supervisor, Timer};
use crate::eventlog::{Event, LogError};
use crate::proc::{self, ExitStatus};

/// Something the loop decided that happens outside the session table.
pub(super) enum Effect {
    /// Append `event` to the event log (`session: None`: a conductor record).
    Record {
        session: Option<String>,
        event: Box<Event>,
    },
    /// Send `timer` back to the loop after `delay` (at once when zero).
    Arm { delay: Duration, timer: Timer },
    /// Start the driver of one run.
    Drive(Box<Drive>),
    /// Ask the broker for an account for session `id`'s next run.
    Lease {
        id: SessionId,
        ticket: u64,
        provider: AgentKind,
        host: Option<String>,
    },
    /// Give an account back to the broker.
    Release {
        id: SessionId,
        lease: Box<baton_accounts::Lease>,
        outcome: baton_accounts::Outcome,
    },
    /// Answer a caller, after the records decided before it are queued.
    Reply(Box<dyn FnOnce() + Send>),
    /// Answer a caller once everything recorded so far is in the file.
    AfterLog(Box<dyn FnOnce(Result<(), LogError>) + Send>),
    /// Wait off the loop for a run's answer and pass it on.
    Forward(Pin<Box<dyn Future<Output = ()> + Send>>),
    /// SIGKILL the group of a run an earlier conductor left, if `pid` is
    /// still the process that started at `start_time`.
    EndLeftover { pid: proc::Pid, start_time: u64 },
    /// End the processes still carrying a run's mark (see [`proc::run_mark`]).
    SweepRun { mark: String },
    /// Look at an ended session's worktree; remove it if it is clean.
    FinishWorktree {
        id: SessionId,
        worktree: Box<crate::worktree::Worktree>,
    },
    /// End what the last run of remote session `id`, now ended, left on
    /// `host` (see `backend::remote::end_left_behind`); `recorded_marker`
    /// is the end-of-run token of its last run whose `spawn` is recorded.
    EndLeftBehind {
        id: SessionId,
        host: String,
        recorded_marker: Option<String>,
    },
    /// Finish, from the log, a run whose exit an earlier conductor recorded.
    FinishRecorded {
        id: SessionId,
        rec: Box<Recoverable>,
        status: ExitStatus,
    },
}

/// One run to start: its settings, the channel its supervisor talks to it
/// on, where it runs, and whether it is the recorded run to take over.
pub(super) struct Drive {
    pub id: SessionId,
    pub attempt: u32,
    pub cfg: Box<RunConfig>,
    pub shared: Arc<RunShared>,
    pub ctl: mpsc::UnboundedReceiver<RunCtl>,
    pub target: RunTarget,
    pub resume: Option<RecordedRun>,
}

/// Whether a run is new or continues one the log recorded.
pub(super) enum Resume {
    /// A new run of its attempt (a run its conductor started but did not
    /// record is found and taken over by its backend).
    New,
    /// The recorded run, as its `spawn` record tells it, and how many of
    /// its agent's reports its conductor recorded (see
    /// [`baton_agents::Listener::skipping`]).
    Recorded(RecordedRun, u32),
}

/// The effects decided while handling one message.
#[derive(Default)]
pub(super) struct Effects(Vec<Effect>);

impl Effects {
    pub fn record(&mut self, session: Option<&str>, event: Event) {
        self.0.push(Effect::Record {
            session: session.map(str::to_owned),
            event: Box::new(event),
        });
    }

    pub fn arm(&mut self, delay: Duration, timer: Timer) {
        self.0.push(Effect::Arm { delay, timer });
    }

    pub fn reply(&mut self, answer: impl FnOnce() + Send + 'static) {
        self.0.push(Effect::Reply(Box::new(answer)));
    }

    pub fn after_log(&mut self, answer: impl FnOnce(Result<(), LogError>) + Send + 'static) {
        self.0.push(Effect::AfterLog(Box::new(answer)));
    }

    pub fn forward(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.0.push(Effect::Forward(Box::pin(task)));
    }

    pub fn push(&mut self, effect: Effect) {
        self.0.push(effect);
    }

    /// Takes what was decided so far (tests read it instead of performing it).
    #[cfg(test)]
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.0)
    }
}

impl Supervisor {
    /// Carries out what the last message's handlers decided, in order.
    pub(super) fn perform(&mut self) {
        let mut effects = std::mem::take(&mut self.effects.0);
        for effect in effects.drain(..) {
            self.perform_one(effect);
        }
        // The buffer is kept for the next message.
        if self.effects.0.is_empty() {
            self.effects.0 = effects;
        }
    }

    fn perform_one(&mut self, effect: Effect) {
        match effect {
            Effect::Record { session, event } => self.log.append_boxed(session, event),
            Effect::Arm { delay, timer } => {
                let tx = self.tx.clone();
                if delay.is_zero() {
                    let _ = tx.send(SupMsg::Timer(timer));
                } else {
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = tx.send(SupMsg::Timer(timer));
                    });
                }
            }
            Effect::Drive(drive) => self.start_driver(*drive),
            Effect::Lease {
                id,
                ticket,
                provider,
                host,
            } => {
                let Some(broker) = self.broker.clone() else {
                    return;
                };
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = broker.lease(provider, id.as_str(), host.as_deref());
                    let _ = tx.send(SupMsg::Broker(BrokerReply::Leased { id, ticket, result }));
                });
            }
            Effect::Release { id, lease, outcome } => {
                let Some(broker) = self.broker.clone() else {
                    return;
                };
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let name = outcome_name(&outcome);
                    let result = broker.release(&lease, outcome);
                    let _ = tx.send(SupMsg::Broker(BrokerReply::Released {
                        id,
                        lease,
                        outcome: name,
                        result,
                    }));
                });
            }
            Effect::Reply(answer) => answer(),
            Effect::AfterLog(answer) => {
                let log = self.log.clone();
                tokio::spawn(async move { answer(log.barrier(false).await) });
            }
            Effect::Forward(task) => {
                tokio::spawn(task);
            }
            Effect::EndLeftover { pid, start_time } => {
                if proc::process_start_time(pid) == Some(start_time) {
                    let _ = proc::signal_group(pid, proc::Signal::Kill);
                }
            }
            Effect::FinishWorktree { id, worktree } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let ending = crate::worktree::finish(&worktree).await;
                    let _ = tx.send(SupMsg::WorktreeDone { id, ending });
                });
            }
            Effect::SweepRun { mark } => {
                drop(proc::sweep_strays(mark, driver::STRAY_GRACE));
            }
            Effect::FinishRecorded { id, rec, status } => {
                self.finish_recorded_run(id, *rec, status)
            }
            Effect::EndLeftBehind {
                id,
                host,
                recorded_marker,
            } => {
                let out_path = self.opts.conductor.logs_dir.join(format!("{id}.out.log"));
                if backend::remote::left_behind(&out_path)
                    && let Ok(site) = self.site(&id, &RunTarget::Remote { host })
                {
                    tokio::spawn(backend::remote::end_left_behind(
                        site,
                        out_path,
                        recorded_marker,
                    ));
                }
            }
        }
    }

    /// Spawns the driver task of one run over its backend.
    fn start_driver(&mut self, drive: Drive) {
        let Drive {
            id,
            attempt,
            cfg,
            shared,
            ctl,
            target,
            resume,
        } = drive;
        let tx = self.tx.clone();
        let epoch = self.epoch;
        let report_id = id.clone();
        let report: driver::Report = Arc::new(move |msg| {
            let _ = tx.send(SupMsg::Run {
                id: report_id.clone(),
                attempt,
                msg,
            });
        });
        let site = match self.site(&id, &target) {
            Ok(site) => site,
            Err(message) => {
                report(RunMsg::SpawnFailed {
                    missing: crate::state::Missing::Host,
                    message,
                });
                return;
            }
        };
        let task = RunTask {
            cfg,
            site,
            resume,
            shared,
            epoch,
            report,
            ctl,
        };
        target.launch(task, &self.opts.backends);
    }

    /// Where session `id`'s runs on `target` live: this logs dir's tmux
    /// server and the session's name on it, on the host for a remote one.
    fn site(&mut self, id: &SessionId, target: &RunTarget) -> Result<Site, String> {
        let server = self.tmux_server();
        let session = proc::TmuxServer::session_name(id.as_str());
        match target {
            RunTarget::Remote { host } => {
                let (ssh, feed) = self.ssh_host(host).map_err(|e| e.to_string())?;
                Ok(Site {
                    tmux: server.on_host(ssh),
                    session,
                    host: Some((host.clone(), feed)),
                })
            }
            _ => Ok(Site {
                tmux: server,
                session,
                host: None,
            }),
        }
    }

    /// Ends the run of `rec`, whose `exit` was recorded, as its own driver
    /// would have: payload from its stdout in the log, then the usual rules
    /// (through a `Finished` report).
    fn finish_recorded_run(&mut self, id: SessionId, rec: Recoverable, status: ExitStatus) {
        let out_path = self.opts.conductor.logs_dir.join(format!("{id}.out.log"));
        let tail_bytes = self.opts.conductor.tail_bytes;
        // What the run left: ended by its backend (a host that is no longer
        // usable leaves its session to its host).
        let leftover = rec.run.and_then(|recorded| {
            let site = self.site(&id, &recorded.target).ok()?;
            Some((recorded, site))
        });
        let backends = self.opts.backends.clone();
        let tx = self.tx.clone();
        let attempt = rec.attempt;
        let out_offset = rec.out_offset;
        // Its agent's structured output is read as its driver would have:
        // what it said after its conductor stopped is recorded, and its
        // answer is the payload.
        let listener = self
            .sessions
            .get(&id)
            .and_then(|e| baton_agents::Listener::of(baton_agents::agent(e.spec.agent)))
            .map(|l| l.skipping(rec.reported));
        let mark = proc::run_mark(&self.opts.conductor.logs_dir, id.as_str(), attempt);
        drop(proc::sweep_strays(mark, driver::STRAY_GRACE));
        tokio::spawn(async move {
            if let Some((recorded, site)) = leftover {
                recorded
                    .target
                    .end_recorded(&backends, site, &recorded.run, &out_path)
                    .await;
            }
            let (said, answer) = match listener {
                // Read off the runtime's threads: a run's output may be large.
                Some(listener) => {
                    let path = out_path.clone();
                    tokio::task::spawn_blocking(move || {
                        driver::hear_recorded(listener, &path, out_offset)
                    })
                    .await
                    .unwrap_or_default()
                }
                None => (Vec::new(), None),
            };
            for said in said {
                let msg = RunMsg::Said(said);
                let _ = tx.send(SupMsg::Run {
                    id: id.clone(),
                    attempt,
                    msg,
                });
            }
            let stdout = driver::run_stdout_tail(&out_path, out_offset);
            let payload = match (status.success(), answer) {
                (false, _) => None,
                (true, Some(answer)) => driver::answer_payload(&answer),
                (true, None) => {
                    let mut capture = baton_monitor::payload::PayloadCapture::new();
                    capture.feed(&stdout);
                    capture.finish(&stdout)
                }
            };
            let tail = stdout[stdout.len().saturating_sub(tail_bytes)..].to_vec();
            let _ = tx.send(SupMsg::Run {
                id,
                attempt,
                msg: RunMsg::Finished {
                    status,
                    payload,
                    tail,
                },
            });
        });
    }
}

/// A run's driver task, to be started on one backend.
pub(crate) struct RunTask {
    cfg: Box<RunConfig>,
    site: Site,
    resume: Option<RecordedRun>,
    shared: Arc<RunShared>,
    epoch: std::time::Instant,
    report: driver::Report,
    ctl: mpsc::UnboundedReceiver<RunCtl>,
}

impl RunTask {
    /// Starts the task: the run's worktree first (a new run's), then the
    /// backend `B`, then the driver.
    pub(crate) fn on<B: Backend>(self) {
        let RunTask {
            mut cfg,
            site,
            resume,
            shared,
            epoch,
            report,
            mut ctl,
        } = self;
        tokio::spawn(async move {
            let started = match enter(&mut cfg, &report, &mut ctl, resume.is_none()).await {
                Entered::Go => B::start(&cfg.run, site, resume).await,
                Entered::Refused(e) => Err(e),
                Entered::Stopped => return,
            };
            driver::drive(cfg, Box::new(started), shared, epoch, report, ctl).await;
        });
    }

    /// Fails the run's start: nothing can run it here.
    pub(crate) fn refuse(self, missing: crate::state::Missing, message: String) {
        (self.report)(RunMsg::SpawnFailed { missing, message });
    }
}
