//! An async client of the daemon, for the long-lived clients (`baton mcp`,
//! `baton tui`), and starting a daemon when none listens (for `baton mcp`).
//!
//! Every call opens its own connection (one request per connection, as the
//! protocol says), so a `wait` that blocks for minutes holds up nothing
//! else; dropping a call's future closes its connection, which the daemon
//! notices.

use std::io::ErrorKind as IoErrorKind;
use std::path::PathBuf;
use std::time::Duration;

use baton_proto::request::Ps;
use baton_proto::response::{ErrorKind, ErrorReply, Sessions};
use baton_proto::{
    Hello, HelloReply, PROTOCOL, ProtoError, Request, Response, read_frame_async, write_frame_async,
};
use tokio::net::UnixStream;
use tokio::sync::Mutex;

/// How long the daemon has to answer the hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a daemon started by `baton mcp` has to start listening.
#[cfg(feature = "engine")]
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// The runtime of a long-lived client: two workers are plenty for one
/// person or one lead. `None` (the reason on stderr) if it cannot start.
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// The socket and `--config` of a client that starts a daemon when none
/// listens (`baton mcp`, `baton web`), or the exit code once what is wrong
/// with them is said.
pub fn daemon_target(
    socket: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
) -> Result<(PathBuf, Option<PathBuf>), i32> {
    let socket = match crate::socket::resolve(socket) {
        Ok((socket, _)) => socket,
        Err(message) => {
            eprintln!("error: {message}");
            return Err(crate::exit::USAGE);
        }
    };
    match config.map(std::path::absolute).transpose() {
        Ok(config) => Ok((socket, config)),
        Err(e) => {
            eprintln!("error: --config: {e}");
            Err(crate::exit::USAGE)
        }
    }
}

/// Why a call to the daemon failed, in words for the lead agent.
#[derive(Debug)]
pub enum CallError {
    /// No daemon listens at this socket (and none is to be started).
    NoDaemon(PathBuf),
    /// No daemon listens and none could be started.
    Unreachable(String),
    /// The exchange broke (refused, incompatible, garbage, cut off).
    Protocol(String),
    /// The daemon answered with an error.
    Daemon(ErrorReply),
}

impl CallError {
    /// The text of a tool error.
    pub fn message(&self) -> String {
        match self {
            CallError::NoDaemon(socket) => format!(
                "no baton daemon listening at {} — start one with `baton daemon --socket {}`",
                socket.display(),
                socket.display()
            ),
            CallError::Unreachable(m) | CallError::Protocol(m) => m.clone(),
            CallError::Daemon(reply) => reply.message.clone(),
        }
    }

    /// The daemon's error kind, if it answered.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            CallError::Daemon(reply) => Some(reply.kind),
            _ => None,
        }
    }
}

impl From<ProtoError> for CallError {
    fn from(e: ProtoError) -> CallError {
        CallError::Protocol(format!("the control-socket exchange failed: {e}"))
    }
}

/// The daemon a long-lived client talks to.
pub struct DaemonLink {
    socket: PathBuf,
    /// Start a daemon when none listens, with this `--config` (if any);
    /// `None`: say that none listens.
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    autostart: Option<Option<PathBuf>>,
    /// Held while a daemon is being started, so that concurrent calls start one.
    starting: Mutex<()>,
}

/// A connection whose request has been sent.
pub struct Exchange {
    stream: UnixStream,
}

impl Exchange {
    /// The next response; an `error` reply becomes [`CallError::Daemon`],
    /// a closed connection a protocol error.
    pub async fn next(&mut self) -> Result<Response, CallError> {
        match read_frame_async::<Response>(&mut self.stream).await? {
            Some(Response::Error(reply)) => Err(CallError::Daemon(reply)),
            Some(response) => Ok(response),
            None => Err(CallError::Protocol(
                "the daemon closed the connection before answering".into(),
            )),
        }
    }
}

impl DaemonLink {
    /// A link that starts `baton daemon --socket SOCKET [--config FILE]`
    /// when nothing listens.
    pub fn starting_daemon(socket: PathBuf, config: Option<PathBuf>) -> DaemonLink {
        DaemonLink {
            socket,
            autostart: Some(config),
            starting: Mutex::new(()),
        }
    }

    /// A link to a daemon that must already run.
    pub fn to_running(socket: PathBuf) -> DaemonLink {
        DaemonLink {
            socket,
            autostart: None,
            starting: Mutex::new(()),
        }
    }

