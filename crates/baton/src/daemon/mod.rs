//! `baton daemon`: a conductor behind a control socket.
//!
//! Exactly one daemon serves a socket and a logs dir: both are claimed with
//! an exclusive `flock` ([`lock`]) before the socket is touched, so a second
//! daemon is refused by the kernel, not by whoever wins a race on the
//! socket file. Holding the claim also proves that a socket file left in
//! place is stale.
//!
//! The daemon must never let a client slow a session down: output is
//! followed from the log files the sessions append to ([`logs`]), events
//! from the conductor's bounded broadcast ([`events`]), and a reader that
//! falls behind is moved ahead and told so. Every connection is its own
//! task; nothing a client sends can stop the accept loop.

mod connection;
mod control;
mod events;
mod lock;
mod logs;
pub(crate) mod notify;
mod ps;
pub(crate) mod socket_dir;
mod spawn;
mod specs;

use std::fs::Permissions;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_config::{AccountsConfig, Manifest, SessionSpec};
use baton_core::{Conductor, ConductorError, ConductorOptions};
use tokio::net::UnixListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::exit;
use lock::{Claim, ClaimError};

/// Name of the daemon's claim inside the logs dir.
pub const LOGS_LOCK: &str = "daemon.lock";

/// How long connections may take to finish once the daemon is stopping.
const DRAIN_CONNECTIONS: Duration = Duration::from_secs(5);

#[derive(clap::Args, Debug)]
pub struct DaemonArgs {
    /// The control socket [default: $BATON_SOCKET, else
    /// $XDG_RUNTIME_DIR/baton/baton.sock, else .baton/baton.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// A baton.toml: its [conductor], [probe], [agents] and [accounts] apply,
    /// and its [[session]]s are started (except ids the daemon already has).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where logs go (overrides [conductor] logs_dir; default .baton/logs in
    /// the current directory, or beside the --config file).
    #[arg(long, value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,
}

/// What every connection task shares.
pub(crate) struct Daemon {
    pub conductor: Conductor,
    pub logs_dir: PathBuf,
    pub accounts: AccountsConfig,
    /// The hosts inventory spawned sessions may name.
    pub hosts: std::collections::BTreeMap<String, baton_config::HostConfig>,
    /// The registered backends spawned sessions may name besides the
    /// built-in ones.
    pub backends: Vec<String>,
    /// The only uid this daemon serves.
    pub euid: u32,
    /// Becomes `true` when the daemon stops; streams then end.
    pub stopping: watch::Receiver<bool>,
    /// Serialises spawns (see [`spawn::start_saved`]).
    pub spawn_lock: tokio::sync::Mutex<()>,
    /// `shutdown` requests for the main loop, which owns the exit.
    pub shutdowns: mpsc::UnboundedSender<ShutdownRequest>,
}

/// A client's `shutdown`, answered once the conductor has stopped.
pub(crate) struct ShutdownRequest {
    pub force: bool,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// Everything decided before the runtime starts.
struct Setup {
    socket: PathBuf,
    opts: ConductorOptions,
    sessions: Vec<SessionSpec>,
    notify: Vec<baton_config::NotifyHook>,
    euid: u32,
    claims: Vec<Claim>,
}

pub fn main(args: DaemonArgs) -> i32 {
    match prepare(args) {
        Ok(setup) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return exit::USAGE;
                }
            };
            let code = runtime.block_on(run(setup));
            // Connection tasks still blocked on a client that stopped reading
            // must not keep the process alive.
            runtime.shutdown_timeout(Duration::from_millis(100));
            code
        }
        Err(message) => {
            eprintln!("{message}");
            exit::USAGE
        }
    }
}

