//! Where and how a run's process lives: the seam between the run driver and
//! the operating system, tmux, a remote host — or whatever a program that
//! embeds the conductor runs agents in.
//!
//! A backend starts (or adopts) a run, turns what its process does into
//! [`Observation`]s, delivers signals and input, cleans up at the end, and
//! ends what a run left when an earlier conductor recorded its exit but
//! died before finishing it. It decides nothing: deadlines, termination,
//! payload and reports are the driver's. Where a run lives is one tagged
//! run target, chosen, recovered and dispatched on in this module and
//! nowhere else. Each built-in backend is one file:
//!
//! | backend | process | output | end |
//! |---|---|---|---|
//! | `pipes` | our child, pipes or a PTY | read from the pipes, written to the logs | `wait`, group empty, pipes drained |
//! | `shim` | `baton-shim`, outlives the conductor | the agent writes the logs itself; followed | shim's status file, group empty |
//! | `tmux` | `baton-shim` in a tmux pane | `pipe-pane` writes the log; followed | the shim's marker in the log |
//! | `remote` | `sh` wrapper in a tmux pane on a host | fetched over ssh, written to the log | the done token |
//!
//! # Adding a backend
//!
//! A program that embeds the conductor can run agents its own way (in a
//! container, a micro-VM, under a sandbox) with no change to baton:
//!
//! 1. implement [`Backend`] for a type of its own — `start` gets the
//!    [`RunRequest`] (argv, env, workdir, the logs to append to) and
//!    answers with what it [`Spawned`]; `observe` reports output (already
//!    in the log), the exit, and that nothing is left;
//! 2. register it: `options.backends.register::<MyBackend>("microvm")` on
//!    the [`Backends`] of [`crate::ConductorOptions`];
//! 3. name it in a session: `backend = "microvm"` in a manifest loaded
//!    with [`baton_config::Manifest::load_with_backends`], or
//!    [`baton_config::Backend::Custom`] in a spec built in code.
//!
//! The driver owns everything else: the session's states, its deadlines,
//! the termination sequence, input hashing, the payload, every record. A
//! complete backend written this way, with its tests, is
//! `crates/baton-core/tests/custom_backend.rs`.

pub(crate) mod pipes;
pub(crate) mod remote;
mod run;
pub(crate) mod shim;
pub(crate) mod tmux;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::proc::remote_feed::HostFeed;
use crate::proc::{ExitStatus, Pid, Signal, TmuxServer};
use crate::state::Missing;
use baton_monitor::input_wait::terminal::Terminal;

use super::effect::RunTask;
pub use run::{Launch, RecordedRun, RecoveredOutcome, RunRequest, Spawned};

/// Where a run's process lives: what a run is started on, what its
/// `spawn` record says it was started on, and so what a later conductor
/// takes over or cleans up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunTarget {
    /// Pipes or a PTY, children of the conductor: they end with it.
    Pipes,
    /// Under `baton-shim`, detached from the conductor (a daemon's pipes).
    Shim,
    /// A pane of the logs dir's tmux server.
    Tmux,
    /// A tmux pane on an inventory host.
    Remote { host: String },
    /// A backend the embedding program registered under `name`.
    Custom { name: String },
}

impl RunTarget {
    /// Where a run of `spec` goes: on `host` when it was placed on one,
    /// else by its backend — `pipes` detached under the shim when the
    /// conductor runs `detach`ed (a daemon).
    pub(crate) fn of(spec: &baton_config::SessionSpec, host: Option<&str>, detach: bool) -> Self {
        use baton_config::Backend;
        match (host, &spec.backend) {
            (Some(host), _) => RunTarget::Remote {
                host: host.to_owned(),
            },
            (None, Backend::Tmux) => RunTarget::Tmux,
            (None, Backend::Pipes) if detach => RunTarget::Shim,
            (None, Backend::Pipes | Backend::Pty) => RunTarget::Pipes,
            (None, Backend::Custom(name)) => RunTarget::Custom { name: name.clone() },
        }
    }

