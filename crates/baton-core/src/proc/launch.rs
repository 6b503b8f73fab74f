//! Starting a process without copying the conductor: `clone(CLONE_VM |
//! CLONE_VFORK)`, the way `posix_spawn` starts one, with the steps
//! `posix_spawn` cannot take (the parent-death signal, a controlling
//! terminal, close-on-exec for every inherited descriptor).
//!
//! A `fork` copies the page tables of the whole conductor — with a thousand
//! sessions, most of a spawn's CPU — and every page either side then writes
//! is copied again. Here the child borrows the conductor's memory and a
//! stack of its own until it calls `execve`; the calling thread waits
//! meanwhile (`CLONE_VFORK`), with every signal blocked, so no handler of
//! the conductor ever runs on the borrowed memory. Everything the child
//! needs is prepared before the clone; the child only makes system calls,
//! and writes nothing but its error slot.
//!
//! The child is watched through a pidfd ([`AgentProcess`]) and reaped by
//! its own `waitpid`: nothing here uses tokio's `SIGCHLD` reaper.

use std::ffi::{CString, OsStr, OsString, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use super::{ExitWatch, Pid};

/// How the child is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Grouping {
    /// The leader of a new process group (`setpgid(0, 0)`).
    NewGroup,
    /// The leader of a new session whose controlling terminal is the one on
    /// its fd 0 (`setsid`, `TIOCSCTTY`).
    NewSessionOnTerminal,
}

/// Everything a start needs, owned by the parent for as long as the child
/// may read it.
pub(super) struct Plan<'a> {
    /// What `execve` runs: absolute, or relative to the conductor's
    /// working directory (it is made absolute before the child changes
    /// directory).
    pub program: &'a Path,
    /// argv, `argv[0]` as the agent should see it.
    pub argv: &'a [OsString],
    /// The working directory.
    pub cwd: &'a Path,
    /// Variables set on top of the conductor's environment, in order (a
    /// later one wins).
    pub env: &'a [(String, String)],
    /// The descriptors that become the child's fds 0, 1 and 2.
    pub stdio: [BorrowedFd<'a>; 3],
    /// One more descriptor placed at a fixed number, after every other is
    /// marked close-on-exec: `(from, to)`.
    pub extra: Option<(BorrowedFd<'a>, RawFd)>,
    /// Its group or session.
    pub grouping: Grouping,
    /// SIGTERM to the child when the thread that started it (baton's
    /// spawner, which lives as long as the process) exits.
    pub parent_death: bool,
}

/// Why a start failed: the step, and the system's error.
#[derive(Debug)]
pub(super) struct LaunchError {
    pub step: Step,
    pub error: io::Error,
}

/// The child's steps, in order; a failure names its step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(super) enum Step {
    /// Preparing in the parent (a NUL byte in an argument, no memory, clone).
    Prepare = 1,
    /// The parent-death signal, or the conductor died during the start.
    ParentDeath,
    /// Putting the descriptors on 0, 1 and 2.
    Stdio,
    /// Changing to the working directory.
    Workdir,
    /// `setpgid`, or `setsid` and the controlling terminal.
    Group,
    /// Placing the extra descriptor.
    Extra,
    /// `execve` itself.
    Exec,
}

impl Step {
    /// The step, in words, for an error message.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Step::Prepare => "preparing the start",
            Step::ParentDeath => "arming the parent-death signal",
            Step::Stdio => "placing stdin, stdout and stderr",
            Step::Workdir => "changing to the workdir",
            Step::Group => "making its process group",
            Step::Extra => "placing the lock descriptor",
            Step::Exec => "exec",
        }
    }

    fn from_raw(raw: c_int) -> Step {
        match raw {
            2 => Step::ParentDeath,
            3 => Step::Stdio,
            4 => Step::Workdir,
            5 => Step::Group,
            6 => Step::Extra,
            7 => Step::Exec,
            _ => Step::Prepare,
        }
    }
}

/// What the child reads, and its error slot. Plain data and raw pointers
/// into buffers the parent keeps alive across the clone.
#[repr(C)]
struct ChildArgs {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    stdio: [c_int; 3],
    extra_from: c_int,
    extra_to: c_int,
    new_session: bool,
    parent_death: bool,
    conductor: libc::pid_t,
    /// Written by the child before it gives up: the [`Step`] and `errno`.
    failed_step: c_int,
    failed_errno: c_int,
}

