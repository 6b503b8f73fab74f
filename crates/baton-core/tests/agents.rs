//! The real agent CLIs (pinned in scripts/test.sh, which installs them and
//! names their directory in `BATON_TEST_AGENT_CLIS`), run offline with an
//! empty HOME as a new user meets them: what they say when they cannot
//! work ends the session the way it should, and every flag baton passes is
//! one they take.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use baton_config::{AgentKind, AgentsConfig, SessionSpec};
use baton_core::SessionState;
use baton_core::eventlog::Event;
use common::{Harness, id};

/// Where the pinned CLIs are; `None` outside CI when they are missing.
fn clis() -> Option<PathBuf> {
    match std::env::var_os("BATON_TEST_AGENT_CLIS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the agent CLIs are required in CI (scripts/test.sh installs them)"
            );
            eprintln!("skipped: BATON_TEST_AGENT_CLIS is not set (run scripts/test.sh)");
            None
        }
    }
}

/// A conductor whose `claude` is a script printing `lines` (2.1.x
/// stream-json shapes) and exiting 0, running session `name` to its end.
async fn claude_script(name: &str, lines: &[&str]) -> (tempfile::TempDir, Harness) {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let claude = bin.path().join("claude");
    let mut script = "#!/bin/sh\n".to_owned();
    for line in lines {
        // printf, not echo: dash's echo reads the `\n` inside JSON strings.
        script.push_str(&format!("printf '%s\\n' '{line}'\n"));
    }
    std::fs::write(&claude, script).unwrap();
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let h = Harness::new(|opts| opts.agents.claude.bin = Some(claude.display().to_string()));
    let mut spec = SessionSpec::command(id(name), Vec::new());
    spec.agent = AgentKind::Claude;
    spec.command = None;
    spec.prompt = Some("fix it".into());
    h.spawn(spec).await;
    assert_eq!(
        h.wait_terminal(name).await,
        SessionState::Completed,
        "{}",
        h.dump()
    );
    (bin, h)
}

/// A claude run that worked, as 2.1.x prints it headless with
/// `--output-format stream-json --verbose` (the usage of its documented
/// `result` line): what it used is in its `completed` record and its row.
#[tokio::test]
async fn what_a_claude_run_used_is_in_its_completed_record_and_its_row() {
    let (_bin, h) = claude_script(
        "c1",
        &[
            r#"{"type":"system","subtype":"init","model":"claude-opus-4-8"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Done."}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"Done.","total_cost_usd":0.0425,"usage":{"input_tokens":1200,"cache_creation_input_tokens":300,"cache_read_input_tokens":5000,"output_tokens":340}}"#,
        ],
    )
    .await;
    let want = baton_proto::Usage {
        input_tokens: 1500,
        output_tokens: 340,
        cached_tokens: 5000,
        cost_usd: Some(0.0425),
    };
    let completed = h
        .session_records("c1")
        .iter()
        .find_map(|r| match &r.event {
            Event::Completed { payload, usage } => Some((payload.clone(), *usage)),
            _ => None,
        })
        .expect("a completed record");
    assert_eq!(completed.1, Some(want));
    // No frame and no JSON object in the answer: the answer is the payload.
    assert_eq!(completed.0, Some(serde_json::json!("Done.")));
    let rows = h.conductor.snapshot().await.unwrap();
    assert_eq!(rows[0].usage, Some(want));
    // Its row shows what it said, not a line of JSON.
    assert_eq!(rows[0].last_line.as_deref(), Some("Done."));
    h.finish().await;
}

/// A lead that asks claude for JSON gets it as the payload, though in the
/// stream it is a string inside the `result` line.
#[tokio::test]
async fn a_json_object_in_claudes_answer_is_the_payload() {
    let (_bin, h) = claude_script(
        "c2",
        &[
            r#"{"type":"result","is_error":false,"result":"Here it is:\n{\"files\": 3}","usage":{"input_tokens":1,"output_tokens":2}}"#,
        ],
    )
    .await;
    let payload = h.session_records("c2").iter().find_map(|r| match &r.event {
        Event::Completed { payload, .. } => payload.clone(),
        _ => None,
    });
    assert_eq!(
        payload,
        Some(serde_json::json!({"files": 3})),
        "{}",
        h.dump()
    );
    h.finish().await;
}

