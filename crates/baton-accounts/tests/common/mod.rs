//! Shared fixtures: a temp dir with a state dir, an auth dir and a home.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use baton_accounts::{Broker, BrokerOptions, FakeClock, Lease, Owner};
use baton_config::{AccountMode, AccountSpec, AccountsConfig, AgentKind, Tier};
use jiff::Timestamp;

pub const MIN: Duration = Duration::from_secs(60);

pub fn start() -> Timestamp {
    Timestamp::from_second(1_700_000_000).expect("in range")
}

pub fn profile(id: &str, tier: Tier) -> AccountSpec {
    AccountSpec {
        id: id.into(),
        provider: AgentKind::Codex,
        mode: AccountMode::Profile,
        profile: Some(format!("p-{id}")),
        env: BTreeMap::new(),
        auth_file: None,
        host: None,
        tier,
    }
}

pub fn on(host: &str, mut spec: AccountSpec) -> AccountSpec {
    spec.host = Some(host.into());
    spec
}

pub fn auth(provider: AgentKind, id: &str, file: impl Into<PathBuf>) -> AccountSpec {
    AccountSpec {
        provider,
        mode: AccountMode::Auth,
        profile: None,
        auth_file: Some(file.into()),
        ..profile(id, Tier::Unknown)
    }
}

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub clock: FakeClock,
    pub broker: Broker,
}

impl Fixture {
    pub fn new(accounts: Vec<AccountSpec>) -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("auth")).expect("auth dir");
        std::fs::create_dir_all(tmp.path().join("home")).expect("home dir");
        let clock = FakeClock::new(start());
        let broker = open(tmp.path(), accounts, &clock, Owner::current());
        Fixture { tmp, clock, broker }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Another broker (as another conductor would open it) on the same state.
    pub fn reopen(&self, owner: Owner) -> Broker {
        open(
            self.path(),
            self.broker.config().accounts.clone(),
            &self.clock,
            owner,
        )
    }

    pub fn lease(&self, session: &str) -> Option<Lease> {
        self.broker
            .lease(AgentKind::Codex, session, None)
            .expect("lease call")
            .lease
    }

    pub fn lease_id(&self, session: &str) -> String {
        self.lease(session).expect("an account is free").account
    }
}

pub fn config(root: &Path, accounts: Vec<AccountSpec>) -> AccountsConfig {
    AccountsConfig {
        auth_dir: root.join("auth"),
        state_dir: root.join("state"),
        cooldown: 5 * MIN,
        circuit_failures: 3,
        circuit_window: 10 * MIN,
        accounts,
    }
}

pub fn open(root: &Path, accounts: Vec<AccountSpec>, clock: &FakeClock, owner: Owner) -> Broker {
    Broker::open(
        config(root, accounts),
        Arc::new(clock.clone()),
        BrokerOptions {
            home: root.join("home"),
            owner,
        },
    )
    .expect("broker opens")
}

/// A process that has exited: its pid no longer names it.
pub fn dead_owner() -> Owner {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait true");
    Owner {
        pid,
        start_time: Owner::current().start_time,
    }
}
