//! The OS seam: spawning agents in their own process group (on pipes or a
//! PTY), signalling whole groups and telling when a group is empty; the
//! `baton-shim` protocol (status file, end-of-run marker); tmux and ssh as
//! commands (`tmux`, `ssh`, the per-host output feed); and inotify.
//!
//! The run backends (`supervisor::backend`) reach processes only through
//! these functions and see only [`Pid`], [`Signal`] and [`ExitStatus`]. The
//! few other kernel calls in the crate are file and identity calls (a FIFO,
//! the uid). Nothing here runs a local shell: agents are started from an
//! argv, and every word sent to a remote shell is quoted.

mod envfile;
mod group;
mod launch;
mod pty;
pub mod remote_feed;
mod shim;
mod spawn;
mod spawner;
pub mod ssh;
mod terminal;
mod tmux;
mod watch;

pub use envfile::{EnvPair, export_lines, parse_env_file, write_env_file};
pub use group::{
    RUN_MARK, group_is_empty, live_children, note_run_leader, process_start_time, signal_group,
    sweep_strays, wait_group_empty,
};
pub use launch::AgentProcess;
pub use pty::{PtyChild, PtyReader, PtySize, PtyWriter, resize_pty, spawn_pty};
pub use shim::{
    MarkerScanner, SHIM_IDENTITY, SHIM_NAME, ShimNotFound, parse_status, read_status, shim_path,
};
pub use spawn::{
    SHIM_LOCK_FD, ShimOutput, ShimSetup, SpawnFailure, SpawnRequest, SpawnedChild, grow_pipe,
    raise_fd_limit, spawn, spawn_shim,
};
pub use spawner::{spawn_async, spawn_pty_async, spawn_shim_async};
pub use terminal::foreground_reads;
pub use tmux::{PaneStatus, TmuxError, TmuxServer, pipe_done_marker};
pub use watch::{ExitWatch, FileWatch};

use serde::{Deserialize, Serialize};

/// Writes `bytes` to `path` whole or not at all, private to this user:
/// a file beside it (`<path>.<pid>`, mode 0600) written, synced and then
/// renamed over `path`.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_data()?;
    std::fs::rename(&tmp, path)
}

/// The [`RUN_MARK`] value of run `attempt` of session `id` of the conductor
/// whose logs are in `logs_dir`: the same for whichever conductor of that
/// logs dir asks, so the next one can end what a run of an earlier one left.
pub fn run_mark(logs_dir: &std::path::Path, id: &str, attempt: u32) -> String {
    format!(
        "{}.{id}.{attempt}",
        TmuxServer::for_logs_dir(logs_dir).name()
    )
}

/// A process id, also used for process-group ids (a group leader's pgid is its pid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pid(pub u32);

impl std::fmt::Display for Pid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The signals baton sends to agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    /// Polite request to stop; agents get `grace` to honour it.
    Term,
    /// Cannot be caught; sent when the grace period is over.
    Kill,
    /// Interrupt, as from a terminal.
    Int,
}

impl Signal {
    fn to_rustix(self) -> rustix::process::Signal {
        match self {
            Signal::Term => rustix::process::Signal::TERM,
            Signal::Kill => rustix::process::Signal::KILL,
            Signal::Int => rustix::process::Signal::INT,
        }
    }

    /// Conventional name without the `SIG` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Int => "INT",
        }
    }
}

/// How a process ended: an exit code, or the number of the signal that ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code, when the process called `exit`.
    pub code: Option<i32>,
    /// Signal number, when a signal ended the process.
    pub signal: Option<i32>,
}

impl ExitStatus {
    /// True for exit code 0 without a signal: the only status that completes a session.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.signal.is_none()
    }
}

impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        ExitStatus {
            code: status.code(),
            signal: status.signal(),
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}"),
            (None, Some(sig)) => write!(f, "signal {sig}"),
            (None, None) => f.write_str("unknown status"),
        }
    }
}
