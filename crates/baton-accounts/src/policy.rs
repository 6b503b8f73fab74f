//! The broker's rules as pure functions of (config, state, now): which
//! accounts may be leased and in what order, what a release does to an
//! account, and when the next one frees up. No I/O here.

use std::fmt;
use std::time::Duration;

use baton_config::{AccountSpec, AccountsConfig, AgentKind, Tier};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::broker::{CircuitChange, Outcome};
use crate::clock::{add, sub};
use crate::state::{AccountState, StateFile};

/// An account's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CircuitState {
    /// Leased normally.
    Closed,
    /// Too many recent failures: not leased until the window passes.
    Open,
    /// The open window has passed: admits one trial lease at a time.
    HalfOpen,
}

impl CircuitState {
    /// `closed`, `open` or `halfopen` (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "halfopen",
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state-file key of an account.
pub(crate) fn key(provider: AgentKind, id: &str) -> String {
    format!("{}/{id}", provider.as_str())
}

/// The account's circuit as seen at `now`.
pub(crate) fn circuit(st: &AccountState, now: Timestamp) -> CircuitState {
    match st.circuit_open_until {
        None => CircuitState::Closed,
        Some(until) if now < until => CircuitState::Open,
        Some(_) => CircuitState::HalfOpen,
    }
}

/// Failures recorded strictly less than `window` before `now`.
pub(crate) fn failures_in_window(st: &AccountState, now: Timestamp, window: Duration) -> u32 {
    let since = sub(now, window);
    let n = st.failures.iter().filter(|t| **t > since).count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The accounts of `provider` usable on `host` (`None` = this machine), in
/// file order, with their file index.
pub(crate) fn on_host<'a>(
    cfg: &'a AccountsConfig,
    provider: AgentKind,
    host: Option<&'a str>,
) -> impl Iterator<Item = (usize, &'a AccountSpec)> + 'a {
    cfg.accounts
        .iter()
        .enumerate()
        .filter(move |(_, a)| a.provider == provider && a.host.as_deref() == host)
}

/// One account that may be leased now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<'a> {
    pub spec: &'a AccountSpec,
    /// Its circuit is half-open: this lease is the trial.
    pub trial: bool,
}

fn busy(state: &StateFile, key: &str) -> bool {
    state.leases.iter().any(|l| l.account == key)
}

/// Whether the account can be leased at `now`: not busy, not cooling down,
/// circuit not open. `Some(trial)` if so.
fn leasable(state: &StateFile, spec: &AccountSpec, now: Timestamp) -> Option<bool> {
    let k = key(spec.provider, &spec.id);
    if busy(state, &k) {
        return None;
    }
    let st = state.accounts.get(&k).cloned().unwrap_or_default();
    if st.cooldown_until.is_some_and(|t| t > now) {
        return None;
    }
    match circuit(&st, now) {
        CircuitState::Closed => Some(false),
        CircuitState::Open => None,
        CircuitState::HalfOpen => Some(true),
    }
}

/// The accounts that may be leased now, best first: better tier first, then
/// the one leased longest ago (never leased first), then file order.
pub(crate) fn candidates<'a>(
    cfg: &'a AccountsConfig,
    state: &StateFile,
    provider: AgentKind,
    host: Option<&'a str>,
    now: Timestamp,
) -> Vec<Candidate<'a>> {
    let mut found: Vec<(Tier, u64, usize, Candidate<'a>)> = on_host(cfg, provider, host)
        .filter_map(|(i, spec)| {
            let trial = leasable(state, spec, now)?;
            let seq = state
                .accounts
                .get(&key(spec.provider, &spec.id))
                .map_or(0, |s| s.last_lease_seq);
            Some((spec.tier, seq, i, Candidate { spec, trial }))
        })
        .collect();
    found.sort_by_key(|(tier, seq, i, _)| (*tier, *seq, *i));
    found.into_iter().map(|(.., c)| c).collect()
}

/// The best tier configured for `provider` on `host`, free or not.
pub(crate) fn best_tier(
    cfg: &AccountsConfig,
    provider: AgentKind,
    host: Option<&str>,
) -> Option<Tier> {
    on_host(cfg, provider, host).map(|(_, a)| a.tier).min()
}

/// Which accounts an ETA looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Hosts<'a> {
    /// Those usable on this host (`None` = this machine).
    Exactly(Option<&'a str>),
    /// Every account of the provider.
    Any,
}

