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
    /// What its agent CLI reported using over all its runs, when it
    /// reports it (1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// In `input_wait`: what it waits for, when its CLI's hooks said (1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_kind: Option<WaitKind>,
    /// Whether its CLI reports through baton's hooks, for a session whose
    /// run has them (1.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<HooksState>,
}

impl SessionRow {
    /// Its state as a table shows it: `wait:permission`, `wait:question`,
    /// `wait:idle` when its hooks said what it waits for, else the state.
    pub fn state_text(&self) -> std::borrow::Cow<'static, str> {
        match (self.state, self.wait_kind) {
            (SessionState::InputWait, Some(kind)) => format!("wait:{kind}").into(),
            (state, _) => state.as_str().into(),
        }
    }
}

/// What a session in `input_wait` waits for, as its CLI's hooks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// It asks leave to use a tool.
    Permission,
    /// It asks a question (a choice, a plan to approve, a form).
    Question,
    /// Its turn is over: it waits for the next prompt.
    Idle,
}

impl WaitKind {
    /// The name on the wire and in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Permission => "permission",
            WaitKind::Question => "question",
            WaitKind::Idle => "idle",
        }
    }
}

impl std::fmt::Display for WaitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a session's CLI reports through the hooks baton installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HooksState {
    /// Installed; nothing heard yet this run.
    Expected,
    /// Its hooks report.
    Reporting,
    /// It should have reported by now and has not: judged by its screen.
    Silent,
}

impl HooksState {
    /// The name on the wire and in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HooksState::Expected => "expected",
            HooksState::Reporting => "reporting",
            HooksState::Silent => "silent",
        }
    }
}

/// What an agent CLI reported a session used: tokens, and the cost in US
/// dollars when the CLI states one (claude does) or, flagged as such, as
/// estimated from the prices a user gave (`[pricing]`; baton ships none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens, cache writes included.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// What the CLI said it cost, or what `[pricing]` says it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The cost (or part of it) is baton's estimate from `[pricing]`, not
    /// the CLI's word.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
}

impl std::fmt::Display for Usage {
    /// `1.5k in, 340 out, 5k cached tokens, $0.0425`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in, {} out",
            count(self.input_tokens),
            count(self.output_tokens)
        )?;
        if self.cached_tokens > 0 {
            write!(f, ", {} cached", count(self.cached_tokens))?;
        }
        f.write_str(" tokens")?;
        if let Some(cost) = self.cost_text() {
            write!(f, ", {cost}")?;
        }
        Ok(())
    }
}

/// A token count as a person reads it: `340`, `1.5k`, `12k`, `3.4M`.
fn count(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..10_000 => format!("{:.1}k", n as f64 / 1e3),
        10_000..1_000_000 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A cost in US dollars as a person reads it: `$0.0425`, `$1.27`.
fn dollars(cost: f64) -> String {
    if cost < 1.0 {
        format!("${cost:.4}")
    } else {
        format!("${cost:.2}")
    }
}

impl Usage {
    /// All its tokens as a person reads them: `6.8k`.
    pub fn tokens_text(&self) -> String {
        count(self.tokens())
    }

    /// Its cost as a person reads it (`$0.0425`; an estimate `~$0.0425`),
    /// when known.
    pub fn cost_text(&self) -> Option<String> {
        let tilde = if self.cost_estimated { "~" } else { "" };
        self.cost_usd.map(|c| format!("{tilde}{}", dollars(c)))
    }

    /// Input, output and cached tokens together.
    pub fn tokens(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cached_tokens)
    }

    /// `self` and then `more`: tokens add up; a cost is known once one run
    /// states it.
    pub fn plus(self, more: Usage) -> Usage {
        Usage {
            input_tokens: self.input_tokens.saturating_add(more.input_tokens),
            output_tokens: self.output_tokens.saturating_add(more.output_tokens),
            cached_tokens: self.cached_tokens.saturating_add(more.cached_tokens),
            cost_usd: match (self.cost_usd, more.cost_usd) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            },
            cost_estimated: self.cost_estimated || more.cost_estimated,
        }
    }
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
