//! A spawn request's spec (the wire form, `baton_proto::SpawnSpec`) as a
//! session: checked by the one session checker, in the words a manifest
//! entry would get, and the way back for a spec a daemon saves.
//!
//! The wire's enums are the protocol's own; each maps to and from ours
//! with an exhaustive `match`, so a variant added here does not compile
//! until the protocol has its name, and a rename here never changes what
//! goes on the wire (its names are pinned in `baton-proto`).

use std::collections::BTreeMap;
use std::time::Duration;

use baton_proto::{
    SpawnAgent, SpawnAnswer, SpawnBackend, SpawnOnStall, SpawnSpec, SpawnStdin, SpawnWorktree,
};

use crate::hosts::HostConfig;
use crate::model::{AgentKind, Backend, OnStall, SessionSpec, StdinMode};
use crate::session::{DraftAnswer, Given, SessionDraft, SessionField, SessionRules, check_session};
use crate::worktree::DraftWorktree;

/// One enum both ways, variant by variant.
macro_rules! same_names {
    ($ours:ident <=> $wire:ident { $($variant:ident),+ $(,)? }) => {
        impl From<$ours> for $wire {
            fn from(v: $ours) -> $wire {
                match v {
                    $( $ours::$variant => $wire::$variant, )+
                }
            }
        }

        impl From<$wire> for $ours {
            fn from(v: $wire) -> $ours {
                match v {
                    $( $wire::$variant => $ours::$variant, )+
                }
            }
        }
    };
}

same_names!(AgentKind <=> SpawnAgent { Codex, Gemini, Claude, Command });

impl From<Backend> for SpawnBackend {
    fn from(b: Backend) -> SpawnBackend {
        match b {
            Backend::Pipes => SpawnBackend::Pipes,
            Backend::Pty => SpawnBackend::Pty,
            Backend::Tmux => SpawnBackend::Tmux,
            Backend::Custom(name) => SpawnBackend::Named(name),
        }
    }
}
same_names!(OnStall <=> SpawnOnStall { Mark, Restart });
same_names!(StdinMode <=> SpawnStdin { Pipe, Null });

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
            agent: s.agent.into(),
            prompt: s.prompt,
            command: s.command,
            workdir: s.workdir,
            env: s.env,
            model: s.model,
            profile: s.profile,
            mcp_servers: s.mcp_servers,
            branch_guard: s.branch_guard,
            stdin: s.stdin.map(Into::into),
            backend: s.backend.into(),
            answers: s
                .answers
                .into_iter()
                .map(|a| SpawnAnswer {
                    pattern: a.pattern.as_str().to_owned(),
                    reply: a.reply,
                    rule: a.rule,
                })
                .collect(),
            capabilities: s.capabilities,
            max_restarts: s.max_restarts,
            stall_after_ms: s.stall_after.map(millis),
            startup_timeout_ms: s.startup_timeout.map(millis),
            on_stall: s.on_stall.map(Into::into),
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

    /// [`check_spawn`] without an inventory: a host or backend name is
    /// only checked for its form.
    fn try_from(s: SpawnSpec) -> Result<SessionSpec, InvalidSpawn> {
        check_spawn(s, None, None)
    }
}

