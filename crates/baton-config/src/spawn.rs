//! A spawn request's session (the raw table, `baton_proto::SpawnSpec`)
//! through the one session checker, in the words a manifest entry would
//! get, and the names of the protocol's enums.
//!
//! The wire's enums are the protocol's own; each maps to and from ours
//! with an exhaustive `match`, so a variant added here does not compile
//! until the protocol has its name, and a rename here never changes what
//! goes on the wire (its names are pinned in `baton-proto`).

use std::collections::BTreeMap;

use baton_proto::{SpawnAgent, SpawnBackend, SpawnOnStall, SpawnOrigin, SpawnSpec, SpawnStdin};

use crate::hosts::HostConfig;
use crate::model::{AgentKind, Backend, OnStall, SessionSpec, StdinMode};
use crate::session::{SessionRules, Spans, check_session, to_table};

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
same_names!(OnStall <=> SpawnOnStall { Mark, Restart });
same_names!(StdinMode <=> SpawnStdin { Pipe, Null });

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

/// A [`SpawnSpec`] that breaks a manifest rule. Names the field; never
/// contains an `env` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid spawn spec: {message}")]
pub struct InvalidSpawn {
    /// The offending field, by its key (`host`, `answer`…).
    pub field: &'static str,
    /// What is wrong and, where useful, what would be right.
    pub message: String,
}

impl From<SessionSpec> for SpawnSpec {
    fn from(s: SessionSpec) -> SpawnSpec {
        to_table(s)
    }
}

impl TryFrom<SpawnSpec> for SessionSpec {
    type Error = InvalidSpawn;

    /// [`check_spawn`] without an inventory or registry: a host or backend
    /// name is only checked for its form.
    fn try_from(s: SpawnSpec) -> Result<SessionSpec, InvalidSpawn> {
        check_spawn(s, None, None, None)
    }
}

