//! What baton knows of each agent CLI, one module per CLI behind one
//! trait, [`Agent`]: the argv it is launched with, what must hold before a
//! run starts, and what its output says about how a run ended.
//!
//! | agent | headless argv | checked before a run | a run's end read from |
//! |---|---|---|---|
//! | [`claude`] | `claude [--model=M] -p --output-format stream-json --verbose -- PROMPT` | — | its `result` line: usage and cost; "Not logged in · Please run /login" and kin: `auth_required`; "Unable to connect to Anthropic services": `network` |
//! | [`codex`] | `codex [--profile=P] exec --json --dangerously-bypass-approvals-and-sandbox --skip-git-repo-check --color never [--model=M] [-c mcp_servers.S.enabled=true]… -- PROMPT` | its profile file and MCP servers in `$CODEX_HOME` | `turn.completed`: usage (no cost); "Reconnecting... waiting for network" while it runs: `network` |
//! | [`gemini`] | `gemini [--model=M] --yolo --skip-trust --output-format text --prompt=PROMPT` | — | exit 41 ("Please set an Auth method"): `auth_required`; exit 55: an untrusted folder |
//! | [`command`] | the session's `command` | — | nothing: its exit status only |
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

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

pub use baton_proto::Usage;
pub use codex::{codex_config_problem, codex_home};

/// One agent CLI.
pub trait Agent: Send + Sync {
    /// Its name in a manifest.
    fn kind(&self) -> AgentKind;

    /// The argv that runs `spec` headless, binary first (`[agents.X] bin`
    /// or the CLI's name, looked up on PATH), to be executed without a
    /// shell.
    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String>;

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
    /// [`Agent::usage`], [`Agent::status`] and [`Agent::final_answer`].
    fn structured(&self) -> bool {
        false
    }

    /// What a line must contain for [`Agent::usage`] or
    /// [`Agent::final_answer`] to find anything in it (the rest are not
    /// parsed).
    fn answer_marks(&self) -> &'static [&'static str] {
        &[]
    }

    /// The usage one line of its output reports (a whole line, without its
    /// newline).
    fn usage(&self, _line: &str) -> Option<Usage> {
        None
    }

    /// What one line of its structured output shows a person (see
    /// [`Said::Status`]).
    fn status(&self, _line: &str) -> Option<String> {
        None
    }

    /// The final answer one line of its output holds, for CLIs whose
    /// output is structured (see [`Said::Final`]).
    fn final_answer(&self, _line: &str) -> Option<String> {
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

/// What a CLI says of itself while its run goes on.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    /// It cannot reach its provider and waits for the network (the line
    /// that says so): no output of the run will come until it is back.
    Offline(String),
    /// It reported what a turn (a headless run) used.
    Used(Usage),
    /// What a person would read on its screen now, for CLIs whose output
    /// is structured: the last line of its last message, or the tool it
    /// uses (by name only).
    Status(String),
    /// Its final answer, when it writes it inside its structured output
    /// (where a frame or a JSON object the agent printed is escaped): the
    /// completion payload is read from this text.
    Final(String),
}

/// Reads a run's output as it comes, line by line, for what the CLI says
/// of itself ([`Said`]): that it is offline (once per run), what it used
/// (each time it says). Only agents with something to listen for have one,
/// so a `command` session's output costs nothing here.
pub struct Listener {
    agent: &'static dyn Agent,
    /// Searchers for the offline words, and for the marks of a line with
    /// an answer: built once, run over whole chunks at memchr speed.
    offline: Vec<memchr::memmem::Finder<'static>>,
    marks: Vec<memchr::memmem::Finder<'static>>,
    structured: bool,
    /// The line being written (bounded: a line longer than this is judged
    /// by its first part).
    partial: Vec<u8>,
    offline_said: bool,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("agent", &self.agent.kind())
            .finish_non_exhaustive()
    }
}

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
        let finders = |words: &'static [&'static str]| -> Vec<_> {
            words
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect()
        };
        let offline = finders(agent.offline_words());
        let structured = agent.structured();
        (!offline.is_empty() || structured).then(|| Listener {
            agent,
            offline,
            marks: finders(agent.answer_marks()),
            structured,
            partial: Vec::new(),
            offline_said: false,
        })
    }

    /// Takes the next `bytes` of output (either stream) and tells `said`
    /// what the lines they complete say: each offline line and answer as
    /// it comes, then the status of the newest line that has one.
    ///
    /// Whole chunks are searched for the few words that matter; only the
    /// lines they are found in, and the chunk's last lines (for its
    /// status), are decoded — a flood costs a scan, not a parse per line.
    pub fn feed(&mut self, bytes: &[u8], mut said: impl FnMut(Said)) {
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

    /// Judges each line of `region` (complete lines) that holds a word
    /// that matters, once per line.
    fn judge_region(&mut self, region: &[u8], said: &mut impl FnMut(Said)) {
        let mut hits: Vec<usize> = Vec::new();
        let searchers = (!self.offline_said)
            .then_some(&self.offline)
            .into_iter()
            .chain(self.structured.then_some(&self.marks))
            .flatten();
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
        if !self.offline_said && found(&self.offline) {
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
        if self.structured && found(&self.marks) {
            let line = String::from_utf8_lossy(line_bytes);
            let line = line.trim();
            if let Some(used) = self.agent.usage(line) {
                said(Said::Used(used));
            }
            if let Some(answer) = self.agent.final_answer(line) {
                said(Said::Final(answer));
            }
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
}

impl EndClass {
    /// The name used as a state reason.
    pub fn as_str(self) -> &'static str {
        match self {
            EndClass::AuthRequired => "auth_required",
            EndClass::UntrustedFolder => "untrusted_folder",
            EndClass::UnknownFlag => "spawn_error",
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

/// A CLI's line as evidence: control characters dropped, cut to a sane
/// length.
pub(crate) fn clean(line: &str) -> String {
    const MAX: usize = 300;
    let mut shown: String = line.chars().filter(|c| !c.is_control()).collect();
    if shown.len() > MAX {
        let mut cut = MAX;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests;
