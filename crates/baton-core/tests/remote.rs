//! Remote sessions against a real OpenSSH server and a real tmux
//! on the "host": the loopback sshd of `common::sshd` (the same machine, so
//! the stand-in agent's path works there too).

mod common;

use std::time::Duration;

use baton_config::Backend;
use baton_core::SessionState::*;
use baton_core::eventlog::Event;
use common::sshd::Sshd;
use common::*;

/// A session of the stand-in agent on inventory host `host`.
fn remote_script(name: &str, host: &str, steps: &[&str]) -> baton_config::SessionSpec {
    let mut spec = script(name, steps);
    spec.backend = Backend::Tmux;
    spec.host = Some(host.to_owned());
    spec
}

fn harness(sshd: &Sshd) -> Harness {
    Harness::new(|o| {
        o.hosts.insert("lo".into(), sshd.host_config("lo"));
        o.conductor.max_restarts = 0;
    })
}

/// What a terminal shows for `text`: "\n" becomes "\r\n".
fn on_terminal(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// The host's tmux sessions (on baton's server for the harness's logs dir).
fn remote_sessions(sshd: &Sshd, h: &Harness) -> Vec<String> {
    sessions_in(sshd.tmux_dir(), h)
}

/// The tmux sessions of baton's server whose sockets are under `tmux_dir`.
fn sessions_in(tmux_dir: &std::path::Path, h: &Harness) -> Vec<String> {
    let server = baton_core::proc::TmuxServer::for_logs_dir(&h.logs());
    let out = std::process::Command::new("tmux")
        .args([
            "-L",
            server.name(),
            "list-sessions",
            "-F",
            "#{session_name}",
        ])
        .env("TMUX_TMPDIR", tmux_dir)
        .output()
        .expect("tmux");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Processes that stream a session's output: the local `ssh … tail -F …`
/// and the host's `tail` (the loopback host is this machine).
fn stream_processes() -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let words: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        // The local ssh client of a stream, or (the host being this
        // machine) the `tail` it ran on the host.
        let local = words
            .first()
            .is_some_and(|w| w == "ssh" || w.ends_with("/ssh"))
            && words.iter().any(|w| w.contains("tail") && w.contains("-F"));
        let remote = words.first().is_some_and(|w| w == "tail")
            && words.iter().any(|w| w.contains("/.baton/"));
        if local || remote {
            found.push(words.join(" "));
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_session_completes_with_its_payload_and_every_byte() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    h.spawn(remote_script(
        "rem",
        "lo",
        &["print:hello", "lines:200", "payload:{\"ok\":1}", "exit:0"],
    ))
    .await;
    assert_eq!(h.wait_terminal("rem").await, Completed, "{}", h.dump());
    let mut expected = String::from("hello\n");
    for n in 1..=200 {
        expected.push_str(&format!("line {n}\n"));
    }
    expected.push_str("<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":1}\n<<<BATON_COMPLETION_END>>>\n");
    assert_eq!(
        String::from_utf8_lossy(&h.out_log("rem")),
        String::from_utf8_lossy(&on_terminal(&expected)),
        "the local log holds exactly what the agent wrote, without the done token"
    );
    let recs = h.session_records("rem");
    assert!(
        recs.iter()
            .any(|r| matches!(&r.event, Event::Completed { payload: Some(p), .. } if p["ok"] == 1)),
        "{}",
        h.dump()
    );
    assert!(
        recs.iter()
            .any(|r| matches!(&r.event, Event::Spawn { host: Some(host), .. } if host == "lo")),
        "{}",
        h.dump()
    );
    assert!(
        remote_sessions(&sshd, &h).is_empty(),
        "the tmux session is gone"
    );
    // Nothing of the run is left on the host (the loopback host's home is ours).
    let server = baton_core::proc::TmuxServer::for_logs_dir(&h.logs());
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let remote_dir = std::path::Path::new(&home)
        .join(".baton")
        .join(server.name());
    assert!(!remote_dir.exists(), "{} is left", remote_dir.display());
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_question_is_detected_and_answered_with_literal_keys() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    h.spawn(remote_script(
        "ask",
        "lo",
        &["ask:Apply the patch? (y/n) ", "print:done"],
    ))
    .await;
    h.wait_state("ask", InputWait).await;
    // Characters a shell or tmux would interpret arrive as typed.
    h.conductor
        .send_input(&id("ask"), b"y $(no) 'q' C-c;\n".to_vec(), true, "user")
        .await
        .expect("answer sent");
    assert_eq!(h.wait_terminal("ask").await, Completed, "{}", h.dump());
    let out = String::from_utf8_lossy(&h.out_log("ask")).into_owned();
    assert!(
        out.contains("answer: y $(no) 'q' C-c;"),
        "the answer reached the agent verbatim: {out:?}"
    );
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_remote_session_ends_it_on_the_host_and_leaves_no_ssh_behind() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    h.spawn(remote_script("k", "lo", &["print:up", "sleep:60s"]))
        .await;
    h.wait_state("k", Healthy).await;
    assert_eq!(remote_sessions(&sshd, &h).len(), 1);
    h.conductor.kill(&id("k")).await.expect("killed");
    assert!(remote_sessions(&sshd, &h).is_empty(), "kill-session ran");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stream_processes().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stream_processes(),
        Vec::<String>::new(),
        "no output stream left"
    );
    h.finish().await;
}

/// Prompt, env values and workdir with quotes, `$()`, backticks, `;`,
/// newlines and spaces reach the agent verbatim and run nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_words_reach_the_agent_verbatim_and_run_nothing() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    let canary = h.dir.path().join("canary");
    let nasty = format!(
        "it's \"$(touch {c})\" `touch {c}`; touch {c} \\ $HOME *\nline two",
        c = canary.display()
    );
    let workdir = h.dir.path().join("work dir 'q' $(x);");
    std::fs::create_dir_all(&workdir).unwrap();
    let print = format!("print:{nasty}");
    let mut spec = remote_script("q", "lo", &[&print, "env:NASTY", "pwd", "exit:0"]);
    spec.env.insert("NASTY".into(), nasty.clone());
    spec.workdir = Some(workdir.clone());
    h.spawn(spec).await;
    assert_eq!(h.wait_terminal("q").await, Completed, "{}", h.dump());
    let out = String::from_utf8_lossy(&h.out_log("q")).replace("\r\n", "\n");
    assert!(
        out.starts_with(&format!("{nasty}\n")),
        "argv verbatim: {out:?}"
    );
    assert!(
        out.contains(&format!("NASTY={nasty}\n")),
        "env verbatim: {out:?}"
    );
    assert!(
        out.contains(&workdir.display().to_string()),
        "workdir verbatim: {out:?}"
    );
    assert!(!canary.exists(), "nothing was executed by a shell");
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_refuses_the_key_is_a_clear_error_not_a_hang() {
    let Some(sshd) = Sshd::loopback() else { return };
    let other_key = common::sshd::keygen(&sshd.dir().join("stranger"));
    let mut host = sshd.host_config("lo");
    host.identity = Some(other_key);
    let h = Harness::new(|o| {
        o.hosts.insert("lo".into(), host);
    });
    let started = std::time::Instant::now();
    h.spawn(remote_script("nokey", "lo", &["print:never"]))
        .await;
    assert_eq!(h.wait_terminal("nokey").await, Dead, "{}", h.dump());
    assert!(started.elapsed() < Duration::from_secs(15));
    let message = h
        .session_records("nokey")
        .into_iter()
        .find_map(|r| match r.event {
            Event::SpawnError { message, .. } => Some(message),
            _ => None,
        })
        .unwrap_or_default();
    assert!(
        message.to_lowercase().contains("auth") || message.contains("denied"),
        "the message says the key was refused: {message}"
    );
    h.finish().await;
}

/// The link to a host is cut silently: its session fails L0 as
/// `remote_unreachable` within `remote_timeout`; once the link is back, the
/// tmux session that survived is re-adopted with its output intact and the
/// agent is not started again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_link_makes_the_session_unreachable_and_it_is_readopted_when_restored() {
    let Some(host) = common::sshd::NetnsHost::new() else {
        return;
    };
    let (h, gate) = gated_on_far(&host, "cut", 0).await;
    host.cut_link();
    let cut_at = std::time::Instant::now();
    let failed = h
        .wait_for("remote_unreachable", |r| {
            r.session.as_deref() == Some("cut")
                && matches!(&r.event, Event::State { to: Failed, reason, .. } if reason == "remote_unreachable")
        })
        .await;
    let noticed = cut_at.elapsed();
    assert!(
        noticed < Duration::from_secs(15),
        "noticed after {noticed:?}: {failed:?}"
    );
    // The agent keeps running on the host meanwhile; it finishes after the restore.
    std::fs::write(&gate, b"").unwrap();
    host.restore_link();
    assert_eq!(h.wait_terminal("cut").await, Completed, "{}", h.dump());
    assert_eq!(h.out_log("cut"), on_terminal("before\nafter\n"));
    let recs = h.session_records("cut");
    let spawns = recs
        .iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count();
    assert_eq!(spawns, 1, "re-adopted, not started again\n{}", h.dump());
    assert!(
        recs.iter().any(
            |r| matches!(&r.event, Event::Recovered { outcome, .. } if outcome == "readopted")
        ),
        "{}",
        h.dump()
    );
    h.finish().await;
}

