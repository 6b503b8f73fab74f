//! Sessions inside tmux, with a real tmux server (private per test: the
//! server name derives from the test's own logs dir) and the stand-in agent.

mod common;

use std::time::Duration;

use baton_config::Backend;
use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use baton_core::proc::TmuxServer;
use common::*;
use sha2::{Digest, Sha256};

fn tmux_available() -> bool {
    let ok = std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        eprintln!("skipping: tmux not installed");
    }
    ok
}

fn tmux_script(name: &str, steps: &[&str]) -> baton_config::SessionSpec {
    let mut spec = script(name, steps);
    spec.backend = Backend::Tmux;
    spec
}

/// (code, signal) of each `exit` record of session `id`, in order.
fn exits(h: &Harness, id: &str) -> Vec<(Option<i32>, Option<i32>)> {
    h.session_records(id)
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Exit { code, signal, .. } => Some((code, signal)),
            _ => None,
        })
        .collect()
}

/// Kills the test's private tmux server even when the test fails.
struct ServerGuard(TmuxServer);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", self.0.name(), "kill-server"])
            .output();
        // tmux leaves its socket file behind.
        let dir =
            std::env::var_os("TMUX_TMPDIR").map_or_else(|| "/tmp".into(), std::path::PathBuf::from);
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let _ = std::fs::remove_file(dir.join(format!("tmux-{uid}")).join(self.0.name()));
    }
}

