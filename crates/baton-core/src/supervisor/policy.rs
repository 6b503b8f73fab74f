//! Policy as values: how a run ended ([`judge_run`]), and what becomes of
//! a session whose run failed ([`after_failure`]). The supervisor records
//! and schedules what these decide; the decisions themselves need no
//! process, no timer and no log to be tested.

use std::time::Duration;

use crate::proc::ExitStatus;
use crate::state::{FailureClass, backoff_delay};

/// How a finished run ended, judged from its status and its last output.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Verdict {
    /// Exit 0 and nothing ended it on purpose.
    Completed,
    /// The output says a provider's limit was hit: `evidence` is the line,
    /// `reset_after` when the output says the limit resets.
    RateLimited {
        evidence: String,
        reset_after: Option<Duration>,
    },
    /// Any other end: a crash (with its status as evidence), or the class
    /// the supervisor ended it for.
    Failed {
        class: FailureClass,
        evidence: Option<String>,
    },
}

/// Judges a finished run of `agent`: `ending` is the class the supervisor
/// stopped it for (that outranks its status), `tail` its last output (both
/// streams), `now` the time rate-limit resets are read against. What the
/// CLI said of its end comes before the rate-limit wording every session
/// is read for: a CLI that cannot log in is not rate-limited.
pub(super) fn judge_run(
    agent: &dyn baton_agents::Agent,
    ending: Option<FailureClass>,
    status: ExitStatus,
    tail: &[u8],
    now: jiff::Zoned,
) -> Verdict {
    if let Some(class) = ending {
        return Verdict::Failed {
            class,
            evidence: None,
        };
    }
    if status.success() {
        return Verdict::Completed;
    }
    if status.signal.is_none()
        && let Some(ended) = agent.ended(status.code, tail)
    {
        return Verdict::Failed {
            class: FailureClass::from(ended.class),
            evidence: Some(ended.evidence),
        };
    }
    match baton_monitor::rate_limit::detect(&baton_agents::in_words(agent, tail), now) {
        Some(limit) => Verdict::RateLimited {
            evidence: limit.matched,
            reset_after: limit.reset_after,
        },
        None => Verdict::Failed {
            class: FailureClass::Crash,
            evidence: Some(status.to_string()),
        },
    }
}

/// How long a rate-limited session waits before its restart. With an
/// account leased, the account cools down instead and the restart (on the
/// usual backoff) leases another: `None`. Without one, the session waits
/// for the reset its output gave, else `cooldown`.
pub(super) fn rate_limit_wait(
    leased: bool,
    reset_after: Option<Duration>,
    cooldown: Duration,
) -> Option<Duration> {
    (!leased).then(|| reset_after.unwrap_or(cooldown))
}

/// The restart settings of one session.
#[derive(Clone, Copy, Debug)]
pub(super) struct RestartPolicy {
    /// Restarts allowed before the session is dead.
    pub max_restarts: u32,
    /// The first backoff; it doubles per restart.
    pub backoff: Duration,
    /// The backoff's cap.
    pub backoff_max: Duration,
    /// How soon a session whose host did not answer tries again.
    pub host_retry: Duration,
    /// The run held a leased account: credentials the CLI refused are that
    /// account's fault, and the next run leases another.
    pub leased: bool,
}

/// What follows a failed run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum AfterFailure {
    /// Start again after `delay`; `restarts` is the count after this one.
    Restart { delay: Duration, restarts: u32 },
    /// Never again, for `reason`; `gave_up` when the restart budget ran out.
    Dead { reason: FailureClass, gave_up: bool },
}