/// A session of `agent` with `prompt`, in a fresh folder, with an empty
/// HOME of its own (no login, no settings, no trust).
fn fresh(agent: AgentKind, name: &str, h: &Harness) -> SessionSpec {
    let home = h.dir.path().join(format!("{name}.home"));
    let workdir = h.dir.path().join(format!("{name}.work"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&workdir).unwrap();
    let mut spec = SessionSpec::command(id(name), Vec::new());
    spec.agent = agent;
    spec.command = None;
    spec.prompt = Some("say hi".into());
    spec.workdir = Some(workdir);
    spec.env.insert("HOME".into(), home.display().to_string());
    spec.max_restarts = Some(3);
    spec
}

/// A conductor whose agents are the pinned CLIs in `dir`.
fn harness(dir: &Path) -> Harness {
    let bin = |name: &str| Some(dir.join(name).display().to_string());
    Harness::new(|opts| {
        opts.agents.claude.bin = bin("claude");
        opts.agents.gemini.bin = bin("gemini");
        opts.agents.codex.bin = bin("codex");
        // The CLIs are node programs: their first output can take a while
        // on a loaded machine.
        opts.probe.startup_timeout = std::time::Duration::from_secs(60);
    })
}

/// The reason and evidence of the session's `failed` state record.
fn failure(h: &Harness, name: &str) -> (String, Option<String>) {
    h.session_records(name)
        .iter()
        .find_map(|r| match &r.event {
            Event::State {
                to: SessionState::Failed,
                reason,
                evidence,
                ..
            } => Some((reason.clone(), evidence.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name} never failed: {}", h.dump()))
}

fn spawns(h: &Harness, name: &str) -> usize {
    h.session_records(name)
        .iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_that_is_not_logged_in_is_dead_after_one_run_with_its_words_as_evidence() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    // (agent, its words)
    let cases = [
        (AgentKind::Claude, "Not logged in"),
        (AgentKind::Gemini, "Please set an Auth method"),
    ];
    for (agent, _) in cases {
        h.spawn(fresh(agent, agent.as_str(), &h)).await;
    }
    for (agent, words) in cases {
        let name = agent.as_str();
        assert_eq!(
            h.wait_terminal(name).await,
            SessionState::Dead,
            "{}",
            h.dump()
        );
        let (reason, evidence) = failure(&h, name);
        assert_eq!(reason, "auth_required", "{name}: {}", h.dump());
        let evidence = evidence.unwrap_or_default();
        assert!(evidence.contains(words), "{name}: {evidence}");
        assert_eq!(spawns(&h, name), 1, "{name} was restarted: {}", h.dump());
        let dead = h
            .session_records(name)
            .iter()
            .find_map(|r| match &r.event {
                Event::Dead {
                    reason, message, ..
                } => Some((reason.clone(), message.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(dead.0, "auth_required");
        assert!(
            dead.1.as_deref().is_some_and(|m| m.contains(words)),
            "{name}: {dead:?}"
        );
    }
    h.finish().await;
}

/// codex offline retries, then prints "Reconnecting... waiting for network"
/// every few seconds and never exits: its session is not `healthy`, and not
/// a crash loop either — it waits for the network as a session waits for
/// its host, its restart budget untouched, the CLI's line as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_that_waits_for_the_network_is_waited_for_not_restarted_in_a_loop() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    h.spawn(fresh(AgentKind::Codex, "codex", &h)).await;
    let failed = h.wait_state("codex", SessionState::Failed).await;
    let Event::State {
        reason, evidence, ..
    } = &failed.event
    else {
        unreachable!()
    };
    assert_eq!(reason, "network", "{}", h.dump());
    assert!(
        evidence
            .as_deref()
            .is_some_and(|e| e.contains("waiting for network")),
        "{}",
        h.dump()
    );
    let restarting = h.wait_state("codex", SessionState::Restarting).await;
    let Event::State {
        restarts, delay_ms, ..
    } = &restarting.event
    else {
        unreachable!()
    };
    assert_eq!(*restarts, 0, "the budget is not used: {}", h.dump());
    assert!(delay_ms.is_some_and(|d| d >= 1_000), "{}", h.dump());
    h.conductor.kill(&id("codex")).await.expect("kill");
    assert_eq!(h.wait_terminal("codex").await, SessionState::Dead);
    h.finish().await;
}

/// Every flag baton passes is one the pinned CLI lists in its `--help`: a
/// flag a new version drops fails here, not in a user's session.
#[test]
fn every_flag_baton_passes_is_in_the_clis_help() {
    let Some(dir) = clis() else { return };
    for agent in [AgentKind::Claude, AgentKind::Gemini, AgentKind::Codex] {
        let mut spec = SessionSpec::command(id("s"), Vec::new());
        spec.agent = agent;
        spec.command = None;
        spec.prompt = Some("x".into());
        spec.model = Some("m".into());
        if agent == AgentKind::Codex {
            spec.profile = Some("p".into());
            spec.mcp_servers = vec!["s".into()];
        }
        let bin = dir.join(agent.as_str());
        let mut agents = AgentsConfig::default();
        agents.claude.bin = Some(bin.display().to_string());
        agents.gemini.bin = Some(bin.display().to_string());
        agents.codex.bin = Some(bin.display().to_string());
        let argv = baton_agents::argv(&spec, &agents);
        let mut help = help_of(&bin, &["--help"]);
        if agent == AgentKind::Codex {
            help.push_str(&help_of(&bin, &["exec", "--help"]));
        }
        let flags: Vec<&str> = argv
            .iter()
            .take_while(|w| *w != "--")
            .filter(|w| w.starts_with('-'))
            .map(|w| w.split('=').next().unwrap_or(w))
            .collect();
        assert!(!flags.is_empty(), "{agent}: {argv:?}");
        for flag in flags {
            let listed = help
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|word| word == flag);
            assert!(
                listed,
                "{agent} --help does not list `{flag}` (baton passes {argv:?})"
            );
        }
    }
}

/// A pinned CLI given a flag it does not know (what an older CLI does with
/// one baton passes) is read as a usage error, in the words it prints now:
/// a change of wording in a new pinned version fails here.
#[test]
fn a_cli_that_refuses_a_flag_is_read_as_such() {
    let Some(dir) = clis() else { return };
    for (agent, args) in [
        (AgentKind::Claude, &["--bogus-flag", "-p", "--", "hi"][..]),
        (AgentKind::Gemini, &["--bogus-flag", "--prompt=hi"][..]),
        (AgentKind::Codex, &["exec", "--bogus-flag", "--", "hi"][..]),
    ] {
        let empty_home = tempfile::tempdir().unwrap();
        let out = Command::new(dir.join(agent.as_str()))
            .args(args)
            .env("HOME", empty_home.path())
            .current_dir(empty_home.path())
            .output()
            .unwrap();
        let mut output = out.stdout.clone();
        output.extend_from_slice(&out.stderr);
        let ended = baton_agents::agent(agent)
            .ended(out.status.code(), &output)
            .unwrap_or_else(|| panic!("{agent}: {}", String::from_utf8_lossy(&output)));
        assert_eq!(ended.class, baton_agents::EndClass::UnknownFlag, "{agent}");
        assert!(ended.evidence.contains("bogus-flag"), "{ended:?}");
    }
}

/// What `bin ARGS` prints, both streams.
fn help_of(bin: &Path, args: &[&str]) -> String {
    let empty_home = tempfile::tempdir().unwrap();
    let out = Command::new(bin)
        .args(args)
        .env("HOME", empty_home.path())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}
