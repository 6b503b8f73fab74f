//! `baton-shim`: the small process that owns one agent run so the run
//! outlives the conductor that started it.
//!
//! ```text
//! baton-shim [--status FILE] [--stdin FIFO] [--marker TOKEN] [--env-file FILE] [--lock-fd N | --run-file FILE] [--logs OUT ERR MAX KEEP] [--exec PATH] -- ARGV0 ARGS…
//! baton-shim hook
//! baton-shim log [--max-size BYTES] [--keep N] FILE
//! baton-shim --version
//! ```
//!
//! `baton-shim --version` prints the identity of the build it comes from
//! (`baton-shim VERSION build SOURCE-HASH`); the conductor runs only a shim
//! from its own build (see `baton_core::proc::shim_path`).
//!
//! `baton-shim log` is the writer of a local tmux session's output log
//! (`pipe-pane` runs it): it appends its stdin to FILE until end-of-file,
//! rolling the log over into segments at `--max-size` and keeping the
//! newest `--keep` finished ones, as baton's own writers do (see
//! `baton_core::seglog`). It exits 0 at end-of-file, 125 on bad arguments
//! or a log it cannot write.
//!
//! `baton-shim hook` is the command baton installs as an agent CLI's hook
//! for one run: it passes the hook's input (stdin) to the conductor and
//! exits 0 at once, printing nothing (see `baton_core::hooks`).
//!
//! It starts the agent as its child, in its own process group (the shim is
//! the group's leader, so the conductor's group signals reach both), waits
//! for it and reports how it ended:
//!
//! - `--status FILE`: writes `<shim pid> code <N>` or `<shim pid> signal <N>`
//!   to FILE (atomically, through a rename) before exiting. A conductor that
//!   was SIGKILLed and restarted reads the status of a run it did not see end.
//! - `--marker TOKEN`: after the agent ends, writes the terminal escape
//!   `ESC ] 777 ; baton-done ; TOKEN ; code|signal ; N BEL` to its own
//!   stdout and then waits for its stdin to close. Inside tmux, stdout is the
//!   pane: once the conductor sees the marker in the pane's log it knows every
//!   byte before it is there too, and only then destroys the session.
//! - `--stdin FIFO`: the agent's stdin is FIFO, opened read-write so it never
//!   sees end-of-file while the run lasts; the conductor writes answers into
//!   it, and a restarted conductor simply opens it again.
//! - `--env-file FILE`: the agent's extra environment, as NUL-ended `K=V`
//!   records in a 0600 file, read and deleted before the agent starts: a
//!   session's env values (API keys) never ride on a command line, where
//!   every user of the host could read them. A file that cannot be read
//!   ends the run (code 125) before the agent starts.
//! - `--lock-fd N`: descriptor N is the run's lock file, which the
//!   conductor locked (`flock`) and wrote the run's attempt and log offsets
//!   into. The shim holds it for its whole life (the agent does not inherit
//!   it) and appends `<shim pid> <start time>`: a conductor started after a
//!   crash that lost this run's `spawn` record finds the run there and takes
//!   it over instead of starting it a second time.
//! - `--logs OUT ERR MAX KEEP`: the agent's stdout and stderr are pipes to
//!   two `baton-shim log` writers, which append them to the logs OUT and
//!   ERR, rolling them over at MAX bytes and keeping KEEP finished segments
//!   (0: all). The writers lead their own process group, outside the run's:
//!   a SIGKILL of the run's group cannot take the bytes still in the pipes
//!   with it; each ends at end-of-file, once the agent and everything it
//!   started are gone and the shim has exited. They inherit the run's lock
//!   (`--lock-fd`), so the lock is free only once every byte is written: the
//!   conductor waits for that before it settles the run. They run with an
//!   empty environment (no run mark: a sweep of the run's strays never ends
//!   them mid-write). They are not the shim's children: a go-between starts
//!   each and exits, before the shim becomes a subreaper, so they go to init
//!   (as they would when the shim exits before them) and the shim's only
//!   children are the agent and what it adopts.
//! - `--run-file FILE`: the same for a shim the conductor does not start
//!   itself (a tmux pane's): the shim opens FILE, which the conductor wrote
//!   the run into, locks it and appends its line, and holds it.
//!
//! The shim is a child subreaper: a process the agent started that left its
//! process group (a CLI starting a daemon, `setsid`) is handed to the shim
//! when its parent dies, instead of to init. When the agent has ended, the
//! shim ends every such process (SIGTERM to it and its group, SIGKILL after
//! [`ADOPTED_GRACE`]) before it reports: no process outlives its session.
//!
//! The shim ignores SIGTERM, SIGINT, SIGHUP and SIGQUIT so it can record the
//! status of an agent that a polite group signal ended; the agent itself gets
//! default dispositions. SIGKILL ends it like anything else. Everything else
//! (workdir, environment, descriptors, the signal mask) the agent inherits
//! from the shim, which the conductor set up exactly as for a direct spawn.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// Exit code when the shim itself cannot do its job.
const SHIM_FAILED: u8 = 125;

