//! Accounts: leasing one before each run, giving it back after.
//!
//! The broker locks and fsyncs a shared state file, so its calls run on the
//! blocking pool and come back to the loop as [`BrokerReply`] messages. A
//! session whose provider has accounts starts only with a lease; when none
//! is free it waits (`init`, reason `waiting_for_account`, or `restarting`)
//! and is retried when an account is released or its cooldown ends.

use std::time::Duration;

use baton_accounts::{BrokerError, Lease, LeaseOutcome, Outcome, ReleaseReport};
use baton_config::SessionId;

use super::effect::Effect;
use super::{Supervisor, Timer, Waiting};
use crate::eventlog::Event;
use crate::state::{FailureClass, Missing, SessionState};

/// Replies from broker calls made off the loop.
pub(crate) enum BrokerReply {
    Leased {
        id: SessionId,
        ticket: u64,
        result: Result<LeaseOutcome, BrokerError>,
    },
    Released {
        id: SessionId,
        lease: Box<Lease>,
        outcome: &'static str,
        result: Result<ReleaseReport, BrokerError>,
    },
}

/// What a failure of `class` means for the account that was used.
pub(crate) fn outcome_for(class: FailureClass) -> Outcome {
    match class {
        FailureClass::Crash
        | FailureClass::StartupTimeout
        | FailureClass::Stalled
        | FailureClass::ToolsUnavailable => Outcome::Failure,
        // The account's credentials were refused.
        FailureClass::AuthRequired => Outcome::Failure,
        FailureClass::RateLimited => Outcome::RateLimited { reset_after: None },
        // A missing binary or workdir, or a host that went away, says
        // nothing about the account.
        FailureClass::SpawnError
        | FailureClass::RemoteUnreachable
        | FailureClass::UntrustedFolder
        | FailureClass::Network => Outcome::Infrastructure,
        FailureClass::UserKill | FailureClass::Shutdown => Outcome::Neutral,
    }
}

pub(super) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::RateLimited { .. } => "rate_limited",
        Outcome::Failure => "failure",
        Outcome::Infrastructure => "infrastructure",
        Outcome::Neutral => "neutral",
    }
}

/// The account id in a broker key `<provider>/<id>` (events name the
/// provider separately, on `lease`).
fn account_id(key: &str) -> &str {
    key.split_once('/').map_or(key, |(_, id)| id)
}

/// Longest pause between two lease attempts of a waiting session: other
/// conductors sharing the state file release accounts without telling us.
const RETRY_MAX: Duration = Duration::from_secs(2);
const RETRY_MIN: Duration = Duration::from_millis(20);

impl Supervisor {
    fn brokered(&self, id: &SessionId) -> bool {
        match (&self.broker, self.sessions.get(id)) {
            (Some(broker), Some(entry)) => broker.config().brokered(entry.spec.agent),
            _ => false,
        }
    }

    /// Asks for the session's next run: a host slot first (remote
    /// sessions), then an account if its provider has any, then
    /// [`Supervisor::start_run`]. Each may make the session wait.
    pub(super) fn request_run(&mut self, id: &SessionId) {
        if !self.place(id) {
            return;
        }
        if self.brokered(id) {
            self.request_lease(id);
        } else {
            let reason = self.start_reason(id);
            self.start_run(id, reason);
        }
    }