/// Checks a spawn request's spec with the one session checker, as a
/// manifest entry would be, except that a workdir must be absolute (there
/// is no manifest directory to join it onto). A `host` must be in `hosts`
/// when given; without it only the name's form is checked. A spec read
/// from a file (its `origin`) is refused naming that file and line.
pub fn check_spawn(
    spec: SpawnSpec,
    hosts: Option<&BTreeMap<String, HostConfig>>,
    backends: Option<&[String]>,
) -> Result<SessionSpec, InvalidSpawn> {
    {
        let s = spec;
        let origin = s.origin;
        let table = match &origin {
            Some(o) => format!("the [[session]] of {}", o.file),
            None => "the spawn request".to_owned(),
        };
        let at_line = |field: SessionField, message: String| {
            let line = origin
                .as_ref()
                .and_then(|o| Some((&o.file, o.lines.get(field.key())?)));
            InvalidSpawn {
                field: wire_field(field),
                message: match line {
                    Some((file, line)) => format!("{file}:{line}: {message}"),
                    None => message,
                },
            }
        };
        // `pipes` is also what an omitted `backend` decodes to, so it
        // means "the default", which for a remote session is tmux.
        let backend = match s.backend {
            SpawnBackend::Pipes => None,
            SpawnBackend::Pty => Some(Backend::Pty),
            SpawnBackend::Tmux => Some(Backend::Tmux),
            SpawnBackend::Named(name) => Some(
                Backend::named(&name)
                    .map_err(|e| at_line(SessionField::Backend, format!("`backend`: {e}")))?,
            ),
        };
        let text = |v: Option<String>| v.map(Given::new);
        let draft = SessionDraft {
            agent: Some(Given::new(s.agent.into())),
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
            stdin: s.stdin.map(|v| Given::new(v.into())),
            backend: backend.map(Given::new),
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
            on_stall: s.on_stall.map(Into::into),
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
            backends,
        };
        check_session(draft, &rules).map_err(|e| at_line(e.field, e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AnswerRule;

    fn command_spec() -> SpawnSpec {
        SpawnSpec {
            id: "w1".into(),
            command: Some(vec!["echo".into(), "hi".into()]),
            ..SpawnSpec::default()
        }
    }

    trait PipeCheck {
        fn pipe_check(
            self,
            hosts: Option<&BTreeMap<String, HostConfig>>,
        ) -> Result<SessionSpec, InvalidSpawn>;
    }

    impl PipeCheck for SpawnSpec {
        fn pipe_check(
            self,
            hosts: Option<&BTreeMap<String, HostConfig>>,
        ) -> Result<SessionSpec, InvalidSpawn> {
            check_spawn(self, hosts, Some(&[]))
        }
    }

    #[test]
    fn every_name_is_the_same_on_the_wire_and_in_a_manifest() {
        for agent in AgentKind::ALL {
            assert_eq!(SpawnAgent::from(*agent).as_str(), agent.as_str());
        }
        for backend in Backend::BUILT_IN {
            assert_eq!(
                SpawnBackend::from(backend.clone()).as_str(),
                backend.as_str()
            );
        }
        let custom = Backend::Custom("microvm".into());
        assert_eq!(SpawnBackend::from(custom).as_str(), "microvm");
        for policy in OnStall::ALL {
            assert_eq!(SpawnOnStall::from(*policy).as_str(), policy.as_str());
        }
        for stdin in StdinMode::ALL {
            assert_eq!(SpawnStdin::from(*stdin).as_str(), stdin.as_str());
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
            pattern: "cargo test".parse().unwrap(),
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
        isolated.worktree = Some(crate::WorktreeSpec {
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
                backend: backend.clone().into(),
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
            origin: Some(baton_proto::SpawnOrigin {
                file: "jobs/s.toml".into(),
                lines: [("host".to_owned(), 4), ("id".to_owned(), 2)].into(),
            }),
            ..command_spec()
        };
        let err = spec.clone().pipe_check(Some(&hosts)).unwrap_err();
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
            origin: Some(baton_proto::SpawnOrigin {
                file: "s.toml".into(),
                lines: BTreeMap::new(),
            }),
            ..spec
        }
        .pipe_check(Some(&hosts))
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
                    s.agent = SpawnAgent::Codex;
                    s.prompt = Some("x".into());
                },
                "command",
            ),
            (
                "codex without prompt",
                |s| {
                    s.agent = SpawnAgent::Codex;
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
                    s.stdin = Some(SpawnStdin::Null);
                    s.backend = SpawnBackend::Pty;
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
                    s.backend = SpawnBackend::Pty;
                },
                "backend",
            ),
            (
                "null stdin on a remote host",
                |s| {
                    s.host = Some("gpu".into());
                    s.stdin = Some(SpawnStdin::Null);
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
                    s.agent = SpawnAgent::Claude;
                    s.command = None;
                    s.prompt = Some("p".into());
                    s.mcp_servers = vec!["gh".into()];
                },
            ),
            (
                "command = [\"true\"]\nbackend = \"pty\"\nstdin = \"null\"",
                "stdin",
                |s| {
                    s.backend = SpawnBackend::Pty;
                    s.stdin = Some(SpawnStdin::Null);
                },
            ),
            ("command = [\"true\"]\nmodel = \"\"", "model", |s| {
                s.model = Some(String::new())
            }),
        ];
        for (toml, field, edit) in cases {
            let text = format!("[[session]]\nid = \"w1\"\n{toml}\n");
            let from_file = crate::Manifest::parse(&text, None, base)
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
