//! The account broker: leases provider accounts to sessions.
//!
//! Every baton process on the machine shares one truth: the broker state
//! (cooldowns, circuits, counters, live leases) lives in
//! `<state_dir>/accounts.json`, read and rewritten under an exclusive lock on
//! `<state_dir>/accounts.lock` by every call, and written durably (temp file,
//! `fsync`, rename, `fsync` of the directory). A restart forgets nothing.
//!
//! What it must never do:
//! - lease one account twice at the same time (a lease lives until released,
//!   or until the process that took it is gone);
//! - write anything under the user's home: `auth` credentials are materialised
//!   into a private per-lease directory (0700, files 0600);
//! - lease an `auth` file that does not resolve inside the auth directory;
//! - put an environment value or credential content into an error, a `Debug`
//!   rendering or the state file.
//!
//! The API is synchronous (file locks and `fsync`): async callers run it on a
//! blocking thread.

#![warn(missing_docs)]

mod broker;
mod clock;
mod credentials;
mod error;
mod owner;
mod policy;
mod state;

pub use broker::{
    AccountStatus, Broker, BrokerOptions, BrokerStatus, BusyInfo, CircuitChange, ExpiredLease,
    Lease, LeaseOutcome, Outcome, ReleaseReport,
};
pub use clock::{Clock, FakeClock, SystemClock};
pub use credentials::{Credentials, SecurityViolation};
pub use error::BrokerError;
pub use owner::Owner;
pub use policy::CircuitState;
