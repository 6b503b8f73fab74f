//! The event log's record: the shape of every line of `events.jsonl`, of
//! `baton events` and of the daemon's event stream. The log format is
//! documented in docs/event-log.md; writing and reading it is the engine's
//! business (`baton_core::eventlog`).

use serde::{Deserialize, Serialize};

use crate::SessionState;

/// Name of the format, stated in the first line of every log file.
pub const FORMAT_NAME: &str = "baton-events";
/// Major version: readers refuse a newer major, writers refuse to append to one.
pub const FORMAT_MAJOR: u32 = 1;
/// Minor version: readers accept newer minors and skip fields they do not know.
/// 1.1 added `spawn.agent`; 1.2 `spawn.shim`, `spawn.tmux.marker`, an optional `recovered.pid`;
/// 1.3 the `request` event; 1.4 the `worktree`, `worktree_removed` and `worktree_kept` events;
/// 1.5 `completed.usage`; 1.6 the `turn_started`, `turn_ended`, `tool` and `agent_error` events;
/// 1.7 `input_wait.kind` and the `hooks` event; 1.8 segments (`first_seq` in the header).
pub const FORMAT_MINOR: u32 = 8;

/// The first line of a log file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// `MAJOR.MINOR`.
    pub version: String,
    /// When the file was created (RFC 3339, UTC).
    pub created: String,
    /// The `seq` of the first record of a segment the log rolled over into
    /// (`events.jsonl.<first_seq>`); absent in a log that never rolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
}

impl Header {
    /// Parses `version` into (major, minor).
    pub fn version_parts(&self) -> Option<(u32, u32)> {
        let (major, minor) = self.version.split_once('.')?;
        Some((major.parse().ok()?, minor.parse().ok()?))
    }
}

