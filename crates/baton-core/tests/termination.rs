//! Kill, grace, grandchildren and shutdown: no process outlives its session.

mod common;

use std::time::{Duration, Instant};

use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_ends_the_whole_group_including_a_grandchild_holding_the_pipe() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_secs(30));
    let pidfile = h.dir.path().join("gc.pid");
    let leak = format!("leak-file:{}:60s", pidfile.display());
    h.spawn(script("k", &[&leak, "print:leaked", "stall"]))
        .await;
    h.wait_state("k", Healthy).await;
    let grandchild = read_pid_file(&pidfile).await;
    assert!(!pid_gone(grandchild), "grandchild should be running");
    let leader = h.conductor.snapshot().await.unwrap()[0].pid.expect("pid") as i32;

    h.conductor.kill(&id("k")).await.expect("kill");
    // The kill returned: the group must already be empty.
    assert!(pid_gone(leader), "leader survived the kill");
    assert!(pid_gone(grandchild), "grandchild survived the kill");
    assert_eq!(h.wait_terminal("k").await, Dead);
    assert_eq!(h.path_of("k"), vec![Init, Starting, Healthy, Failed, Dead]);
    let t = h.transitions("k");
    assert_eq!(t.last().unwrap().2, "user_kill");
    // Killing a dead session again is a no-op, not an error.
    h.conductor.kill(&id("k")).await.expect("idempotent");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_exit_ends_the_rest_of_its_group_and_the_session_completes_promptly() {
    let h = Harness::new(|o| o.conductor.grace = Duration::from_secs(5));
    let pidfile = h.dir.path().join("gc.pid");
    let leak = format!("leak-file:{}:60s", pidfile.display());
    let started = Instant::now();
    h.spawn(script("lead", &[&leak, "print:bye", "exit:0"]))
        .await;
    assert_eq!(h.wait_terminal("lead").await, Completed);
    // The grandchild sleeps 60 s holding stdout; the session must not wait for it
    // (SIGTERM ends a sleeping stand-in at once, well inside the 5 s grace).
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let grandchild = read_pid_file(&pidfile).await;
    assert!(pid_gone(grandchild), "grandchild outlived its session");
    let kill = h
        .wait_for(
            "group kill",
            |r| matches!(&r.event, Event::Kill { reason, .. } if reason == "leader_exited"),
        )
        .await;
    assert!(matches!(&kill.event, Event::Kill { signal, .. } if signal == "TERM"));
    assert_eq!(h.out_log("lead"), b"bye\n");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
    let grace = Duration::from_millis(400);
    let h = Harness::new(|o| {
        o.conductor.grace = grace;
        o.probe.stall_after = Duration::from_secs(30);
    });
    h.spawn(script("stubborn", &["ignore-term", "print:x", "stall"]))
        .await;
    h.wait_state("stubborn", Healthy).await;
    let leader = h.conductor.snapshot().await.unwrap()[0].pid.unwrap() as i32;
    let t0 = Instant::now();
    h.conductor.kill(&id("stubborn")).await.expect("kill");
    let took = t0.elapsed();
    assert!(
        took >= grace,
        "SIGKILL came before the grace ended: {took:?}"
    );
    assert!(took < grace + Duration::from_secs(2), "kill took {took:?}");
    assert!(pid_gone(leader));
    let kills: Vec<(String, String)> = h
        .session_records("stubborn")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Kill { signal, reason } => Some((signal, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        kills,
        vec![
            ("TERM".into(), "user_kill".into()),
            ("KILL".into(), "grace_expired".into())
        ]
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_kill_skips_the_rest_of_the_grace() {
    let h = Harness::new(|o| {
        o.conductor.grace = Duration::from_secs(30);
        o.probe.stall_after = Duration::from_secs(30);
    });
    h.spawn(script("stubborn", &["ignore-term", "print:x", "stall"]))
        .await;
    h.wait_state("stubborn", Healthy).await;
    let c = h.conductor.clone();
    let first = tokio::spawn(async move { c.kill(&id("stubborn")).await });
    h.wait_for(
        "TERM",
        |r| matches!(&r.event, Event::Kill { signal, .. } if signal == "TERM"),
    )
    .await;
    let t0 = Instant::now();
    h.conductor
        .kill(&id("stubborn"))
        .await
        .expect("second kill");
    first.await.unwrap().expect("first kill resolves too");
    assert!(t0.elapsed() < Duration::from_secs(5));
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_session_waiting_to_restart_cancels_the_restart() {
    let h = Harness::new(|o| {
        o.conductor.backoff = Duration::from_secs(30);
        o.conductor.backoff_max = Duration::from_secs(30);
    });
    h.spawn(script("later", &["exit:1"])).await;
    h.wait_state("later", Restarting).await;
    h.conductor.kill(&id("later")).await.expect("kill");
    assert_eq!(h.wait_terminal("later").await, Dead);
    assert_eq!(
        h.path_of("later"),
        vec![Init, Starting, Failed, Restarting, Starting, Failed, Dead]
    );
    let spawns = h
        .session_records("later")
        .iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count();
    assert_eq!(spawns, 1, "no process may start for a killed session");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_live_session_concurrently() {
    let grace = Duration::from_millis(600);
    let h = Harness::new(|o| {
        o.conductor.grace = grace;
        o.probe.stall_after = Duration::from_secs(30);
    });
    let mut leaders = Vec::new();
    for i in 0..6 {
        let name = format!("s{i}");
        // Half of them ignore SIGTERM, so shutdown needs the whole grace.
        let steps: &[&str] = if i % 2 == 0 {
            &["ignore-term", "print:x", "stall"]
        } else {
            &["print:x", "stall"]
        };
        h.spawn(script(&name, steps)).await;
        h.wait_state(&name, Healthy).await;
    }
    h.spawn(script("done", &["exit:0"])).await;
    assert_eq!(h.wait_terminal("done").await, Completed);
    for s in h.conductor.snapshot().await.unwrap() {
        if let Some(pid) = s.pid {
            leaders.push(pid as i32);
        }
    }
    assert_eq!(leaders.len(), 6);
    let t0 = Instant::now();
    let report = h.conductor.shutdown("test", false).await.expect("shutdown");
    let took = t0.elapsed();
    assert_eq!(report.stopped.len(), 6);
    // Concurrent: about one grace, not six.
    assert!(took < grace * 3, "shutdown took {took:?}");
    for pid in leaders {
        assert!(pid_gone(pid), "pid {pid} survived shutdown");
    }
    for i in 0..6 {
        let name = format!("s{i}");
        assert_eq!(h.wait_terminal(&name).await, Dead);
        let t = h.transitions(&name);
        assert_eq!(t.last().unwrap(), &(Failed, Dead, "shutdown".to_string()));
    }
    assert_eq!(h.transitions("done").last().unwrap().1, Completed);
    // After shutdown the conductor refuses new work with a clear error.
    let err = h
        .conductor
        .spawn(script("late", &["exit:0"]))
        .await
        .expect_err("closed");
    assert!(err.to_string().contains("shutting down") || err.to_string().contains("stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_shutdown_does_not_wait_for_the_grace() {
    let h = Harness::new(|o| {
        o.conductor.grace = Duration::from_secs(30);
        o.probe.stall_after = Duration::from_secs(30);
    });
    h.spawn(script("stubborn", &["ignore-term", "print:x", "stall"]))
        .await;
    h.wait_state("stubborn", Healthy).await;
    let c = h.conductor.clone();
    let polite = tokio::spawn(async move { c.shutdown("first", false).await });
    h.wait_for(
        "TERM",
        |r| matches!(&r.event, Event::Kill { signal, .. } if signal == "TERM"),
    )
    .await;
    let t0 = Instant::now();
    let report = h.conductor.shutdown("second", true).await.expect("forced");
    assert!(report.forced);
    assert!(t0.elapsed() < Duration::from_secs(5));
    polite
        .await
        .unwrap()
        .expect("the first caller is answered too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_closing_stdout_early_is_still_supervised_to_its_exit() {
    let h = Harness::new(|o| o.probe.stall_after = Duration::from_millis(200));
    h.spawn(script(
        "closer",
        &[
            "print:before",
            "close-stdout",
            "eprint:still here",
            "sleep:500ms",
            "exit:0",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("closer").await, Completed);
    assert_eq!(h.out_log("closer"), b"before\n");
    assert_eq!(h.err_log("closer"), b"still here\n");
    h.finish().await;
}