    /// Where the run a `spawn` record describes ran: `None` for a pane of
    /// another tmux server than `server` (not ours to adopt or end).
    pub(crate) fn recorded(spawn: &RecordedSpawn<'_>, server: &str) -> Option<RunTarget> {
        match (spawn.host, spawn.tmux, spawn.backend) {
            (Some(host), _, _) => Some(RunTarget::Remote {
                host: host.to_owned(),
            }),
            (None, Some(t), _) if t.server == server => Some(RunTarget::Tmux),
            (None, Some(_), _) => None,
            (None, None, Some(name)) if baton_config::valid_backend_name(name) => {
                Some(RunTarget::Custom {
                    name: name.to_owned(),
                })
            }
            (None, None, _) if spawn.shim => Some(RunTarget::Shim),
            (None, None, _) => Some(RunTarget::Pipes),
        }
    }

    /// Whether a run on it outlives its conductor, so that the next one
    /// can take it over (a custom backend's run, when its backend is
    /// registered and says so).
    pub(crate) fn outlives_conductor(&self, backends: &Backends) -> bool {
        match self {
            RunTarget::Pipes => false,
            RunTarget::Shim | RunTarget::Tmux | RunTarget::Remote { .. } => true,
            RunTarget::Custom { name } => backends
                .registered
                .get(name)
                .is_some_and(|entry| entry.outlives),
        }
    }

    /// Starts `task` on this target's backend (a custom one that is not
    /// registered fails the run's start).
    pub(crate) fn launch(&self, task: RunTask, backends: &Backends) {
        match self {
            RunTarget::Pipes => task.on::<pipes::Pipes>(),
            RunTarget::Shim => task.on::<shim::Shim>(),
            RunTarget::Tmux => task.on::<tmux::Tmux>(),
            RunTarget::Remote { .. } => task.on::<remote::Remote>(),
            RunTarget::Custom { name } => match backends.registered.get(name) {
                Some(entry) => (entry.launch)(task),
                None => task.refuse(Missing::Backend, backends.unknown(name)),
            },
        }
    }

    /// Ends what the recorded run `run` (its exit recorded, its end not
    /// finished by a conductor that died) left at `site`, so that its log
    /// holds the agent's bytes only and nothing of it lingers.
    pub(crate) fn end_recorded<'a>(
        &self,
        backends: &Backends,
        site: Site,
        run: &'a RecordedRun,
        out_path: &'a Path,
    ) -> EndRecorded<'a> {
        match self {
            RunTarget::Pipes => Box::pin(pipes::Pipes::end_recorded(site, run, out_path)),
            RunTarget::Shim => Box::pin(shim::Shim::end_recorded(site, run, out_path)),
            RunTarget::Tmux => Box::pin(tmux::Tmux::end_recorded(site, run, out_path)),
            RunTarget::Remote { .. } => Box::pin(remote::Remote::end_recorded(site, run, out_path)),
            RunTarget::Custom { name } => match backends.registered.get(name) {
                Some(entry) => (entry.end_recorded)(site, run, out_path),
                None => Box::pin(async {}),
            },
        }
    }
}

/// What a `spawn` record says of where its run lives.
pub(crate) struct RecordedSpawn<'a> {
    pub host: Option<&'a str>,
    pub tmux: Option<&'a crate::eventlog::TmuxTarget>,
    pub shim: bool,
    pub backend: Option<&'a str>,
}

/// Ending what a recorded run left, on whichever backend it ran.
pub(crate) type EndRecorded<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The backends a conductor runs sessions on: `pipes`, `pty` and `tmux`
/// (and remote hosts), which are always there, and those the embedding
/// program registered under names of its own.
#[derive(Clone, Default)]
pub struct Backends {
    registered: BTreeMap<String, Entry>,
}

/// A registered backend, its type erased.
#[derive(Clone, Copy)]
struct Entry {
    launch: fn(RunTask),
    end_recorded: for<'a> fn(Site, &'a RecordedRun, &'a Path) -> EndRecorded<'a>,
    outlives: bool,
}

fn end_recorded_on<'a, B: Backend>(
    site: Site,
    run: &'a RecordedRun,
    out_path: &'a Path,
) -> EndRecorded<'a> {
    Box::pin(B::end_recorded(site, run, out_path))
}