/// The link is cut, and while it is the agent writes more and its pane dies
/// (its whole group killed on the host). The run ends unreachable; when the
/// host answers again the restart keeps what the dead run wrote during the
/// cut — in that run's slice of the log, before the next run's — and only
/// then starts anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_run_wrote_before_its_pane_died_in_a_cut_is_kept() {
    let Some(host) = common::sshd::NetnsHost::new() else {
        return;
    };
    let (h, gate) = gated_on_far(&host, "died", 1).await;
    let (pane, output) = h
        .session_records("died")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Spawn { pid, tmux, .. } => Some((pid, tmux?)),
            _ => None,
        })
        .expect("a remote spawn");
    // The run's output file on the host (this machine, as this user).
    let output = common::sshd::login_home()
        .join(".baton")
        .join(&output.server)
        .join(format!(
            "{}.{}.log",
            output.session,
            output.marker.expect("a marker")
        ));
    host.cut_link();
    std::fs::write(&gate, b"").unwrap();
    // The agent writes `after` and ends (its wrapper's done token follows);
    // then its pane's group is killed (the host shares this machine's pids).
    poll_until("the run's end on the host", || {
        std::fs::read(&output).is_ok_and(|b| b.windows(14).any(|w| w == b"__BATON_DONE__"))
    })
    .await;
    // SAFETY: kill(2) on a process group id the spawn record names.
    unsafe {
        libc::kill(-(pane as i32), libc::SIGKILL);
    }
    h.wait_for("remote_unreachable", |r| {
        r.session.as_deref() == Some("died")
            && matches!(&r.event, Event::State { to: Failed, reason, .. } if reason == "remote_unreachable")
    })
    .await;
    host.restore_link();
    assert_eq!(h.wait_terminal("died").await, Completed, "{}", h.dump());
    let offsets: Vec<u64> = h
        .session_records("died")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Spawn { out_offset, .. } => Some(out_offset),
            _ => None,
        })
        .collect();
    assert_eq!(offsets.len(), 2, "{}", h.dump());
    let log = h.out_log("died");
    let run = on_terminal("before\nafter\n");
    assert_eq!(
        &log[..offsets[1] as usize],
        &run[..],
        "the first run, whole"
    );
    assert_eq!(&log[offsets[1] as usize..], &run[..], "the second run");
    h.finish().await;
}

