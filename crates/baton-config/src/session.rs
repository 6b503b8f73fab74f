//! The one session checker: every rule a session must satisfy, for a
//! manifest's `[[session]]`, a session file, a `spawn` request and an MCP
//! `spawn` call alike.
//!
//! Every entrance hands over the session as it was written — the raw table
//! [`SpawnSpec`], whose keys and values are the manifest's — with the
//! [`Spans`] of its values when it was read from a file, and calls
//! [`check_session`] with the [`SessionRules`] of its context: the manifest
//! passes its directory and hosts inventory, a `spawn` request neither (its
//! workdir must be absolute, and the daemon places its host). The answer is
//! a [`SessionSpec`] or one [`SessionError`] naming the field, the session
//! and, through [`SessionError::at`], the place in the file. Messages never
//! contain an `env` value or an answer's reply: those may be secrets.
//!
//! The way back, a checked session as its raw table ([`to_table`]), is
//! here too, so that a session field lives in three places: the raw table
//! (`baton_proto`), this checker, and the checked [`SessionSpec`].

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_proto::{
    DurationText, SpawnAnswer, SpawnBackend, SpawnCommand, SpawnSpec, SpawnWorktree,
};

use crate::hosts::{HOST_NAME_RULE, HostConfig, valid_host_name};
use crate::model::{
    AgentKind, AnswerRule, Backend, HOST_ANY, HOST_LOCAL, OnStall, Pattern, RULE_NAME_RULE,
    SessionId, SessionSpec, StdinMode, valid_rule_name,
};
use crate::worktree::check_worktree;

/// Where the values of one session table were written: the table's own
/// byte range, and each value's by its key path (`command`,
/// `answer.0.pattern`, `env.KEY`, `worktree.base`). Empty for a session
/// that did not come from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans {
    /// The whole table (its header, for errors about a missing field).
    pub table: Option<Range<usize>>,
    /// Each value, by key path.
    pub values: BTreeMap<String, Range<usize>>,
}

impl Spans {
    /// Where the value at `path` was written; for a value left out, nothing.
    pub fn at(&self, path: &str) -> Option<Range<usize>> {
        self.values.get(path).cloned()
    }

    /// Where the value at `path` was written, else its table.
    fn at_or_table(&self, path: &str) -> Option<Range<usize>> {
        self.at(path).or_else(|| self.table.clone())
    }
}

/// A value with where it was written (`None`: not in a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Given<T> {
    pub value: T,
    pub at: Option<Range<usize>>,
}

impl Spans {
    /// `value`, written at `path`.
    pub(crate) fn given<T>(&self, path: &str, value: T) -> Given<T> {
        Given {
            value,
            at: self.at(path),
        }
    }
}

/// What a session is checked against.
#[derive(Debug, Clone, Copy)]
pub struct SessionRules<'a> {
    /// How errors name the session's table: `[[session]] #2`, `the spawn request`.
    pub table: &'a str,
    /// Relative workdirs are joined onto it, and a local session without a
    /// workdir runs in it. `None`: a workdir must be absolute, and one left
    /// out stays out.
    pub base_dir: Option<&'a Path>,
    /// The inventory a `host` must name. `None`: only the name's form is
    /// checked (whoever runs the session places it).
    pub hosts: Option<&'a BTreeMap<String, HostConfig>>,
    /// The names of the backends registered besides the built-in ones that
    /// a `backend` may name. `None`: only the name's form is checked
    /// (whoever runs the session knows its backends).
    pub backends: Option<&'a [String]>,
}

/// The field a [`SessionError`] is about, by its manifest key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionField {
    /// `id`
    Id,
    /// `prompt`
    Prompt,
    /// `command`
    Command,
    /// `workdir`
    Workdir,
    /// `env`
    Env,
    /// `model`
    Model,
    /// `profile`
    Profile,
    /// `mcp_servers`
    McpServers,
    /// `stdin`
    Stdin,
    /// `backend`
    Backend,
    /// `answer`
    Answer,
    /// `capabilities`
    Capabilities,
    /// `stall_after`
    StallAfter,
    /// `input_wait_after`
    InputWaitAfter,
    /// `startup_timeout`
    StartupTimeout,
    /// `host`
    Host,
    /// `worktree`
    Worktree,
}

