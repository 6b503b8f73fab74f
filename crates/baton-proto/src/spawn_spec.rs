//! The wire form of a session spec for `spawn`.
//!
//! `baton_config::SessionSpec` is only `Serialize` (its values are meant to
//! come out of a validated manifest), so the protocol carries this mirror and
//! converts it with the manifest's rules. Durations travel as whole
//! milliseconds so that no duration parser is part of the protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use baton_config::{
    AgentKind, AnswerRule, Backend, HOST_ANY, HOST_LOCAL, HOST_NAME_RULE, OnStall, RULE_NAME_RULE,
    SessionId, SessionSpec, StdinMode, valid_host_name, valid_rule_name,
};
use serde::{Deserialize, Serialize};

/// A session to start: the fields of a `[[session]]` manifest entry.
///
/// Every field may be omitted on the wire and takes its manifest default.
/// Converting to a [`SessionSpec`] with `TryFrom` applies the manifest's
/// checks (see [`InvalidSpawn`]); converting from one with `From` is
/// lossless except that durations are rounded up to whole milliseconds.
///
/// `Debug` never shows `env` values, which may be secrets.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnSpec {
    /// Session id; must satisfy [`baton_config::SESSION_ID_RULE`]. Empty
    /// in a `spawn` request: the daemon picks the first free `<agent>-<n>`
    /// (converting an empty id with `TryFrom` still fails).
    pub id: String,
    /// Which CLI to launch (default `command`).
    pub agent: AgentKind,
    /// The task; required (non-blank) for every agent but `command`.
    pub prompt: Option<String>,
    /// The argv; required (non-empty) for `command`, refused for others.
    pub command: Option<Vec<String>>,
    /// Working directory, absolute (a client resolves a relative one against
    /// its own directory); `None`: the daemon's own.
    pub workdir: Option<PathBuf>,
    /// Extra environment. Values may be secrets.
    pub env: BTreeMap<String, String>,
    /// Model name.
    pub model: Option<String>,
    /// Codex profile.
    pub profile: Option<String>,
    /// Codex MCP servers; refused for other agents.
    pub mcp_servers: Vec<String>,
    /// Refuse to start on `main`/`master`.
    pub branch_guard: bool,
    /// Stdin override; `null` is refused on a terminal backend.
    pub stdin: Option<StdinMode>,
    /// Where the process runs (default `pipes`).
    pub backend: Backend,
    /// Auto-answer rules, in priority order.
    pub answers: Vec<SpawnAnswer>,
    /// Free-form capability tags.
    pub capabilities: Vec<String>,
    /// Overrides `[conductor] max_restarts`.
    pub max_restarts: Option<u32>,
    /// Overrides `[probe] stall_after`, in milliseconds; never zero.
    pub stall_after_ms: Option<u64>,
    /// Overrides `[probe] startup_timeout`, in milliseconds; never zero.
    pub startup_timeout_ms: Option<u64>,
    /// Overrides `[probe] on_stall`.
    pub on_stall: Option<OnStall>,
    /// Where the session runs: absent or `"local"`: this machine; `"any"`:
    /// the inventory host with the most free slots; else an inventory host
    /// name (the daemon checks that it is in its inventory). A remote
    /// session runs in tmux: `backend` must be `tmux` or left at its
    /// default, which then means `tmux`.
    pub host: Option<String>,
}

impl fmt::Debug for SpawnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnSpec")
            .field("id", &self.id)
            .field("agent", &self.agent)
            .field("prompt", &self.prompt)
            .field("command", &self.command)
            .field("workdir", &self.workdir)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("model", &self.model)
            .field("profile", &self.profile)
            .field("mcp_servers", &self.mcp_servers)
            .field("branch_guard", &self.branch_guard)
            .field("stdin", &self.stdin)
            .field("backend", &self.backend)
            .field("answers", &self.answers)
            .field("capabilities", &self.capabilities)
            .field("max_restarts", &self.max_restarts)
            .field("stall_after_ms", &self.stall_after_ms)
            .field("startup_timeout_ms", &self.startup_timeout_ms)
            .field("on_stall", &self.on_stall)
            .field("host", &self.host)
            .finish()
    }
}

