//! `baton`: the command-line front of the conductor.
//!
//! Exit codes are part of the interface; see [`exit`].

mod accounts;
mod attach;
mod classify;
mod replay;
mod run;
mod view;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Exit codes of `baton`, documented in the README.
pub mod exit {
    /// Every session completed.
    pub const OK: i32 = 0;
    /// At least one session ended `dead`.
    pub const SESSION_DEAD: i32 = 1;
    /// Usage or manifest error; nothing was started.
    pub const USAGE: i32 = 2;
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
    Run(RunArgs),
    /// Show the account broker's state: busy, cooldowns, circuits, next free account.
    Accounts(AccountsArgs),
    /// Judge an output tail like the conductor does: is it waiting for an answer?
    Classify(ClassifyArgs),
    /// Rebuild the session table from an event log alone.
    Replay(ReplayArgs),
    /// Attach this terminal to a tmux-backed session (detach with C-b d; it keeps running).
    Attach(AttachArgs),
}

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

#[derive(clap::Args, Debug)]
pub struct AccountsArgs {
    /// The manifest (or config file) whose `[accounts]` to show.
    #[arg(default_value = "baton.toml")]
    pub manifest: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

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
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The event log (`<logs_dir>/events.jsonl`).
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let code = match cli.command {
        Command::Run(args) => run::main(args),
        Command::Accounts(args) => accounts::main(args),
        Command::Classify(args) => classify::main(args),
        Command::Replay(args) => replay::main(args),
        Command::Attach(args) => attach::main(args),
    };
    std::process::exit(code);
}
