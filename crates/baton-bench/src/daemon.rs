//! A real `baton daemon` as a child process, and the control-socket client
//! the daemon figures time it with.
//!
//! The client speaks baton-proto directly (blocking frames on a
//! `std::os::unix::net::UnixStream`), as the `baton` client verbs do, with a
//! deadline on every read and write so that a daemon that stops answering
//! fails the figure instead of hanging it.
//!
//! A daemon started here must never outlive its figure, nor leave a session
//! behind: [`Daemon::shutdown`] asks it over the socket and waits for it to
//! exit; if a figure fails first, dropping the handle sends SIGTERM (the
//! daemon then stops every session with its grace) and SIGKILL after
//! [`STOP_LIMIT`].

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use baton_core::{SessionRow, SessionState};
use baton_proto::request::{Kill, Ps, Shutdown, Spawn, Via};
use baton_proto::{
    Hello, HelloReply, PROTOCOL, Request, Response, SpawnSpec, read_frame, write_frame,
};

use crate::Fallible;

/// Environment variable naming the `baton` binary (like `--baton`).
pub const BATON_ENV: &str = "BATON_BIN";

/// How long the daemon may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(15);

/// How long a daemon may take to exit once asked (by request or SIGTERM).
pub const STOP_LIMIT: Duration = Duration::from_secs(60);

/// Read and write deadline of a one-answer exchange.
const EXCHANGE_LIMIT: Duration = Duration::from_secs(30);

/// The longest socket path `sockaddr_un` holds (108 bytes with the NUL on
/// Linux), less a margin.
const MAX_SOCKET_PATH: usize = 100;

/// Finds `baton`: `--baton`, else [`BATON_ENV`], else the `baton` next to
/// this executable; and checks that the daemon will find its `baton-shim`
/// (`$BATON_SHIM`, else next to `baton`).
pub fn locate_baton(flag: Option<PathBuf>) -> Fallible<PathBuf> {
    let (path, source) = match flag {
        Some(p) => (p, "--baton"),
        None => match std::env::var_os(BATON_ENV) {
            Some(p) => (PathBuf::from(p), BATON_ENV),
            None => {
                let exe = std::env::current_exe()
                    .map_err(|e| format!("cannot find this executable's path: {e}"))?;
                (exe.with_file_name("baton"), "next to baton-bench")
            }
        },
    };
    let build = "build it with `cargo build --release -p baton -p baton-core`";
    if !path.is_file() {
        return Err(format!(
            "baton binary not found at {} ({source}); {build}, or point --baton / {BATON_ENV} at it",
            path.display()
        )
        .into());
    }
    if std::env::var_os("BATON_SHIM").is_none() {
        let shim = path.with_file_name("baton-shim");
        if !shim.is_file() {
            return Err(format!(
                "baton-shim not found at {} (a daemon runs its pipes sessions under it); {build}",
                shim.display()
            )
            .into());
        }
    }
    Ok(path)
}

/// A `baton daemon` child serving a private socket and logs dir.
pub struct Daemon {
    /// `None` once the child has been reaped.
    child: Option<Child>,
    baton: PathBuf,
    socket: PathBuf,
    logs_dir: PathBuf,
    stderr_log: PathBuf,
}

/// `baton events -f --json` on the daemon at `socket`, and its stdout.
pub fn follow_events(baton: &Path, socket: &Path) -> Fallible<(Child, std::process::ChildStdout)> {
    let mut child = Command::new(baton)
        .args(["events", "-f", "--json", "--socket"])
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("events -f has no stdout")?;
    Ok((child, stdout))
}

