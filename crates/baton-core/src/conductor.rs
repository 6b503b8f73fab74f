//! The embeddable conductor: the library's front door.

pub use baton_proto::SessionRow;
use std::path::PathBuf;
use std::sync::Arc;

use baton_config::{
    AccountsConfig, AgentsConfig, ConductorConfig, Manifest, ProbeConfig, SessionId, SessionSpec,
};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::eventlog::{Event, EventLog, LogError, LoggedEvent};
use crate::state::SessionState;
use crate::supervisor::{Control, SupMsg, Supervisor};

/// Name of the event log inside the logs directory.
pub const EVENTS_FILE: &str = "events.jsonl";

/// Everything a conductor needs besides its sessions.
#[derive(Debug, Clone)]
pub struct ConductorOptions {
    /// `[conductor]` settings; `logs_dir` is where logs go.
    pub conductor: ConductorConfig,
    /// `[probe]` settings.
    pub probe: ProbeConfig,
    /// `[agents.*]` settings.
    pub agents: AgentsConfig,
    /// Directory relative workdirs are resolved against.
    pub base_dir: PathBuf,
    /// `[accounts]`: with accounts for a provider, its sessions lease one before each run.
    pub accounts: AccountsConfig,
    /// Run `pipes` sessions under `baton-shim`, writing straight to their
    /// logs, so they outlive this conductor and a later one on the same logs
    /// dir adopts them (what `baton daemon` does). Off: the agents are this
    /// process's children and get SIGTERM if it dies.
    pub detach: bool,
    /// The hosts inventory (`[hosts.NAME]`): where remote sessions run.
    pub hosts: std::collections::BTreeMap<String, baton_config::HostConfig>,
    /// The backends sessions may name besides the built-in ones (see
    /// [`crate::backend`]).
    pub backends: crate::backend::Backends,
    /// `[pricing]`: what tokens cost, to estimate what a session whose CLI
    /// states no cost used.
    pub pricing: baton_config::Pricing,
}

impl ConductorOptions {
    /// Options taken from a manifest.
    pub fn from_manifest(manifest: &Manifest) -> ConductorOptions {
        ConductorOptions {
            conductor: manifest.conductor.clone(),
            probe: manifest.probe.clone(),
            agents: manifest.agents.clone(),
            base_dir: manifest.base_dir.clone(),
            accounts: manifest.accounts.clone(),
            detach: false,
            hosts: manifest.hosts.clone(),
            backends: crate::backend::Backends::new(),
            pricing: manifest.pricing.clone(),
        }
    }
}

/// What the conductor can refuse.
#[derive(Debug, thiserror::Error)]
pub enum ConductorError {
    /// A session with this id already exists.
    #[error("a session with id `{0}` already exists")]
    DuplicateSession(SessionId),
    /// No session has this id.
    #[error("no session with id `{0}`")]
    UnknownSession(SessionId),
    /// `send --if-waiting` to a session that is not waiting.
    #[error("session `{id}` is {state}, not input_wait; nothing was sent")]
    NotWaiting {
        /// The session.
        id: SessionId,
        /// Its state.
        state: SessionState,
    },
    /// Input to a session without a running process.
    #[error("session `{id}` is {state} and has no running process; nothing was sent")]
    NotRunning {
        /// The session.
        id: SessionId,
        /// Its state.
        state: SessionState,
    },
    /// Writing input failed.
    #[error("input to session `{id}` failed: {message}")]
    Input {
        /// The session.
        id: SessionId,
        /// Why.
        message: String,
    },
    /// The conductor is shutting down and accepts no new sessions.
    #[error("the conductor is shutting down")]
    ShuttingDown,
    /// The conductor has stopped.
    #[error("the conductor has stopped")]
    Closed,
    /// The action happened but its record could not be written to the event log.
    #[error("the event log could not be written: {0}")]
    LogFailed(String),
    /// The event log could not be opened or written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The configuration is invalid (e.g. a pattern that does not compile).
    #[error("configuration: {0}")]
    Config(String),
    /// The account broker could not be opened.
    #[error("account broker: {0}")]
    Broker(String),
    /// The logs directory could not be created.
    #[error("cannot create logs dir {}: {source}", path.display())]
    LogsDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result of a shutdown.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ShutdownReport {
    /// Sessions that were live and have been stopped.
    pub stopped: Vec<String>,
    /// Whether the grace period was skipped.
    pub forced: bool,
}

/// A running conductor. Cheap to clone; every clone talks to the same loop.
#[derive(Clone)]
pub struct Conductor {
    tx: mpsc::UnboundedSender<SupMsg>,
    log: EventLog,
    live: watch::Receiver<usize>,
    unfinished: Arc<Vec<String>>,
}

impl Conductor {
    /// Opens the event log in `opts.conductor.logs_dir` and starts the
    /// supervisor loop. Must be called inside a tokio runtime.
    pub fn start(opts: ConductorOptions) -> Result<Conductor, ConductorError> {
        Self::start_subscribed(opts).map(|(conductor, _)| conductor)
    }

