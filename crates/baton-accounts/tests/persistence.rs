//! The shared state file: restarts remember, corruption is refused, dead
//! owners' leases expire.

mod common;

use std::sync::Arc;

use baton_accounts::{Broker, BrokerError, BrokerOptions, CircuitState, FakeClock, Outcome, Owner};
use baton_config::{AgentKind, Tier};
use common::*;

#[test]
fn a_second_broker_sees_cooldowns_circuits_and_leases() {
    let f = Fixture::new(vec![
        profile("cool", Tier::Pro),
        profile("broken", Tier::Plus),
        profile("held", Tier::Free),
    ]);
    let cool = f.lease("s1").expect("cool");
    assert_eq!(cool.account, "cool");
    f.broker
        .release(&cool, Outcome::RateLimited { reset_after: None })
        .expect("release");
    for _ in 0..3 {
        let broken = f.lease("s2").expect("broken");
        assert_eq!(broken.account, "broken");
        f.broker
            .release(&broken, Outcome::Failure)
            .expect("release");
    }
    let held = f.lease("s3").expect("held");
    assert_eq!(held.account, "held");
    drop(f.broker.clone());

    let again = f.reopen(Owner::current());
    let status = again.status().expect("status");
    let by_id = |id: &str| {
        status
            .accounts
            .iter()
            .find(|a| a.id == id)
            .expect("present")
            .clone()
    };
    assert_eq!(by_id("cool").cooldown_until, Some(start() + 5 * MIN));
    assert_eq!(by_id("cool").total_rate_limits, 1);
    assert_eq!(by_id("broken").circuit, CircuitState::Open);
    assert_eq!(by_id("broken").total_failures, 3);
    assert_eq!(
        by_id("held").busy.as_ref().map(|b| b.session.as_str()),
        Some("s3")
    );
    let outcome = again.lease(AgentKind::Codex, "s4", None).expect("lease");
    assert!(outcome.lease.is_none());
    assert_eq!(outcome.eta, Some(start() + 5 * MIN));
    // The lease taken by the first broker is released through the second.
    again.release(&held, Outcome::Success).expect("release");
    assert_eq!(f.lease_id("s5"), "held");
}

#[test]
fn accounts_not_in_the_config_are_kept_but_ignored() {
    let f = Fixture::new(vec![profile("a", Tier::Pro), profile("gone", Tier::Pro)]);
    let gone = f.lease("s").expect("a");
    f.broker.release(&gone, Outcome::Success).expect("release");
    let gone = f.lease("s").expect("gone");
    assert_eq!(gone.account, "gone");
    f.broker
        .release(&gone, Outcome::RateLimited { reset_after: None })
        .expect("release");
    let path = f.path().join("state/accounts.json");
    let narrower = open(
        f.path(),
        vec![profile("a", Tier::Pro)],
        &f.clock,
        Owner::current(),
    );
    let lease = narrower.lease(AgentKind::Codex, "t", None).expect("lease");
    narrower
        .release(&lease.lease.expect("a"), Outcome::Success)
        .expect("release");
    assert_eq!(narrower.status().expect("status").accounts.len(), 1);
    let text = std::fs::read_to_string(&path).expect("state");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["accounts"]["codex/gone"]["total_rate_limits"], 1);
    assert_eq!(json["accounts"]["codex/a"]["total_leases"], 2);
}

#[test]
fn a_corrupt_state_file_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    let file = state.join("accounts.json");
    for (text, newer) in [
        ("{\"version\":1,\"accounts\":[", false),
        ("{\"version\":9}", true),
    ] {
        std::fs::write(&file, text).expect("write");
        let err = Broker::open(
            config(tmp.path(), vec![profile("a", Tier::Pro)]),
            Arc::new(FakeClock::new(start())),
            BrokerOptions::default(),
        )
        .expect_err("refused");
        match (&err, newer) {
            (BrokerError::Corrupt { path, .. }, false)
            | (BrokerError::UnsupportedVersion { path, .. }, true) => assert_eq!(path, &file),
            _ => panic!("{err:?}"),
        }
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&file).expect("read"), text);
    }
}

#[test]
fn corruption_after_open_is_refused_by_every_call() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    std::fs::write(f.path().join("state/accounts.json"), "not json").expect("write");
    assert!(matches!(
        f.broker.lease(AgentKind::Codex, "s", None),
        Err(BrokerError::Corrupt { .. })
    ));
    assert!(matches!(
        f.broker.status(),
        Err(BrokerError::Corrupt { .. })
    ));
}

#[test]
fn state_dir_is_private_and_the_file_is_complete_json() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let _lease = f.lease("s").expect("leased");
    let mode = std::fs::metadata(f.path().join("state"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let text = std::fs::read_to_string(f.path().join("state/accounts.json")).expect("state");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["leases"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["leases"][0]["owner_pid"], std::process::id());
}

#[test]
fn leases_of_a_dead_owner_expire_on_the_next_call() {
    let mut file = auth(AgentKind::Codex, "file", "file.json");
    file.tier = Tier::Pro;
    let f = Fixture::new(vec![file, profile("a", Tier::Free)]);
    std::fs::write(f.path().join("auth/file.json"), b"{\"token\":1}").expect("auth file");
    let dead = dead_owner();
    let ghost = f.reopen(dead);
    let held = ghost.lease(AgentKind::Codex, "ghost", None).expect("lease");
    let held = held.lease.expect("file");
    assert_eq!(held.account, "file");
    let dir = held.credentials.private_dir.clone().expect("private dir");
    assert!(dir.is_dir());

    // A live conductor's next call expires it.
    let outcome = f
        .broker
        .lease(AgentKind::Codex, "live", None)
        .expect("lease");
    let expired: Vec<_> = outcome
        .expired
        .iter()
        .map(|e| (e.account.as_str(), e.session.as_str(), e.owner_pid))
        .collect();
    assert_eq!(expired, [("codex/file", "ghost", dead.pid)]);
    assert!(!dir.exists(), "private dir removed");
    let live = outcome.lease.expect("the expired account is free again");
    assert_eq!(live.account, "file");
    assert_ne!(live.credentials.private_dir, Some(dir));
    // The dead owner's late release changes nothing.
    let report = f.broker.release(&held, Outcome::Failure).expect("release");
    assert_eq!(report.circuit, None);
    let status = f.broker.status().expect("status");
    assert_eq!(status.accounts[0].total_failures, 0);
    assert_eq!(
        status.accounts[0].busy.as_ref().map(|b| b.session.as_str()),
        Some("live")
    );
}

#[test]
fn live_owners_leases_never_expire() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let lease = f.lease("s").expect("leased");
    f.clock
        .advance(std::time::Duration::from_secs(30 * 24 * 3600));
    let other = f.reopen(Owner::current());
    let outcome = other.lease(AgentKind::Codex, "t", None).expect("lease");
    assert!(outcome.lease.is_none());
    assert!(outcome.expired.is_empty());
    f.broker.release(&lease, Outcome::Success).expect("release");
}

#[test]
fn a_held_lock_times_out() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let lock = std::fs::File::open(f.path().join("state/accounts.lock")).expect("open lock");
    lock.lock().expect("lock");
    let started = std::time::Instant::now();
    let err = f.broker.status().expect_err("times out");
    assert!(matches!(err, BrokerError::LockTimeout { .. }), "{err:?}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
    drop(lock);
    f.broker.status().expect("works once unlocked");
}