/// How long adopted processes get between SIGTERM and SIGKILL.
const ADOPTED_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

struct Args {
    status: Option<PathBuf>,
    stdin: Option<PathBuf>,
    marker: Option<String>,
    env_file: Option<PathBuf>,
    lock_fd: Option<i32>,
    run_file: Option<PathBuf>,
    logs: Option<Logs>,
    exec: Option<PathBuf>,
    argv: Vec<OsString>,
}

/// `--logs`: the agent's output goes through pipes to rolling writers.
struct Logs {
    out: PathBuf,
    err: PathBuf,
    max_size: u64,
    keep: u32,
}

fn parse(mut raw: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let mut args = Args {
        status: None,
        stdin: None,
        marker: None,
        env_file: None,
        lock_fd: None,
        run_file: None,
        logs: None,
        exec: None,
        argv: Vec::new(),
    };
    while let Some(arg) = raw.next() {
        let mut value = |name: &str| raw.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.to_str() {
            Some("--status") => args.status = Some(value("--status")?.into()),
            Some("--stdin") => args.stdin = Some(value("--stdin")?.into()),
            Some("--exec") => args.exec = Some(value("--exec")?.into()),
            Some("--env-file") => args.env_file = Some(value("--env-file")?.into()),
            Some("--run-file") => args.run_file = Some(value("--run-file")?.into()),
            Some("--logs") => {
                let out = value("--logs")?.into();
                let err = value("--logs")?.into();
                let mut number = |what: &str| -> Result<u64, String> {
                    value("--logs")?
                        .into_string()
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| format!("--logs: {what} must be a number"))
                };
                let max_size = number("MAX")?;
                let keep = u32::try_from(number("KEEP")?)
                    .map_err(|_| "--logs: KEEP is too large".to_owned())?;
                args.logs = Some(Logs {
                    out,
                    err,
                    max_size,
                    keep,
                });
            }
            Some("--lock-fd") => {
                let fd = value("--lock-fd")?
                    .into_string()
                    .ok()
                    .and_then(|n| n.parse::<i32>().ok())
                    .filter(|n| *n > 2)
                    .ok_or_else(|| "--lock-fd must be a descriptor number above 2".to_owned())?;
                args.lock_fd = Some(fd);
            }
            Some("--marker") => {
                let token = value("--marker")?
                    .into_string()
                    .map_err(|_| "--marker must be UTF-8".to_owned())?;
                if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err("--marker must be ASCII letters and digits".into());
                }
                args.marker = Some(token);
            }
            Some("--") => {
                args.argv = raw.collect();
                break;
            }
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    if args.argv.is_empty() {
        return Err("nothing to run: give the agent's argv after `--`".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "--version") {
        println!("{}", baton_core::proc::SHIM_IDENTITY);
        return ExitCode::SUCCESS;
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "hook") {
        // The command an agent CLI's hooks run (see baton_core::hooks):
        // report and end at once, exit 0, nothing on stdout.
        baton_core::hooks::report_from_stdin();
        return ExitCode::SUCCESS;
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "log") {
        return match log_args(std::env::args_os().skip(2)) {
            Ok((path, limits)) => write_log(&path, limits),
            Err(e) => {
                eprintln!("baton-shim log: {e}");
                ExitCode::from(SHIM_FAILED)
            }
        };
    }
    let args = match parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("baton-shim: {e}");
            return ExitCode::from(SHIM_FAILED);
        }
    };
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: setting a disposition to SIG_IGN has no preconditions.
        unsafe {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    // Held (never closed) until the shim exits: the lock is the run's.
    let _lock = args.lock_fd.map(hold_lock);
    let _run_file = args.run_file.as_deref().map(hold_run_file);
    // Before the shim is a subreaper: the writers must not be handed to it.
    if let Some(logs) = &args.logs
        && let Err(e) = start_writers(logs, args.lock_fd)
    {
        eprintln!("baton-shim: cannot start the log writers: {e}");
        return ExitCode::from(SHIM_FAILED);
    }
    // SAFETY: prctl with an integer option and constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        eprintln!(
            "baton-shim: cannot become a subreaper: {}",
            std::io::Error::last_os_error()
        );
    }
    let mut cmd = Command::new(args.exec.as_ref().unwrap_or(&PathBuf::from(&args.argv[0])));
    cmd.arg0(&args.argv[0]).args(&args.argv[1..]);
    if let Some(fifo) = &args.stdin {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(fifo)
        {
            Ok(file) => {
                cmd.stdin(file);
            }
            Err(e) => {
                eprintln!("baton-shim: cannot open stdin {}: {e}", fifo.display());
                return ExitCode::from(SHIM_FAILED);
            }
        }
    }
    // SAFETY: the hook only calls async-signal-safe `signal` on constants.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let env = match &args.env_file {
        Some(path) => take_env_file(path).map(Some),
        None => Ok(None),
    };
    let ended = match env {
        Err(e) => {
            eprintln!("baton-shim: {e}");
            Ended::Code(i32::from(SHIM_FAILED))
        }
        Ok(env) => {
            for (k, v) in env.into_iter().flatten() {
                cmd.env(OsString::from_vec(k), OsString::from_vec(v));
            }
            run(&mut cmd, &args)
        }
    };
    end_adopted();
    if let Some(path) = &args.status
        && let Err(e) = write_status(path, &ended)
    {
        eprintln!(
            "baton-shim: cannot record the exit status in {}: {e}",
            path.display()
        );
    }
    if let Some(token) = &args.marker {
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\x1b]777;baton-done;{token};{}\x07",
            ended.words().replace(' ', ";")
        );
        let _ = out.flush();
        drop(out);
        // Stay, keeping the terminal open, until whoever reads it is done and
        // closes it (tmux kill-session): end-of-file or an error ends the wait.
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    }
    ExitCode::from(ended.exit_code())
}

