//! `baton.toml`: the manifest that says which sessions a conductor runs and
//! how it watches them, parsed into typed, validated values.
//!
//! This crate exists so that every mistake in a manifest is caught before a
//! single process starts, with an error that names the field and the line
//! ([`ConfigError`]). It never starts processes or touches the network, and
//! reads no file but the manifest and the user's hosts inventory
//! (`~/.config/baton/hosts.toml`, see [`HostsFile`]); its errors never
//! contain an `env` value, because those may be secrets.
//!
//! ```
//! use std::path::Path;
//! let text = r#"
//! [[session]]
//! agent = "claude"
//! prompt = "fix the tests"
//! "#;
//! let m = baton_config::Manifest::parse(text, None, Path::new("/repo")).unwrap();
//! assert_eq!(m.sessions[0].id.as_str(), "claude-1");
//! assert_eq!(m.sessions[0].prompt.as_deref(), Some("fix the tests"));
//! ```

#![warn(missing_docs)]

mod accounts;
mod error;
mod hosts;
mod manifest;
mod model;
mod pricing;
mod session;
mod spawn;
mod worktree;

pub use accounts::{ACCOUNT_ID_RULE, AccountMode, AccountSpec, AccountsConfig, Tier};
pub use error::{ConfigError, Invalid};
pub use hosts::{
    DEFAULT_MAX_SESSIONS, DEFAULT_SSH_PORT, HOST_NAME_RULE, HOSTS_FILE_IN_HOME, HostConfig,
    HostsFile, RESERVED_SSH_OPTIONS, valid_host_name,
};
pub use manifest::{Manifest, NotifyHook, STATE_NAMES, SessionFile};
pub use model::{
    AgentConfig, AgentKind, AgentsConfig, AnswerRule, BACKEND_NAME_RULE, Backend, ConductorConfig,
    DEFAULT_MAX_LOG_SIZE, DEFAULT_REMOTE_TIMEOUT, FsyncPolicy, HOST_ANY, HOST_LOCAL, InputWaitRule,
    InvalidBackend, InvalidSessionId, MIN_LOG_SIZE, Multiplexer, OnStall, Pattern, Placement,
    ProbeConfig, RULE_NAME_RULE, SESSION_ID_RULE, SessionId, SessionSpec, StdinMode,
    TAIL_BYTES_RANGE, UnknownVariant, default_stdin, valid_backend_name, valid_rule_name,
};
pub use pricing::{Price, PriceError, Pricing, price_of};
pub use session::{
    SessionError, SessionField, SessionRules, Spans, check_session, is_shell_name, to_table,
};
pub use spawn::{InvalidSpawn, check_spawn};
pub use worktree::{BRANCH_NAME_RULE, BRANCH_PREFIX, WorktreeSpec, valid_branch_name};

#[cfg(test)]
mod tests;
