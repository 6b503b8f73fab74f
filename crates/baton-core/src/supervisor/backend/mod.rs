//! Where and how a run's process lives: the seam between the run driver and
//! the operating system, tmux or a remote host.
//!
//! A backend starts (or adopts) a run, turns what its process does into
//! [`Observation`]s, delivers signals and input, cleans up at the end, and
//! ends what a run left when an earlier conductor recorded its exit but
//! died before finishing it. It decides nothing: deadlines, termination,
//! payload and reports are the driver's (`super::driver`). Where a run
//! lives is one tagged [`RunTarget`], chosen, recovered and dispatched on
//! here and nowhere else. Each backend is one file:
//!
//! | backend | process | output | end |
//! |---|---|---|---|
//! | [`pipes`] | our child, pipes or a PTY | read from the pipes, written to the logs | `wait`, group empty, pipes drained |
//! | [`shim`] | `baton-shim`, outlives the conductor | the agent writes the logs itself; followed | shim's status file, group empty |
//! | [`tmux`] | `baton-shim` in a tmux pane | `pipe-pane` writes the log; followed | the shim's marker in the log |
//! | [`remote`] | `sh` wrapper in a tmux pane on a host | fetched over ssh, written to the log | the done token |

pub(crate) mod pipes;
pub(crate) mod remote;
pub(crate) mod shim;
pub(crate) mod tmux;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use crate::proc::remote_feed::HostFeed;
use crate::proc::{ExitStatus, Pid, Signal, TmuxServer};
use crate::state::Missing;

pub(crate) use super::driver::Spawned;
use super::driver::{RecoveredOutcome, RunConfig};
use shim::Adopt;

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
}

impl RunTarget {
    /// Where a run of `spec` goes: on `host` when it was placed on one,
    /// else by its backend — `pipes` detached under the shim when the
    /// conductor runs `detach`ed (a daemon).
    pub(crate) fn of(spec: &baton_config::SessionSpec, host: Option<&str>, detach: bool) -> Self {
        match (host, spec.backend) {
            (Some(host), _) => RunTarget::Remote {
                host: host.to_owned(),
            },
            (None, baton_config::Backend::Tmux) => RunTarget::Tmux,
            (None, baton_config::Backend::Pipes) if detach => RunTarget::Shim,
            (None, _) => RunTarget::Pipes,
        }
    }

    /// Whether a run on it outlives its conductor, so that the next one
    /// can take it over.
    pub(crate) fn outlives_conductor(&self) -> bool {
        !matches!(self, RunTarget::Pipes)
    }

    /// Ends what the recorded run `run` (its exit recorded, its end not
    /// finished by a conductor that died) left at `site`, so that its log
    /// holds the agent's bytes only and nothing of it lingers.
    pub(crate) async fn end_recorded(&self, site: Site, run: &Adopt, out_path: &Path) {
        match self {
            RunTarget::Pipes => pipes::Pipes::end_recorded(site, run, out_path).await,
            RunTarget::Shim => shim::Shim::end_recorded(site, run, out_path).await,
            RunTarget::Tmux => tmux::Tmux::end_recorded(site, run, out_path).await,
            RunTarget::Remote { .. } => remote::Remote::end_recorded(site, run, out_path).await,
        }
    }
}

/// What a backend is given to start or take over a run, besides its
/// [`RunConfig`]: the tmux server and session name its runs use (on the
/// run's host for a remote run), and, for a remote run, the host.
pub(crate) struct Site {
    /// This logs dir's tmux server (on the host, for a remote run).
    pub tmux: TmuxServer,
    /// The session's tmux session name.
    pub session: String,
    /// The inventory name of the host and its output fetcher.
    pub host: Option<(String, Arc<HostFeed>)>,
}

/// Which of the agent's streams a chunk of output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// What a backend saw, one thing at a time.
pub(crate) enum Observation<'a> {
    /// Bytes of output, already in the session's log.
    Output { stream: Stream, bytes: &'a [u8] },
    /// The agent ended. Output it wrote before is observed first.
    Exited(ExitStatus),
    /// A wake-up with nothing new for the driver.
    Idle,
    /// Nothing of the run is left: the group is empty and every byte of
    /// output has been observed.
    Settled,
    /// The remote host stopped answering: the run ends without touching it.
    Unreachable(String),
    /// What the backend observes is gone with the conductor: the run ends
    /// without a report.
    Detached,
}

