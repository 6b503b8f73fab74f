//! Starting an agent: argv only, its own process group, a clean signal state.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::Pid;

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
    pub child: Child,
    /// The leader's pid, which is also the pgid of the agent's process group.
    pub pid: Pid,
    /// Start time of the leader (see [`super::process_start_time`]).
    pub start_time: Option<u64>,
    /// The agent's stdin, when requested. Held by the session, never by `child`,
    /// because tokio closes a child's stdin when waiting on it.
    pub stdin: Option<ChildStdin>,
    /// The agent's stdout.
    pub stdout: ChildStdout,
    /// The agent's stderr.
    pub stderr: ChildStderr,
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
/// the agent unkillable by the polite path), and every inherited file
/// descriptor above 2 is closed at exec.
pub fn spawn(req: &SpawnRequest) -> Result<SpawnedChild, SpawnFailure> {
    let mut prepared = prepare(req)?;
    prepared
        .cmd
        .stdin(if req.stdin_pipe {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let program = prepared.program.clone();
    let (mut child, pid, resolved) = prepared.spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| missing_pipe(&program))?;
    let stderr = child.stderr.take().ok_or_else(|| missing_pipe(&program))?;
    let stdin = child.stdin.take();
    Ok(SpawnedChild {
        start_time: super::process_start_time(pid),
        child,
        pid,
        stdin,
        stdout,
        stderr,
        program: resolved,
    })
}

/// A command checked and built but not yet started: the part of a spawn that
/// pipe and PTY mode share. The caller adds stdio and the grouping (process
/// group or session), then calls [`Prepared::spawn`].
pub(super) struct Prepared {
    /// argv, workdir, environment, `kill_on_drop` and the child-state reset
    /// (the first `pre_exec` hook; later hooks run after it).
    pub(super) cmd: Command,
    /// argv[0] as given, for error messages.
    pub(super) program: String,
    /// The resolved program path.
    pub(super) resolved: PathBuf,
}

/// Checks the argv, the workdir and the program, and builds the command.
pub(super) fn prepare(req: &SpawnRequest) -> Result<Prepared, SpawnFailure> {
    let (program, args) = req.argv.split_first().ok_or(SpawnFailure::EmptyArgv)?;
    if !req.cwd.is_dir() {
        return Err(SpawnFailure::WorkdirMissing(req.cwd.clone()));
    }
    let resolved = resolve_program(program, &req.cwd, &req.env)?;

    let mut cmd = Command::new(&resolved);
    cmd.arg0(program)
        .args(args)
        .current_dir(&req.cwd)
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true);
    let conductor_pid = std::process::id() as libc::pid_t;
    // SAFETY: the closure only makes async-signal-safe calls (sigprocmask,
    // signal, prctl, getppid, syscall) and does not allocate.
    unsafe {
        cmd.pre_exec(move || reset_child_state(conductor_pid, true));
    }
    Ok(Prepared {
        cmd,
        program: program.clone(),
        resolved,
    })
}

impl Prepared {
    /// Starts the command. Consumes it, so any stdio handles the command
    /// holds (a PTY slave, pipe ends) are closed in the parent on return.
    pub(super) fn spawn(self) -> Result<(Child, Pid, PathBuf), SpawnFailure> {
        let Prepared {
            mut cmd,
            program,
            resolved,
        } = self;
        let child = cmd.spawn().map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => SpawnFailure::NotFound {
                program: program.clone(),
                searched: None,
            },
            std::io::ErrorKind::PermissionDenied => SpawnFailure::NotExecutable(resolved.clone()),
            _ => SpawnFailure::Os {
                program: program.clone(),
                source,
            },
        })?;
        drop(cmd);
        let pid = Pid(child.id().ok_or_else(|| SpawnFailure::Os {
            program,
            source: std::io::Error::other("child exited before its pid was read"),
        })?);
        Ok((child, pid, resolved))
    }
}

fn missing_pipe(program: &str) -> SpawnFailure {
    SpawnFailure::Os {
        program: program.to_owned(),
        source: std::io::Error::other("stdio pipe missing after spawn"),
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
) -> Result<(Child, Pid, Option<u64>), SpawnFailure> {
    let (program, args) = req.argv.split_first().ok_or(SpawnFailure::EmptyArgv)?;
    if !req.cwd.is_dir() {
        return Err(SpawnFailure::WorkdirMissing(req.cwd.clone()));
    }
    let resolved = resolve_program(program, &req.cwd, &req.env)?;
    let mut cmd = Command::new(&setup.shim);
    cmd.arg("--status").arg(&setup.status);
    if let Some(fifo) = &setup.stdin_fifo {
        cmd.arg("--stdin").arg(fifo);
    }
    let lock_fd = setup.lock.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    if lock_fd.is_some() {
        cmd.arg("--lock-fd").arg(SHIM_LOCK_FD.to_string());
    }
    let (stdout, stderr) = match setup.output {
        ShimOutput::Files { stdout, stderr } => (Stdio::from(stdout), Stdio::from(stderr)),
        ShimOutput::Rolling { out, err, limits } => {
            cmd.arg("--logs")
                .arg(out)
                .arg(err)
                .arg(limits.max_size.to_string())
                .arg(limits.keep.unwrap_or(0).to_string());
            (Stdio::null(), Stdio::null())
        }
    };
    cmd.arg("--exec")
        .arg(&resolved)
        .arg("--")
        .arg(program)
        .args(args)
        .current_dir(&req.cwd)
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(false)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    let conductor_pid = std::process::id() as libc::pid_t;
    // SAFETY: as in `prepare`.
    unsafe {
        cmd.pre_exec(move || reset_child_state(conductor_pid, false));
    }
    if let Some(fd) = lock_fd {
        // After `reset_child_state`, which marks every descriptor above
        // stderr close-on-exec. SAFETY: dup2 and fcntl, async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                let moved = if fd == SHIM_LOCK_FD {
                    // Already in place: only its close-on-exec goes.
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, SHIM_LOCK_FD)
                };
                if moved < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let prepared = Prepared {
        cmd,
        program: program.clone(),
        resolved,
    };
    let (child, pid, _) = prepared.spawn()?;
    Ok((child, pid, super::process_start_time(pid)))
}

/// Runs in the child between fork and exec. With `pdeath`, the child gets
/// SIGTERM when the conductor dies.
fn reset_child_state(conductor_pid: libc::pid_t, pdeath: bool) -> std::io::Result<()> {
    // SAFETY: async-signal-safe libc calls on locals only.
    unsafe {
        // If the conductor dies without a shutdown (SIGKILL, OOM), the agent
        // gets SIGTERM instead of running on unsupervised. The signal follows
        // the forking *thread*; baton forks on its spawner thread, which lives
        // as long as the process (see `spawner`). Recovery of what remains
        // (grandchildren, agents ignoring SIGTERM) belongs to the next conductor.
        if pdeath {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
        }
        if libc::getppid() != conductor_pid {
            // The conductor died between fork and prctl.
            return Err(std::io::Error::other("conductor exited during spawn"));
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        // Mark (not close) every fd above stderr close-on-exec: std's own
        // exec-error pipe must stay open until exec.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        );
    }
    Ok(())
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