/// The child's stack, per thread: starts on one thread are sequential (the
/// thread waits for each child's `execve`), so one stack serves them all.
const STACK_SIZE: usize = 64 * 1024;

thread_local! {
    static STACK: std::cell::RefCell<Vec<u128>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Starts the plan's program; returns its pid once it runs the program
/// (`execve` succeeded), or why it did not (the child is reaped then).
pub(super) fn launch(plan: &Plan<'_>) -> Result<AgentProcess, LaunchError> {
    let prepare = |error: io::Error| LaunchError {
        step: Step::Prepare,
        error,
    };
    // Its end is watched in the caller's runtime: none, no start.
    tokio::runtime::Handle::try_current()
        .map_err(|_| prepare(io::Error::other("not inside a tokio runtime")))?;
    let program = std::path::absolute(plan.program).map_err(prepare)?;
    let program = c_string(program.as_os_str()).map_err(prepare)?;
    let cwd = c_string(plan.cwd.as_os_str()).map_err(prepare)?;
    let argv = plan
        .argv
        .iter()
        .map(|a| c_string(a))
        .collect::<io::Result<Vec<_>>>()
        .map_err(prepare)?;
    let envp = environment(plan.env).map_err(prepare)?;
    let argv_ptrs = null_terminated(&argv);
    let envp_ptrs = null_terminated(&envp);
    // A descriptor below 3 would be overwritten by a dup2 before its own.
    let (stdio, mut copies) = above_stdio(plan.stdio).map_err(prepare)?;
    let (extra_from, extra_to) = match plan.extra {
        Some((fd, to)) => (above(fd, &mut copies).map_err(prepare)?, to),
        None => (-1, -1),
    };
    let mut args = ChildArgs {
        program: program.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ptr(),
        stdio,
        extra_from,
        extra_to,
        new_session: plan.grouping == Grouping::NewSessionOnTerminal,
        parent_death: plan.parent_death,
        conductor: std::process::id() as libc::pid_t,
        failed_step: 0,
        failed_errno: 0,
    };
    let pid = STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        if stack.is_empty() {
            stack.resize(STACK_SIZE / size_of::<u128>(), 0);
        }
        let len = stack.len();
        // The stack grows down from its (16-byte aligned) end.
        // SAFETY: one past the end of the buffer, which is never read.
        let top = unsafe { stack.as_mut_ptr().add(len) }.cast::<c_void>();
        clone_vfork(top, &mut args)
    });
    let pid = pid.map_err(prepare)?;
    // The child has run the program or ended: CLONE_VFORK held this thread
    // until then, so its error slot is final.
    // SAFETY: plain reads of a local the child may have written before it ended.
    let (failed_step, failed_errno) = unsafe {
        (
            std::ptr::read_volatile(&args.failed_step),
            std::ptr::read_volatile(&args.failed_errno),
        )
    };
    if failed_step != 0 {
        reap_blocking(pid);
        return Err(LaunchError {
            step: Step::from_raw(failed_step),
            error: io::Error::from_raw_os_error(failed_errno),
        });
    }
    AgentProcess::watch(Pid(pid as u32)).map_err(|error| {
        // Nothing could ever tell its end: it does not stay.
        // SAFETY: our own child, not yet reaped, so the pid is still its.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        reap_blocking(pid);
        prepare(error)
    })
}

fn c_string(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{:?} holds a NUL byte", s.to_string_lossy()),
        )
    })
}

/// The conductor's environment with `env` set on top, as `NAME=value`.
fn environment(env: &[(String, String)]) -> io::Result<Vec<CString>> {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (name, value) in env {
        if name.is_empty() || name.contains('=') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a variable name"),
            ));
        }
        match vars
            .iter_mut()
            .find(|(k, _)| k.as_bytes() == name.as_bytes())
        {
            Some((_, v)) => *v = value.into(),
            None => vars.push((name.into(), value.into())),
        }
    }
    vars.into_iter()
        .map(|(mut name, value)| {
            name.push("=");
            name.push(value);
            c_string(&name)
        })
        .collect()
}

fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The raw numbers of `stdio`, each 3 or above (see [`above`]).
fn above_stdio(stdio: [BorrowedFd<'_>; 3]) -> io::Result<([c_int; 3], Vec<OwnedFd>)> {
    let (mut raw, mut copies) = ([0; 3], Vec::new());
    for (slot, fd) in raw.iter_mut().zip(stdio) {
        *slot = above(fd, &mut copies)?;
    }
    Ok((raw, copies))
}

/// The raw number of `fd`, or of a copy of it at 3 or above when it is
/// one of 0, 1 and 2 (the copy is kept in `copies`, to be closed after the
/// start).
fn above(fd: BorrowedFd<'_>, copies: &mut Vec<OwnedFd>) -> io::Result<c_int> {
    if fd.as_raw_fd() >= 3 {
        return Ok(fd.as_raw_fd());
    }
    let copy = rustix::io::fcntl_dupfd_cloexec(fd, 3)?;
    let raw = copy.as_raw_fd();
    copies.push(copy);
    Ok(raw)
}

/// Clones the calling thread into a child sharing its memory, with every
/// signal blocked around it; returns the child's pid once it has called
/// `execve` or ended.
fn clone_vfork(stack_top: *mut c_void, args: &mut ChildArgs) -> io::Result<libc::pid_t> {
    // SAFETY: sigfillset/pthread_sigmask on locals; clone with a stack we
    // own and a child that only makes system calls (see `child`); the
    // parent resumes only after the child's exec or exit (CLONE_VFORK), so
    // `args` and the stack outlive every use the child makes of them.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child,
            stack_top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (args as *mut ChildArgs).cast::<c_void>(),
        );
        let error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid == -1 { Err(error) } else { Ok(pid) }
    }
}

/// The child, on its own stack in the conductor's memory. Only system
/// calls: no allocation, no lock, nothing that can panic; on a failure it
/// writes its step and `errno` into `args` and ends with 127.
extern "C" fn child(arg: *mut c_void) -> c_int {
    let args = arg.cast::<ChildArgs>();
    // SAFETY: `arg` is the parent's `ChildArgs`, alive while the parent
    // waits; every pointer in it is to a live NUL-terminated buffer.
    unsafe {
        let fail = |step: Step| -> c_int {
            let errno = *libc::__errno_location();
            std::ptr::write_volatile(&raw mut (*args).failed_errno, errno);
            std::ptr::write_volatile(&raw mut (*args).failed_step, step as c_int);
            libc::_exit(127)
        };
        // Default dispositions: an ignored SIGTERM inherited from whoever
        // started baton would make the agent deaf to the polite stop.
        // (Only this child's table: CLONE_SIGHAND is not set.)
        for sig in 1..32 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        if (*args).parent_death {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return fail(Step::ParentDeath);
            }
            if libc::getppid() != (*args).conductor {
                // The conductor died before the signal was armed.
                *libc::__errno_location() = libc::ESRCH;
                return fail(Step::ParentDeath);
            }
        }
        // Every source is 3 or above (`above_stdio`).
        for (target, from) in (0..3).zip((*args).stdio) {
            if libc::dup2(from, target) == -1 {
                return fail(Step::Stdio);
            }
        }
        if libc::chdir((*args).cwd) == -1 {
            return fail(Step::Workdir);
        }
        if (*args).new_session {
            if libc::setsid() == -1 || libc::ioctl(0, libc::TIOCSCTTY, 0) == -1 {
                return fail(Step::Group);
            }
        } else if libc::setpgid(0, 0) == -1 {
            return fail(Step::Group);
        }
        // Marked, not closed: the extra descriptor is placed after.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        );
        let (from, to) = ((*args).extra_from, (*args).extra_to);
        if from >= 0 {
            let placed = if from == to {
                libc::fcntl(to, libc::F_SETFD, 0)
            } else {
                libc::dup2(from, to)
            };
            if placed == -1 {
                return fail(Step::Extra);
            }
        }
        let empty: libc::sigset_t = std::mem::zeroed();
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::execve((*args).program, (*args).argv, (*args).envp);
        fail(Step::Exec)
    }
}