/// Paths, config, the socket directory and both claims; nothing is started.
fn prepare(args: DaemonArgs) -> Result<Setup, String> {
    let (socket, _) = crate::socket::resolve(args.socket.as_deref()).map_err(error)?;
    let (mut opts, sessions, notify) = options(args.config.as_deref())?;
    if let Some(dir) = &args.logs_dir {
        opts.conductor.logs_dir = std::path::absolute(dir)
            .map_err(|e| error(format!("--logs-dir {}: {e}", dir.display())))?;
    }
    let logs_dir = opts.conductor.logs_dir.clone();
    let euid = rustix::process::geteuid().as_raw();
    let socket_dir = socket
        .parent()
        .ok_or_else(|| error(format!("{} has no parent directory", socket.display())))?;
    socket_dir::prepare(socket_dir, euid).map_err(error)?;

    let socket_claim = Claim::take(&crate::socket::lock_path(&socket)).map_err(|e| match e {
        ClaimError::Held { .. } => error(format!(
            "{e}: a daemon is already serving {}; stop it with `baton shutdown --socket {}`",
            socket.display(),
            socket.display()
        )),
        ClaimError::Io { .. } => error(e),
    })?;
    std::fs::create_dir_all(&logs_dir).map_err(|e| {
        error(format!(
            "cannot create logs dir {}: {e}",
            logs_dir.display()
        ))
    })?;
    let logs_claim = Claim::take(&logs_dir.join(LOGS_LOCK)).map_err(|e| match e {
        ClaimError::Held { .. } => error(format!(
            "{e}: a daemon already uses the logs dir {}; give this one another --logs-dir",
            logs_dir.display()
        )),
        ClaimError::Io { .. } => error(e),
    })?;
    remove_stale_socket(&socket).map_err(error)?;
    Ok(Setup {
        socket,
        opts,
        sessions,
        notify,
        euid,
        claims: vec![socket_claim, logs_claim],
    })
}

fn error(e: impl std::fmt::Display) -> String {
    format!("error: {e}")
}

/// The conductor's options and the sessions to start, from `--config` or
/// the built-in defaults (logs in `.baton/logs` of the current directory).
/// The conductor's options, the sessions to start and the `[[notify]]`
/// hooks.
type Config = (
    ConductorOptions,
    Vec<SessionSpec>,
    Vec<baton_config::NotifyHook>,
);

fn options(config: Option<&Path>) -> Result<Config, String> {
    let Some(path) = config else {
        let base_dir = std::env::current_dir()
            .map_err(|e| error(format!("cannot read the current directory: {e}")))?;
        let conductor = baton_config::ConductorConfig {
            logs_dir: base_dir.join(".baton/logs"),
            ..Default::default()
        };
        let opts = ConductorOptions {
            conductor,
            probe: Default::default(),
            agents: Default::default(),
            base_dir,
            accounts: Default::default(),
            detach: true,
            hosts: user_hosts()?,
            backends: Default::default(),
            pricing: Default::default(),
        };
        return Ok((opts, Vec::new(), Vec::new()));
    };
    let manifest =
        Manifest::load_config(path).map_err(|e| format!("{:?}", miette::Report::new(e)))?;
    Ok((
        ConductorOptions {
            detach: true,
            ..ConductorOptions::from_manifest(&manifest)
        },
        manifest.sessions,
        manifest.notify,
    ))
}

/// The hosts of `~/.config/baton/hosts.toml`, when there is one.
fn user_hosts() -> Result<std::collections::BTreeMap<String, baton_config::HostConfig>, String> {
    let Some(path) = baton_config::HostsFile::default_path() else {
        return Ok(Default::default());
    };
    match baton_config::HostsFile::load(&path) {
        Ok(file) => Ok(file.map(|f| f.hosts).unwrap_or_default()),
        Err(e) => Err(format!("{:?}", miette::Report::new(e))),
    }
}

/// Removes a socket file a dead daemon left. Only called with the claim
/// held, so no live daemon can be listening on it.
fn remove_stale_socket(socket: &Path) -> Result<(), String> {
    match std::fs::symlink_metadata(socket) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(socket)
                .map_err(|e| format!("cannot remove the stale socket {}: {e}", socket.display()))?;
            tracing::info!(socket = %socket.display(), "removed a stale socket left by a daemon that is gone");
            Ok(())
        }
        Ok(_) => Err(format!(
            "{} exists and is not a socket; move it away or choose another --socket",
            socket.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", socket.display())),
    }
}

