//! baton-bench: prints every benchmark figure next to a baseline measured in
//! the same run, on the same machine.
//!
//! It drives an embedded `Conductor` with the stand-in agent, and for the
//! daemon figures a real `baton daemon` child over its socket. It reports;
//! it never asserts: a missed target is a `NO` in the table, not a failure.
//! The exit status is non-zero only when a figure could not be measured
//! (output verification failed, a wait hit its deadline, a process would not
//! start).
//!
//! Exit codes: [`EXIT_OK`], [`EXIT_NOT_MEASURED`], and 2 for bad usage.

mod daemon;
mod figures;
mod harness;
mod report;
mod stats;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use baton_config::FsyncPolicy;
use clap::{Parser, ValueEnum};

use crate::figures::{Ctx, Outcome};
use crate::report::Report;
use crate::sys::Machine;

/// Every figure was measured (targets may still be missed).
pub const EXIT_OK: u8 = 0;
/// At least one figure could not be measured.
pub const EXIT_NOT_MEASURED: u8 = 1;

/// Errors inside the bench: a message for the person running it.
pub type Fallible<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The benchmark figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Figure {
    /// Exit detection latency.
    Exit,
    /// Stall detection error.
    Stall,
    /// Output throughput against `agent | cat > file`.
    Throughput,
    /// The same flood with logs rolling over every 64 MiB beside one file.
    Rolling,
    /// Spawn rate to healthy, and shutdown time.
    Spawn,
    /// Idle CPU and memory per session.
    Idle,
    /// Account-broker lease+release rate with two processes contending.
    Accounts,
    /// Input-wait precision and recall on the labelled corpus.
    Detector,
    /// `ps` latency of a real `baton daemon` holding 1,000 sessions.
    DaemonPs,
    /// `events -f` throughput from a real `baton daemon` under restart churn.
    DaemonEvents,
    /// Remote probe round trip, and many sessions on two network-namespace
    /// hosts (needs root, `ip netns`, nft, sshd and tmux).
    Remote,
    /// `baton mcp`: `list` with 1,000 sessions and `wait` wake-up, beside the raw socket.
    Mcp,
    /// `baton tui`'s CPU in a tmux pane: 500 live sessions, and a restart storm.
    Tui,
    /// Reading an agent's structured output: a stream-json flood through a
    /// claude session beside the same bytes through a command session.
    Parser,
    /// A CLI's hook to its `input_wait` record: claude sessions (the
    /// stand-in) on a PTY firing `PermissionRequest`, beside the hook alone.
    Hook,
    /// A clear prompt on screen to its `input_wait` record, on pipes and a
    /// PTY, beside `input_wait_after` itself.
    Prompt,
    /// `baton web`'s page in headless Chromium with 1,000 sessions: first
    /// render, state record to the page, the daemon's CPU with it open.
    Web,
    /// Supervision CPU with agents writing a line every 500 ms, beside a
    /// minimal relay (the physical limit) on the same agents.
    Relay,
}

impl Figure {
    const ALL: [Figure; 18] = [
        Figure::Exit,
        Figure::Stall,
        Figure::Throughput,
        Figure::Rolling,
        Figure::Spawn,
        Figure::Idle,
        Figure::Accounts,
        Figure::Detector,
        Figure::DaemonPs,
        Figure::DaemonEvents,
        Figure::Remote,
        Figure::Mcp,
        Figure::Tui,
        Figure::Parser,
        Figure::Hook,
        Figure::Prompt,
        Figure::Web,
        Figure::Relay,
    ];

    fn name(self) -> &'static str {
        match self {
            Figure::Exit => "exit",
            Figure::Stall => "stall",
            Figure::Throughput => "throughput",
            Figure::Rolling => "rolling",
            Figure::Spawn => "spawn",
            Figure::Idle => "idle",
            Figure::Accounts => "accounts",
            Figure::Detector => "detector",
            Figure::DaemonPs => "daemon-ps",
            Figure::DaemonEvents => "daemon-events",
            Figure::Remote => "remote",
            Figure::Mcp => "mcp",
            Figure::Tui => "tui",
            Figure::Parser => "parser",
            Figure::Hook => "hook",
            Figure::Prompt => "prompt",
            Figure::Web => "web",
            Figure::Relay => "relay",
        }
    }

    /// Whether the figure runs the stand-in agent.
    fn needs_stand_in(self) -> bool {
        !matches!(self, Figure::Accounts | Figure::Detector)
    }

    /// Whether the figure starts `baton daemon`.
    fn needs_baton(self) -> bool {
        matches!(
            self,
            Figure::DaemonPs | Figure::DaemonEvents | Figure::Mcp | Figure::Tui | Figure::Web
        )
    }
}