impl Daemon {
    /// Starts `baton daemon` in `dir` (socket in `dir/run`, made 0700; logs
    /// in `dir/logs`; the daemon's stderr in `dir/daemon.stderr`) with
    /// `config` as its `--config`, and returns once it answers a `ps`.
    pub fn start(baton: &Path, dir: &Path, config: &str) -> Fallible<Daemon> {
        let run = dir.join("run");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&run)
            .map_err(|e| format!("{}: {e}", run.display()))?;
        let socket = run.join("baton.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(format!(
                "socket path {} is longer than {MAX_SOCKET_PATH} bytes; give a shorter --dir",
                socket.display()
            )
            .into());
        }
        let config_path = dir.join("baton.toml");
        std::fs::write(&config_path, config)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;
        let logs_dir = dir.join("logs");
        let stderr_log = dir.join("daemon.stderr");
        let stderr =
            File::create(&stderr_log).map_err(|e| format!("{}: {e}", stderr_log.display()))?;
        let child = Command::new(baton)
            .arg("daemon")
            .arg("--socket")
            .arg(&socket)
            .arg("--logs-dir")
            .arg(&logs_dir)
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {} daemon: {e}", baton.display()))?;
        let mut daemon = Daemon {
            child: Some(child),
            baton: baton.to_owned(),
            socket,
            logs_dir,
            stderr_log,
        };
        daemon.wait_listening()?;
        Ok(daemon)
    }

    fn wait_listening(&mut self) -> Fallible<()> {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            self.check_running()?;
            match self.ps() {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!(
                        "baton daemon did not answer within {START_LIMIT:?}: {e}{}",
                        self.stderr_tail()
                    )
                    .into());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// The daemon's pid, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// An error if the daemon has exited.
    pub fn check_running(&mut self) -> Fallible<()> {
        let Some(child) = self.child.as_mut() else {
            return Err("baton daemon was already stopped".into());
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.child = None;
                Err(format!(
                    "baton daemon exited unexpectedly ({status}){}",
                    self.stderr_tail()
                )
                .into())
            }
            Err(e) => Err(format!("cannot check on the baton daemon: {e}").into()),
        }
    }

    /// The `baton` binary this daemon runs.
    pub fn baton(&self) -> &Path {
        &self.baton
    }

    /// The control socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The daemon's `events.jsonl`.
    pub fn events_path(&self) -> PathBuf {
        self.logs_dir.join("events.jsonl")
    }

    /// Connects, exchanges hellos and sends `request`; reads and writes on
    /// the returned stream time out after `limit`.
    pub fn open(&self, request: &Request, limit: Duration) -> Fallible<UnixStream> {
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket.display()))?;
        stream.set_read_timeout(Some(limit))?;
        stream.set_write_timeout(Some(limit))?;
        write_frame(&mut stream, &Hello::new(env!("CARGO_PKG_VERSION")))
            .map_err(|e| format!("hello: {e}"))?;
        let reply = read_frame::<HelloReply>(&mut stream)
            .map_err(|e| format!("hello reply: {e}"))?
            .ok_or("the daemon closed the connection instead of answering the hello")?;
        reply.accept(PROTOCOL).map_err(|e| format!("hello: {e}"))?;
        write_frame(&mut stream, request).map_err(|e| format!("{}: {e}", request.verb()))?;
        Ok(stream)
    }

    /// One full exchange for a one-answer verb; an `error` reply is an `Err`.
    pub fn call(&self, request: &Request, limit: Duration) -> Fallible<Response> {
        let mut stream = BufReader::new(self.open(request, limit)?);
        let verb = request.verb();
        match read_frame::<Response>(&mut stream) {
            Ok(Some(Response::Error(e))) => {
                Err(format!("the daemon refused `{verb}`: {}", e.message).into())
            }
            Ok(Some(reply)) => Ok(reply),
            Ok(None) => {
                Err(format!("the daemon closed the connection before answering `{verb}`").into())
            }
            Err(e) => Err(format!("reading the answer to `{verb}`: {e}").into()),
        }
    }

    /// Spawns a `command` session running `argv`.
    pub fn spawn(&self, id: &str, argv: Vec<String>) -> Fallible<()> {
        let spec = SpawnSpec {
            id: Some(id.to_owned()),
            command: Some(baton_proto::SpawnCommand::Argv(argv)),
            ..Default::default()
        };
        match self.call(
            &Request::Spawn(Box::new(Spawn {
                spec,
                origin: None,
                via: Via::Cli,
            })),
            EXCHANGE_LIMIT,
        )? {
            Response::Spawned(s) if s.id == id => Ok(()),
            Response::Spawned(s) => {
                Err(format!("asked to spawn `{id}`, the daemon spawned `{}`", s.id).into())
            }
            other => Err(unexpected("spawn", &other)),
        }
    }

    /// The session table (`ps` over the socket).
    pub fn ps(&self) -> Fallible<Vec<SessionRow>> {
        match self.call(&Request::Ps(Ps::default()), EXCHANGE_LIMIT)? {
            Response::Sessions(s) => Ok(s.sessions),
            other => Err(unexpected("ps", &other)),
        }
    }

    /// The body of a `ps` reply as it arrives, not decoded: what the daemon
    /// does for a `ps`, without the client's decoding. Checked to be a
    /// `sessions` reply.
    pub fn ps_body(&self) -> Fallible<Vec<u8>> {
        let mut stream = self.open(&Request::Ps(Ps::default()), EXCHANGE_LIMIT)?;
        let body = baton_proto::read_frame_body(&mut stream)
            .map_err(|e| format!("reading the answer to `ps`: {e}"))?
            .ok_or("the daemon closed the connection before answering `ps`")?;
        if !body.starts_with(br#"{"reply":"sessions""#) {
            let head = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            return Err(format!("`ps` was answered with something else: {head}").into());
        }
        Ok(body)
    }

    /// Kills one session; returns once its process group is gone.
    pub fn kill(&self, id: &str) -> Fallible<()> {
        let request = Request::Kill(Kill {
            id: id.to_owned(),
            via: Via::Cli,
        });
        match self.call(&request, STOP_LIMIT)? {
            Response::Done(_) => Ok(()),
            other => Err(unexpected("kill", &other)),
        }
    }

    /// Polls `ps` until `count` sessions are in `state`; fails at `deadline`,
    /// or at once if a session has ended (`dead`, `completed`) or the daemon
    /// exits.
    pub fn wait_all_in(
        &mut self,
        count: usize,
        state: SessionState,
        deadline: Instant,
    ) -> Fallible<Vec<SessionRow>> {
        loop {
            self.check_running()?;
            let table = self.ps()?;
            if let Some(ended) = table.iter().find(|s| s.state.is_terminal()) {
                return Err(format!(
                    "session {} is {} ({}{})",
                    ended.id,
                    ended.state,
                    ended.reason,
                    ended
                        .message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
                .into());
            }
            let there = table.iter().filter(|s| s.state == state).count();
            if there >= count {
                return Ok(table);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out waiting for {count} sessions to be {state} ({there} are)"
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Asks the daemon to stop every session and exit, and waits for it to;
    /// returns how long that took. Errors if it refused, failed, or had to
    /// be killed.
    pub fn shutdown(mut self) -> Fallible<Duration> {
        let started = Instant::now();
        let request = Request::Shutdown(Shutdown { force: false });
        match self.call(&request, STOP_LIMIT)? {
            Response::Done(_) => {}
            other => return Err(unexpected("shutdown", &other)),
        }
        let left = STOP_LIMIT.saturating_sub(started.elapsed());
        let status = self.wait_exit(left)?.ok_or_else(|| {
            format!("baton daemon answered `shutdown` but had not exited after {STOP_LIMIT:?}")
        })?;
        let took = started.elapsed();
        if !status.success() {
            return Err(format!(
                "baton daemon exited with {status} after `shutdown`{}",
                self.stderr_tail()
            )
            .into());
        }
        Ok(took)
    }

    /// Waits up to `limit` for the child to exit; `None` if it has not.
    fn wait_exit(&mut self, limit: Duration) -> Fallible<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        let Some(child) = self.child.as_mut() else {
            return Err("baton daemon was already reaped".into());
        };
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    self.child = None;
                    return Ok(Some(status));
                }
                Ok(None) if Instant::now() >= deadline => return Ok(None),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("waiting for the baton daemon: {e}").into()),
            }
        }
    }

    /// The last lines the daemon wrote on stderr, for error messages.
    fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n  ");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its stderr ends with:\n  {tail}")
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(child) = self.child.as_ref() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SIGTERM first: the daemon stops its sessions, which a SIGKILL
        // would leave running under their shims.
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        if let Ok(Some(_)) = self.wait_exit(STOP_LIMIT) {
            return;
        }
        eprintln!(
            "baton-bench: baton daemon (pid {pid}) ignored SIGTERM for {STOP_LIMIT:?}; \
             killing it, its sessions may be left running"
        );
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unexpected(verb: &str, reply: &Response) -> Box<dyn std::error::Error + Send + Sync> {
    format!("the daemon answered `{verb}` with `{}`", reply.reply()).into()
}
