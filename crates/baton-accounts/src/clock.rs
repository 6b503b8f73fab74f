//! Where the broker's "now" comes from, so cooldowns and circuits can be
//! tested without waiting.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;

/// A source of wall-clock time for the broker.
///
/// Cooldowns and circuit windows are persisted as wall-clock timestamps
/// because several processes share them.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system's real-time clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// Meant for tests (of this crate and of its callers).
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<Mutex<Timestamp>>,
}

impl FakeClock {
    /// A clock that reads `start` until moved.
    pub fn new(start: Timestamp) -> FakeClock {
        FakeClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `by` (saturating at the latest timestamp).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = add(*now, by);
    }

    /// Sets the clock to `to` (which may be earlier than now).
    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `ts + by`, saturating at [`Timestamp::MAX`] (a reset time parsed from an
/// agent's output may be absurd).
pub(crate) fn add(ts: Timestamp, by: Duration) -> Timestamp {
    ts.checked_add(by).unwrap_or(Timestamp::MAX)
}

/// `ts - by`, saturating at [`Timestamp::MIN`].
pub(crate) fn sub(ts: Timestamp, by: Duration) -> Timestamp {
    ts.checked_sub(by).unwrap_or(Timestamp::MIN)
}