/// A conductor with the namespace host `far` (its `remote_timeout` 4 s and
/// `max_restarts` as given), running session `name` there, seen up: it
/// prints `before`, waits for the returned gate file, prints `after` and
/// ends.
async fn gated_on_far(
    host: &common::sshd::NetnsHost,
    name: &str,
    max_restarts: u32,
) -> (Harness, std::path::PathBuf) {
    let gate = host.dir().join("gate");
    let mut config = host.host_config("far");
    config.remote_timeout = Some(Duration::from_secs(4));
    let h = Harness::new(|o| {
        o.hosts.insert("far".into(), config);
        o.conductor.max_restarts = max_restarts;
    });
    let gate_step = format!("wait-file:{}", gate.display());
    h.spawn(remote_script(
        name,
        "far",
        &["print:before", &gate_step, "print:after", "exit:0"],
    ))
    .await;
    h.wait_state(name, Healthy).await;
    (h, gate)
}

/// The host dies with everything on it and comes back: the session is gone
/// there, so it is started again per its policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_died_and_returned_gets_its_session_started_again() {
    let Some(mut host) = common::sshd::NetnsHost::new() else {
        return;
    };
    let mut config = host.host_config("far");
    config.remote_timeout = Some(Duration::from_secs(4));
    let h = Harness::new(|o| {
        o.hosts.insert("far".into(), config);
        o.conductor.max_restarts = 1;
    });
    let marker = host.dir().join("second-run");
    let second = format!("wait-file:{}", marker.display());
    // First run: waits forever (until the host dies). Second run: the file exists.
    h.spawn(remote_script(
        "crash",
        "far",
        &["print:up", &second, "exit:0"],
    ))
    .await;
    h.wait_state("crash", Healthy).await;
    host.kill_all();
    std::fs::write(&marker, b"").unwrap();
    host.restart_sshd();
    assert_eq!(h.wait_terminal("crash").await, Completed, "{}", h.dump());
    let spawns = h
        .session_records("crash")
        .into_iter()
        .filter(|r| matches!(r.event, Event::Spawn { .. }))
        .count();
    assert_eq!(
        spawns,
        2,
        "started again on the returned host\n{}",
        h.dump()
    );
    h.finish().await;
}