/// Starts the two log writers of `--logs` and makes this process's stdout
/// and stderr (which the agent inherits) the write ends of their pipes.
/// The writers hold the run lock on `lock_fd` too. Each is started by a
/// go-between that exits at once: no writer is this process's child.
fn start_writers(logs: &Logs, lock_fd: Option<i32>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let exe = std::env::current_exe()?;
    for (path, fd) in [
        (&logs.out, libc::STDOUT_FILENO),
        (&logs.err, libc::STDERR_FILENO),
    ] {
        let (read, write) = std::io::pipe()?;
        let mut cmd = Command::new(&exe);
        cmd.arg("log")
            .arg("--max-size")
            .arg(logs.max_size.to_string());
        if logs.keep > 0 {
            cmd.arg("--keep").arg(logs.keep.to_string());
        }
        cmd.arg(path).env_clear();
        // A fault point armed for the run is armed in its writers too: they
        // are the ones that roll its logs over.
        if let Some(fault) = std::env::var_os("BATON_FAULT") {
            cmd.env("BATON_FAULT", fault);
        }
        cmd.stdin(read)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: fcntl, fork, setpgid and _exit are async-signal-safe; the
        // hook touches no memory but the descriptor numbers it was given.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(lock) = lock_fd
                    && libc::fcntl(lock, libc::F_SETFD, 0) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                // The go-between forks the writer and exits; the writer
                // goes on to exec (std learns of its exec through the
                // descriptor both share). It leads a group of its own,
                // outside the run's: the run's SIGKILL leaves it to drain
                // the pipe.
                match libc::fork() {
                    -1 => Err(std::io::Error::last_os_error()),
                    0 => {
                        if libc::setpgid(0, 0) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    }
                    _ => libc::_exit(0),
                }
            });
        }
        // The go-between's end: at once, once the writer has exec'd.
        cmd.spawn()?.wait()?;
        // SAFETY: dup2 onto a standard descriptor this process owns.
        if unsafe { libc::dup2(write.as_raw_fd(), fd) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The arguments of `baton-shim log`: the file and its limits.
fn log_args(
    mut raw: impl Iterator<Item = OsString>,
) -> Result<(PathBuf, baton_core::seglog::Limits), String> {
    let mut limits = baton_core::seglog::Limits::UNBOUNDED;
    let mut file = None;
    while let Some(arg) = raw.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            raw.next()
                .and_then(|v| v.into_string().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.to_str() {
            Some("--max-size") => limits.max_size = number("--max-size")?,
            Some("--keep") => {
                let keep = number("--keep")?;
                limits.keep = Some(
                    u32::try_from(keep)
                        .ok()
                        .filter(|k| *k > 0)
                        .ok_or("--keep must be at least 1".to_owned())?,
                );
            }
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok((file.ok_or("no log file given")?, limits))
}

/// Appends stdin to the log at `path` until end-of-file: spliced from the
/// pipe into the file when stdin is a pipe (no copy through this process),
/// else read and written.
fn write_log(path: &std::path::Path, limits: baton_core::seglog::Limits) -> ExitCode {
    use std::os::fd::AsFd;
    let mut log = match baton_core::seglog::RollingWriter::open(path, limits) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("baton-shim log: cannot open {}: {e}", path.display());
            return ExitCode::from(SHIM_FAILED);
        }
    };
    let stdin = std::io::stdin();
    // A bigger pipe: fewer wake-ups of this writer and of the agent.
    baton_core::proc::grow_pipe(libc::STDIN_FILENO, SPLICE_MAX);
    loop {
        match log.splice_from(stdin.as_fd(), SPLICE_MAX) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Not a pipe, or a file system that cannot take a splice.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => {
                eprintln!("baton-shim log: cannot write {}: {e}", path.display());
                return ExitCode::from(SHIM_FAILED);
            }
        }
    }
    let mut stdin = stdin.lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(n) => {
                if let Err(e) = log.append(&buf[..n]) {
                    eprintln!("baton-shim log: cannot write {}: {e}", path.display());
                    return ExitCode::from(SHIM_FAILED);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("baton-shim log: reading its input: {e}");
                return ExitCode::from(SHIM_FAILED);
            }
        }
    }
}