    /// Like [`Conductor::start`], also returning a subscription that sees
    /// every record this conductor writes, from its `conductor_start` on.
    pub fn start_subscribed(
        opts: ConductorOptions,
    ) -> Result<(Conductor, broadcast::Receiver<Arc<LoggedEvent>>), ConductorError> {
        let dir = opts.conductor.logs_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| ConductorError::LogsDir {
            path: dir.clone(),
            source,
        })?;
        let detectors = crate::detectors::input_wait_detectors(&opts.agents)
            .map_err(|e| ConductorError::Config(e.to_string()))?;
        let broker = if opts.accounts.accounts.is_empty() {
            None
        } else {
            let broker = baton_accounts::Broker::open(
                opts.accounts.clone(),
                Arc::new(baton_accounts::SystemClock),
                baton_accounts::BrokerOptions::default(),
            )
            .map_err(|e| ConductorError::Broker(e.to_string()))?;
            Some(Arc::new(broker))
        };
        // Sessions an earlier conductor left live go on when spawned again:
        // their tmux and shim runs are taken over, not started twice.
        let earlier = crate::eventlog::read_log(&dir.join(EVENTS_FILE))
            .map(|log| log.records)
            .unwrap_or_default();
        let server = crate::proc::TmuxServer::for_logs_dir(&dir);
        let left = crate::supervisor::Left::from_log(&earlier, server.name());
        let mut unfinished: Vec<String> = left.sessions.iter().map(|r| r.id.clone()).collect();
        unfinished.sort();
        let log = EventLog::open_with(
            &dir.join(EVENTS_FILE),
            opts.conductor.fsync,
            crate::seglog::Limits {
                max_size: opts.conductor.max_log_size,
                keep: opts.conductor.keep_segments,
            },
        )?;
        let events = log.subscribe();
        log.append(
            None,
            Event::ConductorStart {
                version: env!("CARGO_PKG_VERSION").into(),
                pid: std::process::id(),
                fsync: opts.conductor.fsync.to_string(),
            },
        );
        let (tx, rx) = mpsc::unbounded_channel();
        let (live_tx, live) = watch::channel(0);
        let supervisor = Supervisor::new(
            opts,
            log.clone(),
            tx.clone(),
            live_tx,
            broker,
            detectors,
            left,
        );
        tokio::spawn(supervisor.run(rx));
        let unfinished = Arc::new(unfinished);
        Ok((
            Conductor {
                tx,
                log,
                live,
                unfinished,
            },
            events,
        ))
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, ConductorError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(SupMsg::Control(make(reply)))
            .map_err(|_| ConductorError::Closed)?;
        rx.await.map_err(|_| ConductorError::Closed)
    }

    /// Registers a session and starts it. Returns once it is in the table
    /// (its first state change is queued for the log).
    pub async fn spawn(&self, spec: SessionSpec) -> Result<SessionId, ConductorError> {
        self.request(|reply| Control::Spawn {
            spec: Box::new(spec),
            reply,
        })
        .await?
    }

    /// Kills a session: SIGTERM to its process group, grace, SIGKILL. Returns
    /// when the group is empty and the session is `dead` (reason `user_kill`).
    /// A second call while the first waits skips the rest of the grace.
    pub async fn kill(&self, id: &SessionId) -> Result<(), ConductorError> {
        self.request(|reply| Control::Kill {
            id: id.clone(),
            reply,
        })
        .await?
    }

