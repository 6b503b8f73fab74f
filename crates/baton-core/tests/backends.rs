//! The same behaviour on every backend: termination (an agent that traps
//! SIGTERM and cleans up, one that ignores it and is killed after the
//! grace, a second kill that skips the grace) and deadlines (startup
//! timeout, stall, a question, output resuming) over pipes, pty, tmux,
//! detached pipes (the shim) and remote (tmux on a loopback sshd).
//!
//! Each behaviour is one function taking the backend; `per_backend!`
//! turns it into one test per backend, so a failure names both.

mod common;

use std::time::{Duration, Instant};

use baton_config::{Backend, SessionSpec};
use baton_core::eventlog::Event;
use baton_core::proc::TmuxServer;
use baton_core::{ConductorOptions, SessionState::*};
use common::sshd::Sshd;
use common::*;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Pipes,
    Pty,
    Tmux,
    Detached,
    Remote,
}

/// A harness for one backend, with what that backend needs kept alive
/// (the host's sshd) and cleaned up (the private tmux server).
struct Rig {
    kind: Kind,
    h: Harness,
    // Dropped after `h`'s conductor: the host outlives the sessions on it.
    _sshd: Option<Sshd>,
}

impl Rig {
    /// None when the backend cannot run here (no sshd outside CI).
    fn new(kind: Kind, tweak: impl FnOnce(&mut ConductorOptions)) -> Option<Rig> {
        let sshd = match kind {
            Kind::Remote => Some(Sshd::loopback()?),
            _ => None,
        };
        let h = Harness::new(|o| {
            o.conductor.max_restarts = 0;
            o.detach = matches!(kind, Kind::Detached);
            if let Some(sshd) = &sshd {
                o.hosts.insert("lo".into(), sshd.host_config("lo"));
            }
            tweak(o);
        });
        Some(Rig {
            kind,
            h,
            _sshd: sshd,
        })
    }

    /// The stand-in agent running `steps` on this backend.
    fn script(&self, name: &str, steps: &[&str]) -> SessionSpec {
        let mut spec = script(name, steps);
        match self.kind {
            Kind::Pipes | Kind::Detached => {}
            Kind::Pty => spec.backend = Backend::Pty,
            Kind::Tmux => spec.backend = Backend::Tmux,
            Kind::Remote => {
                spec.backend = Backend::Tmux;
                spec.host = Some("lo".into());
            }
        }
        spec
    }

    /// The output log as text, with a terminal's "\r\n" read as "\n".
    fn output(&self, id: &str) -> String {
        String::from_utf8_lossy(&self.h.out_log(id)).replace("\r\n", "\n")
    }

    /// (signal, reason) of every kill record of `id`, in order.
    fn kills(&self, id: &str) -> Vec<(String, String)> {
        self.h
            .session_records(id)
            .into_iter()
            .filter_map(|r| match r.event {
                Event::Kill { signal, reason } => Some((signal, reason)),
                _ => None,
            })
            .collect()
    }

    /// (code, signal) of every exit record of `id`, in order.
    fn exits(&self, id: &str) -> Vec<(Option<i32>, Option<i32>)> {
        self.h
            .session_records(id)
            .into_iter()
            .filter_map(|r| match r.event {
                Event::Exit { code, signal, .. } => Some((code, signal)),
                _ => None,
            })
            .collect()
    }

    /// The pid the conductor shows for `id` (the remote pane's pid on a
    /// loopback host is a pid of this machine too).
    async fn pid(&self, id: &str) -> i32 {
        let rows = self.h.conductor.snapshot().await.expect("snapshot");
        let row = rows.iter().find(|r| r.id == id).expect("session listed");
        row.pid.expect("a running session has a pid") as i32
    }

    async fn finish(self) {
        let tmux =
            matches!(self.kind, Kind::Tmux).then(|| TmuxServer::for_logs_dir(&self.h.logs()));
        self.h.finish().await;
        if let Some(server) = tmux {
            kill_tmux_server(&server);
        }
    }
}