/// Measure baton and print each figure with a baseline.
#[derive(Debug, Parser)]
#[command(name = "baton-bench", version)]
struct Args {
    /// Smaller runs (50 exit, 20 stall, 20 hooks, 10 prompts, 64 MiB flood, 100 spawn, idle at 100 only,
    /// 100 broker rounds per process, daemon ps with 100 sessions and 50 requests,
    /// daemon events with 50 sessions over 3 s, remote with 10 probes and
    /// 10 sessions over 3 s, mcp with 100 sessions, 30 lists and 10 waits, tui with 100 live sessions and a
    /// storm of 50 over 3 s, relay with 100 agents for 10 s, one run per side).
    #[arg(long)]
    quick: bool,
    /// Run only this figure.
    #[arg(long, value_name = "NAME")]
    only: Option<Figure>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Show every figure beside its value in a run saved earlier with
    /// `--json` (before/after a change): a table under the usual one, or
    /// `compared_with` in the JSON.
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,
    /// Bytes per flood run (`1G`, `64M`, a plain number); default 1G, 64M with --quick.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    flood_size: Option<u64>,
    /// Flood runs per side (baton and cat, interleaved).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    flood_runs: u16,
    /// Seconds of each idle window.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    idle_window: f64,
    /// Event-log durability of the conductors under test (`always`, `batch`, `off`).
    #[arg(long, value_name = "POLICY", default_value = "batch", value_parser = parse_fsync)]
    fsync: FsyncPolicy,
    /// Run pipes sessions detached under `baton-shim` (straight into their
    /// logs, outliving the conductor), as `baton daemon` does.
    #[arg(long)]
    detach: bool,
    /// Where scratch files go (logs, flood output); a temp dir inside it is
    /// created and removed. Default: the system temp dir.
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// The stand-in agent binary. Default: `BATON_STAND_IN`, else the
    /// `stand-in-agent` next to this executable.
    #[arg(long, value_name = "PATH")]
    stand_in: Option<PathBuf>,
    /// The `baton` binary for the daemon figures (`baton-shim` must be next
    /// to it). Default: `BATON_BIN`, else the `baton` next to this executable.
    #[arg(long, value_name = "PATH")]
    baton: Option<PathBuf>,
    /// Internal: act as the `relay` figure's minimal relay, its files in
    /// this directory, the agent's argv after `--`.
    #[arg(long = "relay-worker", value_name = "DIR", hide = true)]
    relay_worker: Option<PathBuf>,
    /// Internal: agents the relay worker runs.
    #[arg(
        long = "relay-sessions",
        value_name = "N",
        hide = true,
        default_value_t = 1
    )]
    relay_sessions: usize,
    /// Internal: the relay worker's agent and its arguments.
    #[arg(last = true, hide = true)]
    relay_agent: Vec<String>,
    /// Internal: act as an `accounts` contention worker on this directory.
    #[arg(long = "accounts-worker", value_name = "DIR", hide = true)]
    accounts_worker: Option<PathBuf>,
    /// Internal: rounds for an `accounts` contention worker.
    #[arg(
        long = "accounts-rounds",
        value_name = "N",
        hide = true,
        default_value_t = 300
    )]
    accounts_rounds: usize,
}

fn parse_fsync(text: &str) -> Result<FsyncPolicy, String> {
    text.parse()
        .map_err(|e: baton_config::UnknownVariant| e.to_string())
}

fn parse_size(text: &str) -> Result<u64, String> {
    stand_in_agent::parse_size(text).map_err(|e| e.to_string())
}

