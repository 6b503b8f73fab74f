//! The tools' inputs and outputs: what their JSON Schemas are made from.
//!
//! Inputs refuse unknown fields, so a lead's typo is an error naming the
//! field rather than a setting silently ignored. Field docs become the
//! schema's descriptions, which the lead reads: keep them short and exact.

use std::collections::BTreeMap;

use baton_proto::{SessionRow, SessionState, WaitKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A session state, as the tools name it. Its variants carry no doc
/// comments on purpose: they would be repeated in every tool schema, and
/// the tool descriptions say what each state means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Init,
    Starting,
    Healthy,
    Stalled,
    InputWait,
    Failed,
    Restarting,
    Dead,
    Completed,
}

impl From<State> for SessionState {
    fn from(s: State) -> SessionState {
        match s {
            State::Init => SessionState::Init,
            State::Starting => SessionState::Starting,
            State::Healthy => SessionState::Healthy,
            State::Stalled => SessionState::Stalled,
            State::InputWait => SessionState::InputWait,
            State::Failed => SessionState::Failed,
            State::Restarting => SessionState::Restarting,
            State::Dead => SessionState::Dead,
            State::Completed => SessionState::Completed,
        }
    }
}

impl From<SessionState> for State {
    fn from(s: SessionState) -> State {
        match s {
            SessionState::Init => State::Init,
            SessionState::Starting => State::Starting,
            SessionState::Healthy => State::Healthy,
            SessionState::Stalled => State::Stalled,
            SessionState::InputWait => State::InputWait,
            SessionState::Failed => State::Failed,
            SessionState::Restarting => State::Restarting,
            SessionState::Dead => State::Dead,
            SessionState::Completed => State::Completed,
        }
    }
}

/// What a session in `input_wait` waits for, when its agent's hooks say
/// (claude on a terminal). Its variants carry no doc comments, as
/// [`State`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Permission,
    Question,
    Idle,
}

impl From<Kind> for WaitKind {
    fn from(k: Kind) -> WaitKind {
        match k {
            Kind::Permission => WaitKind::Permission,
            Kind::Question => WaitKind::Question,
            Kind::Idle => WaitKind::Idle,
        }
    }
}

impl From<WaitKind> for Kind {
    fn from(k: WaitKind) -> Kind {
        match k {
            WaitKind::Permission => Kind::Permission,
            WaitKind::Question => Kind::Question,
            WaitKind::Idle => Kind::Idle,
        }
    }
}

/// What a lead should do about a session in `state`, waiting for `kind`
/// when its hooks said: part of every session the tools return.
pub fn next_step_for(state: SessionState, kind: Option<WaitKind>) -> &'static str {
    match (state, kind) {
        (SessionState::InputWait, Some(WaitKind::Permission)) => {
            "asks leave to use a tool (evidence says which): answer its dialog with send, or kill it"
        }
        (SessionState::InputWait, Some(WaitKind::Idle)) => {
            "finished its turn, ready for the next prompt (evidence: its last line): send the next prompt, read logs, or kill it"
        }
        (state, _) => next_step(state),
    }
}

/// What a lead should do about a session in `state`.
pub fn next_step(state: SessionState) -> &'static str {
    match state {
        SessionState::Init | SessionState::Starting | SessionState::Restarting => {
            "not running yet: wait"
        }
        SessionState::Healthy => "working: wait",
        SessionState::Stalled => {
            "silent but not asking: read logs; wait, or kill it if it is stuck"
        }
        SessionState::InputWait => {
            "asking a question (evidence is the line): answer with send, or kill it"
        }
        SessionState::Failed => "its run ended badly; baton restarts it within max_restarts: wait",
        SessionState::Dead => {
            "ended for good: message and evidence say why; read logs before spawning it again"
        }
        SessionState::Completed => "finished (exit 0): read payload and logs",
    }
}

/// A session as `spawn` and `kill` leave it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Brief {
    /// Session id.
    pub id: String,
    /// Its state now.
    pub state: State,
    /// Why it is in that state.
    pub reason: String,
}

/// `list`: filters.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListIn {
    /// Only sessions in one of these states.
    pub state: Option<Vec<State>>,
    /// Only live sessions tagged with this capability.
    pub capability: Option<String>,
}