/// Why a backend could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// The name is not one a session could name.
    #[error("cannot register backend `{0}`: {rule}", rule = baton_config::BACKEND_NAME_RULE)]
    InvalidName(String),
    /// Another backend has it already.
    #[error("a backend named `{0}` is registered already")]
    Taken(String),
}

impl Backends {
    /// The built-in backends only.
    pub fn new() -> Backends {
        Backends::default()
    }

    /// Registers backend `B` under `name`, which sessions then give as
    /// their `backend`. The name satisfies
    /// [`baton_config::BACKEND_NAME_RULE`] and is not taken.
    pub fn register<B: Backend>(&mut self, name: &str) -> Result<&mut Backends, RegisterError> {
        if !baton_config::valid_backend_name(name) {
            return Err(RegisterError::InvalidName(name.to_owned()));
        }
        if self.registered.contains_key(name) {
            return Err(RegisterError::Taken(name.to_owned()));
        }
        self.registered.insert(
            name.to_owned(),
            Entry {
                launch: RunTask::on::<B>,
                end_recorded: end_recorded_on::<B>,
                outlives: B::ON_CONDUCTOR_GONE == OnConductorGone::Detach,
            },
        );
        Ok(self)
    }

    /// The names of the registered backends, in order (the built-in ones
    /// are not listed).
    pub fn names(&self) -> Vec<String> {
        self.registered.keys().cloned().collect()
    }

    /// Whether a session on `backend` can run here.
    pub(crate) fn knows(&self, backend: &baton_config::Backend) -> bool {
        match backend {
            baton_config::Backend::Custom(name) => self.registered.contains_key(name),
            _ => true,
        }
    }

    /// What to say of a session naming `name`, which is not registered.
    pub(crate) fn unknown(&self, name: &str) -> String {
        let mut known: Vec<String> = baton_config::Backend::BUILT_IN
            .iter()
            .map(|b| format!("`{b}`"))
            .collect();
        known.extend(self.registered.keys().map(|k| format!("`{k}`")));
        format!(
            "no backend named `{name}` is registered with this conductor (it has {})",
            known.join(", ")
        )
    }
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.registered.keys()).finish()
    }
}

/// Where a run lives besides its [`RunRequest`]: the tmux server and
/// session name of the session (on the run's host for a remote run), and,
/// for a remote run, the host. A backend of its own may use the names to
/// name what it makes for the session.
#[non_exhaustive]
pub struct Site {
    /// This logs dir's private tmux server (on the host, for a remote run).
    pub tmux: TmuxServer,
    /// The session's tmux session name (`baton-<id>`).
    pub session: String,
    /// The inventory name of the host and its output fetcher.
    pub(crate) host: Option<(String, Arc<HostFeed>)>,
}

/// Which of the agent's streams a chunk of output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output (a terminal's whole output).
    Stdout,
    /// Standard error.
    Stderr,
}

/// What a backend saw, one thing at a time.
#[derive(Debug)]
pub enum Observation<'a> {
    /// Bytes of output, already in the session's log.
    Output {
        /// Which log they are in.
        stream: Stream,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// The agent ended. Output it wrote before is observed first.
    Exited(ExitStatus),
    /// A wake-up with nothing new for the driver.
    Idle,
    /// Nothing of the run is left: the group is empty and every byte of
    /// output has been observed. The driver asks no more.
    Settled,
    /// The remote host stopped answering: the run ends without touching it.
    Unreachable(String),
    /// What the backend observes is gone with the conductor: the run ends
    /// without a report.
    Detached,
    /// What one of the agent CLI's hooks said, as a backend that carries
    /// hooks itself hears it (a remote run: lines of a file on the host).
    /// Its token is checked by the conductor, as for a local hook's.
    Hook(crate::hooks::HookReport),
}

/// What is left after the agent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftovers {
    /// Nothing of its group.
    None,
    /// Processes of its group still run; the driver ends them (SIGTERM,
    /// grace, SIGKILL through [`Backend::signal`]).
    Some,
}

/// What became of a signal.
#[derive(Debug)]
pub enum Delivery {
    /// It reached at least one process of the run.
    Delivered,
    /// No process of the run was left to receive it (or the recorded pid is
    /// someone else's now).
    NoneLeft,
    /// It could not be sent.
    Failed(String),
}