/// `host = "any"` goes to the inventory host with the most free slots and
/// waits in `init` while every host is full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_host_placement_fills_free_slots_and_waits_when_all_are_full() {
    let Some(sshd) = Sshd::loopback() else { return };
    let gate = sshd.dir().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    let h = Harness::new(|o| {
        let mut a = sshd.host_config("a");
        a.max_sessions = 1;
        let mut b = sshd.host_config("b");
        b.max_sessions = 2;
        o.hosts.insert("a".into(), a);
        o.hosts.insert("b".into(), b);
    });
    for name in ["p1", "p2", "p3", "p4"] {
        h.spawn(remote_script(
            name,
            "any",
            &["print:up", &gate_step, "exit:0"],
        ))
        .await;
    }
    for name in ["p1", "p2", "p3"] {
        h.wait_state(name, Healthy).await;
    }
    let snapshot = h.conductor.snapshot().await.unwrap();
    let host_of = |id: &str| {
        snapshot
            .iter()
            .find(|s| s.id == id)
            .map(|s| (s.host.clone(), s.state, s.reason.clone()))
            .unwrap()
    };
    // b has two free slots, a one: b, then a or b, then the last free one.
    let mut placed: Vec<String> = ["p1", "p2", "p3"].iter().map(|id| host_of(id).0).collect();
    placed.sort();
    assert_eq!(placed, ["a", "b", "b"], "{snapshot:?}");
    let (_, state, reason) = host_of("p4");
    assert_eq!((state, reason.as_str()), (Init, "waiting_for_host"));
    std::fs::write(&gate, b"").unwrap();
    for name in ["p1", "p2", "p3", "p4"] {
        assert_eq!(h.wait_terminal(name).await, Completed, "{}", h.dump());
    }
    h.finish().await;
}

/// More sessions on one host than sshd's default `MaxSessions` (10
/// channels per connection): output and probes for all of them go through
/// one short call per tick, so none runs out of channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_sessions_than_sshd_channels_on_one_host_all_complete() {
    let Some(sshd) = Sshd::loopback() else { return };
    let gate = sshd.dir().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    let h = Harness::new(|o| {
        let mut host = sshd.host_config("lo");
        host.max_sessions = 16;
        o.hosts.insert("lo".into(), host);
    });
    let ids: Vec<String> = (0..14).map(|i| format!("many{i}")).collect();
    for id in &ids {
        h.spawn(remote_script(
            id,
            "lo",
            &["print:up", &gate_step, "lines:50", "exit:0"],
        ))
        .await;
    }
    for id in &ids {
        h.wait_state(id, Healthy).await;
    }
    std::fs::write(&gate, b"").unwrap();
    let mut expected = String::from("up\n");
    for n in 1..=50 {
        expected.push_str(&format!("line {n}\n"));
    }
    for id in &ids {
        assert_eq!(h.wait_terminal(id).await, Completed, "{}", h.dump());
        assert_eq!(h.out_log(id), on_terminal(&expected), "{id}");
    }
    h.finish().await;
}

/// A remote workdir or program that does not exist is a `spawn_error`
/// naming it: the agent never runs somewhere else (tmux would fall back to
/// the home directory) and is not restarted for nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_remote_workdir_or_program_is_a_spawn_error() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    let mut nowhere = remote_script("nowhere", "lo", &["print:never"]);
    nowhere.workdir = Some("/nonexistent/baton/workdir".into());
    h.spawn(nowhere).await;
    let mut noprog =
        baton_config::SessionSpec::command(id("noprog"), vec!["no-such-agent-binary".into()]);
    noprog.backend = Backend::Tmux;
    noprog.host = Some("lo".into());
    h.spawn(noprog).await;
    for (name, missing) in [("nowhere", "workdir"), ("noprog", "binary")] {
        assert_eq!(h.wait_terminal(name).await, Dead, "{}", h.dump());
        let error = h
            .session_records(name)
            .into_iter()
            .find_map(|r| match r.event {
                Event::SpawnError { missing, message } => Some((missing, message)),
                _ => None,
            });
        let (got, message) = error.expect("a spawn_error");
        assert_eq!(got, missing, "{message}");
    }
    assert!(remote_sessions(&sshd, &h).is_empty(), "nothing was started");
    h.finish().await;
}

