//! The broker: every call locks the shared state, expires the leases of
//! dead owners, applies one change, and writes the state back durably
//! before returning.

use std::fmt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use baton_config::{AccountMode, AccountsConfig, AgentKind, Tier};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::credentials::{self, Credentials, SecurityViolation};
use crate::error::BrokerError;
use crate::owner::Owner;
use crate::policy::{self, CircuitState, Hosts, key};
use crate::state::{LeaseRecord, Locked, StateFile, Store};

/// Who the broker acts for and whose home it must leave alone.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// The user's home: settings files are copied *from* here into private
    /// lease directories; nothing is ever written here. Default `$HOME`.
    pub home: PathBuf,
    /// The process that owns the leases this broker takes. Default: this one.
    pub owner: Owner,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            home: std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/")),
            owner: Owner::current(),
        }
    }
}

/// How a leased session ended, as far as the account is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The session worked: the account's circuit closes and its failures are forgotten.
    Success,
    /// The provider rate-limited the account: it cools down for `reset_after`
    /// (the reset time the output gave), else the configured cooldown. Not a
    /// circuit failure.
    RateLimited {
        /// How long until the provider's limit resets, if known.
        reset_after: Option<Duration>,
    },
    /// The session failed in a way that may be the account's fault: counts
    /// towards opening its circuit; a failed trial reopens it.
    Failure,
    /// The failure was not the account's (binary or workdir missing): nothing changes.
    Infrastructure,
    /// The session was stopped (user kill, shutdown): nothing changes.
    Neutral,
}

/// A held account. Only one live lease exists per account at a time.
///
/// Serializable so a caller can persist it; the serialized form holds no
/// environment values (they are skipped) and no credential content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Unique across processes and time; also the private directory's name.
    pub id: String,
    /// The account's `id`.
    pub account: String,
    /// The account's provider.
    pub provider: AgentKind,
    /// The account's tier.
    #[serde(with = "tier_serde")]
    pub tier: Tier,
    /// The best tier configured for this provider and host had nothing free.
    pub tier_fallback: bool,
    /// The account's circuit was half-open: this lease is its one trial.
    pub trial: bool,
    /// What to hand the agent.
    pub credentials: Credentials,
    /// The session the lease was taken for.
    pub session: String,
}

/// The result of [`Broker::lease`].
#[derive(Debug, Clone)]
pub struct LeaseOutcome {
    /// The lease, or `None` when no account is free.
    pub lease: Option<Lease>,
    /// When `lease` is `None`: when an account is expected to free up, or
    /// `None` if every account is busy (one frees when its session ends).
    pub eta: Option<Timestamp>,
    /// `auth` accounts refused during this call (never leased).
    pub security: Vec<SecurityViolation>,
    /// Leases of dead owners expired during this call.
    pub expired: Vec<ExpiredLease>,
}

/// The result of [`Broker::release`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    /// The account cools down until then (set by a rate limit).
    pub cooldown_until: Option<Timestamp>,
    /// The account's circuit changed state.
    pub circuit: Option<CircuitChange>,
}

/// An account's circuit changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CircuitChange {
    /// `<provider>/<id>`.
    pub account: String,
    /// Before the release.
    pub from: CircuitState,
    /// After it.
    pub to: CircuitState,
}

/// A lease whose owner process was gone; its account is free again and its
/// private directory removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredLease {
    /// `<provider>/<id>`.
    pub account: String,
    /// The session it was leased for.
    pub session: String,
    /// The dead owner's pid.
    pub owner_pid: u32,
}

/// Every configured account, as `baton accounts` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerStatus {
    /// In config file order.
    pub accounts: Vec<AccountStatus>,
    /// Per provider that has accounts (on any host): when one can next be
    /// leased (`now` if one can be now; `None` if all are merely busy).
    pub eta: Vec<(AgentKind, Option<Timestamp>)>,
}

