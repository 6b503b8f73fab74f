//! What baton knows of each agent CLI, one module per CLI behind one
//! trait, [`Agent`]: the argv it is launched with, what must hold before a
//! run starts, and what its output says about how a run ended.
//!
//! | agent | headless argv | checked before a run | a run's end read from |
//! |---|---|---|---|
//! | [`claude`] | `claude [--model=M] -p --output-format stream-json --verbose -- PROMPT` | — | stream-json: its turn, tools, API retries; its `result` line: answer, usage and cost; "Not logged in · Please run /login" and kin: `auth_required`; its third API retry without an answer, or "Unable to connect to Anthropic services": `network` |
//! | [`codex`] | `codex [--profile=P] exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check --color never [--model=M] [-c mcp_servers.S.enabled=true]… -- PROMPT` | its profile file and MCP servers in `$CODEX_HOME` | JSONL: turns, tools, errors, its last message (the answer); `turn.completed`: usage (no cost); "Reconnecting... waiting for network" while it runs: `network` |
//! | [`gemini`] | `gemini [--model=M] --yolo --skip-trust --output-format stream-json --prompt=PROMPT` | — | JSONL: its turn, tools, warnings, the answer in pieces; `result`: usage (no cost); exit 41 ("Please set an Auth method"): `auth_required`; exit 55: an untrusted folder; its second failed attempt to reach the API: `network` |
//! | [`command`] | the session's `command` | — | nothing: its exit status only |
//!
//! On a terminal (a local PTY or tmux; a host's tmux for a CLI whose hooks
//! ride in its argv) a CLI with an interactive mode known
//! here ([`Agent::interactive_argv`]) runs in it instead — claude:
//! `claude [--model=M] --settings=JSON [-- PROMPT]`, the JSON adding
//! baton's hooks for that run ([`hooks`]); gemini: `gemini [--model=M]
//! --skip-trust [--prompt-interactive=PROMPT]`, its hooks in a settings
//! file of the run ([`Agent::hook_file`]); codex, when the user turns its
//! hooks on (`[agents.codex] hooks = true`), its hooks as session flags
//! with `--dangerously-bypass-hook-trust`. What they say is read by
//! [`Agent::hooked`].
//!
//! Nothing that comes from user data may be read as a flag: a prompt of
//! `--help` must be a task, not a request for help (the real CLIs then print
//! their help and exit 0, which would look like a completed session). So
//! values ride in the same word as their option (`--model=M`, `--prompt=P`)
//! and a positional prompt follows `--`. No argv is ever a shell string: the
//! prompt is one element, passed through byte for byte.
//!
//! Every CLI's usage error for a flag it does not take (an older or newer
//! version than the one baton speaks to) ends the session as a spawn error
//! naming the package to update.
//!
//! Adding a CLI is one module implementing [`Agent`] and one row in
//! [`agent`] (and its name in `baton_config::AgentKind` and on the wire).
//!
//! ```
//! use std::path::Path;
//! let text = "[[session]]\nagent = \"claude\"\nprompt = \"fix the tests\"\n";
//! let m = baton_config::Manifest::parse(text, None, Path::new("/repo")).unwrap();
//! let argv = baton_agents::argv(&m.sessions[0], &m.agents);
//! assert_eq!(
//!     argv,
//!     ["claude", "-p", "--output-format", "stream-json", "--verbose", "--", "fix the tests"]
//! );
//! ```

#![warn(missing_docs)]

pub mod claude;
pub mod codex;
pub mod command;
pub mod gemini;
pub mod hooks;

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

pub use baton_proto::Usage;
pub use codex::{codex_config_problem, codex_home};
pub use hooks::{HookFailure, HookFile, Hooked, HostHookFile};

/// One agent CLI.
pub trait Agent: Send + Sync {
    /// Its name in a manifest.
    fn kind(&self) -> AgentKind;

    /// The argv that runs `spec` headless, binary first (`[agents.X] bin`
    /// or the CLI's name, looked up on PATH), to be executed without a
    /// shell.
    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String>;

    /// The argv that runs `spec` interactively on a terminal, with a hook
    /// on each event that matters running `hook` (a shell command line;
    /// `None`: no hooks) for this run only — never written to the user's
    /// settings. `None`:
    /// baton knows no interactive mode of this CLI, and on a terminal it
    /// runs as [`Agent::argv`] says.
    fn interactive_argv(
        &self,
        _spec: &SessionSpec,
        _agents: &AgentsConfig,
        _hook: Option<&str>,
    ) -> Option<Vec<String>> {
        None
    }

