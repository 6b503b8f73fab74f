//! Interactive sessions that say what they wait for: a CLI on a terminal
//! runs with baton's hooks for that run, and what the hooks say — a
//! permission asked, a question, a turn over — is the session's state at
//! once, whatever its screen keeps drawing. A run whose hooks stay silent
//! is said to be, and judged by its screen.
//!
//! The stand-in plays claude: it is claude's `bin`, and calls the hooks
//! its `--settings` argument names as claude does (`hook:EVENT:JSON`).

mod common;

use std::time::Duration;

use baton_config::{AgentKind, Backend, SessionSpec};
use baton_core::SessionState;
use baton_core::eventlog::{Event, Record};
use baton_proto::{HooksState, WaitKind};
use common::*;

/// A claude session on `backend` whose CLI (the stand-in) runs `steps`.
fn claude(name: &str, backend: Backend, steps: &[&str]) -> SessionSpec {
    let mut spec = SessionSpec::command(id(name), Vec::new());
    spec.agent = AgentKind::Claude;
    spec.command = None;
    spec.prompt = Some("fix the flaky test".into());
    spec.backend = backend;
    spec.env
        .insert(stand_in_agent::SCRIPT_ENV.into(), steps.join("\n"));
    spec
}

fn harness() -> Harness {
    Harness::new(|o| {
        o.agents.claude.bin = Some(stand_in().display().to_string());
        o.probe.stall_after = Duration::from_secs(30);
        o.probe.input_wait_after = Some(Duration::from_secs(2));
    })
}

/// CLOCK_MONOTONIC now, in ns (the stand-in's `stamp` clock).
fn monotonic_ns() -> u128 {
    stand_in_agent::monotonic_ns()
}

/// The `stamp <ns>` the session's output holds.
fn stamp(h: &Harness, name: &str) -> u128 {
    let out = String::from_utf8_lossy(&h.out_log(name)).into_owned();
    let at = out.find("stamp ").expect("a stamp in the output");
    out[at + 6..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("a number")
}

/// `name`'s row in the session table now.
async fn row(h: &Harness, name: &str) -> baton_proto::SessionRow {
    let rows = h.conductor.snapshot().await.expect("a table");
    rows.into_iter()
        .find(|r| r.id == name)
        .unwrap_or_else(|| panic!("no row for {name}"))
}

fn input_waits(h: &Harness, name: &str) -> Vec<(String, String, Option<WaitKind>)> {
    h.session_records(name)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::InputWait { rule, line, kind } => Some((rule, line, kind)),
            _ => None,
        })
        .collect()
}

