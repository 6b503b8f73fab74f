//! Ending a run: the one sequence every backend follows.
//!
//! running → terminating (SIGTERM to the group, `grace` to comply) →
//! killed (SIGKILL to the group). A second request, or a forced one, skips
//! what is left of the grace. The machine only decides: each step returns
//! the signal to send and why, and the run driver delivers it through its
//! backend, which says what really reached a process.

use std::time::Duration;

use tokio::time::Instant;

use crate::proc::Signal;

/// Why a signal was sent to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KillReason {
    /// The supervisor asked the run to stop (the session's failure class
    /// says why: user kill, shutdown, stall restart…).
    Terminate,
    /// The leader exited and the rest of its group is ended.
    LeaderExited,
    /// The conductor went away and this backend does not outlive it.
    ConductorGone,
    /// A forced stop: no grace.
    Forced,
    /// Asked to stop again while terminating: no more grace.
    SecondRequest,
    /// The grace after SIGTERM ran out.
    GraceExpired,
}

impl KillReason {
    /// The `reason` of the `kill` record.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KillReason::Terminate => "terminate",
            KillReason::LeaderExited => "leader_exited",
            KillReason::ConductorGone => "conductor_gone",
            KillReason::Forced => "forced",
            KillReason::SecondRequest => "second_request",
            KillReason::GraceExpired => "grace_expired",
        }
    }
}

/// A signal the termination machine wants sent.
pub(crate) type KillStep = (Signal, KillReason);

/// Where a run is in its termination.
#[derive(Debug)]
pub(super) struct Termination {
    grace: Duration,
    /// When SIGKILL follows the SIGTERM already sent.
    deadline: Option<Instant>,
    killed: bool,
}

impl Termination {
    pub(super) fn new(grace: Duration) -> Termination {
        Termination {
            grace,
            deadline: None,
            killed: false,
        }
    }

    /// SIGTERM with `reason`, unless termination already began.
    #[must_use]
    pub(super) fn begin(&mut self, reason: KillReason) -> Option<KillStep> {
        if self.begun() {
            return None;
        }
        self.deadline = Some(Instant::now() + self.grace);
        Some((Signal::Term, reason))
    }

    /// A stop request from the supervisor: SIGTERM the first time; SIGKILL
    /// at once when `force` or when asked again.
    #[must_use]
    pub(super) fn request(&mut self, force: bool) -> Option<KillStep> {
        if !force && self.deadline.is_none() {
            return self.begin(KillReason::Terminate);
        }
        if self.killed {
            return None;
        }
        self.killed = true;
        let reason = if force {
            KillReason::Forced
        } else {
            KillReason::SecondRequest
        };
        Some((Signal::Kill, reason))
    }

    /// Whether a stop was asked for or begun.
    pub(super) fn begun(&self) -> bool {
        self.deadline.is_some() || self.killed
    }

    /// When the grace ends, if a SIGKILL is still due.
    pub(super) fn wake(&self) -> Option<Instant> {
        self.deadline.filter(|_| !self.killed)
    }

    /// SIGKILL once the grace has ended at `now`.
    #[must_use]
    pub(super) fn tick(&mut self, now: Instant) -> Option<KillStep> {
        let deadline = self.wake()?;
        if now < deadline {
            return None;
        }
        self.killed = true;
        Some((Signal::Kill, KillReason::GraceExpired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn term_then_kill_after_the_grace() {
        let mut t = Termination::new(Duration::from_secs(10));
        assert!(!t.begun());
        assert_eq!(
            t.request(false),
            Some((Signal::Term, KillReason::Terminate))
        );
        assert!(t.begun());
        assert!(t.wake().is_some());
        assert_eq!(t.tick(Instant::now() + Duration::from_secs(9)), None);
        assert_eq!(
            t.tick(Instant::now() + Duration::from_secs(10)),
            Some((Signal::Kill, KillReason::GraceExpired))
        );
        assert_eq!(t.tick(Instant::now() + Duration::from_secs(11)), None);
        assert_eq!(t.wake(), None);
    }

    #[test]
    fn a_second_request_or_force_kills_at_once_and_only_once() {
        let mut t = Termination::new(Duration::from_secs(10));
        assert_eq!(
            t.begin(KillReason::LeaderExited),
            Some((Signal::Term, KillReason::LeaderExited))
        );
        // Already terminating: nothing new.
        assert_eq!(t.begin(KillReason::Terminate), None);
        assert_eq!(
            t.request(false),
            Some((Signal::Kill, KillReason::SecondRequest))
        );
        assert_eq!(t.request(true), None);

        let mut forced = Termination::new(Duration::from_secs(10));
        assert_eq!(
            forced.request(true),
            Some((Signal::Kill, KillReason::Forced))
        );
        assert!(forced.begun());
        assert_eq!(forced.wake(), None);
        assert_eq!(forced.request(false), None);
    }
}
