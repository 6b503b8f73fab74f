//! The shared state file and its lock.
//!
//! `<state_dir>/accounts.json` is only ever replaced whole (temp file, fsync,
//! rename, fsync of the directory), and only while holding an exclusive lock
//! on `<state_dir>/accounts.lock`, so readers never see half a file and
//! writers never lose each other's updates. The lock is an `flock`-style
//! lock: it dies with the process, so it never goes stale.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;

/// The format version this build writes and the newest it reads.
pub(crate) const VERSION: u32 = 1;

/// How long a call waits for the state lock.
pub(crate) const LOCK_DEADLINE: Duration = Duration::from_secs(5);

/// How often the lock is retried.
const LOCK_RETRY: Duration = Duration::from_millis(2);

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StateFile {
    pub version: u32,
    /// Bumped on every lease; an account's `last_lease_seq` orders round
    /// robin even when two leases share a timestamp.
    #[serde(default)]
    pub lease_seq: u64,
    /// Keyed `<provider>/<id>`. Keys not in the config are kept untouched.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountState>,
    /// Every lease not yet released or expired.
    #[serde(default)]
    pub leases: Vec<LeaseRecord>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            version: VERSION,
            lease_seq: 0,
            accounts: BTreeMap::new(),
            leases: Vec::new(),
        }
    }
}

/// What the broker remembers about one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct AccountState {
    /// When it was last leased.
    pub last_leased_at: Option<Timestamp>,
    /// `StateFile::lease_seq` at its last lease; 0 = never leased.
    pub last_lease_seq: u64,
    /// Not leased before this time (rate limited).
    pub cooldown_until: Option<Timestamp>,
    /// `Some`: the circuit is open until then, half-open after.
    pub circuit_open_until: Option<Timestamp>,
    /// Failures counted towards opening the circuit.
    pub failures: Vec<Timestamp>,
    pub total_leases: u64,
    pub total_failures: u64,
    pub total_rate_limits: u64,
}

/// One live lease as persisted. Holds no credential content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    pub id: String,
    /// `<provider>/<id>`.
    pub account: String,
    pub session: String,
    pub owner_pid: u32,
    pub owner_start_time: u64,
    pub since: Timestamp,
    #[serde(default)]
    pub trial: bool,
    #[serde(default)]
    pub private_dir: Option<PathBuf>,
}

/// The state file's and lock file's paths.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub dir: PathBuf,
    pub state: PathBuf,
    pub lock: PathBuf,
    temp: PathBuf,
}

/// The lock, held until dropped (closing the file releases it).
pub(crate) struct Locked {
    _file: File,
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            dir: dir.to_owned(),
            state: dir.join("accounts.json"),
            lock: dir.join("accounts.lock"),
            temp: dir.join(".accounts.json.tmp"),
        }
    }

    /// Takes the exclusive lock, retrying every 2 ms until the deadline.
    pub fn lock(&self) -> Result<Locked, BrokerError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.lock)
            .map_err(|e| BrokerError::io(&self.lock, e))?;
        let deadline = Instant::now() + LOCK_DEADLINE;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Locked { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    if Instant::now() >= deadline {
                        return Err(BrokerError::LockTimeout {
                            path: self.lock.clone(),
                        });
                    }
                    std::thread::sleep(LOCK_RETRY);
                }
                Err(TryLockError::Error(e)) => return Err(BrokerError::io(&self.lock, e)),
            }
        }
    }

    /// Reads the state; a missing file is the empty state. Call with the lock held.
    pub fn load(&self, _lock: &Locked) -> Result<StateFile, BrokerError> {
        let bytes = match std::fs::read(&self.state) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(StateFile::default()),
            Err(e) => return Err(BrokerError::io(&self.state, e)),
        };
        decode(&bytes).map_err(|problem| match problem {
            Decode::Corrupt(problem) => BrokerError::Corrupt {
                path: self.state.clone(),
                problem,
            },
            Decode::Newer(found) => BrokerError::UnsupportedVersion {
                path: self.state.clone(),
                found,
                supported: VERSION,
            },
        })
    }

    /// Replaces the state file atomically and durably. Call with the lock held.
    pub fn save(&self, _lock: &Locked, state: &StateFile) -> Result<(), BrokerError> {
        let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| BrokerError::Corrupt {
            path: self.state.clone(),
            problem: format!("cannot encode the state: {e}"),
        })?;
        bytes.push(b'\n');
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&self.temp)
            .map_err(|e| BrokerError::io(&self.temp, e))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| BrokerError::io(&self.temp, e))?;
        drop(file);
        std::fs::rename(&self.temp, &self.state).map_err(|e| BrokerError::io(&self.state, e))?;
        // The rename is only durable once the directory entry is on disk.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| BrokerError::io(&self.dir, e))
    }
}