/// The most a log writer moves at once, and the size it asks of its pipe.
const SPLICE_MAX: usize = 1 << 20;

/// Takes the run's lock file on `fd`: out of the agent's reach, with this
/// shim's pid and start time appended.
fn hold_lock(fd: i32) -> Option<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl on a descriptor number; it fails if none is open there.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        eprintln!(
            "baton-shim: no run lock on descriptor {fd}: {}",
            std::io::Error::last_os_error()
        );
        return None;
    }
    // SAFETY: the conductor opened `fd` for us; nothing else in this
    // process uses it, and it is closed only when the shim exits.
    let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
    let pid = std::process::id();
    let start = baton_core::proc::process_start_time(baton_core::proc::Pid(pid)).unwrap_or(0);
    if let Err(e) = writeln!(file, "{pid} {start}").and_then(|()| file.sync_data()) {
        eprintln!("baton-shim: cannot write to the run's lock file: {e}");
    }
    Some(file)
}

/// Opens the run file at `path`, locks it and appends this shim's pid and
/// start time, as [`hold_lock`] does for a file the conductor opened.
fn hold_run_file(path: &std::path::Path) -> Option<std::fs::File> {
    use std::os::fd::IntoRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(e) => {
            eprintln!(
                "baton-shim: cannot open the run file {}: {e}",
                path.display()
            );
            return None;
        }
    };
    if let Err(e) = file.try_lock() {
        eprintln!(
            "baton-shim: cannot lock the run file {}: {e}",
            path.display()
        );
    }
    hold_lock(file.into_raw_fd())
}

