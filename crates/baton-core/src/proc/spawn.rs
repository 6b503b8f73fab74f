//! Starting an agent: argv only, its own process group, a clean signal state.

use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::net::unix::pipe;

use super::Pid;
use super::launch::{AgentProcess, Grouping, LaunchError, Plan, Step, launch};

/// What to start and where. The argv is executed directly; no shell is involved.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// Program and arguments. `argv[0]` is looked up on `PATH` unless it contains a `/`.
    pub argv: Vec<String>,
    /// Working directory; must exist.
    pub cwd: PathBuf,
    /// Variables added to (or replacing in) the inherited environment.
    pub env: Vec<(String, String)>,
    /// Whether the agent gets a stdin pipe (kept open for answers) or `/dev/null`.
    pub stdin_pipe: bool,
}

/// A running agent: the leader process and the pipes baton reads.
#[derive(Debug)]
pub struct SpawnedChild {
    /// Handle used to wait for the leader's exit.
    pub child: AgentProcess,
    /// The leader's pid, which is also the pgid of the agent's process group.
    pub pid: Pid,
    /// Start time of the leader (see [`super::process_start_time`]).
    pub start_time: Option<u64>,
    /// The agent's stdin, when requested.
    pub stdin: Option<pipe::Sender>,
    /// The agent's stdout.
    pub stdout: pipe::Receiver,
    /// The agent's stderr.
    pub stderr: pipe::Receiver,
    /// The resolved program path.
    pub program: PathBuf,
}

/// Why an agent could not be started. Retrying cannot fix any of these.
#[derive(Debug, thiserror::Error)]
pub enum SpawnFailure {
    /// The program was not found.
    #[error("program `{program}` not found{}", where_searched(.searched))]
    NotFound {
        /// The program as given in `argv[0]`.
        program: String,
        /// The PATH that was searched, when `argv[0]` had no `/`.
        searched: Option<String>,
    },
    /// The program exists but cannot be executed.
    #[error("program `{}` is not executable", .0.display())]
    NotExecutable(PathBuf),
    /// The working directory does not exist or is not a directory.
    #[error("workdir `{}` does not exist or is not a directory", .0.display())]
    WorkdirMissing(PathBuf),
    /// The argv was empty.
    #[error("empty command: nothing to run")]
    EmptyArgv,
    /// The kernel refused the spawn for another reason.
    #[error("spawning `{program}` failed: {source}")]
    Os {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

fn where_searched(searched: &Option<String>) -> String {
    match searched {
        Some(path) => format!(" on PATH ({path})"),
        None => String::new(),
    }
}

impl SpawnFailure {
    /// Short machine-readable name of what is missing: `binary`, `workdir`, …
    pub fn missing(&self) -> crate::state::Missing {
        use crate::state::Missing;
        match self {
            SpawnFailure::NotFound { .. } => Missing::Binary,
            SpawnFailure::NotExecutable(_) => Missing::Permission,
            SpawnFailure::WorkdirMissing(_) => Missing::Workdir,
            SpawnFailure::EmptyArgv => Missing::Command,
            SpawnFailure::Os { .. } => Missing::Os,
        }
    }
}

/// Resolves argv[0] the way `execvp` would, so a missing binary is reported
/// by name before anything is forked.
fn resolve_program(
    program: &str,
    cwd: &Path,
    env: &[(String, String)],
) -> Result<PathBuf, SpawnFailure> {
    if program.contains('/') {
        // Relative paths are relative to the agent's workdir, as for execvp after chdir.
        let path = cwd.join(program);
        return check_executable(&path).map(|()| path).map_err(|e| match e {
            None => SpawnFailure::NotFound {
                program: program.to_owned(),
                searched: None,
            },
            Some(p) => SpawnFailure::NotExecutable(p),
        });
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| OsString::from(v))
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut not_executable = None;
    for dir in std::env::split_paths(&path_var) {
        let candidate = dir.join(program);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(Some(p)) => not_executable = not_executable.or(Some(p)),
            Err(None) => {}
        }
    }
    Err(match not_executable {
        Some(p) => SpawnFailure::NotExecutable(p),
        None => SpawnFailure::NotFound {
            program: program.to_owned(),
            searched: Some(path_var.to_string_lossy().into_owned()),
        },
    })
}

/// `Ok` if `path` is an executable regular file; `Err(None)` if it does not
/// exist; `Err(Some(path))` if it exists but cannot be run.
fn check_executable(path: &Path) -> Result<(), Option<PathBuf>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(Some(path.to_owned())),
        Err(_) => Err(None),
    }
}

