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
    AgentKind, Backend, DraftAnswer, DraftWorktree, Given, HostConfig, OnStall, SessionDraft,
    SessionField, SessionRules, SessionSpec, StdinMode, check_session,
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
    /// Run in a git worktree of its own on its own branch; `None`: in
    /// `workdir` itself. Local sessions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<SpawnWorktree>,
    /// The session file the spec was read from (`baton spawn --file`), so
    /// that a refusal by the daemon — which alone checks what it owns, such
    /// as the hosts inventory — names the file and line of the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<SpawnOrigin>,
}

/// Where a spec was written: a file, and the 1-based line of each key of
/// its session table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnOrigin {
    /// The file as the client named it.
    pub file: String,
    /// Line of each key, by the key's manifest name (`host`, `workdir`…).
    pub lines: BTreeMap<String, u32>,
}

/// A session's `worktree` (the manifest's `worktree = true` is all fields left out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnWorktree {
    /// The commit the branch starts from (default: the repository's `HEAD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The branch (default `baton/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Argv run once in the new worktree before the first run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Vec<String>>,
    /// Untracked paths, relative to the repository's top level, copied in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<String>,
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
            .field("worktree", &self.worktree)
            .field("origin", &self.origin)
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
#[error("invalid spawn spec: {message}")]
pub struct InvalidSpawn {
    /// The offending field, as named on the wire.
    pub field: &'static str,
    /// What is wrong and, where useful, what would be right.
    pub message: String,
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
            worktree: s.worktree.map(|w| SpawnWorktree {
                base: w.base,
                branch: w.branch,
                setup: w.setup,
                copy: w
                    .copy
                    .into_iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect(),
            }),
            origin: None,
        }
    }
}

/// The wire name of a field the session checker refused.
fn wire_field(field: SessionField) -> &'static str {
    match field {
        SessionField::StallAfter => "stall_after_ms",
        SessionField::StartupTimeout => "startup_timeout_ms",
        SessionField::Answer => "answers",
        other => other.key(),
    }
}

impl TryFrom<SpawnSpec> for SessionSpec {
    type Error = InvalidSpawn;

    /// [`SpawnSpec::check`] without an inventory: a host name is only
    /// checked for its form.
    fn try_from(s: SpawnSpec) -> Result<SessionSpec, InvalidSpawn> {
        s.check(None)
    }
}

