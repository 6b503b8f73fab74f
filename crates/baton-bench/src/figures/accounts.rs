//! Account-broker contention: lease+release rounds per second when several
//! processes share one state file (every conductor on the machine
//! shares one truth, under a file lock, written durably).
//!
//! Each worker is this executable re-run with the hidden [`WORKER_FLAG`]; a
//! worker that ever sees an account it leased already held by the other
//! fails, and the figure is not measured.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use baton_accounts::{Broker, BrokerOptions, Outcome as Release, SystemClock};
use baton_config::{AccountMode, AccountSpec, AccountsConfig, AgentKind, Tier};
use tokio::time::{Instant, timeout};

use super::{Ctx, Outcome};
use crate::Fallible;
use crate::report::{Row, Target};

/// The hidden flag that makes `baton-bench` a contention worker on a directory.
pub const WORKER_FLAG: &str = "--accounts-worker";
/// The hidden flag giving a worker its number of rounds.
pub const ROUNDS_FLAG: &str = "--accounts-rounds";

/// Accounts shared by the workers: more than workers, so one is always free.
const ACCOUNTS: usize = 3;

/// How long one run may take.
const LIMIT: Duration = Duration::from_secs(120);

/// Measures `rounds` lease+release rounds per process with 2 processes,
/// against 1 process alone.
pub async fn measure(ctx: &Ctx, rounds: usize) -> Fallible<Outcome> {
    let one = run(ctx, 1, rounds).await?;
    let two = run(ctx, 2, rounds).await?;
    Ok(Outcome {
        rows: vec![Row::new(
            "broker lease+release, 2 processes (rounds/s)",
            two,
            Some(one),
            Target::None,
        )],
        notes: vec![format!(
            "accounts: each process = baton-bench re-run as a worker doing {rounds} rounds of \
             lease -> create_new marker (a double lease fails the run) -> remove -> release, \
             on {ACCOUNTS} accounts in one state dir (every call: flock, read, write, fsync, \
             rename, fsync dir); rate = all rounds / wall time from spawn to last exit; \
             baseline = 1 process alone; total_leases checked afterwards"
        )],
    })
}

fn config(dir: &Path) -> AccountsConfig {
    AccountsConfig {
        auth_dir: dir.join("auth"),
        state_dir: dir.join("state"),
        accounts: (0..ACCOUNTS)
            .map(|i| AccountSpec {
                id: format!("acct{i}"),
                provider: AgentKind::Codex,
                mode: AccountMode::Profile,
                profile: Some(format!("p{i}")),
                env: Default::default(),
                auth_file: None,
                host: None,
                tier: Tier::Unknown,
            })
            .collect(),
        ..AccountsConfig::default()
    }
}

fn open(dir: &Path) -> Fallible<Broker> {
    Ok(Broker::open(
        config(dir),
        Arc::new(SystemClock),
        BrokerOptions {
            home: dir.join("home"),
            ..BrokerOptions::default()
        },
    )?)
}

/// Rounds per second across `workers` processes.
async fn run(ctx: &Ctx, workers: usize, rounds: usize) -> Fallible<f64> {
    let dir = ctx.dir.join(format!("accounts-{workers}"));
    let held = dir.join("held");
    std::fs::create_dir_all(&held).map_err(|e| format!("{}: {e}", held.display()))?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let started = Instant::now();
    let mut children = Vec::with_capacity(workers);
    for _ in 0..workers {
        let child = tokio::process::Command::new(&exe)
            .arg(WORKER_FLAG)
            .arg(&dir)
            .arg(ROUNDS_FLAG)
            .arg(rounds.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a worker {}: {e}", exe.display()))?;
        children.push(child);
    }
    for child in children {
        let out = timeout(LIMIT, child.wait_with_output())
            .await
            .map_err(|_| format!("a contention worker took longer than {LIMIT:?}"))??;
        if !out.status.success() {
            return Err(format!(
                "a contention worker failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
            .into());
        }
    }
    let elapsed = started.elapsed();
    let leases: u64 = open(&dir)?
        .status()?
        .accounts
        .iter()
        .map(|a| a.total_leases)
        .sum();
    let want = (workers * rounds) as u64;
    if leases != want {
        return Err(format!("{want} rounds ran but the broker counted {leases} leases").into());
    }
    Ok(want as f64 / elapsed.as_secs_f64())
}

/// The worker: `rounds` lease -> marker -> release rounds on `dir`. Runs
/// without a tokio runtime.
pub fn work(dir: &Path, rounds: usize) -> Fallible<()> {
    let broker = open(dir)?;
    let me = std::process::id();
    for round in 0..rounds {
        let lease = broker
            .lease(AgentKind::Codex, &format!("w{me}-{round}"), None)?
            .lease
            .ok_or_else(|| format!("round {round}: no account free with {ACCOUNTS} accounts"))?;
        let marker: PathBuf = dir.join("held").join(&lease.account);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(format!("round {round}: {} leased twice", lease.account).into());
            }
            Err(e) => return Err(format!("{}: {e}", marker.display()).into()),
        }
        std::fs::remove_file(&marker).map_err(|e| format!("{}: {e}", marker.display()))?;
        broker.release(&lease, Release::Success)?;
    }
    Ok(())
}
