//! The real agent CLIs (pinned in scripts/test.sh, which installs them and
//! names their directory in `BATON_TEST_AGENT_CLIS`), run offline with an
//! empty HOME as a new user meets them: what they say when they cannot
//! work ends the session the way it should, and every flag baton passes is
//! one they take. Against a model provider on loopback
//! (`stand_in_agent::provider`), claude also works whole turns offline:
//! its usage, its permission question and its finished turn, as baton
//! records them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use baton_config::{AgentKind, AgentsConfig, SessionSpec};
use baton_core::SessionState;
use baton_core::eventlog::Event;
use baton_proto::WaitKind;
use common::{Harness, id};
use stand_in_agent::provider::Provider;

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
    agent_script(AgentKind::Claude, name, lines).await
}

/// A conductor whose `kind` CLI is a script writing `lines` (a line
/// `err:TEXT` goes to stderr; `part:TEXT` is written without its newline)
/// and exiting 0, running session `name` of that agent to its end.
async fn agent_script(kind: AgentKind, name: &str, lines: &[&str]) -> (tempfile::TempDir, Harness) {
    agent_script_with(kind, name, lines, |_| {}).await
}

/// [`agent_script`], with options `more` set.
async fn agent_script_with(
    kind: AgentKind,
    name: &str,
    lines: &[&str],
    more: impl FnOnce(&mut baton_core::ConductorOptions),
) -> (tempfile::TempDir, Harness) {
    let (bin, h) = start_agent_script(kind, name, lines, more).await;
    assert_eq!(
        h.wait_terminal(name).await,
        SessionState::Completed,
        "{}",
        h.dump()
    );
    (bin, h)
}