fn kill_tmux_server(server: &TmuxServer) {
    let _ = std::process::Command::new("tmux")
        .args(["-L", server.name(), "kill-server"])
        .output();
}

/// One `#[tokio::test]` per backend for each behaviour function.
macro_rules! per_backend {
    ($($behaviour:ident),* $(,)?) => {
        mod pipes { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() { super::$behaviour(super::Kind::Pipes).await } )* }
        mod pty { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() { super::$behaviour(super::Kind::Pty).await } )* }
        mod tmux { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() { super::$behaviour(super::Kind::Tmux).await } )* }
        mod detached { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() { super::$behaviour(super::Kind::Detached).await } )* }
        mod remote { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $behaviour() { super::$behaviour(super::Kind::Remote).await } )* }
    };
}

per_backend!(
    an_agent_trapping_sigterm_cleans_up_before_it_is_recorded_dead,
    an_agent_ignoring_sigterm_is_killed_after_the_grace,
    a_second_kill_skips_the_rest_of_the_grace,
    a_silent_start_fails_on_the_startup_timeout,
    silence_stalls_and_output_resuming_makes_it_healthy_again,
    a_question_waits_for_input_and_the_answer_resumes_the_agent,
);

async fn an_agent_trapping_sigterm_cleans_up_before_it_is_recorded_dead(kind: Kind) {
    let Some(rig) = Rig::new(kind, |o| {
        o.conductor.grace = Duration::from_secs(10);
        o.probe.stall_after = Duration::from_secs(30);
    }) else {
        return;
    };
    let h = &rig.h;
    // Its cleanup takes 700 ms, then prints a line and exits 143.
    let cleanup = Duration::from_millis(700);
    h.spawn(rig.script(
        "trap",
        &["cleanup-on-term:700ms:cleaned up", "print:ready", "stall"],
    ))
    .await;
    h.wait_state("trap", Healthy).await;
    let pid = rig.pid("trap").await;
    let t0 = Instant::now();
    h.conductor.kill(&id("trap")).await.expect("kill");
    let took = t0.elapsed();
    assert!(
        took >= cleanup,
        "the kill did not wait for the cleanup: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the agent exited on TERM; the grace must not be waited out: {took:?}"
    );
    // The dead record is published only after the cleanup's bytes are in
    // the log: read the log the moment the record is seen.
    assert_eq!(h.wait_terminal("trap").await, Dead);
    let out = rig.output("trap");
    assert!(
        out.ends_with("ready\ncleaned up\n"),
        "{out:?}\n{}",
        h.dump()
    );
    assert_eq!(
        rig.kills("trap"),
        vec![("TERM".into(), "user_kill".into())],
        "only TERM was needed: {}",
        h.dump()
    );
    assert_eq!(
        rig.exits("trap"),
        vec![(Some(143), None)],
        "the agent's own exit after its handler: {}",
        h.dump()
    );
    assert!(pid_gone(pid), "the agent outlived its kill");
    rig.finish().await;
}

async fn an_agent_ignoring_sigterm_is_killed_after_the_grace(kind: Kind) {
    let grace = Duration::from_millis(500);
    let Some(rig) = Rig::new(kind, |o| {
        o.conductor.grace = grace;
        o.probe.stall_after = Duration::from_secs(30);
    }) else {
        return;
    };
    let h = &rig.h;
    h.spawn(rig.script("stubborn", &["ignore-term", "print:x", "stall"]))
        .await;
    h.wait_state("stubborn", Healthy).await;
    let pid = rig.pid("stubborn").await;
    let t0 = Instant::now();
    h.conductor.kill(&id("stubborn")).await.expect("kill");
    let took = t0.elapsed();
    assert!(took >= grace, "KILL came before the grace ended: {took:?}");
    assert!(took < grace + Duration::from_secs(5), "kill took {took:?}");
    assert!(pid_gone(pid), "the agent survived SIGKILL");
    assert_eq!(h.wait_terminal("stubborn").await, Dead);
    assert_eq!(
        rig.kills("stubborn"),
        vec![
            ("TERM".into(), "user_kill".into()),
            ("KILL".into(), "grace_expired".into())
        ],
        "{}",
        h.dump()
    );
    rig.finish().await;
}

