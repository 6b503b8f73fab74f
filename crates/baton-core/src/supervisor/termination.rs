//! Ending a run: the one sequence every backend follows.
//!
//! running → terminating (SIGTERM to the group, `grace` to comply) →
//! killed (SIGKILL to the group). A second request, or a forced one, skips
//! what is left of the grace. Each signal is reported through `signal`,
//! which also records it in the log.

use std::time::Duration;

use tokio::time::Instant;

use crate::proc::Signal;

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

    /// Sends SIGTERM with `reason` unless termination already began.
    pub(super) fn begin(&mut self, reason: &'static str, signal: &impl Fn(Signal, &'static str)) {
        if self.deadline.is_none() {
            signal(Signal::Term, reason);
            self.deadline = Some(Instant::now() + self.grace);
        }
    }

    /// After the leader of group `pid` exited: whether the group is empty;
    /// if it is not, what is left of it is ended (`leader_exited`).
    pub(super) fn group_gone(
        &mut self,
        pid: crate::proc::Pid,
        signal: &impl Fn(Signal, &'static str),
    ) -> bool {
        let empty = crate::proc::group_is_empty(pid);
        if !empty {
            self.begin("leader_exited", signal);
        }
        empty
    }

    /// A stop request from the supervisor: SIGTERM the first time; SIGKILL
    /// at once when `force` or when asked again.
    pub(super) fn request(&mut self, force: bool, signal: &impl Fn(Signal, &'static str)) {
        if force || self.deadline.is_some() {
            if !self.killed {
                self.killed = true;
                signal(
                    Signal::Kill,
                    if force { "forced" } else { "second_request" },
                );
            }
        } else {
            self.begin("terminate", signal);
        }
    }

    /// When the grace ends, if a SIGKILL is still due.
    pub(super) fn wake(&self) -> Option<Instant> {
        self.deadline.filter(|_| !self.killed)
    }

    /// Sends SIGKILL once the grace has ended.
    pub(super) fn tick(&mut self, now: Instant, signal: &impl Fn(Signal, &'static str)) {
        if let Some(deadline) = self.wake()
            && now >= deadline
        {
            self.killed = true;
            signal(Signal::Kill, "grace_expired");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[test]
    fn term_then_kill_after_the_grace() {
        let sent = RefCell::new(Vec::new());
        let signal = |s, r| sent.borrow_mut().push((s, r));
        let mut t = Termination::new(Duration::from_secs(10));
        t.request(false, &signal);
        assert!(t.wake().is_some());
        t.tick(Instant::now() + Duration::from_secs(9), &signal);
        assert_eq!(sent.borrow().len(), 1);
        t.tick(Instant::now() + Duration::from_secs(10), &signal);
        t.tick(Instant::now() + Duration::from_secs(11), &signal);
        assert_eq!(
            *sent.borrow(),
            vec![(Signal::Term, "terminate"), (Signal::Kill, "grace_expired")]
        );
        assert_eq!(t.wake(), None);
    }

    #[test]
    fn a_second_request_or_force_kills_at_once_and_only_once() {
        let sent = RefCell::new(Vec::new());
        let signal = |s, r| sent.borrow_mut().push((s, r));
        let mut t = Termination::new(Duration::from_secs(10));
        t.begin("leader_exited", &signal);
        t.begin("terminate", &signal); // already terminating: nothing new
        t.request(false, &signal);
        t.request(true, &signal);
        assert_eq!(
            *sent.borrow(),
            vec![
                (Signal::Term, "leader_exited"),
                (Signal::Kill, "second_request")
            ]
        );
        let mut forced = Termination::new(Duration::from_secs(10));
        let sent2 = RefCell::new(Vec::new());
        forced.request(true, &|s, r| sent2.borrow_mut().push((s, r)));
        assert_eq!(*sent2.borrow(), vec![(Signal::Kill, "forced")]);
    }
}
