//! `[accounts]`: provider accounts the broker leases to sessions.
//!
//! These are plain, validated values; leasing, cooldowns and credentials
//! live in the `baton-accounts` crate.
//!
//! Values that come out of [`crate::Manifest::parse`] satisfy the rules on
//! [`AccountSpec`] and [`AccountsConfig`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{AgentKind, humantime_ser};

/// The rule an [`AccountSpec::id`] must satisfy, as shown in error messages.
pub const ACCOUNT_ID_RULE: &str = "an account id is 1 to 64 characters: an ASCII letter or digit, \
     then ASCII letters, digits, '.', '_' or '-'";

/// The providers that can have accounts, in the order error messages list them.
pub(crate) const PROVIDERS: [AgentKind; 3] =
    [AgentKind::Codex, AgentKind::Gemini, AgentKind::Claude];

/// Whether `s` satisfies [`ACCOUNT_ID_RULE`] (the same rule as a session id).
pub(crate) fn valid_account_id(s: &str) -> bool {
    crate::model::SessionId::check(s)
}

/// How an account's credentials reach the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountMode {
    /// codex only: the account is a codex profile (`--profile NAME`).
    Profile,
    /// Environment variables (values may be `$VAR` references, resolved at lease time).
    Env,
    /// An auth file copied into a private per-lease directory the CLI is pointed at.
    Auth,
}

impl AccountMode {
    /// Lowercase name, as written in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountMode::Profile => "profile",
            AccountMode::Env => "env",
            AccountMode::Auth => "auth",
        }
    }
}

impl fmt::Display for AccountMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Priority class; better tiers are leased first (`Ord`: best first).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Best.
    Pro,
    /// Second.
    Plus,
    /// When nothing is said (the default).
    #[default]
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

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[accounts.<provider>]]` entry.
///
/// After [`crate::Manifest::parse`]: `id` matches [`ACCOUNT_ID_RULE`] and is
/// unique within `provider`; `provider` is never `Command`; `profile` is
/// `Some` (non-empty) exactly when `mode` is `Profile`, which only a codex
/// account can be; `env` is non-empty exactly when `mode` is `Env`, with keys
/// that are non-empty and contain no `=`; `auth_file` is `Some` (non-empty)
/// exactly when `mode` is `Auth` — a relative path stays relative (to
/// `auth_dir`), `~/…` is expanded; `host` is never empty; no string contains NUL.
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
///
/// After [`crate::Manifest::parse`]: `auth_dir` and `state_dir` have `~/…`
/// expanded and relative paths joined onto the manifest's directory; the
/// durations are never zero; `circuit_failures` is at least 1; `accounts`
/// holds every `[[accounts.<provider>]]` in the order they appear in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountsConfig {
    /// Where `auth_file`s must live. Default `~/.config/baton/auth`.
    pub auth_dir: PathBuf,
    /// Where the shared broker state (cooldowns, circuits, leases) is kept.
    /// Default `$XDG_STATE_HOME/baton` (or `~/.local/state/baton`).
    pub state_dir: PathBuf,
    /// Cooldown after a rate limit when the output gives no reset time (default 5 min).
    #[serde(with = "humantime_ser")]
    pub cooldown: Duration,
    /// Failures within `circuit_window` that open an account's circuit (default 3).
    pub circuit_failures: u32,
    /// Window for counting failures, and how long an open circuit stays open
    /// before admitting one trial lease (default 10 min).
    #[serde(with = "humantime_ser")]
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
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
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

/// Expands a directory or file name written in `[accounts]`: `~` and `~/…`
/// are under `home`; an absolute path is kept; with `base_dir`, any other
/// relative path is joined onto it, without, it is kept relative.
///
/// The error says what is wrong, without the field's name.
pub(crate) fn expand_path(
    s: &str,
    home: Option<&Path>,
    base_dir: Option<&Path>,
) -> Result<PathBuf, &'static str> {
    if s.is_empty() {
        return Err("must not be empty");
    }
    if let Some(rest) = s.strip_prefix('~') {
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Err("`~user` paths are not supported; write `~/…` or an absolute path");
        }
        let Some(home) = home.filter(|h| h.is_absolute()) else {
            return Err("starts with `~` but HOME is not set to an absolute path");
        };
        let rest = rest.trim_start_matches('/');
        return Ok(if rest.is_empty() {
            home.to_path_buf()
        } else {
            home.join(rest)
        });
    }
    let p = Path::new(s);
    Ok(match base_dir {
        Some(base) if !p.is_absolute() => base.join(p),
        _ => p.to_path_buf(),
    })
}