/// Decides what follows a run that failed for `class`, with `restarts`
/// already used and, for a `network` failure, `offline_runs` runs in a row
/// (this one included) whose CLI could not reach its provider.
/// `retry_after` is a delay the failure itself asked for (a rate limit's
/// reset); `jitter` (0..1) spreads restarts of many sessions.
pub(super) fn after_failure(
    class: FailureClass,
    restarts: u32,
    offline_runs: u32,
    policy: &RestartPolicy,
    stopping: bool,
    retry_after: Option<Duration>,
    jitter: f64,
) -> AfterFailure {
    // A host that does not answer is waited for: no budget is used.
    // So is a network an agent CLI cannot reach.
    let waits_for_host = matches!(
        class,
        FailureClass::RemoteUnreachable | FailureClass::Network
    );
    let restartable = class.restartable() || (class == FailureClass::AuthRequired && policy.leased);
    if !restartable {
        return AfterFailure::Dead {
            reason: class,
            gave_up: false,
        };
    }
    if stopping {
        return AfterFailure::Dead {
            reason: FailureClass::Shutdown,
            gave_up: false,
        };
    }
    if !waits_for_host && restarts >= policy.max_restarts {
        return AfterFailure::Dead {
            reason: class,
            gave_up: true,
        };
    }
    let restarts = if waits_for_host {
        restarts
    } else {
        restarts + 1
    };
    // A host is asked again soon (a probe is cheap); a CLI that cannot
    // reach its provider after a wait that doubles (each try starts a CLI,
    // and the network is seldom back at once).
    let delay = retry_after.unwrap_or_else(|| match class {
        FailureClass::RemoteUnreachable => policy.host_retry,
        FailureClass::Network => backoff_delay(
            offline_runs.max(1),
            policy.host_retry,
            policy.backoff_max.max(policy.host_retry),
            jitter,
        ),
        _ => backoff_delay(restarts.max(1), policy.backoff, policy.backoff_max, jitter),
    });
    AfterFailure::Restart { delay, restarts }
}

/// The host a `host = "any"` session goes to: the one with the most free
/// slots (ties: the first name), none when every host is full. `hosts` are
/// (name, max sessions, sessions placed there now).
pub(super) fn freest_host<'a>(
    hosts: impl Iterator<Item = (&'a str, u32, usize)>,
) -> Option<&'a str> {
    hosts
        .map(|(name, max, used)| (name, (max as usize).saturating_sub(used)))
        .filter(|(_, free)| *free > 0)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(name, _)| name)
}