/// How the driver's loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The backend said the run is settled.
    Settled,
    /// The remote host stopped answering.
    Unreachable,
}

/// What the conductor's going away means for a run of a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConductorGone {
    /// The process lives inside the conductor's care (its pipes or PTY):
    /// end it as if asked to. A later conductor does not take it over.
    Terminate,
    /// The process outlives the conductor (shim, tmux, remote): stop
    /// watching and touch nothing, so the next conductor takes it over
    /// (its [`Backend::start`] gets the [`RecordedRun`]).
    Detach,
}

/// How a run began.
#[derive(Debug)]
pub enum Begun {
    /// A new process: the `spawn` record states it.
    Spawned(Box<Spawned>),
    /// A run an earlier conductor started, taken over.
    Adopted {
        /// Its leader.
        pid: Pid,
        /// Where its stdout begins in the log.
        out_offset: u64,
        /// It had produced output (it was past `starting`).
        acknowledged: bool,
        /// Whether it still runs; one that ended while no conductor watched
        /// is observed to exit after what it wrote meanwhile.
        outcome: RecoveredOutcome,
    },
}

/// Why a run could not start.
#[derive(Debug)]
pub enum StartError {
    /// Retrying cannot help: `missing` says what to fix (a `spawn_error`).
    Failed {
        /// What is missing.
        missing: Missing,
        /// What to tell the user.
        message: String,
    },
    /// The remote host did not answer: retry once it does.
    Unreachable(String),
}

impl StartError {
    /// A start that retrying cannot help.
    pub fn failed(missing: Missing, message: impl Into<String>) -> StartError {
        StartError::Failed {
            missing,
            message: message.into(),
        }
    }
}

/// Why input did not reach the agent.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The session's stdin is `/dev/null`.
    #[error("this session's stdin is not a pipe (stdin = \"null\")")]
    NoStdin,
    /// The agent closed its input.
    #[error("the agent's stdin is closed")]
    Closed,
    /// The input could not be opened.
    #[error("cannot open the agent's stdin {path}: {source}")]
    Open {
        /// What was opened.
        path: std::path::PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Writing failed.
    #[error("writing to the agent's stdin failed: {0}")]
    Write(std::io::Error),
    /// The agent did not take the bytes in time.
    #[error("the agent did not read its stdin within 5 s")]
    Timeout,
    /// The task that writes the input is gone.
    #[error("the agent's stdin writer stopped")]
    WriterGone,
    /// The run ended before the bytes were written.
    #[error("the run it was sent to has ended")]
    RunEnded,
    /// The run has not started.
    #[error("the agent has not started yet (its worktree's setup command is running)")]
    NotStarted,
    /// tmux refused the keys.
    #[error("{0}")]
    Tmux(#[from] crate::proc::TmuxError),
}

/// Input on its way to the agent; resolves once written (or refused).
pub type InputDelivery = Pin<Box<dyn Future<Output = Result<(), InputError>> + Send>>;

/// One way of running an agent. The driver calls [`Backend::observe`] in a
/// loop, inside a `select!` with control requests and deadlines; every
/// other method is called between two observations.
///
/// What the driver relies on:
/// - output is in the session's logs ([`RunRequest::out_path`],
///   [`RunRequest::err_path`]) before it is observed, at the offsets the
///   `spawn` record states;
/// - [`Observation::Exited`] comes once, after every byte written before
///   the exit, and [`Observation::Settled`] after it once nothing of the
///   run is left;
/// - nothing blocks: a method that waits does so in its future.
pub trait Backend: Send + Sized + 'static {
    /// What the conductor's going away means for a run of this backend,
    /// and so whether a later conductor takes a recorded run over.
    const ON_CONDUCTOR_GONE: OnConductorGone;

    /// Starts run `req` at `site` or, with `resume`, takes over the run an
    /// earlier conductor recorded (only for a backend whose runs outlive
    /// their conductor). A built-in backend also finds and takes over a
    /// run its predecessor started but did not record.
    fn start(
        req: &RunRequest,
        site: Site,
        resume: Option<RecordedRun>,
    ) -> impl Future<Output = Result<(Self, Begun), StartError>> + Send;

    /// Ends what a recorded run left at `site` when an earlier conductor
    /// recorded its exit but died before finishing it (e.g. a pane left
    /// open), so that nothing of it lingers. What carries the run's mark
    /// is swept by the conductor for every backend.
    fn end_recorded(
        site: Site,
        run: &RecordedRun,
        out_path: &Path,
    ) -> impl Future<Output = ()> + Send;

    /// The next thing that happened. Must be cancel-safe: the driver drops
    /// the future whenever a request or a deadline comes first, and calls
    /// again.
    fn observe(&mut self) -> impl Future<Output = Observation<'_>> + Send;

    /// Called once, right after the agent's end was reported: ends what the
    /// backend ends at once (a tmux session whose marker is in) and says
    /// whether processes of the group are left.
    fn after_exit(&mut self) -> impl Future<Output = Leftovers> + Send;

    /// Sends `signal` to the run's process group and says what happened.
    fn signal(&mut self, signal: Signal) -> impl Future<Output = Delivery> + Send;

    /// Starts writing `bytes` to the agent's input.
    fn input(&mut self, bytes: Vec<u8>) -> InputDelivery;

    /// How the run's terminal takes its input now and what its foreground
    /// programs are blocked in, when the backend can tell (a PTY it holds,
    /// a pane of a local tmux): a program that turned echo off while it
    /// reads whole lines asks for a secret, one blocked reading the
    /// keyboard waits for it, whatever its prompt says. `None` (the
    /// default): not known. Asked once per quiet spell, never per chunk.
    fn terminal(&self) -> Option<Terminal> {
        None
    }

    /// After the loop ended: cleans up and returns the output observed on
    /// the way (already in the log, not yet reported). `terminating` says
    /// whether a stop was asked for.
    fn finish(&mut self, end: RunEnd, terminating: bool) -> impl Future<Output = Vec<u8>> + Send;
}

