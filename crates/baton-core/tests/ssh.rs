//! `baton_core::proc::ssh` against a real OpenSSH server: on loopback, and
//! inside network namespaces whose link the test cuts. These
//! tests need root, sshd and nft; without them they print why and pass,
//! except under CI, where they fail.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_core::proc::ssh::{SshError, SshHost};
use common::poll_until;
use common::sshd::{NetnsHost, Sshd, keygen, pid_gone};

/// Generous bound for anything a test waits on.
const DEADLINE: Duration = Duration::from_secs(20);

/// A probe that needs no server: on a fresh tmux socket it answers rc 1.
const PROBE: &[&str] = &["tmux", "-L", "bt-probe", "has-session", "-t", "=none"];

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    let n = samples.len();
    let mid = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    mid.as_secs_f64() * 1000.0
}

/// Calls `run(["true"])` until it succeeds, within `DEADLINE`; returns
/// how long that took.
async fn until_answering(ssh: &SshHost) -> Duration {
    let start = Instant::now();
    loop {
        match ssh.run(&["true"]).await {
            Ok(_) => return start.elapsed(),
            Err(e) => assert!(
                start.elapsed() < DEADLINE,
                "host still not answering after {DEADLINE:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_word_reaches_the_remote_side_verbatim_and_runs_nothing() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop");
    let marker = sshd.dir().join("pwned");
    let m = marker.display().to_string();
    let subst = format!("$(touch {m}.1)");
    let backticks = format!("`touch {m}.2`");
    let semicolon = format!("x; touch {m}.3");
    let and = format!("x && touch {m}.4 || touch {m}.4");
    let newline = format!("x\ntouch {m}.5");
    let quote_break = format!("'; touch {m}.6; '");
    let dquote_break = format!("\"; touch {m}.7; \"");
    let pipe = format!("x | touch {m}.8");
    let redirect = format!("> {m}.9");
    let words: Vec<&str> = vec![
        "plain",
        "",
        "two  spaces",
        " leading and trailing ",
        "it's",
        "\"double\" quotes",
        &subst,
        &backticks,
        &semicolon,
        &and,
        &newline,
        &quote_break,
        &dquote_break,
        &pipe,
        &redirect,
        "$HOME ${HOME} $0 $$ $@",
        "*",
        "/*",
        "?",
        "[a-z]*",
        "~",
        "~root/x",
        "{a,b}",
        "x{1..3}",
        "!!",
        "# not a comment",
        "=ls",
        "-n",
        "--",
        "tab\there",
        "back\\slash \\n \\'",
        "\r\n",
        "é ü 日本語 🚀 ∑",
        "%1 ^x",
    ];
    let mut argv = vec!["printf", "%s\\0"];
    argv.extend(&words);
    let out = ssh.exec(&argv, None).await.expect("printf runs");
    assert_eq!(out.status, 0, "{out:?}");
    let mut got: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .map(|w| String::from_utf8(w.to_vec()).expect("utf-8"))
        .collect();
    assert_eq!(got.pop().as_deref(), Some(""), "output ends with NUL");
    assert_eq!(got, words);

    // The same words as the arguments of a command whose status matters.
    let (status, stdout, _) = ssh
        .run_status(&["test", &subst, "=", &subst])
        .await
        .expect("test runs");
    assert_eq!((status, stdout.as_str()), (0, ""));

    for i in 1..=9 {
        let path = format!("{m}.{i}");
        assert!(
            !std::path::Path::new(&path).exists(),
            "{path} exists: a word was executed"
        );
    }
    ssh.close().await;
}

#[tokio::test]
async fn calls_share_one_master_and_the_probe_cost_is_measured() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop");
    assert_eq!(
        ssh.master_pid().await,
        None,
        "no master before the first call"
    );
    let first = Instant::now();
    assert_eq!(ssh.run(&["echo", "hi"]).await.expect("first call"), "hi\n");
    let first = first.elapsed();
    let master = ssh
        .master_pid()
        .await
        .expect("the first call left a master");
    assert_eq!(
        ssh.run(&["echo", "again"]).await.expect("second call"),
        "again\n"
    );
    assert_eq!(
        ssh.master_pid().await,
        Some(master),
        "the second call reused it"
    );
    // The host's tmux is its own: sshd handed the session its TMUX_TMPDIR.
    let tmpdir = ssh
        .run(&["sh", "-c", "echo \"$TMUX_TMPDIR\""])
        .await
        .expect("env");
    assert_eq!(tmpdir.trim_end(), sshd.tmux_dir().display().to_string());

    let mut warm = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (status, _, stderr) = ssh.run_status(PROBE).await.expect("probe");
        warm.push(t.elapsed());
        assert_eq!(status, 1, "{stderr}");
        // tmux 3.3a says "error connecting to … (No such file or directory)"
        // when its socket directory exists but the socket does not.
        assert!(
            stderr.contains("no server running") || stderr.contains("error connecting"),
            "{stderr}"
        );
    }
    assert_eq!(
        ssh.master_pid().await,
        Some(master),
        "one master throughout"
    );

    let fresh_host = sshd.ssh_host("loop").without_multiplexing();
    let mut fresh = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let (status, _, stderr) = fresh_host.run_status(PROBE).await.expect("probe");
        fresh.push(t.elapsed());
        assert_eq!(status, 1, "{stderr}");
    }
    println!(
        "probe `{}` on root@127.0.0.1, median of 20: multiplexed (warm master) {:.1} ms, \
         fresh connection {:.1} ms; first call (starts the master) {:.1} ms",
        PROBE.join(" "),
        median_ms(warm),
        median_ms(fresh),
        first.as_secs_f64() * 1000.0
    );
    ssh.close().await;
}