impl SessionField {
    /// Every field, in declaration order.
    pub const ALL: &'static [SessionField] = &[
        SessionField::Id,
        SessionField::Prompt,
        SessionField::Command,
        SessionField::Workdir,
        SessionField::Env,
        SessionField::Model,
        SessionField::Profile,
        SessionField::McpServers,
        SessionField::Stdin,
        SessionField::Backend,
        SessionField::Answer,
        SessionField::Capabilities,
        SessionField::StallAfter,
        SessionField::InputWaitAfter,
        SessionField::StartupTimeout,
        SessionField::Host,
        SessionField::Worktree,
    ];

    /// The field whose manifest key is `key`.
    pub fn from_key(key: &str) -> Option<SessionField> {
        SessionField::ALL.iter().copied().find(|f| f.key() == key)
    }

    /// The key as a manifest writes it.
    pub fn key(self) -> &'static str {
        match self {
            SessionField::Id => "id",
            SessionField::Prompt => "prompt",
            SessionField::Command => "command",
            SessionField::Workdir => "workdir",
            SessionField::Env => "env",
            SessionField::Model => "model",
            SessionField::Profile => "profile",
            SessionField::McpServers => "mcp_servers",
            SessionField::Stdin => "stdin",
            SessionField::Backend => "backend",
            SessionField::Answer => "answer",
            SessionField::Capabilities => "capabilities",
            SessionField::StallAfter => "stall_after",
            SessionField::InputWaitAfter => "input_wait_after",
            SessionField::StartupTimeout => "startup_timeout",
            SessionField::Host => "host",
            SessionField::Worktree => "worktree",
        }
    }
}

/// Why a session was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SessionError {
    /// The field at fault.
    pub field: SessionField,
    /// Where in the file, when the draft said where its values were written.
    pub at: Option<Range<usize>>,
    /// What is wrong, naming the field and the session.
    pub message: String,
}

/// Where the draft's sayings about one session come together.
struct Check<'a> {
    rules: SessionRules<'a>,
    /// `[[session]] #1 (`id`)`.
    owner: String,
    /// The `agent` line if there is one, else the session's table.
    agent_at: Option<Range<usize>>,
}

impl Check<'_> {
    fn err(&self, field: SessionField, at: &Option<Range<usize>>, message: String) -> SessionError {
        SessionError {
            field,
            at: at.clone(),
            message,
        }
    }

    fn no_nul(
        &self,
        field: SessionField,
        label: &str,
        v: &Given<String>,
    ) -> Result<(), SessionError> {
        if v.value.contains('\0') {
            return Err(self.err(
                field,
                &v.at,
                format!(
                    "`{label}` in {} may not contain a NUL character",
                    self.owner
                ),
            ));
        }
        Ok(())
    }

    fn non_empty(
        &self,
        field: SessionField,
        v: Option<Given<String>>,
    ) -> Result<Option<String>, SessionError> {
        let Some(v) = v else { return Ok(None) };
        if v.value.is_empty() {
            return Err(self.err(
                field,
                &v.at,
                format!("`{}` in {} must not be empty", field.key(), self.owner),
            ));
        }
        self.no_nul(field, field.key(), &v)?;
        Ok(Some(v.value))
    }

    /// A duration as written: parsed, and never zero.
    fn duration(
        &self,
        field: SessionField,
        text: Option<DurationText>,
        spans: &Spans,
    ) -> Result<Option<Duration>, SessionError> {
        let d = self.duration_or_zero(field, text, spans)?;
        if d.is_some_and(|d| d.is_zero()) {
            let at = spans.at(field.key());
            return Err(self.err(
                field,
                &at,
                format!(
                    "`{}` in {} must be greater than zero",
                    field.key(),
                    self.rules.table
                ),
            ));
        }
        Ok(d)
    }

    /// A duration as written, parsed; zero allowed.
    fn duration_or_zero(
        &self,
        field: SessionField,
        text: Option<DurationText>,
        spans: &Spans,
    ) -> Result<Option<Duration>, SessionError> {
        let Some(DurationText(text)) = text else {
            return Ok(None);
        };
        let at = spans.at(field.key());
        let d = humantime::parse_duration(&text).map_err(|e| {
            self.err(
                field,
                &at,
                format!(
                    "`{}` in {}: invalid duration \"{}\": {e}; write e.g. \"500ms\", \"30s\", \
                     \"10m\" or \"1h 30m\"",
                    field.key(),
                    self.owner,
                    text.escape_debug()
                ),
            )
        })?;
        Ok(Some(d))
    }

    /// An argv as written: the argv, or a command string split into one.
    fn argv(
        &self,
        field: SessionField,
        command: SpawnCommand,
        spans: &Spans,
    ) -> Result<Vec<String>, SessionError> {
        argv_of(command).map_err(|problem| {
            self.err(
                field,
                &spans.at(field.key()),
                format!("`{}` in {}: {problem}", field.key(), self.owner),
            )
        })
    }

    /// `backend` as written: a built-in name, or a well-formed name of a
    /// registered backend.
    fn backend(&self, backend: SpawnBackend, spans: &Spans) -> Result<Backend, SessionError> {
        Backend::named(backend.as_str()).map_err(|e| {
            self.err(
                SessionField::Backend,
                &spans.at("backend"),
                format!("`backend` in {}: {e}", self.owner),
            )
        })
    }
}