/// One auto-answer rule (`[[session.answer]]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnAnswer {
    /// Regex matched against the detected question line; non-empty. It is
    /// not compiled here: the daemon must compile it and refuse the spawn
    /// if it does not.
    pub pattern: String,
    /// One line to send (no `\n`/`\r`), without the Enter.
    pub reply: String,
    /// Only when this input-wait rule fired; satisfies
    /// [`baton_config::RULE_NAME_RULE`].
    pub rule: Option<String>,
}

/// A [`SpawnSpec`] that breaks a manifest rule. Names the field; never
/// contains an `env` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid spawn spec: `{field}`: {message}")]
pub struct InvalidSpawn {
    /// The offending field, as named on the wire.
    pub field: &'static str,
    /// What is wrong and, where useful, what would be right.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidSpawn {
    InvalidSpawn {
        field,
        message: message.into(),
    }
}

fn millis(d: Duration) -> u64 {
    // Round up so that a non-zero duration never becomes zero.
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

impl From<SessionSpec> for SpawnSpec {
    fn from(s: SessionSpec) -> SpawnSpec {
        SpawnSpec {
            id: s.id.as_str().to_owned(),
            agent: s.agent,
            prompt: s.prompt,
            command: s.command,
            workdir: s.workdir,
            env: s.env,
            model: s.model,
            profile: s.profile,
            mcp_servers: s.mcp_servers,
            branch_guard: s.branch_guard,
            stdin: s.stdin,
            backend: s.backend,
            answers: s
                .answers
                .into_iter()
                .map(|a| SpawnAnswer {
                    pattern: a.pattern,
                    reply: a.reply,
                    rule: a.rule,
                })
                .collect(),
            capabilities: s.capabilities,
            max_restarts: s.max_restarts,
            stall_after_ms: s.stall_after.map(millis),
            startup_timeout_ms: s.startup_timeout.map(millis),
            on_stall: s.on_stall,
            host: s.host,
        }
    }
}

const NUL: &str = "strings may not contain NUL characters";

fn no_nul(field: &'static str, s: &str) -> Result<(), InvalidSpawn> {
    if s.contains('\0') {
        Err(invalid(field, NUL))
    } else {
        Ok(())
    }
}

fn non_empty(field: &'static str, s: &Option<String>) -> Result<(), InvalidSpawn> {
    match s {
        Some(v) if v.is_empty() => Err(invalid(field, "must not be empty")),
        Some(v) => no_nul(field, v),
        None => Ok(()),
    }
}

fn nonzero(field: &'static str, ms: Option<u64>) -> Result<Option<Duration>, InvalidSpawn> {
    match ms {
        Some(0) => Err(invalid(field, "must be greater than zero")),
        other => Ok(other.map(Duration::from_millis)),
    }
}

impl TryFrom<SpawnSpec> for SessionSpec {
    type Error = InvalidSpawn;

    /// Applies the manifest's checks, except compiling answer patterns.
    fn try_from(s: SpawnSpec) -> Result<SessionSpec, InvalidSpawn> {
        let id: SessionId =
            s.id.parse()
                .map_err(|e: baton_config::InvalidSessionId| invalid("id", e.to_string()))?;
        let agent = s.agent;

        match (&s.command, agent) {
            (Some(argv), AgentKind::Command) => {
                if argv.first().is_none_or(|a| a.is_empty()) {
                    return Err(invalid(
                        "command",
                        "must be a non-empty argv whose first element names a program",
                    ));
                }
                for arg in argv {
                    no_nul("command", arg)?;
                }
            }
            (None, AgentKind::Command) => {
                return Err(invalid(
                    "command",
                    "agent = \"command\" needs an argv such as [\"python3\", \"worker.py\"]",
                ));
            }
            (Some(_), _) => {
                return Err(invalid(
                    "command",
                    format!("is only for agent = \"command\", this session is agent = \"{agent}\""),
                ));
            }
            (None, _) => {}
        }

        match &s.prompt {
            Some(p) if p.trim().is_empty() => return Err(invalid("prompt", "is empty")),
            Some(p) => no_nul("prompt", p)?,
            None if agent.needs_prompt() => {
                return Err(invalid(
                    "prompt",
                    format!("agent = \"{agent}\" needs a prompt"),
                ));
            }
            None => {}
        }

        if !s.mcp_servers.is_empty() && agent != AgentKind::Codex {
            return Err(invalid(
                "mcp_servers",
                format!("is only supported for agent = \"codex\", this session is \"{agent}\""),
            ));
        }
        for name in &s.mcp_servers {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            if !ok {
                return Err(invalid(
                    "mcp_servers",
                    format!(
                        "invalid server name `{}`; use ASCII letters, digits, '_' and '-'",
                        name.escape_debug()
                    ),
                ));
            }
        }

        if let Some(dir) = &s.workdir {
            if !dir.is_absolute() {
                return Err(invalid(
                    "workdir",
                    format!("`{}` is not an absolute path", dir.display()),
                ));
            }
            if dir.as_os_str().as_encoded_bytes().contains(&0) {
                return Err(invalid("workdir", NUL));
            }
        }

        for (key, value) in &s.env {
            if key.is_empty() {
                return Err(invalid("env", "a key is empty"));
            }
            if key.contains('=') {
                return Err(invalid(
                    "env",
                    format!("key `{}` contains '='", key.escape_debug()),
                ));
            }
            no_nul("env", key)?;
            if value.contains('\0') {
                return Err(invalid(
                    "env",
                    format!(
                        "the value of `{}` contains a NUL character (value not shown)",
                        key.escape_debug()
                    ),
                ));
            }
        }

        non_empty("model", &s.model)?;
        non_empty("profile", &s.profile)?;
        for tag in &s.capabilities {
            no_nul("capabilities", tag)?;
        }

        let host = match s.host {
            None => None,
            Some(h) if h == HOST_LOCAL => None,
            Some(h) if h == HOST_ANY || valid_host_name(&h) => Some(h),
            Some(h) if h.is_empty() => {
                return Err(invalid(
                    "host",
                    "must not be empty; leave it out for a session on this machine",
                ));
            }
            Some(h) => {
                return Err(invalid(
                    "host",
                    format!("`{}`: {HOST_NAME_RULE}", h.escape_debug()),
                ));
            }
        };
        // `pipes` is also what an omitted `backend` decodes to, so it means
        // "the default", which for a remote session is tmux.
        let backend = match (&host, s.backend) {
            (Some(_), Backend::Pipes | Backend::Tmux) => Backend::Tmux,
            (Some(h), other) => {
                return Err(invalid(
                    "backend",
                    format!(
                        "is \"{other}\" but the session runs on host `{h}`: remote sessions \
                         run in tmux"
                    ),
                ));
            }
            (None, b) => b,
        };
        if s.stdin == Some(StdinMode::Null) && backend.is_terminal() {
            return Err(invalid(
                "stdin",
                format!("is \"null\" but `backend` is \"{backend}\": a terminal always has input"),
            ));
        }

        let mut answers = Vec::with_capacity(s.answers.len());
        for a in s.answers {
            if a.pattern.is_empty() {
                return Err(invalid("answers", "a pattern is empty"));
            }
            no_nul("answers", &a.pattern)?;
            if a.reply.contains(['\n', '\r', '\0']) {
                return Err(invalid(
                    "answers",
                    "a reply must be one line without NUL, `\\n` or `\\r`",
                ));
            }
            if let Some(rule) = &a.rule
                && !valid_rule_name(rule)
            {
                return Err(invalid(
                    "answers",
                    format!("rule `{}`: {RULE_NAME_RULE}", rule.escape_debug()),
                ));
            }
            answers.push(AnswerRule {
                pattern: a.pattern,
                reply: a.reply,
                rule: a.rule,
            });
        }

        let stall_after = nonzero("stall_after_ms", s.stall_after_ms)?;
        let startup_timeout = nonzero("startup_timeout_ms", s.startup_timeout_ms)?;

        Ok(SessionSpec {
            id,
            agent,
            prompt: s.prompt,
            command: s.command,
            workdir: s.workdir,
            env: s.env,
            model: s.model,
            profile: s.profile,
            mcp_servers: s.mcp_servers,
            branch_guard: s.branch_guard,
            stdin: s.stdin,
            backend,
            answers,
            capabilities: s.capabilities,
            max_restarts: s.max_restarts,
            stall_after,
            startup_timeout,
            on_stall: s.on_stall,
            host,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command_spec() -> SpawnSpec {
        SpawnSpec {
            id: "w1".into(),
            command: Some(vec!["echo".into(), "hi".into()]),
            ..SpawnSpec::default()
        }
    }

    #[test]
    fn a_session_spec_survives_the_wire_form() {
        let mut spec = SessionSpec::command(
            "w1".parse().unwrap(),
            vec!["python3".into(), "worker.py".into()],
        );
        spec.workdir = Some("/tmp/work".into());
        spec.env.insert("TOKEN".into(), "secret".into());
        spec.capabilities = vec!["rust".into()];
        spec.stall_after = Some(Duration::from_secs(90));
        spec.startup_timeout = Some(Duration::from_millis(1500));
        spec.on_stall = Some(OnStall::Restart);
        spec.answers.push(AnswerRule {
            pattern: "cargo test".into(),
            reply: "y".into(),
            rule: Some("yes_no".into()),
        });
        let back = SessionSpec::try_from(SpawnSpec::from(spec.clone())).unwrap();
        assert_eq!(back, spec);

        let mut codex = SessionSpec::command("c1".parse().unwrap(), vec![]);
        codex.agent = AgentKind::Codex;
        codex.command = None;
        codex.prompt = Some("fix the bug".into());
        codex.mcp_servers = vec!["git-hub_1".into()];
        codex.backend = Backend::Pty;
        codex.stdin = Some(StdinMode::Pipe);
        let back = SessionSpec::try_from(SpawnSpec::from(codex.clone())).unwrap();
        assert_eq!(back, codex);

        let mut remote = SessionSpec::command("r1".parse().unwrap(), vec!["true".into()]);
        remote.host = Some("gpu-1".into());
        remote.backend = Backend::Tmux;
        remote.workdir = None;
        let back = SessionSpec::try_from(SpawnSpec::from(remote.clone())).unwrap();
        assert_eq!(back, remote);
    }

    #[test]
    fn host_placement_and_its_backend() {
        // (host on the wire, backend on the wire) -> (host, backend) after conversion
        let cases: &[(Option<&str>, Backend, Option<&str>, Backend)] = &[
            (None, Backend::Pipes, None, Backend::Pipes),
            (None, Backend::Pty, None, Backend::Pty),
            (Some("local"), Backend::Pty, None, Backend::Pty),
            (Some("gpu-1"), Backend::Pipes, Some("gpu-1"), Backend::Tmux),
            (Some("gpu-1"), Backend::Tmux, Some("gpu-1"), Backend::Tmux),
            (Some("any"), Backend::Pipes, Some("any"), Backend::Tmux),
        ];
        for (host, backend, want_host, want_backend) in cases {
            let spec = SpawnSpec {
                host: host.map(str::to_owned),
                backend: *backend,
                ..command_spec()
            };
            let session = SessionSpec::try_from(spec).unwrap();
            assert_eq!(session.host.as_deref(), *want_host, "{host:?}");
            assert_eq!(session.backend, *want_backend, "{host:?} {backend}");
        }
        // A wire spec without the field (an older client) is local.
        let spec: SpawnSpec = serde_json::from_str(r#"{"id":"w1","command":["true"]}"#).unwrap();
        assert_eq!(spec.host, None);
    }

    #[test]
    fn sub_millisecond_durations_round_up() {
        assert_eq!(millis(Duration::from_nanos(1)), 1);
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(Duration::from_secs(2)), 2000);
    }

    #[test]
    fn omitted_fields_take_manifest_defaults() {
        let spec: SpawnSpec =
            serde_json::from_str(r#"{"id":"w1","command":["true"],"future_field":1}"#).unwrap();
        let session = SessionSpec::try_from(spec).unwrap();
        assert_eq!(
            session,
            SessionSpec::command("w1".parse().unwrap(), vec!["true".into()])
        );
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        type Edit = fn(&mut SpawnSpec);
        let cases: &[(&str, Edit, &str)] = &[
            ("bad id", |s| s.id = "-x".into(), "id"),
            ("empty id", |s| s.id = String::new(), "id"),
            ("no command", |s| s.command = None, "command"),
            ("empty argv", |s| s.command = Some(vec![]), "command"),
            (
                "empty program",
                |s| s.command = Some(vec![String::new()]),
                "command",
            ),
            (
                "nul in argv",
                |s| s.command = Some(vec!["a\0b".into()]),
                "command",
            ),
            (
                "command for codex",
                |s| {
                    s.agent = AgentKind::Codex;
                    s.prompt = Some("x".into());
                },
                "command",
            ),
            (
                "codex without prompt",
                |s| {
                    s.agent = AgentKind::Codex;
                    s.command = None;
                },
                "prompt",
            ),
            ("blank prompt", |s| s.prompt = Some("  ".into()), "prompt"),
            (
                "mcp for command",
                |s| s.mcp_servers = vec!["x".into()],
                "mcp_servers",
            ),
            (
                "relative workdir",
                |s| s.workdir = Some("rel".into()),
                "workdir",
            ),
            (
                "env key with =",
                |s| {
                    s.env.insert("A=B".into(), "v".into());
                },
                "env",
            ),
            (
                "empty env key",
                |s| {
                    s.env.insert(String::new(), "v".into());
                },
                "env",
            ),
            ("empty model", |s| s.model = Some(String::new()), "model"),
            (
                "null stdin on pty",
                |s| {
                    s.stdin = Some(StdinMode::Null);
                    s.backend = Backend::Pty;
                },
                "stdin",
            ),
            (
                "two-line reply",
                |s| {
                    s.answers = vec![SpawnAnswer {
                        pattern: "x".into(),
                        reply: "a\nb".into(),
                        rule: None,
                    }]
                },
                "answers",
            ),
            (
                "bad rule name",
                |s| {
                    s.answers = vec![SpawnAnswer {
                        pattern: "x".into(),
                        reply: "y".into(),
                        rule: Some("Yes".into()),
                    }]
                },
                "answers",
            ),
            ("empty host", |s| s.host = Some(String::new()), "host"),
            ("bad host name", |s| s.host = Some("a b".into()), "host"),
            (
                "host with a shell word",
                |s| s.host = Some("$(reboot)".into()),
                "host",
            ),
            (
                "pty on a remote host",
                |s| {
                    s.host = Some("gpu".into());
                    s.backend = Backend::Pty;
                },
                "backend",
            ),
            (
                "null stdin on a remote host",
                |s| {
                    s.host = Some("gpu".into());
                    s.stdin = Some(StdinMode::Null);
                },
                "stdin",
            ),
            (
                "zero stall",
                |s| s.stall_after_ms = Some(0),
                "stall_after_ms",
            ),
            (
                "zero startup",
                |s| s.startup_timeout_ms = Some(0),
                "startup_timeout_ms",
            ),
        ];
        for (name, edit, field) in cases {
            let mut spec = command_spec();
            edit(&mut spec);
            let err = SessionSpec::try_from(spec).expect_err(name);
            assert_eq!(err.field, *field, "{name}: {err}");
        }
    }

    #[test]
    fn env_values_never_appear_in_errors_or_debug() {
        let mut spec = command_spec();
        spec.env.insert("TOKEN".into(), "hunter2\0".into());
        assert!(!format!("{spec:?}").contains("hunter2"));
        let err = SessionSpec::try_from(spec).unwrap_err();
        assert_eq!(err.field, "env");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