/// Bytes for an input writer task, and where to say how writing went.
pub type StdinJob = (
    Vec<u8>,
    tokio::sync::oneshot::Sender<Result<(), InputError>>,
);

/// Hands `bytes` to the input writer task `writer` (`None`: no input, for
/// `missing`); resolves once the task wrote them. A backend whose input is
/// a task reading [`StdinJob`]s answers [`Backend::input`] with it.
pub fn queue_input(
    writer: Option<&tokio::sync::mpsc::UnboundedSender<StdinJob>>,
    missing: InputError,
    bytes: Vec<u8>,
) -> InputDelivery {
    let Some(writer) = writer else {
        return Box::pin(async { Err(missing) });
    };
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let queued = writer.send((bytes, done_tx)).is_ok();
    Box::pin(async move {
        if !queued {
            return Err(InputError::Closed);
        }
        done_rx.await.unwrap_or(Err(InputError::WriterGone))
    })
}

/// What is left of group `pid` once its leader ended; `group_empty`
/// remembers an empty group.
pub(crate) fn leftovers(pid: Pid, group_empty: &mut bool) -> Leftovers {
    if *group_empty || crate::proc::group_is_empty(pid) {
        *group_empty = true;
        Leftovers::None
    } else {
        Leftovers::Some
    }
}

/// For the followers (shim, tmux) once the agent ended: `Settled` when its
/// group is empty, after one more round (`Idle`) that reads what the group
/// wrote last; `None` while the agent runs or its group has members left.
pub(crate) fn settled_after_exit(
    exited: bool,
    pid: Pid,
    group_empty: &mut bool,
) -> Option<Observation<'static>> {
    if !exited {
        return None;
    }
    if *group_empty {
        return Some(Observation::Settled);
    }
    if crate::proc::group_is_empty(pid) {
        *group_empty = true;
        return Some(Observation::Idle);
    }
    None
}

/// Signals process group `pid` (if `ours`: still the recorded process)
/// and says what became of it: a backend whose runs are process groups of
/// this machine answers [`Backend::signal`] with it.
pub fn signal_group(pid: Pid, ours: bool, signal: Signal) -> Delivery {
    if !ours {
        return Delivery::NoneLeft;
    }
    match crate::proc::signal_group(pid, signal) {
        Ok(true) => Delivery::Delivered,
        Ok(false) => Delivery::NoneLeft,
        Err(e) => Delivery::Failed(e.to_string()),
    }
}

