//! Leasing rules through the public API, on a fake clock.

mod common;

use std::collections::HashMap;

use baton_accounts::{CircuitState, Lease, Outcome};
use baton_config::{AgentKind, Tier};
use common::*;

fn release(f: &Fixture, lease: &Lease, outcome: Outcome) -> baton_accounts::ReleaseReport {
    f.broker.release(lease, outcome).expect("release")
}

fn circuit_of(f: &Fixture, id: &str) -> CircuitState {
    let status = f.broker.status().expect("status");
    status
        .accounts
        .iter()
        .find(|a| a.id == id)
        .expect("account in status")
        .circuit
}

#[test]
fn best_tier_first_and_fallback_is_flagged() {
    let f = Fixture::new(vec![
        profile("free", Tier::Free),
        profile("unknown", Tier::Unknown),
        profile("plus", Tier::Plus),
        profile("pro", Tier::Pro),
    ]);
    let mut got = Vec::new();
    for i in 0..5 {
        let outcome = f
            .broker
            .lease(AgentKind::Codex, &format!("s{i}"), None)
            .expect("lease");
        got.push(outcome.lease.map(|l| (l.account, l.tier, l.tier_fallback)));
    }
    assert_eq!(
        got,
        [
            Some(("pro".into(), Tier::Pro, false)),
            Some(("plus".into(), Tier::Plus, true)),
            Some(("unknown".into(), Tier::Unknown, true)),
            Some(("free".into(), Tier::Free, true)),
            None,
        ]
    );
}

#[test]
fn profile_mode_hands_over_the_profile_only() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let lease = f.lease("s").expect("leased");
    assert_eq!(lease.credentials.profile.as_deref(), Some("p-a"));
    assert!(lease.credentials.env.is_empty());
    assert!(lease.credentials.private_dir.is_none());
    assert_eq!(lease.session, "s");
    assert!(!lease.trial);
}

#[test]
fn round_robin_within_a_tier_even_on_a_frozen_clock() {
    for advance in [false, true] {
        let f = Fixture::new(vec![
            profile("a", Tier::Plus),
            profile("b", Tier::Plus),
            profile("c", Tier::Plus),
            profile("worse", Tier::Free),
        ]);
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut order = Vec::new();
        for i in 0..300 {
            let lease = f.lease(&format!("s{i}")).expect("leased");
            order.push(lease.account.clone());
            *counts.entry(lease.account.clone()).or_default() += 1;
            release(&f, &lease, Outcome::Success);
            if advance {
                f.clock.advance(MIN);
            }
        }
        assert_eq!(&order[..6], ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert!(counts.values().all(|n| *n == 100), "{counts:?}");
    }
}

#[test]
fn busy_accounts_are_skipped_and_the_least_recent_free_one_is_taken() {
    let f = Fixture::new(vec![
        profile("a", Tier::Pro),
        profile("b", Tier::Pro),
        profile("c", Tier::Pro),
    ]);
    let a = f.lease("s1").expect("a");
    let b = f.lease("s2").expect("b");
    assert_eq!((a.account.as_str(), b.account.as_str()), ("a", "b"));
    release(&f, &a, Outcome::Success);
    // a was leased before c never was: c first, then a; b stays busy.
    assert_eq!(f.lease_id("s3"), "c");
    assert_eq!(f.lease_id("s4"), "a");
    assert!(f.lease("s5").is_none());
    let status = f.broker.status().expect("status");
    let busy: Vec<_> = status
        .accounts
        .iter()
        .map(|a| a.busy.as_ref().map(|b| b.session.clone()))
        .collect();
    assert_eq!(
        busy,
        [Some("s4".to_owned()), Some("s2".into()), Some("s3".into())]
    );
}

#[test]
fn cooldown_default_and_reset_after() {
    // (reset_after, minutes until leasable again)
    for (reset_after, minutes) in [(None, 5), (Some(2 * MIN), 2), (Some(90 * MIN), 90)] {
        let f = Fixture::new(vec![profile("a", Tier::Pro)]);
        let lease = f.lease("s").expect("leased");
        let report = release(&f, &lease, Outcome::RateLimited { reset_after });
        let until = start() + minutes * MIN;
        assert_eq!(report.cooldown_until, Some(until));
        assert_eq!(report.circuit, None);
        let outcome = f.broker.lease(AgentKind::Codex, "s", None).expect("lease");
        assert!(outcome.lease.is_none());
        assert_eq!(outcome.eta, Some(until));
        f.clock.set(until - std::time::Duration::from_secs(1));
        assert!(f.lease("s").is_none(), "{minutes} min: still cooling");
        f.clock.set(until);
        assert!(f.lease("s").is_some(), "{minutes} min: cooled down");
        let st = &f.broker.status().expect("status").accounts[0];
        assert_eq!(st.total_rate_limits, 1);
        assert_eq!(st.total_leases, 2);
    }
}

#[test]
fn an_absurd_reset_after_saturates() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let lease = f.lease("s").expect("leased");
    let report = release(
        &f,
        &lease,
        Outcome::RateLimited {
            reset_after: Some(std::time::Duration::MAX),
        },
    );
    assert_eq!(report.cooldown_until, Some(jiff::Timestamp::MAX));
}