/// A command as written, as an argv: a command string is split as a POSIX
/// shell would split it (no shell ever runs it); the problem otherwise.
pub(crate) fn argv_of(command: SpawnCommand) -> Result<Vec<String>, String> {
    match command {
        SpawnCommand::Argv(argv) => Ok(argv),
        SpawnCommand::Line(line) => {
            let words = shell_words::split(&line)
                .map_err(|e| format!("cannot split the command string: {e}"))?;
            if words.is_empty() {
                return Err("the command string is empty; give at least the program".to_owned());
            }
            Ok(words)
        }
    }
}

/// Checks one session, as its raw table `spec` wrote it (with the
/// [`Spans`] of its values, when it came from a file): the rules every
/// `[[session]]` and every `spawn` request go through.
pub fn check_session(
    spec: SpawnSpec,
    rules: &SessionRules<'_>,
    spans: &Spans,
) -> Result<SessionSpec, SessionError> {
    let table = rules.table;
    let agent = spec.agent.map_or(AgentKind::Command, AgentKind::from);
    let id_at = spans.at_or_table("id");
    let Some(id) = spec.id.as_deref() else {
        return Err(SessionError {
            field: SessionField::Id,
            at: id_at,
            message: format!("{table} has no `id`"),
        });
    };
    let id: SessionId = id
        .parse()
        .map_err(|e: crate::model::InvalidSessionId| SessionError {
            field: SessionField::Id,
            at: id_at,
            message: format!("`id` in {table}: {e}"),
        })?;
    let c = Check {
        rules: *rules,
        owner: format!("{table} (`{id}`)"),
        agent_at: spans.at_or_table("agent"),
    };
    let owner = c.owner.as_str();
    if let Some(path) = nul_path(&spec) {
        let field = path
            .split('.')
            .next()
            .and_then(SessionField::from_key)
            .unwrap_or(SessionField::Id);
        return Err(c.err(
            field,
            &spans.at_or_table(&path),
            format!(
                "`{}` in {owner} may not contain a NUL character{}",
                shown_path(&path).escape_debug(),
                // Values that may be secrets are never shown; say so.
                if path.starts_with("env.") || path.ends_with(".reply") {
                    " (value not shown)"
                } else {
                    ""
                }
            ),
        ));
    }
    let command = match spec.command {
        Some(command) => {
            Some(spans.given("command", c.argv(SessionField::Command, command, spans)?))
        }
        None => None,
    };
    let command = c.command(agent, command)?;
    let prompt = c.prompt(agent, spec.prompt.map(|p| spans.given("prompt", p)))?;
    let mcp_servers = spec.mcp_servers.map(|list| Given {
        value: list
            .into_iter()
            .enumerate()
            .map(|(i, name)| spans.given(&format!("mcp_servers.{i}"), name))
            .collect(),
        at: spans.at("mcp_servers"),
    });
    let mcp_servers = c.mcp_servers(agent, mcp_servers)?;
    let env = c.env(
        spec.env
            .into_iter()
            .map(|(key, value)| (spans.given(&format!("env.{key}"), key.clone()), value))
            .collect(),
    )?;
    let model = c.non_empty(
        SessionField::Model,
        spec.model.map(|v| spans.given("model", v)),
    )?;
    let profile = c.non_empty(
        SessionField::Profile,
        spec.profile.map(|v| spans.given("profile", v)),
    )?;

    let host = check_host(&c, spec.host.map(|h| spans.given("host", h)))?;
    if host.is_some()
        && let Some(key) = env.keys().find(|k| !is_shell_name(k))
    {
        return Err(c.err(
            SessionField::Env,
            &spans.at_or_table(&format!("env.{key}")),
            format!(
                "`env` in {owner} has the key `{}`; a remote session's variables are set by the \
                 host's shell, so each key must be a shell variable name ([A-Za-z_][A-Za-z0-9_]*)",
                key.escape_debug()
            ),
        ));
    }
    let backend = match spec.backend {
        Some(backend) => Some(spans.given("backend", c.backend(backend, spans)?)),
        None => None,
    };
    let stdin = spec.stdin.map(|s| spans.given("stdin", StdinMode::from(s)));
    let (backend, stdin) = c.backend_and_stdin(backend, stdin, host.as_deref())?;
    let answers = check_answers(&c, spec.answers, spans)?;
    let workdir = c.workdir(
        spec.workdir.map(|w| spans.given("workdir", w)),
        host.as_deref(),
    )?;
    let stall_after = c.duration(SessionField::StallAfter, spec.stall_after, spans)?;
    let input_wait_after =
        c.duration_or_zero(SessionField::InputWaitAfter, spec.input_wait_after, spans)?;
    let startup_timeout = c.duration(SessionField::StartupTimeout, spec.startup_timeout, spans)?;
    let worktree = check_worktree(spec.worktree, spans, &id, owner, host.is_some())?;

    Ok(SessionSpec {
        id,
        agent,
        prompt,
        command,
        workdir,
        env,
        model,
        profile,
        mcp_servers,
        branch_guard: spec.branch_guard,
        stdin,
        backend,
        answers,
        capabilities: spec.capabilities,
        max_restarts: spec.max_restarts,
        stall_after,
        input_wait_after,
        startup_timeout,
        on_stall: spec.on_stall.map(OnStall::from),
        host,
        worktree,
    })
}