/// Checks a spawn request's session with the one session checker, as a
/// manifest entry would be, except that a workdir must be absolute (there
/// is no manifest directory to join it onto). A `host` must be in `hosts`
/// and a custom `backend` in `backends` when they are given; without them
/// only the names' form is checked. A session read from a file (its
/// `origin`) is refused naming that file and the line of the field.
pub fn check_spawn(
    spec: SpawnSpec,
    origin: Option<&SpawnOrigin>,
    hosts: Option<&BTreeMap<String, HostConfig>>,
    backends: Option<&[String]>,
) -> Result<SessionSpec, InvalidSpawn> {
    let table = match origin {
        Some(o) => format!("the [[session]] of {}", o.file),
        None => "the spawn request".to_owned(),
    };
    let rules = SessionRules {
        table: &table,
        base_dir: None,
        hosts,
        backends,
    };
    check_session(spec, &rules, &Spans::default()).map_err(|e| {
        let line = origin.and_then(|o| Some((&o.file, o.lines.get(e.field.key())?)));
        InvalidSpawn {
            field: e.field.key(),
            message: match line {
                Some((file, line)) => format!("{file}:{line}: {}", e.message),
                None => e.message,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use baton_proto::{SpawnAnswer, SpawnCommand};

    use super::*;
    use crate::model::AnswerRule;

    fn argv(words: &[&str]) -> Option<SpawnCommand> {
        Some(SpawnCommand::Argv(
            words.iter().map(|w| (*w).to_owned()).collect(),
        ))
    }

    fn command_spec() -> SpawnSpec {
        SpawnSpec {
            id: Some("w1".into()),
            command: argv(&["echo", "hi"]),
            ..SpawnSpec::default()
        }
    }

    fn answer(pattern: &str, reply: &str, rule: Option<&str>) -> SpawnAnswer {
        SpawnAnswer {
            pattern: Some(pattern.into()),
            reply: Some(reply.into()),
            rule: rule.map(str::to_owned),
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

        // Durations travel as text that reads back to the same duration.
        let mut odd = SessionSpec::command("d1".parse().unwrap(), vec!["true".into()]);
        odd.stall_after = Some(Duration::from_micros(1_500_250));
        odd.input_wait_after = Some(Duration::from_millis(2_500));
        let back = SessionSpec::try_from(SpawnSpec::from(odd.clone())).unwrap();
        assert_eq!(back, odd);
        // Zero turns early judging off for the session: it travels too.
        odd.input_wait_after = Some(Duration::ZERO);
        let back = SessionSpec::try_from(SpawnSpec::from(odd.clone())).unwrap();
        assert_eq!(back, odd);
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
            // `pipes` is what a client leaves out.
            let spec = SpawnSpec {
                host: host.map(str::to_owned),
                backend: (*backend != Backend::Pipes).then(|| backend.clone().into()),
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
            ..command_spec()
        };
        let origin = baton_proto::SpawnOrigin {
            file: "jobs/s.toml".into(),
            lines: [("host".to_owned(), 4), ("id".to_owned(), 2)].into(),
        };
        let err = check_spawn(spec.clone(), Some(&origin), Some(&hosts), Some(&[])).unwrap_err();
        assert_eq!(err.field, "host");
        assert!(
            err.message.starts_with("jobs/s.toml:4: ")
                && err.message.contains("the [[session]] of jobs/s.toml"),
            "{}",
            err.message
        );
        // A field the file did not write (here: the id given by a flag)
        // is named without a line.
        let bare = baton_proto::SpawnOrigin {
            file: "s.toml".into(),
            lines: BTreeMap::new(),
        };
        let err = check_spawn(
            SpawnSpec {
                id: Some("-x".into()),
                ..spec
            },
            Some(&bare),
            Some(&hosts),
            Some(&[]),
        )
        .unwrap_err();
        assert!(err.message.starts_with("`id`"), "{}", err.message);
    }

    #[test]
    fn omitted_fields_take_manifest_defaults_and_unknown_ones_are_refused() {
        let spec: SpawnSpec = serde_json::from_str(r#"{"id":"w1","command":["true"]}"#).unwrap();
        let session = SessionSpec::try_from(spec).unwrap();
        assert_eq!(
            session,
            SessionSpec::command("w1".parse().unwrap(), vec!["true".into()])
        );
        let future = serde_json::from_str::<SpawnSpec>(r#"{"id":"w1","future_field":1}"#);
        assert!(
            future
                .unwrap_err()
                .to_string()
                .contains("unknown field `future_field`")
        );
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        type Edit = fn(&mut SpawnSpec);
        let cases: &[(&str, Edit, &str)] = &[
            ("bad id", |s| s.id = Some("-x".into()), "id"),
            ("empty id", |s| s.id = Some(String::new()), "id"),
            ("no id", |s| s.id = None, "id"),
            ("no command", |s| s.command = None, "command"),
            ("empty argv", |s| s.command = argv(&[]), "command"),
            ("empty program", |s| s.command = argv(&[""]), "command"),
            ("nul in argv", |s| s.command = argv(&["a\0b"]), "command"),
            (
                "unsplittable command string",
                |s| s.command = Some(SpawnCommand::Line("echo 'open".into())),
                "command",
            ),
            (
                "command for codex",
                |s| {
                    s.agent = Some(SpawnAgent::Codex);
                    s.prompt = Some("x".into());
                },
                "command",
            ),
            (
                "codex without prompt",
                |s| {
                    s.agent = Some(SpawnAgent::Codex);
                    s.command = None;
                },
                "prompt",
            ),
            ("blank prompt", |s| s.prompt = Some("  ".into()), "prompt"),
            (
                "mcp for command",
                |s| s.mcp_servers = Some(vec!["x".into()]),
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
                    s.backend = Some(SpawnBackend::Pty);
                },
                "stdin",
            ),
            (
                "two-line reply",
                |s| s.answers = vec![answer("x", "a\nb", None)],
                "answer",
            ),
            (
                "bad rule name",
                |s| s.answers = vec![answer("x", "y", Some("Yes"))],
                "answer",
            ),
            (
                "answer without a reply",
                |s| {
                    s.answers = vec![SpawnAnswer {
                        pattern: Some("x".into()),
                        ..SpawnAnswer::default()
                    }]
                },
                "answer",
            ),
            (
                "backend name of the wrong form",
                |s| s.backend = Some(SpawnBackend::Named("Micro VM".into())),
                "backend",
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
                    s.backend = Some(SpawnBackend::Pty);
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
                |s| s.stall_after = Some("0s".into()),
                "stall_after",
            ),
            (
                "duration without a unit",
                |s| s.stall_after = Some("90".into()),
                "stall_after",
            ),
            (
                "input_wait_after that is no duration",
                |s| s.input_wait_after = Some("soon".into()),
                "input_wait_after",
            ),
            (
                "zero startup",
                |s| s.startup_timeout = Some("0ms".into()),
                "startup_timeout",
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
        spec.answers = vec![answer("(unclosed", "y", None)];
        let err = SessionSpec::try_from(spec).expect_err("a regex that does not compile");
        assert_eq!(err.field, "answer");
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
                    s.agent = Some(SpawnAgent::Claude);
                    s.command = None;
                    s.prompt = Some("p".into());
                    s.mcp_servers = Some(vec!["gh".into()]);
                },
            ),
            (
                "command = [\"true\"]\nbackend = \"pty\"\nstdin = \"null\"",
                "stdin",
                |s| {
                    s.backend = Some(SpawnBackend::Pty);
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
