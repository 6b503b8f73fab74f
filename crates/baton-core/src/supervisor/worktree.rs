//! The step before a run of a session with `worktree`: its worktree made
//! ready (made on the first run, with its setup command; found again on
//! every later one) and the run moved into it.
//!
//! The setup command may take minutes (`npm ci`), so it runs inside the
//! run's task and answers the supervisor while it does: a kill stops it
//! (the half-made worktree is removed, since no agent ran in it), input is
//! refused, a conductor that goes away takes it along.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use baton_config::WorktreeSpec;
use tokio::sync::mpsc;

use super::backend::{InputError, StartError};
use super::driver::{Report, RunConfig, RunCtl, RunMsg, UNKNOWN};
use super::termination::KillReason;
use crate::proc::{self, Pid, Signal};
use crate::state::Missing;
use crate::worktree;

/// What a run of a session with `worktree` needs to find or make it.
#[derive(Clone, Debug)]
pub(crate) struct WorktreePlan {
    pub spec: WorktreeSpec,
    /// [`worktree::owner_tag`] of this session and logs dir.
    pub owner: String,
}

/// What became of the step.
pub(crate) enum Entered {
    /// The run goes on (in its worktree, when it has one).
    Go,
    /// The worktree could not be made ready: a `spawn_error`.
    Refused(StartError),
    /// Stopped during setup; what the supervisor needs was reported.
    Stopped,
}

/// Makes the run's worktree ready and points `cfg.run.cwd` into it. `fresh`
/// is false for a run taken over from an earlier conductor, which already
/// runs where it runs.
pub(crate) async fn enter(
    cfg: &mut RunConfig,
    report: &Report,
    ctl: &mut mpsc::UnboundedReceiver<RunCtl>,
    fresh: bool,
) -> Entered {
    let Some(plan) = cfg.worktree.clone().filter(|_| fresh) else {
        return Entered::Go;
    };
    let prepared = match worktree::prepare(&cfg.run.id, &plan.spec, &cfg.run.cwd, &plan.owner).await
    {
        Ok(p) => p,
        Err(e) => {
            let missing = if e.workdir_missing {
                Missing::Workdir
            } else {
                Missing::Worktree
            };
            return Entered::Refused(StartError::failed(missing, e.message));
        }
    };
    if prepared.created {
        let setup = match &plan.spec.setup {
            Some(argv) => run_setup(argv, &prepared.cwd, cfg, report, ctl).await,
            None => Setup::Done,
        };
        let problem = match setup {
            Setup::Done => worktree::setup_done(&prepared, &plan.owner)
                .await
                .err()
                .map(|e| e.message),
            Setup::Failed(message) => Some(message),
            Setup::Stopped { conductor_gone } => {
                let _ = worktree::rollback(&prepared).await;
                if !conductor_gone {
                    report(RunMsg::Finished {
                        status: UNKNOWN,
                        payload: None,
                        tail: Vec::new(),
                    });
                }
                return Entered::Stopped;
            }
        };
        if let Some(message) = problem {
            let _ = worktree::rollback(&prepared).await;
            return Entered::Refused(StartError::failed(Missing::Worktree, message));
        }
    }
    cfg.run.cwd = prepared.cwd.clone();
    report(RunMsg::Worktree(Box::new(prepared)));
    Entered::Go
}

enum Setup {
    Done,
    Failed(String),
    Stopped { conductor_gone: bool },
}

/// Runs `worktree.setup` in `cwd` with the session's environment, its
/// output appended to the session's logs.
async fn run_setup(
    argv: &[String],
    cwd: &Path,
    cfg: &RunConfig,
    report: &Report,
    ctl: &mut mpsc::UnboundedReceiver<RunCtl>,
) -> Setup {
    let shown = shell_words::join(argv);
    let open = |path: &PathBuf| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    };
    let (out, err) = match (open(&cfg.run.out_path), open(&cfg.run.err_path)) {
        (Ok(out), Ok(err)) => (out, err),
        (Err(e), _) | (_, Err(e)) => {
            return Setup::Failed(format!("cannot open the session's logs for setup: {e}"));
        }
    };
    let err_start = err.metadata().map(|m| m.len()).unwrap_or(0);
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(cwd)
        .envs(cfg.run.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Setup::Failed(format!(
                "worktree setup `{shown}` could not start in `{}`: {e}",
                cwd.display()
            ));
        }
    };
    let group = child.id().map(Pid);
    let end_group = |signal| {
        if let Some(pgid) = group {
            let _ = proc::signal_group(pgid, signal);
        }
    };
    loop {
        tokio::select! {
            status = child.wait() => {
                // Whatever it left running in its group goes with it.
                end_group(Signal::Kill);
                return match status {
                    Ok(s) if s.success() => Setup::Done,
                    Ok(s) => Setup::Failed(format!(
                        "worktree setup `{shown}` {} in `{}`{}; its output is in the session's log",
                        describe(s),
                        cwd.display(),
                        last_line(&cfg.run.err_path, err_start)
                            .map(|l| format!(" (last line: {l})"))
                            .unwrap_or_default()
                    )),
                    Err(e) => Setup::Failed(format!("waiting for worktree setup `{shown}`: {e}")),
                };
            }
            request = ctl.recv() => match request {
                Some(RunCtl::Terminate { force }) => {
                    end_group(Signal::Term);
                    report(RunMsg::Signalled {
                        signal: Signal::Term,
                        reason: KillReason::Terminate,
                    });
                    let grace = if force { Duration::ZERO } else { cfg.grace };
                    if tokio::time::timeout(grace, child.wait()).await.is_err() {
                        end_group(Signal::Kill);
                        let _ = child.wait().await;
                    }
                    end_group(Signal::Kill);
                    return Setup::Stopped { conductor_gone: false };
                }
                Some(RunCtl::Input { reply, .. }) => {
                    let _ = reply.send(Err(InputError::NotStarted));
                }
                None => {
                    end_group(Signal::Kill);
                    let _ = child.wait().await;
                    return Setup::Stopped { conductor_gone: true };
                }
            },
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "failed".into(),
    }
}

/// The last non-blank line written to `path` after `from` (at most 200 characters).
fn last_line(path: &Path, from: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let start = from.max(len.saturating_sub(16 * 1024));
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}
