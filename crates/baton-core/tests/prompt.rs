//! A question on screen is told at once, not after `stall_after`: a
//! confident prompt (the cursor left on a question's line, a menu) is
//! `input_wait` after a short quiet (`input_wait_after`), on every local
//! backend; output that merely pauses is not.

mod common;

use std::time::Duration;

use baton_config::{Backend, StdinMode};
use baton_core::SessionState;
use baton_core::eventlog::Event;
use common::*;

/// A harness judging a quiet screen after 2 s (`input_wait_after`), and
/// only after 30 s otherwise (`stall_after`).
fn judging_quickly() -> Harness {
    Harness::new(|o| {
        o.probe.stall_after = Duration::from_secs(30);
        o.probe.input_wait_after = Some(Duration::from_secs(2));
    })
}

/// A `command` session running `script` with `sh -c` on `backend`.
fn sh(name: &str, backend: &Backend, script: &str) -> baton_config::SessionSpec {
    let mut spec = baton_config::SessionSpec::command(
        common::id(name),
        vec!["sh".into(), "-c".into(), script.into()],
    );
    spec.backend = backend.clone();
    spec
}

/// Seconds from the session's first record to `record`.
fn seconds_in(h: &Harness, name: &str, record: &baton_core::eventlog::Record) -> f64 {
    let first = h.session_records(name)[0].ts.clone();
    let at = |ts: &str| ts.parse::<jiff::Timestamp>().expect("an RFC 3339 time");
    at(&record.ts).duration_since(at(&first)).as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confident_prompt_is_judged_in_seconds_and_a_pause_is_not() {
    let h = judging_quickly();
    let backends = [Backend::Pipes, Backend::Pty, Backend::Tmux];
    for backend in &backends {
        let mut ask = script(
            &format!("ask-{backend}"),
            &[
                "print:Planning the change",
                "ask:Apply these 3 edits to src/lib.rs? [y/N] ",
            ],
        );
        ask.backend = backend.clone();
        if *backend == Backend::Pipes {
            ask.stdin = Some(StdinMode::Pipe);
        }
        h.spawn(ask).await;
        // A build that pauses longer than `input_wait_after`, and a
        // question printed as a line of output, then more work.
        let mut build = script(
            &format!("build-{backend}"),
            &[
                "print:   Compiling baton v0.1.0 (/src/baton)",
                "sleep:5s",
                "print:Should this be faster? (y/n)",
                "sleep:5s",
                "print:    Finished in 10s",
            ],
        );
        build.backend = backend.clone();
        h.spawn(build).await;
    }
    // The same question in a session that turned early judging off: it
    // waits for `stall_after`.
    let mut patient = script(
        "ask-patient",
        &["ask:Apply these 3 edits to src/lib.rs? [y/N] "],
    );
    patient.stdin = Some(StdinMode::Pipe);
    patient.input_wait_after = Some(Duration::ZERO);
    h.spawn(patient).await;
    for backend in &backends {
        let name = format!("ask-{backend}");
        let waiting = h.wait_state(&name, SessionState::InputWait).await;
        let (reason, evidence) = why(&waiting);
        assert_eq!(reason, "input_wait:yes_no", "{name}: {}", h.dump());
        assert_eq!(
            evidence,
            Some("Apply these 3 edits to src/lib.rs? [y/N]"),
            "{name}"
        );
        // Long before `stall_after` (30 s): within a few seconds, with room
        // for a loaded machine.
        let after = seconds_in(&h, &name, &waiting);
        println!("{name}: input_wait {after:.2} s after it began");
        assert!(after < 15.0, "{name} judged after {after:.1} s");
        h.conductor
            .send_input(&common::id(&name), b"y\n".to_vec(), true, "user")
            .await
            .expect("answered");
    }
    for backend in &backends {
        let name = format!("build-{backend}");
        assert_eq!(
            h.wait_terminal(&name).await,
            SessionState::Completed,
            "{}",
            h.dump()
        );
        let judged = h.session_records(&name).into_iter().find(|r| {
            matches!(
                &r.event,
                Event::State {
                    to: SessionState::InputWait | SessionState::Stalled,
                    ..
                }
            )
        });
        assert!(
            judged.is_none(),
            "{name} paused, and was judged: {judged:?}"
        );
        let ask = format!("ask-{backend}");
        assert_eq!(h.wait_terminal(&ask).await, SessionState::Completed);
    }
    // By now (the builds took 10 s) the patient session has been asking
    // for longer than `input_wait_after`, and is still not judged.
    let judged = h.session_records("ask-patient").into_iter().find(|r| {
        matches!(
            &r.event,
            Event::State {
                to: SessionState::InputWait,
                ..
            }
        )
    });
    assert!(judged.is_none(), "judged early: {judged:?}");
    h.conductor
        .kill(&common::id("ask-patient"))
        .await
        .expect("kill");
    h.finish().await;
}

/// On a terminal, a program that turned echo off and reads a whole line
/// asks for a secret, however it words it: `input_wait` (rule `no_echo`)
/// after the short quiet, and what is typed is not echoed into the log. A
/// quiet program reading key by key (a TUI's raw mode) is not judged so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_that_stopped_echoing_asks_for_a_secret() {
    let h = judging_quickly();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        h.spawn(sh(
            &format!("secret-{backend}"),
            backend,
            "stty -echo; printf 'Deploy token for prod '; read t; stty echo; echo; echo \"got ${#t} characters\"",
        ))
        .await;
        h.spawn(sh(
            &format!("tui-{backend}"),
            backend,
            "stty raw -echo; printf 'Loading the dashboard '; sleep 5; stty sane; echo; echo ready",
        ))
        .await;
    }
    for backend in &backends {
        let name = format!("secret-{backend}");
        let waiting = h.wait_state(&name, SessionState::InputWait).await;
        let (reason, evidence) = why(&waiting);
        assert_eq!(reason, "input_wait:no_echo", "{name}: {}", h.dump());
        assert_eq!(evidence, Some("Deploy token for prod"), "{name}");
        h.conductor
            .send_input(&common::id(&name), b"hunter2\n".to_vec(), true, "user")
            .await
            .expect("answered");
        assert_eq!(h.wait_terminal(&name).await, SessionState::Completed);
        let out = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
        assert!(out.contains("got 7 characters"), "{name}: {out:?}");
        assert!(
            !out.contains("hunter2"),
            "{name}: the secret was echoed: {out:?}"
        );
    }
    for backend in &backends {
        let name = format!("tui-{backend}");
        assert_eq!(h.wait_terminal(&name).await, SessionState::Completed);
        let judged = h.session_records(&name).into_iter().find(|r| {
            matches!(
                &r.event,
                Event::State {
                    to: SessionState::InputWait,
                    ..
                }
            )
        });
        assert!(
            judged.is_none(),
            "{name}: a raw-mode pause was judged: {judged:?}"
        );
    }
    h.finish().await;
}