    /// The settings file that installs baton's hooks running `hook` (a
    /// shell command line), for a CLI that reads hooks only from a file
    /// named in its environment (gemini), not its argv. `env` is the run's
    /// environment. `None`: its hooks ride in its argv, or it has none.
    fn hook_file(&self, _hook: &str, _env: &[(String, String)]) -> Option<HookFile> {
        None
    }

    /// The settings file of [`Agent::hook_file`] for a run on a host, where
    /// baton cannot read what the file would stand in for: baton's hooks
    /// alone, and the path of the file the CLI would read without it (the
    /// host's own, by `env` or the system's place). A host that has that
    /// file keeps it, and the run goes without baton's hooks.
    fn host_hook_file(&self, _hook: &str, _env: &[(String, String)]) -> Option<HostHookFile> {
        None
    }

    /// Whether it reads its hooks from a settings file ([`Agent::hook_file`])
    /// rather than its argv.
    fn hooks_in_a_file(&self) -> bool {
        false
    }

    /// Whether its sessions on a terminal get baton's hooks unless the
    /// user says otherwise (`[agents.X] hooks`).
    fn hooks_by_default(&self) -> bool {
        true
    }

    /// What one of its hooks said, read from the hook's input (`None`: an
    /// event baton does not act on).
    fn hooked(&self, _input: &serde_json::Value) -> Option<Hooked> {
        None
    }

    /// What must hold before each run of `spec` with environment `env`
    /// starts, when the CLI would otherwise fail in a way that looks like a
    /// crash (and be restarted for nothing). `None`: nothing to check.
    fn preflight(&self, _spec: &SessionSpec, _env: &[(String, String)]) -> Option<Preflight> {
        None
    }

    /// Lines that, while a run goes on, say the CLI cannot reach its
    /// provider and is only waiting (see [`Listener`]).
    fn offline_words(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether its output is structured, one JSON object per line, read by
    /// [`Agent::read`] and [`Agent::status`].
    fn structured(&self) -> bool {
        false
    }

    /// What a line must hold for [`Agent::read`] to find anything in it
    /// (the rest are not parsed, nor searched for the offline words: its
    /// structured output says it is offline in a line it reads). Each mark
    /// costs a search through all of its output, so a CLI has few, each
    /// with bytes JSON text seldom holds (an escaped quote in a string is
    /// no mark).
    fn marks(&self) -> &'static [&'static str] {
        &[]
    }

    /// What one line of its structured output says (a whole line, trimmed,
    /// that holds one of its [`Agent::marks`]): turns, tools, errors, what
    /// a turn used, its answer.
    fn read(&self, _line: &str, _heard: &mut Vec<Heard>) {}

    /// What one line of its structured output shows a person (see
    /// [`Said::Status`]).
    fn status(&self, _line: &str) -> Option<String> {
        None
    }

    /// What one event of its structured output says of a failure, in
    /// words, for the rate-limit wording every run's end is read for: an
    /// error's message, a failed result's text, a rate limit it ran into
    /// with its reset. `None`: nothing of a failure — progress, usage, a
    /// retry it made itself, a rate limit it is still within.
    fn failure_words(&self, _event: &serde_json::Value) -> Option<String> {
        None
    }

    /// What the CLI said about a run that ended with `exit_code` (`None`:
    /// ended by a signal) after writing `output` (its last bytes, both
    /// streams): `None` when it said nothing that classifies the end.
    fn ended(&self, _exit_code: Option<i32>, _output: &[u8]) -> Option<Ended> {
        None
    }
}

/// The agent of kind `kind`: the table of the CLIs baton knows.
pub fn agent(kind: AgentKind) -> &'static dyn Agent {
    match kind {
        AgentKind::Claude => &claude::Claude,
        AgentKind::Codex => &codex::Codex,
        AgentKind::Gemini => &gemini::Gemini,
        AgentKind::Command => &command::Command,
    }
}

/// The argv that runs `spec` (see [`Agent::argv`]).
pub fn argv(spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
    agent(spec.agent).argv(spec, agents)
}