const BASH: &str = r#"{"tool_name":"Bash","tool_input":{"command":"cargo test --token=s3cr3t-T0KEN","description":"Run the tests"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_hooks_say_is_the_state_at_once_whatever_the_screen_draws() {
    let h = harness();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        let pre = format!("hook:PreToolUse:{BASH}");
        let permission = format!("hook:PermissionRequest:{BASH}");
        let steps = [
            "print:claude (stand-in) ready",
            r#"hook:SessionStart:{"source":"startup"}"#,
            r#"hook:UserPromptSubmit:{"prompt":"fix the flaky test"}"#,
            "spinner",
            "sleep:300ms",
            &pre,
            "stamp",
            &permission,
            // The spinner goes on while the dialog waits: still waiting.
            "sleep:2500ms",
            r#"hook:PostToolUse:{"tool_name":"Bash","tool_response":{"stdout":"ok"}}"#,
            "sleep:300ms",
            r#"hook:PreToolUse:{"tool_name":"AskUserQuestion","tool_input":{"questions":[{"question":"Which database should the fix target?","options":[{"label":"sqlite"},{"label":"postgres"}]}]}}"#,
            "sleep:500ms",
            r#"hook:PostToolUse:{"tool_name":"AskUserQuestion"}"#,
            "sleep:300ms",
            r#"hook:Stop:{"last_assistant_message":"All 12 tests pass.\nThe fix is in src/lib.rs."}"#,
            "stall",
        ];
        h.spawn(claude(
            &format!("hooked-{backend}"),
            backend.clone(),
            &steps,
        ))
        .await;
    }
    // A dialog drawn, a quiet, more drawing: output resuming does not end
    // a wait the hooks declared; the turn's end changes what it waits for.
    let permission = format!("hook:PermissionRequest:{BASH}");
    h.spawn(claude(
        "redrawn",
        Backend::Pty,
        &[
            "print:claude (stand-in) ready",
            // Seen up before its dialog (a hook may beat the output).
            "sleep:200ms",
            &permission,
            "say:Do you want to proceed? [y/N] ",
            "sleep:2500ms",
            "print:(redrawn)",
            "sleep:500ms",
            r#"hook:Stop:{"last_assistant_message":"I stopped: the tests need permission."}"#,
            "stall",
        ],
    ))
    .await;
    for backend in &backends {
        let name = format!("hooked-{backend}");
        let waiting = wait_kind(&h, &name, WaitKind::Permission).await;
        let seen = monotonic_ns();
        let fired = stamp(&h, &name);
        let latency_ms = (seen.saturating_sub(fired)) as f64 / 1e6;
        println!("{name}: hook to input_wait record seen by the test: {latency_ms:.1} ms");
        // The bench measures it (p50/p99); here: at once, not after a quiet.
        assert!(latency_ms < 1000.0, "{name}: {latency_ms} ms\n{}", h.dump());
        let Event::InputWait { rule, line, .. } = &waiting.event else {
            unreachable!()
        };
        assert_eq!(rule, "hook:PermissionRequest");
        assert_eq!(line, "Bash: Run the tests");
    }
    for backend in &backends {
        let name = format!("hooked-{backend}");
        wait_kind(&h, &name, WaitKind::Idle).await;
        let wanted: Vec<(SessionState, &str, Option<&str>)> = vec![
            (SessionState::Starting, "spawn", None),
            (SessionState::Healthy, "first_output", None),
            (
                SessionState::InputWait,
                "input_wait:permission",
                Some("Bash: Run the tests"),
            ),
            (SessionState::Healthy, "tool_done", None),
            (
                SessionState::InputWait,
                "input_wait:question",
                Some("Which database should the fix target?"),
            ),
            (SessionState::Healthy, "tool_done", None),
            (
                SessionState::InputWait,
                "input_wait:idle",
                Some("The fix is in src/lib.rs."),
            ),
        ];
        let got = states(&h, &name);
        let got: Vec<(SessionState, &str, Option<&str>)> = got
            .iter()
            .map(|(to, reason, evidence)| (*to, reason.as_str(), evidence.as_deref()))
            .collect();
        assert_eq!(got, wanted, "{name}\n{}", h.dump());
        let kinds: Vec<Option<WaitKind>> =
            input_waits(&h, &name).into_iter().map(|w| w.2).collect();
        assert_eq!(
            kinds,
            [
                Some(WaitKind::Permission),
                Some(WaitKind::Question),
                Some(WaitKind::Idle)
            ]
        );
        let row = row(&h, &name).await;
        assert_eq!(row.wait_kind, Some(WaitKind::Idle), "{row:?}");
        assert_eq!(row.hooks, Some(HooksState::Reporting), "{row:?}");
    }
    wait_kind(&h, "redrawn", WaitKind::Idle).await;
    let got: Vec<(SessionState, String)> = states(&h, "redrawn")
        .into_iter()
        .map(|(to, reason, _)| (to, reason))
        .collect();
    assert_eq!(
        got,
        [
            (SessionState::Starting, "spawn".into()),
            (SessionState::Healthy, "first_output".into()),
            (SessionState::InputWait, "input_wait:permission".into()),
        ],
        "{}",
        h.dump()
    );
    let row = row(&h, "redrawn").await;
    assert_eq!(row.wait_kind, Some(WaitKind::Idle));
    assert_eq!(
        row.evidence.as_deref(),
        Some("I stopped: the tests need permission.")
    );
    h.conductor.kill(&id("redrawn")).await.expect("kill");
    // The command a permission was asked for held a token: it is in no
    // record (the summary is the CLI's description of it).
    let log = std::fs::read_to_string(h.logs().join("events.jsonl")).unwrap();
    assert!(!log.contains("s3cr3t"), "a secret reached the event log");
    for backend in &backends {
        h.conductor
            .kill(&id(&format!("hooked-{backend}")))
            .await
            .expect("kill");
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_hooks_never_fire_is_said_silent_and_judged_by_its_screen() {
    let h = harness();
    for backend in [Backend::Pty, Backend::Tmux] {
        let name = format!("mute-{backend}");
        h.spawn(claude(
            &name,
            backend,
            &[
                "print:claude (stand-in) without hooks",
                "ask:Continue? [y/N] ",
            ],
        ))
        .await;
        let waiting = h.wait_state(&name, SessionState::InputWait).await;
        let (reason, evidence) = why(&waiting);
        assert_eq!(reason, "input_wait:yes_no", "{}", h.dump());
        assert_eq!(evidence, Some("Continue? [y/N]"));
        let records = h.session_records(&name);
        let silent = records
            .iter()
            .position(|r| {
                matches!(
                    r.event,
                    Event::Hooks {
                        state: HooksState::Silent,
                        ..
                    }
                )
            })
            .expect("a hooks record");
        let judged = records.iter().position(|r| r.seq == waiting.seq).unwrap();
        assert!(silent < judged, "said silent before it is judged");
        let screen = h
            .wait_for("its input_wait record", |r: &Record| {
                r.session.as_deref() == Some(&name) && matches!(r.event, Event::InputWait { .. })
            })
            .await;
        assert!(
            matches!(screen.event, Event::InputWait { kind: None, .. }),
            "the screen knows no kind: {screen:?}"
        );
        let row = row(&h, &name).await;
        assert_eq!(row.hooks, Some(HooksState::Silent));
        assert_eq!(row.wait_kind, None);
        h.conductor.kill(&id(&name)).await.expect("kill");
    }
    h.finish().await;
}

/// A datagram that names a session with a token that is not its run's —
/// another session's, an earlier run's, made up — changes nothing; the
/// run's own token does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_of_one_session_cannot_speak_for_another() {
    let h = harness();
    h.spawn(claude(
        "teller",
        Backend::Pty,
        &["env:BATON_HOOK_TOKEN", "env:BATON_HOOK_SOCKET", "stall"],
    ))
    .await;
    h.spawn(claude("victim", Backend::Pty, &["print:working", "stall"]))
        .await;
    h.wait_state("teller", SessionState::Healthy).await;
    h.wait_state("victim", SessionState::Healthy).await;
    // Healthy comes with the first line; the second may still be on its way.
    poll_until("the teller's two lines", || {
        let out = h.out_log("teller");
        let out = String::from_utf8_lossy(&out);
        out.find("BATON_HOOK_SOCKET=")
            .is_some_and(|at| out[at..].contains('\n'))
    })
    .await;
    let out = String::from_utf8_lossy(&h.out_log("teller")).into_owned();
    let value = |name: &str| {
        let at = out.find(&format!("{name}=")).expect(name) + name.len() + 1;
        out[at..].lines().next().unwrap().trim().to_owned()
    };
    let token = value("BATON_HOOK_TOKEN");
    let socket = value("BATON_HOOK_SOCKET");
    assert_eq!(std::path::Path::new(&socket), h.logs().join("hooks.sock"));
    let send = |session: &str, attempt: u32, token: &str| {
        let report = serde_json::json!({
            "session": session,
            "attempt": attempt,
            "token": token,
            "input": serde_json::from_str::<serde_json::Value>(&format!(
                r#"{{"hook_event_name":"PermissionRequest","tool_name":"Bash","tool_input":{{"description":"forged {session}"}}}}"#
            )).unwrap(),
        });
        let socket_to = std::os::unix::net::UnixDatagram::unbound().unwrap();
        socket_to
            .send_to(report.to_string().as_bytes(), &socket)
            .unwrap();
    };
    send("victim", 1, &token);
    send("victim", 1, &"0".repeat(64));
    send("teller", 2, &token);
    send("victim", 1, "");
    // The run's own token is heard, after all of those.
    send("teller", 1, &token);
    let heard = h.wait_state("teller", SessionState::InputWait).await;
    assert_eq!(why(&heard).1, Some("Bash: forged teller"));
    assert!(
        h.session_records("victim")
            .iter()
            .all(|r| !matches!(r.event, Event::InputWait { .. })),
        "{}",
        h.dump()
    );
    for name in ["teller", "victim"] {
        h.conductor.kill(&id(name)).await.expect("kill");
    }
    h.finish().await;
}