/// One row of `list`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Row {
    /// Session id.
    pub id: String,
    /// Agent kind.
    pub agent: String,
    /// `local` or the inventory host.
    pub host: String,
    /// State.
    pub state: State,
    /// Why (e.g. `input_wait:yes_no`, `exit_0`, `crash`).
    pub reason: String,
    /// The evidence: for input_wait the question line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// In input_wait: what it waits for, when its agent's hooks said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_kind: Option<Kind>,
    /// Restarts used.
    pub restarts: u32,
    /// Seconds since it was spawned.
    pub age_s: u64,
    /// Last non-empty output line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_line: Option<String>,
    /// Tokens its agent reported using (input, output and cached), when it reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// What its agent CLI said it cost, in US dollars (claude states it),
    /// or what the `[pricing]` the daemon was given makes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` is (partly) an estimate from `[pricing]`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
}

impl From<&SessionRow> for Row {
    fn from(s: &SessionRow) -> Row {
        Row {
            id: s.id.clone(),
            agent: s.agent.clone(),
            host: s.host.clone(),
            state: s.state.into(),
            reason: s.reason.clone(),
            evidence: s.evidence.clone(),
            wait_kind: s.wait_kind.map(Kind::from),
            restarts: s.restarts,
            age_s: s.age_ms / 1000,
            last_line: s.last_line.clone(),
            tokens: s.usage.map(|u| u.tokens()),
            cost_usd: s.usage.and_then(|u| u.cost_usd),
            cost_estimated: s.usage.is_some_and(|u| u.cost_estimated),
        }
    }
}

/// `list`'s answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListOut {
    /// The sessions that matched, by id.
    pub sessions: Vec<Row>,
    /// How many of them are in each state.
    pub counts: BTreeMap<String, usize>,
    /// Event-log position of this table: `wait` or `events` with `since_seq` continue from it.
    pub seq: u64,
}

/// `status`, `kill`: one session.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdIn {
    /// Session id.
    pub id: String,
}

/// `status`'s answer: everything baton knows of one session.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOut {
    /// Session id.
    pub id: String,
    /// Agent kind.
    pub agent: String,
    /// `local` or the inventory host.
    pub host: String,
    /// `pipes`, `pty` or `tmux`.
    pub backend: String,
    /// State.
    pub state: State,
    /// Why it is in that state.
    pub reason: String,
    /// The evidence of that state: the question line (input_wait), what the run said or how it ended (failed, dead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// In input_wait: what it waits for (permission, question, idle: its turn is over), when its agent's hooks said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_kind: Option<Kind>,
    /// For a session whose agent runs with baton's hooks: reporting, silent (judged by its screen only) or expected (not heard yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<String>,
    /// What the lead should do now.
    pub next: String,
    /// Restarts used.
    pub restarts: u32,
    /// Runs started.
    pub attempt: u32,
    /// Process id of the current run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Seconds since it was spawned.
    pub age_s: u64,
    /// Last non-empty output line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_line: Option<String>,
    /// Bytes of stdout so far (the `logs` length).
    pub out_bytes: u64,
    /// Bytes of stderr so far.
    pub err_bytes: u64,
    /// Exit code of the last run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Signal that ended the last run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<i32>,
    /// The completion payload (the agent's final JSON), once completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Why a dead session died, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Capability tags.
    pub capabilities: Vec<String>,
    /// The provider account it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Its git worktree, when it runs in one: where, on which branch, and what it left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeOut>,
    /// What its agent reported using over all its runs, when it reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
}

/// What a session's agent reported using.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UsageOut {
    /// Input tokens (cache writes included).
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    pub cached_tokens: u64,
    /// What the CLI said it cost, in US dollars, when it says, or what
    /// the daemon's `[pricing]` makes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// True when `cost_usd` is (partly) an estimate from `[pricing]`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cost_estimated: bool,
}

