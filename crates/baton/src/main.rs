//! `baton`: the command-line front of the conductor.
//!
//! Exit codes are part of the interface; see [`exit`].

#[cfg(feature = "engine")]
mod accounts;
#[cfg(feature = "engine")]
mod attach;
#[cfg(feature = "engine")]
mod classify;
mod client;
#[cfg(feature = "engine")]
mod daemon;
mod link;
mod mcp;
mod render;
#[cfg(feature = "engine")]
mod replay;
#[cfg(feature = "engine")]
mod run;
mod socket;
mod tui;
#[cfg(feature = "engine")]
mod view;
mod web;
#[cfg(feature = "engine")]
mod worktrees;

#[cfg(feature = "engine")]
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit codes of `baton`, documented in the README.
pub mod exit {
    /// Every session completed (`run`); the daemon did what was asked
    /// (client verbs); `shutdown` stopped the daemon (`daemon`).
    pub const OK: i32 = 0;
    /// At least one session ended `dead` (`run`).
    pub const SESSION_DEAD: i32 = 1;
    /// A client verb's valid request could not be carried out: `send
    /// --if-waiting` to a session not in `input_wait`, input to a session
    /// with no running process, a daemon that is shutting down, or an
    /// internal daemon error. `daemon`: the conductor failed to shut down
    /// cleanly.
    pub const FAILED: i32 = 1;
    /// Bad input; nothing was started or changed. Usage, manifest or
    /// `--file` errors, an unknown session id or an invalid spawn spec
    /// (as judged by the daemon), no daemon listening at the socket, and
    /// for `daemon`: another daemon already holds the socket or the logs
    /// dir, or the socket directory is not private.
    pub const USAGE: i32 = 2;
    /// The control-socket exchange failed: the daemon refused the
    /// connection (another uid, an incompatible protocol), sent something
    /// this client cannot read, or closed the connection early.
    pub const PROTOCOL: i32 = 3;
    /// Interrupted by SIGINT/SIGTERM; sessions were shut down.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Parser, Debug)]
#[command(
    name = "baton",
    version,
    about = "A session conductor for AI coding agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a manifest's sessions in the foreground; exit 0 iff all completed.
    #[cfg(feature = "engine")]
    Run(RunArgs),
    /// Show the account broker's state: busy, cooldowns, circuits, next free account.
    #[cfg(feature = "engine")]
    Accounts(AccountsArgs),
    /// Judge an output tail like the conductor does: is it waiting for an answer?
    #[cfg(feature = "engine")]
    Classify(ClassifyArgs),
    /// Rebuild the session table from an event log alone.
    #[cfg(feature = "engine")]
    Replay(ReplayArgs),
    /// Attach this terminal to a tmux-backed session (detach with C-b d; it keeps running).
    #[cfg(feature = "engine")]
    Attach(AttachArgs),
    /// List the git worktrees of sessions (`worktree = true`); `prune` removes the clean ones of ended sessions.
    #[cfg(feature = "engine")]
    Worktrees(worktrees::WorktreesArgs),
    /// Run a conductor behind a control socket, for the verbs below.
    #[cfg(feature = "engine")]
    Daemon(daemon::DaemonArgs),
    /// Start a session in the daemon; prints its id.
    Spawn(Box<client::spawn::SpawnArgs>),
    /// List the daemon's sessions: id, agent, host, state, restarts, age, last output.
    Ps(client::ps::PsArgs),
    /// Print (or follow with -f) a session's output, raw.
    Logs(client::logs::LogsArgs),
    /// Print (or follow with -f) the daemon's event log.
    Events(client::events::EventsArgs),
    /// Write a line to a session's input (answers an input_wait).
    Send(client::control::SendArgs),
    /// Stop one session; returns once its processes are gone.
    Kill(client::control::KillArgs),
    /// Stop every session and the daemon.
    Shutdown(client::control::ShutdownArgs),
    /// Serve MCP on stdio for a lead agent: spawn, list, status, logs, send, kill, wait, events, accounts.
    Mcp(mcp::McpArgs),
    /// The live dashboard: every session's state with its evidence; answer, kill, attach.
    Tui(tui::TuiArgs),
    /// The dashboard in a browser or on a phone: prints the URL to open (with its access token).
    Web(web::WebArgs),
    /// Print a shell completion script: `baton completions bash > /etc/bash_completion.d/baton`.
    Completions(CompletionsArgs),
    /// Print baton's man page (roff): `baton man | man -l -`.
    Man,
}

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[cfg(feature = "engine")]
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The manifest to run.
    #[arg(default_value = "baton.toml")]
    pub manifest: PathBuf,
    /// Where logs go (overrides `[conductor] logs_dir`).
    #[arg(long, value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,
    /// Print events as JSONL on stdout instead of the live view.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "engine")]