/// On a terminal, what its programs are blocked in settles what words
/// cannot: a question no rule knows counts when its program reads the
/// keyboard under it (rule `reads_terminal`, after the short quiet); a
/// program's own command prompt (a shell's) does not; and a prompt whose
/// program is busy elsewhere (it printed `[y/N]`, then sleeps) waits for
/// `stall_after` like any pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_reading_the_keyboard_under_a_question_waits_for_it() {
    let h = judging_quickly();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        // xargs asks on the terminal with its own words (`echo a b c?...`).
        h.spawn(sh(
            &format!("xargs-{backend}"),
            backend,
            "echo a b c | xargs -p echo",
        ))
        .await;
        // A menu no rule knows: a label over bullets, the cursor under them.
        h.spawn(sh(
            &format!("menu-{backend}"),
            backend,
            "printf 'Choose the instance size:\\n\\n* small\\n  medium\\n'; read size; echo \"size=$size\"",
        ))
        .await;
        h.spawn(sh(
            &format!("shell-{backend}"),
            backend,
            "PS1='$ ' exec sh -i",
        ))
        .await;
        h.spawn(sh(
            &format!("printed-{backend}"),
            backend,
            "printf 'Continue? [y/N] '; sleep 6; echo; echo went on",
        ))
        .await;
    }
    for backend in &backends {
        for (name, evidence, answer, out) in [
            ("xargs", "echo a b c?...", "y\n", "a b c"),
            (
                "menu",
                "Choose the instance size:",
                "medium\n",
                "size=medium",
            ),
        ] {
            let name = format!("{name}-{backend}");
            let waiting = h.wait_state(&name, SessionState::InputWait).await;
            let (reason, shown) = why(&waiting);
            assert_eq!(reason, "input_wait:reads_terminal", "{name}: {}", h.dump());
            assert_eq!(shown, Some(evidence), "{name}");
            let after = seconds_in(&h, &name, &waiting);
            assert!(after < 15.0, "{name} judged after {after:.1} s");
            h.conductor
                .send_input(&common::id(&name), answer.as_bytes().to_vec(), true, "user")
                .await
                .expect("answered");
            assert_eq!(h.wait_terminal(&name).await, SessionState::Completed);
            let log = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
            assert!(log.contains(out), "{name}: {log:?}");
        }
    }
    let judged = |name: &str| {
        h.session_records(name).into_iter().find(|r| {
            matches!(
                &r.event,
                Event::State {
                    to: SessionState::InputWait,
                    ..
                }
            )
        })
    };
    for backend in &backends {
        let name = format!("printed-{backend}");
        assert_eq!(h.wait_terminal(&name).await, SessionState::Completed);
        assert!(judged(&name).is_none(), "{name}: {:?}", judged(&name));
        // The shell has sat at its prompt for as long: not a question.
        let name = format!("shell-{backend}");
        assert!(judged(&name).is_none(), "{name}: {:?}", judged(&name));
        h.conductor.kill(&common::id(&name)).await.expect("kill");
    }
    h.finish().await;
}