/// What is left after the agent ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leftovers {
    /// Nothing of its group.
    None,
    /// Processes of its group still run; the driver ends them.
    Some,
}

/// What became of a signal.
#[derive(Debug)]
pub(crate) enum Delivery {
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
pub(crate) enum RunEnd {
    /// The backend said the run is settled.
    Settled,
    /// The remote host stopped answering.
    Unreachable,
}

/// What the conductor's going away means for a run of this backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnConductorGone {
    /// The process lives inside the conductor's care (its pipes or PTY):
    /// end it as if asked to.
    Terminate,
    /// The process outlives the conductor (shim, tmux, remote): stop
    /// watching and touch nothing, so the next conductor adopts it.
    Detach,
}

/// How a run began.
pub(crate) enum Begun {
    /// A new process.
    Spawned(Box<Spawned>),
    /// A run an earlier conductor started, taken over.
    Adopted {
        pid: Pid,
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
pub(crate) enum StartError {
    /// Retrying cannot help: `missing` says what to fix.
    Failed { missing: Missing, message: String },
    /// The remote host did not answer: retry once it does.
    Unreachable(String),
}

impl StartError {
    pub(crate) fn failed(missing: Missing, message: impl Into<String>) -> StartError {
        StartError::Failed {
            missing,
            message: message.into(),
        }
    }
}

/// Why input did not reach the agent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InputError {
    #[error("this session's stdin is not a pipe (stdin = \"null\")")]
    NoStdin,
    #[error("the agent's stdin is closed")]
    Closed,
    #[error("cannot open the agent's stdin {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("writing to the agent's stdin failed: {0}")]
    Write(std::io::Error),
    #[error("the agent did not read its stdin within 5 s")]
    Timeout,
    #[error("the agent's stdin writer stopped")]
    WriterGone,
    #[error("the run it was sent to has ended")]
    RunEnded,
    #[error("the agent has not started yet (its worktree's setup command is running)")]
    NotStarted,
    #[error("{0}")]
    Tmux(#[from] crate::proc::TmuxError),
}

/// Input on its way to the agent; resolves once written (or refused).
pub(crate) type InputDelivery = Pin<Box<dyn Future<Output = Result<(), InputError>> + Send>>;

/// One way of running an agent. The driver calls [`Backend::observe`] in a
/// loop, inside a `select!` with control requests and deadlines.
pub(crate) trait Backend: Send + Sized {
    /// Starts run `cfg` at `site` or, with `resume`, takes over the run an
    /// earlier conductor recorded. A run this conductor's predecessor
    /// started but did not record is found and taken over here too.
    fn start(
        cfg: &RunConfig,
        site: Site,
        resume: Option<Adopt>,
    ) -> impl Future<Output = Result<(Self, Begun), StartError>> + Send;

    /// Ends what a recorded run left (see [`RunTarget::end_recorded`]).
    fn end_recorded(site: Site, run: &Adopt, out_path: &Path) -> impl Future<Output = ()> + Send;

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

    /// After the loop ended: cleans up and returns the output observed on
    /// the way (already in the log, not yet reported). `terminating` says
    /// whether a stop was asked for.
    fn finish(&mut self, end: RunEnd, terminating: bool) -> impl Future<Output = Vec<u8>> + Send;

    /// What the conductor's going away means for this run.
    fn on_conductor_gone(&self) -> OnConductorGone;
}

/// Bytes for an input writer task, and where to say how writing went.
pub(crate) type StdinJob = (
    Vec<u8>,
    tokio::sync::oneshot::Sender<Result<(), InputError>>,
);

/// Hands `bytes` to the input writer task `writer` (`None`: no input, for
/// `missing`); resolves once the task wrote them.
pub(crate) fn queue_input(
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

/// Signals process group `pid`, if it is still ours.
pub(crate) fn signal_group(pid: Pid, ours: bool, signal: Signal) -> Delivery {
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
    use super::RunTarget;
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
        ];
        for (backend, host, detach, want) in cases {
            let target = RunTarget::of(&spec(backend), host, detach);
            assert_eq!(target, want, "{backend} {host:?} {detach}");
            assert_eq!(target.outlives_conductor(), want != RunTarget::Pipes);
        }
    }
}