    /// Connects (starting a daemon if none listens), says hello and sends
    /// `request`.
    pub async fn open(&self, request: &Request) -> Result<Exchange, CallError> {
        let mut stream = match UnixStream::connect(&self.socket).await {
            Ok(stream) => stream,
            Err(e) if is_absent(&e) && self.autostart.is_some() => self.start().await?,
            Err(e) if is_absent(&e) => return Err(CallError::NoDaemon(self.socket.clone())),
            Err(e) => {
                return Err(CallError::Unreachable(format!(
                    "cannot connect to the baton daemon at {}: {e}",
                    self.socket.display()
                )));
            }
        };
        let hello = async {
            write_frame_async(&mut stream, &Hello::new(env!("CARGO_PKG_VERSION"))).await?;
            let reply = read_frame_async::<HelloReply>(&mut stream).await?;
            let reply = reply.ok_or(CallError::Protocol(
                "the daemon closed the connection during the hello".into(),
            ))?;
            let welcome = reply.accept(PROTOCOL)?;
            request.check_peer(welcome.protocol)?;
            Ok::<(), CallError>(())
        };
        match tokio::time::timeout(HELLO_TIMEOUT, hello).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(CallError::Protocol(format!(
                    "the daemon at {} did not answer the hello within {} s",
                    self.socket.display(),
                    HELLO_TIMEOUT.as_secs()
                )));
            }
        }
        write_frame_async(&mut stream, request).await?;
        Ok(Exchange { stream })
    }

    /// Sends `request` and returns its single answer.
    pub async fn call(&self, request: &Request) -> Result<Response, CallError> {
        self.open(request).await?.next().await
    }

    /// The session table and the log position it reflects.
    pub async fn ps(&self) -> Result<Sessions, CallError> {
        match self.call(&Request::Ps(Ps::default())).await? {
            Response::Sessions(sessions) => Ok(sessions),
            other => Err(unexpected(&other)),
        }
    }

    async fn connect(&self) -> std::io::Result<UnixStream> {
        UnixStream::connect(&self.socket).await
    }

    /// Starts `baton daemon` on our socket, detached, and connects to it.
    #[cfg(feature = "engine")]
    async fn start(&self) -> Result<UnixStream, CallError> {
        let _one = self.starting.lock().await;
        // Another call may have started it while we waited.
        if let Ok(stream) = self.connect().await {
            return Ok(stream);
        }
        let log = self.start_log_path();
        // What this daemon says is what the log gains from here.
        let said_from = std::fs::metadata(&log).map_or(0, |m| m.len());
        let config = self.autostart.clone().flatten();
        let mut child = spawn_daemon(&self.socket, config.as_deref(), &log)
            .map_err(|e| CallError::Unreachable(self.unreachable(&e)))?;
        tracing::info!(pid = child.id(), socket = %self.socket.display(), "started a baton daemon");
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(stream) = self.connect().await {
                // Reap it when it exits, so it never lingers as a zombie
                // of ours; it runs on in its own session meanwhile.
                std::thread::spawn(move || child.wait());
                return Ok(stream);
            }
            if let Ok(Some(status)) = child.try_wait() {
                let said = what_it_said(&log, said_from);
                return Err(CallError::Unreachable(self.unreachable(&format!(
                    "the daemon it started exited ({status}); its log is {}{}",
                    log.display(),
                    if said.is_empty() {
                        String::new()
                    } else {
                        format!(" and says:\n{said}")
                    }
                ))));
            }
            if tokio::time::Instant::now() >= deadline {
                std::thread::spawn(move || child.wait());
                return Err(CallError::Unreachable(self.unreachable(&format!(
                    "the daemon it started is not listening after {} s; its log is {}",
                    START_TIMEOUT.as_secs(),
                    log.display()
                ))));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Without the engine this binary cannot run a daemon: say how to get one.
    #[cfg(not(feature = "engine"))]
    async fn start(&self) -> Result<UnixStream, CallError> {
        let _one = self.starting.lock().await;
        match self.connect().await {
            Ok(stream) => Ok(stream),
            Err(_) => Err(CallError::Unreachable(format!(
                "no baton daemon listening at {}, and this baton was built without the engine: start one with `baton daemon --socket {}`",
                self.socket.display(),
                self.socket.display()
            ))),
        }
    }

    /// Where a daemon started by us writes its own messages: beside its
    /// socket, in the directory only this user can enter.
    #[cfg(feature = "engine")]
    fn start_log_path(&self) -> PathBuf {
        let mut name = self.socket.as_os_str().to_owned();
        name.push(".daemon.log");
        PathBuf::from(name)
    }

    #[cfg(feature = "engine")]
    fn unreachable(&self, why: &str) -> String {
        format!(
            "no baton daemon listening at {} and baton mcp could not start one: {why}",
            self.socket.display()
        )
    }
}

/// Runs `baton daemon --socket SOCKET [--config FILE]` in its own session,
/// its stdin and stdout on /dev/null and its stderr appended to `log`. It is
/// meant to outlive `baton mcp`: the sessions it runs are the lead's workers.
#[cfg(feature = "engine")]
fn spawn_daemon(
    socket: &std::path::Path,
    config: Option<&std::path::Path>,
    log: &std::path::Path,
) -> Result<std::process::Child, String> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    let dir = socket
        .parent()
        .ok_or_else(|| format!("{} has no parent directory", socket.display()))?;
    crate::daemon::socket_dir::prepare(dir, rustix::process::geteuid().as_raw())?;
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(log)
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the baton binary: {e}"))?;
    let mut command = Command::new(exe);
    command.arg("daemon").arg("--socket").arg(socket);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    // SAFETY: setsid is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    command
        .spawn()
        .map_err(|e| format!("cannot run `baton daemon`: {e}"))
}

/// The text `log` gained after byte `from`, trimmed and capped, for a
/// tool error.
#[cfg(feature = "engine")]
fn what_it_said(log: &std::path::Path, from: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const MAX: u64 = 4096;
    let mut text = Vec::new();
    if let Ok(mut file) = std::fs::File::open(log)
        && file.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = file.take(MAX).read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).trim().to_owned()
}

/// A reply that does not belong to the request.
pub fn unexpected(response: &Response) -> CallError {
    CallError::Protocol(format!(
        "the daemon sent an unexpected `{}` reply",
        response.reply()
    ))
}

/// True for an I/O error meaning "nothing listens there".
fn is_absent(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        IoErrorKind::NotFound | IoErrorKind::ConnectionRefused
    )
}