#[test]
fn rate_limits_never_open_the_circuit() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    for _ in 0..10 {
        let lease = f.lease("s").expect("leased");
        release(&f, &lease, Outcome::RateLimited { reset_after: None });
        f.clock.advance(5 * MIN);
    }
    assert_eq!(circuit_of(&f, "a"), CircuitState::Closed);
}

/// Fails the only account at each of `minutes` (one lease per failure).
fn fail_at(f: &Fixture, minutes: &[u32]) -> Vec<Option<(CircuitState, CircuitState)>> {
    minutes
        .iter()
        .map(|m| {
            f.clock.set(start() + *m * MIN);
            let lease = f.lease("s").expect("leased");
            release(f, &lease, Outcome::Failure)
                .circuit
                .map(|c| (c.from, c.to))
        })
        .collect()
}

#[test]
fn circuit_opens_on_three_failures_within_the_window_only() {
    use CircuitState::*;
    // (failure minutes, circuit after)
    let table: &[(&[u32], CircuitState)] = &[
        (&[0, 1, 2], Open),
        (&[0, 9, 9], Open),
        (&[0, 5, 10], Closed),
        (&[0, 6, 12, 18, 24], Closed),
        (&[0, 1], Closed),
    ];
    for (minutes, want) in table {
        let f = Fixture::new(vec![profile("a", Tier::Pro)]);
        let changes = fail_at(&f, minutes);
        assert_eq!(circuit_of(&f, "a"), *want, "{minutes:?}");
        let opened = changes.iter().flatten().count();
        assert_eq!(opened, usize::from(*want == Open), "{minutes:?}");
        if *want == Open {
            assert!(f.lease("x").is_none(), "{minutes:?}: open admits nothing");
        }
    }
}

#[test]
fn success_clears_failures() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    fail_at(&f, &[0, 1]);
    let lease = f.lease("s").expect("leased");
    release(&f, &lease, Outcome::Success);
    fail_at(&f, &[2, 3]);
    assert_eq!(circuit_of(&f, "a"), CircuitState::Closed);
    assert_eq!(
        f.broker.status().expect("status").accounts[0].total_failures,
        4
    );
}

