//! `baton tui` in a real terminal: a private tmux server runs it in a pane
//! (`new-session`, `send-keys`, `capture-pane`), against a real daemon with
//! stand-in agents as its sessions.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{baton, stand_in};

const CONFIG: &str = "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\nmax_restarts = 0\n[probe]\nstall_after = \"300ms\"\n";

/// How long the screen may take to show something.
const SHOWS: Duration = Duration::from_secs(20);

/// A daemon on a temp socket; shut down when dropped.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let config = dir.path().join("baton.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let child = Command::new(baton())
            .arg("daemon")
            .arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let daemon = Daemon { child, dir, socket };
        wait_for("the daemon", || daemon.baton(&["ps"]).status.success());
        daemon
    }

    fn baton(&self, args: &[&str]) -> Output {
        // The socket before anything else: `spawn … -- ARGV` ends the flags.
        Command::new(baton())
            .arg(args[0])
            .arg("--socket")
            .arg(&self.socket)
            .args(&args[1..])
            .output()
            .unwrap()
    }

    fn spawn(&self, id: &str, backend: &str, steps: &[&str]) {
        let mut args = vec!["spawn", "--id", id, "--backend", backend, "--"];
        let stand_in = stand_in();
        args.push(&stand_in);
        args.extend(steps);
        let out = self.baton(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn state(&self, id: &str) -> String {
        let out = self.baton(&["ps", "--json"]);
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
        rows.iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["state"].as_str())
            .unwrap_or("")
            .to_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.baton(&["shutdown", "--force"]);
        let _ = self.child.wait();
    }
}

/// A private tmux server with one pane running `baton tui`; killed when dropped.
struct Pane {
    server: String,
}