async fn a_second_kill_skips_the_rest_of_the_grace(kind: Kind) {
    let Some(rig) = Rig::new(kind, |o| {
        o.conductor.grace = Duration::from_secs(60);
        o.probe.stall_after = Duration::from_secs(30);
    }) else {
        return;
    };
    let h = &rig.h;
    h.spawn(rig.script("stubborn", &["ignore-term", "print:x", "stall"]))
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
    first.await.unwrap().expect("the first kill resolves too");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(h.wait_terminal("stubborn").await, Dead);
    assert_eq!(
        rig.kills("stubborn"),
        vec![
            ("TERM".into(), "user_kill".into()),
            ("KILL".into(), "second_request".into())
        ],
        "{}",
        h.dump()
    );
    rig.finish().await;
}

async fn a_silent_start_fails_on_the_startup_timeout(kind: Kind) {
    let Some(rig) = Rig::new(kind, |o| {
        o.probe.startup_timeout = Duration::from_millis(800);
    }) else {
        return;
    };
    let h = &rig.h;
    h.spawn(rig.script("mute", &["stall"])).await;
    assert_eq!(h.wait_terminal("mute").await, Dead);
    assert_eq!(
        h.path_of("mute"),
        vec![Init, Starting, Failed, Dead],
        "{}\noutput: {:?}",
        h.dump(),
        rig.output("mute")
    );
    let t = h.transitions("mute");
    assert_eq!(t[1].2, "startup_timeout", "{}", h.dump());
    // The silent agent was stopped, not left running.
    assert!(
        rig.kills("mute").first().is_some_and(|(s, _)| s == "TERM"),
        "{}",
        h.dump()
    );
    rig.finish().await;
}

async fn silence_stalls_and_output_resuming_makes_it_healthy_again(kind: Kind) {
    // Longer than a remote host's slowest poll (1 s), so a stall is the
    // agent's silence, not the feed's.
    let Some(rig) = Rig::new(kind, |o| {
        o.probe.stall_after = Duration::from_millis(1500);
    }) else {
        return;
    };
    let h = &rig.h;
    h.spawn(rig.script("s", &["print:a", "sleep:4s", "print:b", "exit:0"]))
        .await;
    assert_eq!(h.wait_terminal("s").await, Completed, "{}", h.dump());
    assert_eq!(
        h.path_of("s"),
        vec![Init, Starting, Healthy, Stalled, Healthy, Completed],
        "{}",
        h.dump()
    );
    let t = h.transitions("s");
    assert_eq!(t[2].2, "no_output_for_1500ms");
    assert_eq!(rig.output("s"), "a\nb\n");
    rig.finish().await;
}

async fn a_question_waits_for_input_and_the_answer_resumes_the_agent(kind: Kind) {
    let Some(rig) = Rig::new(kind, |_| {}) else {
        return;
    };
    let h = &rig.h;
    h.spawn(rig.script(
        "q",
        &[
            "print:planning",
            "ask:Do you want to apply these changes? (y/n) ",
            "exit:0",
        ],
    ))
    .await;
    let wait = h
        .wait_for("input_wait", |r| matches!(r.event, Event::InputWait { .. }))
        .await;
    let Event::InputWait { rule, line, .. } = &wait.event else {
        unreachable!()
    };
    assert_eq!(rule, "yes_no");
    assert!(
        line.contains("Do you want to apply these changes?"),
        "{line}"
    );
    h.conductor
        .send_input(&id("q"), b"y\n".to_vec(), true, "user")
        .await
        .expect("answer while waiting");
    assert_eq!(h.wait_terminal("q").await, Completed, "{}", h.dump());
    assert_eq!(
        h.path_of("q"),
        vec![Init, Starting, Healthy, InputWait, Healthy, Completed]
    );
    let out = rig.output("q");
    assert!(out.contains("answer: y"), "{out:?}");
    rig.finish().await;
}
