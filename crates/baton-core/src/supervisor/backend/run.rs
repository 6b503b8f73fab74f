//! What a backend is asked to run and what it answers: the run request,
//! the checks before a start, and what a `spawn` or `recovered` record
//! states of a run.

use std::path::{Path, PathBuf};

use baton_config::SessionId;

use super::StartError;
use crate::proc::{self, Pid};
use crate::state::Missing;

/// One run of one session, resolved by the conductor: what a backend
/// starts. Read-only for a backend; the conductor builds it.
#[non_exhaustive]
#[derive(Debug)]
pub struct RunRequest {
    /// The session.
    pub id: SessionId,
    /// Which run of the session this is (1 for the first).
    pub attempt: u32,
    /// The run's [`proc::RUN_MARK`] for a local run: what carries it after
    /// the run ended is ended too (`None`: a remote run). A backend that
    /// starts local processes puts it in their environment.
    pub mark: Option<String>,
    /// The end-of-run token of this session's last run whose `spawn` is
    /// on record (a tmux or remote run): a pane left with another token
    /// is a run no record knows.
    pub recorded_marker: Option<String>,
    /// A conductor that died may have started this very attempt without
    /// recording it (its `spawn` record was not yet on disk): a backend
    /// whose runs end with their conductor ends what carries [`Self::mark`]
    /// before it starts anything. (A run that outlives its conductor is
    /// taken over instead.)
    pub(crate) sweep_first: bool,
    /// The exact argv to execute (no shell).
    pub argv: Vec<String>,
    /// The argv as the `spawn` record states it: the prompt replaced by its
    /// length and hash unless `[conductor] log_input` (`None`: as `argv`).
    pub logged_argv: Option<Vec<String>>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Environment to add. Values may be secrets: never log them.
    pub env: Vec<(String, String)>,
    /// The agent's stdin is a pipe baton writes answers into (else `/dev/null`).
    pub stdin_pipe: bool,
    /// The session's stdout log: a backend appends the agent's stdout to it
    /// (or has the agent write there) and reports offsets into it.
    pub out_path: PathBuf,
    /// The session's stderr log.
    pub err_path: PathBuf,
    /// When the logs a backend writes itself roll over into segments, and
    /// how many they keep ([`crate::seglog`]).
    pub log_limits: crate::seglog::Limits,
    /// Run on a pseudo-terminal of this size instead of pipes (`pty`).
    pub pty: Option<proc::PtySize>,
    /// For a remote run: the workdir on the host as the spec gives it
    /// (`None`: the login directory).
    pub remote_workdir: Option<PathBuf>,
    /// Refuse to start on `main`/`master` ([`RunRequest::preflight`]).
    pub(crate) branch_guard: bool,
    /// What the agent needs of its own configuration (codex's profile and
    /// MCP servers), checked before each run.
    pub(crate) agent_check: Option<baton_agents::Preflight>,
}

impl RunRequest {
    /// The checks every local backend makes before it starts anything: the
    /// branch guard, and the agent's own configuration (a failure there
    /// would look like a crash and be restarted for nothing).
    pub async fn preflight(&self) -> Result<(), StartError> {
        if self.branch_guard {
            branch_guard(&self.cwd).await?;
        }
        if let Some(problem) = self.agent_check.as_ref().and_then(|c| c.problem()) {
            return Err(StartError::Failed {
                missing: Missing::CodexConfig,
                message: problem,
            });
        }
        Ok(())
    }

    /// What a run of this request executes, as its `spawn` record states
    /// it (prompt hidden, env keys only), for a run outside tmux.
    pub fn launch(&self) -> Launch {
        Launch::of(self, None)
    }
}