/// `tail` (a run's last output) in words, for the rate-limit wording a
/// run's end is read for: for a CLI whose output is structured, each JSON
/// line becomes only what it says of a failure ([`Agent::failure_words`]),
/// other lines stay as they are. So a claude run that crashed is not read
/// as rate-limited for the `rate_limit_event` (status "allowed") it
/// printed at its start, nor for an API retry it got past.
pub fn in_words<'t>(agent: &dyn Agent, tail: &'t [u8]) -> std::borrow::Cow<'t, [u8]> {
    if !agent.structured() {
        return std::borrow::Cow::Borrowed(tail);
    }
    let mut words = Vec::with_capacity(tail.len() / 4);
    for line in tail.split(|b| *b == b'\n') {
        let trimmed = line.trim_ascii();
        if trimmed.first() == Some(&b'{') {
            if let Some(said) = serde_json::from_slice(trimmed)
                .ok()
                .and_then(|event| agent.failure_words(&event))
            {
                words.extend_from_slice(said.as_bytes());
                words.push(b'\n');
            }
            continue;
        }
        words.extend_from_slice(line);
        words.push(b'\n');
    }
    std::borrow::Cow::Owned(words)
}

/// What a CLI says of itself while its run goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    /// It cannot reach its provider and waits for the network (the line
    /// that says so): no output of the run will come until it is back.
    Offline(String),
    /// A turn began (for a headless run: the run itself).
    TurnStarted,
    /// A turn ended: what it used, when the CLI says, and the CLI's words
    /// when it failed.
    TurnEnded {
        /// Tokens (and cost) of the turn.
        usage: Option<Usage>,
        /// Why it failed, in the CLI's words ([`clean`]).
        error: Option<String>,
    },
    /// It calls a tool: its name only, never its input.
    Tool(String),
    /// A structured error it reported while running; `retrying` when it
    /// says it tries again itself (an API retry, a reconnect).
    Error {
        /// Its words ([`clean`]).
        message: String,
        /// Whether it retries on its own.
        retrying: bool,
    },
    /// What a person would read on its screen now, for CLIs whose output
    /// is structured: the last line of its last message, or the tool it
    /// uses (by name only).
    Status(String),
}

/// What one line of structured output holds, as [`Agent::read`] hears it:
/// something the CLI says ([`Said`]), or a piece of its answer, which the
/// [`Listener`] keeps (see [`Listener::answer`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// Something to report.
    Said(Said),
    /// Its answer so far, whole: it replaces what was heard before.
    Answer(String),
    /// The next piece of an answer it streams (gemini's deltas): added to
    /// the answer, unless a tool was called since the last piece, when the
    /// answer starts anew (the answer is what it said after its last tool).
    AnswerPart(String),
}

/// Reads a run's output as it comes, line by line, for what the CLI says
/// of itself ([`Said`]): that it is offline (once per run), its turns,
/// tools, errors and usage (each time it says), and its answer (kept).
/// Only agents with something to listen for have one, so a `command`
/// session's output costs nothing here.
pub struct Listener {
    agent: &'static dyn Agent,
    /// Searchers for the offline words and for the marks, built once and
    /// run over whole chunks at memchr speed.
    offline: Vec<memchr::memmem::Finder<'static>>,
    marks: Vec<memchr::memmem::Finder<'static>>,
    structured: bool,
    /// The line being written on stdout, and on stderr (bounded: a line
    /// longer than this is judged by its first part).
    partial: Vec<u8>,
    partial_err: Vec<u8>,
    offline_said: bool,
    /// The run's answer as heard so far, and whether a tool was called
    /// since its last piece.
    answer: Option<String>,
    tool_since_answer: bool,
    /// Turn, tool and error reports so far: at most [`RECORDS_MAX`] are
    /// passed on, and not the first `skip`.
    records: u32,
    skip: u32,
    heard: Vec<Heard>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("agent", &self.agent.kind())
            .finish_non_exhaustive()
    }
}

/// The most turn, tool and error reports one run makes: they become
/// records in the event log, a few per turn; a CLI gone wrong (or output
/// written to look like one) does not flood the log with them.
pub const RECORDS_MAX: u32 = 10_000;

/// The longest answer a listener keeps.
const ANSWER_MAX: usize = 1024 * 1024;

/// The longest line a listener keeps: a claude `result` line carries the
/// whole final answer.
const LINE_MAX: usize = 256 * 1024;

/// The line buffer a listener keeps between lines.
const LINE_KEPT: usize = 16 * 1024;

/// How many of a chunk's last lines are looked at for its status.
const STATUS_LINES: usize = 4;