/// A future that never resolves when there is nothing to wait for.
pub(crate) async fn maybe<F: Future<Output = ()>>(f: Option<F>) {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_config::{Backend, SessionSpec};

    #[test]
    fn a_run_goes_where_its_host_or_backend_says() {
        let spec = |backend| {
            let mut s = SessionSpec::command("w".parse().unwrap(), vec!["true".into()]);
            s.backend = backend;
            s
        };
        // (backend, host, detach) -> target
        let cases = [
            (Backend::Pipes, None, false, RunTarget::Pipes),
            (Backend::Pipes, None, true, RunTarget::Shim),
            (Backend::Pty, None, true, RunTarget::Pipes),
            (Backend::Tmux, None, false, RunTarget::Tmux),
            (Backend::Tmux, None, true, RunTarget::Tmux),
            (
                Backend::Tmux,
                Some("gpu"),
                true,
                RunTarget::Remote { host: "gpu".into() },
            ),
            (
                Backend::Custom("vm".into()),
                None,
                true,
                RunTarget::Custom { name: "vm".into() },
            ),
        ];
        let none = Backends::new();
        for (backend, host, detach, want) in cases {
            let target = RunTarget::of(&spec(backend.clone()), host, detach);
            assert_eq!(target, want, "{backend} {host:?} {detach}");
            // An unregistered backend's run is not taken over.
            let outlives = !matches!(want, RunTarget::Pipes | RunTarget::Custom { .. });
            assert_eq!(target.outlives_conductor(&none), outlives);
        }
    }

    #[test]
    fn a_backend_name_is_registered_once_and_in_form() {
        let mut backends = Backends::new();
        backends
            .register::<pipes::Pipes>("vm")
            .expect("a fresh name");
        assert_eq!(backends.names(), ["vm"]);
        assert_eq!(
            backends.register::<pipes::Pipes>("vm").err(),
            Some(RegisterError::Taken("vm".into()))
        );
        for bad in ["tmux", "", "V M"] {
            assert_eq!(
                backends.register::<pipes::Pipes>(bad).err(),
                Some(RegisterError::InvalidName(bad.into())),
                "{bad:?}"
            );
        }
        assert!(backends.knows(&Backend::Custom("vm".into())));
        assert!(!backends.knows(&Backend::Custom("vn".into())));
        assert_eq!(
            backends.unknown("vn"),
            "no backend named `vn` is registered with this conductor (it has `pipes`, `pty`, `tmux`, `vm`)"
        );
        // Pipes runs end with their conductor, so a recorded one is not taken over.
        let vm = RunTarget::Custom { name: "vm".into() };
        assert!(!vm.outlives_conductor(&backends));
        let mut detached = Backends::new();
        detached.register::<shim::Shim>("vm").unwrap();
        assert!(vm.outlives_conductor(&detached));
    }

    #[test]
    fn a_spawn_record_says_where_its_run_lived() {
        let tmux = |server: &str| crate::eventlog::TmuxTarget {
            server: server.into(),
            session: "baton-w".into(),
            marker: None,
        };
        let ours = tmux("baton-1");
        let theirs = tmux("baton-2");
        let spawn = |host, tmux, shim, backend| RecordedSpawn {
            host,
            tmux,
            shim,
            backend,
        };
        let cases = [
            (
                spawn(Some("gpu"), None, false, Some("tmux")),
                Some(RunTarget::Remote { host: "gpu".into() }),
            ),
            (
                spawn(None, Some(&ours), true, Some("tmux")),
                Some(RunTarget::Tmux),
            ),
            (spawn(None, Some(&theirs), true, Some("tmux")), None),
            (
                spawn(None, None, true, Some("pipes")),
                Some(RunTarget::Shim),
            ),
            (
                spawn(None, None, false, Some("pty")),
                Some(RunTarget::Pipes),
            ),
            // A 1.3 log says no backend.
            (spawn(None, None, false, None), Some(RunTarget::Pipes)),
            (
                spawn(None, None, false, Some("vm")),
                Some(RunTarget::Custom { name: "vm".into() }),
            ),
        ];
        for (spawn, want) in cases {
            assert_eq!(RunTarget::recorded(&spawn, "baton-1"), want);
        }
    }
}