/// A checked session as the raw table it could have been written as: what
/// a daemon saves and a client sends. Durations are written in whole
/// milliseconds or coarser units, so the table checks back to `spec`.
pub fn to_table(spec: SessionSpec) -> SpawnSpec {
    let duration = |d: Duration| DurationText(humantime::format_duration(d).to_string());
    SpawnSpec {
        id: Some(spec.id.as_str().to_owned()),
        agent: Some(spec.agent.into()),
        prompt: spec.prompt,
        command: spec.command.map(SpawnCommand::Argv),
        workdir: spec.workdir.map(|w| w.to_string_lossy().into_owned()),
        env: spec.env,
        model: spec.model,
        profile: spec.profile,
        mcp_servers: (!spec.mcp_servers.is_empty()).then_some(spec.mcp_servers),
        branch_guard: spec.branch_guard,
        stdin: spec.stdin.map(Into::into),
        // A remote session's backend is tmux, which its host implies.
        backend: (spec.host.is_none() && spec.backend != Backend::Pipes)
            .then(|| spec.backend.into()),
        answers: spec
            .answers
            .into_iter()
            .map(|a| SpawnAnswer {
                pattern: Some(a.pattern.as_str().to_owned()),
                reply: Some(a.reply),
                rule: a.rule,
            })
            .collect(),
        capabilities: spec.capabilities,
        max_restarts: spec.max_restarts,
        stall_after: spec.stall_after.map(duration),
        input_wait_after: spec.input_wait_after.map(duration),
        startup_timeout: spec.startup_timeout.map(duration),
        on_stall: spec.on_stall.map(Into::into),
        host: spec.host,
        worktree: spec.worktree.map(|w| SpawnWorktree {
            base: w.base,
            branch: w.branch,
            setup: w.setup.map(SpawnCommand::Argv),
            copy: w
                .copy
                .into_iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect(),
        }),
    }
}