enum Decode {
    Corrupt(String),
    Newer(u64),
}

fn decode(bytes: &[u8]) -> Result<StateFile, Decode> {
    #[derive(Deserialize)]
    struct Probe {
        version: u64,
    }
    let probe: Probe = serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))?;
    if probe.version > u64::from(VERSION) {
        return Err(Decode::Newer(probe.version));
    }
    if probe.version == 0 {
        return Err(Decode::Corrupt("format version 0 does not exist".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| Decode::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ts() -> impl Strategy<Value = Timestamp> {
        (
            -1_000_000_000_000i64..1_000_000_000_000,
            0i32..1_000_000_000,
        )
            .prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    fn account() -> impl Strategy<Value = AccountState> {
        (
            proptest::option::of(ts()),
            any::<u64>(),
            proptest::option::of(ts()),
            proptest::option::of(ts()),
            proptest::collection::vec(ts(), 0..4),
            (any::<u64>(), any::<u64>(), any::<u64>()),
        )
            .prop_map(
                |(last, seq, cool, open, failures, (l, f, r))| AccountState {
                    last_leased_at: last,
                    last_lease_seq: seq,
                    cooldown_until: cool,
                    circuit_open_until: open,
                    failures,
                    total_leases: l,
                    total_failures: f,
                    total_rate_limits: r,
                },
            )
    }

    fn lease() -> impl Strategy<Value = LeaseRecord> {
        (
            "[a-z0-9.-]{1,20}",
            "[a-z]{1,6}/[a-z0-9]{1,8}",
            "\\PC{0,16}",
            any::<u32>(),
            any::<u64>(),
            ts(),
            any::<bool>(),
            proptest::option::of("/[a-z/]{1,20}".prop_map(PathBuf::from)),
        )
            .prop_map(|(id, account, session, pid, start, since, trial, dir)| {
                LeaseRecord {
                    id,
                    account,
                    session,
                    owner_pid: pid,
                    owner_start_time: start,
                    since,
                    trial,
                    private_dir: dir,
                }
            })
    }

    proptest! {
        #[test]
        fn state_file_json_round_trips(
            seq in any::<u64>(),
            accounts in proptest::collection::btree_map("[a-z]{1,6}/[a-z0-9]{1,8}", account(), 0..5),
            leases in proptest::collection::vec(lease(), 0..4),
        ) {
            let state = StateFile { version: VERSION, lease_seq: seq, accounts, leases };
            let bytes = serde_json::to_vec_pretty(&state).expect("encode");
            let back = decode(&bytes).map_err(|_| TestCaseError::fail("decode failed"))?;
            prop_assert_eq!(back, state);
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_defaulted() {
        let text =
            r#"{"version":1,"future":true,"accounts":{"codex/a":{"total_leases":4,"new":1}}}"#;
        let state = decode(text.as_bytes())
            .map_err(|_| "decode")
            .expect("decodes");
        assert_eq!(state.accounts["codex/a"].total_leases, 4);
        assert!(state.leases.is_empty());
    }

    #[test]
    fn bad_files_are_refused() {
        for (text, newer) in [
            ("", false),
            ("{", false),
            ("[]", false),
            (r#"{"accounts":{}}"#, false),
            (r#"{"version":0}"#, false),
            (r#"{"version":1,"leases":[{"id":3}]}"#, false),
            (r#"{"version":2}"#, true),
        ] {
            match decode(text.as_bytes()) {
                Ok(_) => panic!("{text:?} decoded"),
                Err(Decode::Newer(_)) => assert!(newer, "{text:?}"),
                Err(Decode::Corrupt(_)) => assert!(!newer, "{text:?}"),
            }
        }
    }
}
