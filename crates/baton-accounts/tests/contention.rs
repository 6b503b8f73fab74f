//! Two processes share one state dir and never hold the same account at once.
//!
//! The parent re-executes this test binary twice, running only
//! [`contention_worker`] with [`WORKER_ENV`] set; without it that test
//! returns at once.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_accounts::{Broker, BrokerOptions, Outcome, SystemClock};
use baton_config::{AccountMode, AccountSpec, AccountsConfig, AgentKind, Tier};

const WORKER_ENV: &str = "BATON_ACCOUNTS_CONTENTION_WORKER";
const ROUNDS: usize = 300;
const WORKERS: usize = 2;
const ACCOUNTS: usize = 3;
const DEADLINE: Duration = Duration::from_secs(120);

fn config(root: &Path) -> AccountsConfig {
    AccountsConfig {
        auth_dir: root.join("auth"),
        state_dir: root.join("state"),
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

#[test]
fn contention_worker() {
    let Some(root) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    let root = PathBuf::from(root);
    let broker = Broker::open(
        config(&root),
        Arc::new(SystemClock),
        BrokerOptions {
            home: root.join("home"),
            ..BrokerOptions::default()
        },
    )
    .expect("open");
    let me = std::process::id();
    for round in 0..ROUNDS {
        let outcome = broker
            .lease(AgentKind::Codex, &format!("w{me}-{round}"), None)
            .expect("lease");
        // With fewer workers than accounts one is always free.
        let lease = outcome.lease.expect("an account is free");
        let marker = root.join("held").join(&lease.account);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
        {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                panic!("double lease of {} in round {round}", lease.account)
            }
            Err(e) => panic!("marker {}: {e}", marker.display()),
        }
        std::fs::remove_file(&marker).expect("remove marker");
        broker.release(&lease, Outcome::Success).expect("release");
    }
}

#[test]
fn two_processes_never_double_lease() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("held")).expect("held dir");
    let exe = std::env::current_exe().expect("test binary");
    let started = Instant::now();
    let mut children: Vec<_> = (0..WORKERS)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "contention_worker", "--nocapture"])
                .env(WORKER_ENV, tmp.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    // Wait with a deadline; kill stragglers so none outlives the test.
    let mut statuses = vec![None; WORKERS];
    while statuses.iter().any(Option::is_none) {
        for (i, child) in children.iter_mut().enumerate() {
            if statuses[i].is_none() {
                statuses[i] = child.try_wait().expect("try_wait");
            }
        }
        if started.elapsed() > DEADLINE {
            for c in &mut children {
                let _ = c.kill();
            }
            panic!("workers did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    for (child, status) in children.into_iter().zip(statuses) {
        let out = child.wait_with_output().expect("output");
        let status = status.expect("finished");
        assert!(
            status.success(),
            "worker failed: {status}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let broker = Broker::open(
        config(tmp.path()),
        Arc::new(SystemClock),
        BrokerOptions::default(),
    )
    .expect("open");
    let status = broker.status().expect("status");
    let total: u64 = status.accounts.iter().map(|a| a.total_leases).sum();
    assert_eq!(total, (ROUNDS * WORKERS) as u64);
    assert!(status.accounts.iter().all(|a| a.busy.is_none()));
    println!(
        "contention: {WORKERS} processes x {ROUNDS} lease+release rounds on {ACCOUNTS} accounts \
         in {:.3} s = {:.0} rounds/s",
        elapsed.as_secs_f64(),
        (ROUNDS * WORKERS) as f64 / elapsed.as_secs_f64()
    );
}
