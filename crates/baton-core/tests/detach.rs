//! Detached pipes runs (`ConductorOptions::detach`, what the daemon uses):
//! the agent runs under `baton-shim`, writes straight into its logs, and a
//! later conductor on the same logs dir takes the run over.

mod common;

use std::time::Duration;

use baton_config::StdinMode;
use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use baton_core::{Conductor, ConductorOptions};
use common::*;
use sha2::{Digest, Sha256};

fn detached(o: &mut ConductorOptions) {
    o.detach = true;
}

fn flood_bytes(size: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for chunk in stand_in_agent::flood_bytes(size) {
        bytes.extend_from_slice(chunk);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_run_logs_both_streams_byte_for_byte_and_reports_its_status() {
    let h = Harness::new(|o| {
        detached(o);
        o.conductor.max_restarts = 0;
    });
    let size = 2 * 1024 * 1024 + 3;
    h.spawn(script(
        "det",
        &[&format!("flood:{size}"), "eprint:to stderr", "exit:4"],
    ))
    .await;
    assert_eq!(h.wait_terminal("det").await, Dead, "{}", h.dump());
    assert_eq!(
        Sha256::digest(h.out_log("det")),
        Sha256::digest(flood_bytes(size))
    );
    assert_eq!(h.err_log("det"), b"to stderr\n");
    let recs = h.session_records("det");
    assert!(
        recs.iter()
            .any(|r| matches!(r.event, Event::Spawn { shim: true, .. })),
        "the spawn record names the shim"
    );
    assert!(
        recs.iter()
            .any(|r| matches!(r.event, Event::Exit { code: Some(4), .. })),
        "the agent's own exit code, read from the shim's status file\n{}",
        h.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_run_is_answered_through_its_stdin_fifo() {
    let h = Harness::new(detached);
    let mut spec = script("asker", &["ask:Proceed? (y/n) ", "print:done"]);
    spec.stdin = Some(StdinMode::Pipe);
    h.spawn(spec).await;
    h.wait_state("asker", InputWait).await;
    h.conductor
        .send_input(&id("asker"), b"y\n".to_vec(), true, "user")
        .await
        .expect("answer written");
    assert_eq!(h.wait_terminal("asker").await, Completed, "{}", h.dump());
    assert_eq!(h.out_log("asker"), b"Proceed? (y/n) answer: y\ndone\n");
}

/// A conductor that stops without a shutdown (its runtime dropped: no
/// record of the end is written), then a new one on the same logs dir.
#[test]
fn a_new_conductor_takes_over_detached_runs_and_reads_how_finished_ones_ended() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fast_options(dir.path());
    opts.detach = true;
    let size = 512 * 1024;
    let gate = dir.path().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    let gate2 = dir.path().join("gate2");
    let gate2_step = format!("wait-file:{}", gate2.display());
    let flood = format!("flood:{size}");
    let long = [
        "print:hi",
        &gate_step,
        &flood,
        &gate2_step,
        "print:after",
        "exit:0",
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = Conductor::start(opts.clone()).unwrap();
        // One goes on after the takeover, one ends while no conductor watches.
        c.spawn(script("long", &long)).await.unwrap();
        c.spawn(script("short", &["print:hi", &gate_step, "exit:6"]))
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let snap = c.snapshot().await.unwrap();
            if snap.iter().all(|s| s.state == Healthy) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not healthy: {snap:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    drop(rt);
    // "short" ends while nobody watches; "long" floods after the takeover.
    std::fs::write(&gate, b"").unwrap();
    // Its shim records how it ended; only then is the takeover to begin.
    let status = opts.conductor.logs_dir.join("short.status");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !status.exists() {
        assert!(std::time::Instant::now() < deadline, "short never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    // And its shim, which wrote it, is gone: it may still be exiting, and
    // this process, which started it, reaps it (else the next conductor's
    // reaper would, racing with its look at the recorded run).
    let shim: i32 = std::fs::read_to_string(&status)
        .unwrap()
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .expect("the shim's pid first in its status file");
    loop {
        // SAFETY: waitpid without a status pointer; WNOHANG does not block.
        let reaped = unsafe { libc::waitpid(shim, std::ptr::null_mut(), libc::WNOHANG) };
        let gone = !std::path::Path::new(&format!("/proc/{shim}")).exists();
        if reaped == shim || gone {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the shim never exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Harness::with_options(tempfile::tempdir().unwrap(), opts.clone());
        assert_eq!(h.conductor.unfinished(), ["long", "short"]);
        h.spawn(script("long", &long)).await;
        h.wait_for("long recovered", |r| {
            matches!(r.event, Event::Recovered { .. })
        })
        .await;
        std::fs::write(&gate2, b"").unwrap();
        h.spawn(script("short", &["print:hi", &gate_step, "exit:6"]))
            .await;
        assert_eq!(h.wait_terminal("long").await, Completed, "{}", h.dump());
        assert_eq!(h.wait_terminal("short").await, Dead, "{}", h.dump());
        let mut expected = b"hi\n".to_vec();
        expected.extend(flood_bytes(size));
        expected.extend_from_slice(b"after\n");
        assert_eq!(
            Sha256::digest(h.out_log("long")),
            Sha256::digest(&expected),
            "every byte, written while no conductor and after the takeover"
        );
        let long = h.session_records("long");
        assert!(
            long.iter().any(
                |r| matches!(&r.event, Event::Recovered { outcome, .. } if outcome == "readopted")
            ),
            "{}",
            h.dump()
        );
        assert!(
            !long.iter().any(|r| matches!(r.event, Event::Spawn { .. })),
            "a taken-over run is not started again\n{}",
            h.dump()
        );
        let short = h.session_records("short");
        assert!(
            short.iter().any(
                |r| matches!(&r.event, Event::Recovered { outcome, .. } if outcome == "exited")
            ),
            "{}",
            h.dump()
        );
        let first_exit = short.iter().find_map(|r| match r.event {
            Event::Exit { code, .. } => Some(code),
            _ => None,
        });
        assert_eq!(
            first_exit,
            Some(Some(6)),
            "the status the shim recorded while nobody watched"
        );
    });
}

/// A run whose `exit` is in the log but whose end is not (the conductor died
/// in between) is finished from the log when its session is spawned again:
/// `completed` with its payload, and the agent is not run a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_exit_was_recorded_is_finished_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let opts = fast_options(dir.path());
    let logs = opts.conductor.logs_dir.clone();
    std::fs::create_dir_all(&logs).unwrap();
    let header = r#"{"format":"baton-events","version":"1.2","created":"2026-11-21T00:00:00Z"}"#;
    let records = [
        r#"{"seq":1,"ts":"2026-11-21T00:00:00.000001Z","event":"conductor_start","version":"0","pid":1,"fsync":"batch"}"#,
        r#"{"seq":2,"ts":"2026-11-21T00:00:00.000002Z","session":"done","event":"state","from":"init","to":"starting","reason":"spawn","restarts":0}"#,
        r#"{"seq":3,"ts":"2026-11-21T00:00:00.000003Z","session":"done","event":"spawn","agent":"command","restart":0,"attempt":1,"pid":999999,"start_time":1,"argv":["x"],"workdir":"/","env_keys":[],"out_offset":0,"err_offset":0}"#,
        r#"{"seq":4,"ts":"2026-11-21T00:00:00.000004Z","session":"done","event":"state","from":"starting","to":"healthy","reason":"first_output","restarts":0}"#,
        r#"{"seq":5,"ts":"2026-11-21T00:00:00.000005Z","session":"done","event":"exit","code":0,"signal":null,"runtime_ms":5}"#,
    ];
    std::fs::write(
        logs.join("events.jsonl"),
        format!("{header}\n{}\n", records.join("\n")),
    )
    .unwrap();
    std::fs::write(
        logs.join("done.out.log"),
        "work\n<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":true}\n<<<BATON_COMPLETION_END>>>\n",
    )
    .unwrap();
    let h = Harness::with_options(dir, opts);
    assert_eq!(h.conductor.unfinished(), ["done"]);
    // Were it run again, this argv would fail at once.
    h.spawn(script("done", &["exit:7"])).await;
    assert_eq!(h.wait_terminal("done").await, Completed, "{}", h.dump());
    let recs = h.session_records("done");
    assert!(
        !recs.iter().any(|r| matches!(r.event, Event::Spawn { .. })),
        "{}",
        h.dump()
    );
    assert!(
        recs.iter().any(
            |r| matches!(&r.event, Event::Completed { payload: Some(p), .. } if p["ok"] == true)
        ),
        "{}",
        h.dump()
    );
    assert!(
        recs.iter()
            .any(|r| matches!(&r.event, Event::Recovered { outcome, .. } if outcome == "exited"))
    );
}

/// The log as if the conductor had died before these sessions' `spawn`
/// records reached the disk: those lines are gone, `seq` stays dense.
fn lose_spawn_records(events: &std::path::Path, sessions: &[&str]) {
    let text = std::fs::read_to_string(events).unwrap();
    let mut lines = text.lines();
    let mut kept = vec![lines.next().unwrap().to_owned()];
    let mut seq = 0;
    for line in lines {
        let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
        let lost = record["event"] == "spawn" && sessions.iter().any(|s| record["session"] == *s);
        if !lost {
            seq += 1;
            record["seq"] = seq.into();
            kept.push(record.to_string());
        }
    }
    std::fs::write(events, kept.join("\n") + "\n").unwrap();
}

/// The crash lands between the shim's fork and its `spawn` record: the next
/// conductor finds the run by its lock file — the one still running and the
/// one that ended meanwhile — and takes it over; nothing runs twice.
#[test]
fn a_run_whose_spawn_record_was_lost_is_taken_over_not_started_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fast_options(dir.path());
    opts.detach = true;
    opts.conductor.max_restarts = 0;
    let gate = |name: &str| dir.path().join(format!("{name}.gate"));
    let runs = |name: &str| dir.path().join(format!("{name}.runs"));
    let steps = |name: &str, code: &str| {
        vec![
            format!("attempt:{}", runs(name).display()),
            format!("wait-file:{}", gate(name).display()),
            "print:after".to_owned(),
            format!("exit:{code}"),
        ]
    };
    let spec = |name: &str, code: &str| {
        let steps = steps(name, code);
        let words: Vec<&str> = steps.iter().map(String::as_str).collect();
        script(name, &words)
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pids = rt.block_on(async {
        let c = Conductor::start(opts.clone()).unwrap();
        c.spawn(spec("running", "0")).await.unwrap();
        c.spawn(spec("ended", "7")).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let snap = c.snapshot().await.unwrap();
            if snap.iter().all(|s| s.state == Healthy) {
                break snap
                    .iter()
                    .map(|s| (s.id.clone(), s.pid))
                    .collect::<Vec<_>>();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "not healthy: {snap:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    drop(rt);
    let events = opts.conductor.logs_dir.join("events.jsonl");
    lose_spawn_records(&events, &["running", "ended"]);
    // "ended" finishes while no conductor watches; "running" runs on.
    std::fs::write(gate("ended"), b"").unwrap();
    let status = opts.conductor.logs_dir.join("ended.status");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !status.exists() {
        assert!(std::time::Instant::now() < deadline, "ended never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Harness::with_options(tempfile::tempdir().unwrap(), opts.clone());
        h.spawn(spec("running", "0")).await;
        h.spawn(spec("ended", "7")).await;
        // Taken over while it still runs; it finishes under this conductor.
        h.wait_for("running taken over", |r| {
            r.session.as_deref() == Some("running") && matches!(r.event, Event::Spawn { .. })
        })
        .await;
        std::fs::write(gate("running"), b"").unwrap();
        assert_eq!(h.wait_terminal("running").await, Completed, "{}", h.dump());
        assert_eq!(h.wait_terminal("ended").await, Dead, "{}", h.dump());
        for (name, code) in [("running", Some(0)), ("ended", Some(7))] {
            assert_eq!(
                std::fs::read_to_string(runs(name)).unwrap(),
                "1\n",
                "{name} ran once\n{}",
                h.dump()
            );
            assert_eq!(h.out_log(name), b"attempt 1\nafter\n", "{name}");
            let recs = h.session_records(name);
            // The lost record is written now, naming the run that was there.
            let spawned: Vec<u32> = recs
                .iter()
                .filter_map(|r| match r.event {
                    Event::Spawn {
                        pid, shim: true, ..
                    } => Some(pid),
                    _ => None,
                })
                .collect();
            let first_pid = pids.iter().find(|(id, _)| id == name).and_then(|(_, p)| *p);
            assert_eq!(spawned, [first_pid.unwrap()], "{name}\n{}", h.dump());
            let exit = recs.iter().find_map(|r| match r.event {
                Event::Exit { code, .. } => Some(code),
                _ => None,
            });
            assert_eq!(exit, Some(code), "{name}\n{}", h.dump());
        }
    });
}

/// A session spawned again after a clean restart starts a new run: the
/// lock file (or a tmux pane's run file) of its earlier run, with the same
/// attempt number, no longer names it.
fn a_session_spawned_again_after_a_clean_restart_runs_again(backend: baton_config::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fast_options(dir.path());
    opts.detach = true;
    let runs = dir.path().join("again.runs");
    let attempt = format!("attempt:{}", runs.display());
    let steps = [attempt.as_str(), "exit:0"];
    for n in 1..=2 {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let h = Harness::with_options(tempfile::tempdir().unwrap(), opts.clone());
            let mut spec = script("again", &steps);
            spec.backend = backend.clone();
            h.spawn(spec).await;
            assert_eq!(h.wait_terminal("again").await, Completed, "{}", h.dump());
            assert_eq!(
                h.path_of("again"),
                [Init, Starting, Healthy, Completed],
                "{}",
                h.dump()
            );
            let spawns = h
                .session_records("again")
                .iter()
                .filter(|r| matches!(r.event, Event::Spawn { .. }))
                .count();
            assert_eq!(spawns, 1, "{}", h.dump());
            h.conductor.shutdown("test", false).await.unwrap();
        });
        assert_eq!(std::fs::read_to_string(&runs).unwrap(), format!("{n}\n"));
    }
}

#[test]
fn a_shim_session_spawned_again_after_a_clean_restart_runs_again() {
    a_session_spawned_again_after_a_clean_restart_runs_again(baton_config::Backend::Pipes);
}

#[test]
fn a_tmux_session_spawned_again_after_a_clean_restart_runs_again() {
    a_session_spawned_again_after_a_clean_restart_runs_again(baton_config::Backend::Tmux);
}

/// Issue 13: a detached run's output goes through pipes to the shim's log
/// writers, which lead their own process group: the SIGKILL that ends the
/// run's group cannot take bytes still in a pipe with it. The out writer
/// is stopped (SIGSTOP) while the agent writes 40,000 bytes into the pipe,
/// the session is killed (TERM ignored, then KILL), and only then is the
/// writer let go: every byte reaches the log, and the run settles once it
/// has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_in_the_pipe_when_the_group_is_killed_still_reach_the_log() {
    let h = Harness::new(|o| {
        detached(o);
        o.conductor.max_restarts = 0;
        o.conductor.grace = Duration::from_millis(300);
    });
    let gate = h.logs().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    h.spawn(script(
        "sk",
        &[
            "ignore-term",
            "print:ready",
            &gate_step,
            "flood:40000",
            "eprint:flooded",
            "stall",
        ],
    ))
    .await;
    poll_until("the ready line", || h.out_log("sk") == b"ready\n").await;
    let shim = h
        .session_records("sk")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Spawn { pid, .. } => Some(pid),
            _ => None,
        })
        .expect("a spawn record");
    // The writer is no child of the shim (a go-between started it): find
    // it by its command line.
    let writer = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let words: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            words.get(1) == Some(&&b"log"[..]) && words.iter().any(|w| w.ends_with(b"sk.out.log"))
        })
        .expect("the shim's writer of the output log");
    // Not the shim's child: a shim whose agent ended with no child left
    // adopted nothing, and need not look through /proc to know it.
    let stat = std::fs::read_to_string(format!("/proc/{writer}/stat")).unwrap();
    let ppid: u32 = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert_ne!(ppid, shim, "the writer's parent");
    // SAFETY: getpgid and kill on a pid; no memory is touched.
    unsafe {
        assert_eq!(libc::getpgid(writer as i32), writer as i32, "its own group");
        libc::kill(writer as i32, libc::SIGSTOP);
    }
    std::fs::write(&gate, b"").unwrap();
    poll_until("the flood written into the pipe", || {
        h.err_log("sk") == b"flooded\n"
    })
    .await;
    let sk = id("sk");
    let kill = h.conductor.kill(&sk);
    let release = async {
        poll_until("the run's group gone", || {
            baton_core::proc::group_is_empty(baton_core::proc::Pid(shim))
        })
        .await;
        // SAFETY: kill(2) on a pid.
        unsafe { libc::kill(writer as i32, libc::SIGCONT) };
    };
    let (killed, ()) = tokio::join!(kill, release);
    killed.expect("kill");
    assert_eq!(h.wait_terminal("sk").await, Dead, "{}", h.dump());
    let mut expected = b"ready\n".to_vec();
    expected.extend(flood_bytes(40_000));
    assert_eq!(
        Sha256::digest(h.out_log("sk")),
        Sha256::digest(&expected),
        "{} bytes in the log, {} written",
        h.out_log("sk").len(),
        expected.len()
    );
}