/// Waits for a child that has ended or is about to.
fn reap_blocking(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a local status.
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

/// Reaps `pid` if it has ended; `None` while it runs.
fn try_reap(pid: Pid) -> io::Result<Option<std::process::ExitStatus>> {
    let mut status = 0;
    // SAFETY: waitpid on our own child with a local status.
    match unsafe { libc::waitpid(pid.0 as libc::pid_t, &mut status, libc::WNOHANG) } {
        0 => Ok(None),
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(Some(std::process::ExitStatus::from_raw(status))),
    }
}

/// Reaps `pid` once its pidfd says it ended.
async fn reaped(pid: Pid, exit: &ExitWatch) -> io::Result<std::process::ExitStatus> {
    exit.exited().await;
    // A readable pidfd is an ended process: its status is there.
    try_reap(pid)?.ok_or_else(|| io::Error::other("its pidfd said it ended; waitpid did not"))
}

/// A child started by [`launch`]: its end is seen through a pidfd, and it is
/// reaped here. Dropped before it ended, it is killed if asked
/// ([`AgentProcess::kill_on_drop`]) and reaped when it ends.
#[derive(Debug)]
pub struct AgentProcess {
    pid: Pid,
    exit: Option<ExitWatch>,
    status: Option<std::process::ExitStatus>,
    kill_on_drop: bool,
}

impl AgentProcess {
    /// Must be called inside a tokio runtime ([`launch`] checked it).
    fn watch(pid: Pid) -> io::Result<AgentProcess> {
        Ok(AgentProcess {
            pid,
            exit: Some(ExitWatch::new(pid)?),
            status: None,
            kill_on_drop: false,
        })
    }

    /// Its pid.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Sends SIGKILL when dropped before it ended.
    pub fn kill_on_drop(&mut self, kill: bool) {
        self.kill_on_drop = kill;
    }

    /// Waits for its end and reaps it. Cancel-safe.
    pub async fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        if let Some(status) = self.try_wait()? {
            return Ok(status);
        }
        let Some(exit) = &self.exit else {
            return Err(io::Error::other("the child's pidfd is gone"));
        };
        let status = reaped(self.pid, exit).await?;
        self.status = Some(status);
        Ok(status)
    }

    /// Its status if it has ended (reaping it), else `None`.
    pub fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        if self.status.is_none() {
            self.status = try_reap(self.pid)?;
        }
        Ok(self.status)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if self.status.is_some() || matches!(self.try_wait(), Ok(Some(_)) | Err(_)) {
            return;
        }
        if self.kill_on_drop {
            // SAFETY: our child, not yet reaped: the pid is still its.
            unsafe { libc::kill(self.pid.0 as libc::pid_t, libc::SIGKILL) };
        }
        // Reaped when it ends, by the runtime it was watched in; without
        // one (the process is ending), or if that runtime stops first, the
        // kernel's init reaps it later.
        let (Some(exit), Ok(runtime)) = (self.exit.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let pid = self.pid;
        runtime.spawn(async move {
            let _ = reaped(pid, &exit).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::time::Duration;

    use super::super::{SpawnFailure, SpawnRequest, spawn, spawn_async};

    fn sh(script: &str, cwd: PathBuf) -> SpawnRequest {
        SpawnRequest {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            cwd,
            env: vec![
                ("BATON_LAUNCH_TEST".into(), "first".into()),
                ("BATON_LAUNCH_TEST".into(), "second wins".into()),
            ],
            stdin_pipe: false,
        }
    }

    /// A zombie or a live process under `pid`.
    fn exists(pid: u32) -> bool {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    }

    /// What the agent starts with, read from /proc while it runs: its own
    /// group, its workdir, the environment, default dispositions, no blocked
    /// signal and no descriptor but 0, 1 and 2 — with the conductor's own
    /// state (an ignored and a blocked signal, open descriptors) left behind.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_agent_starts_clean_in_its_own_group_and_workdir() {
        let dir = tempfile::tempdir().unwrap();
        // Open across exec, as a descriptor a library of the conductor's might leave.
        let leaked = std::fs::File::open("/dev/null").unwrap();
        rustix::io::fcntl_setfd(&leaked, rustix::io::FdFlags::empty()).unwrap();
        let mut req = sh("", dir.path().to_owned());
        req.argv = vec!["sleep".into(), "30".into()];
        // The conductor ignores SIGUSR1 and blocks SIGUSR2 on the spawner thread.
        // SAFETY: changing this test process's dispositions and mask, restored below.
        let old = unsafe { libc::signal(libc::SIGUSR1, libc::SIG_IGN) };
        let child = tokio::task::spawn_blocking({
            let runtime = tokio::runtime::Handle::current();
            move || {
                let _in_runtime = runtime.enter();
                // SAFETY: a local set, this thread's mask.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGUSR2);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
                spawn(&req)
            }
        })
        .await
        .unwrap();
        // SAFETY: restoring what was there.
        unsafe { libc::signal(libc::SIGUSR1, old) };
        let child = child.expect("starts");
        // It runs `sleep` now: the start returns only after its exec.
        let pid = child.pid.0;
        let proc = |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).unwrap();
        let stat = String::from_utf8(proc("stat")).unwrap();
        let pgid = stat[stat.rfind(')').unwrap() + 2..].split(' ').nth(2);
        assert_eq!(pgid, Some(pid.to_string().as_str()), "{stat}");
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
        assert_eq!(cwd, std::fs::canonicalize(dir.path()).unwrap());
        let environ = proc("environ");
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        assert!(vars.contains(&&b"BATON_LAUNCH_TEST=second wins"[..]));
        assert!(vars.iter().any(|v| v.starts_with(b"PATH=")), "inherited");
        let status = String::from_utf8(proc("status")).unwrap();
        let mask = |name: &str| {
            let line = status.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split('\t').nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk:"), 0, "{status}");
        // Signals 1 to 31 (glibc keeps the real-time ones below 34 for itself).
        assert_eq!(mask("SigIgn:") & 0x7fff_ffff, 0, "{status}");
        // `sleep` may open a file of its own while it starts; an inherited
        // descriptor stays.
        let fds = || {
            let mut fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            fds.sort();
            fds
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while fds() != ["0", "1", "2"] {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the conductor's descriptors reached the agent: {:?}",
                fds()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(leaked);
        drop(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while exists(pid) {
            assert!(tokio::time::Instant::now() < deadline, "killed and reaped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A start that fails after the clone says which step and why, and
    /// leaves no process behind: a file that is not a program, a workdir
    /// gone between the check and the start, a NUL in an argument.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_start_that_fails_says_why_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, [0u8, 1, 2, 3, 0xff]).unwrap();
        std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o755)).unwrap();
        let before = zombies_of_mine();
        let req = SpawnRequest {
            argv: vec![junk.display().to_string()],
            cwd: dir.path().to_owned(),
            env: Vec::new(),
            stdin_pipe: true,
        };
        let err = spawn_async(req).await.expect_err("not a program");
        assert!(
            matches!(&err, SpawnFailure::Os { source, .. } if source.raw_os_error().is_none()
                && source.to_string().starts_with("exec: ")),
            "{err:?}"
        );
        assert!(err.to_string().contains("Exec format error"), "{err}");

        let mut req = sh("true", dir.path().to_owned());
        req.argv.push("a\0b".into());
        let err = spawn_async(req).await.expect_err("NUL");
        assert!(err.to_string().contains("NUL byte"), "{err}");
        assert_eq!(zombies_of_mine(), before, "a failed start is reaped");
    }

    /// The conductor's zombie children.
    fn zombies_of_mine() -> usize {
        let me = std::process::id();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    let rest = &s[s.rfind(')').unwrap() + 2..];
                    let mut f = rest.split(' ');
                    f.next() == Some("Z") && f.next() == Some(&me.to_string())
                })
            })
            .count()
    }

    /// Dropped while it runs, an agent is killed and reaped; one that was
    /// not to be killed runs on and is reaped when it ends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_child_is_killed_or_left_running_and_reaped_either_way() {
        let dir = tempfile::tempdir().unwrap();
        let killed = spawn_async(sh("sleep 30", dir.path().to_owned()))
            .await
            .unwrap();
        let kept = spawn_async(sh("sleep 0.3", dir.path().to_owned()))
            .await
            .unwrap();
        let (killed_pid, kept_pid) = (killed.pid.0, kept.pid.0);
        let mut kept_child = kept.child;
        kept_child.kill_on_drop(false);
        drop(killed);
        drop(kept_child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while exists(killed_pid) || exists(kept_pid) {
            assert!(tokio::time::Instant::now() < deadline, "not reaped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