/// A key path as messages write it: `answer[0].reply`, `env.KEY`.
fn shown_path(path: &str) -> String {
    let mut shown = String::with_capacity(path.len() + 2);
    for (i, part) in path.split('.').enumerate() {
        if part.bytes().all(|b| b.is_ascii_digit()) && i > 0 {
            shown.push('[');
            shown.push_str(part);
            shown.push(']');
        } else {
            if i > 0 {
                shown.push('.');
            }
            shown.push_str(part);
        }
    }
    shown
}

/// The key path of the first string of `spec` that holds a NUL, if any
/// (an env value's path names its key; the value is never shown).
fn nul_path(spec: &SpawnSpec) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &str) -> Option<String> {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value {
            serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| walk(item, &join(&i.to_string()))),
            serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
                if key.contains('\0') {
                    return Some(join(key));
                }
                walk(item, &join(key))
            }),
            _ => None,
        }
    }
    walk(&serde_json::to_value(spec).ok()?, "")
}

impl Check<'_> {
    /// `command`: only for `agent = "command"`, which needs one.
    fn command(
        &self,
        agent: AgentKind,
        command: Option<Given<Vec<String>>>,
    ) -> Result<Option<Vec<String>>, SessionError> {
        let owner = self.owner.as_str();
        Ok(match (agent, command) {
            (AgentKind::Command, Some(argv)) => {
                if argv.value.first().is_none_or(String::is_empty) {
                    return Err(self.err(
                        SessionField::Command,
                        &argv.at,
                        format!(
                            "`command` in {owner} must be a non-empty argv whose first element \
                             names a program, such as [\"python3\", \"worker.py\"]"
                        ),
                    ));
                }
                if argv.value.iter().any(|a| a.contains('\0')) {
                    return Err(self.err(
                        SessionField::Command,
                        &argv.at,
                        format!("`command` in {owner} may not contain a NUL character"),
                    ));
                }
                Some(argv.value)
            }
            (AgentKind::Command, None) => {
                return Err(self.err(
                    SessionField::Command,
                    &self.agent_at,
                    format!(
                        "{owner} is agent = \"command\" but has no `command`; \
                         give an argv array such as [\"python3\", \"worker.py\"]"
                    ),
                ));
            }
            (_, Some(argv)) => {
                return Err(self.err(
                    SessionField::Command,
                    &argv.at,
                    format!(
                        "`command` in {owner} is only for agent = \"command\", \
                         this session is agent = \"{agent}\"; put the task in `prompt`"
                    ),
                ));
            }
            (_, None) => None,
        })
    }

    /// `prompt`: not blank, and there for the agents that need one.
    fn prompt(
        &self,
        agent: AgentKind,
        prompt: Option<Given<String>>,
    ) -> Result<Option<String>, SessionError> {
        let owner = self.owner.as_str();
        Ok(match prompt {
            Some(p) if p.value.trim().is_empty() => {
                return Err(self.err(
                    SessionField::Prompt,
                    &p.at,
                    format!("`prompt` in {owner} is empty"),
                ));
            }
            Some(p) => {
                self.no_nul(SessionField::Prompt, "prompt", &p)?;
                Some(p.value)
            }
            None if agent.needs_prompt() => {
                return Err(self.err(
                    SessionField::Prompt,
                    &self.agent_at,
                    format!("{owner} is agent = \"{agent}\" and needs a `prompt`"),
                ));
            }
            None => None,
        })
    }

    /// `mcp_servers`: codex only, names of letters, digits, `_` and `-`.
    fn mcp_servers(
        &self,
        agent: AgentKind,
        mcp_servers: Option<Given<Vec<Given<String>>>>,
    ) -> Result<Vec<String>, SessionError> {
        let owner = self.owner.as_str();
        Ok(match mcp_servers {
            Some(list) if agent != AgentKind::Codex => {
                return Err(self.err(
                    SessionField::McpServers,
                    &list.at,
                    format!(
                        "`mcp_servers` in {owner} is only supported for agent = \"codex\", \
                         this session is agent = \"{agent}\""
                    ),
                ));
            }
            Some(list) => {
                let mut names = Vec::with_capacity(list.value.len());
                for name in list.value {
                    let ok = !name.value.is_empty()
                        && name
                            .value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
                    if !ok {
                        return Err(self.err(
                            SessionField::McpServers,
                            &name.at,
                            format!(
                                "`mcp_servers` in {owner}: invalid server name `{}`; \
                                 use ASCII letters, digits, '_' and '-'",
                                name.value.escape_debug()
                            ),
                        ));
                    }
                    names.push(name.value);
                }
                names
            }
            None => Vec::new(),
        })
    }

    /// `env`: keys neither empty nor holding `=` or NUL; values without NUL
    /// (and never shown).
    fn env(
        &self,
        env_in: Vec<(Given<String>, String)>,
    ) -> Result<BTreeMap<String, String>, SessionError> {
        let owner = self.owner.as_str();
        let mut env = BTreeMap::new();
        for (key, value) in env_in {
            let problem = if key.value.is_empty() {
                Some("an env key must not be empty")
            } else if key.value.contains('=') {
                Some("an env key must not contain '='")
            } else if key.value.contains('\0') {
                Some("an env key must not contain a NUL character")
            } else if value.contains('\0') {
                Some("an env value must not contain a NUL character (value not shown)")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(self.err(
                    SessionField::Env,
                    &key.at,
                    format!(
                        "`env` in {owner}: {problem} (key `{}`)",
                        key.value.escape_debug()
                    ),
                ));
            }
            env.insert(key.value, value);
        }
        Ok(env)
    }

    /// `backend`, when it names a registered backend: one of
    /// [`SessionRules::backends`], when the rules know them.
    fn registered(&self, backend: Given<Backend>) -> Result<Backend, SessionError> {
        let (Backend::Custom(name), Some(registered)) = (&backend.value, self.rules.backends)
        else {
            return Ok(backend.value);
        };
        if registered.iter().any(|r| r == name) {
            return Ok(backend.value);
        }
        let mut known: Vec<&str> = Backend::BUILT_IN.iter().map(Backend::as_str).collect();
        known.extend(registered.iter().map(String::as_str));
        let listed: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        let hint = known
            .iter()
            .find(|k| crate::model::edit_distance(k, name) <= 2)
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        Err(self.err(
            SessionField::Backend,
            &backend.at,
            format!(
                "`backend` in {} is \"{name}\", which is no backend here: expected one of {}{hint}",
                self.owner,
                listed.join(", ")
            ),
        ))
    }

    /// `backend` and `stdin`: a remote session runs in tmux, and a terminal
    /// always has input.
    fn backend_and_stdin(
        &self,
        backend: Option<Given<Backend>>,
        stdin: Option<Given<StdinMode>>,
        host: Option<&str>,
    ) -> Result<(Backend, Option<StdinMode>), SessionError> {
        let owner = self.owner.as_str();
        let backend = match (backend, host) {
            (Some(b), Some(h)) if b.value != Backend::Tmux => {
                return Err(self.err(
                    SessionField::Backend,
                    &b.at,
                    format!(
                        "`backend` in {owner} is \"{}\" but the session {}: remote \
                         sessions run in tmux; remove `backend` or set backend = \"tmux\"",
                        b.value,
                        runs_on(h)
                    ),
                ));
            }
            (_, Some(_)) => Backend::Tmux,
            (Some(b), None) => self.registered(b)?,
            (None, None) => Backend::Pipes,
        };
        let stdin = match stdin {
            Some(s) if s.value == StdinMode::Null && host.is_some() => {
                return Err(self.err(
                    SessionField::Stdin,
                    &s.at,
                    format!(
                        "`stdin` in {owner} is \"null\" but the session {}: remote \
                         sessions run in tmux, and a terminal always has input; remove `stdin`",
                        runs_on(host.unwrap_or_default())
                    ),
                ));
            }
            Some(s) if s.value == StdinMode::Null && backend.is_terminal() => {
                return Err(self.err(
                    SessionField::Stdin,
                    &s.at,
                    format!(
                        "`stdin` in {owner} is \"null\" but `backend` is \"{backend}\": \
                         a terminal always has input; remove `stdin` or use backend = \"pipes\""
                    ),
                ));
            }
            Some(s) => Some(s.value),
            None => None,
        };
        Ok((backend, stdin))
    }

    /// `workdir`: joined onto the manifest's directory (or absolute without
    /// one); on a remote host, an absolute path there or the login directory.
    fn workdir(
        &self,
        workdir: Option<Given<String>>,
        host: Option<&str>,
    ) -> Result<Option<PathBuf>, SessionError> {
        let owner = self.owner.as_str();
        let table = self.rules.table;
        Ok(match (workdir, host) {
            (Some(w), None) => {
                if w.value.is_empty() {
                    return Err(self.err(
                        SessionField::Workdir,
                        &w.at,
                        format!("`workdir` in {table} must not be empty"),
                    ));
                }
                self.no_nul(SessionField::Workdir, "workdir", &w)?;
                let path = Path::new(&w.value);
                match self.rules.base_dir {
                    Some(base) => Some(resolve(base, path)),
                    None if path.is_absolute() => Some(path.to_path_buf()),
                    None => {
                        return Err(self.err(
                            SessionField::Workdir,
                            &w.at,
                            format!(
                                "`workdir` in {owner} is `{}`, not an absolute path",
                                w.value.escape_debug()
                            ),
                        ));
                    }
                }
            }
            (None, None) => self.rules.base_dir.map(Path::to_path_buf),
            // A remote workdir is a path on that host: nothing local to join
            // it onto, and no local default that would exist there.
            (Some(w), Some(h)) => {
                self.no_nul(SessionField::Workdir, "workdir", &w)?;
                if !w.value.starts_with('/') {
                    return Err(self.err(
                        SessionField::Workdir,
                        &w.at,
                        format!(
                            "`workdir` in {owner} is `{}`, a relative path; the session \
                             {}, so its workdir is a path there and must be absolute (leave it \
                             out for the remote login directory)",
                            w.value.escape_debug(),
                            runs_on(h)
                        ),
                    ));
                }
                Some(PathBuf::from(w.value))
            }
            (None, Some(_)) => None,
        })
    }
}

