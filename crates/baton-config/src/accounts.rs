//! `[accounts]`: provider accounts the broker leases to sessions (SPEC §9).
//!
//! These are plain, validated values; leasing, cooldowns and credentials
//! live in the `baton-accounts` crate.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::model::AgentKind;

/// How an account's credentials reach the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountMode {
    /// codex only: the account is a codex profile (`--profile NAME`).
    Profile,
    /// Environment variables (values may be `$VAR` references, resolved at lease time).
    Env,
    /// An auth file copied into a private per-lease directory the CLI is pointed at.
    Auth,
}

/// Priority class; better tiers are leased first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Best.
    Pro,
    /// Second.
    Plus,
    /// When nothing is said (the default).
    Unknown,
    /// Last resort.
    Free,
}

impl Tier {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Pro => "pro",
            Tier::Plus => "plus",
            Tier::Unknown => "unknown",
            Tier::Free => "free",
        }
    }
}

/// One `[[accounts.<provider>]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountSpec {
    /// Unique within its provider: `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`.
    pub id: String,
    /// The agent kind this account is for (codex, gemini or claude).
    pub provider: AgentKind,
    /// How the credentials are applied.
    pub mode: AccountMode,
    /// `mode = "profile"`: the codex profile name.
    pub profile: Option<String>,
    /// `mode = "env"`: variables to set; a value `$NAME` is read from baton's
    /// own environment when the account is leased. Never logged.
    #[serde(skip_serializing)]
    pub env: BTreeMap<String, String>,
    /// `mode = "auth"`: the credentials file, relative to `auth_dir` (or
    /// absolute, but it must resolve inside `auth_dir`).
    pub auth_file: Option<PathBuf>,
    /// Only usable by sessions on this remote host.
    pub host: Option<String>,
    /// Priority class (default `unknown`).
    pub tier: Tier,
}

/// `[accounts]`: broker settings and the accounts of each provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountsConfig {
    /// Where `auth_file`s must live. Default `~/.config/baton/auth`.
    pub auth_dir: PathBuf,
    /// Where the shared broker state (cooldowns, circuits, leases) is kept.
    /// Default `$XDG_STATE_HOME/baton` (or `~/.local/state/baton`).
    pub state_dir: PathBuf,
    /// Cooldown after a rate limit when the output gives no reset time (default 5 min).
    pub cooldown: Duration,
    /// Failures within `circuit_window` that open an account's circuit (default 3).
    pub circuit_failures: u32,
    /// Window for counting failures, and how long an open circuit stays open
    /// before admitting one trial lease (default 10 min).
    pub circuit_window: Duration,
    /// Every account, in file order (providers mixed).
    pub accounts: Vec<AccountSpec>,
}

impl AccountsConfig {
    /// The accounts configured for `provider`, in file order.
    pub fn for_provider(&self, provider: AgentKind) -> impl Iterator<Item = &AccountSpec> {
        self.accounts.iter().filter(move |a| a.provider == provider)
    }

    /// Whether sessions of `provider` must lease an account before starting.
    pub fn brokered(&self, provider: AgentKind) -> bool {
        self.for_provider(provider).next().is_some()
    }
}

impl Default for AccountsConfig {
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"));
        let state = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| home.join(".local/state"));
        AccountsConfig {
            auth_dir: home.join(".config/baton/auth"),
            state_dir: state.join("baton"),
            cooldown: Duration::from_secs(300),
            circuit_failures: 3,
            circuit_window: Duration::from_secs(600),
            accounts: Vec::new(),
        }
    }
}