#[tokio::test]
async fn concurrent_first_calls_start_one_master() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = Arc::new(sshd.ssh_host("loop"));
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let ssh = ssh.clone();
            tokio::spawn(async move { ssh.run(&["echo", &i.to_string()]).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.expect("task").expect("call"), format!("{i}\n"));
    }
    let master = ssh.master_pid().await.expect("a master");
    // Only the master's connection is left once the calls are done: the
    // calls did not each open and keep a connection of their own.
    poll_until("one connection to sshd", || sessions_of(&sshd) == 1).await;
    ssh.close().await;
    assert!(pid_gone(master));
}

/// The number of per-connection sshd processes of this sshd (its children).
fn sessions_of(sshd: &Sshd) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let Some(after) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
                return false;
            };
            let mut fields = after.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
            state != Some("Z") && ppid == Some(sshd.pid())
        })
        .count()
}

#[tokio::test]
async fn status_stderr_and_stdin_come_back() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop");
    let err = ssh
        .run(&["sh", "-c", "echo oops >&2; exit 3"])
        .await
        .expect_err("exit 3");
    match &err {
        SshError::Command {
            host,
            program,
            status,
            stderr,
        } => {
            assert_eq!(
                (host.as_str(), program.as_str(), *status),
                ("loop", "sh", 3)
            );
            assert_eq!(stderr, "oops");
        }
        other => panic!("not a Command error: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "host `loop`: `sh` exited with status 3: oops"
    );
    let (status, stdout, stderr) = ssh
        .run_status(&["sh", "-c", "echo out; echo err >&2; exit 1"])
        .await
        .expect("runs");
    assert_eq!(
        (status, stdout.as_str(), stderr.as_str()),
        (1, "out\n", "err")
    );
    // 255 is also ssh's own failure status; with the master alive it is
    // the command's.
    let (status, _, _) = ssh
        .run_status(&["sh", "-c", "exit 255"])
        .await
        .expect("a command's own 255");
    assert_eq!(status, 255);
    // Input arrives byte for byte, and a command reading stdin without
    // input sees end-of-file at once instead of hanging.
    let input = "line one\n$(not run) 'q' \"d\"\n\u{1F680}\n";
    assert_eq!(
        ssh.run_input(&["cat"], input.as_bytes())
            .await
            .expect("cat"),
        input
    );
    assert_eq!(ssh.run(&["cat"]).await.expect("cat of /dev/null"), "");
    ssh.close().await;
}