impl Listener {
    /// A listener for `agent`'s runs, or `None` when it has nothing to
    /// listen for.
    pub fn of(agent: &'static dyn Agent) -> Option<Listener> {
        let offline = agent.offline_words();
        let structured = agent.structured();
        if offline.is_empty() && !structured {
            return None;
        }
        let finders = |words: &mut dyn Iterator<Item = &&'static str>| -> Vec<_> {
            words
                .map(|w| {
                    memchr::memmem::FinderBuilder::new()
                        .build_forward_with_ranker(JsonRank, w.as_bytes())
                })
                .collect()
        };
        Some(Listener {
            agent,
            offline: finders(&mut offline.iter()),
            marks: finders(&mut agent.marks().iter()),
            structured,
            partial: Vec::new(),
            partial_err: Vec::new(),
            offline_said: false,
            answer: None,
            tool_since_answer: false,
            records: 0,
            skip: 0,
            heard: Vec::new(),
        })
    }
    /// This listener, reading a run again from its start (a run a new
    /// conductor takes over): the first `reported` turn, tool and error
    /// reports were passed on by the listener before it, and are not again.
    /// The same bytes say the same things in the same order, however they
    /// are cut into chunks; the answer and the status are heard anew.
    pub fn skipping(mut self, reported: u32) -> Listener {
        self.skip = reported;
        self
    }

    /// The run's answer, as its structured output gave it so far (the
    /// completion payload is read from it: inside JSON lines a frame or an
    /// object the agent printed is escaped). `None` when it gave none.
    pub fn answer(&self) -> Option<&str> {
        self.answer.as_deref()
    }

    /// Takes the next `bytes` of its stdout and tells `said` what the
    /// lines they complete say: each offline line, turn, tool and error as
    /// it comes (the answer is kept), then the status of the newest line
    /// that has one.
    ///
    /// Whole chunks are searched for the few words that matter; only the
    /// lines they are found in, and the chunk's last lines (for its
    /// status), are decoded — a flood costs a scan, not a parse per line.
    pub fn feed(&mut self, bytes: &[u8], said: impl FnMut(Said)) {
        self.feed_stream(bytes, said);
    }

    /// Takes the next `bytes` of its stderr, a stream of lines of its own
    /// (a line half written on one stream is not finished by the other):
    /// read only for the offline words, structured output being on stdout.
    pub fn feed_stderr(&mut self, bytes: &[u8], said: impl FnMut(Said)) {
        std::mem::swap(&mut self.partial, &mut self.partial_err);
        let structured = std::mem::replace(&mut self.structured, false);
        self.feed_stream(bytes, said);
        self.structured = structured;
        std::mem::swap(&mut self.partial, &mut self.partial_err);
    }

    fn feed_stream(&mut self, bytes: &[u8], mut said: impl FnMut(Said)) {
        let Some(last_nl) = memchr::memrchr(b'\n', bytes) else {
            self.keep(bytes);
            return;
        };
        let first_nl = memchr::memchr(b'\n', bytes).unwrap_or(last_nl);
        // The line that began in an earlier chunk.
        self.keep(&bytes[..=first_nl]);
        let carried = std::mem::take(&mut self.partial);
        self.judge_line(&carried, &mut said);
        // The chunk's other complete lines.
        let region = &bytes[first_nl + 1..=last_nl];
        self.judge_region(region, &mut said);
        if self.structured {
            let status = if region.is_empty() {
                self.status_of(&carried)
            } else {
                memchr::memrchr_iter(b'\n', &region[..region.len() - 1])
                    .map(|nl| nl + 1)
                    .chain(std::iter::once(0))
                    .take(STATUS_LINES)
                    .scan(region.len(), |end, begin| {
                        let line = &region[begin..*end];
                        *end = begin;
                        Some(line)
                    })
                    .chain(std::iter::once(&carried[..]))
                    .find_map(|line| self.status_of(line))
            };
            if let Some(status) = status {
                said(Said::Status(clean(&status)));
            }
        }
        self.partial = carried;
        self.partial.clear();
        if self.partial.capacity() > LINE_KEPT {
            self.partial.shrink_to(LINE_KEPT);
        }
        self.keep(&bytes[last_nl + 1..]);
    }

    /// Adds `bytes` to the line being written, within [`LINE_MAX`].
    fn keep(&mut self, bytes: &[u8]) {
        let room = LINE_MAX.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// What the agent shows for `line`.
    fn status_of(&self, line: &[u8]) -> Option<String> {
        let text = String::from_utf8_lossy(line);
        self.agent.status(text.trim())
    }

    /// Judges each line of `region` (complete lines) that is worth it,
    /// once: on a structured stream each line that holds a mark; on
    /// another, each line that holds an offline word (until one did).
    fn judge_region(&mut self, region: &[u8], said: &mut impl FnMut(Said)) {
        let searchers = if self.structured {
            &self.marks
        } else if !self.offline_said {
            &self.offline
        } else {
            return;
        };
        let mut hits: Vec<usize> = Vec::new();
        for finder in searchers {
            hits.extend(finder.find_iter(region));
        }
        if hits.is_empty() {
            return;
        }
        hits.sort_unstable();
        let mut judged_to = 0;
        for hit in hits {
            if hit < judged_to {
                continue;
            }
            let begin = memchr::memrchr(b'\n', &region[..hit]).map_or(0, |nl| nl + 1);
            let end = memchr::memchr(b'\n', &region[hit..]).map_or(region.len(), |nl| hit + nl + 1);
            self.judge_line(&region[begin..end], said);
            judged_to = end;
        }
    }

    /// What one complete line says: it is offline, it used, its answer.
    fn judge_line(&mut self, line_bytes: &[u8], said: &mut impl FnMut(Said)) {
        let found = |finders: &[memchr::memmem::Finder<'static>]| {
            finders.iter().any(|f| f.find(line_bytes).is_some())
        };
        let offline = !self.offline_said && found(&self.offline);
        let marked = self.structured && found(&self.marks);
        if !self.offline_said && offline {
            self.offline_said = true;
            let line = String::from_utf8_lossy(line_bytes);
            let line = line.trim();
            // An event's message, not its JSON.
            let message = line
                .starts_with('{')
                .then(|| serde_json::from_str::<serde_json::Value>(line).ok())
                .flatten()
                .and_then(|v| v.get("message")?.as_str().map(str::to_owned));
            said(Said::Offline(clean(message.as_deref().unwrap_or(line))));
        }
        if marked {
            let line = String::from_utf8_lossy(line_bytes);
            let mut heard = std::mem::take(&mut self.heard);
            self.agent.read(line.trim(), &mut heard);
            for h in heard.drain(..) {
                self.take(h, said);
            }
            self.heard = heard;
        }
    }

    /// Keeps a piece of the answer, or passes on what was said (within
    /// [`RECORDS_MAX`] reports a run).
    fn take(&mut self, heard: Heard, said: &mut impl FnMut(Said)) {
        match heard {
            Heard::Answer(mut text) => {
                cut_to(&mut text, ANSWER_MAX);
                self.answer = Some(text);
                self.tool_since_answer = false;
            }
            Heard::AnswerPart(part) => {
                let answer = self.answer.get_or_insert_with(String::new);
                if std::mem::take(&mut self.tool_since_answer) {
                    answer.clear();
                }
                let room = ANSWER_MAX.saturating_sub(answer.len());
                let mut part = part;
                cut_to(&mut part, room);
                answer.push_str(&part);
            }
            Heard::Said(Said::Offline(line)) => {
                // Said once a run, wherever it was heard; not a record.
                if !std::mem::replace(&mut self.offline_said, true) {
                    said(Said::Offline(line));
                }
            }
            Heard::Said(s) => {
                if matches!(s, Said::Tool(_)) {
                    self.tool_since_answer = true;
                }
                self.records = self.records.saturating_add(1);
                if self.records <= self.skip {
                    return;
                }
                match self.records.cmp(&RECORDS_MAX) {
                    std::cmp::Ordering::Less => said(s),
                    std::cmp::Ordering::Equal => said(Said::Error {
                        message: format!(
                            "more than {RECORDS_MAX} turn, tool and error reports in one run: \
                             the rest (and what their turns used) are not recorded"
                        ),
                        retrying: false,
                    }),
                    std::cmp::Ordering::Greater => {}
                }
            }
        }
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn cut_to(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// How often a byte occurs in an agent's output, JSON lines of English
/// text, for the searchers to pick a word's two rarest bytes to look for
/// first. memchr's own ranking is for prose, where `"` and `:` are rare: in
/// JSON they are on every line, and a search keyed on them stops at each.
struct JsonRank;

impl memchr::arch::all::packedpair::HeuristicFrequencyRank for JsonRank {
    fn rank(&self, byte: u8) -> u8 {
        /// Lowercase letters, most frequent in English first.
        const LETTERS: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";
        match byte {
            b'"' | b':' | b',' | b'{' | b'}' | b'[' | b']' | b' ' | b'\n' => 255,
            b'a'..=b'z' => {
                let order = LETTERS.iter().position(|l| *l == byte).unwrap_or(0);
                254 - 2 * order as u8
            }
            b'_' | b'.' | b'-' | b'/' | b'0'..=b'9' => 200,
            b'A'..=b'Z' => 180,
            0x80.. => 150,
            _ => 100,
        }
    }
}

/// A check to make before each run: it reads files that may change
/// between runs (the user fixes a config file), so it is made anew each
/// time.
pub struct Preflight {
    check: Box<dyn Fn() -> Option<String> + Send + Sync>,
}

impl Preflight {
    /// A check that says what is wrong, or `None`.
    pub fn new(check: impl Fn() -> Option<String> + Send + Sync + 'static) -> Preflight {
        Preflight {
            check: Box::new(check),
        }
    }

    /// What would make the run fail, or `None` when nothing would.
    pub fn problem(&self) -> Option<String> {
        (self.check)()
    }
}

impl std::fmt::Debug for Preflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Preflight")
    }
}

/// How a CLI said a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// What kind of end it is.
    pub class: EndClass,
    /// The CLI's own words (one line of its output).
    pub evidence: String,
}