/// When an account of `provider` can next be leased: `now` if one can be
/// now; else the earliest time a cooldown ends or a circuit turns half-open
/// (whichever comes later for each account); `None` if every account is
/// busy (it frees when its session ends) or there are none.
pub(crate) fn eta(
    cfg: &AccountsConfig,
    state: &StateFile,
    provider: AgentKind,
    hosts: Hosts<'_>,
    now: Timestamp,
) -> Option<Timestamp> {
    cfg.accounts
        .iter()
        .filter(|a| a.provider == provider)
        .filter(|a| match hosts {
            Hosts::Exactly(h) => a.host.as_deref() == h,
            Hosts::Any => true,
        })
        .filter_map(|a| {
            let k = key(a.provider, &a.id);
            if busy(state, &k) {
                return None;
            }
            let st = state.accounts.get(&k).cloned().unwrap_or_default();
            let free_at = [st.cooldown_until, st.circuit_open_until]
                .into_iter()
                .flatten()
                .max()
                .map_or(now, |t| t.max(now));
            Some(free_at)
        })
        .min()
}

/// Applies a release outcome to an account; returns the circuit change, if any.
pub(crate) fn apply(
    cfg: &AccountsConfig,
    st: &mut AccountState,
    outcome: &Outcome,
    now: Timestamp,
) -> Option<CircuitChange> {
    let before = circuit(st, now);
    match outcome {
        Outcome::Success => {
            st.failures.clear();
            st.circuit_open_until = None;
        }
        Outcome::RateLimited { reset_after } => {
            st.total_rate_limits = st.total_rate_limits.saturating_add(1);
            st.cooldown_until = Some(add(now, reset_after.unwrap_or(cfg.cooldown)));
        }
        Outcome::Failure => {
            st.total_failures = st.total_failures.saturating_add(1);
            if st.circuit_open_until.is_some() {
                // A failed trial (or a failure while open) reopens at once.
                st.circuit_open_until = Some(add(now, cfg.circuit_window));
            } else {
                let since = sub(now, cfg.circuit_window);
                st.failures.retain(|t| *t > since);
                st.failures.push(now);
                if st.failures.len() >= cfg.circuit_failures.max(1) as usize {
                    st.failures.clear();
                    st.circuit_open_until = Some(add(now, cfg.circuit_window));
                }
            }
        }
        Outcome::Infrastructure | Outcome::Neutral => {}
    }
    let after = circuit(st, now);
    (before != after).then_some(CircuitChange {
        account: String::new(),
        from: before,
        to: after,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use baton_config::AccountMode;

    use super::*;
    use crate::state::LeaseRecord;

    const MIN: Duration = Duration::from_secs(60);

    fn t(min: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + min * 60).expect("in range")
    }

    fn spec(id: &str, tier: Tier, host: Option<&str>) -> AccountSpec {
        AccountSpec {
            id: id.into(),
            provider: AgentKind::Codex,
            mode: AccountMode::Profile,
            profile: Some(id.into()),
            env: BTreeMap::new(),
            auth_file: None,
            host: host.map(str::to_owned),
            tier,
        }
    }

    fn cfg(accounts: Vec<AccountSpec>) -> AccountsConfig {
        AccountsConfig {
            accounts,
            ..AccountsConfig::default()
        }
    }

    fn chosen(
        c: &AccountsConfig,
        s: &StateFile,
        host: Option<&str>,
        now: Timestamp,
    ) -> Vec<String> {
        candidates(c, s, AgentKind::Codex, host, now)
            .iter()
            .map(|c| c.spec.id.clone())
            .collect()
    }

    #[test]
    fn candidates_order_tier_then_round_robin_then_file_order() {
        let c = cfg(vec![
            spec("free", Tier::Free, None),
            spec("unk", Tier::Unknown, None),
            spec("plus1", Tier::Plus, None),
            spec("plus2", Tier::Plus, None),
            spec("pro", Tier::Pro, None),
            spec("remote", Tier::Pro, Some("box")),
        ]);
        let mut s = StateFile::default();
        assert_eq!(
            chosen(&c, &s, None, t(0)),
            ["pro", "plus1", "plus2", "unk", "free"]
        );
        s.accounts.insert(
            "codex/plus1".into(),
            AccountState {
                last_lease_seq: 7,
                ..AccountState::default()
            },
        );
        s.accounts.insert(
            "codex/plus2".into(),
            AccountState {
                last_lease_seq: 3,
                ..AccountState::default()
            },
        );
        assert_eq!(
            chosen(&c, &s, None, t(0)),
            ["pro", "plus2", "plus1", "unk", "free"]
        );
        assert_eq!(chosen(&c, &s, Some("box"), t(0)), ["remote"]);
        assert_eq!(chosen(&c, &s, Some("other"), t(0)), Vec::<String>::new());
        assert_eq!(best_tier(&c, AgentKind::Codex, None), Some(Tier::Pro));
        assert_eq!(best_tier(&c, AgentKind::Claude, None), None);
    }

    #[test]
    fn leasable_rules() {
        let c = cfg(vec![spec("a", Tier::Pro, None)]);
        let busy = LeaseRecord {
            id: "x".into(),
            account: "codex/a".into(),
            session: "s".into(),
            owner_pid: 1,
            owner_start_time: 1,
            since: t(0),
            trial: false,
            private_dir: None,
        };
        // (account state, busy, now, leasable, trial)
        let table: Vec<(AccountState, bool, Timestamp, bool, bool)> = vec![
            (AccountState::default(), false, t(0), true, false),
            (AccountState::default(), true, t(0), false, false),
            (
                AccountState {
                    cooldown_until: Some(t(5)),
                    ..Default::default()
                },
                false,
                t(4),
                false,
                false,
            ),
            (
                AccountState {
                    cooldown_until: Some(t(5)),
                    ..Default::default()
                },
                false,
                t(5),
                true,
                false,
            ),
            (
                AccountState {
                    circuit_open_until: Some(t(10)),
                    ..Default::default()
                },
                false,
                t(9),
                false,
                false,
            ),
            (
                AccountState {
                    circuit_open_until: Some(t(10)),
                    ..Default::default()
                },
                false,
                t(10),
                true,
                true,
            ),
            (
                AccountState {
                    circuit_open_until: Some(t(10)),
                    ..Default::default()
                },
                true,
                t(10),
                false,
                false,
            ),
            (
                AccountState {
                    circuit_open_until: Some(t(10)),
                    cooldown_until: Some(t(12)),
                    ..Default::default()
                },
                false,
                t(11),
                false,
                false,
            ),
        ];
        for (i, (st, is_busy, now, ok, trial)) in table.into_iter().enumerate() {
            let mut s = StateFile::default();
            s.accounts.insert("codex/a".into(), st);
            if is_busy {
                s.leases.push(busy.clone());
            }
            let got = candidates(&c, &s, AgentKind::Codex, None, now);
            assert_eq!(got.len() == 1, ok, "case {i}");
            if ok {
                assert_eq!(got[0].trial, trial, "case {i}");
            }
        }
    }

    #[test]
    fn release_outcomes() {
        let c = cfg(vec![]);
        use CircuitState::*;
        // (start, outcome, now, want circuit, want cooldown, change)
        let open = |until| AccountState {
            circuit_open_until: Some(until),
            ..Default::default()
        };
        let two_failures = AccountState {
            failures: vec![t(0), t(5)],
            ..Default::default()
        };
        type Change = Option<(CircuitState, CircuitState)>;
        let table: Vec<(
            AccountState,
            Outcome,
            Timestamp,
            CircuitState,
            Option<Timestamp>,
            Change,
        )> = vec![
            (
                AccountState::default(),
                Outcome::Success,
                t(0),
                Closed,
                None,
                None,
            ),
            (
                AccountState::default(),
                Outcome::RateLimited { reset_after: None },
                t(0),
                Closed,
                Some(t(5)),
                None,
            ),
            (
                AccountState::default(),
                Outcome::RateLimited {
                    reset_after: Some(2 * MIN),
                },
                t(0),
                Closed,
                Some(t(2)),
                None,
            ),
            (
                two_failures.clone(),
                Outcome::RateLimited { reset_after: None },
                t(6),
                Closed,
                Some(t(11)),
                None,
            ),
            (
                two_failures.clone(),
                Outcome::Failure,
                t(9),
                Open,
                None,
                Some((Closed, Open)),
            ),
            // The first failure is exactly one window old: it no longer counts.
            (
                two_failures.clone(),
                Outcome::Failure,
                t(10),
                Closed,
                None,
                None,
            ),
            (
                two_failures.clone(),
                Outcome::Success,
                t(9),
                Closed,
                None,
                None,
            ),
            (
                two_failures.clone(),
                Outcome::Infrastructure,
                t(9),
                Closed,
                None,
                None,
            ),
            (
                two_failures.clone(),
                Outcome::Neutral,
                t(9),
                Closed,
                None,
                None,
            ),
            (
                open(t(10)),
                Outcome::Success,
                t(11),
                Closed,
                None,
                Some((HalfOpen, Closed)),
            ),
            (
                open(t(10)),
                Outcome::Failure,
                t(11),
                Open,
                None,
                Some((HalfOpen, Open)),
            ),
            (open(t(10)), Outcome::Neutral, t(11), HalfOpen, None, None),
            (
                open(t(10)),
                Outcome::Infrastructure,
                t(11),
                HalfOpen,
                None,
                None,
            ),
            (
                open(t(10)),
                Outcome::RateLimited { reset_after: None },
                t(11),
                HalfOpen,
                Some(t(16)),
                None,
            ),
        ];
        for (i, (mut st, outcome, now, want, cool, change)) in table.into_iter().enumerate() {
            let before = st.clone();
            let got = apply(&c, &mut st, &outcome, now);
            assert_eq!(circuit(&st, now), want, "case {i}");
            assert_eq!(st.cooldown_until, cool, "case {i}");
            assert_eq!(got.map(|c| (c.from, c.to)), change, "case {i}");
            if matches!(outcome, Outcome::Neutral | Outcome::Infrastructure) {
                assert_eq!(st, before, "case {i}: must change nothing");
            }
        }
    }

    #[test]
    fn failures_spread_over_more_than_the_window_never_open() {
        let c = cfg(vec![]);
        let mut st = AccountState::default();
        for n in 0..20 {
            assert!(
                apply(&c, &mut st, &Outcome::Failure, t(n * 6)).is_none(),
                "failure {n}"
            );
        }
        assert_eq!(st.total_failures, 20);
        assert_eq!(failures_in_window(&st, t(114), c.circuit_window), 2);
    }

    #[test]
    fn reopened_circuit_stays_open_a_full_window() {
        let c = cfg(vec![]);
        let mut st = AccountState::default();
        for m in [0, 1, 2] {
            apply(&c, &mut st, &Outcome::Failure, t(m));
        }
        assert_eq!(st.circuit_open_until, Some(t(12)));
        apply(&c, &mut st, &Outcome::Failure, t(13));
        assert_eq!(circuit(&st, t(22)), CircuitState::Open);
        assert_eq!(circuit(&st, t(23)), CircuitState::HalfOpen);
    }

    #[test]
    fn eta_cases() {
        let c = cfg(vec![
            spec("a", Tier::Pro, None),
            spec("b", Tier::Plus, None),
            spec("r", Tier::Pro, Some("box")),
        ]);
        let lease = |acct: &str| LeaseRecord {
            id: acct.into(),
            account: format!("codex/{acct}"),
            session: "s".into(),
            owner_pid: 1,
            owner_start_time: 1,
            since: t(0),
            trial: false,
            private_dir: None,
        };
        let cooling = |until| AccountState {
            cooldown_until: Some(until),
            ..Default::default()
        };
        let open = |until| AccountState {
            circuit_open_until: Some(until),
            ..Default::default()
        };
        let local = Hosts::Exactly(None);
        let now = t(0);
        let mut s = StateFile::default();
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, now),
            Some(now),
            "all free"
        );
        assert_eq!(
            eta(&c, &s, AgentKind::Claude, local, now),
            None,
            "no accounts"
        );
        s.leases.push(lease("a"));
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, now),
            Some(now),
            "b free"
        );
        s.leases.push(lease("b"));
        assert_eq!(eta(&c, &s, AgentKind::Codex, local, now), None, "all busy");
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, Hosts::Any, now),
            Some(now),
            "r free"
        );
        s.leases.clear();
        s.accounts.insert("codex/a".into(), cooling(t(7)));
        s.accounts.insert("codex/b".into(), open(t(4)));
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, now),
            Some(t(4)),
            "half-open first"
        );
        s.accounts.insert(
            "codex/b".into(),
            AccountState {
                cooldown_until: Some(t(9)),
                circuit_open_until: Some(t(4)),
                ..Default::default()
            },
        );
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, now),
            Some(t(7)),
            "later of both"
        );
        s.leases.push(lease("a"));
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, now),
            Some(t(9)),
            "busy ignored"
        );
        assert_eq!(
            eta(&c, &s, AgentKind::Codex, local, t(10)),
            Some(t(10)),
            "passed"
        );
    }
}