/// Starts the agent and waits for it.
fn run(cmd: &mut Command, args: &Args) -> Ended {
    match cmd.spawn().and_then(|mut child| child.wait()) {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Ended::Code(code),
            (None, Some(sig)) => Ended::Signal(sig),
            (None, None) => Ended::Code(i32::from(SHIM_FAILED)),
        },
        Err(e) => {
            // Like a shell: 126 for a program that cannot run, 127 for one not found.
            eprintln!("baton-shim: cannot run {:?}: {e}", args.argv[0]);
            Ended::Code(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            })
        }
    }
}

/// Reads the env file and deletes it: its values exist on disk only until
/// the agent is about to start.
fn take_env_file(path: &std::path::Path) -> Result<Vec<baton_core::proc::EnvPair>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read the env file {}: {e}", path.display()))?;
    let _ = std::fs::remove_file(path);
    baton_core::proc::parse_env_file(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Ends the processes the shim adopted (see the module docs) and reaps
/// them, until it has no child left or the grace and a last SIGKILL passed.
fn end_adopted() {
    let started = std::time::Instant::now();
    let mut killing = false;
    loop {
        if !reap() {
            return;
        }
        // After the agent, the shim's only children are adopted ones.
        let adopted: Vec<i32> = baton_core::proc::live_children(std::process::id())
            .into_iter()
            .map(|pid| pid as i32)
            .collect();
        if adopted.is_empty() {
            return;
        }
        let sig = if started.elapsed() >= ADOPTED_GRACE {
            if killing {
                // SIGKILLed and still there after another look: give up;
                // init reaps what is left once the shim is gone.
                return;
            }
            killing = true;
            libc::SIGKILL
        } else {
            libc::SIGTERM
        };
        for pid in adopted {
            // SAFETY: kill(2) has no memory-safety preconditions. Its group
            // too: a daemon leads its own, and its helpers are in it.
            unsafe {
                libc::kill(-pid, sig);
                libc::kill(pid, sig);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(if killing {
            100
        } else {
            20
        }));
    }
}

/// Reaps every child that has exited, without waiting. Returns whether
/// the shim has any child left (dead or alive); when it has none, there is
/// nothing to scan /proc for.
fn reap() -> bool {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid pointer to an int.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid == 0 {
            return true;
        }
        if pid < 0 {
            // ECHILD: no child at all (the usual case).
            return std::io::Error::last_os_error().raw_os_error() != Some(libc::ECHILD);
        }
    }
}

enum Ended {
    Code(i32),
    Signal(i32),
}

impl Ended {
    fn words(&self) -> String {
        match self {
            Ended::Code(code) => format!("code {code}"),
            Ended::Signal(sig) => format!("signal {sig}"),
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Ended::Code(code) => u8::try_from(*code & 0xff).unwrap_or(SHIM_FAILED),
            Ended::Signal(sig) => u8::try_from((128 + sig) & 0xff).unwrap_or(SHIM_FAILED),
        }
    }
}

/// Writes the status next to `path` and renames it into place, so a reader
/// sees either nothing or the whole line.
fn write_status(path: &std::path::Path, ended: &Ended) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned().into_vec();
    tmp.extend_from_slice(b".tmp");
    let tmp = PathBuf::from(OsString::from_vec(tmp));
    std::fs::write(&tmp, format!("{} {}\n", std::process::id(), ended.words()))?;
    std::fs::rename(&tmp, path)
}
