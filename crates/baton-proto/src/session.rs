//! The session as clients see it: its state (with the one transition
//! table every state change in baton goes through) and the row `ps`
//! answers with.

use serde::{Deserialize, Serialize};

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Registered, not started (e.g. waiting for an account).
    Init,
    /// Process started, no output yet.
    Starting,
    /// Producing output.
    Healthy,
    /// Silent for `stall_after` without looking like a question.
    Stalled,
    /// Silent and the last lines look like a question.
    InputWait,
    /// The run ended badly; a restart or death follows.
    Failed,
    /// Waiting out the backoff before the next start.
    Restarting,
    /// Terminal: will not run again.
    Dead,
    /// Terminal: exited 0.
    Completed,
}

impl SessionState {
    /// All states, in table order.
    pub const ALL: [SessionState; 9] = [
        SessionState::Init,
        SessionState::Starting,
        SessionState::Healthy,
        SessionState::Stalled,
        SessionState::InputWait,
        SessionState::Failed,
        SessionState::Restarting,
        SessionState::Dead,
        SessionState::Completed,
    ];

    /// The one transition table: whether a session in `self` may go to `to`.
    pub fn can_go_to(self, to: SessionState) -> bool {
        use SessionState::*;
        matches!(
            (self, to),
            (Init, Starting)
                | (Starting, Healthy | Failed | Completed)
                | (Healthy, Stalled | InputWait | Failed | Completed)
                | (Stalled, Healthy | Failed | Completed)
                | (InputWait, Healthy | Failed | Completed)
                | (Failed, Restarting | Dead)
                | (Restarting, Starting)
        )
    }

    /// `dead` or `completed`.
    pub fn is_terminal(self) -> bool {
        matches!(self, SessionState::Dead | SessionState::Completed)
    }

    /// States in which a process is (supposed to be) running.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            SessionState::Starting
                | SessionState::Healthy
                | SessionState::Stalled
                | SessionState::InputWait
        )
    }

    /// The name used in logs and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Init => "init",
            SessionState::Starting => "starting",
            SessionState::Healthy => "healthy",
            SessionState::Stalled => "stalled",
            SessionState::InputWait => "input_wait",
            SessionState::Failed => "failed",
            SessionState::Restarting => "restarting",
            SessionState::Dead => "dead",
            SessionState::Completed => "completed",
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session as seen from outside, consistent with the event log: one row
/// of `baton ps`.
///
/// Fields added after protocol 1.0 must carry `#[serde(default)]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRow {
    /// Session id.
    pub id: String,
    /// Agent kind.
    pub agent: String,
    /// Where it runs: `local` or the inventory host.
    pub host: String,
    /// Current state.
    pub state: SessionState,
    /// Reason of the last transition.
    pub reason: String,
    /// Restarts used in the current budget.
    pub restarts: u32,
    /// Runs started so far.
    pub attempt: u32,
    /// Leader pid of the current run.
    pub pid: Option<u32>,
    /// Milliseconds since the session was registered.
    pub age_ms: u64,
    /// Last non-empty output line (ANSI stripped).
    pub last_line: Option<String>,
    /// Bytes of stdout over all runs.
    pub out_bytes: u64,
    /// Bytes of stderr over all runs.
    pub err_bytes: u64,
    /// Exit code of the last run.
    pub exit_code: Option<i32>,
    /// Signal that ended the last run.
    pub exit_signal: Option<i32>,
    /// Completion payload, once completed.
    pub payload: Option<serde_json::Value>,
    /// Explanation for a dead session (e.g. what is missing).
    pub message: Option<String>,
    /// Capability tags from the spec.
    pub capabilities: Vec<String>,
    /// The leased account, while the session holds one.
    pub account: Option<String>,
    /// Where its process runs: `pipes`, `pty` or `tmux` (1.1; empty from a
    /// 1.0 daemon).
    #[serde(default)]
    pub backend: String,
    /// The evidence of the last transition, as in its `state` record: for
    /// `input_wait` the question line, for `failed` / `dead` what the run
    /// said or how it ended (1.1).
    #[serde(default)]
    pub evidence: Option<String>,
    /// The session's git worktree, when it runs in one (1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worktree: Option<SessionWorktree>,
}

/// A session's git worktree as `ps` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWorktree {
    /// The worktree's directory.
    pub path: String,
    /// Its branch.
    pub branch: String,
    /// `live` (its session may run in it), `finishing` (the session ended;
    /// being looked at), `removed` (held nothing uncommitted: removed, the
    /// branch holds the work) or `kept` (as the agent left it; see `reason`).
    pub state: String,
    /// Why it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the session left in it, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<crate::record::WorktreeSummary>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionState::*;

    #[test]
    fn states_are_named_on_the_wire_as_as_str_says() {
        for state in SessionState::ALL {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }

    #[test]
    fn transition_table_matches_spec() {
        let allowed: &[(SessionState, &[SessionState])] = &[
            (Init, &[Starting]),
            (Starting, &[Healthy, Failed, Completed]),
            (Healthy, &[Stalled, InputWait, Failed, Completed]),
            (Stalled, &[Healthy, Failed, Completed]),
            (InputWait, &[Healthy, Failed, Completed]),
            (Failed, &[Restarting, Dead]),
            (Restarting, &[Starting]),
            (Dead, &[]),
            (Completed, &[]),
        ];
        for (from, tos) in allowed {
            for to in SessionState::ALL {
                assert_eq!(
                    from.can_go_to(to),
                    tos.contains(&to),
                    "{from} -> {to} should be {}",
                    tos.contains(&to)
                );
            }
        }
    }
}
