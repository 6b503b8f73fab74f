//! The validated, public shape of a manifest.
//!
//! Values of these types that come out of [`crate::Manifest::parse`] have
//! passed every check of the manifest; code that builds them by hand (tests, the
//! MCP `spawn` verb) gets the same defaults through `Default` and
//! [`SessionSpec::command`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::worktree::WorktreeSpec;

/// Serde helpers that write durations as humantime strings (`"30s"`, `"1h 30m"`).
pub(crate) mod humantime_ser {
    use std::time::Duration;

    use serde::Serializer;

    /// Writes `d` as a humantime string such as `"30s"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    /// Writes `Some(d)` as a humantime string and `None` as nothing.
    pub mod option {
        use std::time::Duration;

        use serde::Serializer;

        /// Writes `Some(d)` as a humantime string and `None` as a unit value.
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.collect_str(&humantime::format_duration(*d)),
                None => s.serialize_none(),
            }
        }
    }
}

macro_rules! lowercase_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lowercase name used in the manifest, the event log and the CLI.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            /// Accepts exactly the lowercase names produced by `as_str`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(UnknownVariant {
                        what: $what,
                        found: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that is not one of the names an enum accepts.
///
/// Its message lists every accepted name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{found}`, expected one of {}", list_names(expected))]
pub struct UnknownVariant {
    what: &'static str,
    found: String,
    expected: &'static [&'static str],
}

fn list_names(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

lowercase_enum! {
    /// How eagerly the event log reaches the disk.
    #[derive(Default)]
    FsyncPolicy, "fsync policy" {
        /// `fsync` after every record.
        Always => "always",
        /// Group commit at least every 50 ms and on every terminal state.
        #[default]
        Batch => "batch",
        /// Leave flushing to the OS.
        Off => "off",
    }
}

lowercase_enum! {
    /// What the probe does when a session goes silent for `stall_after`.
    #[derive(Default)]
    OnStall, "on_stall policy" {
        /// Record the session as `stalled` and keep waiting.
        #[default]
        Mark => "mark",
        /// Restart it once it has been stalled for `stall_restart_after`.
        Restart => "restart",
    }
}

lowercase_enum! {
    /// What the agent's standard input is connected to.
    StdinMode, "stdin mode" {
        /// A pipe baton can write answers into.
        Pipe => "pipe",
        /// `/dev/null`: reads see end-of-file at once.
        Null => "null",
    }
}

/// Where a local session's process runs and what its standard streams
/// are connected to: one of the built-in backends, or one a program that
/// embeds the conductor registered under a name of its own
/// (`baton_core::backend::Backends::register`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// Plain pipes for stdin, stdout and stderr: the headless agent modes.
    #[default]
    Pipes,
    /// A pseudo-terminal, for agents that only show prompts on a terminal;
    /// input-wait detection and `send` work through it.
    Pty,
    /// A tmux session: survives a conductor restart and can be attached to.
    Tmux,
    /// A backend registered by the embedding program under this name
    /// (it satisfies [`BACKEND_NAME_RULE`] and is no built-in name).
    Custom(String),
}

/// The rule a registered backend's name must satisfy, as shown in errors.
pub const BACKEND_NAME_RULE: &str = "a backend name is 1 to 40 characters, each an ASCII \
     lowercase letter, digit, '_' or '-', and not `pipes`, `pty` or `tmux`";

impl Backend {
    /// The built-in backends, in declaration order.
    pub const BUILT_IN: &'static [Backend] = &[Backend::Pipes, Backend::Pty, Backend::Tmux];

    /// The name used in the manifest, the event log and the CLI.
    pub fn as_str(&self) -> &str {
        match self {
            Backend::Pipes => "pipes",
            Backend::Pty => "pty",
            Backend::Tmux => "tmux",
            Backend::Custom(name) => name,
        }
    }