/// Starts `req` as the leader of a new process group.
///
/// The child gets default signal dispositions and an empty signal mask (an
/// ignored SIGTERM inherited from whoever started baton would otherwise make
/// the agent unkillable by the polite path), SIGTERM when the conductor
/// dies, and every inherited file descriptor above 2 is closed at exec.
/// Started without copying the conductor (see `launch`). Must be called
/// inside a tokio runtime, which watches the child and its pipes.
pub fn spawn(req: &SpawnRequest) -> Result<SpawnedChild, SpawnFailure> {
    let checked = check(req)?;
    let os = |e: rustix::io::Errno| checked.os(e.into());
    let (out_read, out_write) = pipe().map_err(os)?;
    let (err_read, err_write) = pipe().map_err(os)?;
    let (stdin_child, stdin_ours) = if req.stdin_pipe {
        let (read, write) = pipe().map_err(os)?;
        (read, Some(write))
    } else {
        (dev_null().map_err(os)?, None)
    };
    let mut child = checked.start(&Plan {
        program: &checked.resolved,
        argv: &os_argv(req),
        cwd: &req.cwd,
        env: &req.env,
        stdio: [stdin_child.as_fd(), out_write.as_fd(), err_write.as_fd()],
        extra: None,
        grouping: Grouping::NewGroup,
        parent_death: true,
    })?;
    child.kill_on_drop(true);
    // The child's ends close here: the parent keeps only its own.
    drop((stdin_child, out_write, err_write));
    let pid = child.pid();
    let io = |e: std::io::Error| checked.os(e);
    Ok(SpawnedChild {
        start_time: super::process_start_time(pid),
        child,
        pid,
        stdin: stdin_ours
            .map(pipe::Sender::from_owned_fd)
            .transpose()
            .map_err(io)?,
        stdout: pipe::Receiver::from_owned_fd(out_read).map_err(io)?,
        stderr: pipe::Receiver::from_owned_fd(err_read).map_err(io)?,
        program: checked.resolved,
    })
}

/// The request's argv, as `execve` takes it.
pub(super) fn os_argv(req: &SpawnRequest) -> Vec<OsString> {
    req.argv.iter().map(OsString::from).collect()
}

/// A pipe, both ends close-on-exec.
fn pipe() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
}

/// `/dev/null` to read, close-on-exec.
fn dev_null() -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// A request whose argv, workdir and program were checked: the part of a
/// start that pipes, PTY and shim share.
pub(super) struct Checked {
    /// argv[0] as given, for error messages.
    pub(super) program: String,
    /// The resolved program path.
    pub(super) resolved: PathBuf,
}

/// Checks the argv, the workdir and the program.
pub(super) fn check(req: &SpawnRequest) -> Result<Checked, SpawnFailure> {
    let program = req.argv.first().ok_or(SpawnFailure::EmptyArgv)?;
    if !req.cwd.is_dir() {
        return Err(SpawnFailure::WorkdirMissing(req.cwd.clone()));
    }
    let resolved = resolve_program(program, &req.cwd, &req.env)?;
    Ok(Checked {
        program: program.clone(),
        resolved,
    })
}

impl Checked {
    pub(super) fn os(&self, source: std::io::Error) -> SpawnFailure {
        SpawnFailure::Os {
            program: self.program.clone(),
            source,
        }
    }

    /// Starts `plan` (the checked program, or the shim that runs it) and
    /// says what went wrong as a spawn failure.
    pub(super) fn start(&self, plan: &Plan<'_>) -> Result<AgentProcess, SpawnFailure> {
        launch(plan).map_err(
            |LaunchError { step, error }| match (step, error.raw_os_error()) {
                (Step::Exec, Some(libc::ENOENT)) => SpawnFailure::NotFound {
                    program: self.program.clone(),
                    searched: None,
                },
                (Step::Exec, Some(libc::EACCES)) => {
                    SpawnFailure::NotExecutable(plan.program.to_owned())
                }
                (Step::Workdir, _) => SpawnFailure::WorkdirMissing(plan.cwd.to_owned()),
                (step, _) => self.os(std::io::Error::new(
                    error.kind(),
                    format!("{}: {error}", step.describe()),
                )),
            },
        )
    }
}