#[test]
fn half_open_admits_one_trial_then_closes_or_reopens() {
    for (outcome, after) in [
        (Outcome::Success, CircuitState::Closed),
        (Outcome::Failure, CircuitState::Open),
        (Outcome::Neutral, CircuitState::HalfOpen),
        (Outcome::Infrastructure, CircuitState::HalfOpen),
    ] {
        let f = Fixture::new(vec![profile("a", Tier::Pro), profile("b", Tier::Free)]);
        // b is busy throughout, so only a's circuit decides.
        let a = f.lease("first").expect("a");
        assert_eq!(a.account, "a");
        let b = f.lease("hold-b").expect("b");
        assert_eq!(b.account, "b");
        release(&f, &a, Outcome::Success);
        fail_at(&f, &[0, 1, 2]);
        assert_eq!(circuit_of(&f, "a"), CircuitState::Open);
        let eta = f
            .broker
            .next_available_eta(AgentKind::Codex, None)
            .expect("eta");
        assert_eq!(eta, Some(start() + 12 * MIN));
        f.clock.set(start() + 12 * MIN);
        assert_eq!(circuit_of(&f, "a"), CircuitState::HalfOpen);
        let trial = f.lease("trial").expect("one trial");
        assert!(trial.trial);
        assert!(f.lease("second").is_none(), "only one trial at a time");
        let eta = f
            .broker
            .next_available_eta(AgentKind::Codex, None)
            .expect("eta");
        assert_eq!(eta, None, "every account busy");
        let report = release(&f, &trial, outcome);
        assert_eq!(circuit_of(&f, "a"), after, "{outcome:?}");
        assert_eq!(
            report.circuit.map(|c| (c.account, c.from, c.to)),
            (after != CircuitState::HalfOpen).then(|| (
                "codex/a".to_owned(),
                CircuitState::HalfOpen,
                after
            )),
            "{outcome:?}"
        );
        if after == CircuitState::Open {
            f.clock
                .set(start() + 22 * MIN - std::time::Duration::from_secs(1));
            assert!(f.lease("x").is_none(), "reopened for a full window");
            f.clock.set(start() + 22 * MIN);
            assert!(f.lease("x").is_some_and(|l| l.trial));
        }
        if after == CircuitState::Closed {
            let next = f.lease("after").expect("closed circuit leases");
            assert!(!next.trial);
        }
    }
}

#[test]
fn infrastructure_and_neutral_change_nothing_but_free_the_account() {
    for outcome in [Outcome::Infrastructure, Outcome::Neutral] {
        let f = Fixture::new(vec![profile("a", Tier::Pro)]);
        fail_at(&f, &[0, 1]);
        let before = serde_json::to_value(f.broker.status().expect("status")).expect("json");
        let lease = f.lease("s").expect("leased");
        let report = release(&f, &lease, outcome);
        assert_eq!(report.cooldown_until, None);
        assert_eq!(report.circuit, None);
        let mut after = serde_json::to_value(f.broker.status().expect("status")).expect("json");
        // The one lease taken in between is the only difference.
        after["accounts"][0]["total_leases"] = before["accounts"][0]["total_leases"].clone();
        assert_eq!(before, after, "{outcome:?}");
        assert_eq!(
            f.broker.status().expect("status").accounts[0].failures_in_window,
            2
        );
    }
}

#[test]
fn release_is_idempotent() {
    let f = Fixture::new(vec![profile("a", Tier::Pro)]);
    let lease = f.lease("s").expect("leased");
    release(&f, &lease, Outcome::Success);
    let again = f.lease("t").expect("leased again");
    // The stale lease must not free (or touch) the new holder.
    let report = release(&f, &lease, Outcome::Failure);
    assert_eq!((report.cooldown_until, report.circuit), (None, None));
    assert!(f.lease("u").is_none(), "still held by t");
    let st = &f.broker.status().expect("status").accounts[0];
    assert_eq!(st.total_failures, 0);
    release(&f, &again, Outcome::Success);
}

#[test]
fn eta_cases() {
    let f = Fixture::new(vec![profile("a", Tier::Pro), profile("b", Tier::Pro)]);
    let eta = |f: &Fixture| {
        f.broker
            .next_available_eta(AgentKind::Codex, None)
            .expect("eta")
    };
    assert_eq!(eta(&f), Some(start()), "free now");
    assert_eq!(
        f.broker
            .next_available_eta(AgentKind::Claude, None)
            .expect("eta"),
        None,
        "no accounts"
    );
    let a = f.lease("s1").expect("a");
    let b = f.lease("s2").expect("b");
    assert_eq!(eta(&f), None, "all busy");
    release(
        &f,
        &a,
        Outcome::RateLimited {
            reset_after: Some(7 * MIN),
        },
    );
    assert_eq!(eta(&f), Some(start() + 7 * MIN), "cooldown end");
    release(
        &f,
        &b,
        Outcome::RateLimited {
            reset_after: Some(3 * MIN),
        },
    );
    assert_eq!(eta(&f), Some(start() + 3 * MIN), "earliest cooldown end");
    f.clock.advance(4 * MIN);
    assert_eq!(eta(&f), Some(start() + 4 * MIN), "b free now");
    let status = f.broker.status().expect("status");
    assert_eq!(status.eta, [(AgentKind::Codex, Some(start() + 4 * MIN))]);
}