/// A menu that shows its choice only by colour, read the way Go's
/// termbox reads keys (every thread parked on a futex until `SIGIO`), is a
/// menu in seconds: the highlighted row is its choice (`choice_menu` on
/// the screen as judged), and a program parked so with its terminal raw
/// waits for keys (without that, its prompt would wait for `stall_after`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_shown_by_colour_to_a_parked_program_is_judged_in_seconds() {
    let h = judging_quickly();
    let backends = [Backend::Pty, Backend::Tmux];
    for backend in &backends {
        let mut pick = script(
            &format!("pick-{backend}"),
            &["pick:Which file do you want to open?|config.yaml|README.md|src/main.rs"],
        );
        pick.backend = backend.clone();
        h.spawn(pick).await;
    }
    for backend in &backends {
        let name = format!("pick-{backend}");
        let waiting = h.wait_state(&name, SessionState::InputWait).await;
        let (reason, evidence) = why(&waiting);
        assert_eq!(reason, "input_wait:choice_menu", "{name}: {}", h.dump());
        assert_eq!(evidence, Some("Which file do you want to open?"), "{name}");
        let after = seconds_in(&h, &name, &waiting);
        assert!(after < 15.0, "{name} judged after {after:.1} s");
        h.conductor
            .send_input(&common::id(&name), b"j\r".to_vec(), true, "user")
            .await
            .expect("answered");
        assert_eq!(h.wait_terminal(&name).await, SessionState::Completed);
        let log = String::from_utf8_lossy(&h.out_log(&name)).into_owned();
        assert!(log.contains("picked: README.md"), "{name}: {log:?}");
    }
    h.finish().await;
}