/// One line of the log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// Strictly increasing, never reused, also across conductor restarts.
    pub seq: u64,
    /// RFC 3339, UTC, microseconds.
    pub ts: String,
    /// The session the event is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// Everything the log can say. Tagged by the `event` field.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A conductor opened the log.
    ConductorStart {
        /// baton version.
        version: String,
        /// The conductor's pid.
        pid: u32,
        /// Durability policy in force.
        fsync: String,
    },
    /// A process was started for a session.
    Spawn {
        /// Agent kind (`codex`, `gemini`, `claude`, `command`); absent in 1.0 logs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        /// Restart number of this run (0 for the first).
        restart: u32,
        /// Attempt number, counting every run of the session from 1.
        attempt: u32,
        /// Leader pid (also the process group id).
        pid: u32,
        /// Start time of the leader in clock ticks since boot, to verify identity later.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        start_time: Option<u64>,
        /// The exact argv executed (no shell).
        argv: Vec<String>,
        /// Working directory.
        workdir: String,
        /// Names of the environment variables baton set (never their values).
        env_keys: Vec<String>,
        /// Byte offset in `<id>.out.log` where this run's stdout begins.
        out_offset: u64,
        /// Byte offset in `<id>.err.log` where this run's stderr begins.
        err_offset: u64,
        /// For `backend = "tmux"`: the private server (`tmux -L`) and session name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tmux: Option<TmuxTarget>,
        /// The leader is `baton-shim` (daemon pipes runs): the agent writes
        /// straight to the logs and the run outlives the conductor.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        shim: bool,
        /// The inventory host of a remote run (its `pid` is the pane's
        /// process on that host).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// The session's backend: `pipes`, `pty` or `tmux` (since 1.4).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backend: Option<String>,
        /// The session's capability tags (since 1.4).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        capabilities: Vec<String>,
    },
    /// A session could not be started; retrying cannot help.
    SpawnError {
        /// What is missing: `binary`, `workdir`, `branch_guard`, …
        missing: String,
        /// Human-readable explanation.
        message: String,
    },
    /// The session's leader process exited.
    Exit {
        /// Exit code, if it exited.
        code: Option<i32>,
        /// Signal number, if a signal ended it.
        signal: Option<i32>,
        /// How long the run lasted.
        runtime_ms: u64,
    },
    /// A state transition that was applied.
    State {
        /// Previous state.
        from: SessionState,
        /// New state.
        to: SessionState,
        /// Why.
        reason: String,
        /// Restart count after the transition.
        restarts: u32,
        /// For `restarting`: the delay before the next start.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
        /// Evidence for the decision (e.g. the rate-limit line).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<String>,
    },
    /// A transition the table refuses; nothing was changed.
    InvalidTransition {
        /// Current state.
        from: SessionState,
        /// Requested state.
        to: SessionState,
        /// Why it was requested.
        reason: String,
    },
    /// Periodic or on-demand health record.
    Health {
        /// Current state.
        state: SessionState,
        /// Bytes of stdout so far (all runs).
        out_bytes: u64,
        /// Bytes of stderr so far (all runs).
        err_bytes: u64,
        /// Milliseconds since the last output byte.
        silent_ms: u64,
        /// Result of the L2 check, when it ran.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        l2: Option<String>,
    },
    /// The session looks like it waits for an answer.
    InputWait {
        /// Name of the rule that matched (`hook:EVENT` when the CLI's hook
        /// said so).
        rule: String,
        /// The line it matched (for a hook: what it waits on, secret-free).
        line: String,
        /// What it waits for, when its CLI's hooks said (since 1.7): a
        /// second `input_wait` of another kind may follow while the session
        /// stays in `input_wait`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<crate::WaitKind>,
    },
    /// Whether the session's CLI reports through the hooks baton installed
    /// for its run (since 1.7): `silent` once a run should have and has
    /// not (its state is then judged from its screen only).
    Hooks {
        /// `reporting` or `silent`.
        state: crate::HooksState,
        /// Why, for a person.
        message: String,
    },
    /// Bytes were written to the session's input. The text itself is not logged.
    Input {
        /// Number of bytes.
        len: usize,
        /// SHA-256 of the bytes, hex.
        sha256: String,
        /// Who sent it: `user`, `auto_answer`, …
        source: String,
    },
    /// The agent CLI began a turn (headless: its run's one turn), as its
    /// structured output said (since 1.6).
    TurnStarted,
    /// The agent CLI ended a turn (since 1.6).
    TurnEnded {
        /// What the turn used, when the CLI said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<crate::Usage>,
        /// Why the turn failed, in the CLI's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The agent CLI called a tool: its name only, never its input (since 1.6).
    Tool {
        /// The tool, as the CLI names it (`Bash`, `command`, `server.tool`).
        name: String,
    },
    /// The agent CLI reported an error while running (since 1.6).
    AgentError {
        /// Its words.
        message: String,
        /// Whether it said it retries on its own (an API retry, a reconnect).
        retrying: bool,
    },
    /// A signal was sent to the session's process group.
    Kill {
        /// The signal.
        signal: String,
        /// Why.
        reason: String,
    },
    /// The session completed.
    Completed {
        /// The completion payload, if the agent produced one.
        payload: Option<serde_json::Value>,
        /// What the agent CLI reported the session used (since 1.5).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<crate::Usage>,
    },
    /// The session is dead and will not run again.
    Dead {
        /// Why.
        reason: String,
        /// Restarts used.
        restarts: u32,
        /// Explanation for the user (e.g. what is missing).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// The session's restart budget was given back after a stable run.
    BudgetReset {
        /// Restart count before the reset.
        restarts: u32,
    },
    /// An account was leased for the session's next run.
    Lease {
        /// Account id.
        account: String,
        /// Provider (codex, gemini, claude).
        provider: String,
        /// The account's tier.
        tier: String,
        /// A half-open circuit's single trial lease.
        trial: bool,
    },
    /// The best tier had no free account; a worse tier was leased.
    TierFallback {
        /// Account id leased instead.
        account: String,
        /// Its tier.
        tier: String,
    },
    /// A lease was given back.
    Release {
        /// Account id.
        account: String,
        /// `success`, `rate_limited`, `failure`, `infrastructure`, `neutral`, or `expired`.
        outcome: String,
    },
    /// An account cools down after a rate limit.
    Cooldown {
        /// Account id.
        account: String,
        /// Until when (RFC 3339).
        until: String,
        /// Seconds from now.
        seconds: u64,
    },
    /// An account's circuit breaker changed state.
    Circuit {
        /// Account id.
        account: String,
        /// Previous state.
        from: String,
        /// New state.
        to: String,
    },
    /// No account was free; the session waits.
    NoLease {
        /// Provider.
        provider: String,
        /// When one should be free (RFC 3339), if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eta: Option<String>,
    },
    /// Something was refused for security reasons (e.g. an auth file outside the auth dir).
    Security {
        /// The account concerned.
        account: String,
        /// The offending path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// A run started by an earlier conductor was found again and taken over.
    Recovered {
        /// The run's process (absent when the session had none running).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        /// `readopted` (its run goes on), `exited` (its run ended while no
        /// conductor watched; its status is known), `restarted` (its run
        /// lived inside the stopped conductor: leftovers ended, restarted per
        /// policy), `resumed` (it had no run: it goes on from its state).
        outcome: String,
    },
    /// A client asked the daemon to act on a session (`spawn`, `send`,
    /// `kill`), recorded before it is carried out. Never holds the text
    /// sent or the spec's prompt and env.
    Request {
        /// The verb: `spawn`, `send` or `kill`.
        verb: String,
        /// Which client: `cli` (a `baton` verb) or `mcp` (`baton mcp`).
        via: String,
    },
    /// The session's git worktree is ready for its runs: made for it
    /// (`created`) or found again (a restart of its conductor, a session
    /// spawned again). Precedes the `spawn` record of the run that uses it.
    Worktree {
        /// The worktree's directory (where the agent's workdir is).
        path: String,
        /// The top level of the user's checkout it was made from.
        repo: String,
        /// The branch checked out in it.
        branch: String,
        /// The base as given (`HEAD` unless the session named one).
        base: String,
        /// The commit the branch started from.
        base_commit: String,
        /// Made now (false: found again).
        created: bool,
        /// Untracked paths copied in from the checkout (`worktree.copy`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        copied: Vec<String>,
    },
    /// The session ended and its worktree held nothing uncommitted: it was
    /// removed (`git worktree remove`); its branch, with every commit, is kept.
    WorktreeRemoved {
        /// What the session left.
        #[serde(flatten)]
        summary: WorktreeSummary,
    },
    /// The session ended and its worktree was kept as it is (never reset).
    WorktreeKept {
        /// What the session left.
        #[serde(flatten)]
        summary: WorktreeSummary,
        /// Why it was kept: uncommitted changes, untracked files, a detached
        /// HEAD, or git refusing to remove it.
        reason: String,
    },
    /// The conductor is shutting down.
    Shutdown {
        /// Why: `request`, `signal`, …
        reason: String,
        /// Live sessions being stopped.
        sessions: usize,
    },
}

impl Event {
    /// Every `event` tag this version writes, in the order of [`Event::name`].
    pub const NAMES: &'static [&'static str] = &[
        "conductor_start",
        "spawn",
        "spawn_error",
        "exit",
        "state",
        "invalid_transition",
        "health",
        "input_wait",
        "input",
        "turn_started",
        "turn_ended",
        "tool",
        "agent_error",
        "kill",
        "completed",
        "dead",
        "budget_reset",
        "lease",
        "tier_fallback",
        "release",
        "cooldown",
        "circuit",
        "no_lease",
        "security",
        "recovered",
        "request",
        "worktree",
        "worktree_removed",
        "worktree_kept",
        "shutdown",
    ];

    /// The `event` tag as written in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Event::ConductorStart { .. } => "conductor_start",
            Event::Spawn { .. } => "spawn",
            Event::SpawnError { .. } => "spawn_error",
            Event::Exit { .. } => "exit",
            Event::State { .. } => "state",
            Event::InvalidTransition { .. } => "invalid_transition",
            Event::Health { .. } => "health",
            Event::InputWait { .. } => "input_wait",
            Event::Hooks { .. } => "hooks",
            Event::Input { .. } => "input",
            Event::TurnStarted => "turn_started",
            Event::TurnEnded { .. } => "turn_ended",
            Event::Tool { .. } => "tool",
            Event::AgentError { .. } => "agent_error",
            Event::Kill { .. } => "kill",
            Event::Completed { .. } => "completed",
            Event::Dead { .. } => "dead",
            Event::BudgetReset { .. } => "budget_reset",
            Event::Lease { .. } => "lease",
            Event::TierFallback { .. } => "tier_fallback",
            Event::Release { .. } => "release",
            Event::Cooldown { .. } => "cooldown",
            Event::Circuit { .. } => "circuit",
            Event::NoLease { .. } => "no_lease",
            Event::Security { .. } => "security",
            Event::Recovered { .. } => "recovered",
            Event::Request { .. } => "request",
            Event::Worktree { .. } => "worktree",
            Event::WorktreeRemoved { .. } => "worktree_removed",
            Event::WorktreeKept { .. } => "worktree_kept",
            Event::Shutdown { .. } => "shutdown",
        }
    }

    /// True for events after which a batch is committed at once (`fsync = "batch"`).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Event::State {
                to: SessionState::Dead | SessionState::Completed,
                ..
            } | Event::Completed { .. }
                | Event::Dead { .. }
                | Event::Shutdown { .. }
        )
    }
}

/// What a session left in its worktree when it ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct WorktreeSummary {
    /// The worktree's directory.
    pub path: String,
    /// The session's branch.
    pub branch: String,
    /// The commit the branch started from.
    pub base_commit: String,
    /// The commit checked out at the end (absent when the directory is gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// Commits on `head` that `base_commit` does not have.
    pub ahead: u64,
    /// Files changed between `base_commit` and `head`.
    pub files: u64,
    /// Lines added between `base_commit` and `head`.
    pub insertions: u64,
    /// Lines removed between `base_commit` and `head`.
    pub deletions: u64,
    /// Tracked files changed and not committed.
    #[serde(default)]
    pub uncommitted: u64,
    /// Untracked files (not ignored, not baton's own copies).
    #[serde(default)]
    pub untracked: u64,
}

/// Where a tmux-backed run lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TmuxTarget {
    /// The `-L` name of baton's private tmux server.
    pub server: String,
    /// The tmux session name.
    pub session: String,
    /// Token of the end-of-run marker the pane's `baton-shim` writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}