/// How a message says where a remote session runs.
fn runs_on(host: &str) -> String {
    if host == HOST_ANY {
        "is placed on a remote host (host = \"any\")".to_owned()
    } else {
        format!("runs on host `{host}`")
    }
}

/// Checks a session's `host`: `None` and `"local"` are this machine
/// (`None`); `"any"` needs a non-empty inventory; anything else must be an
/// inventory name (or, without an inventory, a well-formed one).
fn check_host(c: &Check<'_>, host: Option<Given<String>>) -> Result<Option<String>, SessionError> {
    let Some(Given { value: name, at }) = host else {
        return Ok(None);
    };
    let owner = &c.owner;
    const WHERE: &str = "baton.toml or ~/.config/baton/hosts.toml";
    if name.is_empty() {
        return Err(c.err(
            SessionField::Host,
            &at,
            format!(
                "`host` in {owner} must not be empty; leave it out (or write \
                 host = \"local\") for a session on this machine"
            ),
        ));
    }
    if name == HOST_LOCAL {
        return Ok(None);
    }
    let Some(hosts) = c.rules.hosts else {
        if name == HOST_ANY || valid_host_name(&name) {
            return Ok(Some(name));
        }
        return Err(c.err(
            SessionField::Host,
            &at,
            format!(
                "`host` in {owner} is `{}`: {HOST_NAME_RULE}",
                name.escape_debug()
            ),
        ));
    };
    if name == HOST_ANY {
        if hosts.is_empty() {
            return Err(c.err(
                SessionField::Host,
                &at,
                format!(
                    "`host` in {owner} is \"any\", but the hosts inventory is \
                     empty; define at least one [hosts.NAME] in {WHERE}"
                ),
            ));
        }
        return Ok(Some(name));
    }
    if !hosts.contains_key(&name) {
        let known = if hosts.is_empty() {
            "the inventory is empty".to_owned()
        } else {
            let names: Vec<String> = hosts.keys().map(|k| format!("`{k}`")).collect();
            format!("known hosts: {}", names.join(", "))
        };
        let hint = if valid_host_name(&name) {
            format!("define [hosts.{name}] in {WHERE}")
        } else {
            HOST_NAME_RULE.to_owned()
        };
        return Err(c.err(
            SessionField::Host,
            &at,
            format!(
                "`host` in {owner} names `{}`, which is not in the hosts \
                 inventory ({known}); {hint}",
                name.escape_debug()
            ),
        ));
    }
    Ok(Some(name))
}