    fn start_reason(&self, id: &SessionId) -> &'static str {
        match self.sessions.get(id).map(|e| e.state) {
            Some(SessionState::Restarting) => "restart",
            _ => "spawn",
        }
    }

    pub(super) fn request_lease(&mut self, id: &SessionId) {
        if self.broker.is_none() {
            return;
        }
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let after_no_account = match entry.waiting {
            Some(Waiting::LeaseReply { .. }) => return,
            Some(Waiting::Account) => true,
            Some(Waiting::HostSlot) | None => false,
        };
        entry.lease_ticket += 1;
        entry.waiting = Some(Waiting::LeaseReply { after_no_account });
        let ticket = entry.lease_ticket;
        let provider = entry.spec.agent;
        let host = entry.host.clone();
        self.broker_ops += 1;
        self.effects.push(Effect::Lease {
            id: id.clone(),
            ticket,
            provider,
            host,
        });
    }

    /// Gives the session's account back (if it holds one) with `outcome`.
    pub(super) fn release_lease(&mut self, id: &SessionId, outcome: Outcome) {
        let Some(lease) = self.sessions.get_mut(id).and_then(|e| e.lease.take()) else {
            return;
        };
        self.release_detached(id, lease, outcome);
    }

    fn release_detached(&mut self, id: &SessionId, lease: Lease, outcome: Outcome) {
        if self.broker.is_none() {
            return;
        }
        self.broker_ops += 1;
        self.effects.push(Effect::Release {
            id: id.clone(),
            lease: Box::new(lease),
            outcome,
        });
    }

    pub(super) fn on_broker_reply(&mut self, reply: BrokerReply) {
        self.broker_ops = self.broker_ops.saturating_sub(1);
        match reply {
            BrokerReply::Leased { id, ticket, result } => self.on_leased(id, ticket, result),
            BrokerReply::Released {
                id,
                lease,
                outcome,
                result,
            } => self.on_released(id, *lease, outcome, result),
        }
    }

    fn on_leased(&mut self, id: SessionId, ticket: u64, result: Result<LeaseOutcome, BrokerError>) {
        let stopping = self.shutting_down.is_some();
        let current = match self.sessions.get_mut(&id) {
            Some(entry) if entry.lease_ticket == ticket => {
                entry.waiting = match entry.waiting {
                    Some(Waiting::LeaseReply {
                        after_no_account: true,
                    }) => Some(Waiting::Account),
                    _ => None,
                };
                matches!(entry.state, SessionState::Init | SessionState::Restarting) && !stopping
            }
            _ => false,
        };
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                if current {
                    self.lease_failed(&id, &e);
                }
                return;
            }
        };
        for violation in &outcome.security {
            self.effects.record(
                Some(id.as_str()),
                Event::Security {
                    account: account_id(&violation.account).to_owned(),
                    path: violation.path.display().to_string(),
                    reason: violation.reason.clone(),
                },
            );
        }
        for expired in &outcome.expired {
            self.effects.record(
                Some(&expired.session),
                Event::Release {
                    account: account_id(&expired.account).to_owned(),
                    outcome: "expired".into(),
                },
            );
        }
        let Some(lease) = outcome.lease else {
            if current {
                self.wait_for_account(&id, outcome.eta);
            }
            return;
        };
        if !current {
            // The session was killed or restarted meanwhile: give it back.
            self.release_detached(&id, lease, Outcome::Neutral);
            return;
        }
        self.append(
            &id,
            Event::Lease {
                account: lease.account.clone(),
                provider: lease.provider.to_string(),
                tier: lease.tier.as_str().into(),
                trial: lease.trial,
            },
        );
        if lease.tier_fallback {
            self.append(
                &id,
                Event::TierFallback {
                    account: lease.account.clone(),
                    tier: lease.tier.as_str().into(),
                },
            );
        }
        let reason = self.start_reason(&id);
        if let Some(entry) = self.sessions.get_mut(&id) {
            entry.lease = Some(lease);
            entry.waiting = None;
        }
        self.start_run(&id, reason);
    }

    /// No account is free: record it, and try again when one may be.
    fn wait_for_account(&mut self, id: &SessionId, eta: Option<jiff::Timestamp>) {
        let Some(entry) = self.sessions.get_mut(id) else {
            return;
        };
        let provider = entry.spec.agent;
        let first = entry.waiting != Some(Waiting::Account);
        entry.waiting = Some(Waiting::Account);
        if entry.state == SessionState::Init {
            entry.reason = Waiting::Account.reason().into();
        }
        let ticket = entry.lease_ticket;
        if first {
            self.append(
                id,
                Event::NoLease {
                    provider: provider.to_string(),
                    eta: eta.map(|t| t.to_string()),
                },
            );
        }
        let eta_ms = eta.map(|t| t.as_millisecond() - jiff::Timestamp::now().as_millisecond());
        let delay = super::policy::lease_retry(eta_ms, RETRY_MIN, RETRY_MAX);
        self.effects.arm(
            delay,
            Timer::RetryLease {
                id: id.clone(),
                ticket,
            },
        );
    }

    /// The broker refused for a reason retrying cannot fix (a missing `$VAR`,
    /// an unreadable state file): the session dies with the message.
    fn lease_failed(&mut self, id: &SessionId, e: &BrokerError) {
        let message = format!("account broker: {e}");
        if let Some(entry) = self.sessions.get_mut(id) {
            entry.message = Some(message.clone());
        }
        self.append(
            id,
            Event::SpawnError {
                missing: Missing::Account.as_str().into(),
                message: message.clone(),
            },
        );
        let reason = self.start_reason(id);
        if self.transition(id, SessionState::Starting, reason, None, None) {
            self.fail(id, FailureClass::SpawnError, Some(message), None);
        }
    }

    fn on_released(
        &mut self,
        id: SessionId,
        lease: Lease,
        outcome: &'static str,
        result: Result<ReleaseReport, BrokerError>,
    ) {
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                tracing::error!(session = %id, account = %lease.account, "release failed: {e}");
                return;
            }
        };
        self.append(
            &id,
            Event::Release {
                account: lease.account.clone(),
                outcome: outcome.into(),
            },
        );
        if let Some(until) = report.cooldown_until {
            let seconds = (until.as_second() - jiff::Timestamp::now().as_second()).max(0) as u64;
            self.append(
                &id,
                Event::Cooldown {
                    account: lease.account.clone(),
                    until: until.to_string(),
                    seconds,
                },
            );
        }
        if let Some(change) = report.circuit {
            self.append(
                &id,
                Event::Circuit {
                    account: account_id(&change.account).to_owned(),
                    from: change.from.to_string(),
                    to: change.to.to_string(),
                },
            );
        }
        // An account of this provider may be free now.
        if self.shutting_down.is_none() {
            let waiting: Vec<SessionId> = self
                .sessions
                .iter()
                .filter(|(_, e)| {
                    e.waiting == Some(Waiting::Account) && e.spec.agent == lease.provider
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in waiting {
                self.request_lease(&id);
            }
        }
    }
}