/// Refuses a workdir whose checkout is on `main` or `master`.
pub(crate) async fn branch_guard(cwd: &Path) -> Result<(), StartError> {
    let refuse = |message| StartError::Failed {
        missing: Missing::BranchGuard,
        message,
    };
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(cwd)
        .args(["symbolic-ref", "--quiet", "--short", "HEAD"])
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(out) if out.status.success() => {
            let branch = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if branch == "main" || branch == "master" {
                Err(refuse(format!(
                    "branch_guard: workdir `{}` is on branch `{branch}`; refusing to start an agent there",
                    cwd.display()
                )))
            } else {
                Ok(())
            }
        }
        // Detached HEAD or not a repository: not on main/master.
        Ok(_) => Ok(()),
        Err(e) => Err(refuse(format!(
            "branch_guard: cannot run git to check the branch of `{}`: {e}",
            cwd.display()
        ))),
    }
}

/// What a run executed, as the `spawn` record states it.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Launch {
    /// The argv, its prompt hidden unless `[conductor] log_input`.
    pub argv: Vec<String>,
    /// The working directory.
    pub workdir: String,
    /// Names of the variables baton set, each once, in first-set order; never values.
    pub env_keys: Vec<String>,
    /// The tmux server and session of a run in a pane.
    pub tmux: Option<crate::eventlog::TmuxTarget>,
    /// The run's leader is `baton-shim`.
    pub shim: bool,
    /// The inventory host of a remote run.
    pub host: Option<String>,
}

impl Launch {
    pub(crate) fn of(req: &RunRequest, tmux: Option<crate::eventlog::TmuxTarget>) -> Launch {
        let mut env_keys: Vec<String> = Vec::with_capacity(req.env.len());
        for (key, _) in &req.env {
            if !env_keys.contains(key) {
                env_keys.push(key.clone());
            }
        }
        Launch {
            argv: req.logged_argv.clone().unwrap_or_else(|| req.argv.clone()),
            workdir: req.cwd.display().to_string(),
            env_keys,
            tmux,
            shim: false,
            host: None,
        }
    }
}

/// A process a backend started: what the `spawn` record states.
#[derive(Debug)]
pub struct Spawned {
    /// The leader: a process of this machine whose group holds the run,
    /// or (on a remote host) the pane's process there.
    pub pid: Pid,
    /// Its start time in clock ticks since boot, to know it again later.
    /// `None` when `pid` is no process of this machine: a later conductor
    /// then never signals it.
    pub start_time: Option<u64>,
    /// Where its stdout begins in the session's stdout log.
    pub out_offset: u64,
    /// Where its stderr begins in the session's stderr log.
    pub err_offset: u64,
    /// What was executed.
    pub launch: Launch,
}

/// What became of a run an earlier conductor started, when this one took it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveredOutcome {
    /// Still running: watched again.
    Readopted,
    /// It ended while no conductor watched; how it ended is known.
    Exited,
}

impl RecoveredOutcome {
    /// The `outcome` of the `recovered` record.
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveredOutcome::Readopted => "readopted",
            RecoveredOutcome::Exited => "exited",
        }
    }
}

/// A run an earlier conductor started, as its `spawn` record tells it:
/// what a backend is given to take it over or to end what it left.
#[derive(Clone, Debug)]
pub struct RecordedRun {
    /// The recorded leader pid.
    pub pid: u32,
    /// Its recorded start time (`None`: not a process of this machine, or
    /// not known).
    pub start_time: Option<u64>,
    /// Where the run's stdout begins in the stdout log.
    pub out_offset: u64,
    /// Where its stderr begins in the stderr log.
    pub err_offset: u64,
    /// The run had produced output (it was past `starting`).
    pub acknowledged: bool,
    /// Token of the shim's end-of-run marker in a tmux pane (absent for
    /// runs of older baton versions, whose pane ran the agent directly).
    pub marker: Option<String>,
}

impl RecordedRun {
    /// Whether the recorded pid is still the recorded process: one whose
    /// start time no longer matches belongs to someone else now and is
    /// never signalled.
    pub fn same_process(&self) -> bool {
        self.start_time.is_none() || proc::process_start_time(Pid(self.pid)) == self.start_time
    }
}