/// How big each figure is.
struct Plan {
    exit_sessions: usize,
    stall_sessions: usize,
    hook_runs: usize,
    prompt_sessions: usize,
    flood_size: u64,
    flood_runs: usize,
    spawn_sessions: usize,
    idle_counts: Vec<usize>,
    idle_window: Duration,
    accounts_rounds: usize,
    ps_sessions: usize,
    ps_requests: usize,
    events_sessions: usize,
    events_window: Duration,
    remote: figures::remote::RemotePlan,
    mcp_sessions: usize,
    mcp_requests: usize,
    mcp_wakeups: usize,
    tui_live: usize,
    tui_storm: usize,
    tui_window: Duration,
    web_sessions: usize,
    web_changes: usize,
    relay: figures::relay::RelayPlan,
}

impl Plan {
    fn from_args(args: &Args) -> Fallible<Plan> {
        if !(args.idle_window.is_finite() && args.idle_window > 0.0) {
            return Err("--idle-window must be a positive number of seconds".into());
        }
        let quick = args.quick;
        Ok(Plan {
            exit_sessions: if quick { 50 } else { 200 },
            stall_sessions: if quick { 20 } else { 100 },
            hook_runs: if quick { 20 } else { 100 },
            prompt_sessions: if quick { 10 } else { 40 },
            flood_size: args
                .flood_size
                .unwrap_or(if quick { 64 << 20 } else { 1 << 30 }),
            flood_runs: usize::from(args.flood_runs),
            spawn_sessions: if quick { 100 } else { 500 },
            idle_counts: if quick { vec![100] } else { vec![100, 1000] },
            idle_window: Duration::from_secs_f64(args.idle_window),
            accounts_rounds: if quick { 100 } else { 300 },
            ps_sessions: if quick { 100 } else { 1000 },
            ps_requests: if quick { 50 } else { 200 },
            events_sessions: if quick { 50 } else { 200 },
            events_window: Duration::from_secs(if quick { 3 } else { 10 }),
            remote: figures::remote::RemotePlan {
                sessions: if quick { 10 } else { 50 },
                probes: if quick { 10 } else { 30 },
                window: Duration::from_secs(if quick { 3 } else { 10 }),
            },
            mcp_sessions: if quick { 100 } else { 1000 },
            mcp_requests: if quick { 30 } else { 100 },
            mcp_wakeups: if quick { 10 } else { 30 },
            tui_live: if quick { 100 } else { 500 },
            tui_storm: if quick { 50 } else { 200 },
            tui_window: Duration::from_secs(if quick { 3 } else { 10 }),
            web_sessions: if quick { 100 } else { 1000 },
            web_changes: if quick { 20 } else { 100 },
            relay: figures::relay::RelayPlan {
                sessions: if quick { 100 } else { 500 },
                lines: if quick { 20 } else { 60 },
                runs: if quick { 1 } else { 3 },
            },
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // A worker's failure is said, and the figure that ran it is not measured.
    let worker = |what: &str, result: Fallible<()>| match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("baton-bench {what} worker: {e}");
            ExitCode::from(EXIT_NOT_MEASURED)
        }
    };
    if let Some(dir) = &args.relay_worker {
        let done = figures::relay::work(dir, args.relay_sessions, &args.relay_agent);
        return worker("relay", done);
    }
    if let Some(dir) = &args.accounts_worker {
        return worker(
            "accounts",
            figures::accounts::work(dir, args.accounts_rounds),
        );
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baton-bench: cannot start the tokio runtime: {e}");
            return ExitCode::from(EXIT_NOT_MEASURED);
        }
    };
    // A bad saved run is refused before anything is measured.
    let before = match args
        .compare
        .as_deref()
        .map(report::Before::load)
        .transpose()
    {
        Ok(before) => before,
        Err(e) => {
            eprintln!("baton-bench: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(&args));
    runtime.shutdown_timeout(Duration::from_secs(5));
    match result {
        Ok(report) => {
            if args.json {
                let mut json = report.to_json();
                if let Some(before) = &before {
                    json["compared_with"] = report.comparison_json(before);
                }
                println!("{json:#}");
            } else {
                print!("{}", report.to_text());
                if let Some(before) = &before {
                    print!("{}", report.comparison_text(before));
                }
            }
            if report.failures.is_empty() {
                ExitCode::from(EXIT_OK)
            } else {
                ExitCode::from(EXIT_NOT_MEASURED)
            }
        }
        Err(e) => {
            eprintln!("baton-bench: {e}");
            ExitCode::from(EXIT_NOT_MEASURED)
        }
    }
}

async fn run(args: &Args) -> Fallible<Report> {
    let plan = Plan::from_args(args)?;
    let selected: Vec<Figure> = match args.only {
        Some(f) => vec![f],
        None => Figure::ALL.to_vec(),
    };
    // The broker figure runs without the stand-in, so it need not be built.
    let stand_in = if selected.iter().any(|f| f.needs_stand_in()) {
        harness::locate_stand_in(args.stand_in.clone())?
    } else {
        PathBuf::new()
    };
    let baton = if selected.iter().any(|f| f.needs_baton()) {
        daemon::locate_baton(args.baton.clone())?
    } else {
        PathBuf::new()
    };
    // 1000 sessions hold about 5000 descriptors.
    baton_core::proc::raise_fd_limit().map_err(|e| format!("cannot raise the fd limit: {e}"))?;
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("baton-bench-")
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot create a scratch dir in {}: {e}", parent.display()))?;
    let mut report = Report {
        machine: Machine::describe(),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        rows: Vec::new(),
        notes: Vec::new(),
        failures: Vec::new(),
    };
    for figure in selected {
        let ctx = Ctx {
            stand_in: stand_in.clone(),
            baton: baton.clone(),
            dir: scratch.path().join(figure.name()),
            fsync: args.fsync,
            detach: args.detach,
        };
        eprintln!("baton-bench: measuring {} ...", figure.name());
        let outcome = match std::fs::create_dir_all(&ctx.dir) {
            Ok(()) => measure(figure, &ctx, &plan).await,
            Err(e) => Err(format!("{}: {e}", ctx.dir.display()).into()),
        };
        match outcome {
            Ok(o) => {
                report.rows.extend(o.rows);
                report.notes.extend(o.notes);
            }
            Err(e) => {
                eprintln!("baton-bench: {} not measured: {e}", figure.name());
                report.failures.push((figure.name().into(), e.to_string()));
            }
        }
        // Flood output and thousands of logs add up; free them as we go.
        let _ = std::fs::remove_dir_all(&ctx.dir);
    }
    scratch
        .close()
        .map_err(|e| format!("cannot remove the scratch dir: {e}"))?;
    Ok(report)
}

async fn measure(figure: Figure, ctx: &Ctx, plan: &Plan) -> Fallible<Outcome> {
    match figure {
        Figure::Exit => figures::exit::measure(ctx, plan.exit_sessions).await,
        Figure::Stall => figures::stall::measure(ctx, plan.stall_sessions).await,
        Figure::Hook => figures::hook::measure(ctx, plan.hook_runs).await,
        Figure::Prompt => figures::prompt::measure(ctx, plan.prompt_sessions).await,
        Figure::Parser => figures::parser::measure(ctx, plan.flood_size, plan.flood_runs).await,
        Figure::Throughput => {
            figures::throughput::measure(ctx, plan.flood_size, plan.flood_runs).await
        }
        Figure::Rolling => {
            figures::throughput::measure_rolling(ctx, plan.flood_size, plan.flood_runs).await
        }
        Figure::Spawn => figures::spawn::measure(ctx, plan.spawn_sessions).await,
        Figure::Idle => figures::idle::measure(ctx, &plan.idle_counts, plan.idle_window).await,
        Figure::Accounts => figures::accounts::measure(ctx, plan.accounts_rounds).await,
        Figure::Detector => figures::detector::measure(),
        Figure::DaemonPs => {
            figures::daemon_ps::measure(ctx, plan.ps_sessions, plan.ps_requests).await
        }
        Figure::DaemonEvents => {
            figures::daemon_events::measure(ctx, plan.events_sessions, plan.events_window).await
        }
        Figure::Remote => figures::remote::measure(ctx, &plan.remote).await,
        Figure::Tui => {
            figures::tui::measure(ctx, plan.tui_live, plan.tui_storm, plan.tui_window).await
        }
        Figure::Web => {
            figures::web::measure(ctx, plan.web_sessions, plan.web_changes, plan.tui_window).await
        }
        Figure::Mcp => {
            figures::mcp::measure(ctx, plan.mcp_sessions, plan.mcp_requests, plan.mcp_wakeups).await
        }
        Figure::Relay => figures::relay::measure(ctx, &plan.relay).await,
    }
}