fn tmux_session_exists(server: &TmuxServer, session: &str) -> bool {
    std::process::Command::new("tmux")
        .args([
            "-L",
            server.name(),
            "has-session",
            "-t",
            &format!("={session}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What a terminal shows for `bytes` written by a program: ONLCR turns "\n" into "\r\n".
fn as_terminal(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_output_reaches_the_log_byte_for_byte_across_restarts() {
    tmux_flood_across_restarts(baton_config::DEFAULT_MAX_LOG_SIZE).await;
}

/// Issue 13: `pipe-pane`'s writer rolls the log over; every byte is still
/// there, in order, across 90 segments and the marker cut off the first
/// run's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tmux_log_rolls_over_and_keeps_every_byte_across_restarts() {
    tmux_flood_across_restarts(64 * 1024).await;
}

async fn tmux_flood_across_restarts(max_log_size: u64) {
    if !tmux_available() {
        return;
    }
    let h = Harness::new(|o| {
        o.conductor.max_restarts = 2;
        o.conductor.max_log_size = max_log_size;
    });
    let _guard = ServerGuard(TmuxServer::for_logs_dir(&h.logs()));
    let size = 3 * 1024 * 1024 + 5;
    let flood = format!("flood:{size}");
    h.spawn(tmux_script("tflood", &[&flood, "fail-before-attempt:2"]))
        .await;
    assert_eq!(h.wait_terminal("tflood").await, Completed);
    let mut expected = Vec::new();
    for chunk in stand_in_agent::flood_bytes(size) {
        expected.extend_from_slice(chunk);
    }
    let expected = as_terminal(&expected);
    let out = h.out_log("tflood");
    let offsets: Vec<u64> = h
        .session_records("tflood")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Spawn {
                out_offset,
                tmux: Some(_),
                ..
            } => Some(out_offset),
            _ => None,
        })
        .collect();
    assert_eq!(offsets.len(), 2, "two runs, both in tmux");
    // stdout and stderr share the terminal: the first run's failure line follows its flood.
    let mut expected_first = expected.clone();
    expected_first.extend_from_slice(b"stand-in: attempt 1 of 2, failing\r\n");
    assert_eq!(offsets[0], 0);
    assert_eq!(
        offsets[1] as usize,
        expected_first.len(),
        "the second run starts where the first ended (log now {} bytes, expected {})",
        out.len(),
        expected_first.len() + expected.len()
    );
    let first = &out[..offsets[1] as usize];
    let second = &out[offsets[1] as usize..];
    assert_eq!(
        Sha256::digest(first),
        Sha256::digest(&expected_first),
        "first run, byte for byte"
    );
    assert_eq!(
        Sha256::digest(second),
        Sha256::digest(&expected),
        "second run, byte for byte ({} bytes, expected {}; first difference at {:?})",
        second.len(),
        expected.len(),
        second.iter().zip(&expected).position(|(a, b)| a != b)
    );
    let exits: Vec<Option<i32>> = exits(&h, "tflood").into_iter().map(|e| e.0).collect();
    assert_eq!(
        exits,
        vec![Some(1), Some(0)],
        "exit statuses kept by remain-on-exit"
    );
    let segments = baton_core::seglog::segments(&h.logs().join("tflood.out.log")).unwrap();
    if max_log_size < out.len() as u64 {
        assert!(
            segments.len() as u64 > out.len() as u64 / max_log_size,
            "{} segments",
            segments.len()
        );
        assert!(segments.iter().all(|s| s.len <= max_log_size));
    } else {
        assert!(segments.is_empty());
    }
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tmux_session_is_answered_with_literal_keys_and_killed_with_its_pane() {
    if !tmux_available() {
        return;
    }
    let h = Harness::new(|o| {
        o.probe.stall_after = Duration::from_millis(400);
        o.conductor.grace = Duration::from_millis(500);
    });
    let server = TmuxServer::for_logs_dir(&h.logs());
    let _guard = ServerGuard(server.clone());
    // `$(date)` and `Enter` must arrive as text, not as a command or a key name.
    h.spawn(tmux_script(
        "ask",
        &[
            "require-tty",
            "ask:Do you want to continue? (y/n) ",
            "print:after",
            "stall",
        ],
    ))
    .await;
    h.wait_state("ask", InputWait).await;
    h.conductor
        .send_input(&id("ask"), b"$(date) Enter\n".to_vec(), true, "user")
        .await
        .expect("send");
    h.wait_for("resumed", |r| {
        r.session.as_deref() == Some("ask")
            && matches!(
                &r.event,
                Event::State {
                    from: InputWait,
                    to: Healthy,
                    ..
                }
            )
    })
    .await;
    let deadline = std::time::Instant::now() + DEADLINE;
    while !String::from_utf8_lossy(&h.out_log("ask")).contains("answer: $(date) Enter\r\nafter\r\n")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&h.out_log("ask"))
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let session = TmuxServer::session_name("ask");
    assert!(tmux_session_exists(&server, &session));
    let pid = h.conductor.snapshot().await.unwrap()[0].pid.unwrap() as i32;
    h.conductor.kill(&id("ask")).await.expect("kill");
    assert!(pid_gone(pid), "the pane's agent survived the kill");
    assert!(
        !tmux_session_exists(&server, &session),
        "the tmux session survived the kill"
    );
    assert_eq!(h.wait_terminal("ask").await, Dead);
    h.finish().await;
}

#[test]
fn a_restarted_conductor_readopts_a_live_tmux_session() {
    if !tmux_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fast_options(dir.path());
    opts.probe.stall_after = Duration::from_secs(30);
    let server = TmuxServer::for_logs_dir(&opts.conductor.logs_dir);
    let _guard = ServerGuard(server.clone());
    let release = dir.path().join("release");
    let spec = tmux_script(
        "long",
        &[
            "print:first half",
            // Waits until the test creates the file, then finishes with a payload.
            &format!("wait-file:{}", release.display()),
            "print:second half",
            r#"payload:{"done":true}"#,
        ],
    );
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };

    // Conductor 1 starts the session, then "crashes": its runtime is dropped
    // without a shutdown. tmux sessions are not its children and live on.
    let first_pid = {
        let rt = runtime();
        let (opts1, spec1) = (opts.clone(), spec.clone());
        rt.block_on(async move {
            let h = Harness::with_options(tempfile::tempdir().unwrap(), opts1);
            h.spawn(spec1).await;
            h.wait_state("long", Healthy).await;
            let pid = h.conductor.snapshot().await.unwrap()[0].pid.unwrap();
            std::mem::forget(h);
            pid
        })
    };
    assert!(
        !pid_gone(first_pid as i32),
        "the agent must survive its conductor"
    );

    let rt = runtime();
    rt.block_on(async move {
        let h = Harness::with_options(tempfile::tempdir().unwrap(), opts.clone());
        h.spawn(spec).await;
        let rec = h
            .wait_for("recovered", |r| matches!(r.event, Event::Recovered { .. }))
            .await;
        assert!(matches!(rec.event, Event::Recovered { pid, .. } if pid == Some(first_pid)));
        std::fs::write(&release, b"go").unwrap();
        assert_eq!(h.wait_terminal("long").await, Completed);
        // Nothing was started twice: one spawn record in the whole log.
        let records = h.finish().await;
        let spawns = records
            .iter()
            .filter(|r| {
                r.session.as_deref() == Some("long") && matches!(r.event, Event::Spawn { .. })
            })
            .count();
        let dump: Vec<String> = records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert_eq!(spawns, 1, "{}", dump.join("\n"));
        let completed = records
            .iter()
            .find_map(|r| match &r.event {
                Event::Completed { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(completed, Some(serde_json::json!({"done": true})));
        let out =
            String::from_utf8(std::fs::read(opts.conductor.logs_dir.join("long.out.log")).unwrap())
                .unwrap();
        assert!(
            out.starts_with("first half\r\n") && out.contains("second half\r\n"),
            "{out:?}"
        );
    });
}

/// Several tmux sessions that write a burst and exit at once, side by side:
/// the last bytes before each exit are the ones tmux used to drop when the
/// pane's process was gone before it had read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tmux_runs_that_exit_right_after_a_burst_lose_nothing() {
    if !tmux_available() {
        return;
    }
    let h = Harness::new(|o| o.conductor.max_restarts = 0);
    let _guard = ServerGuard(TmuxServer::for_logs_dir(&h.logs()));
    let size = 256 * 1024 + 17;
    let flood = format!("flood:{size}");
    let ids: Vec<String> = (0..6).map(|i| format!("burst{i}")).collect();
    for id in &ids {
        h.spawn(tmux_script(id, &[&flood, "exit:3"])).await;
    }
    let mut expected = Vec::new();
    for chunk in stand_in_agent::flood_bytes(size) {
        expected.extend_from_slice(chunk);
    }
    let expected = as_terminal(&expected);
    for id in &ids {
        assert_eq!(h.wait_terminal(id).await, Dead, "{}", h.dump());
        let out = h.out_log(id);
        assert_eq!(
            Sha256::digest(&out),
            Sha256::digest(&expected),
            "{id}: {} bytes, expected {}\n{}",
            out.len(),
            expected.len(),
            h.dump()
        );
        let codes: Vec<Option<i32>> = exits(&h, id).into_iter().map(|e| e.0).collect();
        assert_eq!(
            codes.first(),
            Some(&Some(3)),
            "{id}: exit code from the shim's marker"
        );
    }
}

/// An agent ended by a signal inside tmux: the status says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tmux_agent_killed_by_a_signal_reports_the_signal() {
    if !tmux_available() {
        return;
    }
    let h = Harness::new(|o| o.conductor.max_restarts = 0);
    let _guard = ServerGuard(TmuxServer::for_logs_dir(&h.logs()));
    h.spawn(tmux_script("sig", &["print:bye", "signal:SEGV"]))
        .await;
    assert_eq!(h.wait_terminal("sig").await, Dead, "{}", h.dump());
    let signals: Vec<Option<i32>> = exits(&h, "sig").into_iter().map(|e| e.1).collect();
    assert_eq!(signals.first().copied().flatten(), Some(libc::SIGSEGV));
    assert_eq!(h.out_log("sig"), b"bye\r\n");
}