/// A session's git worktree.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorktreeOut {
    /// The worktree's directory.
    pub path: String,
    /// The session's branch: its commits stay there after the worktree is removed.
    pub branch: String,
    /// `live`, `finishing` (just ended), `removed` (was clean; the branch holds the work) or `kept` (see `reason`).
    pub state: String,
    /// Why it was kept (uncommitted changes, untracked files…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Commits on the branch beyond its base, once the session ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u64>,
    /// Files changed on the branch since its base, once the session ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    /// Lines added on the branch since its base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insertions: Option<u64>,
    /// Lines removed on the branch since its base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletions: Option<u64>,
}

impl From<&baton_proto::SessionWorktree> for WorktreeOut {
    fn from(w: &baton_proto::SessionWorktree) -> WorktreeOut {
        let end = w.end.as_ref();
        WorktreeOut {
            path: w.path.clone(),
            branch: w.branch.clone(),
            state: w.state.clone(),
            reason: w.reason.clone(),
            ahead: end.map(|e| e.ahead),
            files: end.map(|e| e.files),
            insertions: end.map(|e| e.insertions),
            deletions: end.map(|e| e.deletions),
        }
    }
}

impl From<&SessionRow> for StatusOut {
    fn from(s: &SessionRow) -> StatusOut {
        StatusOut {
            id: s.id.clone(),
            agent: s.agent.clone(),
            host: s.host.clone(),
            backend: s.backend.clone(),
            state: s.state.into(),
            reason: s.reason.clone(),
            evidence: s.evidence.clone(),
            wait_kind: s.wait_kind.map(Kind::from),
            hooks: s.hooks.map(|h| h.as_str().to_owned()),
            next: next_step_for(s.state, s.wait_kind).to_owned(),
            restarts: s.restarts,
            attempt: s.attempt,
            pid: s.pid,
            age_s: s.age_ms / 1000,
            last_line: s.last_line.clone(),
            out_bytes: s.out_bytes,
            err_bytes: s.err_bytes,
            exit_code: s.exit_code,
            exit_signal: s.exit_signal,
            payload: s.payload.clone(),
            message: s.message.clone(),
            capabilities: s.capabilities.clone(),
            account: s.account.clone(),
            worktree: s.worktree.as_ref().map(WorktreeOut::from),
            usage: s.usage.map(|u| UsageOut {
                input_tokens: u.input_tokens,
                output_tokens: u.output_tokens,
                cached_tokens: u.cached_tokens,
                cost_usd: u.cost_usd,
                cost_estimated: u.cost_estimated,
            }),
        }
    }
}

/// Which output stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output.
    #[default]
    Stdout,
    /// Standard error.
    Stderr,
}

/// `logs`: where to read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsIn {
    /// Session id.
    pub id: String,
    /// `stdout` (default) or `stderr`.
    pub stream: Option<Stream>,
    /// Byte offset to read from (0 = the beginning; pass the last `next_offset` to page on).
    pub offset: Option<u64>,
    /// Instead of `offset`: the last N bytes.
    pub tail_bytes: Option<u64>,
    /// At most this many bytes (default 32768, at most 1048576).
    pub max_bytes: Option<u64>,
}

/// `logs`' answer: one page of output.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogsOut {
    /// Session id.
    pub id: String,
    /// Which stream.
    pub stream: Stream,
    /// Byte offset of the first byte returned.
    pub offset: u64,
    /// Offset to ask for next: nothing between is skipped.
    pub next_offset: u64,
    /// Length of the log when it was read.
    pub log_len: u64,
    /// Bytes before `offset` that were asked for but are gone: the log
    /// segments that held them were deleted (`keep_segments`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_bytes: Option<u64>,
    /// True when bytes after `next_offset` were already there.
    pub more: bool,
    /// The bytes, when they are UTF-8 (a character cut by the page end is left for the next page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The bytes in standard base64, when they are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

/// `send`: an answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendIn {
    /// Session id.
    pub id: String,
    /// One line (Enter is added); never logged.
    pub text: String,
    /// Send even if the session is not in input_wait.
    pub force: Option<bool>,
    /// Seconds to watch for the session to resume output (default 3, at most 60).
    pub confirm_s: Option<f64>,
}