/// The ends a CLI can say it came to, each with what baton does about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndClass {
    /// Not logged in, an expired token, a missing key: no restart can
    /// help until a person logs in. The session is `dead` after one run.
    AuthRequired,
    /// The CLI refuses to run headless in a folder it does not trust:
    /// retrying cannot help; the message names the fix.
    UntrustedFolder,
    /// The CLI refused a flag baton passed: the installed version is older
    /// (or newer) than the one baton speaks to. Retrying cannot help.
    UnknownFlag,
    /// It gave up because it could not reach its provider (an interactive
    /// claude offline): waited for like an unreachable host, not restarted
    /// at once as a crash.
    Network,
}

impl EndClass {
    /// The name used as a state reason.
    pub fn as_str(self) -> &'static str {
        match self {
            EndClass::AuthRequired => "auth_required",
            EndClass::UntrustedFolder => "untrusted_folder",
            EndClass::UnknownFlag => "spawn_error",
            EndClass::Network => "network",
        }
    }
}

/// A usage error of a CLI that refused a flag baton passed: its line, and
/// what to do (`package` is the CLI's npm package).
fn unknown_flag(output: &[u8], needles: &[&str], package: &str) -> Option<Ended> {
    let line = line_with(output, needles)?;
    Some(Ended {
        class: EndClass::UnknownFlag,
        evidence: format!(
            "{line} — the installed CLI does not take a flag baton passes; update it \
             (npm install -g {package}) or point [agents.NAME] bin at a current one"
        ),
    })
}