fn check_answers(
    c: &Check<'_>,
    answers: Vec<SpawnAnswer>,
    spans: &Spans,
) -> Result<Vec<AnswerRule>, SessionError> {
    let owner = &c.owner;
    let mut rules = Vec::with_capacity(answers.len());
    for (i, entry) in answers.into_iter().enumerate() {
        let path = format!("answer.{i}");
        let at = spans.at_or_table(&path);
        let label = format!("answer[{i}]");
        let Some(pattern) = entry.pattern else {
            return Err(c.err(
                SessionField::Answer,
                &at,
                format!(
                    "`{label}` in {owner} has no `pattern`; give a regex matched against \
                     the question line, e.g. pattern = 'cargo test'"
                ),
            ));
        };
        let compiled = match check_pattern(&pattern) {
            Ok(compiled) => compiled,
            Err(problem) => {
                return Err(c.err(
                    SessionField::Answer,
                    &spans.at(&format!("{path}.pattern")),
                    format!("`{label}.pattern` in {owner} {problem}"),
                ));
            }
        };
        let Some(reply) = entry.reply else {
            return Err(c.err(
                SessionField::Answer,
                &at,
                format!(
                    "`{label}` in {owner} has no `reply`; give the text to send before Enter, \
                     e.g. reply = \"y\" (reply = \"\" sends just Enter)"
                ),
            ));
        };
        // The reply is input text: never shown.
        if reply.contains(['\n', '\r', '\0']) {
            return Err(c.err(
                SessionField::Answer,
                &spans.at(&format!("{path}.reply")),
                format!(
                    "`{label}.reply` in {owner} must be one line: it may not contain a newline \
                     or carriage return, nor a NUL (Enter is sent after it; value not shown)"
                ),
            ));
        }
        let rule = match entry.rule {
            Some(r) if !valid_rule_name(&r) => {
                return Err(c.err(
                    SessionField::Answer,
                    &spans.at(&format!("{path}.rule")),
                    format!(
                        "`{label}.rule` in {owner}: invalid rule name `{}`: {RULE_NAME_RULE}",
                        r.escape_debug()
                    ),
                ));
            }
            other => other,
        };
        rules.push(AnswerRule {
            pattern: compiled,
            reply,
            rule,
        });
    }
    Ok(rules)
}

/// What is wrong with a pattern; its message completes "`FIELD` in OWNER …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BadPattern {
    #[error("must not be empty")]
    Empty,
    #[error("is not a valid regex: {0}")]
    Invalid(String),
}

/// Checks a regex of an answer or an input-wait rule: non-empty, and one
/// the detectors will compile. Returns it compiled.
pub(crate) fn check_pattern(pattern: &str) -> Result<Pattern, BadPattern> {
    if pattern.is_empty() {
        return Err(BadPattern::Empty);
    }
    Pattern::new(pattern).map_err(BadPattern::Invalid)
}

/// `p` joined onto `base_dir` unless it is absolute.
pub(crate) fn resolve(base_dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// True for a POSIX shell variable name: `[A-Za-z_][A-Za-z0-9_]*` (what a
/// remote session's env keys must be: the host's shell sets them).
pub fn is_shell_name(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