/// One account's state.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    /// Provider.
    pub provider: AgentKind,
    /// Account id.
    pub id: String,
    /// Priority class.
    pub tier: Tier,
    /// How credentials are applied.
    pub mode: AccountMode,
    /// The remote host it is limited to.
    pub host: Option<String>,
    /// The live lease, if any.
    pub busy: Option<BusyInfo>,
    /// Rate-limited until then (only if in the future).
    pub cooldown_until: Option<Timestamp>,
    /// The circuit now.
    pub circuit: CircuitState,
    /// When an open circuit turns half-open (set while open or half-open).
    pub circuit_open_until: Option<Timestamp>,
    /// Failures counted towards opening the circuit.
    pub failures_in_window: u32,
    /// Leases ever taken.
    pub total_leases: u64,
    /// `Failure` releases ever.
    pub total_failures: u64,
    /// `RateLimited` releases ever.
    pub total_rate_limits: u64,
}

/// Who holds a busy account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyInfo {
    /// The session.
    pub session: String,
    /// When it was leased.
    pub since: Timestamp,
    /// The owner's pid.
    pub owner_pid: u32,
}

/// The account broker over one state directory. Cheap to clone; every clone
/// and every other process using the same `state_dir` sees the same state.
#[derive(Clone)]
pub struct Broker {
    cfg: AccountsConfig,
    clock: Arc<dyn Clock>,
    opts: BrokerOptions,
    store: Store,
    leases_dir: PathBuf,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broker")
            .field("state_dir", &self.store.dir)
            .field("accounts", &self.cfg.accounts.len())
            .field("owner", &self.opts.owner)
            .finish_non_exhaustive()
    }
}

/// A lock held and the state read under it.
struct Txn {
    lock: Locked,
    state: StateFile,
    dirty: bool,
    expired: Vec<ExpiredLease>,
}