/// [`agent_script_with`], not waiting for the session's end (a line
/// `sleep:SECONDS` sleeps).
async fn start_agent_script(
    kind: AgentKind,
    name: &str,
    lines: &[&str],
    more: impl FnOnce(&mut baton_core::ConductorOptions),
) -> (tempfile::TempDir, Harness) {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let cli = bin.path().join(kind.as_str());
    let mut script = "#!/bin/sh\n".to_owned();
    for line in lines {
        // printf, not echo: dash's echo reads the `\n` inside JSON strings.
        let step = match (line.strip_prefix("err:"), line.strip_prefix("part:")) {
            (Some(text), _) => format!("printf '%s\\n' '{text}' >&2; sleep 0.05"),
            (_, Some(text)) => format!("printf '%s' '{text}'; sleep 0.05"),
            _ => match line.strip_prefix("sleep:") {
                Some(seconds) => format!("sleep {seconds}"),
                None => format!("printf '%s\\n' '{line}'"),
            },
        };
        script.push_str(&step);
        script.push('\n');
    }
    std::fs::write(&cli, script).unwrap();
    std::fs::set_permissions(&cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = Some(cli.display().to_string());
    let h = Harness::new(|opts| {
        match kind {
            AgentKind::Claude => opts.agents.claude.bin = path,
            AgentKind::Codex => opts.agents.codex.bin = path,
            AgentKind::Gemini => opts.agents.gemini.bin = path,
            AgentKind::Command => unreachable!("a command has no CLI"),
        }
        more(opts);
    });
    let mut spec = SessionSpec::command(id(name), Vec::new());
    spec.agent = kind;
    spec.command = None;
    spec.prompt = Some("fix it".into());
    h.spawn(spec).await;
    (bin, h)
}

/// The turn, tool and agent error records of session `name`, in order, as
/// short strings.
fn activity(h: &Harness, name: &str) -> Vec<String> {
    h.session_records(name)
        .iter()
        .filter_map(|r| match &r.event {
            Event::TurnStarted => Some("turn_started".to_owned()),
            Event::TurnEnded { error, .. } => Some(match error {
                Some(e) => format!("turn_ended: {e}"),
                None => "turn_ended".to_owned(),
            }),
            Event::Tool { name } => Some(format!("tool {name}")),
            Event::AgentError { message, retrying } => {
                Some(format!("agent_error({retrying}) {message}"))
            }
            Event::Completed { .. } => Some("completed".to_owned()),
            _ => None,
        })
        .collect()
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
            r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":500,"error_status":429,"error":"rate_limit"}"#,
            r#"{"type":"assistant","message":{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"cargo test"}}]}}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}}"#,
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
        cost_estimated: false,
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
    // One record per turn, tool and retry, before the end; the tool by
    // name, never its input.
    assert_eq!(
        activity(&h, "c1"),
        [
            "turn_started",
            "agent_error(true) API rate_limit (429), retry 1 of 10 in 0.5 s",
            "tool Bash",
            "turn_ended",
            "completed"
        ],
        "{}",
        h.dump()
    );
    let ended = h.session_records("c1").iter().find_map(|r| match &r.event {
        Event::TurnEnded { usage, .. } => Some(*usage),
        _ => None,
    });
    assert_eq!(ended, Some(Some(want)));
    h.finish().await;
}

/// gemini's stream-json, as 0.61's formatter writes it: its answer comes in
/// pieces (what it said after its last tool is the payload), its usage in
/// the `result`'s `stats`; its stderr chatter, written while a stdout line
/// is half done, breaks no line of either.
#[tokio::test]
async fn a_gemini_run_says_its_turn_tools_and_usage_and_its_pieces_are_its_answer() {
    let (_bin, h) = agent_script(
        AgentKind::Gemini,
        "g1",
        &[
            r#"{"type":"init","timestamp":"t","session_id":"e5","model":"auto"}"#,
            r#"{"type":"message","timestamp":"t","role":"user","content":"fix it"}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Looking.","delta":true}"#,
            r#"{"type":"tool_use","timestamp":"t","tool_name":"run_shell_command","tool_id":"1","parameters":{"command":"cargo test"}}"#,
            r#"{"type":"tool_result","timestamp":"t","tool_id":"1","status":"success","output":"ok"}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"All green:\n{\"passed\"","delta":true}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":": 12}","delta":true}"#,
            r#"part:{"type":"result","timestamp":"t","status":"success","#,
            "err:YOLO mode is enabled. All tool calls will be automatically approved.",
            r#""stats":{"total_tokens":900,"input_tokens":700,"output_tokens":200,"cached":300,"input":400,"duration_ms":20,"tool_calls":1,"models":{}}}"#,
        ],
    )
    .await;
    let want = baton_proto::Usage {
        input_tokens: 400,
        output_tokens: 200,
        cached_tokens: 300,
        cost_usd: None,
        cost_estimated: false,
    };
    assert_eq!(
        activity(&h, "g1"),
        [
            "turn_started",
            "tool run_shell_command",
            "turn_ended",
            "completed"
        ],
        "{}",
        h.dump()
    );
    let completed = h.session_records("g1").iter().find_map(|r| match &r.event {
        Event::Completed { payload, usage } => Some((payload.clone(), *usage)),
        _ => None,
    });
    assert_eq!(
        completed,
        Some((Some(serde_json::json!({"passed": 12})), Some(want))),
        "{}",
        h.dump()
    );
    h.finish().await;
}

/// codex's `exec --json` events: a turn, its command (by kind only), a
/// reconnect it retries, the turn's usage, its last message the answer.
#[tokio::test]
async fn a_codex_run_says_its_turn_tools_and_usage() {
    let (_bin, h) = agent_script(
        AgentKind::Codex,
        "x1",
        &[
            r#"{"type":"thread.started","thread_id":"01a2"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion)"}"#,
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"rm -rf target","status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"rm -rf target","status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"agent_message","text":"Cleaned."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":600,"output_tokens":50}}"#,
        ],
    )
    .await;
    assert_eq!(
        activity(&h, "x1"),
        [
            "turn_started",
            "agent_error(true) Reconnecting... 1/5 (stream disconnected before completion)",
            "tool command",
            "turn_ended",
            "completed"
        ],
        "{}",
        h.dump()
    );
    let completed = h.session_records("x1").iter().find_map(|r| match &r.event {
        Event::Completed { payload, usage } => Some((payload.clone(), *usage)),
        _ => None,
    });
    let want = baton_proto::Usage {
        input_tokens: 400,
        output_tokens: 50,
        cached_tokens: 600,
        cost_usd: None,
        cost_estimated: false,
    };
    assert_eq!(
        completed,
        Some((Some(serde_json::json!("Cleaned.")), Some(want))),
        "{}",
        h.dump()
    );
    h.finish().await;
}

/// A lead that asks claude for JSON gets it as the payload, though in the
/// stream it is a string inside the `result` line.
#[tokio::test]
async fn a_json_object_in_claudes_answer_is_the_payload() {
    let (_bin, h) = claude_script(
        "c2",
        &[
            r#"{"type":"result","subtype":"success","is_error":false,"result":"Here it is:\n{\"files\": 3}","usage":{"input_tokens":1,"output_tokens":2}}"#,
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

/// A CLI that states tokens but no cost, with a `[pricing]` for its agent:
/// its cost is estimated, and says so, in the turn's record and the
/// session's; one that states its cost keeps its own word.
#[tokio::test]
async fn pricing_estimates_what_a_cli_that_states_no_cost_used() {
    let lines = [
        r#"{"type":"turn.started"}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":3000000,"cached_input_tokens":2000000,"output_tokens":500000}}"#,
    ];
    let price = |opts: &mut baton_core::ConductorOptions| {
        let price = baton_config::Price::new(1.25, Some(0.125), 10.0).unwrap();
        opts.pricing.insert("codex".into(), price);
        opts.pricing.insert("claude".into(), price);
    };
    let (_bin, h) = agent_script_with(AgentKind::Codex, "x2", &lines, price).await;
    let usage = h.session_records("x2").iter().find_map(|r| match &r.event {
        Event::Completed { usage, .. } => *usage,
        _ => None,
    });
    let usage = usage.expect("usage");
    // 1M input at 1.25, 2M cached at 0.125, 0.5M output at 10.
    let cost = usage.cost_usd.expect("an estimate");
    assert!((cost - 6.5).abs() < 1e-9, "{usage:?}");
    assert!(usage.cost_estimated);
    assert_eq!(usage.cost_text().as_deref(), Some("~$6.50"));
    h.finish().await;
    let (_bin, h) = agent_script_with(
        AgentKind::Claude,
        "c3",
        &[
            r#"{"type":"result","subtype":"success","is_error":false,"result":"ok","total_cost_usd":0.25,"usage":{"input_tokens":1000000,"output_tokens":0}}"#,
        ],
        price,
    )
    .await;
    let rows = h.conductor.snapshot().await.unwrap();
    let usage = rows[0].usage.expect("usage");
    assert_eq!((usage.cost_usd, usage.cost_estimated), (Some(0.25), false));
    h.finish().await;
}

/// A CLI that keeps saying it cannot reach its provider is tried again
/// after a wait that doubles each time (2 s, 4 s… up to `backoff_max`),
/// without using its restart budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_cli_is_tried_again_after_ever_longer_waits() {
    let lines = [
        r#"{"type":"thread.started","thread_id":"01a2"}"#,
        r#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed)"}"#,
        "sleep:60",
    ];
    let (_bin, h) = start_agent_script(AgentKind::Codex, "off", &lines, |o| {
        o.conductor.backoff_max = std::time::Duration::from_secs(30);
    })
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let delays = loop {
        let delays: Vec<(u64, u32)> = h
            .session_records("off")
            .iter()
            .filter_map(|r| match &r.event {
                Event::State {
                    to: SessionState::Restarting,
                    reason,
                    delay_ms: Some(ms),
                    restarts,
                    ..
                } if reason == "network" => Some((*ms, *restarts)),
                _ => None,
            })
            .collect();
        if delays.len() >= 2 {
            break delays;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not two waits: {}",
            h.dump()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    // 2 s, then 4 s (each up to 10 % more, to spread many sessions); the
    // budget untouched.
    assert!((2_000..=2_200).contains(&delays[0].0), "{delays:?}");
    assert!((4_000..=4_400).contains(&delays[1].0), "{delays:?}");
    assert!(
        delays.iter().all(|(_, restarts)| *restarts == 0),
        "{delays:?}"
    );
    h.conductor.kill(&id("off")).await.expect("kill");
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
    // A user at a terminal, even when the suite runs under CI: a set `CI`
    // or `CONTINUOUS_INTEGRATION` makes gemini (by its `is-in-ci` check)
    // skip its interactive screens and fail as headless (exit 41). "false"
    // is the value that check reads as "not in CI".
    for marker in ["CI", "CONTINUOUS_INTEGRATION"] {
        spec.env.insert(marker.into(), "false".into());
    }
    spec.max_restarts = Some(3);
    spec
}

/// A conductor whose agents are the pinned CLIs in `dir`.
fn harness(dir: &Path) -> Harness {
    harness_with(dir, |_| {})
}

/// [`harness`], with `tweak` applied last.
fn harness_with(dir: &Path, tweak: impl FnOnce(&mut baton_core::ConductorOptions)) -> Harness {
    let bin = |name: &str| Some(dir.join(name).display().to_string());
    Harness::new(|opts| {
        opts.agents.claude.bin = bin("claude");
        opts.agents.gemini.bin = bin("gemini");
        opts.agents.codex.bin = bin("codex");
        // The CLIs are node programs: their first output can take a while
        // on a loaded machine.
        opts.probe.startup_timeout = std::time::Duration::from_secs(60);
        tweak(opts);
    })
}

/// Waits (a node CLI's start included: up to a minute) until session
/// `name` says its hooks are `want`.
async fn wait_hooks(h: &Harness, name: &str, want: baton_proto::HooksState) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let rows = h.conductor.snapshot().await.unwrap();
        let row = rows.iter().find(|r| r.id == name).unwrap();
        if row.hooks == Some(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name}: hooks {:?}, not {want:?}: {}",
            row.hooks,
            h.dump()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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
/// every few seconds and never exits; gemini and claude with a key retry
/// with backoff for minutes ("Attempt N failed. Retrying with backoff...
/// fetch failed"; `api_retry` lines without an HTTP status). Neither session is `healthy`, nor a crash loop: each waits for
/// the network as a session waits for its host, its restart budget
/// untouched, the CLI's line as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_that_waits_for_the_network_is_waited_for_not_restarted_in_a_loop() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    let cases = [
        (AgentKind::Codex, "waiting for network"),
        (AgentKind::Gemini, "fetch failed"),
        (AgentKind::Claude, "cannot reach the Anthropic API"),
    ];
    for (agent, _) in cases {
        let mut spec = fresh(agent, agent.as_str(), &h);
        // A key it cannot check offline: it tries to reach the API.
        spec.env.insert("GEMINI_API_KEY".into(), "not-a-key".into());
        spec.env
            .insert("ANTHROPIC_API_KEY".into(), "sk-ant-not-a-key".into());
        h.spawn(spec).await;
    }
    for (agent, words) in cases {
        let name = agent.as_str();
        let failed = h.wait_state(name, SessionState::Failed).await;
        let (reason, evidence) = common::why(&failed);
        assert_eq!(reason, "network", "{name}: {}", h.dump());
        assert!(
            evidence.is_some_and(|e| e.contains(words)),
            "{name}: {}",
            h.dump()
        );
        let restarting = h.wait_state(name, SessionState::Restarting).await;
        let Event::State {
            restarts, delay_ms, ..
        } = &restarting.event
        else {
            unreachable!()
        };
        assert_eq!(*restarts, 0, "the budget is not used: {}", h.dump());
        assert!(delay_ms.is_some_and(|d| d >= 1_000), "{}", h.dump());
        h.conductor.kill(&id(name)).await.expect("kill");
        assert_eq!(h.wait_terminal(name).await, SessionState::Dead);
    }
    // gemini said its turn began before it tried.
    assert!(
        h.session_records("gemini")
            .iter()
            .any(|r| matches!(r.event, Event::TurnStarted)),
        "{}",
        h.dump()
    );
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
        let mut argv = baton_agents::argv(&spec, &agents);
        // And the interactive argv a terminal session gets, hooks and all.
        if let Some(interactive) =
            baton_agents::agent(agent).interactive_argv(&spec, &agents, Some("true"))
        {
            argv.extend(interactive.into_iter().take_while(|w| w != "--").skip(1));
        }
        let mut help = help_of(&bin, &["--help"]);
        if agent == AgentKind::Codex {
            help.push_str(&help_of(&bin, &["exec", "--help"]));
        }
        let flags: Vec<&str> = argv
            .iter()
            .filter(|w| *w != "--")
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

/// A claude session whose conductor died after its second run had ended
/// (its `exit` recorded, its end not): the next conductor reads the run's
/// stream-json as its driver would have. What the earlier conductor
/// recorded of the run is not recorded again, what it had not (the turn's
/// end) is; the usage of both runs is the session's; the answer is the
/// payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_claude_run_keeps_its_usage_and_is_not_recorded_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = common::fast_options(dir.path());
    // Were it run again, it would fail at once.
    opts.agents.claude.bin = Some("/bin/false".into());
    let logs = opts.conductor.logs_dir.clone();
    std::fs::create_dir_all(&logs).unwrap();
    let first_run = "x\n".repeat(100);
    let second_run = concat!(
        r#"{"type":"system","subtype":"init","model":"claude-opus-4-8"}"#,
        "\n",
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}}"#,
        "\n",
        r#"{"type":"result","subtype":"success","is_error":false,"result":"{\"ok\": true}","total_cost_usd":0.5,"usage":{"input_tokens":100,"output_tokens":20,"cache_read_input_tokens":7}}"#,
        "\n",
    );
    std::fs::write(logs.join("rc.out.log"), format!("{first_run}{second_run}")).unwrap();
    let header = r#"{"format":"baton-events","version":"1.6","created":"2026-12-06T00:00:00Z"}"#;
    let spawn = |seq: u32, attempt: u32, restart: u32, offset: usize| {
        format!(
            r#"{{"seq":{seq},"ts":"2026-12-06T00:00:00.0000{seq:02}Z","session":"rc","event":"spawn","agent":"claude","restart":{restart},"attempt":{attempt},"pid":999999,"start_time":1,"argv":["claude"],"workdir":"/","env_keys":[],"out_offset":{offset},"err_offset":0,"backend":"pipes"}}"#
        )
    };
    let event = |seq: u32, body: &str| {
        format!(r#"{{"seq":{seq},"ts":"2026-12-06T00:00:00.0000{seq:02}Z","session":"rc",{body}}}"#)
    };
    let records = [
        r#"{"seq":1,"ts":"2026-12-06T00:00:00.000001Z","event":"conductor_start","version":"0","pid":1,"fsync":"batch"}"#.to_owned(),
        event(2, r#""event":"state","from":"init","to":"starting","reason":"spawn","restarts":0"#),
        spawn(3, 1, 0, 0),
        event(4, r#""event":"turn_started""#),
        event(5, r#""event":"turn_ended","usage":{"input_tokens":10,"output_tokens":5,"cached_tokens":0},"error":"overloaded""#),
        event(6, r#""event":"exit","code":1,"signal":null,"runtime_ms":5"#),
        event(7, r#""event":"state","from":"starting","to":"failed","reason":"crash","restarts":0"#),
        event(8, r#""event":"state","from":"failed","to":"restarting","reason":"crash","restarts":1,"delay_ms":10"#),
        event(9, r#""event":"state","from":"restarting","to":"starting","reason":"restart","restarts":1"#),
        spawn(10, 2, 1, first_run.len()),
        event(11, r#""event":"turn_started""#),
        event(12, r#""event":"state","from":"starting","to":"healthy","reason":"first_output","restarts":1"#),
        event(13, r#""event":"tool","name":"Bash""#),
        event(14, r#""event":"exit","code":0,"signal":null,"runtime_ms":5"#),
    ];
    std::fs::write(
        logs.join("events.jsonl"),
        format!("{header}\n{}\n", records.join("\n")),
    )
    .unwrap();
    let h = Harness::with_options(dir, opts);
    assert_eq!(h.conductor.unfinished(), ["rc"]);
    let mut spec = SessionSpec::command(id("rc"), Vec::new());
    spec.agent = AgentKind::Claude;
    spec.command = None;
    spec.prompt = Some("fix it".into());
    h.spawn(spec).await;
    assert_eq!(
        h.wait_terminal("rc").await,
        SessionState::Completed,
        "{}",
        h.dump()
    );
    // What this conductor recorded: only what the earlier one had not.
    assert_eq!(
        activity(&h, "rc"),
        ["turn_ended", "completed"],
        "{}",
        h.dump()
    );
    let completed = h.session_records("rc").iter().find_map(|r| match &r.event {
        Event::Completed { payload, usage } => Some((payload.clone(), *usage)),
        _ => None,
    });
    let both = baton_proto::Usage {
        input_tokens: 110,
        output_tokens: 25,
        cached_tokens: 7,
        cost_usd: Some(0.5),
        cost_estimated: false,
    };
    assert_eq!(
        completed,
        Some((Some(serde_json::json!({"ok": true})), Some(both))),
        "{}",
        h.dump()
    );
    h.finish().await;
}

/// A CLI started interactively as a `command` on a terminal (what a user
/// does to log it in or answer its first questions): its first-run dialog,
/// under a pty and in tmux, is `input_wait`, with a line of the dialog as
/// evidence — the first choice of gemini's "Do you trust the files in this
/// folder?" menu, the "Press enter to continue" under codex's sign-in menu.
/// (claude 2.1.197 offline shows no dialog: it says it cannot connect and
/// exits.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clis_first_run_dialog_on_a_terminal_is_input_wait_with_the_dialog_as_evidence() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    let cases = [
        ("gemini", "Trust folder"),
        ("codex", "Press enter to continue"),
    ];
    let backends = [baton_config::Backend::Pty, baton_config::Backend::Tmux];
    let mut names = Vec::new();
    for backend in backends {
        for (cli, words) in cases {
            let name = format!("{cli}-{backend}");
            let mut spec = fresh(AgentKind::Command, &name, &h);
            spec.command = Some(vec![dir.join(cli).display().to_string()]);
            spec.prompt = None;
            spec.backend = backend.clone();
            h.spawn(spec).await;
            names.push((name, words));
        }
    }
    for (name, words) in &names {
        let waiting = h.wait_state(name, SessionState::InputWait).await;
        let evidence = common::why(&waiting).1.unwrap_or_default();
        assert!(
            evidence.contains(words),
            "{name}: waits on {evidence:?}, not its dialog\n{}",
            h.dump()
        );
    }
    for (name, _) in &names {
        h.conductor.kill(&id(name)).await.expect("kill");
    }
    h.finish().await;
}

/// The real claude takes the hook settings baton gives a terminal session
/// (`--settings=JSON`, as in its interactive argv), runs `baton-shim hook`
/// for them, and what the shim passes on reaches the conductor's socket
/// with the run's token, in claude's own words, which baton reads for what
/// they are. Offline and not logged in, `claude -p` still starts a session,
/// submits the prompt and fails its turn: three hooks, as a user's would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_claude_runs_batons_hooks_and_they_reach_the_conductor() {
    use baton_agents::{HookFailure, Hooked};
    let Some(dir) = clis() else { return };
    let mut ear = HookEar::new();
    let claude = baton_agents::agent(AgentKind::Claude);
    let interactive = ear.interactive_argv(AgentKind::Claude);
    let settings = interactive
        .iter()
        .find(|w| w.starts_with("--settings="))
        .expect("hooks in its argv")
        .clone();
    let run = Command::new(dir.join("claude"))
        .args(["-p", &settings, "--", "say hi"])
        .current_dir(ear.work())
        .envs(ear.env("claude-hooks"))
        .output()
        .expect("claude runs");
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        said.contains("Not logged in"),
        "claude took the settings and failed as offline: {said}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let heard: Vec<_> = ear
        .heard(std::time::Duration::from_secs(2))
        .await
        .into_iter()
        .map(|report| {
            assert_eq!(report.session, "claude-hooks");
            (event_name(&report), claude.hooked(&report.input))
        })
        .collect();
    let events: Vec<&str> = heard.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        events,
        ["SessionStart", "UserPromptSubmit", "StopFailure"],
        "{heard:?}"
    );
    assert_eq!(heard[0].1, Some(Hooked::Alive));
    assert_eq!(
        heard[1].1,
        Some(Hooked::Works {
            reason: "prompt_submitted"
        })
    );
    let Some(Hooked::Failed { failure, words }) = &heard[2].1 else {
        panic!("{heard:?}")
    };
    assert_eq!(*failure, HookFailure::AuthRequired);
    assert!(words.contains("Not logged in"), "{words}");
}

/// On a terminal claude runs interactively, with baton's hooks in its
/// argv. Offline, it checks its connection, says so on its screen (words
/// placed by cursor moves) and exits 1: that is `network`, waited for, not
/// a crash restarted at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_claude_offline_is_waited_for_not_restarted_as_a_crash() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    let backends = [baton_config::Backend::Pty, baton_config::Backend::Tmux];
    for backend in &backends {
        let mut spec = fresh(AgentKind::Claude, &format!("claude-{backend}"), &h);
        spec.backend = backend.clone();
        h.spawn(spec).await;
    }
    for backend in &backends {
        let name = format!("claude-{backend}");
        h.wait_state(&name, SessionState::Failed).await;
        let (reason, evidence) = failure(&h, &name);
        assert_eq!(reason, "network", "{name}: {}", h.dump());
        let evidence = evidence.unwrap_or_default();
        // Its own line, read off its screen: "Unable to connect to
        // Anthropic services" / "Failed to connect to api.anthropic.com: …".
        assert!(evidence.contains("connect to"), "{name}: {evidence}");
        let argv = h.spawn_argv(&name);
        assert!(
            argv.iter().any(|w| w.starts_with("--settings={\"hooks\"")),
            "{argv:?}"
        );
        assert!(!argv.iter().any(|w| w == "-p"), "interactive: {argv:?}");
        h.conductor.kill(&id(&name)).await.expect("kill");
    }
    h.finish().await;
}

/// The real gemini, interactive on a terminal, reads the hook settings
/// baton writes for its run and calls `baton-shim hook`: offline with a
/// made-up key it still starts its session, and its `SessionStart` hook
/// reaches the conductor (`hooks: reporting`). gemini skips a settings
/// file below a directory others can write (such as `/tmp`): where the
/// run's file would be there, its hooks are silent and it is said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_gemini_reports_through_the_hooks_of_its_run() {
    let Some(dir) = clis() else { return };
    let h = harness(&dir);
    let mut spec = fresh(AgentKind::Gemini, "gemini-hooked", &h);
    spec.backend = baton_config::Backend::Pty;
    spec.env.insert("GEMINI_API_KEY".into(), "made-up".into());
    h.spawn(spec).await;
    let secure = baton_core::hooks::settings_dir().is_some_and(|dir| {
        use std::os::unix::fs::PermissionsExt;
        dir.ancestors()
            .skip(1)
            .all(|a| std::fs::metadata(a).map_or(true, |m| m.permissions().mode() & 0o022 == 0))
    });
    let want = if secure {
        baton_proto::HooksState::Reporting
    } else {
        baton_proto::HooksState::Silent
    };
    wait_hooks(&h, "gemini-hooked", want).await;
    let argv = h
        .session_records("gemini-hooked")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Spawn { argv, env_keys, .. } => Some((argv, env_keys)),
            _ => None,
        })
        .unwrap();
    assert!(argv.0.iter().any(|w| w == "--skip-trust"), "{argv:?}");
    assert!(
        !argv.0.iter().any(|w| w == "--yolo"),
        "interactive: {argv:?}"
    );
    assert!(
        argv.1
            .iter()
            .any(|k| k == "GEMINI_CLI_SYSTEM_DEFAULTS_PATH"),
        "{argv:?}"
    );
    h.conductor.kill(&id("gemini-hooked")).await.expect("kill");
    h.finish().await;
}

/// The real gemini on a host (the loopback sshd) reads the hooks of its
/// run from the settings file its pane's wrapper wrote there, and runs
/// them: their lines reach the conductor through the host's feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_gemini_on_a_host_runs_the_hooks_written_there() {
    let Some(dir) = clis() else { return };
    let Some(sshd) = common::sshd::Sshd::loopback() else {
        return;
    };
    let h = harness_with(&dir, |opts| {
        opts.hosts.insert("lo".into(), sshd.host_config("lo"));
    });
    let mut spec = fresh(AgentKind::Gemini, "gemini-far", &h);
    spec.backend = baton_config::Backend::Tmux;
    spec.host = Some("lo".into());
    spec.env.insert("GEMINI_API_KEY".into(), "made-up".into());
    h.spawn(spec).await;
    wait_hooks(&h, "gemini-far", baton_proto::HooksState::Reporting).await;
    let argv = h.spawn_argv("gemini-far");
    assert!(argv.iter().any(|w| w == "--skip-trust"), "{argv:?}");
    assert!(
        argv.iter().any(|w| w.starts_with("--prompt-interactive=")),
        "interactive on the host: {argv:?}"
    );
    h.conductor.kill(&id("gemini-far")).await.expect("kill");
    h.finish().await;
}

/// The real codex takes the hook flags baton gives it (`-c hooks.EVENT=…`
/// session flags and `--dangerously-bypass-hook-trust`, as in its
/// interactive argv when `[agents.codex] hooks = true`), runs `baton-shim
/// hook` for them, and its inputs read as claude's: offline with a made-up
/// key, `codex exec` still starts its session and submits the prompt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_codex_runs_batons_hooks_from_session_flags() {
    use baton_agents::Hooked;
    let Some(dir) = clis() else { return };
    let mut ear = HookEar::new();
    let codex = baton_agents::agent(AgentKind::Codex);
    let interactive = ear.interactive_argv(AgentKind::Codex);
    let flags: Vec<&String> = interactive
        .iter()
        .skip(1)
        .take_while(|w| *w != "--")
        .collect();
    let run = tokio::process::Command::new(dir.join("codex"))
        .args(["exec", "--json", "--skip-git-repo-check"])
        .args(&flags)
        .args(["--", "say hi"])
        .current_dir(ear.work())
        .envs(ear.env("codex-hooks"))
        .env("OPENAI_API_KEY", "made-up")
        .kill_on_drop(true)
        .output();
    // Offline it reconnects for a while: what matters is heard before.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(8), run).await;
    let heard: Vec<_> = ear
        .heard(std::time::Duration::from_millis(500))
        .await
        .into_iter()
        .map(|report| (event_name(&report), codex.hooked(&report.input)))
        .collect();
    let events: Vec<&str> = heard.iter().map(|(e, _)| e.as_str()).collect();
    assert!(
        events.starts_with(&["SessionStart", "UserPromptSubmit"]),
        "{heard:?}"
    );
    assert_eq!(heard[0].1, Some(Hooked::Alive));
    assert_eq!(
        heard[1].1,
        Some(Hooked::Works {
            reason: "prompt_submitted"
        })
    );
}

/// A conductor's end of the hook channel on its own, in a temp dir: what
/// baton's hooks run, and where a real CLI started by a test reports.
struct HookEar {
    dir: tempfile::TempDir,
    key: baton_core::hooks::HookKey,
    socket: PathBuf,
    command: String,
    rx: tokio::sync::mpsc::UnboundedReceiver<baton_core::hooks::HookReport>,
}

impl HookEar {
    fn new() -> HookEar {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "work"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let key = baton_core::hooks::HookKey::load(dir.path()).unwrap();
        let (socket, path) = baton_core::hooks::bind(dir.path()).unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(baton_core::hooks::receive(
            socket,
            key.clone(),
            move |report| tx.send(report).is_ok(),
        ));
        let shim = baton_core::proc::shim_path().expect("baton-shim is built");
        HookEar {
            command: format!("{} hook", shell_words::quote(&shim.to_string_lossy())),
            dir,
            key,
            socket: path,
            rx,
        }
    }

    /// The interactive argv baton gives `agent`'s session (prompt "say
    /// hi"), its hooks running this ear's command.
    fn interactive_argv(&self, agent: AgentKind) -> Vec<String> {
        let mut spec = SessionSpec::command(id(&format!("{agent}-hooks")), Vec::new());
        spec.agent = agent;
        spec.command = None;
        spec.prompt = Some("say hi".into());
        baton_agents::agent(agent)
            .interactive_argv(&spec, &AgentsConfig::default(), Some(&self.command))
            .unwrap_or_else(|| panic!("{agent} has an interactive argv with hooks"))
    }

    /// The CLI's working directory.
    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The environment of run 1 of `session`: an empty HOME, where to
    /// report and with which token.
    fn env(&self, session: &str) -> Vec<(String, String)> {
        let home = self.dir.path().join("home");
        vec![
            ("HOME".into(), home.display().to_string()),
            (
                baton_core::hooks::SOCKET_ENV.into(),
                self.socket.display().to_string(),
            ),
            (
                baton_core::hooks::TOKEN_ENV.into(),
                self.key.token(session, 1),
            ),
            ("BATON_SESSION_ID".into(), session.into()),
            ("BATON_ATTEMPT".into(), "1".into()),
        ]
    }

    /// What was heard, until nothing more comes for `quiet`.
    async fn heard(&mut self, quiet: std::time::Duration) -> Vec<baton_core::hooks::HookReport> {
        let mut heard = Vec::new();
        while let Ok(Some(report)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            heard.push(report);
        }
        heard
    }
}

/// The hook event a report is of.
fn event_name(report: &baton_core::hooks::HookReport) -> String {
    report.input["hook_event_name"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// Points `spec`'s `cli` at `provider`, in a HOME where its user already
/// answered the CLI's first-run questions (claude: the key approved, the
/// work folder trusted; gemini: an API key chosen): the real CLI then works
/// whole turns offline.
fn through(provider: &Provider, cli: AgentKind, spec: &mut SessionSpec) {
    const KEY: &str = "stand-in-key";
    let home = PathBuf::from(&spec.env["HOME"]);
    let work = spec.workdir.clone().expect("a work folder");
    match cli {
        AgentKind::Claude => {
            spec.env.insert("ANTHROPIC_BASE_URL".into(), provider.url());
            spec.env.insert("ANTHROPIC_API_KEY".into(), KEY.into());
            spec.env.insert(
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            );
            let settings = serde_json::json!({
                "hasCompletedOnboarding": true,
                "customApiKeyResponses": {"approved": [KEY], "rejected": []},
                "projects": {work.display().to_string(): {"hasTrustDialogAccepted": true}},
            });
            std::fs::write(home.join(".claude.json"), settings.to_string()).unwrap();
        }
        AgentKind::Gemini => {
            spec.env
                .insert("GOOGLE_GEMINI_BASE_URL".into(), provider.url());
            spec.env.insert("GEMINI_API_KEY".into(), KEY.into());
            let settings = serde_json::json!({
                "security": {"auth": {"selectedType": "gemini-api-key"}},
            });
            std::fs::create_dir_all(home.join(".gemini")).unwrap();
            std::fs::write(home.join(".gemini/settings.json"), settings.to_string()).unwrap();
        }
        AgentKind::Codex => {
            spec.env.insert("STAND_IN_KEY".into(), KEY.into());
            let config = format!(
                "model_provider = \"stand-in\"\n\n[model_providers.stand-in]\nname = \"stand-in\"\n\
                 base_url = \"{}/v1\"\nenv_key = \"STAND_IN_KEY\"\nwire_api = \"responses\"\n",
                provider.url()
            );
            std::fs::create_dir_all(home.join(".codex")).unwrap();
            std::fs::write(home.join(".codex/config.toml"), config).unwrap();
        }
        AgentKind::Command => unreachable!("a command has no CLI"),
    }
}

/// The requests that were turns of a conversation (not counts of tokens),
/// as the provider answered them: `text`, `tool:NAME`, `json`.
fn turns(provider: &Provider, path: &str) -> Vec<String> {
    provider
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with(path))
        .map(|s| s.reply)
        .collect()
}

/// The real CLIs, headless, each work a whole turn against a provider on
/// loopback: claude calls its shell (refused: nobody gave a headless run
/// leave) and gemini its own (run: baton passes `--yolo`), each answers
/// with a JSON object, and baton records what the CLI's own last line says
/// it used (every reply states the same usage: claude counts cache reads
/// apart from its input, gemini and codex within it), the tool by name, and
/// the object as the payload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_clis_turn_against_a_provider_on_loopback_is_recorded_with_its_usage() {
    use stand_in_agent::provider::{CACHED_TOKENS, INPUT_TOKENS, OUTPUT_TOKENS};
    let Some(dir) = clis() else { return };
    let provider = Provider::start().await.expect("a provider");
    let h = harness(&dir);
    // (cli, its requests' path, what it asked of the model, its activity)
    let cases: [(AgentKind, &str, &[&str], &[&str]); 3] = [
        (
            AgentKind::Claude,
            "/v1/messages",
            &["tool:Bash", "text"],
            &["turn_started", "tool Bash", "turn_ended", "completed"],
        ),
        (
            AgentKind::Gemini,
            "/v1beta/models/",
            // Its model router's question first (`--model` unset: auto).
            &["json", "tool:run_shell_command", "text"],
            &[
                "turn_started",
                "tool run_shell_command",
                "turn_ended",
                "completed",
            ],
        ),
        (
            AgentKind::Codex,
            "/v1/responses",
            &["text"],
            &["turn_started", "turn_ended", "completed"],
        ),
    ];
    for (cli, ..) in &cases {
        let name = cli.as_str();
        let mut spec = fresh(*cli, name, &h);
        spec.prompt = Some(format!("run: touch made.txt\nsay: {{\"by\": \"{name}\"}}"));
        through(&provider, *cli, &mut spec);
        h.spawn(spec).await;
    }
    for (cli, path, asked, did) in cases {
        let name = cli.as_str();
        assert_eq!(
            h.wait_terminal(name).await,
            SessionState::Completed,
            "{}",
            h.dump()
        );
        assert_eq!(turns(&provider, path), asked, "{name}: {}", h.dump());
        assert_eq!(activity(&h, name), did, "{name}: {}", h.dump());
        let (payload, usage) = h
            .session_records(name)
            .iter()
            .find_map(|r| match &r.event {
                Event::Completed { payload, usage } => Some((payload.clone(), *usage)),
                _ => None,
            })
            .expect("a completed record");
        assert_eq!(payload, Some(serde_json::json!({"by": name})));
        let usage = usage.unwrap_or_else(|| panic!("{name}: no usage"));
        let calls = asked.len() as u64;
        let input = match cli {
            AgentKind::Claude => INPUT_TOKENS,
            _ => INPUT_TOKENS - CACHED_TOKENS,
        };
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.cached_tokens),
            (calls * input, calls * OUTPUT_TOKENS, calls * CACHED_TOKENS),
            "{name}"
        );
        // claude prices its own turns: the cost is its figure, not baton's;
        // the others state none (and no `[pricing]` is set).
        assert_eq!(
            usage.cost_usd.is_some_and(|c| c > 0.0),
            cli == AgentKind::Claude,
            "{name}: {usage:?}"
        );
        assert!(!usage.cost_estimated);
    }
    let made = |name: &str| h.dir.path().join(format!("{name}.work/made.txt")).exists();
    assert_eq!(
        (made("claude"), made("gemini"), made("codex")),
        (false, true, false)
    );
    h.finish().await;
}

/// The real claude on a terminal, its hooks baton's, asks leave to run a
/// command, or asks its user a question: the session waits for
/// `permission` (the tool as evidence, and nothing ran yet) or `question`
/// (the question as evidence). Enter (its first choice: "Yes", or the
/// first option) sent through baton answers; its turn then ends, and the
/// session waits again, `idle`, with claude's answer as evidence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_claude_asks_then_ends_its_turn_and_baton_tells_the_two_apart() {
    let Some(dir) = clis() else { return };
    let provider = Provider::start().await.expect("a provider");
    let h = harness(&dir);
    // (case, prompt, what it waits for first, with what evidence)
    let cases = [
        (
            "leave",
            "run: touch made.txt",
            "input_wait:permission",
            // The tool and what claude says it does (never its command).
            "Bash: Run what the prompt asked",
        ),
        (
            "asks",
            "ask: Which database should the app use? | Postgres | SQLite",
            "input_wait:question",
            "Which database should the app use?",
        ),
    ];
    let backends = [baton_config::Backend::Pty, baton_config::Backend::Tmux];
    for backend in &backends {
        for (case, prompt, ..) in cases {
            let mut spec = fresh(AgentKind::Claude, &format!("{case}-{backend}"), &h);
            spec.backend = backend.clone();
            spec.prompt = Some(prompt.into());
            through(&provider, AgentKind::Claude, &mut spec);
            h.spawn(spec).await;
        }
    }
    for backend in &backends {
        for (case, _, first, evidence) in cases {
            let name = format!("{case}-{backend}");
            let made = h.dir.path().join(format!("{name}.work/made.txt"));
            h.wait_state(&name, SessionState::InputWait).await;
            assert!(!made.exists(), "{name}: ran before it was let");
            h.conductor
                .send_input(&id(&name), b"\r".to_vec(), true, "user")
                .await
                .expect("enter sent");
            common::wait_kind(&h, &name, WaitKind::Idle).await;
            assert_eq!(made.exists(), case == "leave", "{name}: what ran");
            let said: Vec<(String, Option<String>)> = common::states(&h, &name)
                .into_iter()
                .map(|(_, reason, evidence)| (reason, evidence))
                .filter(|(reason, _)| reason.starts_with("input_wait"))
                .collect();
            assert_eq!(said.len(), 2, "{name}: {said:?}\n{}", h.dump());
            assert_eq!(
                (said[0].0.as_str(), said[0].1.as_deref()),
                (first, Some(evidence))
            );
            assert_eq!(said[1].0, "input_wait:idle");
            let answer = said[1].1.as_deref().unwrap_or_default();
            assert!(answer.contains("stand-in provider"), "{name}: {said:?}");
            h.conductor.kill(&id(&name)).await.expect("kill");
        }
    }
    h.finish().await;
}