impl Pane {
    fn start(daemon: &Daemon) -> Pane {
        let server = format!("baton-tui-test-{}", std::process::id());
        let _ = tmux(&server, &["kill-server"]);
        // The shell reports how the TUI ended, then keeps the pane open.
        let command = format!(
            "{} tui --socket {}; echo EXITED $?; sleep 600",
            baton().display(),
            daemon.socket.display()
        );
        let out = tmux(
            &server,
            &["new-session", "-d", "-x", "150", "-y", "36", &command],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pane { server }
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&tmux(&self.server, &["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits until the screen holds every one of `texts`.
    fn shows(&self, texts: &[&str]) -> String {
        self.shows_without(texts, &[])
    }

    /// Waits until the screen holds every one of `texts` and none of `gone`.
    fn shows_without(&self, texts: &[&str], gone: &[&str]) -> String {
        let deadline = Instant::now() + SHOWS;
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) && !gone.iter().any(|t| screen.contains(t))
            {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {texts:?} without {gone:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen holds every one of `texts`, and for each
    /// `(start, text)` of `rows` a line that starts with `start` and holds
    /// `text` (a row drawn whole, not caught half way).
    fn shows_rows(&self, texts: &[&str], rows: &[(&str, &str)]) -> String {
        let deadline = Instant::now() + SHOWS;
        loop {
            let screen = self.screen();
            let row_there = |(start, text): &(&str, &str)| {
                screen
                    .lines()
                    .any(|l| l.starts_with(start) && l.contains(text))
            };
            if texts.iter().all(|t| screen.contains(t)) && rows.iter().all(row_there) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {texts:?} and rows {rows:?}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The screen line that holds `text`.
    fn line_with(&self, text: &str) -> String {
        self.screen()
            .lines()
            .find(|l| l.contains(text))
            .unwrap_or("")
            .to_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        // Keys reach the TUI in order; what they do is waited for by `shows`.
        assert!(tmux(&self.server, &args).status.success());
    }

    fn text(&self, text: &str) {
        assert!(
            tmux(&self.server, &["send-keys", "-l", text])
                .status
                .success()
        );
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = tmux(&self.server, &["kill-server"]);
    }
}

fn tmux(server: &str, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-L")
        .arg(server)
        .args(args)
        .env_remove("TMUX")
        .output()
        .unwrap()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + SHOWS;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_dashboard_shows_answers_kills_attaches_and_quits() {
    let daemon = Daemon::start();
    daemon.spawn(
        "asker",
        "pipes",
        &[
            "print:planning",
            "ask:Proceed with the plan? [y/N] ",
            "print:done",
        ],
    );
    daemon.spawn("busy", "pipes", &["lines:100000:100ms"]);
    daemon.spawn("crasher", "pipes", &["print:oops", "exit:3"]);
    daemon.spawn("tm", "tmux", &["print:inside-tmux", "stall"]);
    wait_for("asker to ask", || daemon.state("asker") == "input_wait");
    wait_for("crasher to die", || daemon.state("crasher") == "dead");
    let pane = Pane::start(&daemon);

    // What needs a person first: the question, then the dead session.
    let screen = pane.shows_rows(
        &["4 sessions", "asks: Proceed with the plan? [y/N]"],
        &[("asker", "input_wait"), ("crasher", "dead")],
    );
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| {
            ["asker", "busy", "crasher", "tm "]
                .iter()
                .any(|id| l.starts_with(id))
        })
        .collect();
    assert!(
        rows[0].starts_with("asker") && rows[0].contains("input_wait"),
        "{screen}"
    );
    assert!(
        rows[1].starts_with("crasher") && rows[1].contains("dead"),
        "{screen}"
    );
    assert!(
        screen.contains("1 input_wait") && screen.contains("1 dead"),
        "{screen}"
    );

    // `s` on a session that is not asking is refused with a message.
    pane.keys(&["j"]);
    pane.keys(&["s"]);
    pane.shows(&["not input_wait"]);

    // The filter narrows the list; Esc clears it.
    pane.keys(&["/"]);
    pane.text("bus");
    pane.keys(&["Enter"]);
    let screen = pane.shows(&["filter: bus (1 shown)"]);
    assert!(!screen.contains("crasher"), "{screen}");
    pane.keys(&["Escape"]);
    pane.shows(&["crasher", "asker"]);

    // The detail pane follows the selected session's output.
    pane.keys(&["g"]);
    pane.keys(&["Enter"]);
    pane.shows(&[
        "asker · input_wait",
        "planning",
        "evidence: Proceed with the plan?",
    ]);
    pane.keys(&["Enter"]);

    // `s` answers the waiting session, which then completes.
    pane.keys(&["s"]);
    pane.shows(&["answer asker:"]);
    pane.text("yes please");
    pane.keys(&["Enter"]);
    pane.shows(&["answered asker"]);
    wait_for("asker to complete", || daemon.state("asker") == "completed");
    pane.shows(&["completed"]);
    let log = std::fs::read_to_string(daemon.dir.path().join(".baton/logs/asker.out.log")).unwrap();
    assert!(log.contains("answer: yes please"), "{log}");
    let events =
        std::fs::read_to_string(daemon.dir.path().join(".baton/logs/events.jsonl")).unwrap();
    assert!(
        events.contains(r#""source":"tui""#),
        "the answer is recorded as the TUI's"
    );
    assert!(!events.contains("yes please"));

    // `a` attaches to the tmux session; detaching comes back to the list.
    pane.keys(&["G"]);
    assert!(pane.line_with("tm ").contains("tmux"));
    pane.keys(&["a"]);
    // The pane's own screen, not the dashboard's row that quotes it.
    pane.shows_without(&["inside-tmux"], &["sessions"]);
    pane.keys(&["C-b", "d"]);
    pane.shows(&["detached from tm", "4 sessions"]);

    // `K` asks, `y` kills; the row turns dead (user_kill).
    pane.keys(&["K"]);
    pane.shows(&["kill tm?"]);
    pane.keys(&["y"]);
    pane.shows(&["killed tm: its processes are gone"]);
    wait_for("tm to be dead", || daemon.state("tm") == "dead");
    pane.shows(&["user_kill"]);

    // `q` restores the terminal: the shell's line is on a normal screen.
    pane.keys(&["q"]);
    let screen = pane.shows(&["EXITED 0"]);
    assert!(
        !screen.contains("4 sessions"),
        "the dashboard is still drawn:\n{screen}"
    );
}

#[test]
fn without_a_daemon_it_says_how_to_start_one_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("none.sock");
    let out = Command::new(baton())
        .arg("tui")
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no baton daemon listening") && stderr.contains("baton daemon"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "the terminal was touched");
}