impl SpawnSpec {
    /// Checks the spec with the one session checker, as a manifest entry
    /// would be, except that a workdir must be absolute (there is no
    /// manifest directory to join it onto). A `host` must be in `hosts`
    /// when given; without it only the name's form is checked.
    pub fn check(
        self,
        hosts: Option<&BTreeMap<String, HostConfig>>,
    ) -> Result<SessionSpec, InvalidSpawn> {
        let s = self;
        let origin = s.origin;
        let table = match &origin {
            Some(o) => format!("the [[session]] of {}", o.file),
            None => "the spawn request".to_owned(),
        };
        let text = |v: Option<String>| v.map(Given::new);
        let draft = SessionDraft {
            agent: Some(Given::new(s.agent)),
            prompt: text(s.prompt),
            command: s.command.map(Given::new),
            workdir: s
                .workdir
                .map(|w| Given::new(w.to_string_lossy().into_owned())),
            env: s.env.into_iter().map(|(k, v)| (Given::new(k), v)).collect(),
            model: text(s.model),
            profile: text(s.profile),
            mcp_servers: (!s.mcp_servers.is_empty())
                .then(|| Given::new(s.mcp_servers.into_iter().map(Given::new).collect())),
            branch_guard: s.branch_guard,
            stdin: s.stdin.map(Given::new),
            // `pipes` is also what an omitted `backend` decodes to, so it
            // means "the default", which for a remote session is tmux.
            backend: (s.backend != Backend::Pipes).then(|| Given::new(s.backend)),
            answers: s
                .answers
                .into_iter()
                .map(|a| {
                    Given::new(DraftAnswer {
                        pattern: Some(Given::new(a.pattern)),
                        reply: Some(Given::new(a.reply)),
                        rule: a.rule.map(Given::new),
                    })
                })
                .collect(),
            capabilities: s.capabilities,
            max_restarts: s.max_restarts,
            stall_after: s
                .stall_after_ms
                .map(|ms| Given::new(Duration::from_millis(ms))),
            startup_timeout: s
                .startup_timeout_ms
                .map(|ms| Given::new(Duration::from_millis(ms))),
            on_stall: s.on_stall,
            host: text(s.host),
            worktree: s.worktree.map(|w| {
                Given::new(DraftWorktree {
                    base: text(w.base),
                    branch: text(w.branch),
                    setup: w.setup.map(Given::new),
                    copy: w.copy.into_iter().map(Given::new).collect(),
                })
            }),
            ..SessionDraft::new(Given::new(s.id))
        };
        let rules = SessionRules {
            table: &table,
            base_dir: None,
            hosts,
        };
        check_session(draft, &rules).map_err(|e| {
            let line = origin
                .as_ref()
                .and_then(|o| Some((&o.file, o.lines.get(e.field.key())?)));
            InvalidSpawn {
                field: wire_field(e.field),
                message: match line {
                    Some((file, line)) => format!("{file}:{line}: {}", e.message),
                    None => e.message,
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_config::AnswerRule;

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

        let mut isolated = SessionSpec::command("i1".parse().unwrap(), vec!["true".into()]);
        isolated.workdir = Some("/repo/sub".into());
        isolated.worktree = Some(baton_config::WorktreeSpec {
            base: Some("origin/main".into()),
            branch: Some("agents/i1".into()),
            setup: Some(vec!["npm".into(), "ci".into()]),
            copy: vec![".env".into(), "config/local.toml".into()],
        });
        let back = SessionSpec::try_from(SpawnSpec::from(isolated.clone())).unwrap();
        assert_eq!(back, isolated);
        let wire = serde_json::to_string(&SpawnSpec::from(isolated)).unwrap();
        let back: SpawnSpec = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.worktree.unwrap().copy, [".env", "config/local.toml"]);
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
    fn a_refusal_of_a_spec_read_from_a_file_names_its_file_and_line() {
        let hosts = BTreeMap::new();
        let spec = SpawnSpec {
            host: Some("box".into()),
            origin: Some(SpawnOrigin {
                file: "jobs/s.toml".into(),
                lines: [("host".to_owned(), 4), ("id".to_owned(), 2)].into(),
            }),
            ..command_spec()
        };
        let err = spec.clone().check(Some(&hosts)).unwrap_err();
        assert_eq!(err.field, "host");
        assert!(
            err.message.starts_with("jobs/s.toml:4: ")
                && err.message.contains("the [[session]] of jobs/s.toml"),
            "{}",
            err.message
        );
        // A field the file did not write (here: the id given by a flag)
        // is named without a line.
        let err = SpawnSpec {
            id: "-x".into(),
            origin: Some(SpawnOrigin {
                file: "s.toml".into(),
                lines: BTreeMap::new(),
            }),
            ..spec
        }
        .check(Some(&hosts))
        .unwrap_err();
        assert!(err.message.starts_with("`id`"), "{}", err.message);
        // On the wire, a spec without an origin has no such field.
        let wire = serde_json::to_value(command_spec()).unwrap();
        assert!(wire.get("origin").is_none(), "{wire}");
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

    #[test]
    fn a_bad_answer_regex_is_refused_at_the_door() {
        let mut spec = command_spec();
        spec.answers = vec![SpawnAnswer {
            pattern: "(unclosed".into(),
            reply: "y".into(),
            rule: None,
        }];
        let err = SessionSpec::try_from(spec).expect_err("a regex that does not compile");
        assert_eq!(err.field, "answers");
        assert!(err.message.contains("is not a valid regex"), "{err}");
    }

    /// A manifest entry and a spawn request that break the same rule get
    /// the same words: one checker, only the name of the table differs.
    #[test]
    fn a_manifest_and_a_spawn_request_break_a_rule_in_the_same_words() {
        let base = std::path::Path::new("/work");
        type Edit = fn(&mut SpawnSpec);
        let cases: &[(&str, &str, Edit)] = &[
            (
                "mcp_servers = [\"gh\"]\nagent = \"claude\"\nprompt = \"p\"",
                "mcp_servers",
                |s| {
                    s.agent = AgentKind::Claude;
                    s.command = None;
                    s.prompt = Some("p".into());
                    s.mcp_servers = vec!["gh".into()];
                },
            ),
            (
                "command = [\"true\"]\nbackend = \"pty\"\nstdin = \"null\"",
                "stdin",
                |s| {
                    s.backend = Backend::Pty;
                    s.stdin = Some(StdinMode::Null);
                },
            ),
            ("command = [\"true\"]\nmodel = \"\"", "model", |s| {
                s.model = Some(String::new())
            }),
        ];
        for (toml, field, edit) in cases {
            let text = format!("[[session]]\nid = \"w1\"\n{toml}\n");
            let from_file = baton_config::Manifest::parse(&text, None, base)
                .expect_err(field)
                .message();
            let mut spec = command_spec();
            edit(&mut spec);
            let from_wire = SessionSpec::try_from(spec).expect_err(field);
            assert_eq!(from_wire.field, *field);
            assert_eq!(
                from_file.replace("[[session]] #1", "the spawn request"),
                from_wire.message,
                "{field}"
            );
        }
    }
}