#[test]
fn hosts_are_kept_apart() {
    let f = Fixture::new(vec![
        on("box", profile("remote-pro", Tier::Pro)),
        profile("local-plus", Tier::Plus),
        on("box", profile("remote-free", Tier::Free)),
        on("other", profile("elsewhere", Tier::Pro)),
    ]);
    let lease = |host: Option<&str>| {
        f.broker
            .lease(AgentKind::Codex, "s", host)
            .expect("lease")
            .lease
            .map(|l| (l.account, l.tier_fallback))
    };
    // Local sessions never get a host-bound account, and `plus` is the best
    // local tier, so it is no fallback.
    assert_eq!(lease(None), Some(("local-plus".into(), false)));
    assert_eq!(lease(None), None);
    assert_eq!(lease(Some("box")), Some(("remote-pro".into(), false)));
    assert_eq!(lease(Some("box")), Some(("remote-free".into(), true)));
    assert_eq!(lease(Some("box")), None);
    assert_eq!(lease(Some("nowhere")), None);
    assert_eq!(
        f.broker
            .next_available_eta(AgentKind::Codex, Some("other"))
            .expect("eta"),
        Some(start())
    );
}

#[test]
fn providers_are_kept_apart() {
    let mut claude = profile("c", Tier::Pro);
    claude.provider = AgentKind::Claude;
    claude.mode = baton_config::AccountMode::Env;
    claude.profile = None;
    claude.env.insert("LITERAL".into(), "value".into());
    let f = Fixture::new(vec![claude, profile("x", Tier::Free)]);
    let got = f.broker.lease(AgentKind::Claude, "s", None).expect("lease");
    let lease = got.lease.expect("claude account");
    assert_eq!(lease.account, "c");
    assert_eq!(
        lease.credentials.env,
        [("LITERAL".to_owned(), "value".to_owned())]
    );
    assert!(!lease.tier_fallback);
    let got = f.broker.lease(AgentKind::Codex, "s", None).expect("lease");
    assert_eq!(
        got.lease.map(|l| (l.account, l.tier_fallback)),
        Some(("x".into(), false))
    );
    assert!(
        f.broker
            .lease(AgentKind::Gemini, "s", None)
            .expect("lease")
            .lease
            .is_none()
    );
}

#[test]
fn a_missing_env_variable_is_an_error_naming_it_and_nothing_is_leased() {
    let mut spec = profile("e", Tier::Pro);
    spec.mode = baton_config::AccountMode::Env;
    spec.profile = None;
    spec.env
        .insert("API_KEY".into(), "$BATON_TEST_NOT_SET_ANYWHERE".into());
    let f = Fixture::new(vec![spec]);
    let err = f
        .broker
        .lease(AgentKind::Codex, "s", None)
        .expect_err("missing");
    match &err {
        baton_accounts::BrokerError::MissingEnv { account, var } => {
            assert_eq!(
                (account.as_str(), var.as_str()),
                ("codex/e", "BATON_TEST_NOT_SET_ANYWHERE")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("BATON_TEST_NOT_SET_ANYWHERE"));
    let status = f.broker.status().expect("status");
    assert!(status.accounts[0].busy.is_none());
    assert_eq!(status.accounts[0].total_leases, 0);
}

#[test]
fn leases_round_trip_through_json_without_env_values() {
    let mut spec = profile("e", Tier::Plus);
    spec.mode = baton_config::AccountMode::Env;
    spec.env.insert("TOKEN".into(), "literal-secret".into());
    let f = Fixture::new(vec![spec]);
    let lease = f.lease("s").expect("leased");
    let json = serde_json::to_string(&lease).expect("serialize");
    assert!(!json.contains("literal-secret"), "{json}");
    assert!(!format!("{lease:?}").contains("literal-secret"));
    let back: Lease = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back.id, lease.id);
    assert_eq!(back.tier, Tier::Plus);
    assert!(back.credentials.env.is_empty());
    // A lease read back can still be released.
    release(&f, &back, Outcome::Success);
    assert!(f.lease("t").is_some());
    let state = std::fs::read_to_string(f.path().join("state/accounts.json")).expect("state");
    assert!(!state.contains("literal-secret"));
}