/// Binds the socket and makes it 0600 (the directory is already 0700).
fn bind(socket: &Path) -> Result<UnixListener, String> {
    let listener = UnixListener::bind(socket)
        .map_err(|e| format!("cannot listen on {}: {e}", socket.display()))?;
    std::fs::set_permissions(socket, Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot set mode 0600 on {}: {e}", socket.display()))?;
    Ok(listener)
}

/// Why the daemon is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopCause {
    Request,
    Signal,
}

async fn run(setup: Setup) -> i32 {
    // Signal streams first: a SIGTERM while sessions start must reach our
    // shutdown path, not kill the daemon and orphan the agents.
    let (mut sigint, mut sigterm) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return exit::USAGE;
        }
    };
    let Setup {
        socket,
        opts,
        sessions,
        notify,
        euid,
        claims,
    } = setup;
    // Bound before anything starts: if the socket cannot be served, nothing
    // has to be undone. Clients that connect meanwhile wait in the backlog.
    let listener = match bind(&socket) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    let logs_dir = opts.conductor.logs_dir.clone();
    let accounts = opts.accounts.clone();
    let hosts = opts.hosts.clone();
    let backends = opts.backends.names();
    let conductor = match Conductor::start(opts) {
        Ok(conductor) => conductor,
        Err(e) => {
            eprintln!("error: {e}");
            let _ = std::fs::remove_file(&socket);
            return exit::USAGE;
        }
    };
    // Subscribed before any session moves: no transition is missed.
    // The daemon's hooks die with it; what they were doing is logged.
    let _notifications = notify::start(&conductor, notify);

    // No client is served yet (their connections wait in the backlog) and no
    // session from --config has started: sessions an earlier daemon left
    // unfinished are continued first, and --config skips the ids they hold.
    let spawn_lock = tokio::sync::Mutex::new(());
    continue_unfinished(&conductor, &logs_dir).await;
    start_config_sessions(&conductor, &logs_dir, &spawn_lock, sessions).await;
    tracing::info!(
        socket = %socket.display(),
        logs_dir = %logs_dir.display(),
        pid = std::process::id(),
        "baton daemon listening"
    );

    let (stop_tx, stopping) = watch::channel(false);
    let (shutdowns, mut shutdown_rx) = mpsc::unbounded_channel();
    let daemon = Arc::new(Daemon {
        conductor: conductor.clone(),
        logs_dir,
        accounts,
        hosts,
        backends,
        euid,
        stopping,
        shutdowns,
        spawn_lock,
    });
    let mut connections = JoinSet::new();
    let mut waiters = Vec::new();
    let (cause, force) = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection::serve(daemon.clone(), stream));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            Some(request) = shutdown_rx.recv() => {
                let force = request.force;
                waiters.push(request.done);
                break (StopCause::Request, force);
            }
            _ = sigint.recv() => break (StopCause::Signal, false),
            _ = sigterm.recv() => break (StopCause::Signal, false),
        }
    };
    tracing::info!(?cause, force, "baton daemon stopping");
    // New clients now find no daemon rather than one that cannot serve them.
    drop(listener);
    if let Err(e) = std::fs::remove_file(&socket) {
        tracing::warn!(socket = %socket.display(), "cannot remove the socket: {e}");
    }
    let reason = match cause {
        StopCause::Request => "request",
        StopCause::Signal => "signal",
    };
    let result = stop_conductor(
        &conductor,
        reason,
        force,
        &mut sigint,
        &mut sigterm,
        &mut shutdown_rx,
        &mut waiters,
    )
    .await;
    if let Err(e) = &result {
        tracing::error!("shutting the conductor down: {e}");
    }
    let _ = stop_tx.send(true);
    // Everything in the logs dir is final now; a new daemon may take over
    // before this process has exited.
    drop(claims);
    shutdown_rx.close();
    while let Ok(request) = shutdown_rx.try_recv() {
        waiters.push(request.done);
    }
    for waiter in waiters {
        let _ = waiter.send(result.clone());
    }
    let drained = tokio::time::timeout(DRAIN_CONNECTIONS, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = connections.len(),
            "connections still open after {DRAIN_CONNECTIONS:?}; closing them"
        );
        connections.abort_all();
    }
    tracing::info!("baton daemon stopped");
    match (cause, &result) {
        (StopCause::Signal, _) => exit::INTERRUPTED,
        (StopCause::Request, Ok(())) => exit::OK,
        (StopCause::Request, Err(_)) => exit::FAILED,
    }
}

