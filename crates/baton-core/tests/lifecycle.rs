//! Sessions driven through every reachable row of the transition table and
//! every failure class, with the stand-in agent as a real child process.

mod common;

use std::time::Duration;

use baton_config::{AgentKind, OnStall, SessionSpec};
use baton_core::SessionState::{self, *};
use baton_core::eventlog::Event;
use common::*;
use sha2::Digest;

type T = (SessionState, SessionState);

fn pairs(h: &Harness, id: &str) -> Vec<T> {
    h.transitions(id)
        .into_iter()
        .map(|(f, t, _)| (f, t))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_output_then_exit_zero_completes() {
    let h = Harness::new(|_| {});
    h.spawn(script("ok", &["print:hello", "exit:0"])).await;
    assert_eq!(h.wait_terminal("ok").await, Completed);
    assert_eq!(h.path_of("ok"), vec![Init, Starting, Healthy, Completed]);
    assert_eq!(h.out_log("ok"), b"hello\n");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_exit_zero_completes_from_starting() {
    let h = Harness::new(|_| {});
    h.spawn(script("quiet", &["exit:0"])).await;
    assert_eq!(h.wait_terminal("quiet").await, Completed);
    assert_eq!(h.path_of("quiet"), vec![Init, Starting, Completed]);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_crash_fails_from_starting_and_restarts_until_dead() {
    let h = Harness::new(|o| o.conductor.max_restarts = 2);
    h.spawn(script("crashy", &["exit:7"])).await;
    assert_eq!(h.wait_terminal("crashy").await, Dead);
    assert_eq!(
        pairs(&h, "crashy"),
        vec![
            (Init, Starting),
            (Starting, Failed),
            (Failed, Restarting),
            (Restarting, Starting),
            (Starting, Failed),
            (Failed, Restarting),
            (Restarting, Starting),
            (Starting, Failed),
            (Failed, Dead),
        ]
    );
    let spawns: Vec<u32> = h
        .session_records("crashy")
        .iter()
        .filter_map(|r| match r.event {
            Event::Spawn { restart, .. } => Some(restart),
            _ => None,
        })
        .collect();
    assert_eq!(spawns, vec![0, 1, 2]);
    let dead = h
        .wait_for("dead event", |r| matches!(r.event, Event::Dead { .. }))
        .await;
    assert!(
        matches!(&dead.event, Event::Dead { reason, restarts: 2, .. } if reason == "crash"),
        "{dead:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_crash_is_classified_and_restart_delay_follows_backoff() {
    let h = Harness::new(|o| {
        o.conductor.max_restarts = 3;
        o.conductor.backoff = Duration::from_millis(40);
        o.conductor.backoff_max = Duration::from_millis(100);
    });
    h.spawn(script("c", &["print:working", "signal:KILL"]))
        .await;
    assert_eq!(h.wait_terminal("c").await, Dead);
    let delays: Vec<u64> = h
        .session_records("c")
        .iter()
        .filter_map(|r| match &r.event {
            Event::State {
                to: Restarting,
                delay_ms,
                reason,
                ..
            } => {
                assert_eq!(reason, "crash");
                *delay_ms
            }
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 3);
    // 40, 80, 100 (capped), each plus at most 10 % jitter.
    for (got, base) in delays.iter().zip([40u64, 80, 100]) {
        assert!(
            *got >= base && *got <= base + base / 10,
            "delay {got} vs {base}"
        );
    }
    assert!(pairs(&h, "c").contains(&(Healthy, Failed)));
    let exit = h
        .wait_for("exit", |r| matches!(r.event, Event::Exit { .. }))
        .await;
    assert!(matches!(
        exit.event,
        Event::Exit {
            code: None,
            signal: Some(9),
            ..
        }
    ));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_then_resume_then_stall_then_complete_and_stall_then_crash() {
    let h = Harness::new(|o| {
        o.conductor.max_restarts = 0;
        o.probe.stall_after = Duration::from_millis(300);
    });
    h.spawn(script(
        "s",
        &["print:a", "sleep:600ms", "print:b", "sleep:600ms", "exit:0"],
    ))
    .await;
    h.spawn(script("f", &["print:a", "sleep:600ms", "exit:3"]))
        .await;
    assert_eq!(h.wait_terminal("s").await, Completed);
    assert_eq!(
        h.path_of("s"),
        vec![
            Init, Starting, Healthy, Stalled, Healthy, Stalled, Completed
        ]
    );
    assert_eq!(h.wait_terminal("f").await, Dead);
    assert_eq!(
        h.path_of("f"),
        vec![Init, Starting, Healthy, Stalled, Failed, Dead]
    );
    let (_, _, reason) = h.transitions("s")[2].clone();
    assert_eq!(reason, "no_output_for_300ms");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn question_goes_input_wait_with_evidence_and_an_answer_resumes() {
    let h = Harness::new(|_| {});
    h.spawn(script(
        "q",
        &[
            "print:planning",
            "ask:Do you want to apply these changes? (y/n) ",
            "exit:0",
        ],
    ))
    .await;
    let wait = h
        .wait_for("input_wait event", |r| {
            matches!(r.event, Event::InputWait { .. })
        })
        .await;
    let Event::InputWait { rule, line, .. } = &wait.event else {
        unreachable!()
    };
    assert_eq!(rule, "yes_no");
    assert!(
        line.contains("Do you want to apply these changes?"),
        "{line}"
    );
    // --if-waiting semantics: accepted only in input_wait.
    h.conductor
        .send_input(&id("q"), b"y\n".to_vec(), true, "user")
        .await
        .expect("send while waiting");
    assert_eq!(h.wait_terminal("q").await, Completed);
    assert_eq!(
        h.path_of("q"),
        vec![Init, Starting, Healthy, InputWait, Healthy, Completed]
    );
    let out = String::from_utf8(h.out_log("q")).unwrap();
    assert!(out.ends_with("answer: y\n"), "{out:?}");
    let input = h
        .wait_for("input event", |r| matches!(r.event, Event::Input { .. }))
        .await;
    assert!(matches!(input.event, Event::Input { len: 2, ref source, .. } if source == "user"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_zero_and_crash_from_input_wait() {
    let h = Harness::new(|o| {
        o.conductor.max_restarts = 0;
        o.probe.stall_after = Duration::from_millis(300);
    });
    h.spawn(script(
        "z",
        &["say:Continue? (y/n) ", "sleep:700ms", "exit:0"],
    ))
    .await;
    h.spawn(script(
        "x",
        &["say:Overwrite file? [y/N] ", "sleep:700ms", "exit:1"],
    ))
    .await;
    assert_eq!(h.wait_terminal("z").await, Completed);
    assert_eq!(
        h.path_of("z"),
        vec![Init, Starting, Healthy, InputWait, Completed]
    );
    assert_eq!(h.wait_terminal("x").await, Dead);
    assert_eq!(
        h.path_of("x"),
        vec![Init, Starting, Healthy, InputWait, Failed, Dead]
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_if_waiting_refuses_outside_input_wait() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(30));
    h.spawn(script("busy", &["print:working", "stall"])).await;
    h.wait_state("busy", Healthy).await;
    let err = h
        .conductor
        .send_input(&id("busy"), b"y\n".to_vec(), true, "user")
        .await
        .expect_err("not waiting");
    assert!(err.to_string().contains("not input_wait"), "{err}");
    assert!(
        !h.records()
            .iter()
            .any(|r| matches!(r.event, Event::Input { .. }))
    );
    let err = h
        .conductor
        .send_input(&id("nope"), b"y\n".to_vec(), false, "user")
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("no session with id `nope`"));
    h.conductor.kill(&id("busy")).await.expect("kill");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_timeout_restarts_then_dies() {
    let h = Harness::new(|o| {
        o.probe.startup_timeout = Duration::from_millis(300);
        o.conductor.max_restarts = 1;
    });
    h.spawn(script("mute", &["stall"])).await;
    assert_eq!(h.wait_terminal("mute").await, Dead);
    let t = h.transitions("mute");
    let reasons: Vec<&str> = t
        .iter()
        .filter(|(_, to, _)| *to == Failed)
        .map(|(_, _, r)| r.as_str())
        .collect();
    assert_eq!(reasons, vec!["startup_timeout", "startup_timeout"]);
    assert_eq!(t.last().unwrap().2, "startup_timeout");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_uses_parsed_reset_or_the_cooldown() {
    let h = Harness::new(|o| {
        o.conductor.rate_limit_cooldown = Duration::from_millis(150);
        o.conductor.max_restarts = 1;
    });
    h.spawn(script(
        "parsed",
        &[
            "print:calling",
            "fail-before-attempt:2:Error: 429 Too Many Requests. Please try again in 1s",
        ],
    ))
    .await;
    h.spawn(script(
        "unparsed",
        &[
            "print:calling",
            "fail-before-attempt:2:error: usage limit reached for this account",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("parsed").await, Completed);
    assert_eq!(h.wait_terminal("unparsed").await, Completed);
    let restart_delay = |sid: &str| {
        h.session_records(sid)
            .iter()
            .find_map(|r| match &r.event {
                Event::State {
                    to: Restarting,
                    delay_ms,
                    reason,
                    ..
                } => {
                    assert_eq!(reason, "rate_limited");
                    *delay_ms
                }
                _ => None,
            })
            .expect("restarting event")
    };
    assert_eq!(restart_delay("parsed"), 1000);
    assert_eq!(restart_delay("unparsed"), 150);
    let failed = h
        .session_records("parsed")
        .into_iter()
        .find_map(|r| match r.event {
            Event::State {
                to: Failed,
                evidence,
                ..
            } => evidence,
            _ => None,
        })
        .expect("evidence");
    assert!(failed.contains("429"), "{failed}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_binary_and_workdir_die_at_once_with_a_message() {
    let h = Harness::new(|o| o.conductor.max_restarts = 5);
    h.spawn(SessionSpec::command(
        id("nobin"),
        vec!["baton-no-such-agent-xyz".into()],
    ))
    .await;
    let mut spec = script("nodir", &["print:x"]);
    spec.workdir = Some(h.dir.path().join("does/not/exist"));
    h.spawn(spec).await;
    for sid in ["nobin", "nodir"] {
        assert_eq!(h.wait_terminal(sid).await, Dead);
        assert_eq!(h.path_of(sid), vec![Init, Starting, Failed, Dead]);
        assert!(
            !h.session_records(sid)
                .iter()
                .any(|r| matches!(r.event, Event::Spawn { .. }))
        );
    }
    let message = |sid: &str| {
        h.session_records(sid)
            .into_iter()
            .find_map(|r| match r.event {
                Event::SpawnError { missing, message } => Some((missing, message)),
                _ => None,
            })
            .expect("spawn_error")
    };
    let (missing, text) = message("nobin");
    assert_eq!(missing, "binary");
    assert!(
        text.contains("baton-no-such-agent-xyz") && text.contains("PATH"),
        "{text}"
    );
    let (missing, text) = message("nodir");
    assert_eq!(missing, "workdir");
    assert!(text.contains("does/not/exist"), "{text}");
    let snap = h.conductor.snapshot().await.unwrap();
    let nobin = snap.iter().find(|s| s.id == "nobin").unwrap();
    assert!(nobin.message.as_deref().unwrap_or("").contains("not found"));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branch_guard_refuses_main_and_allows_a_feature_branch() {
    let h = Harness::new(|_| {});
    let repo = h.dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    let mut guarded = script("guarded", &["print:should not run"]);
    guarded.workdir = Some(repo.clone());
    guarded.branch_guard = true;
    h.spawn(guarded).await;
    assert_eq!(h.wait_terminal("guarded").await, Dead);
    assert!(h.out_log("guarded").is_empty());
    let reason = h.transitions("guarded").last().unwrap().2.clone();
    assert_eq!(reason, "spawn_error");

    git(&["checkout", "-q", "-b", "feature/x"]);
    let mut allowed = script("allowed", &["print:ran"]);
    allowed.workdir = Some(repo);
    allowed.branch_guard = true;
    h.spawn(allowed).await;
    assert_eq!(h.wait_terminal("allowed").await, Completed);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stall_restart_restarts_a_stuck_session() {
    let h = Harness::new(|o| {
        o.probe.on_stall = OnStall::Restart;
        o.probe.stall_restart_after = Duration::from_millis(200);
        o.conductor.max_restarts = 1;
    });
    h.spawn(script("stuck", &["print:x", "stall"])).await;
    assert_eq!(h.wait_terminal("stuck").await, Dead);
    let t = h.transitions("stuck");
    assert!(t.contains(&(Stalled, Failed, "stalled".into())), "{t:?}");
    assert!(t.contains(&(Failed, Restarting, "stalled".into())));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_budget_is_given_back_after_a_stable_run() {
    let h = Harness::new(|o| {
        o.conductor.reset_after = Duration::from_millis(200);
        o.probe.stall_after = Duration::from_secs(30);
    });
    h.spawn(script(
        "stable",
        &["print:x", "fail-before-attempt:2", "print:up", "stall"],
    ))
    .await;
    let reset = h
        .wait_for("budget_reset", |r| {
            matches!(r.event, Event::BudgetReset { .. })
        })
        .await;
    assert!(matches!(reset.event, Event::BudgetReset { restarts: 1 }));
    let snap = h.conductor.snapshot().await.unwrap();
    assert_eq!(snap[0].restarts, 0);
    assert_eq!(snap[0].attempt, 2);
    h.conductor.kill(&id("stable")).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn l2_check_failures_fail_the_session() {
    let h = Harness::new(|o| {
        o.probe.l2_check = Some(vec!["false".into()]);
        o.probe.l2_interval = Duration::from_millis(100);
        o.probe.l2_failures = 2;
        o.probe.stall_after = Duration::from_secs(30);
        o.conductor.max_restarts = 0;
    });
    h.spawn(script("tools", &["print:x", "stall"])).await;
    assert_eq!(h.wait_terminal("tools").await, Dead);
    let t = h.transitions("tools");
    assert!(
        t.contains(&(Healthy, Failed, "tools_unavailable".into())),
        "{t:?}"
    );
    assert!(
        h.records()
            .iter()
            .any(|r| matches!(&r.event, Event::Health { l2: Some(_), .. }))
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_with_shell_syntax_reach_the_agent_verbatim_and_run_nothing() {
    let h = Harness::new(|o| {
        o.agents.codex.bin = Some(stand_in().display().to_string());
        o.agents.claude.bin = Some(stand_in().display().to_string());
    });
    let nasty = r#"$(touch x) `touch z` "; touch y; " 'q' & | > w"#;
    let work = h.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (name, agent) in [("codex", AgentKind::Codex), ("claude", AgentKind::Claude)] {
        let mut spec = SessionSpec::command(id(name), vec![]);
        spec.agent = agent;
        spec.command = None;
        spec.prompt = Some(nasty.into());
        spec.workdir = Some(work.clone());
        h.spawn(spec).await;
        assert_eq!(h.wait_terminal(name).await, Completed);
        let out = String::from_utf8(h.out_log(name)).unwrap();
        assert_eq!(out, format!("stand-in: prompt={nasty}\n"));
        let argv = h
            .session_records(name)
            .into_iter()
            .find_map(|r| match r.event {
                Event::Spawn { argv, .. } => Some(argv),
                _ => None,
            })
            .unwrap();
        // The record says what was passed, not the text: the event log
        // never holds input (`[conductor] log_input` would put it there).
        let digest: String = sha2::Sha256::digest(nasty.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let stand_in_word = format!("<prompt {} bytes sha256:{digest}>", nasty.len());
        assert_eq!(argv.last(), Some(&stand_in_word));
    }
    // The command agent gets the prompt in BATON_PROMPT, untouched.
    let mut spec = script("cmd", &["env:BATON_PROMPT"]);
    spec.prompt = Some(nasty.into());
    spec.workdir = Some(work.clone());
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("cmd").await, Completed);
    assert_eq!(
        h.out_log("cmd"),
        format!("BATON_PROMPT={nasty}\n").into_bytes()
    );
    for f in ["x", "y", "z", "w"] {
        assert!(!work.join(f).exists(), "{f} was created: a shell ran");
    }
    let on_disk = h.finish().await;
    for record in on_disk {
        let line = serde_json::to_string(&record).unwrap();
        assert!(
            !line.contains("touch"),
            "the prompt reached the event log: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_argv_matches_the_spec_table() {
    let h = Harness::new(|o| {
        o.agents.codex.bin = Some(stand_in().display().to_string());
        // The exact argv, prompt included, in the record.
        o.conductor.log_input = true;
    });
    // codex's own configuration, with the profile and the server it names.
    let codex_home = tempfile::tempdir().unwrap();
    std::fs::write(
        codex_home.path().join("work.config.toml"),
        "model = \"o3\"\n",
    )
    .unwrap();
    std::fs::write(
        codex_home.path().join("config.toml"),
        "[mcp_servers.github]\ncommand = \"gh-mcp\"\n",
    )
    .unwrap();
    let mut spec = SessionSpec::command(id("cx"), vec![]);
    spec.agent = AgentKind::Codex;
    spec.command = None;
    spec.prompt = Some("print:hi".into());
    spec.profile = Some("work".into());
    spec.mcp_servers = vec!["github".into()];
    spec.env
        .insert("CODEX_HOME".into(), codex_home.path().display().to_string());
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("cx").await, Completed);
    assert_eq!(h.out_log("cx"), b"hi\n");
    let argv = h
        .session_records("cx")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Spawn { argv, .. } => Some(argv),
            _ => None,
        })
        .unwrap();
    let want: Vec<String> = [
        stand_in().display().to_string().as_str(),
        "--profile=work",
        "exec",
        "--json",
        "--dangerously-bypass-approvals-and-sandbox",
        "--skip-git-repo-check",
        "--color",
        "never",
        "-c",
        "mcp_servers.github.enabled=true",
        "--",
        "print:hi",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(argv, want);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_values_never_reach_the_event_log() {
    let h = Harness::new(|_| {});
    let mut spec = script("sec", &["env:API_TOKEN"]);
    spec.env
        .insert("API_TOKEN".into(), "s3cr3t-v4lue-0xdeadbeef".into());
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("sec").await, Completed);
    assert_eq!(h.out_log("sec"), b"API_TOKEN=s3cr3t-v4lue-0xdeadbeef\n");
    let records = h.finish().await;
    let text: String = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    assert!(text.contains("API_TOKEN"), "the key is recorded");
    assert!(!text.contains("s3cr3t"), "the value must not be");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_payload_frames_and_fallback() {
    let h = Harness::new(|_| {});
    h.spawn(script(
        "framed",
        &[
            r#"payload:{"n":1}"#,
            "print:noise",
            r#"tfx-payload:{"n":2}"#,
            "print:after",
        ],
    ))
    .await;
    h.spawn(script(
        "fallback",
        &[
            "print:work done",
            r#"print:{"result":"ok","files":["a.rs"]}"#,
        ],
    ))
    .await;
    h.spawn(script("none", &["print:nothing structured here"]))
        .await;
    for sid in ["framed", "fallback", "none"] {
        assert_eq!(h.wait_terminal(sid).await, Completed);
    }
    let payload = |sid: &str| {
        h.session_records(sid)
            .into_iter()
            .find_map(|r| match r.event {
                Event::Completed { payload, .. } => Some(payload),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(payload("framed"), Some(serde_json::json!({"n": 2})));
    assert_eq!(
        payload("fallback"),
        Some(serde_json::json!({"result": "ok", "files": ["a.rs"]}))
    );
    assert_eq!(payload("none"), None);
    let snap = h.conductor.snapshot().await.unwrap();
    assert_eq!(
        snap.iter().find(|s| s.id == "framed").unwrap().payload,
        Some(serde_json::json!({"n": 2}))
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_ids_are_refused_and_capabilities_are_queryable() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(30));
    let mut spec = script("rev", &["print:x", "stall"]);
    spec.capabilities = vec!["review".into()];
    h.spawn(spec.clone()).await;
    let err = h.conductor.spawn(spec).await.expect_err("duplicate");
    assert!(err.to_string().contains("already exists"));
    h.spawn(script("other", &["print:x", "stall"])).await;
    h.wait_state("rev", Healthy).await;
    assert_eq!(
        h.conductor.with_capability("review").await.unwrap(),
        vec!["rev"]
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_records_only_when_asked_for() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(30));
    h.spawn(script("quiet", &["print:x", "sleep:300ms", "exit:0"]))
        .await;
    assert_eq!(h.wait_terminal("quiet").await, Completed);
    let records = h.finish().await;
    assert!(
        !records
            .iter()
            .any(|r| matches!(r.event, Event::Health { .. })),
        "health is off by default"
    );

    let h = Harness::new(|o| {
        o.probe.stall_after = Duration::from_secs(30);
        o.probe.health_interval = Some(Duration::from_millis(50));
    });
    h.spawn(script("watched", &["print:x", "stall"])).await;
    let rec = h
        .wait_for("health", |r| matches!(r.event, Event::Health { .. }))
        .await;
    assert!(
        matches!(
            rec.event,
            Event::Health {
                out_bytes: 2,
                l2: None,
                ..
            }
        ),
        "{rec:?}"
    );
    h.conductor.kill(&id("watched")).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_to_a_session_without_a_stdin_pipe_is_refused_clearly() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(30));
    let mut spec = script("nostdin", &["print:x", "stall"]);
    spec.stdin = Some(baton_config::StdinMode::Null);
    h.spawn(spec).await;
    h.wait_state("nostdin", Healthy).await;
    let err = h
        .conductor
        .send_input(&id("nostdin"), b"y\n".to_vec(), false, "user")
        .await
        .expect_err("no pipe");
    assert!(err.to_string().contains("stdin"), "{err}");
    h.conductor.kill(&id("nostdin")).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_without_the_profile_or_server_it_names_is_a_spawn_error_not_a_crash() {
    let h = Harness::new(|o| o.agents.codex.bin = Some(stand_in().display().to_string()));
    let codex_home = tempfile::tempdir().unwrap();
    // A legacy [profiles.P] table (codex refuses it) and no MCP servers.
    std::fs::write(
        codex_home.path().join("config.toml"),
        "[profiles.legacy]\nmodel = \"o3\"\n",
    )
    .unwrap();
    let codex = |name: &str, profile: Option<&str>, servers: &[&str]| {
        let mut spec = SessionSpec::command(id(name), vec![]);
        spec.agent = AgentKind::Codex;
        spec.command = None;
        spec.prompt = Some("print:hi".into());
        spec.profile = profile.map(str::to_owned);
        spec.mcp_servers = servers.iter().map(|s| s.to_string()).collect();
        spec.env
            .insert("CODEX_HOME".into(), codex_home.path().display().to_string());
        spec
    };
    let cases = [
        (
            "nofile",
            codex("nofile", Some("work"), &[]),
            "work.config.toml",
        ),
        (
            "legacy",
            codex("legacy", Some("legacy"), &[]),
            "[profiles.legacy]",
        ),
        (
            "noserver",
            codex("noserver", None, &["github"]),
            "[mcp_servers.github]",
        ),
    ];
    for (_, spec, _) in &cases {
        h.spawn(spec.clone()).await;
    }
    for (name, _, needle) in cases {
        assert_eq!(h.wait_terminal(name).await, Dead, "{name}");
        let error = h
            .session_records(name)
            .into_iter()
            .find_map(|r| match r.event {
                Event::SpawnError { missing, message } => Some((missing, message)),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: no spawn_error"));
        assert_eq!(error.0, "codex_config", "{name}");
        assert!(error.1.contains(needle), "{name}: {}", error.1);
        // Never started, never restarted.
        assert!(
            !h.session_records(name)
                .iter()
                .any(|r| matches!(r.event, Event::Spawn { .. })),
            "{name} ran"
        );
    }
    h.finish().await;
}