/// Without hooks (claude run as a plain command) the screen is all baton
/// has: the real claude's permission dialog and its question to its user
/// are `input_wait` with the question as evidence, and its screen after a
/// finished turn (its input line under the answer) is not — it stalls when
/// quiet, as a session nobody asked anything of.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_claudes_questions_on_screen_are_input_wait_and_its_idle_screen_is_not() {
    let Some(dir) = clis() else { return };
    let provider = Provider::start().await.expect("a provider");
    let h = harness_with(&dir, |opts| {
        opts.probe.stall_after = std::time::Duration::from_secs(4);
    });
    // (case, prompt, the question on its screen; none: its turn just ends)
    let cases = [
        (
            "leave",
            "run: touch made.txt",
            Some("Do you want to proceed?"),
        ),
        (
            "asks",
            "ask: Which database should the app use? | Postgres | SQLite",
            Some("Which database should the app use?"),
        ),
        ("done", "say: all done", None),
    ];
    let backends = [baton_config::Backend::Pty, baton_config::Backend::Tmux];
    for backend in &backends {
        for (case, prompt, _) in cases {
            let name = format!("{case}-{backend}");
            let mut spec = fresh(AgentKind::Command, &name, &h);
            spec.command = Some(vec![
                dir.join("claude").display().to_string(),
                "--".into(),
                prompt.into(),
            ]);
            spec.prompt = None;
            spec.backend = backend.clone();
            through(&provider, AgentKind::Claude, &mut spec);
            h.spawn(spec).await;
        }
    }
    for backend in &backends {
        for (case, _, question) in cases {
            let name = format!("{case}-{backend}");
            match question {
                Some(question) => {
                    let waiting = h.wait_state(&name, SessionState::InputWait).await;
                    let evidence = common::why(&waiting).1.unwrap_or_default();
                    assert!(
                        evidence.contains(question),
                        "{name}: waits on {evidence:?}\n{}",
                        h.dump()
                    );
                }
                None => {
                    h.wait_state(&name, SessionState::Stalled).await;
                    let waits: Vec<_> = common::states(&h, &name)
                        .into_iter()
                        .filter(|(to, ..)| *to == SessionState::InputWait)
                        .collect();
                    assert!(waits.is_empty(), "{name}: {waits:?}\n{}", h.dump());
                }
            }
            h.conductor.kill(&id(&name)).await.expect("kill");
        }
    }
    h.finish().await;
}