/// Spawns again, from their saved specs, the sessions an earlier daemon on
/// this logs dir left unfinished: the conductor re-adopts their runs, reads
/// how the ones that ended meanwhile ended, or restarts them per policy
/// (`recovered` events say which).
async fn continue_unfinished(conductor: &Conductor, logs_dir: &Path) {
    for id in conductor.unfinished().to_vec() {
        let spec = match specs::load(logs_dir, &id) {
            Ok(spec) => spec,
            Err(e) => {
                tracing::error!(session = %id, "left unfinished by an earlier conductor, but its spec cannot be read, so it is not continued: {e}");
                continue;
            }
        };
        match conductor.spawn(spec).await {
            Ok(_) => tracing::info!(session = %id, "continued after a restart"),
            Err(e) => tracing::error!(session = %id, "cannot continue: {e}"),
        }
    }
}

/// Starts the `[[session]]`s of `--config`, except ids the conductor
/// already has (e.g. recovered from an earlier daemon's log).
async fn start_config_sessions(
    conductor: &Conductor,
    logs_dir: &Path,
    spawn_lock: &tokio::sync::Mutex<()>,
    sessions: Vec<SessionSpec>,
) {
    if sessions.is_empty() {
        return;
    }
    let existing: std::collections::HashSet<String> = match conductor.snapshot().await {
        Ok(table) => table.into_iter().map(|s| s.id).collect(),
        Err(e) => {
            tracing::error!("cannot read the session table: {e}");
            return;
        }
    };
    for spec in sessions {
        let id = spec.id.to_string();
        if existing.contains(&id) {
            tracing::info!(session = %id, "session from --config already exists; not started again");
            continue;
        }
        match spawn::start_saved(conductor, logs_dir, spawn_lock, spec).await {
            Ok(_) => tracing::info!(session = %id, "started session from --config"),
            Err(spawn::NotStarted::Conductor(e)) => {
                tracing::error!(session = %id, "cannot start session from --config: {e}")
            }
            Err(spawn::NotStarted::Spec(e)) => {
                tracing::error!(session = %id, "cannot start session from --config: {e}")
            }
        }
    }
}

/// Shuts the conductor down; while it waits for sessions to stop, a
/// second SIGINT or a `shutdown --force` skips the rest of the grace.
async fn stop_conductor(
    conductor: &Conductor,
    reason: &str,
    force: bool,
    sigint: &mut Signal,
    sigterm: &mut Signal,
    shutdown_rx: &mut mpsc::UnboundedReceiver<ShutdownRequest>,
    waiters: &mut Vec<oneshot::Sender<Result<(), String>>>,
) -> Result<(), String> {
    let mut forced = force;
    let escalate = |forced: &mut bool| {
        if !*forced {
            *forced = true;
            tracing::info!("stopping every session now (SIGKILL)");
            let conductor = conductor.clone();
            tokio::spawn(async move {
                let _ = conductor.shutdown("signal", true).await;
            });
        }
    };
    let mut shutting = std::pin::pin!(conductor.shutdown(reason, force));
    loop {
        tokio::select! {
            result = &mut shutting => {
                return match result {
                    Ok(report) => {
                        tracing::info!(stopped = report.stopped.len(), forced = report.forced, "sessions stopped");
                        Ok(())
                    }
                    Err(ConductorError::Closed) => Ok(()),
                    Err(e) => Err(e.to_string()),
                };
            }
            _ = sigint.recv() => escalate(&mut forced),
            _ = sigterm.recv() => {}
            Some(request) = shutdown_rx.recv() => {
                if request.force {
                    escalate(&mut forced);
                }
                waiters.push(request.done);
            }
        }
    }
}
