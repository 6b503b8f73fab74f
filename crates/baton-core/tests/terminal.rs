//! Sessions on a pseudo-terminal, auto-answer rules and per-agent
//! input-wait rules, with real PTYs and the stand-in agent.

mod common;

use std::time::Duration;

use baton_config::{AnswerRule, Backend, InputWaitRule};
use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use common::*;

fn answer(pattern: &str, reply: &str) -> AnswerRule {
    AnswerRule {
        pattern: pattern.parse().expect("a valid pattern"),
        reply: reply.into(),
        rule: None,
    }
}

fn inputs(h: &Harness, sid: &str) -> Vec<(usize, String)> {
    h.session_records(sid)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Input { len, source, .. } => Some((len, source)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_shown_only_on_a_terminal_is_detected_and_auto_answered() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(300));
    let steps = [
        "require-tty",
        "ask:Do you want to continue? (y/n) ",
        "print:done",
    ];
    let mut tty = script("tty", &steps);
    tty.backend = Backend::Pty;
    tty.answers = vec![answer("continue", "y")];
    h.spawn(tty).await;
    // The same agent on pipes refuses to run: it needs a terminal.
    let mut piped = script("piped", &steps);
    piped.max_restarts = Some(0);
    h.spawn(piped).await;

    assert_eq!(h.wait_terminal("tty").await, Completed);
    assert_eq!(
        h.path_of("tty"),
        vec![Init, Starting, Healthy, InputWait, Healthy, Completed]
    );
    // The answer's record comes from the input writer and may trail the exit.
    h.wait_for("input", |r| {
        r.session.as_deref() == Some("tty") && matches!(r.event, Event::Input { .. })
    })
    .await;
    assert_eq!(inputs(&h, "tty"), vec![(2, "auto_answer".to_string())]);
    let out = String::from_utf8(h.out_log("tty")).unwrap();
    // One terminal stream: the prompt, the echoed answer, CRLF line endings.
    assert_eq!(
        out,
        "Do you want to continue? (y/n) y\r\nanswer: y\r\ndone\r\n"
    );
    assert!(h.err_log("tty").is_empty());

    assert_eq!(h.wait_terminal("piped").await, Dead);
    assert_eq!(h.err_log("piped"), b"stand-in: not a terminal\n");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_answer_reaches_the_agent_through_the_terminal() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(300));
    let mut spec = script(
        "manual",
        &["require-tty", "ask:Overwrite config.toml? [y/N] "],
    );
    spec.backend = Backend::Pty;
    h.spawn(spec).await;
    h.wait_state("manual", InputWait).await;
    h.conductor
        .send_input(&id("manual"), b"n\n".to_vec(), true, "user")
        .await
        .expect("answer");
    assert_eq!(h.wait_terminal("manual").await, Completed);
    assert_eq!(inputs(&h, "manual"), vec![(2, "user".to_string())]);
    assert!(
        String::from_utf8(h.out_log("manual"))
            .unwrap()
            .ends_with("answer: n\r\n")
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_rules_go_in_order_so_a_refusal_can_come_first() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(300));
    let rules = vec![answer(r"rm\s+-rf", "n"), answer("cargo test", "y")];
    let mut danger = script("danger", &["ask:Run `rm -rf build`? (y/n) "]);
    danger.answers = rules.clone();
    let mut safe = script("safe", &["ask:Run `cargo test`? (y/n) "]);
    safe.answers = rules.clone();
    let mut other = script(
        "other",
        &["ask:Deploy to production? (y/n) ", "print:after"],
    );
    other.answers = rules;
    h.spawn(danger).await;
    h.spawn(safe).await;
    h.spawn(other).await;
    assert_eq!(h.wait_terminal("danger").await, Completed);
    assert_eq!(h.wait_terminal("safe").await, Completed);
    assert!(
        String::from_utf8(h.out_log("danger"))
            .unwrap()
            .ends_with("answer: n\n")
    );
    assert!(
        String::from_utf8(h.out_log("safe"))
            .unwrap()
            .ends_with("answer: y\n")
    );
    // No rule matches: it waits for a human, and nothing is sent.
    h.wait_state("other", InputWait).await;
    assert!(inputs(&h, "other").is_empty());
    h.conductor.kill(&id("other")).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_own_rules_recognise_its_prompts() {
    let h = Harness::new(|o| {
        o.probe.stall_after = Duration::from_millis(300);
        o.agents.command.input_wait = vec![InputWaitRule {
            name: "ready_prompt".into(),
            pattern: "^READY>$".into(),
        }];
    });
    // A bare `READY>` looks like HTML to the built-in rules; the agent's rule knows better.
    h.spawn(script("custom", &["print:booting", "say:READY>", "stall"]))
        .await;
    let wait = h
        .wait_for("input_wait", |r| matches!(r.event, Event::InputWait { .. }))
        .await;
    assert!(
        matches!(&wait.event, Event::InputWait { rule, line, .. } if rule == "ready_prompt" && line == "READY>")
    );
    h.conductor.kill(&id("custom")).await.unwrap();
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_on_a_terminal_ends_with_the_enter_key_a_terminal_sends() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(300));
    // A raw-mode reader (as full-screen CLIs are) sees the bytes as typed.
    let mut raw = baton_config::SessionSpec::command(
        id("raw"),
        vec![
            "sh".into(),
            "-c".into(),
            "stty raw -echo; printf 'Continue? (y/n) '; dd bs=1 count=2 2>/dev/null | od -An -c; stty sane".into(),
        ],
    );
    raw.backend = Backend::Pty;
    h.spawn(raw).await;
    h.wait_state("raw", InputWait).await;
    h.conductor
        .send_input(&id("raw"), b"y\n".to_vec(), true, "user")
        .await
        .expect("answer");
    assert_eq!(h.wait_terminal("raw").await, Completed);
    let out = String::from_utf8(h.out_log("raw")).unwrap();
    let dumped = out.rsplit("(y/n) ").next().unwrap();
    assert!(dumped.contains("y  \\r"), "the agent read {dumped:?}");
    assert!(!dumped.contains("\\n"), "the agent read {dumped:?}");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_drawn_with_cursor_moves_is_judged_as_the_screen_shows_it() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(300));
    // As codex draws: every row placed with CUP, the old question erased.
    let mut drawn = baton_config::SessionSpec::command(
        id("drawn"),
        vec![
            "sh".into(),
            "-c".into(),
            concat!(
                "printf '\\033[2J\\033[1;1HOld question? (y/n)\\033[1;1H\\033[2KWorking on it';",
                "printf '\\033[5;1HAllow running cargo test? (y/n) ';",
                "read answer; printf '\\r\\nanswer=%s\\r\\n' \"$answer\""
            )
            .into(),
        ],
    );
    drawn.backend = Backend::Pty;
    drawn.answers = vec![answer("Old question", "n")];
    h.spawn(drawn).await;
    let record = h
        .wait_for("drawn to wait", |r| {
            r.session.as_deref() == Some("drawn") && matches!(r.event, Event::InputWait { .. })
        })
        .await;
    let Event::InputWait { line: evidence, .. } = record.event else {
        unreachable!()
    };
    assert_eq!(evidence, "Allow running cargo test? (y/n)");
    // The erased question's rule did not fire on what is no longer shown.
    assert!(inputs(&h, "drawn").is_empty());
    let row = h.conductor.snapshot().await.unwrap();
    let row = row.iter().find(|r| r.id == "drawn").unwrap();
    assert_eq!(
        row.last_line.as_deref(),
        Some("Allow running cargo test? (y/n)")
    );
    h.conductor
        .send_input(&id("drawn"), b"y\n".to_vec(), true, "user")
        .await
        .expect("answer");
    assert_eq!(h.wait_terminal("drawn").await, Completed);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_that_asks_the_terminal_where_its_cursor_is_gets_an_answer() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(5));
    // As aider's prompt toolkit does: ask for the cursor position (CSI 6n)
    // and read the reply (`ESC [ row ; col R`) from the terminal.
    let mut asker = baton_config::SessionSpec::command(
        id("cpr"),
        vec![
            "sh".into(),
            "-c".into(),
            "stty raw -echo; printf 'abc\\033[6n'; dd bs=1 count=6 2>/dev/null | od -An -c; stty sane".into(),
        ],
    );
    asker.backend = Backend::Pty;
    asker.startup_timeout = Some(Duration::from_secs(10));
    h.spawn(asker).await;
    assert_eq!(h.wait_terminal("cpr").await, Completed);
    let out = String::from_utf8(h.out_log("cpr")).unwrap();
    let words: Vec<&str> = out
        .rsplit("\u{1b}[6n")
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(words, ["033", "[", "1", ";", "4", "R"], "{out:?}");
    h.finish().await;
}