impl Broker {
    /// Opens the broker on `cfg.state_dir`, creating it (0700) if missing,
    /// and checks the state file: a corrupt or newer file is an error here,
    /// not later. Expires the leases of dead owners.
    pub fn open(
        cfg: AccountsConfig,
        clock: Arc<dyn Clock>,
        opts: BrokerOptions,
    ) -> Result<Broker, BrokerError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.state_dir)
            .map_err(|e| BrokerError::io(&cfg.state_dir, e))?;
        let leases_dir = cfg.state_dir.join("leases");
        match credentials::private_dir(&leases_dir) {
            Err(BrokerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists => {}
            other => other?,
        }
        let broker = Broker {
            store: Store::new(&cfg.state_dir),
            cfg,
            clock,
            opts,
            leases_dir,
        };
        let txn = broker.begin()?;
        broker.commit(txn)?;
        Ok(broker)
    }

    /// The configuration the broker was opened with.
    pub fn config(&self) -> &AccountsConfig {
        &self.cfg
    }

    /// Leases the best free account of `provider` usable on `host` (`None` =
    /// this machine) to `session`.
    ///
    /// Best = best tier, then the account leased longest ago. An `auth`
    /// account whose file resolves outside `auth_dir` is skipped and reported
    /// in `security`. When nothing is free, `lease` is `None` and `eta` says
    /// when something may be. The lease is on disk before this returns.
    ///
    /// Errors: `MissingEnv` when the chosen `env` account refers to an unset
    /// variable (nothing is leased); I/O, lock and state-file errors.
    pub fn lease(
        &self,
        provider: AgentKind,
        session: &str,
        host: Option<&str>,
    ) -> Result<LeaseOutcome, BrokerError> {
        let mut txn = self.begin()?;
        let now = self.clock.now();
        let mut security = Vec::new();
        let best = policy::best_tier(&self.cfg, provider, host);
        let candidates = policy::candidates(&self.cfg, &txn.state, provider, host, now);
        for cand in candidates {
            let spec = cand.spec;
            let account_key = key(spec.provider, &spec.id);
            let mut creds = credentials::base(spec);
            let env = match credentials::resolve_env(spec) {
                Ok(env) => env,
                Err(e) => {
                    self.commit(txn)?;
                    return Err(e);
                }
            };
            let id = new_lease_id(provider, &spec.id, self.opts.owner);
            if spec.mode == AccountMode::Auth {
                let source = match credentials::read_auth_source(spec, &self.cfg.auth_dir) {
                    Ok(Ok(source)) => source,
                    Ok(Err(violation)) => {
                        security.push(violation);
                        continue;
                    }
                    Err(e) => {
                        self.commit(txn)?;
                        return Err(e);
                    }
                };
                let dir = self.leases_dir.join(&id);
                match credentials::materialise(spec, &source, &dir, &self.opts.home) {
                    Ok(vars) => creds.env.extend(vars),
                    Err(e) => {
                        self.commit(txn)?;
                        return Err(e);
                    }
                }
                creds.private_dir = Some(dir);
            }
            creds.env.extend(env);

            let seq = txn.state.lease_seq.saturating_add(1);
            txn.state.lease_seq = seq;
            let st = txn.state.accounts.entry(account_key.clone()).or_default();
            st.last_leased_at = Some(now);
            st.last_lease_seq = seq;
            st.total_leases = st.total_leases.saturating_add(1);
            txn.state.leases.push(LeaseRecord {
                id: id.clone(),
                account: account_key,
                session: session.to_owned(),
                owner_pid: self.opts.owner.pid,
                owner_start_time: self.opts.owner.start_time,
                since: now,
                trial: cand.trial,
                private_dir: creds.private_dir.clone(),
            });
            txn.dirty = true;
            let expired = std::mem::take(&mut txn.expired);
            if let Err(e) = self.commit(txn) {
                if let Some(dir) = &creds.private_dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
                return Err(e);
            }
            return Ok(LeaseOutcome {
                lease: Some(Lease {
                    id,
                    account: spec.id.clone(),
                    provider,
                    tier: spec.tier,
                    tier_fallback: best.is_some_and(|b| spec.tier > b),
                    trial: cand.trial,
                    credentials: creds,
                    session: session.to_owned(),
                }),
                eta: None,
                security,
                expired,
            });
        }
        let eta = policy::eta(&self.cfg, &txn.state, provider, Hosts::Exactly(host), now);
        let expired = std::mem::take(&mut txn.expired);
        self.commit(txn)?;
        Ok(LeaseOutcome {
            lease: None,
            eta,
            security,
            expired,
        })
    }

    /// Ends `lease` with `outcome`: frees the account, applies the outcome to
    /// its cooldown, circuit and counters, and removes the private directory.
    ///
    /// Idempotent: a lease that is not (or no longer) held changes nothing
    /// and returns an empty report.
    pub fn release(&self, lease: &Lease, outcome: Outcome) -> Result<ReleaseReport, BrokerError> {
        let mut txn = self.begin()?;
        let now = self.clock.now();
        let Some(pos) = txn.state.leases.iter().position(|l| l.id == lease.id) else {
            self.commit(txn)?;
            return Ok(ReleaseReport {
                cooldown_until: None,
                circuit: None,
            });
        };
        let record = txn.state.leases.remove(pos);
        if let Some(dir) = &record.private_dir {
            remove_private_dir(dir);
        }
        let st = txn
            .state
            .accounts
            .entry(record.account.clone())
            .or_default();
        let circuit = policy::apply(&self.cfg, st, &outcome, now).map(|mut c| {
            c.account = record.account.clone();
            c
        });
        let cooldown_until = st.cooldown_until.filter(|t| *t > now);
        txn.dirty = true;
        self.commit(txn)?;
        Ok(ReleaseReport {
            cooldown_until,
            circuit,
        })
    }

    /// Every configured account with its state, and per provider when an
    /// account is next available.
    pub fn status(&self) -> Result<BrokerStatus, BrokerError> {
        let txn = self.begin()?;
        let now = self.clock.now();
        let accounts = self
            .cfg
            .accounts
            .iter()
            .map(|spec| {
                let k = key(spec.provider, &spec.id);
                let st = txn.state.accounts.get(&k).cloned().unwrap_or_default();
                let busy = txn
                    .state
                    .leases
                    .iter()
                    .find(|l| l.account == k)
                    .map(|l| BusyInfo {
                        session: l.session.clone(),
                        since: l.since,
                        owner_pid: l.owner_pid,
                    });
                AccountStatus {
                    provider: spec.provider,
                    id: spec.id.clone(),
                    tier: spec.tier,
                    mode: spec.mode,
                    host: spec.host.clone(),
                    busy,
                    cooldown_until: st.cooldown_until.filter(|t| *t > now),
                    circuit: policy::circuit(&st, now),
                    circuit_open_until: st.circuit_open_until,
                    failures_in_window: policy::failures_in_window(
                        &st,
                        now,
                        self.cfg.circuit_window,
                    ),
                    total_leases: st.total_leases,
                    total_failures: st.total_failures,
                    total_rate_limits: st.total_rate_limits,
                }
            })
            .collect();
        let mut providers: Vec<AgentKind> = Vec::new();
        for a in &self.cfg.accounts {
            if !providers.contains(&a.provider) {
                providers.push(a.provider);
            }
        }
        let eta = providers
            .into_iter()
            .map(|p| (p, policy::eta(&self.cfg, &txn.state, p, Hosts::Any, now)))
            .collect();
        self.commit(txn)?;
        Ok(BrokerStatus { accounts, eta })
    }

    /// When an account of `provider` usable on `host` can next be leased:
    /// `Some(now)` if one can be now; else the earliest cooldown end or
    /// circuit half-open time; `None` if every account is busy (one frees
    /// when its session ends) or none is configured.
    pub fn next_available_eta(
        &self,
        provider: AgentKind,
        host: Option<&str>,
    ) -> Result<Option<Timestamp>, BrokerError> {
        let txn = self.begin()?;
        let now = self.clock.now();
        let eta = policy::eta(&self.cfg, &txn.state, provider, Hosts::Exactly(host), now);
        self.commit(txn)?;
        Ok(eta)
    }

    /// Locks, reads, expires dead owners' leases and removes stray private
    /// directories (a crash between creating one and recording its lease).
    fn begin(&self) -> Result<Txn, BrokerError> {
        let lock = self.store.lock()?;
        let mut state = self.store.load(&lock)?;
        let mut expired = Vec::new();
        state.leases.retain(|l| {
            let owner = Owner {
                pid: l.owner_pid,
                start_time: l.owner_start_time,
            };
            if owner.is_alive() {
                return true;
            }
            if let Some(dir) = &l.private_dir {
                remove_private_dir(dir);
            }
            expired.push(ExpiredLease {
                account: l.account.clone(),
                session: l.session.clone(),
                owner_pid: l.owner_pid,
            });
            false
        });
        self.sweep(&state);
        Ok(Txn {
            lock,
            state,
            dirty: !expired.is_empty(),
            expired,
        })
    }

    fn sweep(&self, state: &StateFile) {
        let Ok(entries) = std::fs::read_dir(&self.leases_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !state.leases.iter().any(|l| *l.id == *name) {
                remove_private_dir(&entry.path());
            }
        }
    }

    /// Writes the state back if it changed, then unlocks.
    fn commit(&self, txn: Txn) -> Result<(), BrokerError> {
        if txn.dirty {
            self.store.save(&txn.lock, &txn.state)?;
        }
        drop(txn.lock);
        Ok(())
    }
}

/// Removes a private lease directory; already gone is fine. A failure is
/// retried by the next call's sweep.
fn remove_private_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// `<provider>.<account>.<pid>.<start>.<nanos>.<n>`: unique across processes
/// (pid + start time) and within one (clock and counter); safe as a file name
/// because account ids are `[A-Za-z0-9._-]`.
fn new_lease_id(provider: AgentKind, account: &str, owner: Owner) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let safe: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}.{safe}.{}.{}.{nanos:x}.{n}",
        provider.as_str(),
        std::process::id(),
        owner.start_time
    )
}

/// `Tier` is `Serialize` only in baton-config; leases are read back too.
mod tier_serde {
    use baton_config::Tier;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(tier: &Tier, s: S) -> Result<S::Ok, S::Error> {
        tier.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Tier, D::Error> {
        let text = String::deserialize(d)?;
        [Tier::Pro, Tier::Plus, Tier::Unknown, Tier::Free]
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| {
                serde::de::Error::unknown_variant(&text, &["pro", "plus", "unknown", "free"])
            })
    }
}