#[tokio::test]
async fn a_key_the_server_refuses_is_an_auth_error() {
    let Some(sshd) = Sshd::loopback() else { return };
    let stranger = keygen(&sshd.dir().join("stranger_key"));
    let mut cfg = sshd.host_config("loop");
    cfg.identity = Some(stranger);
    let ssh = SshHost::new("loop", &cfg, sshd.control_dir()).expect("ssh host");
    let start = Instant::now();
    let err = ssh.run(&["true"]).await.expect_err("refused key");
    let took = start.elapsed();
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
    assert!(!err.is_unreachable());
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(
            "host `loop`: ssh could not log in (root@127.0.0.1: Permission denied (publickey).)"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("`user` and `identity` in [hosts.loop]"),
        "{shown}"
    );
    assert_eq!(
        ssh.master_pid().await,
        None,
        "no master from a failed login"
    );

    // A missing key file says so too.
    cfg.identity = Some(sshd.dir().join("no_such_key"));
    let ssh = SshHost::new("loop", &cfg, sshd.control_dir()).expect("ssh host");
    let err = ssh.run(&["true"]).await.expect_err("no key");
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn a_changed_host_key_is_a_host_key_error() {
    let Some(sshd) = Sshd::loopback() else { return };
    let impostor = keygen(&sshd.dir().join("impostor_key"));
    let impostor_pub =
        std::fs::read_to_string(impostor.with_extension("pub")).expect("impostor key");
    let known = sshd.dir().join("known_hosts_changed");
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{} {impostor_pub}", sshd.port()),
    )
    .expect("write");
    let mut cfg = sshd.host_config("loop");
    // The default policy, accept-new, still refuses a key that changed.
    cfg.ssh_options = vec![
        format!("UserKnownHostsFile={}", known.display()),
        "GlobalKnownHostsFile=/dev/null".into(),
    ];
    let ssh = SshHost::new("loop", &cfg, sshd.control_dir()).expect("ssh host");
    let err = ssh.run(&["true"]).await.expect_err("changed key");
    assert!(matches!(err, SshError::HostKey { .. }), "{err:?}");
    let shown = err.to_string();
    let want = format!("ssh-keygen -R '[127.0.0.1]:{}'", sshd.port());
    assert!(
        shown.starts_with("host `loop`: ssh refused the host key ("),
        "{shown}"
    );
    assert!(shown.contains(&want), "{shown}");

    // accept-new with an empty known_hosts file learns the key and goes on.
    let fresh = sshd.dir().join("known_hosts_empty");
    cfg.ssh_options[0] = format!("UserKnownHostsFile={}", fresh.display());
    let ssh = SshHost::new("loop", &cfg, sshd.control_dir()).expect("ssh host");
    let (status, _, stderr) = ssh.run_status(&["true"]).await.expect("accept-new");
    assert_eq!(status, 0);
    assert!(
        !stderr.contains("Permanently added"),
        "chatter kept: {stderr}"
    );
    let learned = std::fs::read_to_string(&fresh).expect("known_hosts written");
    let host_key = sshd.host_public_key();
    let key_body = host_key.split_whitespace().nth(1).expect("key");
    assert!(learned.contains(key_body), "{learned}");
    ssh.close().await;
}

#[tokio::test]
async fn a_closed_port_is_unreachable_at_once() {
    let Some(sshd) = Sshd::loopback() else { return };
    let closed_port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut cfg = sshd.host_config("loop");
    cfg.port = closed_port;
    let ssh = SshHost::new("loop", &cfg, sshd.control_dir()).expect("ssh host");
    let start = Instant::now();
    let err = ssh.run(&["true"]).await.expect_err("closed port");
    assert!(matches!(err, SshError::Unreachable { .. }), "{err:?}");
    assert!(err.is_unreachable());
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_killed_master_is_replaced_by_the_next_call() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop");
    ssh.run(&["true"]).await.expect("first call");
    let old = ssh.master_pid().await.expect("master");
    // SIGKILL leaves the socket file behind: a stale socket.
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(old as i32).expect("pid"),
        rustix::process::Signal::KILL,
    )
    .expect("kill master");
    poll_until("the master to die", || pid_gone(old)).await;
    let sockets = std::fs::read_dir(sshd.control_dir())
        .expect("control dir")
        .count();
    assert_eq!(sockets, 1, "the dead master's socket is still there");

    let start = Instant::now();
    assert_eq!(
        ssh.run(&["echo", "back"]).await.expect("next call"),
        "back\n"
    );
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let new = ssh.master_pid().await.expect("a new master");
    assert_ne!(new, old);
    println!(
        "call after a SIGKILLed master (stale socket): {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    ssh.close().await;
}

#[tokio::test]
async fn the_hard_timeout_kills_ssh_and_reports_it() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop").with_timeout(Duration::from_secs(2));
    ssh.run(&["true"]).await.expect("warm up");
    let start = Instant::now();
    let err = ssh.run(&["sleep", "10"]).await.expect_err("too slow");
    let took = start.elapsed();
    assert_eq!(
        err,
        SshError::Timeout {
            host: "loop".into(),
            timeout: Duration::from_secs(2)
        }
    );
    assert!(err.is_unreachable());
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert_eq!(
        err.to_string(),
        "host `loop`: ssh did not finish within 2 s and was killed; the host or the network to \
         it may be stalled"
    );
    // No local ssh client is left running `sleep 10`.
    poll_until("the killed ssh client to go", || {
        !local_ssh_running("sleep 10")
    })
    .await;
    // The connection is still usable.
    assert_eq!(ssh.run(&["echo", "ok"]).await.expect("next call"), "ok\n");
    ssh.close().await;
}

/// True if a live local `ssh` process has `needle` in its command line.
fn local_ssh_running(needle: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..i + 3))
            .is_some_and(|s| s == "Z");
        comm.trim_end() == "ssh" && !zombie && String::from_utf8_lossy(&cmdline).contains(needle)
    })
}