/// Answers that land: a line sent to a TUI on a terminal is its text, then
/// its Enter on its own, so a TUI that takes keys arriving together for a
/// paste (and an Enter right behind them for a newline in it) submits it —
/// and the CLI's hook says the turn began.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_sent_to_a_tui_is_submitted_not_pasted() {
    let h = harness();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        let name = format!("tui-{backend}");
        h.spawn(claude(
            &name,
            backend.clone(),
            &[
                "print:claude (stand-in) ready",
                r#"hook:Stop:{"last_assistant_message":"What next?"}"#,
                "ask-tui:> ",
                r#"hook:UserPromptSubmit:{"prompt":"run the tests"}"#,
                "stall",
            ],
        ))
        .await;
    }
    for backend in &backends {
        let name = format!("tui-{backend}");
        wait_kind(&h, &name, WaitKind::Idle).await;
        h.conductor
            .send_input(&id(&name), b"run the tests\n".to_vec(), true, "user")
            .await
            .expect("delivered");
        let began = h
            .wait_for(&format!("{name} submitted"), |r: &Record| {
                r.session.as_deref() == Some(&name)
                    && matches!(&r.event, Event::State { to: SessionState::Healthy, reason, .. } if reason == "prompt_submitted")
            })
            .await;
        let out = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
        assert!(out.contains("answer: run the tests"), "{name}: {out:?}");
        assert!(!out.contains('⏎'), "{name}: its Enter was pasted: {out:?}");
        let input = h
            .session_records(&name)
            .into_iter()
            .find(|r| matches!(r.event, Event::Input { .. }))
            .expect("an input record");
        assert!(input.seq < began.seq, "recorded once its Enter was typed");
        h.conductor.kill(&id(&name)).await.expect("kill");
    }
    h.finish().await;
}