#[derive(clap::Args, Debug)]
pub struct AccountsArgs {
    /// The manifest (or config file) whose `[accounts]` to show.
    #[arg(default_value = "baton.toml")]
    pub manifest: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "engine")]
#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// Output to judge (default: stdin). Only its last `--tail-bytes` count.
    pub file: Option<PathBuf>,
    /// Use this agent's configured `input_wait` rules too (codex, gemini, claude, command).
    #[arg(long)]
    pub agent: Option<String>,
    /// Manifest whose `[agents.*]` rules to use.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Bytes of the end of the input to judge, as the conductor's `tail_bytes`.
    #[arg(long, default_value_t = 2048)]
    pub tail_bytes: usize,
    /// Judge the whole input as a terminal shows it, as the conductor judges
    /// a `pty` or `tmux` session (cursor moves and redraws applied): the
    /// question on the screen now, not the last bytes written.
    #[arg(long, conflicts_with = "tail_bytes")]
    pub terminal: bool,
    /// With `--terminal`: the terminal's state as the conductor saw it,
    /// `canonical=yes|no echo=yes|no reads=terminal|polls|no|unknown` (the
    /// held-out corpus's `.tty` sidecars): judged as a session whose
    /// terminal it can see (`no_echo`, `reads_terminal`).
    #[arg(long, value_name = "STATE", requires = "terminal")]
    pub tty: Option<String>,
    /// With `--terminal`: print the screen as judged on stderr first (its
    /// text, control characters escaped).
    #[arg(long, requires = "terminal")]
    pub show: bool,
}

#[cfg(feature = "engine")]
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The event log (`<logs_dir>/events.jsonl`, every segment it rolled
    /// over into read in order), or the logs directory holding it.
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[cfg(feature = "engine")]
#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// The session id.
    pub id: String,
    /// The manifest whose logs dir holds the session.
    #[arg(default_value = "baton.toml")]
    pub manifest: PathBuf,
    /// The logs dir (instead of reading it from the manifest).
    #[arg(long, value_name = "DIR")]
    pub logs_dir: Option<PathBuf>,
}

/// Writes `bytes` to stdout; a reader that went away (`| head`) is fine.
fn print_all(bytes: &[u8]) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit::OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            exit::FAILED
        }
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // The daemon says what it does (listening, stopping) unless told otherwise.
    let default_filter = match cli.command {
        #[cfg(feature = "engine")]
        Command::Daemon(_) => "info",
        // What baton mcp does (starting a daemon), not rmcp's every message.
        Command::Mcp(_) => "warn,baton=info",
        // Its stderr is the screen it draws on.
        Command::Tui(_) => "off",
        Command::Web(_) => "warn,baton=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    let code = match cli.command {
        #[cfg(feature = "engine")]
        Command::Run(args) => run::main(args),
        #[cfg(feature = "engine")]
        Command::Accounts(args) => accounts::main(args),
        #[cfg(feature = "engine")]
        Command::Classify(args) => classify::main(args),
        #[cfg(feature = "engine")]
        Command::Replay(args) => replay::main(args),
        #[cfg(feature = "engine")]
        Command::Attach(args) => attach::main(args),
        #[cfg(feature = "engine")]
        Command::Worktrees(args) => worktrees::main(args),
        #[cfg(feature = "engine")]
        Command::Daemon(args) => daemon::main(args),
        Command::Spawn(args) => client::spawn::main(*args),
        Command::Ps(args) => client::ps::main(args),
        Command::Logs(args) => client::logs::main(args),
        Command::Events(args) => client::events::main(args),
        Command::Send(args) => client::control::send(args),
        Command::Kill(args) => client::control::kill(args),
        Command::Shutdown(args) => client::control::shutdown(args),
        Command::Mcp(args) => mcp::main(args),
        Command::Tui(args) => tui::main(args),
        Command::Web(args) => web::main(args),
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "baton", &mut script);
            print_all(&script)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            match clap_mangen::Man::new(command).render(&mut page) {
                Ok(()) => print_all(&page),
                Err(e) => {
                    eprintln!("error: rendering the man page: {e}");
                    exit::FAILED
                }
            }
        }
    };
    std::process::exit(code);
}