/// Output that holds a done token without the run's nonce — the reference
/// conductor's `__TRIFLUX_DONE__ 0` — is output: the run goes on and ends
/// by its real exit status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_done_token_in_the_output_ends_nothing() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    h.spawn(remote_script(
        "token",
        "lo",
        &[
            "print:working",
            "print:__TRIFLUX_DONE__ 0",
            "print:__BATON_DONE__ 0 not-the-nonce",
            "sleep:500ms",
            "print:still-running",
            "exit:3",
        ],
    ))
    .await;
    assert_eq!(h.wait_terminal("token").await, Dead, "{}", h.dump());
    let exits: Vec<Option<i32>> = h
        .session_records("token")
        .into_iter()
        .filter_map(|r| match r.event {
            Event::Exit { code, .. } => Some(code),
            _ => None,
        })
        .collect();
    assert_eq!(exits, vec![Some(3)], "{}", h.dump());
    let log = String::from_utf8_lossy(&h.out_log("token")).into_owned();
    assert!(
        log.contains("__TRIFLUX_DONE__ 0\r\n") && log.ends_with("still-running\r\n"),
        "{log}"
    );
    h.finish().await;
}

/// A kill while the host does not answer: the session is recorded dead at
/// once, and its tmux session on the host is ended as soon as the host
/// answers again (not left running there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_cut_ends_the_remote_session_once_the_host_answers() {
    let Some(host) = common::sshd::NetnsHost::new() else {
        return;
    };
    let mut config = host.host_config("far");
    config.remote_timeout = Some(Duration::from_secs(4));
    let h = Harness::new(|o| {
        o.hosts.insert("far".into(), config);
    });
    h.spawn(remote_script("cutkill", "far", &["print:up", "sleep:600s"]))
        .await;
    h.wait_state("cutkill", Healthy).await;
    assert_eq!(sessions_in(host.tmux_dir(), &h).len(), 1);
    host.cut_link();
    h.conductor
        .kill(&id("cutkill"))
        .await
        .expect("kill answers");
    assert_eq!(h.wait_terminal("cutkill").await, Dead);
    assert_eq!(
        sessions_in(host.tmux_dir(), &h).len(),
        1,
        "still there during the cut"
    );
    host.restore_link();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !sessions_in(host.tmux_dir(), &h).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        sessions_in(host.tmux_dir(), &h).is_empty(),
        "the remote session was ended after the restore"
    );
    h.finish().await;
}

/// A session whose run ended because its host stopped answering waits for
/// the host; killed while it waits, it is dead at once, and the tmux session
/// its run left on the host is ended once the host answers (with what the
/// agent wrote meanwhile kept in the local log), not left running there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_waiting_for_the_host_ends_what_the_run_left_there() {
    let Some(host) = common::sshd::NetnsHost::new() else {
        return;
    };
    let mut config = host.host_config("far");
    config.remote_timeout = Some(Duration::from_secs(2));
    let h = Harness::new(|o| {
        o.hosts.insert("far".into(), config);
    });
    h.spawn(remote_script(
        "waitkill",
        "far",
        &[
            "print:up",
            "sleep:3s",
            "print:written during the cut",
            "sleep:600s",
        ],
    ))
    .await;
    h.wait_state("waitkill", Healthy).await;
    host.cut_link();
    // The run ends as remote_unreachable; the session waits for its host.
    h.wait_state("waitkill", Restarting).await;
    assert_eq!(sessions_in(host.tmux_dir(), &h).len(), 1);
    h.conductor
        .kill(&id("waitkill"))
        .await
        .expect("kill answers");
    assert_eq!(h.wait_terminal("waitkill").await, Dead);
    host.restore_link();
    // The session goes on the host, and what the agent wrote there during
    // the cut is fetched into the local log first.
    let want = "up\r\nwritten during the cut\r\n";
    let done = || {
        sessions_in(host.tmux_dir(), &h).is_empty()
            && String::from_utf8_lossy(&h.out_log("waitkill")) == want
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        sessions_in(host.tmux_dir(), &h).is_empty(),
        "the remote session was ended after the restore\n{}",
        h.dump()
    );
    assert_eq!(String::from_utf8_lossy(&h.out_log("waitkill")), want);
    h.finish().await;
}