/// `StopFailure` feeds the failure classes: a rate limit ends the run as
/// `rate_limited`, its account cools down and the next run leases another;
/// an authentication failure is `auth_required`, dead after one run, with
/// the CLI's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_said_by_a_hook_rotates_the_account_or_asks_for_a_login() {
    use baton_config::{AccountMode, AccountSpec, AccountsConfig, Tier};
    let state = tempfile::tempdir().unwrap();
    let account = |id: &str| AccountSpec {
        id: id.into(),
        provider: AgentKind::Claude,
        mode: AccountMode::Env,
        profile: None,
        env: std::collections::BTreeMap::from([("ACCOUNT_NAME".to_string(), id.to_string())]),
        auth_file: None,
        host: None,
        tier: Tier::Pro,
    };
    let h = Harness::new(|o| {
        o.agents.claude.bin = Some(stand_in().display().to_string());
        o.probe.stall_after = Duration::from_secs(30);
        o.accounts = AccountsConfig {
            auth_dir: state.path().join("auth"),
            state_dir: state.path().to_owned(),
            cooldown: Duration::from_secs(60),
            accounts: vec![account("a"), account("b")],
            ..AccountsConfig::default()
        };
    });
    h.spawn(claude(
        "limited",
        Backend::Pty,
        &[
            "print:claude (stand-in) ready",
            r#"hook:StopFailure:{"error":"rate_limit","error_details":"5-hour limit reached"}"#,
            "stall",
        ],
    ))
    .await;
    let failed = h.wait_state("limited", SessionState::Failed).await;
    assert_eq!(
        why(&failed),
        ("rate_limited", Some("rate_limit (5-hour limit reached)")),
        "{}",
        h.dump()
    );
    // The restart leases the other account.
    h.wait_for("a second lease", |r: &Record| {
        r.session.as_deref() == Some("limited")
            && matches!(&r.event, Event::Lease { account, .. } if account == "b")
    })
    .await;
    let leases: Vec<String> = h
        .session_records("limited")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Lease { account, .. } => Some(account),
            _ => None,
        })
        .collect();
    assert_eq!(leases[..2], ["a", "b"]);
    h.conductor.kill(&id("limited")).await.expect("kill");
    h.finish().await;

    let h = harness();
    h.spawn(claude(
        "logged-out",
        Backend::Tmux,
        &[
            "print:claude (stand-in) ready",
            r#"hook:StopFailure:{"error":"authentication_failed","last_assistant_message":"Not logged in · Please run /login"}"#,
            "stall",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("logged-out").await, SessionState::Dead);
    let failed = h
        .session_records("logged-out")
        .into_iter()
        .find(|r| {
            matches!(
                r.event,
                Event::State {
                    to: SessionState::Failed,
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(
        why(&failed),
        (
            "auth_required",
            Some("authentication_failed (Not logged in · Please run /login)")
        )
    );
    let spawns = h
        .session_records("logged-out")
        .iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count();
    assert_eq!(spawns, 1, "no restart can log it in");
    h.finish().await;
}

/// gemini reads hooks only from settings files: its run gets one (its
/// system defaults, private to the user, below no world-writable
/// directory), holding the defaults it would have read with baton's hooks
/// added — and it is gone when the run ends. What its hooks say is the
/// state, as for claude.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_gets_its_hooks_from_a_settings_file_of_its_run() {
    let h = Harness::new(|o| {
        o.agents.gemini.bin = Some(stand_in().display().to_string());
        o.probe.stall_after = Duration::from_secs(30);
    });
    // The user's own defaults, which the run's file must keep.
    let defaults = h.dir.path().join("my-defaults.json");
    std::fs::write(
        &defaults,
        r#"{"ui": {"theme": "mine"}, "hooks": {"AfterAgent": [{"hooks": [{"type": "command", "command": "true"}]}]}}"#,
    )
    .unwrap();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        let mut spec = claude(
            &format!("gemini-{backend}"),
            backend.clone(),
            &[
                "print:gemini (stand-in) ready",
                "sleep:200ms",
                "env:GEMINI_CLI_SYSTEM_DEFAULTS_PATH",
                r#"hook:SessionStart:{"source":"startup"}"#,
                r#"hook:BeforeAgent:{"prompt":"fix it"}"#,
                "spinner",
                r#"hook:Notification:{"notification_type":"ToolPermission","message":"Allow rm -rf ~/s3cr3t?","details":{"toolName":"run_shell_command"}}"#,
                "sleep:500ms",
                r#"hook:AfterTool:{"tool_name":"run_shell_command"}"#,
                r#"hook:AfterAgent:{"prompt":"fix it","prompt_response":"Fixed.\nAll tests pass."}"#,
                "stall",
            ],
        );
        spec.agent = AgentKind::Gemini;
        spec.env.insert(
            "GEMINI_CLI_SYSTEM_DEFAULTS_PATH".into(),
            defaults.display().to_string(),
        );
        h.spawn(spec).await;
    }
    for backend in &backends {
        let name = format!("gemini-{backend}");
        wait_kind(&h, &name, WaitKind::Idle).await;
        let got: Vec<(SessionState, String, Option<String>)> = states(&h, &name);
        let reasons: Vec<&str> = got.iter().map(|(_, r, _)| r.as_str()).collect();
        assert_eq!(reasons, PERMISSION_THEN_IDLE, "{}", h.dump());
        assert_eq!(got[2].2.as_deref(), Some("run_shell_command"));
        assert_eq!(got[4].2.as_deref(), Some("All tests pass."));
        // The run's settings file: private, in the user's private dir, with
        // the user's defaults and baton's hooks.
        let out = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
        let at = out.find("GEMINI_CLI_SYSTEM_DEFAULTS_PATH=").unwrap() + 32;
        let path = std::path::PathBuf::from(out[at..].lines().next().unwrap().trim());
        assert_ne!(path, defaults, "{name} reads a file of its run");
        assert_eq!(
            path.parent(),
            baton_core::hooks::settings_dir().as_deref(),
            "{path:?}"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{path:?}");
        let settings: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(settings["ui"]["theme"], "mine");
        assert_eq!(settings["hooks"]["AfterAgent"].as_array().unwrap().len(), 2);
        h.conductor.kill(&id(&name)).await.expect("kill");
        assert!(!path.exists(), "{path:?} outlived its run");
    }
    let log = std::fs::read_to_string(h.logs().join("events.jsonl")).unwrap();
    assert!(!log.contains("s3cr3t"), "a secret reached the event log");
    h.finish().await;
}

/// A permission or a question its hooks declared ends with the answer sent
/// to it (no hook says a dialog was answered: the tool runs, perhaps for
/// long); the wait for the next prompt ends only when its hook says the
/// prompt was submitted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_ends_a_permission_wait() {
    let h = harness();
    let permission = format!("hook:PermissionRequest:{BASH}");
    h.spawn(claude(
        "asked",
        Backend::Pty,
        &[
            "print:claude (stand-in) ready",
            // Seen up before its dialog (a hook may beat the output).
            "sleep:200ms",
            &permission,
            "ask-tui:Do you want to proceed? ❯ 1. Yes  2. No ",
            "spinner",
            "sleep:3s",
            r#"hook:PostToolUse:{"tool_name":"Bash"}"#,
            "stall",
        ],
    ))
    .await;
    h.wait_state("asked", SessionState::InputWait).await;
    h.conductor
        .send_input(&id("asked"), b"1\n".to_vec(), true, "user")
        .await
        .expect("delivered");
    let answered = h
        .wait_for("the answer", |r: &Record| {
            r.session.as_deref() == Some("asked")
                && matches!(&r.event, Event::State { to: SessionState::Healthy, reason, .. } if reason == "answered")
        })
        .await;
    let healthy: Vec<String> = states(&h, "asked")
        .into_iter()
        .filter(|(to, _, _)| *to == SessionState::Healthy)
        .map(|(_, reason, _)| reason)
        .collect();
    assert_eq!(healthy, ["first_output", "answered"], "{}", h.dump());
    let input = h
        .session_records("asked")
        .into_iter()
        .find(|r| matches!(r.event, Event::Input { .. }))
        .unwrap();
    assert!(input.seq < answered.seq, "the answer, then its state");
    h.conductor.kill(&id("asked")).await.expect("kill");
    h.finish().await;
}

/// An answer sent the moment a hook announces a dialog — before the CLI
/// has drawn it — is typed once the screen settles, not into a screen
/// still being drawn: the dialog gets it whole and submits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_sent_while_its_dialog_is_drawn_lands() {
    let h = harness();
    let permission = format!("hook:PermissionRequest:{BASH}");
    for backend in [Backend::Pty, Backend::Tmux] {
        let name = format!("drawing-{backend}");
        h.spawn(claude(
            &name,
            backend,
            &[
                "print:claude (stand-in) ready",
                &permission,
                // The dialog takes a moment to draw; its key reader starts
                // after it.
                "lines:4:100ms",
                "ask-tui:Allow Bash: Run the tests? ",
                "stall",
            ],
        ))
        .await;
        wait_kind(&h, &name, WaitKind::Permission).await;
        h.conductor
            .send_input(&id(&name), b"yes, and remember\n".to_vec(), true, "user")
            .await
            .expect("delivered");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let out = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
            if out.contains("answer: yes, and remember") {
                assert!(!out.contains('⏎'), "{name}: {out:?}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: the answer never landed: {out:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        h.conductor.kill(&id(&name)).await.expect("kill");
    }
    h.finish().await;
}

/// codex gets hooks only when the user asks (`[agents.codex] hooks = true`:
/// they run with `--dangerously-bypass-hook-trust`, which lifts review for
/// every hook of the run): then its session flags carry them and what they
/// say is the state; without, codex runs headless. A claude whose user
/// turned its hooks off runs interactively, judged by its screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_the_users_choice_and_codex_takes_them_as_session_flags() {
    let h = Harness::new(|o| {
        o.agents.codex.bin = Some(stand_in().display().to_string());
        o.agents.claude.bin = Some(stand_in().display().to_string());
        o.agents.claude.hooks = Some(false);
        o.probe.stall_after = Duration::from_secs(30);
    });
    let steps = [
        "print:codex (stand-in) ready",
        "sleep:200ms",
        r#"hook:PermissionRequest:{"tool_name":"Bash","tool_input":{"command":"rm -rf build","description":"Clean the build"}}"#,
        "sleep:300ms",
        r#"hook:Stop:{"last_assistant_message":"Cleaned."}"#,
        "stall",
    ];
    let mut spec = claude("codex-plain", Backend::Pty, &steps);
    spec.agent = AgentKind::Codex;
    h.spawn(spec).await;
    let mut spec = claude("claude-unhooked", Backend::Pty, &steps);
    spec.agent = AgentKind::Claude;
    h.spawn(spec).await;
    h.wait_state("codex-plain", SessionState::Healthy).await;
    h.wait_state("claude-unhooked", SessionState::Healthy).await;
    let codex = h.spawn_argv("codex-plain");
    assert!(codex.iter().any(|w| w == "exec"), "headless: {codex:?}");
    assert!(!codex.iter().any(|w| w.contains("hook")), "{codex:?}");
    let unhooked = h.spawn_argv("claude-unhooked");
    assert!(
        !unhooked.iter().any(|w| w == "-p"),
        "interactive: {unhooked:?}"
    );
    assert!(
        !unhooked.iter().any(|w| w.starts_with("--settings")),
        "{unhooked:?}"
    );
    for name in ["codex-plain", "claude-unhooked"] {
        assert_eq!(row(&h, name).await.hooks, None, "{name}");
        h.conductor.kill(&id(name)).await.expect("kill");
    }
    h.finish().await;

    let h = Harness::new(|o| {
        o.agents.codex.bin = Some(stand_in().display().to_string());
        o.agents.codex.hooks = Some(true);
        o.probe.stall_after = Duration::from_secs(30);
    });
    for backend in [Backend::Pty, Backend::Tmux] {
        let name = format!("codex-{backend}");
        let mut spec = claude(&name, backend, &steps);
        spec.agent = AgentKind::Codex;
        h.spawn(spec).await;
        wait_kind(&h, &name, WaitKind::Idle).await;
        let reasons: Vec<String> = h.transitions(&name).into_iter().map(|t| t.2).collect();
        // The turn's end while it waits changes what it waits for, not
        // its state.
        assert_eq!(
            reasons,
            ["spawn", "first_output", "input_wait:permission"],
            "{}",
            h.dump()
        );
        let argv = h.spawn_argv(&name);
        assert!(
            argv.iter().any(|w| w == "--dangerously-bypass-hook-trust"),
            "{argv:?}"
        );
        assert!(!argv.iter().any(|w| w == "exec"), "interactive: {argv:?}");
        assert_eq!(row(&h, &name).await.wait_kind, Some(WaitKind::Idle));
        h.conductor.kill(&id(&name)).await.expect("kill");
    }
    h.finish().await;
}