    /// Writes `bytes` to the session's stdin. With `if_waiting`, refuses
    /// unless the session is in `input_wait`. Returns after the bytes were
    /// written and the `input` event (with `source`, e.g. `user`) is in the
    /// log.
    pub async fn send_input(
        &self,
        id: &SessionId,
        bytes: Vec<u8>,
        if_waiting: bool,
        source: &str,
    ) -> Result<(), ConductorError> {
        self.request(|reply| Control::Send {
            id: id.clone(),
            bytes,
            if_waiting,
            source: source.to_owned(),
            reply,
        })
        .await?
    }

    /// Appends a record about `session` that the conductor did not decide
    /// itself (e.g. who asked for a request). It goes through the same
    /// writer, after everything already queued.
    pub fn note(&self, session: Option<&str>, event: Event) {
        self.log.append(session, event);
    }

    /// The `seq` of the last record in the log file (0 for none); see
    /// [`crate::eventlog::EventLog::last_seq`].
    pub fn last_seq(&self) -> u64 {
        self.log.last_seq()
    }

    /// The session table, consistent with the log: every change it shows is
    /// already written.
    pub async fn snapshot(&self) -> Result<Vec<SessionRow>, ConductorError> {
        self.request(|reply| Control::Snapshot { reply }).await
    }

    /// [`Conductor::snapshot`] as the JSON array `serde_json` makes of it,
    /// only live sessions that declared `capability` when one is given
    /// (the registry's answer, [`Conductor::with_capability`]). Rows are
    /// kept encoded between calls: a call encodes only the sessions that
    /// changed since the last, so a large table is answered without being
    /// built anew.
    pub async fn table_json(&self, capability: Option<&str>) -> Result<Vec<u8>, ConductorError> {
        let capability = capability.map(str::to_owned);
        self.request(|reply| Control::TableJson { capability, reply })
            .await
    }

    /// Whether a session with this id is in the table (in any state; ids
    /// are never reused within a conductor). Unlike [`Conductor::snapshot`]
    /// it does not wait for the log.
    pub async fn contains(&self, id: &SessionId) -> Result<bool, ConductorError> {
        self.request(|reply| Control::Contains {
            id: id.clone(),
            reply,
        })
        .await
    }

    /// Live sessions that declared `capability` (the mesh registry).
    pub async fn with_capability(&self, capability: &str) -> Result<Vec<String>, ConductorError> {
        Ok(self
            .snapshot()
            .await?
            .into_iter()
            .filter(|s| !s.state.is_terminal() && s.capabilities.iter().any(|c| c == capability))
            .map(|s| s.id)
            .collect())
    }

    /// Every record, as it is written. Subscribe before spawning to miss nothing.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LoggedEvent>> {
        self.log.subscribe()
    }

    /// Sessions that were live (neither `dead` nor `completed`) when the
    /// previous conductor on this logs dir stopped, by id. Spawning one of
    /// them again continues it: its run is re-adopted if it still runs (or
    /// its end is read if it ended meanwhile), else it is restarted per its
    /// policy; a `recovered` event says which. Nothing is started twice.
    pub fn unfinished(&self) -> &[String] {
        &self.unfinished
    }

    /// Path of the event log.
    pub fn events_path(&self) -> PathBuf {
        self.log.path().to_owned()
    }

    /// Resolves when no session is live (every one is `dead` or `completed`).
    pub async fn wait_all_terminal(&self) {
        let mut live = self.live.clone();
        let _ = live.wait_for(|n| *n == 0).await;
    }

    /// Stops every live session concurrently (same grace as `kill`), records
    /// them `dead` with reason `shutdown`, then flushes and closes the log.
    /// `force` sends SIGKILL at once; calling again with `force` while a
    /// shutdown waits escalates it.
    pub async fn shutdown(
        &self,
        reason: &str,
        force: bool,
    ) -> Result<ShutdownReport, ConductorError> {
        self.request(|reply| Control::Shutdown {
            reason: reason.to_owned(),
            force,
            reply,
        })
        .await
    }
}
