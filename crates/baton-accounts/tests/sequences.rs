//! Random lease/release/clock sequences never produce two live leases on one
//! account, and the broker's view of busy accounts matches the leases held.

mod common;

use std::collections::BTreeSet;

use baton_accounts::{Lease, Outcome, Owner};
use baton_config::{AgentKind, Tier};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Lease {
        remote: bool,
        via_second: bool,
    },
    Release {
        pick: usize,
        outcome: u8,
        reset_min: Option<u32>,
    },
    Advance {
        min: u32,
    },
    ReleaseStale {
        pick: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>()).prop_map(|(remote, via_second)| Op::Lease { remote, via_second }),
        4 => (any::<usize>(), 0u8..5, proptest::option::of(0u32..30))
            .prop_map(|(pick, outcome, reset_min)| Op::Release { pick, outcome, reset_min }),
        2 => (0u32..8).prop_map(|min| Op::Advance { min }),
        1 => any::<usize>().prop_map(|pick| Op::ReleaseStale { pick }),
    ]
}

fn outcome(n: u8, reset_min: Option<u32>) -> Outcome {
    match n {
        0 => Outcome::Success,
        1 => Outcome::RateLimited {
            reset_after: reset_min.map(|m| m * MIN),
        },
        2 => Outcome::Failure,
        3 => Outcome::Infrastructure,
        _ => Outcome::Neutral,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn never_two_live_leases_on_one_account(ops in proptest::collection::vec(op(), 1..60)) {
        let f = Fixture::new(vec![
            profile("a", Tier::Pro),
            profile("b", Tier::Plus),
            profile("c", Tier::Plus),
            on("box", profile("r", Tier::Free)),
        ]);
        // A second conductor on the same state, as another process would be.
        let second = f.reopen(Owner::current());
        let mut held: Vec<Lease> = Vec::new();
        let mut released: Vec<Lease> = Vec::new();
        for op in ops {
            match op {
                Op::Lease { remote, via_second } => {
                    let broker = if via_second { &second } else { &f.broker };
                    let host = remote.then_some("box");
                    let got = broker.lease(AgentKind::Codex, "s", host).expect("lease");
                    if let Some(lease) = got.lease {
                        prop_assert!(
                            !held.iter().any(|h| h.account == lease.account),
                            "{} leased twice", lease.account
                        );
                        prop_assert_eq!(lease.account == "r", remote);
                        held.push(lease);
                    } else {
                        prop_assert!(got.eta.is_none_or(|t| t >= f.clock.now_ts()));
                    }
                }
                Op::Release { pick, outcome: n, reset_min } => {
                    if !held.is_empty() {
                        let lease = held.remove(pick % held.len());
                        f.broker.release(&lease, outcome(n, reset_min)).expect("release");
                        released.push(lease);
                    }
                }
                Op::ReleaseStale { pick } => {
                    if !released.is_empty() {
                        let lease = &released[pick % released.len()];
                        let report = second.release(lease, Outcome::Failure).expect("release");
                        prop_assert!(report.circuit.is_none() && report.cooldown_until.is_none());
                    }
                }
                Op::Advance { min } => f.clock.advance(min * MIN),
            }
            let status = f.broker.status().expect("status");
            let busy: BTreeSet<String> = status
                .accounts
                .iter()
                .filter(|a| a.busy.is_some())
                .map(|a| a.id.clone())
                .collect();
            let ours: BTreeSet<String> = held.iter().map(|l| l.account.clone()).collect();
            prop_assert_eq!(busy, ours);
        }
    }
}

trait NowTs {
    fn now_ts(&self) -> jiff::Timestamp;
}

impl NowTs for baton_accounts::FakeClock {
    fn now_ts(&self) -> jiff::Timestamp {
        baton_accounts::Clock::now(self)
    }
}