/// The binary of `spec`'s agent: `[agents.X] bin`, or the CLI's name.
fn bin(spec: &SessionSpec, agents: &AgentsConfig) -> String {
    agents
        .get(spec.agent)
        .bin
        .clone()
        .unwrap_or_else(|| spec.agent.as_str().to_owned())
}

/// `spec`'s prompt, whole.
fn prompt(spec: &SessionSpec) -> String {
    spec.prompt.clone().unwrap_or_default()
}

/// The last line of `output` that contains one of `needles`, as
/// evidence ([`clean`]).
fn line_with(output: &[u8], needles: &[&str]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| needles.iter().any(|n| line.contains(n)))?;
    Some(clean(line))
}

/// The JSON object a line of structured output holds, if it is one.
fn json_line(line: &str) -> Option<serde_json::Value> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    serde_json::from_str(line).ok()
}

/// The last line of `text` that is not blank, trimmed: what a person
/// reads last of a message.
fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// A tool's name as the CLI gave it, shown and recorded: hostile text,
/// so cleaned and cut short.
fn tool_name(name: &str) -> String {
    shown(name, 80)
}

/// A CLI's line as evidence: control characters dropped, cut to a sane
/// length.
pub(crate) fn clean(line: &str) -> String {
    const MAX: usize = 300;
    let mut line = shown(line, usize::MAX);
    if line.len() > MAX {
        cut_to(&mut line, MAX);
        line.push('…');
    }
    line
}

/// Hostile text as it may be shown: control characters dropped, cut to
/// at most `max` bytes on a character boundary.
fn shown(text: &str, max: usize) -> String {
    let mut shown: String = text.chars().filter(|c| !c.is_control()).collect();
    cut_to(&mut shown, max);
    shown
}

#[cfg(test)]
mod tests;