/// Every process's command line that contains `needle`, looked at until
/// `stop` is set; the hits, with the command line.
fn watch_cmdlines(
    needle: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let mut scans = 0;
        let mut hits = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                if cmdline
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
                {
                    let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                    if !hits.contains(&line) && hits.len() < 5 {
                        hits.push(line);
                    }
                }
            }
            scans += 1;
        }
        (scans, hits)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_env_value_never_appears_on_a_command_line() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = harness(&sshd);
    let secret = format!(
        "s3cret-{}-{}",
        std::process::id(),
        h.dir.path().display().to_string().len()
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_cmdlines(secret.clone(), stop.clone());
    let steps = [
        "env:API_KEY",
        "ask:Go on? [y/N] ",
        "print:going on",
        "stall",
    ];
    let mut local = script("loc", &steps);
    local.backend = Backend::Tmux;
    let mut remote = remote_script("rem", "lo", &steps);
    for spec in [&mut local, &mut remote] {
        spec.env.insert("API_KEY".into(), secret.clone());
        spec.stall_after = Some(Duration::from_millis(500));
    }
    h.spawn(local).await;
    h.spawn(remote).await;
    for id in ["loc", "rem"] {
        h.wait_state(id, InputWait).await;
        h.conductor
            .send_input(
                &baton_config::SessionId::try_from(id.to_owned()).unwrap(),
                b"y\n".to_vec(),
                true,
                "user",
            )
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}\n{}", h.dump()));
        h.wait_for(&format!("{id} to go on"), |r| {
            r.session.as_deref() == Some(id)
                && matches!(&r.event, Event::State { to: Healthy, reason, .. } if reason == "output_resumed")
        })
        .await;
    }
    for id in ["loc", "rem"] {
        h.conductor
            .kill(&baton_config::SessionId::try_from(id.to_owned()).unwrap())
            .await
            .unwrap();
        assert_eq!(h.wait_terminal(id).await, Dead);
        // The value reached the agent.
        let out = String::from_utf8_lossy(&h.out_log(id)).into_owned();
        assert!(out.contains(&format!("API_KEY={secret}")), "{id}: {out}");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (scans, hits) = watcher.join().unwrap();
    assert!(
        scans > 10,
        "the command lines were looked at only {scans} times"
    );
    assert!(
        hits.is_empty(),
        "the secret was on a command line: {hits:?}"
    );
    // The hand-over files are gone, here and on the host.
    let left: Vec<_> = std::fs::read_dir(h.logs())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".env"))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let remote_left: Vec<String> = walk(&host_dir(&h))
        .into_iter()
        .filter(|p| p.ends_with(".env"))
        .collect();
    assert!(remote_left.is_empty(), "{remote_left:?}");
    h.finish().await;
}

/// A conductor whose claude and gemini are the stand-in, with the loopback
/// host `lo`; no restarts, and no stall judged within a test.
fn stand_in_clis_on_lo(sshd: &Sshd) -> Harness {
    Harness::new(|o| {
        o.hosts.insert("lo".into(), sshd.host_config("lo"));
        o.conductor.max_restarts = 0;
        o.agents.claude.bin = Some(stand_in().display().to_string());
        o.agents.gemini.bin = Some(stand_in().display().to_string());
        o.probe.stall_after = Duration::from_secs(30);
    })
}

/// A session `name` of CLI `agent` (the stand-in, playing `steps`) in tmux
/// on `lo`, prompted "fix it".
fn cli_on_lo(
    name: &str,
    agent: baton_config::AgentKind,
    steps: &[&str],
) -> baton_config::SessionSpec {
    let mut spec = baton_config::SessionSpec::command(id(name), Vec::new());
    spec.agent = agent;
    spec.command = None;
    spec.prompt = Some("fix it".into());
    spec.backend = Backend::Tmux;
    spec.host = Some("lo".into());
    spec.env
        .insert(stand_in_agent::SCRIPT_ENV.into(), steps.join("\n"));
    spec
}

/// Waits until the hooked remote run `name` ended its turn, and checks
/// what its hooks said on the way: up, a permission asked, the tool run,
/// the turn ended (`idle`).
async fn permission_then_idle(h: &Harness, name: &str) {
    use baton_proto::WaitKind;
    h.wait_for(&format!("{name} idle"), |r| {
        r.session.as_deref() == Some(name)
            && matches!(
                r.event,
                Event::InputWait {
                    kind: Some(WaitKind::Idle),
                    ..
                }
            )
    })
    .await;
    assert_eq!(
        hooked_reasons(h, name),
        PERMISSION_THEN_IDLE,
        "{}",
        h.dump()
    );
}

