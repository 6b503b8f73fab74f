//! `baton run` end to end: the real binary, real manifests, real agents.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::pid_is_gone;

fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

fn stand_in() -> PathBuf {
    let path = baton().with_file_name("stand-in-agent");
    assert!(
        path.exists(),
        "{} missing: build the workspace first",
        path.display()
    );
    path
}

/// Writes a manifest whose sessions run the stand-in agent with the given steps.
fn manifest(dir: &Path, extra: &str, sessions: &[(&str, &[&str])]) -> PathBuf {
    let mut text = format!(
        "[conductor]\nbackoff = \"50ms\"\ngrace = \"1s\"\n{extra}\n[probe]\nstall_after = \"300ms\"\n"
    );
    for (id, steps) in sessions {
        let mut argv = vec![format!("{:?}", stand_in().display().to_string())];
        argv.extend(steps.iter().map(|s| format!("{s:?}")));
        text.push_str(&format!(
            "\n[[session]]\nid = \"{id}\"\ncommand = [{}]\n",
            argv.join(", ")
        ));
    }
    let path = dir.join("baton.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str], cwd: &Path) -> Output {
    let mut child = Command::new(baton())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn all_completed_exits_zero_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "",
        &[
            ("a", &["print:hello", "exit:0"]),
            ("b", &["fail-before-attempt:2", "print:ok"]),
        ],
    );
    let out = run(&["run", m.to_str().unwrap()], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // Not a terminal: plain lines on stdout, the summary on stderr.
    assert!(
        stdout.contains("a ") && stdout.contains("healthy -> completed (exit_0)"),
        "{stdout}"
    );
    assert!(stdout.contains("failed -> restarting (crash)"), "{stdout}");
    assert!(stderr.contains("2 of 2 session(s) completed"), "{stderr}");
    // Default logs dir: .baton/logs beside the manifest.
    let logs = dir.path().join(".baton/logs");
    assert_eq!(std::fs::read(logs.join("a.out.log")).unwrap(), b"hello\n");
    assert!(logs.join("events.jsonl").exists());
}

#[test]
fn a_dead_session_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "max_restarts = 1",
        &[("good", &["exit:0"]), ("bad", &["print:boom", "exit:4"])],
    );
    let out = run(&["run", m.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 of 2 session(s) completed"), "{stderr}");
    assert!(stderr.contains("gave up after 1 restarts"), "{stderr}");
}

#[test]
fn json_mode_prints_exactly_the_event_log_lines() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), "", &[("j", &[r#"payload:{"ok":true}"#])]);
    let logs = dir.path().join("custom-logs");
    let out = run(
        &[
            "run",
            m.to_str().unwrap(),
            "--json",
            "--logs-dir",
            logs.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect();
    assert!(
        lines
            .iter()
            .any(|v| v["event"] == "completed" && v["payload"]["ok"] == true)
    );
    // --logs-dir wins over the default; the file holds the same lines after its header.
    let file = std::fs::read_to_string(logs.join("events.jsonl")).unwrap();
    let body: Vec<&str> = file.lines().skip(1).collect();
    assert_eq!(body, stdout.lines().collect::<Vec<_>>());
}

#[test]
fn manifest_mistakes_exit_two_name_the_line_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[probe]\nstal_after = \"1s\"\n", "stal_after", 2),
        (
            "[[session]]\nid = \"x\"\ncommand = [\"true\"]\nstall_after = 30\n",
            "stall_after",
            4,
        ),
        (
            "[[session]]\nid = \"bad id!\"\ncommand = [\"true\"]\n",
            "id",
            2,
        ),
        ("[[session]]\nagent = \"codex\"\n", "prompt", 2),
        (
            "[conductor]\nfsync = \"sometimes\"\n[[session]]\ncommand = [\"true\"]\n",
            "fsync",
            2,
        ),
        ("[[session]]\ncommand = [\"true\"\n", "", 2),
    ];
    for (text, needle, line) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = run(&["run", path.to_str().unwrap()], dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}\n{stderr}");
        assert!(stderr.contains(needle), "{text}: {stderr}");
        assert!(
            stderr.contains(&format!("bad.toml:{line}:")),
            "{text}: line {line} expected in {stderr}"
        );
        assert!(
            !dir.path().join(".baton").exists(),
            "nothing may start on a bad manifest"
        );
    }
    let out = run(&["run", "missing.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
    let out = run(&["run", "--no-such-flag"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigint_shuts_everything_down_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("gc.pid");
    let leak = format!("leak-file:{}:60s", pidfile.display());
    let m = manifest(
        dir.path(),
        "",
        &[
            ("long", &[leak.as_str(), "print:working", "stall"]),
            ("stubborn", &["ignore-term", "print:x", "stall"]),
        ],
    );
    let mut child = Command::new(baton())
        .args(["run", m.to_str().unwrap(), "--json"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until both sessions are healthy, reading the JSON event stream.
    use std::io::BufRead;
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut healthy = 0;
    let mut collected = Vec::new();
    while healthy < 2 {
        let line = lines.next().expect("event stream ended early").unwrap();
        if line.contains(r#""to":"healthy""#) {
            healthy += 1;
        }
        collected.push(line);
    }
    let grandchild: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    collected.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let text = collected.join("\n");
    assert!(text.contains(r#""event":"shutdown""#), "{text}");
    assert_eq!(
        text.matches(r#""to":"dead","reason":"shutdown""#).count(),
        2,
        "{text}"
    );
    // SAFETY: existence check only.
    let alive = unsafe { libc::kill(grandchild, 0) } == 0
        && !std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .unwrap_or_default()
            .contains(") Z");
    assert!(!alive, "grandchild {grandchild} outlived baton run");
}

/// Parses the `spawn` records of an event log into (session, pid).
fn spawned_pids(events: &Path) -> Vec<(String, i32)> {
    let bytes = std::fs::read(events).unwrap_or_default();
    let log = baton_core::eventlog::parse_log(&bytes, events).expect("log parses");
    log.records
        .into_iter()
        .filter_map(|r| match r.event {
            baton_core::eventlog::Event::Spawn { pid, .. } => {
                Some((r.session.unwrap(), pid as i32))
            }
            _ => None,
        })
        .collect()
}

fn gone(pid: i32) -> bool {
    // SAFETY: existence check only.
    let missing = unsafe { libc::kill(pid, 0) } != 0;
    missing
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"))
}

#[test]
fn sigkill_of_baton_mid_flood_loses_nothing_written_and_leaves_no_agent() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "fsync = \"batch\"",
        &[
            ("flood", &["flood:4G"]),
            ("quiet", &["print:x", "stall"]),
            ("stubborn", &["ignore-term", "print:y", "stall"]),
        ],
    );
    let mut child = Command::new(baton())
        .args(["run", m.to_str().unwrap(), "--json"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut healthy = 0;
    while healthy < 3 {
        let line = lines.next().expect("events").unwrap();
        healthy += usize::from(line.contains(r#""to":"healthy""#));
    }
    let logs = dir.path().join(".baton/logs");
    // Let the flood run a little: wait until a few MiB are on disk.
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(logs.join("flood.out.log")).map_or(0, |m| m.len()) < 8 << 20 {
        assert!(Instant::now() < deadline, "flood did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL: no shutdown path runs
    child.wait().unwrap();
    drop(lines);

    let pids = spawned_pids(&logs.join("events.jsonl"));
    assert_eq!(pids.len(), 3, "{pids:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    for (session, pid) in &pids {
        if session == "stubborn" {
            // It ignores SIGTERM, so the parent-death SIGTERM cannot end it;
            // that is the next conductor's job (recovery). Clean up here.
            // SAFETY: killing the process this test started.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
            continue;
        }
        while !gone(*pid) {
            assert!(
                Instant::now() < deadline,
                "{session} (pid {pid}) outlived a SIGKILLed baton"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // Every byte on disk is a byte the agent wrote, in order.
    let out = std::fs::read(logs.join("flood.out.log")).unwrap();
    assert!(out.len() >= 8 << 20);
    let mut offset = 0;
    for chunk in stand_in_agent::flood_bytes(out.len() as u64) {
        assert!(
            out[offset..offset + chunk.len()] == *chunk,
            "output differs at byte {offset}"
        );
        offset += chunk.len();
    }
    // The event log is readable and dense; a new conductor continues it.
    let events = logs.join("events.jsonl");
    let log = baton_core::eventlog::parse_log(&std::fs::read(&events).unwrap(), &events).unwrap();
    assert!(log.skipped_lines.is_empty());
    let last = log.records.last().unwrap().seq;
    let m2 = manifest(dir.path(), "", &[("after", &["exit:0"])]);
    let out = run(&["run", m2.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let first_new: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first_new["seq"], last + 1);
}

#[test]
fn on_a_terminal_the_live_view_redraws_a_table_and_ends_with_a_summary() {
    if Command::new("script").arg("--version").output().is_err() {
        panic!("`script` (util-linux) is needed to give baton a terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "",
        &[("tty1", &["print:step one", "sleep:700ms", "print:step two"])],
    );
    let cmd = format!("{} run {}", baton().display(), m.display());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("\x1b[1A\x1b[2K"),
        "expected in-place redraws: {text:?}"
    );
    assert!(text.contains("LAST OUTPUT"), "{text}");
    assert!(text.contains("1 of 1 session(s) completed"), "{text}");
    assert!(text.contains("step two"), "{text}");
}

#[test]
fn baton_accounts_shows_cooldowns_left_by_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let text = format!(
        r#"
[conductor]
backoff = "50ms"
max_restarts = 0

[agents.codex]
bin = {bin:?}

[accounts]
state_dir = {state:?}

[[accounts.codex]]
id = "main"
mode = "env"
env = {{ WHO = "main" }}
tier = "pro"

[[accounts.codex]]
id = "spare"
mode = "env"
env = {{ WHO = "spare" }}

[[session]]
id = "limited"
agent = "codex"
prompt = "rate-limit:Error: 429 Too Many Requests, try again in 2h"
"#,
        bin = stand_in().display().to_string(),
        state = state.display().to_string(),
    );
    let m = dir.path().join("baton.toml");
    std::fs::write(&m, text).unwrap();
    let out = run(&["run", m.to_str().unwrap()], dir.path());
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = run(&["accounts", m.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let accounts = status["accounts"].as_array().unwrap();
    let main = accounts.iter().find(|a| a["id"] == "main").unwrap();
    let spare = accounts.iter().find(|a| a["id"] == "spare").unwrap();
    assert!(!main["cooldown_until"].is_null(), "{main}");
    assert!(spare["cooldown_until"].is_null(), "{spare}");
    assert_eq!(main["total_rate_limits"], 1);

    let out = run(&["accounts", m.to_str().unwrap()], dir.path());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("main") && (table.contains("2h 0m") || table.contains("1h 59m")),
        "{table}"
    );
    assert!(table.contains("next free codex account: now"), "{table}");
}

#[test]
fn classify_judges_a_tail_like_the_conductor() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let judge = |input: &[u8], extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["classify"];
        args.extend_from_slice(extra);
        let mut child = Command::new(baton())
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = judge(
        b"Building...\n\x1b[1mDo you want to proceed? (y/n)\x1b[0m ",
        &[],
    );
    assert_eq!(v["waiting"], true);
    assert_eq!(v["rule"], "yes_no");
    assert_eq!(v["line"], "Do you want to proceed? (y/n)");
    let v = judge(
        b"Ready to proceed with the refactor.\nI wonder if we should? Anyway, done.\n",
        &[],
    );
    assert_eq!(
        v,
        serde_json::json!({"waiting": false, "rule": null, "line": null})
    );

    // An agent's own rules, from a manifest.
    let manifest = dir.path().join("baton.toml");
    std::fs::write(
        &manifest,
        "[[agents.claude.input_wait]]\nname = \"ready\"\npattern = '^READY>$'\n\n[[session]]\nagent = \"claude\"\nprompt = \"p\"\n",
    )
    .unwrap();
    let v = judge(
        b"READY>",
        &[
            "--agent",
            "claude",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    assert_eq!(v["rule"], "ready");
    let v = judge(b"READY>", &[]);
    assert_eq!(v["waiting"], false);

    // On a terminal the question is the one showing: the redraw that
    // replaced the menu wins with --terminal; the byte stream still has it.
    let redrawn = b"Pick one:\n\xe2\x9d\xaf 1. Yes\n  2. No\n\x1b[3A\x1b[2KAll done\r\x1b[1B\x1b[2Kfinished ok\r\x1b[1B\x1b[2Kbye\r\x1b[1B";
    assert_eq!(judge(redrawn, &["--terminal"])["waiting"], false);
    let drawn = b"\x1b[2J\x1b[1;1HWorking\x1b[5;1HAllow running `cargo test`? (y/n)\x1b[5;35H";
    let v = judge(drawn, &["--terminal"]);
    assert_eq!(v["line"], "Allow running `cargo test`? (y/n)", "{v}");

    // With the terminal's state: words no rule knows, under a program
    // reading the keyboard; a secret read without echo.
    let asked = b"echo a b c?...";
    assert_eq!(judge(asked, &["--terminal"])["waiting"], false);
    let reading = [
        "--terminal",
        "--tty",
        "canonical=yes echo=yes reads=terminal",
    ];
    let v = judge(asked, &reading);
    assert_eq!(
        (&v["rule"], &v["confident"]),
        (&"reads_terminal".into(), &true.into()),
        "{v}"
    );
    let v = judge(b"Vault token ", &["--terminal", "--tty", "echo=no"]);
    assert_eq!(v["rule"], "no_echo", "{v}");

    let out = run(&["classify", "--agent", "vim"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = run(
        &["classify", "--terminal", "--tty", "reads=maybe"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tty \"reads=maybe\""));
}

#[test]
fn replay_rebuilds_the_table_a_run_ended_with() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "max_restarts = 1",
        &[
            ("ok", &[r#"payload:{"n":7}"#]),
            ("bad", &["print:x", "exit:3"]),
        ],
    );
    let out = run(&["run", m.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let events = dir.path().join(".baton/logs/events.jsonl");
    // A crash mid-write leaves half a line; replay still works.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .unwrap();
    std::io::Write::write_all(&mut f, br#"{"seq":999,"ts":"x","session":"ok","ev"#).unwrap();
    drop(f);
    let out = run(&["replay", events.to_str().unwrap(), "--json"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("incomplete"));
    let table: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = table.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let bad = rows.iter().find(|r| r["id"] == "bad").unwrap();
    assert_eq!(
        (
            bad["state"].as_str(),
            bad["restarts"].as_u64(),
            bad["attempts"].as_u64()
        ),
        (Some("dead"), Some(1), Some(2))
    );
    assert_eq!(bad["agent"], "command");
    assert_eq!(bad["exit_code"], 3);
    let ok = rows.iter().find(|r| r["id"] == "ok").unwrap();
    assert_eq!(ok["state"], "completed");
    assert_eq!(ok["payload"]["n"], 7);

    let out = run(&["replay", events.to_str().unwrap()], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gave up after 1 restarts") && text.contains("payload {\"n\":7}"),
        "{text}"
    );
    let out = run(&["replay", "no-such.jsonl"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

fn tmux(server: &str, args: &[&str]) -> std::process::Output {
    Command::new("tmux")
        .arg("-L")
        .arg(server)
        .args(args)
        .env_remove("TMUX")
        .output()
        .unwrap()
}

/// Kills a tmux server (and removes its socket) when the test ends, pass or fail.
struct TmuxServerGuard(String);

impl Drop for TmuxServerGuard {
    fn drop(&mut self) {
        let _ = tmux(&self.0, &["kill-server"]);
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        let _ = std::fs::remove_file(format!("/tmp/tmux-{uid}/{}", self.0));
    }
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn attach_gives_a_terminal_to_a_tmux_session_and_detaching_leaves_it_running() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        eprintln!("skipping: tmux not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[probe]\nstall_after = \"300ms\"\n\n[[session]]\nid = \"att\"\nbackend = \"tmux\"\ncommand = [{:?}, \"require-tty\", \"ask:Do you want to continue? (y/n) \", \"print:answered\", \"stall\"]\n",
        stand_in().display().to_string()
    );
    let m = dir.path().join("baton.toml");
    std::fs::write(&m, text).unwrap();
    let mut conductor = Command::new(baton())
        .args(["run", m.to_str().unwrap(), "--json"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut events = std::io::BufReader::new(conductor.stdout.take().unwrap()).lines();
    let mut inner = None;
    loop {
        let line = events.next().expect("event stream").unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        if v["event"] == "spawn" {
            inner = v["tmux"]["server"].as_str().map(str::to_owned);
        }
        if v["event"] == "input_wait" {
            break;
        }
    }
    let inner = inner.expect("spawn record names the tmux server");
    let _inner_guard = TmuxServerGuard(inner.clone());
    let outer = format!("btouter{}", std::process::id());
    let _outer_guard = TmuxServerGuard(outer.clone());

    // A terminal for `baton attach`: a pane of another tmux server.
    let logs = dir.path().join(".baton/logs");
    let attach = format!(
        "{} attach att --logs-dir {}",
        baton().display(),
        logs.display()
    );
    let out = tmux(
        &outer,
        &[
            "new-session",
            "-d",
            "-s",
            "o",
            "-x",
            "120",
            "-y",
            "30",
            &attach,
            ";",
            "set-option",
            "-w",
            "-t",
            "=o:",
            "remain-on-exit",
            "on",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("the attach client", || {
        !String::from_utf8_lossy(&tmux(&inner, &["list-clients"]).stdout)
            .trim()
            .is_empty()
    });

    // Keys typed into the attached terminal reach the agent.
    assert!(
        tmux(&outer, &["send-keys", "-t", "=o:", "y", "Enter"])
            .status
            .success()
    );
    loop {
        let line = events.next().expect("event stream").unwrap();
        if line.contains(r#""from":"input_wait","to":"healthy""#) {
            break;
        }
    }
    wait_until("the answer in the log", || {
        std::fs::read_to_string(logs.join("att.out.log"))
            .is_ok_and(|log| log.contains("answer: y\r\nanswered\r\n"))
    });

    // Detaching ends the client, not the session.
    assert!(
        tmux(&outer, &["send-keys", "-t", "=o:", "C-b", "d"])
            .status
            .success()
    );
    wait_until("the attach client to exit", || {
        String::from_utf8_lossy(
            &tmux(
                &outer,
                &["display-message", "-p", "-t", "=o:", "#{pane_dead}"],
            )
            .stdout,
        )
        .trim()
            == "1"
    });
    assert!(
        tmux(&inner, &["has-session", "-t", "=baton-att"])
            .status
            .success(),
        "detach must leave the session running"
    );
    assert!(
        conductor.try_wait().unwrap().is_none(),
        "baton run must still be supervising"
    );

    // Attaching to an unknown or non-tmux session is refused clearly.
    let out = run(
        &["attach", "nope", "--logs-dir", logs.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session `nope`"));

    // SAFETY: signalling our own child.
    unsafe { libc::kill(conductor.id() as i32, libc::SIGINT) };
    assert_eq!(conductor.wait().unwrap().code(), Some(130));
    assert!(
        !tmux(&inner, &["has-session", "-t", "=baton-att"])
            .status
            .success(),
        "shutdown ends the tmux session"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell], dir.path());
        assert!(out.status.success(), "{shell}: {:?}", out.status);
        let script = String::from_utf8_lossy(&out.stdout);
        for verb in ["spawn", "tui", "mcp", "if-waiting"] {
            assert!(script.contains(verb), "{shell} completion lacks {verb}");
        }
    }
    let out = run(&["completions", "tcsh"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcsh"));

    let out = run(&["man"], dir.path());
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH baton 1"),
        "{page}"
    );
    for verb in ["daemon", "mcp", "tui", "completions"] {
        assert!(page.contains(verb), "the man page lacks {verb}");
    }
}

#[test]
fn baton_run_runs_notify_hooks_and_waits_for_the_last_ones() {
    let dir = tempfile::tempdir().unwrap();
    let hooks = dir.path().join("hooks.jsonl");
    let extra = format!(
        "[[notify]]\non = [\"completed\", \"dead\"]\ncommand = [\"sh\", \"-c\", \"sleep 0.3; cat >> {}\"]\n",
        hooks.display()
    );
    let path = manifest(
        dir.path(),
        &extra,
        &[("ok", &["print:hi"]), ("bad", &["exit:3"])],
    );
    let out = run(
        &[
            "run",
            path.to_str().unwrap(),
            "--json",
            "--logs-dir",
            "logs",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both hooks finished before baton run did.
    let text = std::fs::read_to_string(&hooks).unwrap_or_default();
    let mut ends: Vec<(String, String)> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            (
                r["session"].as_str().unwrap().to_owned(),
                r["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    ends.sort();
    assert_eq!(
        ends,
        [
            ("bad".to_owned(), "dead".to_owned()),
            ("ok".to_owned(), "completed".to_owned())
        ]
    );
}

#[test]
fn what_an_agent_detached_from_its_group_ends_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let piped = dir.path().join("piped.pid");
    let tty = dir.path().join("tty.pid");
    let escape = |path: &Path| format!("escape-file:{}:60s", path.display());
    let (piped_step, tty_step) = (escape(&piped), escape(&tty));
    let path = manifest(
        dir.path(),
        "",
        &[
            ("piped", &[piped_step.as_str(), "print:done"]),
            ("tty", &[tty_step.as_str(), "print:done"]),
        ],
    );
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "id = \"tty\"",
        "id = \"tty\"\nbackend = \"pty\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let out = run(
        &[
            "run",
            path.to_str().unwrap(),
            "--json",
            "--logs-dir",
            "logs",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [&piped, &tty] {
        let pid: u64 = std::fs::read_to_string(file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(pid_is_gone(pid), "{} outlived its session", file.display());
    }
}

/// A `[[notify]]` hook narrowed to `kinds` runs when a session's hooks say
/// it waits for one of them — also when what it waits for changes while it
/// waits — with that `input_wait` record on stdin and `BATON_WAIT_KIND`; a
/// hook on `input_wait` without `kinds` runs once, at the state entry.
#[test]
fn notify_hooks_can_wait_for_a_kind_of_input_wait() {
    let dir = tempfile::tempdir().unwrap();
    let (idle, any) = (dir.path().join("idle.txt"), dir.path().join("any.txt"));
    let script = [
        "print:claude (stand-in) ready",
        r#"hook:PermissionRequest:{"tool_name":"Edit","tool_input":{"file_path":"/repo/src/lib.rs"}}"#,
        "sleep:500ms",
        r#"hook:Stop:{"last_assistant_message":"Done: the fix is in."}"#,
        "sleep:500ms",
    ]
    .join("\n");
    let text = format!(
        r#"[conductor]
backoff = "50ms"
grace = "1s"
[agents.claude]
bin = {stand_in:?}
[[notify]]
on = ["input_wait"]
kinds = ["idle"]
command = ["sh", "-c", "printf '%s ' \"$BATON_WAIT_KIND\" >> {idle}; cat >> {idle}; echo >> {idle}"]
[[notify]]
on = ["input_wait"]
command = ["sh", "-c", "cat >> {any}; echo >> {any}"]
[[session]]
id = "lead"
agent = "claude"
backend = "pty"
prompt = "fix it"
env = {{ STAND_IN_SCRIPT = {script:?} }}
"#,
        stand_in = stand_in().display().to_string(),
        idle = idle.display(),
        any = any.display(),
    );
    let path = dir.path().join("baton.toml");
    std::fs::write(&path, text).unwrap();
    let out = run(
        &["run", path.to_str().unwrap(), "--logs-dir", "logs"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let idle = lines(&idle);
    assert_eq!(idle.len(), 1, "{idle:?}");
    let (kind, record) = idle[0].split_once(' ').unwrap();
    assert_eq!(kind, "idle");
    let record: serde_json::Value = serde_json::from_str(record).unwrap();
    assert_eq!(record["event"], "input_wait");
    assert_eq!(record["kind"], "idle");
    assert_eq!(record["line"], "Done: the fix is in.");
    let any = lines(&any);
    assert_eq!(any.len(), 1, "{any:?}");
    let record: serde_json::Value = serde_json::from_str(&any[0]).unwrap();
    assert_eq!(record["event"], "state");
    assert_eq!(record["reason"], "input_wait:permission");
    assert_eq!(record["evidence"], "Edit: /repo/src/lib.rs");
}

/// A `baton-shim` from another build may not know the flags baton passes it
/// (a stale one once ran every tmux session without recording a byte of its
/// output): baton refuses it, says why, and starts nothing.
#[test]
fn a_shim_from_another_build_is_refused_and_says_why() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let shims = [
        // Another build of this version.
        (
            "other",
            "#!/bin/sh\necho 'baton-shim 0.1.0 build 0000000000000000'\n",
            "it reports `baton-shim 0.1.0 build 0000000000000000`",
        ),
        // A shim older than `--version`: it refuses the flag.
        (
            "old",
            "#!/bin/sh\necho 'baton-shim: unexpected argument \"--version\"' >&2\nexit 125\n",
            "it is older than this baton",
        ),
    ];
    for (name, script, reason) in shims {
        let shim = dir.path().join(format!("shim-{name}"));
        std::fs::write(&shim, script).unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let work = dir.path().join(name);
        std::fs::create_dir(&work).unwrap();
        let m = manifest(&work, "", &[("t", &["print:hello", "exit:0"])]);
        let text = std::fs::read_to_string(&m).unwrap();
        std::fs::write(
            &m,
            text.replace("id = \"t\"\n", "id = \"t\"\nbackend = \"tmux\"\n"),
        )
        .unwrap();
        let out = Command::new(baton())
            .args(["run", m.to_str().unwrap()])
            .current_dir(&work)
            .env("BATON_SHIM", &shim)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains("is not this baton's shim") && said.contains(reason),
            "{name}: {said}"
        );
        let events = common::events_text(&work.join(".baton/logs"));
        assert!(!events.contains("\"event\":\"spawn\""), "{name}: {events}");
    }
}