    /// The backend named `name`: a built-in one, else a registered one
    /// whose name has the right form ([`BACKEND_NAME_RULE`]). Whether such
    /// a backend is registered is for the conductor to say.
    pub fn named(name: &str) -> Result<Backend, InvalidBackend> {
        match name {
            "pipes" => Ok(Backend::Pipes),
            "pty" => Ok(Backend::Pty),
            "tmux" => Ok(Backend::Tmux),
            _ if valid_backend_name(name) => Ok(Backend::Custom(name.to_owned())),
            _ => Err(InvalidBackend {
                found: name.to_owned(),
            }),
        }
    }

    /// True for a backend registered by the embedding program.
    pub fn is_custom(&self) -> bool {
        matches!(self, Backend::Custom(_))
    }
}

/// Whether `name` may name a registered backend ([`BACKEND_NAME_RULE`]).
pub fn valid_backend_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && !matches!(name, "pipes" | "pty" | "tmux")
}

/// The Levenshtein distance of `a` and `b`, for "did you mean" hints on
/// short names.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A `backend` value that names no backend at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown backend `{found}`, expected one of `pipes`, `pty`, `tmux` (or the name of a registered backend: {BACKEND_NAME_RULE})"
)]
pub struct InvalidBackend {
    found: String,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Backend {
    type Err = InvalidBackend;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::named(s)
    }
}

impl Serialize for Backend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Backend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Backend::named(&name).map_err(serde::de::Error::custom)
    }
}

lowercase_enum! {
    /// The terminal multiplexer on a remote host: `tmux`, or
    /// `psmux` on Windows hosts.
    #[derive(Default)]
    Multiplexer, "multiplexer" {
        /// tmux, on a host whose login shell is POSIX-like.
        #[default]
        Tmux => "tmux",
        /// psmux, the tmux-compatible multiplexer for Windows hosts.
        Psmux => "psmux",
    }
}

impl Backend {
    /// True for the backends that give the agent a terminal (`pty`, `tmux`).
    ///
    /// A terminal always has input, so such a session's stdin cannot be
    /// `null`; its `stdin` setting is checked against this at parse time.
    /// A registered backend says for itself what it connects the agent
    /// to; the checker takes it for one that is not a terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Backend::Pty | Backend::Tmux)
    }
}

lowercase_enum! {
    /// Which CLI a session launches.
    #[derive(Default)]
    AgentKind, "agent" {
        /// OpenAI Codex CLI (`codex exec`).
        Codex => "codex",
        /// Google Gemini CLI.
        Gemini => "gemini",
        /// Anthropic Claude Code (`claude -p`).
        Claude => "claude",
        /// Any argv given in the session's `command`.
        #[default]
        Command => "command",
    }
}

impl AgentKind {
    /// True for the agents that need a `prompt` and build their own argv.
    pub fn needs_prompt(self) -> bool {
        !matches!(self, AgentKind::Command)
    }
}

/// The stdin a session of `agent` gets when neither the session nor
/// `[agents.X]` says otherwise.
///
/// The headless AI CLIs read a piped stdin to end-of-file before they start
/// and so hang on a pipe that stays open (the reference had to close it);
/// they get `Null`. A `command` gets a `Pipe` so it can be answered.
pub fn default_stdin(agent: AgentKind) -> StdinMode {
    match agent {
        AgentKind::Codex | AgentKind::Gemini | AgentKind::Claude => StdinMode::Null,
        AgentKind::Command => StdinMode::Pipe,
    }
}

/// The rule a [`SessionId`] must satisfy, as shown in error messages.
pub const SESSION_ID_RULE: &str = "a session id is 1 to 64 characters: an ASCII letter or digit, \
     then ASCII letters, digits, '.', '_' or '-'";

/// A session's stable name.
///
/// Guaranteed to match `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`, so it is safe as a
/// file name component (`<logs>/<id>.out.log`), a tmux session name and a
/// shell word. Every constructor (including `Deserialize`) checks the rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

/// A string that breaks [`SESSION_ID_RULE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session id `{}`: {SESSION_ID_RULE}", found.escape_debug())]
pub struct InvalidSessionId {
    found: String,
}

impl SessionId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn check(s: &str) -> bool {
        let bytes = s.as_bytes();
        match bytes.split_first() {
            Some((first, rest)) => {
                bytes.len() <= 64
                    && first.is_ascii_alphanumeric()
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            }
            None => false,
        }
    }
}