/// The reasons of a hooked remote run's states, its way up said one way:
/// the host's feed fetches output and hook lines on the same tick, so a
/// hook may be heard first (`hook_heard`) on a loaded machine.
fn hooked_reasons(h: &Harness, name: &str) -> Vec<String> {
    h.transitions(name)
        .into_iter()
        .enumerate()
        .map(|(i, t)| match t.2.as_str() {
            "hook_heard" if i == 1 => "first_output".to_owned(),
            _ => t.2,
        })
        .collect()
}

/// Where the conductor of `h` keeps its runs' files on the loopback host
/// (this machine, as this user): `~/.baton/<server>/` of the login
/// directory sshd gives.
fn host_dir(h: &Harness) -> std::path::PathBuf {
    let server = baton_core::proc::TmuxServer::for_logs_dir(&h.logs());
    common::sshd::login_home()
        .join(".baton")
        .join(server.name())
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path.display().to_string());
        }
    }
    all
}

/// claude on a host runs interactively with hooks too: there is no
/// `baton-shim` on the host, so each hook appends a line with the run's
/// token to a file beside the pane's output, which the host's feed fetches
/// with the output; what it says is the session's state, as locally, and
/// the file goes with the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_claudes_hooks_say_what_it_waits_for() {
    use baton_proto::HooksState;
    let Some(sshd) = Sshd::loopback() else { return };
    let h = stand_in_clis_on_lo(&sshd);
    let steps = [
        "print:claude (stand-in) on a host",
        "sleep:300ms",
        r#"hook:SessionStart:{"source":"startup"}"#,
        r#"hook:PermissionRequest:{"tool_name":"Edit","tool_input":{"file_path":"/srv/app/main.rs"}}"#,
        "sleep:1500ms",
        r#"hook:PostToolUse:{"tool_name":"Edit"}"#,
        r#"hook:Stop:{"last_assistant_message":"Edited main.rs."}"#,
        "stall",
    ];
    let spec = cli_on_lo("far", baton_config::AgentKind::Claude, &steps);
    h.spawn(spec).await;
    permission_then_idle(&h, "far").await;
    let rows = h.conductor.snapshot().await.unwrap();
    let row = rows.iter().find(|r| r.id == "far").unwrap();
    assert_eq!(row.hooks, Some(HooksState::Reporting));
    assert_eq!(row.evidence.as_deref(), Some("Edited main.rs."));
    let argv = h.spawn_argv("far");
    assert!(
        argv.iter().any(|w| w.starts_with("--settings=")),
        "interactive with hooks: {argv:?}"
    );
    h.conductor.kill(&id("far")).await.expect("kill");
    let left: Vec<String> = walk(&host_dir(&h))
        .into_iter()
        .filter(|p| p.ends_with(".hooks"))
        .collect();
    assert!(left.is_empty(), "the run's hook file outlived it: {left:?}");
    h.finish().await;
}

