//! Failure classes, what a failed start was missing, and backoff. The
//! session states and their one transition table are part of the wire
//! ([`baton_proto::SessionState`]); every state change in baton goes through
//! [`SessionState::can_go_to`], and a change the table refuses is never
//! applied.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use baton_proto::SessionState;

/// Why a run failed; the class decides what happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Non-zero exit or a signal.
    Crash,
    /// No output within `startup_timeout`.
    StartupTimeout,
    /// The output says the provider rate-limited or ran out of quota.
    RateLimited,
    /// Binary or workdir missing, branch guard: retrying cannot help.
    SpawnError,
    /// Stalled for `stall_restart_after` with `on_stall = "restart"`.
    Stalled,
    /// The L2 check failed `l2_failures` times in a row.
    ToolsUnavailable,
    /// A user asked to kill the session.
    UserKill,
    /// The conductor is shutting down.
    Shutdown,
    /// The agent CLI said it cannot authenticate (not logged in, an expired
    /// token, a missing key): no restart can help until a person logs in.
    AuthRequired,
    /// The agent CLI refused to run headless in a folder it does not trust.
    UntrustedFolder,
    /// The agent CLI said it cannot reach its provider and waits for the
    /// network. Waited for like an unreachable host: restarted after
    /// `host_retry`, without using the restart budget.
    Network,
    /// The session's remote host stopped answering for `remote_timeout`.
    /// Waits for the host (without using the restart budget) and re-adopts
    /// the tmux session if it survived.
    RemoteUnreachable,
}

impl From<baton_agents::EndClass> for FailureClass {
    fn from(class: baton_agents::EndClass) -> FailureClass {
        match class {
            baton_agents::EndClass::AuthRequired => FailureClass::AuthRequired,
            baton_agents::EndClass::UntrustedFolder => FailureClass::UntrustedFolder,
            // A CLI that refuses baton's flags cannot run the session at all.
            baton_agents::EndClass::UnknownFlag => FailureClass::SpawnError,
            baton_agents::EndClass::Network => FailureClass::Network,
        }
    }
}

impl FailureClass {
    /// Whether a failure of this class may be retried.
    pub fn restartable(self) -> bool {
        !matches!(
            self,
            FailureClass::SpawnError
                | FailureClass::UserKill
                | FailureClass::Shutdown
                | FailureClass::AuthRequired
                | FailureClass::UntrustedFolder
        )
    }

    /// The name used as a state reason.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Crash => "crash",
            FailureClass::AuthRequired => "auth_required",
            FailureClass::UntrustedFolder => "untrusted_folder",
            FailureClass::Network => "network",
            FailureClass::StartupTimeout => "startup_timeout",
            FailureClass::RateLimited => "rate_limited",
            FailureClass::SpawnError => "spawn_error",
            FailureClass::Stalled => "stalled",
            FailureClass::ToolsUnavailable => "tools_unavailable",
            FailureClass::UserKill => "user_kill",
            FailureClass::Shutdown => "shutdown",
            FailureClass::RemoteUnreachable => "remote_unreachable",
        }
    }
}

/// What kept a run from starting: the `missing` of a `spawn_error` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Missing {
    /// The agent's program is not on PATH (or the host's login PATH).
    Binary,
    /// The program exists but may not be executed.
    Permission,
    /// The workdir does not exist or is not a directory.
    Workdir,
    /// The argv was empty.
    Command,
    /// The kernel refused the spawn for another reason.
    Os,
    /// `branch_guard` refused a workdir on `main`/`master`.
    BranchGuard,
    /// The session's log files could not be opened.
    LogsDir,
    /// `baton-shim` was not found next to `baton` or on PATH.
    BatonShim,
    /// tmux is missing, refused the session, or holds one that is not ours.
    Tmux,
    /// ssh refused the key or the host key changed.
    Ssh,
    /// The session's remote host is not usable.
    Host,
    /// The account broker could not lease an account.
    Account,
    /// codex's own configuration lacks the profile or MCP server the
    /// session names, or holds what codex refuses.
    CodexConfig,
    /// The session's git worktree could not be made ready (no repository,
    /// a base that does not resolve, a branch checked out elsewhere, a
    /// lock, a failed setup command).
    Worktree,
    /// The session names a backend this conductor has not registered (a
    /// recorded run of a backend the embedding program no longer has).
    Backend,
}

impl Missing {
    /// The name in the `spawn_error` record.
    pub fn as_str(self) -> &'static str {
        match self {
            Missing::Binary => "binary",
            Missing::Permission => "permission",
            Missing::Workdir => "workdir",
            Missing::Command => "command",
            Missing::Os => "os",
            Missing::BranchGuard => "branch_guard",
            Missing::LogsDir => "logs_dir",
            Missing::BatonShim => "baton-shim",
            Missing::Tmux => "tmux",
            Missing::Ssh => "ssh",
            Missing::Host => "host",
            Missing::Account => "account",
            Missing::CodexConfig => "codex_config",
            Missing::Worktree => "worktree",
            Missing::Backend => "backend",
        }
    }
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Delay before restart number `n` (1-based): `min(base × 2^(n-1), max)`,
/// plus up to 10 % jitter taken from `jitter_unit` in `[0, 1)`.
pub fn backoff_delay(n: u32, base: Duration, max: Duration, jitter_unit: f64) -> Duration {
    let exp = n.saturating_sub(1).min(32);
    let raw = base.saturating_mul(1u32 << exp.min(31));
    let capped = raw.min(max);
    let jitter = capped.mul_f64(0.1 * jitter_unit.clamp(0.0, 1.0));
    capped + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs;
        let cases = [
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 30),
            (7, 30),
            (40, 30),
        ];
        for (n, want) in cases {
            assert_eq!(backoff_delay(n, s(1), s(30), 0.0), s(want), "restart {n}");
        }
        let jittered = backoff_delay(3, s(1), s(30), 0.999);
        assert!(jittered > s(4) && jittered < Duration::from_millis(4400));
    }

    #[test]
    fn only_infrastructure_and_user_failures_are_final() {
        assert!(FailureClass::Crash.restartable());
        assert!(FailureClass::RateLimited.restartable());
        assert!(FailureClass::StartupTimeout.restartable());
        assert!(!FailureClass::SpawnError.restartable());
        assert!(!FailureClass::UserKill.restartable());
        assert!(!FailureClass::Shutdown.restartable());
    }
}