impl FromStr for SessionId {
    type Err = InvalidSessionId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if SessionId::check(s) {
            Ok(SessionId(s.to_owned()))
        } else {
            Err(InvalidSessionId {
                found: s.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for SessionId {
    type Error = InvalidSessionId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if SessionId::check(&s) {
            Ok(SessionId(s))
        } else {
            Err(InvalidSessionId { found: s })
        }
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.0
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[conductor]`: limits and timings that apply to every session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConductorConfig {
    /// Where output logs and `events.jsonl` go. After parsing it is absolute
    /// or joined onto the manifest's directory.
    pub logs_dir: PathBuf,
    /// Restarts allowed before a failing session is `dead` (default 3).
    pub max_restarts: u32,
    /// SIGTERM → SIGKILL grace (default 10 s, never zero).
    #[serde(with = "humantime_ser")]
    pub grace: Duration,
    /// Delay before the first restart; doubles per restart (default 1 s).
    #[serde(with = "humantime_ser")]
    pub backoff: Duration,
    /// Cap on the restart delay (default 30 s, never below `backoff`).
    #[serde(with = "humantime_ser")]
    pub backoff_max: Duration,
    /// Healthy this long → the restart count goes back to 0 (default 10 min).
    #[serde(with = "humantime_ser")]
    pub reset_after: Duration,
    /// Event-log durability (default `batch`).
    pub fsync: FsyncPolicy,
    /// Cooldown for a rate-limited session whose output names no reset time (default 5 min).
    #[serde(with = "humantime_ser")]
    pub rate_limit_cooldown: Duration,
    /// Bytes of combined stdout+stderr tail fed to detectors; within
    /// [`TAIL_BYTES_RANGE`] (default 2048).
    pub tail_bytes: usize,
    /// Longest a remote host may go without answering before its sessions
    /// fail L0 as `remote_unreachable`; also the hard limit on one
    /// ssh call. A host's own `remote_timeout` overrides it. Default 15 s,
    /// never zero.
    #[serde(with = "humantime_ser")]
    pub remote_timeout: Duration,
    /// Write a session's prompt into its `spawn` records' argv. Off by
    /// default: the argv then holds `<prompt N bytes sha256:…>` in its place,
    /// so the event log stays free of input text (it may be a secret, or a
    /// customer's data).
    pub log_input: bool,
    /// Size at which a session's output log rolls over into a new segment
    /// (default 64 MiB; 0: never). Applies to the logs baton writes itself:
    /// `pty` sessions, `pipes` sessions of a foreground conductor, remote
    /// sessions' local logs.
    pub max_log_size: u64,
    /// Finished segments of each output log kept, the newest (default: all;
    /// at least 1).
    pub keep_segments: Option<u32>,
}

/// The default of `[conductor] max_log_size`.
pub const DEFAULT_MAX_LOG_SIZE: u64 = 64 * 1024 * 1024;

/// The smallest `[conductor] max_log_size` other than 0.
pub const MIN_LOG_SIZE: u64 = 64 * 1024;

/// The default of `[conductor] remote_timeout`.
pub const DEFAULT_REMOTE_TIMEOUT: Duration = Duration::from_secs(15);

/// The values `tail_bytes` may take.
pub const TAIL_BYTES_RANGE: std::ops::RangeInclusive<usize> = 256..=1_048_576;

impl Default for ConductorConfig {
    fn default() -> Self {
        ConductorConfig {
            logs_dir: PathBuf::from(".baton/logs"),
            max_restarts: 3,
            grace: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            reset_after: Duration::from_secs(600),
            fsync: FsyncPolicy::Batch,
            rate_limit_cooldown: Duration::from_secs(300),
            tail_bytes: 2048,
            remote_timeout: DEFAULT_REMOTE_TIMEOUT,
            log_input: false,
            max_log_size: DEFAULT_MAX_LOG_SIZE,
            keep_segments: None,
        }
    }
}

/// `[probe]`: the health model's thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeConfig {
    /// L1: silence longer than this is a stall (default 30 s, never zero).
    #[serde(with = "humantime_ser")]
    pub stall_after: Duration,
    /// L1.5: quiet this long with a confident prompt on screen (the cursor
    /// left on a question's line, or a menu) is `input_wait` at once, not
    /// at `stall_after` (default 2 s; `None`, written `"0s"`: only at
    /// `stall_after`).
    #[serde(with = "humantime_ser::option")]
    pub input_wait_after: Option<Duration>,
    /// L3: no output at all within this is a failed start (default 120 s, never zero).
    #[serde(with = "humantime_ser")]
    pub startup_timeout: Duration,
    /// What a stall does (default `mark`).
    pub on_stall: OnStall,
    /// With `on_stall = restart`: how long stalled before restarting (default 5 min).
    #[serde(with = "humantime_ser")]
    pub stall_restart_after: Duration,
    /// Period of `health` events; `None` (the default) writes none. Never `Some(0)`.
    #[serde(with = "humantime_ser::option")]
    pub health_interval: Option<Duration>,
    /// L2 check argv, run without a shell; `None` (the default) turns L2 off.
    /// Never an empty argv.
    pub l2_check: Option<Vec<String>>,
    /// Period of the L2 check (default 30 s, never zero).
    #[serde(with = "humantime_ser")]
    pub l2_interval: Duration,
    /// Consecutive L2 failures before the session is failed (default 3, never zero).
    pub l2_failures: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            stall_after: Duration::from_secs(30),
            input_wait_after: Some(Duration::from_secs(2)),
            startup_timeout: Duration::from_secs(120),
            on_stall: OnStall::Mark,
            stall_restart_after: Duration::from_secs(300),
            health_interval: None,
            l2_check: None,
            l2_interval: Duration::from_secs(30),
            l2_failures: 3,
        }
    }
}

/// The rule an input-wait or answer rule name must satisfy, as shown in
/// error messages.
pub const RULE_NAME_RULE: &str =
    "a rule name is 1 to 40 characters, each an ASCII lowercase letter, digit or '_'";

/// True if `name` satisfies [`RULE_NAME_RULE`] (`[a-z0-9_]{1,40}`).
pub fn valid_rule_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One `[[agents.NAME.input_wait]]`: an extra question shape for the L1.5
/// input-wait detector, on top of the built-in ones.
///
/// After [`crate::Manifest::parse`]: `name` satisfies [`RULE_NAME_RULE`] and
/// is unique within its agent; `pattern` is non-empty and compiles as a
/// [`regex`](https://docs.rs/regex) `Regex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct InputWaitRule {
    /// Names the rule in the `input_wait` event's evidence and in
    /// [`AnswerRule::rule`].
    pub name: String,
    /// A Rust regex matched against each of the last non-empty lines of the
    /// output tail, after ANSI escapes and carriage-return redraws are
    /// stripped; a match means the session is waiting for input.
    pub pattern: String,
}

/// One `[[session.answer]]`: an automatic reply to a question the session is
/// waiting on.
///
/// Rules apply only while the session is in `input_wait`, to the question
/// line the detector matched; the first rule (in file order) whose `pattern`
/// matches that line, and whose `rule` (if given) is the detector rule that
/// fired, wins, and its `reply` is sent followed by Enter. Nothing is sent if
/// no rule matches. A typical use approves `cargo test` and never `rm -rf`:
///
/// ```toml
/// [[session.answer]]          # listed first, so it wins
/// pattern = 'rm -rf'
/// reply = "n"
///
/// [[session.answer]]
/// pattern = 'cargo test'
/// reply = "y"
/// rule = "yes_no"
/// ```
///
/// After [`crate::Manifest::parse`]: `pattern` is non-empty and compiles as a
/// [`regex`](https://docs.rs/regex) `Regex`; `reply` contains no NUL, `\n`
/// or `\r` (it is one line, and may be empty: just Enter); `rule`, if any,
/// satisfies [`RULE_NAME_RULE`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AnswerRule {
    /// A Rust regex matched against the detected question line, compiled
    /// by the session checker.
    pub pattern: Pattern,
    /// The text to send, without the Enter that follows it.
    pub reply: String,
    /// Only when the input-wait rule that fired has this name; `None`: any.
    pub rule: Option<String>,
}

/// `[agents.X]`: how to launch one kind of agent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AgentConfig {
    /// Binary to run instead of the agent's name looked up on PATH.
    /// Always `None` for the `command` agent; never empty.
    pub bin: Option<String>,
    /// Stdin for this agent's sessions unless a session says otherwise;
    /// `None` means [`default_stdin`]. Sessions on a terminal backend
    /// ([`Backend::is_terminal`]) read the terminal instead.
    pub stdin: Option<StdinMode>,
    /// `[[agents.X.input_wait]]`: extra input-wait rules for this agent's
    /// sessions, in file order; names are unique.
    pub input_wait: Vec<InputWaitRule>,
    /// Whether its sessions on a terminal run with baton's hooks: `None`
    /// is the agent's default (claude and gemini yes; codex no, its hooks
    /// needing review to be lifted for the run). Never set for `command`.
    pub hooks: Option<bool>,
}

/// A regex checked and compiled once, where the session is checked: it is
/// never compiled again, so no later layer can find it invalid.
///
/// Equal, hashed, shown and serialized as its source text.
#[derive(Clone)]
pub struct Pattern(regex::Regex);

impl Pattern {
    /// Compiles `source`, which must not be empty. The error is regex's,
    /// on one line.
    pub fn new(source: &str) -> Result<Pattern, String> {
        if source.is_empty() {
            return Err("must not be empty".to_owned());
        }
        regex::Regex::new(source)
            .map(Pattern)
            .map_err(|e| crate::manifest::one_line(&e.to_string()))
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether the regex matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl std::hash::Hash for Pattern {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::str::FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Pattern, String> {
        Pattern::new(s)
    }
}

/// `[agents]`: one [`AgentConfig`] per [`AgentKind`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AgentsConfig {
    /// `[agents.codex]`.
    pub codex: AgentConfig,
    /// `[agents.gemini]`.
    pub gemini: AgentConfig,
    /// `[agents.claude]`.
    pub claude: AgentConfig,
    /// `[agents.command]`.
    pub command: AgentConfig,
}

impl AgentsConfig {
    /// The settings for `kind`.
    pub fn get(&self, kind: AgentKind) -> &AgentConfig {
        match kind {
            AgentKind::Codex => &self.codex,
            AgentKind::Gemini => &self.gemini,
            AgentKind::Claude => &self.claude,
            AgentKind::Command => &self.command,
        }
    }

    /// The stdin a session of `kind` gets when it sets none itself:
    /// `[agents.X] stdin`, else [`default_stdin`].
    pub fn stdin_for(&self, kind: AgentKind) -> StdinMode {
        self.get(kind).stdin.unwrap_or_else(|| default_stdin(kind))
    }
}

/// One `[[session]]`: what to run and how to watch it.
///
/// After [`crate::Manifest::parse`]: `command` is `Some` (non-empty) exactly
/// when `agent` is `Command`; `prompt` is `Some` (non-empty) for every other
/// agent; `mcp_servers` is empty unless `agent` is `Codex`; for a local
/// session `workdir` is `Some`, absolute or joined onto the manifest's
/// directory (for a remote one, see below); no string
/// contains NUL; env keys are non-empty and contain no `=`; `stdin` is not
/// `Some(Null)` on a terminal `backend`; every [`AnswerRule`] is valid.
///
/// A remote session (`host` is `Some`) has `backend = Tmux`, and its
/// `workdir` is either `None` (the remote login directory) or an absolute
/// path on that host; `host` names an inventory host or is [`HOST_ANY`],
/// never [`HOST_LOCAL`] (which parses to `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSpec {
    /// Stable, unique name.
    pub id: SessionId,
    /// Which CLI to launch.
    pub agent: AgentKind,
    /// The task. For `command` it is passed in `BATON_PROMPT`.
    pub prompt: Option<String>,
    /// The argv for `agent = "command"`.
    pub command: Option<Vec<String>>,
    /// Working directory; `None` means the conductor's own (for a remote
    /// session: the remote user's login directory).
    pub workdir: Option<PathBuf>,
    /// Extra environment. Values may be secrets: never log or echo them.
    pub env: BTreeMap<String, String>,
    /// Model name (`--model`; `BATON_MODEL` for `command`).
    pub model: Option<String>,
    /// Codex profile (`--profile`).
    pub profile: Option<String>,
    /// Codex MCP servers to enable.
    pub mcp_servers: Vec<String>,
    /// Refuse to start on `main`/`master`.
    pub branch_guard: bool,
    /// Stdin override; `None` defers to [`AgentsConfig::stdin_for`].
    /// Never `Some(Null)` when `backend` is a terminal.
    pub stdin: Option<StdinMode>,
    /// Where the process runs (default `pipes`).
    pub backend: Backend,
    /// `[[session.answer]]`: auto-answer rules, in file order (= priority).
    /// They apply only while the session is in `input_wait`; see
    /// [`AnswerRule`].
    pub answers: Vec<AnswerRule>,
    /// Free-form tags.
    pub capabilities: Vec<String>,
    /// Overrides `[conductor] max_restarts`.
    pub max_restarts: Option<u32>,
    /// Overrides `[probe] stall_after`; never zero.
    #[serde(with = "humantime_ser::option")]
    pub stall_after: Option<Duration>,
    /// Overrides `[probe] input_wait_after`; zero: only at `stall_after`.
    #[serde(with = "humantime_ser::option")]
    pub input_wait_after: Option<Duration>,
    /// Overrides `[probe] startup_timeout`; never zero.
    #[serde(with = "humantime_ser::option")]
    pub startup_timeout: Option<Duration>,
    /// Overrides `[probe] on_stall`.
    pub on_stall: Option<OnStall>,
    /// Where the session runs: `None` on this machine; `Some(name)` on the
    /// inventory host `[hosts.NAME]`; `Some("any")` ([`HOST_ANY`]) on the
    /// inventory host with the most free slots. See [`SessionSpec::placement`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Run in a git worktree of its own (local sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<WorktreeSpec>,
}

/// The `host` value that places a session on the inventory host with the
/// most free slots (`max_sessions`); reserved, so no host may be named so.
pub const HOST_ANY: &str = "any";

/// The `host` value for this machine (the same as leaving `host` out);
/// reserved, so no host may be named so.
pub const HOST_LOCAL: &str = "local";

/// Where a session runs, as its `host` field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// On this machine.
    Local,
    /// On whichever inventory host has the most free slots.
    AnyHost,
    /// On the named inventory host.
    Host(&'a str),
}

impl SessionSpec {
    /// A `command` session running `argv`, with every other field at its default.
    pub fn command(id: SessionId, argv: Vec<String>) -> SessionSpec {
        SessionSpec {
            id,
            agent: AgentKind::Command,
            prompt: None,
            command: Some(argv),
            workdir: None,
            env: BTreeMap::new(),
            model: None,
            profile: None,
            mcp_servers: Vec::new(),
            branch_guard: false,
            stdin: None,
            backend: Backend::Pipes,
            answers: Vec::new(),
            capabilities: Vec::new(),
            max_restarts: None,
            stall_after: None,
            input_wait_after: None,
            startup_timeout: None,
            on_stall: None,
            host: None,
            worktree: None,
        }
    }

    /// Where this session runs. `Some("local")` (possible only in a spec
    /// built by hand) counts as [`Placement::Local`].
    pub fn placement(&self) -> Placement<'_> {
        match self.host.as_deref() {
            None | Some(HOST_LOCAL) => Placement::Local,
            Some(HOST_ANY) => Placement::AnyHost,
            Some(name) => Placement::Host(name),
        }
    }

    /// True when the session runs on another host (over ssh, in tmux).
    pub fn is_remote(&self) -> bool {
        self.placement() != Placement::Local
    }

    /// The stdin this session gets: its own setting, else the agent's, else
    /// [`default_stdin`].
    pub fn effective_stdin(&self, agents: &AgentsConfig) -> StdinMode {
        self.stdin.unwrap_or_else(|| agents.stdin_for(self.agent))
    }
}