/// gemini reads its hooks from a settings file: on a host, the pane's
/// wrapper writes the run's file there (private, beside its output, gone
/// with the run) and names it in gemini's variable — unless the host has
/// the file it would stand in for, which is kept: that run has no hooks of
/// baton's, is said silent, and is judged by its screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_gemini_gets_its_hooks_from_a_file_written_on_the_host() {
    use baton_proto::HooksState;
    use std::os::unix::fs::PermissionsExt;
    let Some(sshd) = Sshd::loopback() else { return };
    let h = stand_in_clis_on_lo(&sshd);
    // The host's own defaults (the loopback host is this machine).
    let own = h.dir.path().join("host-defaults.json");
    std::fs::write(&own, r#"{"ui": {"theme": "the host's"}}"#).unwrap();
    let gemini =
        |name: &str, steps: &[&str]| cli_on_lo(name, baton_config::AgentKind::Gemini, steps);
    let steps = [
        "print:gemini (stand-in) on a host",
        "sleep:300ms",
        "env:GEMINI_CLI_SYSTEM_DEFAULTS_PATH",
        "env:BATON_HOOK_SETTINGS",
        r#"hook:SessionStart:{"source":"startup"}"#,
        r#"hook:Notification:{"notification_type":"ToolPermission","message":"Allow?","details":{"toolName":"run_shell_command"}}"#,
        "sleep:1500ms",
        r#"hook:AfterTool:{"tool_name":"run_shell_command"}"#,
        r#"hook:AfterAgent:{"prompt":"fix it","prompt_response":"Fixed it."}"#,
        "stall",
    ];
    h.spawn(gemini("hooked", &steps)).await;
    let mut kept = gemini(
        "kept",
        &[
            "print:gemini (stand-in) on a host with its own defaults",
            "env:GEMINI_CLI_SYSTEM_DEFAULTS_PATH",
            "sleep:300ms",
            r#"hook:SessionStart:{"source":"startup"}"#,
            "ask:Continue? [y/N] ",
        ],
    );
    kept.env.insert(
        "GEMINI_CLI_SYSTEM_DEFAULTS_PATH".into(),
        own.display().to_string(),
    );
    h.spawn(kept).await;
    permission_then_idle(&h, "hooked").await;
    let out = String::from_utf8_lossy(&h.out_log("hooked")).into_owned();
    assert!(out.contains("BATON_HOOK_SETTINGS unset"), "{out}");
    let at = out.find("GEMINI_CLI_SYSTEM_DEFAULTS_PATH=").expect("named") + 32;
    let file = std::path::PathBuf::from(out[at..].lines().next().unwrap().trim());
    // Beside the run's output, in the private `~/.baton/<server>/` there.
    assert_eq!(file.parent(), Some(host_dir(&h).as_path()), "{file:?}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{file:?}");
    let settings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(settings["hooks"]["AfterAgent"].is_array(), "{settings}");
    // The host's own file is kept: no hooks, said so, judged by its screen.
    let waiting = h.wait_state("kept", InputWait).await;
    assert!(
        matches!(&waiting.event, Event::State { reason, .. } if reason == "input_wait:yes_no"),
        "{}",
        h.dump()
    );
    let silent = h
        .session_records("kept")
        .into_iter()
        .find_map(|r| match r.event {
            Event::Hooks {
                state: HooksState::Silent,
                message,
            } => Some(message),
            _ => None,
        })
        .expect("said silent");
    assert!(silent.contains("keeps it"), "{silent}");
    let out = String::from_utf8_lossy(&h.out_log("kept")).into_owned();
    assert!(
        out.contains(&format!(
            "GEMINI_CLI_SYSTEM_DEFAULTS_PATH={}",
            own.display()
        )),
        "{out}"
    );
    for name in ["hooked", "kept"] {
        h.conductor.kill(&id(name)).await.expect("kill");
    }
    assert!(!file.exists(), "the run's settings outlived it: {file:?}");
    assert_eq!(
        std::fs::read_to_string(&own).unwrap(),
        r#"{"ui": {"theme": "the host's"}}"#
    );
    h.finish().await;
}

/// Issue 13: a remote session's local log rolls over as it is fetched; every
/// byte is there across the segments, and the payload after the flood is
/// still found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_sessions_local_log_rolls_over_and_keeps_every_byte() {
    let Some(sshd) = Sshd::loopback() else { return };
    let h = Harness::new(|o| {
        o.hosts.insert("lo".into(), sshd.host_config("lo"));
        o.conductor.max_restarts = 0;
        o.conductor.max_log_size = 64 * 1024;
    });
    let size = 1024 * 1024 + 9;
    let flood = format!("flood:{size}");
    h.spawn(remote_script(
        "rroll",
        "lo",
        &[&flood, "payload:{\"ok\":2}", "exit:0"],
    ))
    .await;
    assert_eq!(h.wait_terminal("rroll").await, Completed, "{}", h.dump());
    let mut expected = Vec::new();
    for chunk in stand_in_agent::flood_bytes(size) {
        expected.extend_from_slice(chunk);
    }
    expected.extend_from_slice(
        b"<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":2}\n<<<BATON_COMPLETION_END>>>\n",
    );
    let expected = on_terminal(&String::from_utf8(expected).unwrap());
    let out = h.out_log("rroll");
    assert!(
        out == expected,
        "{} bytes, {} expected",
        out.len(),
        expected.len()
    );
    let segments = baton_core::seglog::segments(&h.logs().join("rroll.out.log")).unwrap();
    assert!(segments.len() > 16, "{} segments", segments.len());
    assert!(segments.iter().all(|s| s.len <= 64 * 1024));
    assert!(
        h.session_records("rroll")
            .iter()
            .any(|r| matches!(&r.event, Event::Completed { payload: Some(p), .. } if p["ok"] == 2)),
        "{}",
        h.dump()
    );
    h.finish().await;
}