/// `send`'s receipt.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SendOut {
    /// Session id.
    pub id: String,
    /// Sequence number of the `input` record in the event log: the proof of delivery.
    pub seq: u64,
    /// True if the session produced output or left input_wait after the input, within `confirm_s`.
    pub resumed: bool,
    /// For a session whose agent's hooks report (claude on a terminal): whether they said its turn began (a prompt submitted, a tool run) within `confirm_s` — false means the text may sit in its input unsubmitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_started: Option<bool>,
    /// Its state after that.
    pub state: State,
    /// Why.
    pub reason: String,
}

/// `wait`: what to wait for.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitIn {
    /// Sessions to watch (default: all, also ones spawned meanwhile).
    pub ids: Option<Vec<String>>,
    /// States to wait for (default: input_wait, completed, dead).
    pub until: Option<Vec<State>>,
    /// Only an input_wait for one of these counts (permission, question, idle: its turn is over), as the agent's hooks say; a wait of another kind, or one seen on the screen only, does not (default: any input_wait).
    pub kinds: Option<Vec<Kind>>,
    /// Give up after this many seconds (default 45, at most 3600).
    pub timeout_s: Option<f64>,
    /// Only changes after this event-log seq (the `seq` of an earlier result); without it, a session already in an `until` state answers at once.
    pub since_seq: Option<u64>,
}

/// `wait`'s answer.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct WaitOut {
    /// True if a session reached an `until` state.
    pub matched: bool,
    /// True if `timeout_s` passed first.
    pub timed_out: bool,
    /// The session that matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The evidence: the question line (input_wait), how it ended (dead).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// In input_wait: what it waits for, when its agent's hooks said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_kind: Option<Kind>,
    /// Completion payload, for completed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// Why a dead session died.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the lead should do now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Pass as `since_seq` to wait for the next change.
    pub seq: u64,
    /// Why nothing matched, when that is not a timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `events`: which records.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventsIn {
    /// Only records after this seq (default: from the first).
    pub since_seq: Option<u64>,
    /// Only records about this session.
    pub session: Option<String>,
    /// Only these kinds (e.g. `state`, `input_wait`, `input`, `exit`, `completed`, `dead`, `spawn`, `request`).
    pub kinds: Option<Vec<String>>,
    /// At most this many records (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// `events`' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventsOut {
    /// The records, as in the event log (`seq`, `ts`, `session`, `event` and its fields).
    #[schemars(with = "Vec<serde_json::Map<String, serde_json::Value>>")]
    pub events: Vec<serde_json::Value>,
    /// Pass as `since_seq` for the next page.
    pub next_seq: u64,
    /// True if the limit cut the answer short.
    pub more: bool,
}

/// `accounts`' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountsOut {
    /// The broker's state, as `baton accounts --json` prints it: per account busy, cooldown, circuit; next free per provider.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub status: serde_json::Value,
}

/// No input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_maps_both_ways_with_its_wire_name() {
        for state in SessionState::ALL {
            let ours = State::from(state);
            assert_eq!(SessionState::from(ours), state);
            assert_eq!(
                serde_json::to_value(ours).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }

    #[test]
    fn the_enums_in_the_schema_are_the_config_values() {
        // As the tool advertises it: enums inline, no `null` unions.
        let schema = serde_json::Value::Object(
            (*crate::mcp::schema::lean_input_schema::<baton_proto::SpawnSpec>()).clone(),
        );
        let listed = |field: &str| -> Vec<String> {
            serde_json::from_value(schema["properties"][field]["enum"].clone())
                .unwrap_or_else(|e| panic!("{field}: {e}"))
        };
        let names = |all: &[&str]| all.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let agents: Vec<&str> = baton_config::AgentKind::ALL
            .iter()
            .map(|a| a.as_str())
            .collect();
        assert_eq!(listed("agent"), names(&agents));
        let backends: Vec<&str> = baton_config::Backend::BUILT_IN
            .iter()
            .map(|b| b.as_str())
            .collect();
        assert_eq!(listed("backend"), names(&backends));
        let policies: Vec<&str> = baton_config::OnStall::ALL
            .iter()
            .map(|p| p.as_str())
            .collect();
        assert_eq!(listed("on_stall"), names(&policies));
    }
}