/// Grows the pipe whose read end is `fd` to `bytes`: fewer wake-ups per byte when
/// an agent floods output. Best effort; the kernel may refuse (the per-user
/// pipe quota), which only costs speed. Every pipe's size counts against that
/// quota whether used or not, so callers grow only pipes that fill.
pub fn grow_pipe(fd: std::os::fd::RawFd, bytes: usize) {
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl on an fd the caller keeps open; failure is harmless.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, size);
    }
}

/// How a run under `baton-shim` is set up (see [`spawn_shim`]).
#[derive(Debug)]
pub struct ShimSetup {
    /// The `baton-shim` executable.
    pub shim: PathBuf,
    /// Where the shim records the agent's exit status.
    pub status: PathBuf,
    /// A FIFO that becomes the agent's stdin (else `/dev/null`).
    pub stdin_fifo: Option<PathBuf>,
    /// Where the agent's stdout and stderr go.
    pub output: ShimOutput,
    /// The run's lock file, locked (`flock`) by the caller: the shim
    /// inherits it as fd 3 and holds it while the run lasts, so the next
    /// conductor knows the run is there even if its `spawn` record never
    /// reached the log.
    pub lock: Option<std::fs::File>,
}

/// Where a run under the shim writes its output.
#[derive(Debug)]
pub enum ShimOutput {
    /// Straight into the session's logs (opened in append mode): logs that
    /// never roll over.
    Files {
        /// The output log.
        stdout: std::fs::File,
        /// The error log.
        stderr: std::fs::File,
    },
    /// Through pipes to the shim's log writers, which roll the logs over
    /// (`baton-shim --logs`).
    Rolling {
        /// The output log.
        out: PathBuf,
        /// The error log.
        err: PathBuf,
        /// When they roll over and what they keep.
        limits: crate::seglog::Limits,
    },
}

/// The descriptor the shim finds its run's lock file on (`--lock-fd`).
pub const SHIM_LOCK_FD: i32 = 3;

/// Starts `req` under `baton-shim`, as the leader of a new process group
/// that outlives the conductor: the agent's output reaches the logs
/// without the conductor (no byte waits in a pipe for a conductor that may
/// be gone; see [`ShimOutput`]), the
/// shim waits for it and records its status, and a later conductor can
/// adopt the run. The agent's argv, workdir and program are checked here
/// exactly as for [`spawn`]; the returned pid is the shim's.
pub fn spawn_shim(
    req: &SpawnRequest,
    setup: ShimSetup,
) -> Result<(AgentProcess, Pid, Option<u64>), SpawnFailure> {
    let checked = check(req)?;
    let os = |e: rustix::io::Errno| checked.os(e.into());
    let mut argv: Vec<OsString> = vec![setup.shim.clone().into(), "--status".into()];
    argv.push(setup.status.clone().into());
    if let Some(fifo) = &setup.stdin_fifo {
        argv.extend(["--stdin".into(), fifo.clone().into()]);
    }
    if setup.lock.is_some() {
        argv.extend(["--lock-fd".into(), SHIM_LOCK_FD.to_string().into()]);
    }
    let null = dev_null().map_err(os)?;
    let (stdout, stderr) = match &setup.output {
        ShimOutput::Files { stdout, stderr } => (stdout.as_fd(), stderr.as_fd()),
        ShimOutput::Rolling { out, err, limits } => {
            argv.extend([
                "--logs".into(),
                out.clone().into(),
                err.clone().into(),
                limits.max_size.to_string().into(),
                limits.keep.unwrap_or(0).to_string().into(),
            ]);
            (null.as_fd(), null.as_fd())
        }
    };
    argv.extend([
        "--exec".into(),
        checked.resolved.clone().into(),
        "--".into(),
    ]);
    argv.extend(os_argv(req));
    let child = checked.start(&Plan {
        program: &setup.shim,
        argv: &argv,
        cwd: &req.cwd,
        env: &req.env,
        stdio: [null.as_fd(), stdout, stderr],
        extra: setup.lock.as_ref().map(|lock| (lock.as_fd(), SHIM_LOCK_FD)),
        grouping: Grouping::NewGroup,
        // The shim outlives the conductor by design.
        parent_death: false,
    })?;
    let pid = child.pid();
    Ok((child, pid, super::process_start_time(pid)))
}

/// Raises the soft limit on open files to the hard limit. Each session holds
/// about five descriptors (three pipes, two log files), so the common default
/// of 1024 would stop a conductor near 200 sessions. Returns the new limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(lim.rlim_cur as u64)
    }
}