/// When a session that found no free account asks again: at the broker's
/// ETA (`eta_ms` from now), kept within `[min, max]`; at `max` without one.
pub(super) fn lease_retry(eta_ms: Option<i64>, min: Duration, max: Duration) -> Duration {
    eta_ms
        .map(|ms| Duration::from_millis(ms.max(0) as u64))
        .unwrap_or(max)
        .clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `command` agent: its words classify nothing.
    const COMMAND: baton_agents::command::Command = baton_agents::command::Command;

    fn now() -> jiff::Zoned {
        "2026-12-03T12:00:00+00:00[UTC]".parse().expect("a time")
    }

    const EXIT_0: ExitStatus = ExitStatus {
        code: Some(0),
        signal: None,
    };
    const EXIT_1: ExitStatus = ExitStatus {
        code: Some(1),
        signal: None,
    };

    #[test]
    fn exit_0_completes_unless_the_supervisor_ended_the_run() {
        assert_eq!(
            judge_run(&COMMAND, None, EXIT_0, b"done\n", now()),
            Verdict::Completed
        );
        assert_eq!(
            judge_run(&COMMAND, Some(FailureClass::UserKill), EXIT_0, b"", now()),
            Verdict::Failed {
                class: FailureClass::UserKill,
                evidence: None
            }
        );
    }

    #[test]
    fn a_failed_run_is_a_rate_limit_only_when_its_output_says_so() {
        let tail = b"working\nError: 429 Too Many Requests. Retry after 30 seconds\n";
        match judge_run(&COMMAND, None, EXIT_1, tail, now()) {
            Verdict::RateLimited {
                evidence,
                reset_after,
            } => {
                assert!(evidence.contains("429"), "{evidence}");
                assert_eq!(reset_after, Some(Duration::from_secs(30)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            judge_run(
                &COMMAND,
                None,
                EXIT_1,
                b"panic: index out of range\n",
                now()
            ),
            Verdict::Failed {
                class: FailureClass::Crash,
                evidence: Some(EXIT_1.to_string())
            }
        );
        // A rate-limit line does not turn a kill into a rate limit.
        assert!(matches!(
            judge_run(
                &COMMAND,
                Some(FailureClass::StartupTimeout),
                EXIT_1,
                tail,
                now()
            ),
            Verdict::Failed {
                class: FailureClass::StartupTimeout,
                ..
            }
        ));
    }

    #[test]
    fn a_rate_limited_session_waits_for_its_reset_unless_an_account_cools_down() {
        let cooldown = Duration::from_secs(60);
        let reset = Some(Duration::from_secs(5));
        assert_eq!(rate_limit_wait(false, reset, cooldown), reset);
        assert_eq!(rate_limit_wait(false, None, cooldown), Some(cooldown));
        assert_eq!(rate_limit_wait(true, reset, cooldown), None);
    }

    const POLICY: RestartPolicy = RestartPolicy {
        max_restarts: 3,
        backoff: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        host_retry: Duration::from_secs(2),
        leased: false,
    };

    fn decide(class: FailureClass, restarts: u32) -> AfterFailure {
        after_failure(class, restarts, 0, &POLICY, false, None, 0.0)
    }

    #[test]
    fn a_crash_restarts_with_doubling_backoff_until_the_budget_is_spent() {
        let s = Duration::from_secs;
        assert_eq!(
            decide(FailureClass::Crash, 0),
            AfterFailure::Restart {
                delay: s(1),
                restarts: 1
            }
        );
        assert_eq!(
            decide(FailureClass::Crash, 2),
            AfterFailure::Restart {
                delay: s(4),
                restarts: 3
            }
        );
        assert_eq!(
            decide(FailureClass::Crash, 3),
            AfterFailure::Dead {
                reason: FailureClass::Crash,
                gave_up: true
            }
        );
    }

    #[test]
    fn a_rate_limit_waits_for_its_reset_instead_of_the_backoff() {
        let reset = Duration::from_secs(90);
        assert_eq!(
            after_failure(
                FailureClass::RateLimited,
                0,
                0,
                &POLICY,
                false,
                Some(reset),
                0.5
            ),
            AfterFailure::Restart {
                delay: reset,
                restarts: 1
            }
        );
    }

    #[test]
    fn an_unreachable_host_or_network_is_waited_for_without_using_the_budget() {
        for class in [FailureClass::RemoteUnreachable, FailureClass::Network] {
            for used in [0, 3, 10] {
                assert_eq!(
                    decide(class, used),
                    AfterFailure::Restart {
                        delay: POLICY.host_retry,
                        restarts: used
                    },
                    "{class:?}, {used} restarts used"
                );
            }
        }
        // Offline again and again: each wait doubles, up to the backoff's cap.
        let s = Duration::from_secs;
        for (offline, wait) in [(1, s(2)), (2, s(4)), (3, s(8)), (4, s(16)), (10, s(30))] {
            assert_eq!(
                after_failure(FailureClass::Network, 0, offline, &POLICY, false, None, 0.0),
                AfterFailure::Restart {
                    delay: wait,
                    restarts: 0
                },
                "offline {offline} runs in a row"
            );
        }
    }

    #[test]
    fn refused_credentials_of_a_leased_account_restart_within_the_budget() {
        let leased = RestartPolicy {
            leased: true,
            ..POLICY
        };
        let decide = |restarts| {
            after_failure(
                FailureClass::AuthRequired,
                restarts,
                0,
                &leased,
                false,
                None,
                0.0,
            )
        };
        assert!(matches!(
            decide(0),
            AfterFailure::Restart { restarts: 1, .. }
        ));
        assert_eq!(
            decide(POLICY.max_restarts),
            AfterFailure::Dead {
                reason: FailureClass::AuthRequired,
                gave_up: true
            }
        );
    }

    #[test]
    fn a_cli_that_cannot_log_in_or_trust_its_folder_is_dead_at_once() {
        for class in [FailureClass::AuthRequired, FailureClass::UntrustedFolder] {
            assert_eq!(
                decide(class, 0),
                AfterFailure::Dead {
                    reason: class,
                    gave_up: false
                }
            );
        }
        // The CLI's words win over the rate-limit wording in the same tail.
        let tail = b"429 Too Many Requests\nNot logged in \xc2\xb7 Please run /login\n";
        match judge_run(&baton_agents::claude::Claude, None, EXIT_1, tail, now()) {
            Verdict::Failed { class, evidence } => {
                assert_eq!(class, FailureClass::AuthRequired);
                assert_eq!(
                    evidence.as_deref(),
                    Some("Not logged in · Please run /login")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_structured_cli_is_rate_limited_by_what_it_says_not_by_its_event_names() {
        let claude = &baton_agents::claude::Claude;
        // Within its limits (it says so at its start) and past a retry:
        // a crash is a crash.
        let tail = concat!(
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1765000000,"rateLimitType":"five_hour"}}"#,
            "\n",
            r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"error_status":429,"error":"rate_limit"}"#,
            "\n",
            "Segmentation fault\n",
        );
        match judge_run(claude, None, EXIT_1, tail.as_bytes(), now()) {
            Verdict::Failed { class, .. } => assert_eq!(class, FailureClass::Crash),
            other => panic!("{other:?}"),
        }
        // Refused: rate-limited until the reset it gives.
        let reset = now().timestamp().as_second() + 3600;
        let tail = format!(
            "{}\n{}\n",
            r#"{"type":"system","subtype":"init"}"#,
            format_args!(
                r#"{{"type":"rate_limit_event","rate_limit_info":{{"status":"rejected","resetsAt":{reset},"rateLimitType":"five_hour"}}}}"#
            ),
        );
        match judge_run(claude, None, EXIT_1, tail.as_bytes(), now()) {
            Verdict::RateLimited {
                evidence,
                reset_after,
            } => {
                assert!(evidence.contains("five_hour"), "{evidence}");
                let after = reset_after.expect("its reset").as_secs();
                assert!((3590..=3600).contains(&after), "{after}");
            }
            other => panic!("{other:?}"),
        }
        // codex's error event, in its words.
        let tail = br#"{"type":"error","message":"exceeded retry limit, last status: 429 Too Many Requests"}
"#;
        match judge_run(&baton_agents::codex::Codex, None, EXIT_1, tail, now()) {
            Verdict::RateLimited { evidence, .. } => {
                assert!(evidence.starts_with("exceeded retry limit"), "{evidence}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kills_spawn_errors_and_shutdowns_are_final() {
        for class in [
            FailureClass::UserKill,
            FailureClass::SpawnError,
            FailureClass::Shutdown,
        ] {
            assert_eq!(
                decide(class, 0),
                AfterFailure::Dead {
                    reason: class,
                    gave_up: false
                }
            );
        }
    }

    #[test]
    fn nothing_restarts_while_the_conductor_stops() {
        assert_eq!(
            after_failure(FailureClass::Crash, 0, 0, &POLICY, true, None, 0.0),
            AfterFailure::Dead {
                reason: FailureClass::Shutdown,
                gave_up: false
            }
        );
        // A final class keeps its own reason.
        assert_eq!(
            after_failure(FailureClass::UserKill, 0, 0, &POLICY, true, None, 0.0),
            AfterFailure::Dead {
                reason: FailureClass::UserKill,
                gave_up: false
            }
        );
    }

    #[test]
    fn jitter_stays_within_a_tenth_of_the_backoff() {
        let AfterFailure::Restart { delay, .. } =
            after_failure(FailureClass::Crash, 1, 0, &POLICY, false, None, 0.999)
        else {
            panic!("restart expected")
        };
        assert!(delay >= Duration::from_secs(2) && delay < Duration::from_millis(2200));
    }

    #[test]
    fn any_host_goes_to_the_most_free_slots_and_waits_when_all_are_full() {
        let hosts = [("a", 2, 1), ("b", 4, 1), ("c", 4, 1)];
        assert_eq!(
            freest_host(hosts.into_iter()),
            Some("b"),
            "ties go to the first name"
        );
        let full = [("a", 2, 2), ("b", 1, 3)];
        assert_eq!(freest_host(full.into_iter()), None);
        assert_eq!(freest_host(std::iter::empty()), None);
    }

    #[test]
    fn a_lease_is_asked_again_at_the_eta_within_bounds() {
        let (min, max) = (Duration::from_millis(20), Duration::from_secs(2));
        assert_eq!(lease_retry(Some(500), min, max), Duration::from_millis(500));
        assert_eq!(lease_retry(Some(-5), min, max), min, "an eta in the past");
        assert_eq!(lease_retry(Some(60_000), min, max), max);
        assert_eq!(lease_retry(None, min, max), max);
    }
}