#[tokio::test]
async fn close_leaves_no_ssh_process() {
    let Some(sshd) = Sshd::loopback() else { return };
    let ssh = sshd.ssh_host("loop");
    ssh.run(&["true"]).await.expect("call");
    let master = ssh.master_pid().await.expect("master");
    assert!(!pid_gone(master));
    ssh.close().await;
    assert!(pid_gone(master), "master {master} survived close()");
    assert_eq!(ssh.master_pid().await, None);
    let left = std::fs::read_dir(sshd.control_dir())
        .expect("control dir")
        .count();
    assert_eq!(left, 0, "a control socket is left");
    // Closing twice is harmless, and the host is usable again afterwards.
    ssh.close().await;
    ssh.run(&["true"]).await.expect("call after close");
    ssh.close().await;
}

#[tokio::test]
async fn a_silently_cut_link_is_unreachable_within_bounds_and_recovers() {
    let Some(host) = NetnsHost::new() else { return };
    let ssh = host.ssh_host("ns");
    assert_eq!(
        ssh.run(&["echo", "up"]).await.expect("before the cut"),
        "up\n"
    );
    // A tmux session on the host, to see that it outlives the cut.
    ssh.run(&[
        "tmux",
        "-L",
        "bt",
        "new-session",
        "-d",
        "-s",
        "agent",
        "sleep 600",
    ])
    .await
    .expect("tmux session");
    let master = ssh.master_pid().await.expect("master");
    // A call that is running when the link goes.
    let ssh = Arc::new(ssh);
    let running = {
        let ssh = ssh.clone();
        tokio::spawn(async move { ssh.run(&["sh", "-c", "echo started; sleep 601"]).await })
    };
    // Its `sleep 601` runs on the host once the call has started (the tmux
    // session's is `sleep 600`).
    poll_until("the running call's sleep", || {
        host.pids().iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == b"sleep\x00601\x00")
        })
    })
    .await;

    host.cut_link();
    let start = Instant::now();
    let err = ssh.run(&["true"]).await.expect_err("cut");
    let took = start.elapsed();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(err.to_string().starts_with("host `ns`"), "{err}");
    assert!(pid_gone(master), "the old master should have given up");
    println!(
        "silent drop: a new call failed after {:.1} s: {err}",
        took.as_secs_f64()
    );
    let in_flight = running
        .await
        .expect("task")
        .expect_err("the running call broke");
    let broke_after = start.elapsed();
    assert!(in_flight.is_unreachable(), "{in_flight:?}");
    assert!(broke_after < Duration::from_secs(15), "{broke_after:?}");
    println!(
        "silent drop: the call in flight failed within {:.1} s of the cut: {in_flight}",
        broke_after.as_secs_f64()
    );

    host.restore_link();
    let back = until_answering(&ssh).await;
    println!(
        "silent drop restored: answering again after {:.0} ms",
        back.as_secs_f64() * 1000.0
    );
    let (status, _, stderr) = ssh
        .run_status(&["tmux", "-L", "bt", "has-session", "-t", "=agent"])
        .await
        .expect("has-session");
    assert_eq!(
        status, 0,
        "the tmux session did not survive the cut: {stderr}"
    );
    ssh.close().await;
}

#[tokio::test]
async fn a_downed_link_is_unreachable_within_bounds_and_recovers() {
    let Some(host) = NetnsHost::new() else { return };
    let ssh = host.ssh_host("ns");
    ssh.run(&["true"]).await.expect("before");
    host.link_down();
    let start = Instant::now();
    let err = ssh.run(&["true"]).await.expect_err("link down");
    let took = start.elapsed();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    println!(
        "link down: call failed after {:.1} s: {err}",
        took.as_secs_f64()
    );
    host.link_up();
    until_answering(&ssh).await;
    ssh.close().await;
}

#[tokio::test]
async fn a_crashed_host_fails_fast_and_answers_once_sshd_is_back() {
    let Some(mut host) = NetnsHost::new() else {
        return;
    };
    let ssh = host.ssh_host("ns");
    ssh.run(&[
        "tmux",
        "-L",
        "bt",
        "new-session",
        "-d",
        "-s",
        "agent",
        "sleep 600",
    ])
    .await
    .expect("tmux session");
    assert!(
        host.pids().len() >= 2,
        "sshd and tmux run inside: {:?}",
        host.pids()
    );

    host.kill_all();
    assert!(host.pids().is_empty());
    let start = Instant::now();
    let err = ssh.run(&["true"]).await.expect_err("host down");
    assert!(err.is_unreachable(), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    host.restart_sshd();
    until_answering(&ssh).await;
    // The session died with the host; its server is gone, which has-session
    // tells apart from a missing session by its message.
    let (status, _, stderr) = ssh
        .run_status(&["tmux", "-L", "bt", "has-session", "-t", "=agent"])
        .await
        .expect("has-session");
    assert_eq!(status, 1);
    assert!(
        stderr.contains("no server running") || stderr.contains("error connecting"),
        "{stderr}"
    );
    ssh.close().await;
}
