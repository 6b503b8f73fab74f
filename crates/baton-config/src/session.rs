//! The one session checker: every rule a `[[session]]` must satisfy, for a
//! manifest entry and a `spawn` request alike.
//!
//! A caller turns what it was given into a [`SessionDraft`] (each value with
//! where it was written, when it was written in a file) and calls
//! [`check_session`] with the [`SessionRules`] of its context: the manifest
//! passes its directory and hosts inventory, a `spawn` request neither (its
//! workdir must be absolute, and the daemon places its host). The answer is
//! a [`SessionSpec`] or one [`SessionError`] naming the field, the session
//! and, through [`SessionError::at`], the place in the file. Messages never
//! contain an `env` value or an answer's reply: those may be secrets.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hosts::{HOST_NAME_RULE, HostConfig, valid_host_name};
use crate::model::{
    AgentKind, AnswerRule, Backend, HOST_ANY, HOST_LOCAL, OnStall, Pattern, RULE_NAME_RULE,
    SessionId, SessionSpec, StdinMode, valid_rule_name,
};
use crate::worktree::{DraftWorktree, check_worktree};

/// A value as given, with the byte range of the file it was written at
/// (`None` when it did not come from a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub at: Option<Range<usize>>,
}

impl<T> Given<T> {
    /// A value that was not written in a file.
    pub fn new(value: T) -> Given<T> {
        Given { value, at: None }
    }

    /// A value written at `at`.
    pub fn at(value: T, at: Range<usize>) -> Given<T> {
        Given {
            value,
            at: Some(at),
        }
    }
}

/// One `[[session.answer]]` as given.
#[derive(Debug, Clone, Default)]
pub struct DraftAnswer {
    /// Regex matched against the question line.
    pub pattern: Option<Given<String>>,
    /// Text sent before Enter.
    pub reply: Option<Given<String>>,
    /// Only when this input-wait rule matched.
    pub rule: Option<Given<String>>,
}

/// A session as its author gave it, before any check.
#[derive(Debug, Clone)]
pub struct SessionDraft {
    /// Where the session's table starts, for errors about a missing field.
    pub at: Option<Range<usize>>,
    /// The id (a manifest fills in `<agent>-<n>` when it has none).
    pub id: Given<String>,
    /// `None`: `command`.
    pub agent: Option<Given<AgentKind>>,
    /// The task.
    pub prompt: Option<Given<String>>,
    /// The argv of an `agent = "command"` session.
    pub command: Option<Given<Vec<String>>>,
    /// The working directory as written.
    pub workdir: Option<Given<String>>,
    /// Extra environment: each key with where it was written, and its value.
    pub env: Vec<(Given<String>, String)>,
    /// `--model`.
    pub model: Option<Given<String>>,
    /// `--profile` (codex).
    pub profile: Option<Given<String>>,
    /// MCP servers to enable (codex).
    pub mcp_servers: Option<Given<Vec<Given<String>>>>,
    /// Refuse to run on `main`/`master`.
    pub branch_guard: bool,
    /// `pipe` or `null`.
    pub stdin: Option<Given<StdinMode>>,
    /// `None`: the default for where it runs.
    pub backend: Option<Given<Backend>>,
    /// Automatic answers.
    pub answers: Vec<Given<DraftAnswer>>,
    /// Capability tags.
    pub capabilities: Vec<String>,
    /// Overrides `[conductor] max_restarts`.
    pub max_restarts: Option<u32>,
    /// Overrides `[probe] stall_after`.
    pub stall_after: Option<Given<Duration>>,
    /// Overrides `[probe] startup_timeout`.
    pub startup_timeout: Option<Given<Duration>>,
    /// Overrides `[probe] on_stall`.
    pub on_stall: Option<OnStall>,
    /// `local`, `any` or an inventory name.
    pub host: Option<Given<String>>,
    /// `worktree = true` or its table; `None`: `false` or left out.
    pub worktree: Option<Given<DraftWorktree>>,
}

impl SessionDraft {
    /// A draft with id `id` and every other field left out.
    pub fn new(id: Given<String>) -> SessionDraft {
        SessionDraft {
            at: None,
            id,
            agent: None,
            prompt: None,
            command: None,
            workdir: None,
            env: Vec::new(),
            model: None,
            profile: None,
            mcp_servers: None,
            branch_guard: false,
            stdin: None,
            backend: None,
            answers: Vec::new(),
            capabilities: Vec::new(),
            max_restarts: None,
            stall_after: None,
            startup_timeout: None,
            on_stall: None,
            host: None,
            worktree: None,
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
    /// `startup_timeout`
    StartupTimeout,
    /// `host`
    Host,
    /// `worktree`
    Worktree,
}

impl SessionField {
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

    fn nonzero(
        &self,
        field: SessionField,
        v: Option<Given<Duration>>,
    ) -> Result<Option<Duration>, SessionError> {
        match v {
            Some(v) if v.value.is_zero() => Err(self.err(
                field,
                &v.at,
                format!(
                    "`{}` in {} must be greater than zero",
                    field.key(),
                    self.rules.table
                ),
            )),
            Some(v) => Ok(Some(v.value)),
            None => Ok(None),
        }
    }
}

/// Checks one session: the rules every `[[session]]` and every `spawn`
/// request go through.
pub fn check_session(
    draft: SessionDraft,
    rules: &SessionRules<'_>,
) -> Result<SessionSpec, SessionError> {
    let table = rules.table;
    let agent = draft.agent.as_ref().map_or(AgentKind::Command, |a| a.value);
    let id: SessionId = draft
        .id
        .value
        .parse()
        .map_err(|e: crate::model::InvalidSessionId| SessionError {
            field: SessionField::Id,
            at: draft.id.at.clone().or_else(|| draft.at.clone()),
            message: format!("`id` in {table}: {e}"),
        })?;
    let c = Check {
        rules: *rules,
        owner: format!("{table} (`{id}`)"),
        agent_at: draft
            .agent
            .as_ref()
            .and_then(|a| a.at.clone())
            .or_else(|| draft.at.clone()),
    };
    let owner = c.owner.as_str();
    let command = c.command(agent, draft.command)?;
    let prompt = c.prompt(agent, draft.prompt)?;
    let mcp_servers = c.mcp_servers(agent, draft.mcp_servers)?;
    let env = c.env(draft.env)?;
    let model = c.non_empty(SessionField::Model, draft.model)?;
    let profile = c.non_empty(SessionField::Profile, draft.profile)?;
    if draft.capabilities.iter().any(|t| t.contains('\0')) {
        return Err(c.err(
            SessionField::Capabilities,
            &draft.at,
            format!("`capabilities` in {owner} may not contain a NUL character"),
        ));
    }

    let host = check_host(&c, draft.host)?;
    if host.is_some()
        && let Some(key) = env.keys().find(|k| !is_shell_name(k))
    {
        return Err(c.err(
            SessionField::Env,
            &draft.at,
            format!(
                "`env` in {owner} has the key `{}`; a remote session's variables are set by the \
                 host's shell, so each key must be a shell variable name ([A-Za-z_][A-Za-z0-9_]*)",
                key.escape_debug()
            ),
        ));
    }
    let (backend, stdin) = c.backend_and_stdin(draft.backend, draft.stdin, host.as_deref())?;
    let answers = check_answers(&c, draft.answers)?;
    let workdir = c.workdir(draft.workdir, host.as_deref())?;
    let stall_after = c.nonzero(SessionField::StallAfter, draft.stall_after)?;
    let startup_timeout = c.nonzero(SessionField::StartupTimeout, draft.startup_timeout)?;
    let worktree = check_worktree(draft.worktree, &id, owner, host.is_some())?;

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
        branch_guard: draft.branch_guard,
        stdin,
        backend,
        answers,
        capabilities: draft.capabilities,
        max_restarts: draft.max_restarts,
        stall_after,
        startup_timeout,
        on_stall: draft.on_stall,
        host,
        worktree,
    })
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
    answers: Vec<Given<DraftAnswer>>,
) -> Result<Vec<AnswerRule>, SessionError> {
    let owner = &c.owner;
    let mut rules = Vec::with_capacity(answers.len());
    for (i, entry) in answers.into_iter().enumerate() {
        let Given { value: entry, at } = entry;
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
        let compiled = match check_pattern(&pattern.value) {
            Ok(compiled) => compiled,
            Err(problem) => {
                return Err(c.err(
                    SessionField::Answer,
                    &pattern.at,
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
        if reply.value.contains(['\n', '\r', '\0']) {
            return Err(c.err(
                SessionField::Answer,
                &reply.at,
                format!(
                    "`{label}.reply` in {owner} must be one line: it may not contain a newline \
                     or carriage return, nor a NUL (Enter is sent after it; value not shown)"
                ),
            ));
        }
        let rule = match entry.rule {
            Some(r) if !valid_rule_name(&r.value) => {
                return Err(c.err(
                    SessionField::Answer,
                    &r.at,
                    format!(
                        "`{label}.rule` in {owner}: invalid rule name `{}`: {RULE_NAME_RULE}",
                        r.value.escape_debug()
                    ),
                ));
            }
            Some(r) => Some(r.value),
            None => None,
        };
        rules.push(AnswerRule {
            pattern: compiled,
            reply: reply.value,
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
