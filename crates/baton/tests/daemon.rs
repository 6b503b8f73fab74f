//! `baton daemon` and its client verbs end to end: the real binary as the
//! daemon (a child process on a temp socket and logs dir), the real binary
//! as every client, stand-in agents as sessions, and raw socket clients for
//! what a well-behaved client never sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton_proto::response::ErrorKind;
use baton_proto::{Hello, HelloReply, Response, read_frame, write_frame};
use serde_json::Value;

mod common;
use common::{baton, git, git_repo, pid_is_gone, sha, stand_in};

/// Limit for one client command.
const CLIENT: Duration = Duration::from_secs(30);
/// Limit for a daemon to come up or go away, or a session to get somewhere.
const SLOW: Duration = Duration::from_secs(30);

/// Polls `check` every 20 ms until it returns `Some`, or panics after `limit`.
fn wait_until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, sig) };
}

/// A child whose output is collected on a thread; killed if dropped early.
struct Running {
    pid: u32,
    what: String,
    rx: mpsc::Receiver<std::io::Result<Output>>,
    finished: bool,
}

impl Running {
    fn start(mut cmd: Command) -> Running {
        let what = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        Running {
            pid,
            what,
            rx,
            finished: false,
        }
    }

    fn output(mut self, limit: Duration) -> Output {
        match self.rx.recv_timeout(limit) {
            Ok(out) => {
                self.finished = true;
                out.unwrap()
            }
            Err(_) => panic!("{} did not finish within {limit:?}", self.what),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            signal(self.pid, libc::SIGKILL);
        }
    }
}

/// A child whose stdout is read only when the test says so: to prove a
/// stream is live (its first bytes arrived) or to play a reader that
/// stopped reading. Killed if dropped before it exits.
struct Piped {
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Option<ChildStderr>,
}

impl Piped {
    fn start(mut cmd: Command) -> Piped {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().map(BufReader::new);
        let stderr = child.stderr.take();
        Piped {
            child,
            stdout,
            stderr,
        }
    }

    /// Runs `read` on stdout on a helper thread, within `limit`.
    fn with_stdout<T: Send + 'static>(
        &mut self,
        limit: Duration,
        read: impl FnOnce(&mut BufReader<ChildStdout>) -> T + Send + 'static,
    ) -> T {
        let mut stdout = self.stdout.take().expect("stdout already consumed");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let value = read(&mut stdout);
            let _ = tx.send((value, stdout));
        });
        let (value, stdout) = rx
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("no output within {limit:?}"));
        self.stdout = Some(stdout);
        value
    }

    fn read_exact(&mut self, n: usize) -> Vec<u8> {
        self.with_stdout(CLIENT, move |stdout| {
            let mut buf = vec![0; n];
            stdout
                .read_exact(&mut buf)
                .map(|()| buf)
                .unwrap_or_default()
        })
    }

    fn read_line(&mut self) -> String {
        self.with_stdout(CLIENT, |stdout| {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            line
        })
    }

    /// The rest of stdout, all of stderr, and the exit status.
    fn finish(mut self, limit: Duration) -> (ExitStatus, Vec<u8>, String) {
        let stderr = self.stderr.take();
        let err_thread = std::thread::spawn(move || {
            let mut err = Vec::new();
            if let Some(mut stderr) = stderr {
                let _ = stderr.read_to_end(&mut err);
            }
            err
        });
        let rest = self.with_stdout(limit, |stdout| {
            let mut rest = Vec::new();
            let _ = stdout.read_to_end(&mut rest);
            rest
        });
        let status = wait_until("the client to exit", limit, || {
            self.child.try_wait().unwrap()
        });
        let err = err_thread.join().unwrap_or_default();
        (status, rest, text(&err))
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

const CONFIG: &str =
    "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\n[probe]\nstall_after = \"300ms\"\n";

/// A `baton daemon` child on a private temp dir; stopped (SIGTERM, then
/// SIGKILL) when dropped, so no test leaves a daemon or a session behind.
struct Daemon {
    child: Option<Child>,
    dir: tempfile::TempDir,
    socket: PathBuf,
    logs: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    /// A daemon with the test config, ready to serve.
    fn start() -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let logs = dir.path().join("logs");
        let mut daemon = Daemon::spawn(dir, socket, logs, &[]);
        daemon.wait_ready();
        daemon
    }

    /// Starts `baton daemon --socket SOCKET --logs-dir LOGS --config <test config> EXTRA…`.
    fn spawn(dir: tempfile::TempDir, socket: PathBuf, logs: PathBuf, extra: &[&str]) -> Daemon {
        Daemon::spawn_with_config(dir, socket, logs, CONFIG, extra)
    }

    /// [`Daemon::spawn`] with `config` as the --config file's text.
    fn spawn_with_config(
        dir: tempfile::TempDir,
        socket: PathBuf,
        logs: PathBuf,
        config_text: &str,
        extra: &[&str],
    ) -> Daemon {
        Daemon::launch(dir, socket, logs, config_text, extra, &[])
    }

    /// [`Daemon::spawn_with_config`] with `env` added to the daemon's
    /// environment (and no extra arguments).
    fn spawn_with_env(
        dir: tempfile::TempDir,
        socket: PathBuf,
        logs: PathBuf,
        config_text: &str,
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::launch(dir, socket, logs, config_text, &[], env)
    }

    /// A daemon on a fresh directory with the fault point `fault` armed
    /// ([`baton_core::fault`]), ready.
    fn with_fault(config_text: &str, fault: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("run/baton.sock");
        let logs = dir.path().join("logs");
        let env = [("BATON_FAULT", fault)];
        let mut d = Daemon::spawn_with_env(dir, socket, logs, config_text, &env);
        d.wait_ready();
        d
    }

    fn launch(
        dir: tempfile::TempDir,
        socket: PathBuf,
        logs: PathBuf,
        config_text: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let config = dir.path().join("daemon.toml");
        std::fs::write(&config, config_text).unwrap();
        let stderr = dir.path().join(format!(
            "daemon-{}.stderr",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut cmd = Command::new(baton());
        cmd.arg("daemon")
            .arg("--socket")
            .arg(&socket)
            .arg("--logs-dir")
            .arg(&logs)
            .arg("--config")
            .arg(&config)
            .args(extra)
            .envs(env.iter().copied());
        let child = start_daemon_process(cmd, dir.path(), &stderr);
        Daemon {
            child: Some(child),
            dir,
            socket,
            logs,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until `ps` answers (or fails the test if the daemon exits).
    fn wait_ready(&mut self) {
        wait_until("the daemon to answer ps", SLOW, || {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "daemon exited with {status} before serving:\n{}",
                    self.stderr_text()
                );
            }
            let out = self.try_baton(&["ps"]);
            out.status.success().then_some(())
        });
    }

    /// Runs a client verb with `BATON_SOCKET` pointing at this daemon.
    fn try_baton(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(baton());
        cmd.args(args)
            .env("BATON_SOCKET", &self.socket)
            .current_dir(self.dir.path());
        Running::start(cmd).output(CLIENT)
    }

    /// Like [`Daemon::try_baton`], asserting exit 0.
    fn baton(&self, args: &[&str]) -> Output {
        let out = self.try_baton(args);
        assert!(
            out.status.success(),
            "baton {args:?}: {}\ndaemon stderr:\n{}",
            describe(&out),
            self.stderr_text()
        );
        out
    }

    /// A client verb running in the background.
    fn background(&self, args: &[&str]) -> Running {
        Running::start(self.client(args))
    }

    /// A client verb whose stdout the test reads when it wants.
    fn piped(&self, args: &[&str]) -> Piped {
        Piped::start(self.client(args))
    }

    fn client(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(baton());
        cmd.args(args)
            .env("BATON_SOCKET", &self.socket)
            .current_dir(self.dir.path());
        cmd
    }

    /// `spawn --id ID -- stand-in STEPS…`, returning the printed id.
    fn spawn_steps(&self, id: &str, extra: &[&str], steps: &[&str]) -> String {
        let stand_in = stand_in();
        let mut args = vec!["spawn", "--id", id];
        args.extend_from_slice(extra);
        args.push("--");
        args.push(&stand_in);
        args.extend_from_slice(steps);
        let out = self.baton(&args);
        text(&out.stdout).trim().to_owned()
    }

    fn ps(&self) -> Vec<Value> {
        let out = self.baton(&["ps", "--json"]);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("ps --json: {e}: {}", describe(&out)))
    }

    fn session(&self, id: &str) -> Option<Value> {
        self.ps().into_iter().find(|s| s["id"] == id)
    }

    fn wait_state(&self, id: &str, state: &str) -> Value {
        wait_until(&format!("session {id} to be {state}"), SLOW, || {
            self.session(id).filter(|s| s["state"] == state)
        })
    }

    fn out_log(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.logs.join(format!("{id}.out.log"))).unwrap_or_default()
    }

    /// Records of the event log file, in order.
    fn log_records(&self) -> Vec<Value> {
        let text = common::events_text(&self.logs);
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v.get("seq").is_some())
            .collect()
    }

    /// Waits for the daemon process to exit.
    fn wait_exit(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("daemon already reaped");
        let status = wait_until("the daemon to exit", SLOW, || child.try_wait().unwrap());
        self.child = None;
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        // A daemon stopped by SIGTERM stops its sessions too.
        signal(child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn start_daemon_process(mut cmd: Command, cwd: &Path, stderr: &Path) -> Child {
    let log = std::fs::File::create(stderr).unwrap();
    cmd.current_dir(cwd)
        .env_remove("BATON_SOCKET")
        .env("BATON_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// Runs `baton ARGS` with no daemon involved, in `cwd`.
fn baton_in(cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(baton());
    cmd.args(args).current_dir(cwd).env_remove("BATON_SOCKET");
    for (key, value) in env {
        cmd.env(key, value);
    }
    Running::start(cmd).output(CLIENT)
}

/// The pid of the session's last `spawn` record.
fn spawned_pid(daemon: &Daemon, id: &str) -> u64 {
    daemon
        .log_records()
        .iter()
        .rev()
        .find(|r| r["session"] == id && r["event"] == "spawn")
        .and_then(|r| r["pid"].as_u64())
        .unwrap_or_else(|| panic!("no spawn record for {id}"))
}

// ---------------------------------------------------------------------------
// Raw protocol helpers.

fn raw_connect(socket: &Path) -> UnixStream {
    let stream = UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(CLIENT)).unwrap();
    stream
}

/// Connects and completes the hello; panics unless welcomed.
fn welcomed(socket: &Path) -> UnixStream {
    let mut stream = raw_connect(socket);
    write_frame(&mut stream, &Hello::new("test")).unwrap();
    match read_frame::<HelloReply>(&mut stream).unwrap() {
        Some(HelloReply::Welcome(_)) => stream,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

fn read_response(stream: &mut UnixStream) -> Option<Response> {
    read_frame::<Response>(stream).unwrap_or_else(|e| panic!("reading a response: {e}"))
}

fn expect_error(stream: &mut UnixStream, kind: ErrorKind) -> String {
    match read_response(stream) {
        Some(Response::Error(e)) if e.kind == kind => e.message,
        other => panic!("expected an error of kind {kind:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Verbs.

#[test]
fn spawn_from_flags_and_file_ps_json_and_capability() {
    let d = Daemon::start();
    let stand_in = stand_in();
    // From flags, with env and capabilities.
    let id = d.spawn_steps(
        "reviewer",
        &[
            "--capability",
            "review",
            "--capability",
            "lint",
            "--env",
            "GREETING=hi there",
        ],
        &["env:GREETING", "sleep:20s"],
    );
    assert_eq!(id, "reviewer");
    // No --id: the daemon picks the first free `<agent>-<n>`.
    let out = d.baton(&["spawn", "--", &stand_in, "print:anonymous"]);
    assert_eq!(text(&out.stdout).trim(), "command-1");
    // From a file with one [[session]]; its relative workdir is resolved
    // against the file's directory.
    let sub = d.dir.path().join("proj/sub");
    std::fs::create_dir_all(&sub).unwrap();
    let file = d.dir.path().join("proj/session.toml");
    std::fs::write(
        &file,
        format!(
            "[[session]]\nid = \"from-file\"\nworkdir = \"sub\"\ncapabilities = [\"review\"]\ncommand = [{stand_in:?}, \"pwd\"]\n"
        ),
    )
    .unwrap();
    let out = d.baton(&["spawn", "--file", file.to_str().unwrap()]);
    assert_eq!(text(&out.stdout).trim(), "from-file");

    d.wait_state("from-file", "completed");
    d.wait_state("command-1", "completed");
    wait_until("the reviewer's env line", SLOW, || {
        (d.out_log("reviewer") == b"GREETING=hi there\n").then_some(())
    });
    assert_eq!(text(&d.out_log("from-file")).trim(), sub.to_str().unwrap());

    let sessions = d.ps();
    let ids: Vec<&str> = sessions.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "{sessions:?}");
    for id in ["reviewer", "command-1", "from-file"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let reviewer = d.session("reviewer").unwrap();
    assert_eq!(reviewer["agent"], "command");
    assert_eq!(reviewer["host"], "local");
    assert_eq!(
        reviewer["capabilities"],
        serde_json::json!(["review", "lint"])
    );
    assert_eq!(reviewer["last_line"], "GREETING=hi there");

    // The registry answers with live sessions only: from-file is completed.
    let out = d.baton(&["ps", "--capability", "review", "--json"]);
    let tagged: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let tagged: Vec<&str> = tagged.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(tagged, ["reviewer"]);
    let out = d.baton(&["ps", "--capability", "nobody-has-this", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap(),
        Vec::<Value>::new()
    );

    // The table.
    let out = d.baton(&["ps"]);
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap();
    for column in ["ID", "AGENT", "HOST", "STATE", "RST", "AGE", "LAST OUTPUT"] {
        assert!(header.contains(column), "{header}");
    }
    let row = table.lines().find(|l| l.starts_with("reviewer")).unwrap();
    assert!(
        row.contains("command") && row.contains("local") && row.contains("GREETING=hi there"),
        "{row}"
    );
}

#[test]
fn config_sessions_start_with_the_daemon_and_a_bad_config_starts_nothing() {
    let stand_in = stand_in();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let config = format!(
        "{CONFIG}\n[[session]]\nid = \"boot\"\ncapabilities = [\"review\"]\ncommand = [{stand_in:?}, \"print:up\", \"sleep:20s\"]\n"
    );
    let mut d = Daemon::spawn_with_config(dir, socket, logs, &config, &[]);
    d.wait_ready();
    let boot = d.wait_state("boot", "healthy");
    assert_eq!(boot["last_line"], "up");
    let out = d.baton(&["ps", "--capability", "review", "--json"]);
    let tagged: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tagged.len(), 1);
    d.baton(&["shutdown"]);
    assert_eq!(d.wait_exit().code(), Some(0));

    // A mistake in the config names its line; no daemon starts.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let bad = "[conductor]\ngrace = \"soon\"\n";
    let mut d = Daemon::spawn_with_config(dir, socket.clone(), logs, bad, &[]);
    assert_eq!(d.wait_exit().code(), Some(2));
    let stderr = d.stderr_text();
    assert!(
        stderr.contains("daemon.toml:2") && stderr.contains("soon"),
        "{stderr}"
    );
    assert!(!socket.exists());
}

#[test]
fn bad_spawn_input_is_refused_and_changes_nothing() {
    let d = Daemon::start();
    // No argv for a command session: the daemon names the field.
    let out = d.try_baton(&["spawn", "--id", "empty"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("`command`"),
        "{}",
        describe(&out)
    );
    // A bad id.
    let out = d.try_baton(&["spawn", "--id=-bad", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(text(&out.stderr).contains("`id`"), "{}", describe(&out));
    // A file with a mistake: file and line are named.
    let file = d.dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[session]]\nid = \"x\"\ncommand = [\"true\"]\nbackend = \"carrier-pigeon\"\n",
    )
    .unwrap();
    let out = d.try_baton(&["spawn", "--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.toml:4"), "{stderr}");
    assert!(stderr.contains("carrier-pigeon"), "{stderr}");
    // Flags that make no sense together, and a bad --env.
    let out = d.try_baton(&["spawn", "--file", file.to_str().unwrap(), "--prompt", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = d.try_baton(&["spawn", "--env", "NOVALUE", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // A host that is not in the daemon's inventory.
    let out = d.try_baton(&["spawn", "--host", "far-away", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("not in the hosts inventory"),
        "{}",
        describe(&out)
    );
    // A duplicate id.
    d.spawn_steps("dup", &[], &["print:once"]);
    let out = d.try_baton(&["spawn", "--id", "dup", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        describe(&out)
    );

    let ids: Vec<String> = d
        .ps()
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, ["dup"]);
}

#[test]
fn logs_are_byte_exact_plain_tail_stderr_and_followed_to_the_end() {
    let d = Daemon::start();
    // Started before the session: the whole output arrives live.
    let follower = d.background(&["logs", "-f", "talker"]);
    // The follower asks for a session that does not exist yet: refused.
    let early = follower.output(CLIENT);
    assert_eq!(early.status.code(), Some(2), "{}", describe(&early));
    assert!(
        text(&early.stderr).contains("no session with id `talker`"),
        "{}",
        describe(&early)
    );

    let gate = d.dir.path().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    d.spawn_steps(
        "talker",
        &[],
        &[
            "print:first",
            &gate_step,
            "lines:300:2ms",
            "eprint:to stderr",
            "say:no newline at the end",
        ],
    );
    let mut follower = d.piped(&["logs", "-f", "talker"]);
    // Its first line proves the stream is live before the rest is written.
    assert_eq!(follower.read_exact(6), b"first\n");
    std::fs::write(&gate, "").unwrap();
    let (status, rest, stderr) = follower.finish(SLOW);
    assert!(status.success(), "{status:?}: {stderr}");
    d.wait_state("talker", "completed");

    let mut expected = b"first\n".to_vec();
    for i in 1..=300 {
        expected.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    expected.extend_from_slice(b"no newline at the end");
    assert_eq!(d.out_log("talker"), expected, "the log file");
    let mut followed = b"first\n".to_vec();
    followed.extend_from_slice(&rest);
    assert_eq!(text(&followed), text(&expected), "logs -f");
    assert!(stderr.is_empty(), "{stderr}");

    let plain = d.baton(&["logs", "talker"]);
    assert_eq!(plain.stdout, expected, "logs");
    let tail = d.baton(&["logs", "talker", "--tail", "2"]);
    assert_eq!(text(&tail.stdout), "line 300\nno newline at the end");
    let err = d.baton(&["logs", "talker", "--stderr"]);
    assert_eq!(text(&err.stdout), "to stderr\n");
    // Following a session that has already ended prints it all and ends.
    let again = d.baton(&["logs", "-f", "--tail", "1", "talker"]);
    assert_eq!(text(&again.stdout), "no newline at the end");
}

#[test]
fn a_slow_logs_follower_skips_ahead_and_is_told_how_much() {
    let d = Daemon::start();
    let gate = d.dir.path().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    d.spawn_steps(
        "flood",
        &[],
        &["print:ready", &gate_step, "flood:24M", "print:end"],
    );
    wait_until("the ready line", SLOW, || {
        (d.out_log("flood") == b"ready\n").then_some(())
    });

    // A follower whose stdout nobody reads for now: it stops reading the
    // socket, and the daemon can no longer write to it.
    let mut follower = d.piped(&["logs", "-f", "flood"]);
    // Its first line proves the stream is live before the flood starts.
    assert_eq!(follower.read_exact(6), b"ready\n");

    std::fs::write(&gate, "").unwrap();
    // The session is never held up by the stalled reader.
    d.wait_state("flood", "completed");
    let file = d.out_log("flood");
    let total = file.len() as u64;
    assert_eq!(total, 6 + 24 * 1024 * 1024 + 4);

    let (status, rest, err) = follower.finish(SLOW);
    assert!(status.success(), "status {status:?}, stderr {err}");
    let notices: Vec<u64> = err
        .lines()
        .filter_map(|line| line.strip_prefix("baton: skipped "))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .collect();
    let skipped: u64 = notices.iter().sum();
    assert!(skipped > 4 * 1024 * 1024, "skipped only {skipped}: {err}");
    assert_eq!(
        6 + rest.len() as u64 + skipped,
        total,
        "received + skipped = written"
    );
    let mut got = b"ready\n".to_vec();
    got.extend_from_slice(&rest);
    assert!(got.ends_with(b"end\n"));
    if let [skipped] = notices[..] {
        // What arrived is the file with one hole: a prefix, then the end.
        let prefix = got.iter().zip(&file).take_while(|(a, b)| a == b).count();
        assert_eq!(&got[prefix..], &file[prefix + skipped as usize..]);
    }
}

#[test]
fn events_since_session_and_follow_without_gap_or_duplicate() {
    let d = Daemon::start();
    let gate = d.dir.path().join("gate");
    let gate_step = format!("wait-file:{}", gate.display());
    d.spawn_steps(
        "a",
        &[],
        &["print:one", &gate_step, "lines:20:20ms", "exit:0"],
    );
    d.wait_state("a", "stalled");
    // Records exist already (file part); more come while the follower runs
    // (live part).
    let mut follower = d.piped(&["events", "-f", "--json"]);
    let first = follower.read_line();
    let mut text_follower = d.piped(&["events", "-f", "--session", "b"]);
    std::fs::write(&gate, "").unwrap();
    d.spawn_steps("b", &[], &["print:two", "exit:0"]);
    let first_b = text_follower.read_line();
    d.wait_state("a", "completed");
    d.wait_state("b", "completed");

    // --since and --session on the finished part.
    let all: Vec<Value> = json_lines(&d.baton(&["events", "--json"]).stdout);
    let seqs: Vec<u64> = all.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let cut = seqs[seqs.len() / 2];
    let since: Vec<Value> = json_lines(
        &d.baton(&["events", "--json", "--since", &cut.to_string()])
            .stdout,
    );
    assert_eq!(
        since,
        all.iter()
            .filter(|r| r["seq"].as_u64().unwrap() > cut)
            .cloned()
            .collect::<Vec<_>>()
    );
    let only_b: Vec<Value> = json_lines(&d.baton(&["events", "--json", "--session", "b"]).stdout);
    assert!(
        !only_b.is_empty() && only_b.iter().all(|r| r["session"] == "b"),
        "{only_b:?}"
    );

    // Followers end with the daemon; together with the file they saw every
    // record exactly once, in order.
    d.baton(&["shutdown"]);
    let (status, rest, err) = follower.finish(SLOW);
    assert!(status.success(), "{status:?}: {err}");
    let mut followed = first.into_bytes();
    followed.extend_from_slice(&rest);
    let followed: Vec<Value> = json_lines(&followed);
    let records = d.log_records();
    assert_eq!(followed, records, "events -f vs events.jsonl");
    assert!(records.iter().any(|r| r["event"] == "shutdown"));

    let (status, rest, err) = text_follower.finish(SLOW);
    assert!(status.success(), "{status:?}: {err}");
    let lines = first_b + &text(&rest);
    assert!(lines.lines().count() >= 4, "{lines}");
    assert!(lines.lines().all(|l| l.contains(" b ")), "{lines}");
    assert!(lines.contains("healthy -> completed"), "{lines}");
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    text(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn send_answers_a_waiting_session() {
    let d = Daemon::start();
    d.spawn_steps(
        "asker",
        &[],
        &[
            "print:planning",
            "ask:Apply these changes? (y/n) ",
            "print:done",
        ],
    );
    d.spawn_steps("busy", &[], &["lines:1000:20ms"]);
    d.wait_state("asker", "input_wait");
    d.wait_state("busy", "healthy");
    // --if-waiting refuses a session that is not waiting, and sends nothing.
    let out = d.try_baton(&["send", "busy", "y", "--if-waiting"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("not input_wait"),
        "{}",
        describe(&out)
    );
    // More than one line is refused.
    let out = d.try_baton(&["send", "asker", "y\nn"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));

    d.baton(&["send", "asker", "yes please", "--if-waiting"]);
    d.wait_state("asker", "completed");
    assert_eq!(
        text(&d.out_log("asker")),
        "planning\nApply these changes? (y/n) answer: yes please\ndone\n"
    );
    let inputs: Vec<Value> = d
        .log_records()
        .into_iter()
        .filter(|r| r["event"] == "input")
        .collect();
    assert_eq!(inputs.len(), 1, "{inputs:?}");
    assert_eq!(inputs[0]["session"], "asker");
    assert_eq!(inputs[0]["len"], "yes please\n".len());
    // The text itself is in no log.
    let events = std::fs::read_to_string(d.logs.join("events.jsonl")).unwrap();
    assert!(!events.contains("yes please"));
    assert!(!d.stderr_text().contains("yes please"));
    d.baton(&["kill", "busy"]);
}

#[test]
fn kill_stops_a_session_and_its_process() {
    let d = Daemon::start();
    d.spawn_steps("victim", &[], &["print:alive", "sleep:60s"]);
    d.spawn_steps("bystander", &[], &["print:alive", "sleep:60s"]);
    d.wait_state("victim", "healthy");
    let pid = spawned_pid(&d, "victim");
    d.baton(&["kill", "victim"]);
    // `kill` returns once the process group is gone.
    assert!(
        pid_is_gone(pid),
        "pid {pid} still running after kill returned"
    );
    let victim = d.session("victim").unwrap();
    assert_eq!(victim["state"], "dead");
    assert_eq!(victim["reason"], "user_kill");
    assert_eq!(d.session("bystander").unwrap()["state"], "healthy");
    d.baton(&["kill", "bystander"]);
}

#[test]
fn shutdown_stops_every_session_and_the_daemon_and_removes_the_socket() {
    let mut d = Daemon::start();
    d.spawn_steps("long", &[], &["print:alive", "sleep:60s"]);
    d.wait_state("long", "healthy");
    let pid = spawned_pid(&d, "long");
    let out = d.baton(&["shutdown"]);
    assert!(out.stdout.is_empty());
    // Done means done: the session's process is already gone.
    assert!(pid_is_gone(pid), "session pid {pid} outlived shutdown");
    let status = d.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", d.stderr_text());
    assert!(!d.socket.exists(), "socket left behind");
    let last_state = d
        .log_records()
        .into_iter()
        .rev()
        .find(|r| r["session"] == "long" && r["event"] == "state")
        .unwrap();
    assert_eq!(last_state["to"], "dead");
    assert_eq!(last_state["reason"], "shutdown");
    // A client now finds no daemon.
    let out = d.try_baton(&["ps"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // The claims are released: a new daemon starts on the same paths.
    let dir = tempfile::tempdir().unwrap();
    let mut again = Daemon::spawn(dir, d.socket.clone(), d.logs.clone(), &[]);
    again.wait_ready();
    again.baton(&["shutdown", "--force"]);
    assert_eq!(again.wait_exit().code(), Some(0));
}

#[test]
fn sigterm_stops_the_sessions_removes_the_socket_and_exits_130() {
    let mut d = Daemon::start();
    d.spawn_steps("long", &[], &["print:alive", "sleep:60s"]);
    d.wait_state("long", "healthy");
    let pid = spawned_pid(&d, "long");
    let mut follower = d.piped(&["logs", "-f", "long"]);
    assert_eq!(follower.read_exact(6), b"alive\n");
    signal(d.pid(), libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(130), "{}", d.stderr_text());
    assert!(!d.socket.exists());
    assert!(pid_is_gone(pid));
    // Streams end cleanly when the daemon stops.
    let (status, rest, err) = follower.finish(CLIENT);
    assert!(status.success(), "{status:?}: {err}");
    assert!(rest.is_empty(), "{}", text(&rest));
}

// ---------------------------------------------------------------------------
// Rejections.

#[test]
fn unknown_session_ids_are_clear_errors() {
    let d = Daemon::start();
    for args in [
        vec!["logs", "ghost"],
        vec!["logs", "-f", "ghost"],
        vec!["send", "ghost", "hi"],
        vec!["kill", "ghost"],
        vec!["kill", "../../etc/passwd"],
    ] {
        let out = d.try_baton(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(
            text(&out.stderr).contains("no session with id"),
            "{args:?}: {}",
            describe(&out)
        );
    }
}

#[test]
fn no_daemon_running_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("nobody.sock");
    let out = baton_in(
        dir.path(),
        &["ps", "--socket", socket.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no baton daemon listening at {}",
            socket.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("baton daemon"), "{stderr}");
    // BATON_SOCKET is honoured, and --socket wins over it.
    let env_socket = dir.path().join("from-env.sock");
    let out = baton_in(dir.path(), &["kill", "x"], &[("BATON_SOCKET", &env_socket)]);
    assert!(
        text(&out.stderr).contains(&env_socket.display().to_string()),
        "{}",
        describe(&out)
    );
    let out = baton_in(
        dir.path(),
        &["logs", "x", "--socket", socket.to_str().unwrap()],
        &[("BATON_SOCKET", &env_socket)],
    );
    assert!(
        text(&out.stderr).contains(&socket.display().to_string()),
        "{}",
        describe(&out)
    );
    // The default: $XDG_RUNTIME_DIR/baton/baton.sock.
    let out = baton_in(dir.path(), &["events"], &[("XDG_RUNTIME_DIR", dir.path())]);
    assert!(
        text(&out.stderr).contains(&dir.path().join("baton/baton.sock").display().to_string()),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_second_daemon_on_the_same_socket_or_logs_dir_is_refused() {
    let d = Daemon::start();
    let pid = d.pid().to_string();
    // Same socket, other logs dir.
    let other = tempfile::tempdir().unwrap();
    let mut second = Daemon::spawn(
        other,
        d.socket.clone(),
        d.dir.path().join("other-logs"),
        &[],
    );
    let status = second.wait_exit();
    assert_eq!(status.code(), Some(2));
    let stderr = second.stderr_text();
    let lock = format!("{}.lock", d.socket.display());
    assert!(
        stderr.contains(&format!("pid {pid}")) && stderr.contains(&lock),
        "{stderr}"
    );
    // Same logs dir, other socket.
    let other = tempfile::tempdir().unwrap();
    let other_socket = other.path().join("s/other.sock");
    let mut third = Daemon::spawn(other, other_socket.clone(), d.logs.clone(), &[]);
    assert_eq!(third.wait_exit().code(), Some(2));
    let stderr = third.stderr_text();
    let lock = d.logs.join("daemon.lock").display().to_string();
    assert!(
        stderr.contains(&format!("pid {pid}")) && stderr.contains(&lock),
        "{stderr}"
    );
    assert!(
        !other_socket.exists(),
        "the refused daemon bound its socket"
    );
    // The first daemon is untouched.
    assert!(d.socket.exists());
    d.baton(&["ps"]);
}

#[test]
fn a_stale_socket_from_a_dead_daemon_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    // A daemon killed without a chance to clean up leaves its socket.
    let mut first = Daemon::spawn(dir, socket.clone(), logs.clone(), &[]);
    first.wait_ready();
    signal(first.pid(), libc::SIGKILL);
    first.wait_exit();
    let meta = std::fs::symlink_metadata(&socket).expect("the dead daemon's socket");
    assert!(meta.file_type().is_socket());
    assert!(
        UnixStream::connect(&socket).is_err(),
        "nobody listens on it"
    );

    let mut second = Daemon::spawn(
        tempfile::tempdir().unwrap(),
        socket.clone(),
        logs.clone(),
        &[],
    );
    second.wait_ready();
    assert!(
        second.stderr_text().contains("stale socket"),
        "{}",
        second.stderr_text()
    );

    // A plain socket file nobody listens on is replaced the same way.
    second.baton(&["shutdown"]);
    second.wait_exit();
    let listener = UnixListener::bind(&socket).unwrap();
    drop(listener);
    let mut third = Daemon::spawn(tempfile::tempdir().unwrap(), socket, logs, &[]);
    third.wait_ready();
}

#[test]
fn a_socket_directory_others_can_reach_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut d = Daemon::spawn(dir, run.join("baton.sock"), PathBuf::from("logs"), &[]);
    assert_eq!(d.wait_exit().code(), Some(2));
    let stderr = d.stderr_text();
    assert!(
        stderr.contains("mode 0755") && stderr.contains("chmod 700"),
        "{stderr}"
    );
    assert!(!run.join("baton.sock").exists());
}

#[test]
fn an_event_log_from_a_newer_baton_stops_the_daemon_before_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("events.jsonl"),
        "{\"format\":\"baton-events\",\"version\":\"99.0\",\"created\":\"2030-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let mut d = Daemon::spawn(dir, socket.clone(), logs, &[]);
    assert_eq!(d.wait_exit().code(), Some(2));
    assert!(d.stderr_text().contains("99.0"), "{}", d.stderr_text());
    assert!(!socket.exists(), "socket left behind");
}

#[test]
fn the_socket_is_private_in_a_private_directory() {
    let d = Daemon::start();
    let socket_mode = std::fs::symlink_metadata(&d.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    let dir_mode = std::fs::metadata(d.socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!((socket_mode, dir_mode), (0o600, 0o700));
    let lock = std::fs::read_to_string(d.logs.join("daemon.lock")).unwrap();
    assert_eq!(lock.trim(), d.pid().to_string());
}

#[test]
fn malformed_oversized_and_unknown_frames_get_an_answer_and_the_daemon_keeps_serving() {
    let d = Daemon::start();
    let socket = &d.socket;

    // Garbage instead of a hello: a refusal that says why.
    let mut s = raw_connect(socket);
    s.write_all(&[0, 0, 0, 5]).unwrap();
    s.write_all(b"hello").unwrap();
    match read_frame::<HelloReply>(&mut s).unwrap() {
        Some(HelloReply::Refused(r)) => assert!(r.reason.contains("malformed"), "{}", r.reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(
        read_frame::<HelloReply>(&mut s).unwrap().is_none(),
        "connection closed"
    );

    // Not the protocol at all (its first four bytes read as a huge length).
    let mut s = raw_connect(socket);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    match read_frame::<HelloReply>(&mut s).unwrap() {
        Some(HelloReply::Refused(r)) => assert!(r.reason.contains("larger than"), "{}", r.reason),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // A request that is not JSON.
    let mut s = welcomed(socket);
    s.write_all(&[0, 0, 0, 4]).unwrap();
    s.write_all(&[0xff, 0xfe, 0x00, 0x01]).unwrap();
    expect_error(&mut s, ErrorKind::BadRequest);

    // A request of the wrong shape.
    let mut s = welcomed(socket);
    write_frame(&mut s, &serde_json::json!({"verb": "kill", "id": 42})).unwrap();
    expect_error(&mut s, ErrorKind::BadRequest);

    // An oversized length: refused before anything is read or allocated.
    let mut s = welcomed(socket);
    s.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let message = expect_error(&mut s, ErrorKind::BadRequest);
    assert!(message.contains("larger than"), "{message}");

    // A verb from a newer baton.
    let mut s = welcomed(socket);
    write_frame(&mut s, &serde_json::json!({"verb": "teleport"})).unwrap();
    let message = expect_error(&mut s, ErrorKind::Unsupported);
    assert!(message.contains("teleport"), "{message}");

    // A spawn spec that breaks the manifest's rules.
    let mut s = welcomed(socket);
    write_frame(
        &mut s,
        &serde_json::json!({"verb": "spawn", "spec": {"id": "x", "command": ["true"], "workdir": "relative"}}),
    )
    .unwrap();
    let message = expect_error(&mut s, ErrorKind::BadRequest);
    assert!(message.contains("workdir"), "{message}");

    // A newer protocol major: refused in words.
    let mut s = raw_connect(socket);
    write_frame(
        &mut s,
        &serde_json::json!({"protocol": {"major": 99, "minor": 0}, "client": "9.9.9"}),
    )
    .unwrap();
    match read_frame::<HelloReply>(&mut s).unwrap() {
        Some(HelloReply::Refused(r)) => assert!(r.reason.contains("99"), "{}", r.reason),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Half a frame, then gone; and a client that says nothing at all.
    let mut s = raw_connect(socket);
    s.write_all(&[0, 0]).unwrap();
    drop(s);
    let mut silent = raw_connect(socket);

    // None of that stopped or stalled the daemon.
    d.baton(&["ps"]);
    d.spawn_steps("still-works", &[], &["print:ok"]);
    d.wait_state("still-works", "completed");

    // The silent client is cut off after the handshake limit, with a reason.
    let started = Instant::now();
    match read_frame::<HelloReply>(&mut silent).unwrap() {
        Some(HelloReply::Refused(r)) => assert!(r.reason.contains("within"), "{}", r.reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    d.baton(&["ps"]);
}

#[test]
fn accounts_verb_without_accounts_is_refused() {
    let d = Daemon::start();
    let mut s = welcomed(&d.socket);
    write_frame(&mut s, &serde_json::json!({"verb": "accounts"})).unwrap();
    let message = expect_error(&mut s, ErrorKind::Refused);
    assert!(message.contains("[accounts]"), "{message}");
}

#[test]
fn a_connection_from_another_uid_is_refused() {
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("note: setpriv is missing; skipping the wrong-uid test");
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("note: not root, cannot start a daemon as another uid; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534)).unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let stderr = dir.path().join("daemon.stderr");
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(baton())
        .arg("daemon")
        .arg("--socket")
        .arg(&socket)
        .arg("--logs-dir")
        .arg(&logs);
    let child = start_daemon_process(cmd, dir.path(), &stderr);
    let mut d = Daemon {
        child: Some(child),
        dir,
        socket: socket.clone(),
        logs,
        stderr,
    };
    let mut stream = wait_until("the nobody daemon's socket", SLOW, || {
        if let Some(status) = d.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
            panic!("daemon exited with {status}:\n{}", d.stderr_text());
        }
        UnixStream::connect(&socket).ok()
    });
    stream.set_read_timeout(Some(CLIENT)).unwrap();
    write_frame(&mut stream, &Hello::new("test")).unwrap();
    match read_frame::<HelloReply>(&mut stream).unwrap() {
        Some(HelloReply::Refused(r)) => {
            assert!(
                r.reason.contains("uid 65534") && r.reason.contains("uid 0"),
                "{}",
                r.reason
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The real client reports the refusal and exits 3.
    let out = d.try_baton(&["ps"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(text(&out.stderr).contains("refused"), "{}", describe(&out));
    assert!(
        d.stderr_text().contains("refused a connection"),
        "{}",
        d.stderr_text()
    );
    signal(d.pid(), libc::SIGTERM);
    assert_eq!(d.wait_exit().code(), Some(130), "{}", d.stderr_text());
}

// ---------------------------------------------------------------------------
// Recovery after a SIGKILLed daemon.

/// A config whose restart backoff is long enough that a session is reliably
/// caught in `restarting` when the daemon is killed.
const CRASH_CONFIG: &str = "[conductor]\ngrace = \"2s\"\nbackoff = \"3s\"\nbackoff_max = \"3s\"\nmax_restarts = 3\n[probe]\nstall_after = \"300ms\"\n";

impl Daemon {
    /// SIGKILLs the daemon (no shutdown, no last records) and starts a new
    /// one with the same socket, logs dir and config.
    fn kill9_and_restart(&mut self) {
        let mut child = self.child.take().expect("daemon running");
        signal(child.id(), libc::SIGKILL);
        let _ = child.wait();
        self.start_again(child.id());
    }

    /// Starts a daemon again on the same socket, logs dir and config
    /// (`n` names its stderr file).
    fn start_again(&mut self, n: u32) {
        let stderr = self.dir.path().join(format!("daemon-restarted-{n}.stderr"));
        let mut cmd = Command::new(baton());
        cmd.arg("daemon")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--logs-dir")
            .arg(&self.logs)
            .arg("--config")
            .arg(self.dir.path().join("daemon.toml"));
        self.child = Some(start_daemon_process(cmd, self.dir.path(), &stderr));
        self.stderr = stderr;
        self.wait_ready();
    }

    /// Waits for the daemon to have SIGKILLed itself at its armed fault point.
    fn wait_fault_kill(&mut self) {
        let died = self.wait_exit();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&died),
            Some(libc::SIGKILL),
            "the fault point killed the daemon: {died}\n{}",
            self.stderr_text()
        );
    }

    /// The event-log records of session `id`.
    fn records_of(&self, id: &str) -> Vec<Value> {
        self.log_records()
            .into_iter()
            .filter(|r| r["session"] == id)
            .collect()
    }

    fn wait_terminal(&self, id: &str) -> Value {
        wait_until(&format!("session {id} to end"), SLOW, || {
            self.session(id)
                .filter(|s| s["state"] == "completed" || s["state"] == "dead")
        })
    }
}

/// Processes whose process group is `pgid` (zombies excluded).
fn group_members(pgid: u64) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let Some((_, rest)) = stat.rsplit_once(')') else {
                    return false;
                };
                let fields: Vec<&str> = rest.split_whitespace().collect();
                fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
            })
        })
        .collect()
}

/// N sessions in different situations, the daemon SIGKILLed, started again:
/// every session ends in the right state, every byte the agents wrote is in
/// its log (checksums), `seq` goes on without reuse or gap, nothing is
/// started twice and no process is left behind. Repeated, since a crash can
/// land anywhere.
#[test]
fn a_sigkilled_daemon_loses_no_session_byte_or_record_and_orphans_nothing() {
    for round in 0..3 {
        crash_round(round);
    }
}

fn crash_round(round: usize) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let gate = dir.path().join("gate");
    let mut d = Daemon::spawn_with_config(dir, socket, logs, CRASH_CONFIG, &[]);
    d.wait_ready();
    let gate_step = format!("wait-file:{}", gate.display());
    let flood = 3 * 1024 * 1024 + 7;
    let flood_step = format!("flood:{flood}");
    // Writing when the daemon dies, and on after the restart.
    d.spawn_steps("writer", &[], &["lines:1000:5ms", &gate_step, &flood_step]);
    // Floods and exits 0 with a payload while no daemon watches.
    d.spawn_steps(
        "finisher",
        &[],
        &[
            "print:working",
            &gate_step,
            &flood_step,
            "payload:{\"ok\":true}",
        ],
    );
    // Waiting for an answer across the restart.
    d.spawn_steps(
        "asker",
        &[],
        &["print:plan", "ask:Apply? (y/n) ", "print:applied"],
    );
    // Fails on its first attempt and is in `restarting` (3 s backoff) when killed.
    d.spawn_steps("retrier", &[], &["print:try", "fail-before-attempt:2"]);
    // Crashes while no daemon watches: its restart policy decides.
    d.spawn_steps("crasher", &[], &["print:x", &gate_step, "exit:9"]);
    // On a terminal that dies with the daemon: restarted per policy.
    d.spawn_steps(
        "terminal",
        &["--backend", "pty"],
        &["print:t", &gate_step, "exit:0"],
    );
    // In tmux: outlives the daemon and is re-adopted.
    d.spawn_steps(
        "tmuxed",
        &["--backend", "tmux"],
        &["print:m", &gate_step, "print:n", "exit:0"],
    );
    d.wait_state("retrier", "restarting");
    d.wait_state("asker", "input_wait");
    wait_until("finisher and crasher to have started", SLOW, || {
        (d.out_log("finisher") == b"working\n"
            && d.out_log("crasher") == b"x\n"
            && d.out_log("terminal") == b"t\r\n"
            && d.out_log("tmuxed") == b"m\r\n")
            .then_some(())
    });
    wait_until("the writer to be mid-output", SLOW, || {
        (d.out_log("writer").len() > 200).then_some(())
    });
    let before = d.log_records();
    let pgids: Vec<u64> = before
        .iter()
        .filter(|r| r["event"] == "spawn")
        .filter_map(|r| r["pid"].as_u64())
        .collect();

    d.kill9_and_restart();
    std::fs::write(&gate, b"").unwrap();
    d.wait_state("asker", "input_wait");
    d.baton(&["send", "asker", "y", "--if-waiting"]);

    let state = |id: &str| {
        d.wait_terminal(id)["state"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    let ctx = || format!("round {round}\n{}", d.stderr_text());
    assert_eq!(state("writer"), "completed", "{}", ctx());
    assert_eq!(state("finisher"), "completed", "{}", ctx());
    assert_eq!(state("asker"), "completed", "{}", ctx());
    assert_eq!(state("retrier"), "completed", "{}", ctx());
    assert_eq!(state("crasher"), "dead", "{}", ctx());
    assert_eq!(state("terminal"), "completed", "{}", ctx());
    assert_eq!(state("tmuxed"), "completed", "{}", ctx());

    // Every byte, checked by checksum against what the stand-in writes.
    let mut flood_bytes = Vec::new();
    for chunk in stand_in_agent::flood_bytes(flood) {
        flood_bytes.extend_from_slice(chunk);
    }
    let mut writer = String::new();
    for n in 1..=1000 {
        writer.push_str(&format!("line {n}\n"));
    }
    let mut writer = writer.into_bytes();
    writer.extend_from_slice(&flood_bytes);
    assert_eq!(
        sha(&d.out_log("writer")),
        sha(&writer),
        "writer log, round {round}"
    );
    let mut finisher = b"working\n".to_vec();
    finisher.extend_from_slice(&flood_bytes);
    finisher.extend_from_slice(
        b"<<<BATON_COMPLETION_BEGIN>>>\n{\"ok\":true}\n<<<BATON_COMPLETION_END>>>\n",
    );
    assert_eq!(
        sha(&d.out_log("finisher")),
        sha(&finisher),
        "finisher log, round {round}"
    );
    assert_eq!(
        text(&d.out_log("asker")),
        "plan\nApply? (y/n) answer: y\napplied\n"
    );
    // crasher: 4 runs (1 + 3 restarts), each printing `x`.
    assert_eq!(text(&d.out_log("crasher")), "x\n".repeat(4));

    let records = d.log_records();
    // seq: dense from 1, never reused, across both daemons.
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "seq, round {round}");
    let after: Vec<&Value> = records[before.len()..].iter().collect();
    let recovered = |id: &str| -> Vec<String> {
        after
            .iter()
            .filter(|r| r["session"] == id && r["event"] == "recovered")
            .map(|r| r["outcome"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(recovered("writer"), ["readopted"], "round {round}");
    assert_eq!(recovered("asker"), ["readopted"], "round {round}");
    assert_eq!(recovered("retrier"), ["resumed"], "round {round}");
    assert_eq!(recovered("terminal"), ["restarted"], "round {round}");
    assert_eq!(recovered("tmuxed"), ["readopted"], "round {round}");
    // The terminal session's first run printed before the crash, its second after.
    assert_eq!(text(&d.out_log("terminal")), "t\r\nt\r\n");
    assert_eq!(text(&d.out_log("tmuxed")), "m\r\nn\r\n");
    let finisher_outcome = recovered("finisher");
    assert!(
        finisher_outcome == ["readopted"] || finisher_outcome == ["exited"],
        "{finisher_outcome:?}"
    );
    // Nothing started twice: a re-adopted run has no second spawn record.
    let spawns = |id: &str| {
        records
            .iter()
            .filter(|r| r["session"] == id && r["event"] == "spawn")
            .count()
    };
    assert_eq!(spawns("writer"), 1, "round {round}");
    assert_eq!(spawns("finisher"), 1, "round {round}");
    assert_eq!(spawns("asker"), 1, "round {round}");
    assert_eq!(spawns("retrier"), 2, "round {round}");
    assert_eq!(spawns("crasher"), 4, "round {round}");
    assert_eq!(spawns("terminal"), 2, "round {round}");
    assert_eq!(spawns("tmuxed"), 1, "round {round}");
    let payload = records
        .iter()
        .find(|r| r["session"] == "finisher" && r["event"] == "completed")
        .map(|r| r["payload"].clone());
    assert_eq!(
        payload,
        Some(serde_json::json!({"ok": true})),
        "round {round}"
    );

    // No process of any run is left, before or after the restart.
    let all_pgids: Vec<u64> = records
        .iter()
        .filter(|r| r["event"] == "spawn")
        .filter_map(|r| r["pid"].as_u64())
        .chain(pgids)
        .collect();
    for pgid in all_pgids {
        let left = group_members(pgid);
        assert!(
            left.is_empty(),
            "group {pgid} still has {left:?}, round {round}"
        );
    }
    d.baton(&["shutdown"]);
    d.wait_exit();
}

#[test]
fn notify_hooks_get_one_record_per_state_entry_and_a_failing_hook_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let hook_log = dir.path().join("hook.jsonl");
    let filtered = dir.path().join("filtered.jsonl");
    // A dead session soon: one restart only.
    let conductor = CONFIG.replacen("[conductor]\n", "[conductor]\nmax_restarts = 1\n", 1);
    let config = format!(
        "{conductor}\n\
         [[notify]]\non = [\"input_wait\", \"completed\", \"dead\"]\ncommand = [\"sh\", \"-c\", \"cat >> {hooks}\"]\n\n\
         [[notify]]\non = [\"input_wait\"]\ncommand = [\"sh\", \"-c\", \"echo broken hook >&2; exit 7\"]\n\n\
         [[notify]]\non = [\"completed\"]\ncommand = [\"/nonexistent/hook\"]\n\n\
         [[notify]]\non = [\"dead\", \"completed\"]\nsessions = [\"someone-else\"]\ncommand = [\"sh\", \"-c\", \"cat >> {filtered}\"]\n",
        hooks = hook_log.display(),
        filtered = filtered.display(),
    );
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let mut d = Daemon::spawn_with_config(dir, socket, logs, &config, &[]);
    d.wait_ready();

    d.spawn_steps("asker", &[], &["ask:Go ahead? [y/N] ", "print:done"]);
    d.spawn_steps("dier", &[], &["print:bad", "exit:3"]);
    d.wait_state("asker", "input_wait");
    // Probes go on while it waits; the hook ran for the entry only.
    std::thread::sleep(Duration::from_millis(1000));
    d.baton(&["send", "asker", "y"]);
    d.wait_state("asker", "completed");
    d.wait_state("dier", "dead");

    let expected: Vec<Value> = d
        .log_records()
        .into_iter()
        .filter(|r| {
            r["event"] == "state"
                && ["input_wait", "completed", "dead"].contains(&r["to"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(expected.len(), 3, "{expected:?}");
    let got = wait_until("the hook to have run three times", SLOW, || {
        let text = std::fs::read_to_string(&hook_log).unwrap_or_default();
        let lines: Vec<Value> = json_lines(text.as_bytes());
        (lines.len() >= 3).then_some(lines)
    });
    std::thread::sleep(Duration::from_millis(300));
    let again = json_lines(std::fs::read_to_string(&hook_log).unwrap().as_bytes());
    assert_eq!(again.len(), 3, "one run per state entry: {again:?}");
    let mut got = got;
    got.sort_by_key(|r| r["seq"].as_u64());
    assert_eq!(
        got, expected,
        "each hook got the state record as the log has it"
    );

    assert!(!filtered.exists(), "a hook for other sessions ran");
    let stderr = d.stderr_text();
    assert!(
        stderr.contains("notify hook failed") && stderr.contains("broken hook"),
        "{stderr}"
    );
    assert!(stderr.contains("notify hook cannot start"), "{stderr}");
    assert_eq!(
        text(&d.out_log("asker")),
        "Go ahead? [y/N] answer: y\ndone\n"
    );
}

#[test]
fn a_process_that_left_the_sessions_group_does_not_outlive_the_session() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let ended = dir.path().join("ended.pid");
    let killed = dir.path().join("killed.pid");
    // As a CLI that starts a daemon: a grandchild in its own session.
    d.spawn_steps(
        "ends",
        &[],
        &[
            &format!("escape-file:{}:60s", ended.display()),
            "print:done",
        ],
    );
    d.spawn_steps(
        "killed",
        &[],
        &[
            &format!("escape-file:{}:60s", killed.display()),
            "print:up",
            "stall",
        ],
    );
    d.wait_state("ends", "completed");
    let pid: u64 = std::fs::read_to_string(&ended)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_is_gone(pid), "pid {pid} outlived its completed session");

    d.wait_state("killed", "healthy");
    let pid: u64 = wait_until("the escapee's pid", SLOW, || {
        std::fs::read_to_string(&killed).ok()?.trim().parse().ok()
    });
    assert!(!pid_is_gone(pid), "the escapee runs while its session does");
    // `kill` returns once the session's processes are gone: the escapee too.
    d.baton(&["kill", "killed"]);
    assert!(pid_is_gone(pid), "pid {pid} outlived its killed session");
}

fn worktree_ends(d: &Daemon, id: &str) -> Vec<Value> {
    d.log_records()
        .into_iter()
        .filter(|r| {
            r["session"] == id
                && (r["event"] == "worktree_removed" || r["event"] == "worktree_kept")
        })
        .collect()
}

#[test]
fn a_worktree_session_outlives_a_daemon_crash_and_worktrees_prune_keeps_what_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let repo = git_repo(&dir.path().join("repo"));
    let gate = dir.path().join("gate");
    let mut d = Daemon::spawn_with_config(dir, socket, logs.clone(), CRASH_CONFIG, &[]);
    d.wait_ready();
    let workdir = repo.display().to_string();
    // Commits once the gate opens, after the daemon that started it died.
    let committer = format!(
        "echo started; while [ ! -e {} ]; do sleep 0.05; done; echo work > w.txt; \
         git add w.txt; git commit -qm work; echo done",
        gate.display()
    );
    d.baton(&[
        "spawn",
        "--id",
        "keeper",
        "--worktree",
        "--workdir",
        &workdir,
        "--",
        "sh",
        "-c",
        &committer,
    ]);
    // Leaves a file it never commits.
    d.baton(&[
        "spawn",
        "--id",
        "messy",
        "--worktree",
        "--workdir",
        &workdir,
        "--",
        "sh",
        "-c",
        "echo draft > draft.txt; echo done",
    ]);
    wait_until("keeper to have started", SLOW, || {
        (d.out_log("keeper") == b"started\n").then_some(())
    });
    assert_eq!(d.wait_terminal("messy")["state"], "completed");
    d.kill9_and_restart();
    std::fs::write(&gate, b"").unwrap();
    assert_eq!(
        d.wait_terminal("keeper")["state"],
        "completed",
        "{}",
        d.stderr_text()
    );
    let end = wait_until("keeper's worktree to be dealt with", SLOW, || {
        worktree_ends(&d, "keeper").pop()
    });
    // The next daemon knew the worktree from the log: removed, work on the branch.
    assert_eq!(end["event"], "worktree_removed", "{end}");
    assert_eq!(end["ahead"], 1);
    assert_eq!(end["files"], 1);
    let made: Vec<Value> = d
        .log_records()
        .into_iter()
        .filter(|r| r["session"] == "keeper" && r["event"] == "worktree")
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(git(&repo, &["show", "baton/keeper:w.txt"]), "work");
    let messy = wait_until("messy's worktree to be dealt with", SLOW, || {
        worktree_ends(&d, "messy").pop()
    });
    assert_eq!(messy["event"], "worktree_kept");
    assert_eq!(messy["reason"], "1 untracked file");

    let logs_arg = logs.display().to_string();
    let listed: Value = serde_json::from_slice(
        &d.baton(&["worktrees", "--logs-dir", &logs_arg, "--json"])
            .stdout,
    )
    .unwrap();
    let state_of = |listed: &Value, id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["session"] == id)
            .map(|r| {
                (
                    r["state"].as_str().unwrap().to_owned(),
                    r["ahead"].as_u64().unwrap(),
                )
            })
            .unwrap()
    };
    assert_eq!(state_of(&listed, "keeper"), ("removed".into(), 1));
    assert_eq!(state_of(&listed, "messy"), ("kept-dirty".into(), 0));
    // prune never takes work that is not committed…
    let messy_dir = repo.with_file_name("repo.baton-worktrees").join("messy");
    let pruned = text(
        &d.baton(&["worktrees", "prune", "--logs-dir", &logs_arg])
            .stdout,
    );
    assert!(
        pruned.contains("kept") && pruned.contains("1 untracked file"),
        "{pruned}"
    );
    assert_eq!(
        std::fs::read_to_string(messy_dir.join("draft.txt")).unwrap(),
        "draft\n"
    );
    // …and removes the worktree once it is, keeping the branch.
    git(&messy_dir, &["add", "draft.txt"]);
    git(&messy_dir, &["commit", "-qm", "draft"]);
    let pruned = text(
        &d.baton(&["worktrees", "prune", "--logs-dir", &logs_arg])
            .stdout,
    );
    assert!(
        pruned.contains(&format!("removed {}", messy_dir.display())),
        "{pruned}"
    );
    assert!(!messy_dir.exists());
    assert_eq!(git(&repo, &["show", "baton/messy:draft.txt"]), "draft");
    // The user's checkout never moved.
    assert_eq!(git(&repo, &["symbolic-ref", "--short", "HEAD"]), "main");
    assert_eq!(git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn sessions_that_ended_before_a_daemon_crash_are_still_shown_after_it() {
    let mut d = Daemon::start();
    d.spawn_steps(
        "done",
        &["--capability", "review"],
        &["print:finished the work", "exit:0"],
    );
    d.spawn_steps("broken", &[], &["print:oops", "exit:3"]);
    assert_eq!(d.wait_terminal("done")["state"], "completed");
    assert_eq!(d.wait_terminal("broken")["state"], "dead");
    let before: Vec<Value> = d.ps();
    d.kill9_and_restart();
    // The table a person, the dashboard and a lead see is the one before the crash.
    let after = d.ps();
    let row = |rows: &[Value], id: &str| rows.iter().find(|r| r["id"] == id).cloned().unwrap();
    for id in ["done", "broken"] {
        let (was, is) = (row(&before, id), row(&after, id));
        for field in [
            "state",
            "reason",
            "restarts",
            "attempt",
            "exit_code",
            "message",
            "capabilities",
            "backend",
            "out_bytes",
            "last_line",
            "evidence",
        ] {
            assert_eq!(
                was[field], is[field],
                "{id}.{field}: before {was} after {is}"
            );
        }
    }
    assert_eq!(
        row(&after, "done")["capabilities"],
        serde_json::json!(["review"])
    );
    // Its id is still taken, as it was before the crash.
    let again = d.try_baton(&["spawn", "--id", "done", "--", "true"]);
    assert_eq!(again.status.code(), Some(2), "{}", describe(&again));
    assert!(text(&again.stderr).contains("done"), "{}", describe(&again));
    // A stopped session cannot be answered or killed into anything else.
    assert_eq!(d.try_baton(&["kill", "done"]).status.code(), Some(0));
    let send = d.try_baton(&["send", "broken", "y", "--if-waiting"]);
    assert_eq!(send.status.code(), Some(1), "{}", describe(&send));
    // After a clean shutdown the next daemon starts with a clean table.
    d.baton(&["shutdown"]);
    assert_eq!(d.wait_exit().code(), Some(0));
    d.start_again(0);
    assert_eq!(d.ps(), Vec::<Value>::new());
}

/// The pid a stand-in's `escape-file` step wrote to `path`, once it is there.
fn pid_in(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Found by the chaos suite: a pty run dies with its daemon, and what it
/// had detached from its group (`setsid`) was left running for ever.
#[test]
fn what_a_run_detached_is_ended_after_the_daemon_that_started_it_died() {
    let mut d = Daemon::start();
    let pid_file = d.dir.path().join("escapee.pid");
    let escape = format!("escape-file:{}:60s", pid_file.display());
    d.spawn_steps(
        "pty-run",
        &["--backend", "pty"],
        &[&escape, "print:working", "sleep:60000ms"],
    );
    let escapee = wait_until("the escapee to start", SLOW, || pid_in(&pid_file));
    assert!(!pid_is_gone(escapee));
    d.kill9_and_restart();
    wait_until("the escapee to be ended", SLOW, || {
        pid_is_gone(escapee).then_some(())
    });
    let _ = d.baton(&["kill", "pty-run"]);
}

/// The same, when the daemon died before the pty run's `spawn` was
/// recorded (behind a flaky run of the test above): the next daemon knows
/// nothing of that run's pid, and starts the same attempt again — after
/// ending what carries the mark of that attempt. The run is recorded once,
/// by the next daemon. (A daemon's pipes run is a shim's, taken over.)
#[test]
fn what_a_run_detached_is_ended_when_its_spawn_was_never_recorded() {
    let mut d = Daemon::with_fault(CONFIG, "run_unrecorded");
    let pid_file = d.dir.path().join("escapee.pid");
    let escape = format!("escape-file:{}:60s", pid_file.display());
    d.spawn_steps(
        "lost",
        &["--backend", "pty"],
        &[&escape, "print:working", "sleep:60000ms"],
    );
    let escapee_pid = || pid_in(&pid_file);
    let escapee = wait_until("the escapee to start", SLOW, escapee_pid);
    d.wait_fault_kill();
    assert!(!pid_is_gone(escapee), "the escapee outlived its daemon");
    let spawns = |d: &Daemon| {
        let records = d.records_of("lost");
        records
            .iter()
            .filter(|r| r["event"] == "spawn")
            .map(|r| r["attempt"].as_u64())
            .collect::<Vec<_>>()
    };
    assert_eq!(spawns(&d), [], "no spawn on record");
    std::fs::remove_file(&pid_file).unwrap();
    d.start_again(1);
    wait_until("the escapee to be ended", SLOW, || {
        pid_is_gone(escapee).then_some(())
    });
    // The attempt starts again and detaches its own escapee, which the
    // sweep before it did not touch.
    let again = wait_until("the new run's escapee", SLOW, escapee_pid);
    assert_ne!(again, escapee);
    d.wait_state("lost", "healthy");
    assert_eq!(spawns(&d), [Some(1)]);
    assert!(!pid_is_gone(again), "the new run's own process");
    let _ = d.baton(&["kill", "lost"]);
    wait_until("the new escapee to be ended with its run", SLOW, || {
        pid_is_gone(again).then_some(())
    });
}

/// `spawn --file`: the host is the daemon's to check (its `--config`
/// inventory, not the client's hosts file), and a refusal still names the
/// file and line; tables a session file cannot hold are refused, naming
/// them; nothing is started by a refused file.
#[test]
fn a_session_file_names_a_host_of_the_daemon_and_holds_nothing_but_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    // A host nobody answers on: the spawn is accepted; what becomes of the
    // session is not this test's business.
    let config = format!("{CONFIG}[hosts.box]\naddress = \"127.0.0.1\"\nport = 9\n");
    let mut d = Daemon::spawn_with_config(dir, socket, logs, &config, &[]);
    d.wait_ready();
    let file = d.dir.path().join("s.toml");
    let session = |host: &str, extra: &str| {
        format!("[session]\nid = \"far\"\ncommand = [\"true\"]\nhost = \"{host}\"\n{extra}")
    };
    std::fs::write(&file, session("nowhere", "")).unwrap();
    let out = d.try_baton(&["spawn", "--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("s.toml:4") && stderr.contains("not in the hosts inventory"),
        "{stderr}"
    );
    for (table, named) in [
        ("[agents.claude]\nbin = \"/opt/other-claude\"\n", "`agents`"),
        ("[conductor]\nmax_restarts = 9\n", "`conductor`"),
    ] {
        std::fs::write(&file, session("box", table)).unwrap();
        let out = d.try_baton(&["spawn", "--file", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(named) && stderr.contains("s.toml:5") && stderr.contains("--config"),
            "{stderr}"
        );
    }
    // A backend is the daemon's to know too: the client checks only the
    // name's form, the daemon refuses one it has not registered, with the
    // line and the names it has.
    std::fs::write(
        &file,
        "[session]\nid = \"vm\"\ncommand = [\"true\"]\nbackend = \"tmx\"\n",
    )
    .unwrap();
    let out = d.try_baton(&["spawn", "--file", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("s.toml:4")
            && stderr.contains("\"tmx\", which is no backend here")
            && stderr.contains("did you mean `tmux`?"),
        "{stderr}"
    );
    assert!(d.ps().is_empty(), "a refused file starts nothing");

    std::fs::write(&file, session("box", "")).unwrap();
    let out = d.baton(&["spawn", "--file", file.to_str().unwrap()]);
    assert_eq!(text(&out.stdout).trim(), "far");
    let far = d.session("far").expect("the session");
    assert_eq!(far["host"], "box", "{far}");
}

/// `--env KEY` takes the value from the caller's environment and
/// `--env-file` from a file, so a secret never rides on the client's
/// command line; a KEY that is not set is an error naming it.
#[test]
fn env_values_come_from_the_callers_environment_or_a_file() {
    let d = Daemon::start();
    let env_file = d.dir.path().join("session.env");
    std::fs::write(
        &env_file,
        "# for the worker\nFROM_FILE=file value\nOVERRIDDEN=from the file\n",
    )
    .unwrap();
    let stand_in = stand_in();
    let out = Running::start({
        let mut cmd = d.client(&[
            "spawn",
            "--id",
            "envy",
            "--env",
            "SECRET_TOKEN",
            "--env-file",
            env_file.to_str().unwrap(),
            "--env",
            "OVERRIDDEN=from the flag",
            "--",
            &stand_in,
            "env:SECRET_TOKEN",
            "env:FROM_FILE",
            "env:OVERRIDDEN",
        ]);
        cmd.env("SECRET_TOKEN", "hunter2 from the caller");
        cmd
    })
    .output(CLIENT);
    assert!(out.status.success(), "{}", describe(&out));
    d.wait_state("envy", "completed");
    assert_eq!(
        text(&d.out_log("envy")),
        "SECRET_TOKEN=hunter2 from the caller\nFROM_FILE=file value\nOVERRIDDEN=from the flag\n"
    );

    let out = d.try_baton(&["spawn", "--env", "BATON_TEST_UNSET_KEY", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("`BATON_TEST_UNSET_KEY` is not set"),
        "{}",
        describe(&out)
    );
    std::fs::write(&env_file, "GOOD=1\nnot a line\n").unwrap();
    let out = d.try_baton(&[
        "spawn",
        "--env-file",
        env_file.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("session.env:2"),
        "{}",
        describe(&out)
    );
    assert_eq!(d.ps().len(), 1, "only envy was started");
}

/// `[hosts.NAME]` for a test host, as a daemon's config reads it.
fn host_table(name: &str, host: &baton_config::HostConfig) -> String {
    let quoted = |s: &str| serde_json::Value::from(s).to_string();
    let options: Vec<String> = host.ssh_options.iter().map(|o| quoted(o)).collect();
    format!(
        "[hosts.{name}]\naddress = {address}\nuser = \"root\"\nport = {port}\n\
         identity = {identity}\nssh_options = [{options}]\n",
        address = quoted(&host.address),
        port = host.port,
        identity = quoted(&host.identity.as_ref().expect("a key").display().to_string()),
        options = options.join(", "),
    )
}

/// The daemon dies (SIGKILL, by the fault point `fault`) right after it
/// created the session's tmux pane — locally or on a host — and before it
/// recorded the run's `spawn`. The next daemon takes that pane over: one
/// `spawn` record, the run's output once in the log, its real exit status,
/// no second run and no `spawn_error`.
fn a_pane_whose_spawn_was_never_recorded_is_taken_over(fault: &str, config: &str, place: &[&str]) {
    let config = format!("{CONFIG}{config}");
    let mut d = Daemon::with_fault(&config, fault);
    let stand_in = stand_in();
    let mut args = vec!["spawn", "--id", "lost"];
    args.extend_from_slice(place);
    args.extend(["--", &stand_in, "lines:30:20ms", "exit:0"]);
    // The daemon may die before it answers.
    let _ = d.try_baton(&args);
    d.wait_fault_kill();
    d.start_again(1);
    let end = d.wait_terminal("lost");
    assert_eq!(end["state"], "completed", "{end}\n{}", d.stderr_text());
    let records = d.records_of("lost");
    let kinds: Vec<&str> = records.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "spawn").count(),
        1,
        "{records:#?}"
    );
    assert!(!kinds.contains(&"spawn_error"), "{records:#?}");
    let exits: Vec<&Value> = records.iter().filter(|r| r["event"] == "exit").collect();
    assert_eq!(exits.len(), 1, "{records:#?}");
    assert_eq!(exits[0]["code"], 0, "{records:#?}");
    let log = text(&d.out_log("lost"));
    let lines: Vec<&str> = log.lines().map(|l| l.trim_end_matches('\r')).collect();
    let want: Vec<String> = (1..=30).map(|n| format!("line {n}")).collect();
    assert_eq!(lines, want, "the run's output, once:\n{log}");
}

#[test]
fn a_tmux_pane_whose_spawn_was_never_recorded_is_taken_over() {
    a_pane_whose_spawn_was_never_recorded_is_taken_over(
        "tmux_pane_created",
        "",
        &["--backend", "tmux"],
    );
}

#[test]
fn a_remote_pane_whose_spawn_was_never_recorded_is_taken_over() {
    let Some(sshd) = baton_testhost::Sshd::loopback() else {
        return;
    };
    a_pane_whose_spawn_was_never_recorded_is_taken_over(
        "remote_pane_created",
        &host_table("lo", &sshd.host_config("lo")),
        &["--host", "lo"],
    );
}

/// The tmux server under a recorded run is killed while no daemon watches
/// (the daemon SIGKILLed first). The next daemon does not start that
/// attempt again: the run ended unseen (status unknown, a crash), and the
/// restart is the next attempt.
fn a_recorded_pane_gone_with_its_server_is_an_ended_run(
    config: &str,
    place: &[&str],
    tmux_dir: Option<&Path>,
) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let config = format!("{CONFIG}{config}");
    let mut d = Daemon::spawn_with_config(dir, socket, logs, &config, &[]);
    d.wait_ready();
    let stand_in = stand_in();
    let mut args = vec!["spawn", "--id", "gone"];
    args.extend_from_slice(place);
    args.extend(["--", &stand_in, "lines:60:50ms", "exit:0"]);
    d.baton(&args);
    d.wait_state("gone", "healthy");
    let spawn = d
        .log_records()
        .into_iter()
        .find(|r| r["event"] == "spawn")
        .expect("the run's spawn");
    let server = spawn["tmux"]["server"]
        .as_str()
        .expect("its tmux server")
        .to_owned();
    // On a host (the loopback sshd: this machine, as this user), the run's
    // output file outlives its server: all it wrote, fetched or not.
    let host_file = tmux_dir.map(|_| {
        let marker = spawn["tmux"]["marker"].as_str().expect("its marker");
        baton_testhost::login_home()
            .join(".baton")
            .join(&server)
            .join(format!("baton-gone.{marker}.log"))
    });
    let mut child = d.child.take().expect("a daemon");
    signal(child.id(), libc::SIGKILL);
    let _ = child.wait();
    if let Some(file) = &host_file {
        // The agent writes on meanwhile, where no daemon fetches it: a few
        // lines more there than here.
        let fetched = d.out_log("gone").len() as u64;
        wait_until("lines no daemon fetched", SLOW, || {
            let len = std::fs::metadata(file).map_or(0, |m| m.len());
            (len > fetched + 3 * "line NN\r\n".len() as u64).then_some(())
        });
    }
    let mut tmux = Command::new("tmux");
    tmux.args(["-L", &server, "kill-server"]).env_remove("TMUX");
    if let Some(dir) = tmux_dir {
        tmux.env("TMUX_TMPDIR", dir);
    }
    let killed = tmux.output().expect("tmux");
    assert!(killed.status.success(), "{killed:?}");
    let on_host = host_file
        .map(|file| std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())));
    d.start_again(1);
    let end = d.wait_terminal("gone");
    assert_eq!(end["state"], "completed", "{end}\n{}", d.stderr_text());
    let spawns: Vec<(u64, u64)> = d
        .log_records()
        .into_iter()
        .filter(|r| r["session"] == "gone" && r["event"] == "spawn")
        .filter_map(|r| Some((r["attempt"].as_u64()?, r["out_offset"].as_u64()?)))
        .collect();
    let attempts: Vec<u64> = spawns.iter().map(|s| s.0).collect();
    assert_eq!(attempts, [1, 2], "{}", d.stderr_text());
    if let Some(wrote) = on_host {
        // Nothing it wrote before its server died is lost, and its slice
        // is its own.
        let log = d.out_log("gone");
        let first = &log[..spawns[1].1 as usize];
        assert_eq!(text(first), text(&wrote), "the first run's slice");
    }
}

#[test]
fn a_recorded_tmux_pane_gone_with_its_server_is_an_ended_run() {
    a_recorded_pane_gone_with_its_server_is_an_ended_run("", &["--backend", "tmux"], None);
}

#[test]
fn a_recorded_remote_pane_gone_with_its_server_is_an_ended_run() {
    let Some(sshd) = baton_testhost::Sshd::loopback() else {
        return;
    };
    a_recorded_pane_gone_with_its_server_is_an_ended_run(
        &host_table("lo", &sshd.host_config("lo")),
        &["--host", "lo"],
        Some(sshd.tmux_dir()),
    );
}

/// The daemon dies between creating a tmux pane and recording its `spawn`,
/// and the tmux server dies too before the next daemon looks (after the
/// agent ended). The run file the pane's shim wrote itself into lets the
/// next daemon record that run — its output is its own slice of the log,
/// its end is read from the shim's marker (which is cut off the log) — and
/// the attempt is not started a second time.
#[test]
fn a_lost_tmux_run_whose_pane_is_gone_is_recorded_not_started_again() {
    let mut d = Daemon::with_fault(CONFIG, "tmux_pane_created");
    let stand_in = stand_in();
    let _ = d.try_baton(&[
        "spawn",
        "--id",
        "vanished",
        "--backend",
        "tmux",
        "--",
        &stand_in,
        "lines:5:10ms",
        "exit:0",
    ]);
    d.wait_fault_kill();
    // The agent ends (the shim's marker is in the log), then its server goes.
    wait_until("the run's end marker in its log", SLOW, || {
        let log = d.out_log("vanished");
        log.windows(11).any(|w| w == b"baton-done;").then_some(())
    });
    let server = baton_core::proc::TmuxServer::for_logs_dir(&d.logs);
    let killed = Command::new("tmux")
        .args(["-L", server.name(), "kill-server"])
        .env_remove("TMUX")
        .output()
        .expect("tmux");
    assert!(killed.status.success(), "{killed:?}");
    d.start_again(1);
    let end = d.wait_terminal("vanished");
    assert_eq!(end["state"], "completed", "{end}\n{}", d.stderr_text());
    let records = d.records_of("vanished");
    let spawns: Vec<&Value> = records.iter().filter(|r| r["event"] == "spawn").collect();
    assert_eq!(spawns.len(), 1, "{records:#?}");
    assert_eq!(spawns[0]["attempt"], 1);
    assert_eq!(spawns[0]["out_offset"], 0);
    let exits: Vec<&Value> = records.iter().filter(|r| r["event"] == "exit").collect();
    assert_eq!(exits.len(), 1, "{records:#?}");
    assert_eq!(exits[0]["code"], 0, "{records:#?}");
    let log = text(&d.out_log("vanished"));
    assert_eq!(
        log, "line 1\r\nline 2\r\nline 3\r\nline 4\r\nline 5\r\n",
        "the run's output once, without the marker"
    );
}

/// The daemon dies right after creating the pane of a restart (attempt 2),
/// before recording its `spawn`; attempt 1's `exit` is the last run record
/// in the log. The next daemon does not finish attempt 1 a second time: it
/// takes attempt 2's pane over, and every attempt is recorded once, with
/// its own output as its slice of the log.
#[test]
fn a_restart_whose_spawn_was_never_recorded_is_not_taken_for_the_run_before() {
    let config = "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\nmax_restarts = 2\n\
                  [probe]\nstall_after = \"300ms\"\n";
    let mut d = Daemon::with_fault(config, "tmux_pane_created@2");
    let stand_in = stand_in();
    d.baton(&[
        "spawn",
        "--id",
        "again",
        "--backend",
        "tmux",
        "--",
        &stand_in,
        "lines:3",
        "exit:3",
    ]);
    d.wait_fault_kill();
    d.start_again(1);
    let end = d.wait_terminal("again");
    assert_eq!(end["state"], "dead", "{end}\n{}", d.stderr_text());
    let records = d.records_of("again");
    let spawns: Vec<(u64, u64)> = records
        .iter()
        .filter(|r| r["event"] == "spawn")
        .filter_map(|r| Some((r["attempt"].as_u64()?, r["out_offset"].as_u64()?)))
        .collect();
    let attempts: Vec<u64> = spawns.iter().map(|(a, _)| *a).collect();
    assert_eq!(attempts, [1, 2, 3], "{records:#?}");
    let exits = records.iter().filter(|r| r["event"] == "exit").count();
    assert_eq!(exits, 3, "{records:#?}");
    let log = d.out_log("again");
    let run = "line 1\r\nline 2\r\nline 3\r\n";
    for (i, (_, from)) in spawns.iter().enumerate() {
        let to = spawns.get(i + 1).map_or(log.len() as u64, |(_, o)| *o);
        let slice = String::from_utf8_lossy(&log[*from as usize..to as usize]).into_owned();
        assert_eq!(slice, run, "attempt {}", i + 1);
    }
}

/// The chaos long form's finding (seed 1796614271930770430), on purpose:
/// the daemon dies right after creating the pane of a remote restart
/// (attempt 2), before recording its `spawn`; the next daemon's first try
/// meets a cut link (that attempt fails unreachable), and the try after it
/// finds attempt 2's pane still running. That pane is a run no record
/// knows: it is taken over under a `spawn` recorded then — not continued as
/// the run before it, whose slice of the log its bytes would join.
/// A daemon whose remote session `late` has a pane of attempt 2 that no
/// `spawn` records (the daemon died right after making it), started again
/// with the host's link cut: it waits `remote_unreachable`. Attempt 2 prints
/// `working`, then waits for the file `gate` before `done`.
fn an_unrecorded_pane_behind_a_cut_link(host: &baton_testhost::NetnsHost) -> (Daemon, PathBuf) {
    let config = format!(
        "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\nmax_restarts = 10\n\
         [probe]\nstall_after = \"300ms\"\n{}remote_timeout = \"3s\"\n",
        host_table("far", &host.host_config("far"))
    );
    let mut d = Daemon::with_fault(&config, "remote_pane_created@2");
    let gate = d.dir.path().join("gate");
    let stand_in = stand_in();
    let gate_step = format!("wait-file:{}", gate.display());
    d.baton(&[
        "spawn",
        "--id",
        "late",
        "--host",
        "far",
        "--",
        &stand_in,
        "env:BATON_ATTEMPT",
        "fail-before-attempt:2",
        "print:working",
        &gate_step,
        "print:done",
        "exit:0",
    ]);
    d.wait_fault_kill();
    host.cut_link();
    d.start_again(1);
    wait_until("a start that met the cut link", SLOW, || {
        d.records_of("late")
            .into_iter()
            .find(|r| r["event"] == "state" && r["reason"] == "remote_unreachable")
    });
    (d, gate)
}

#[test]
fn an_unrecorded_remote_run_found_by_a_later_attempt_is_recorded_as_its_own() {
    let Some(host) = baton_testhost::NetnsHost::new() else {
        return;
    };
    let (d, gate) = an_unrecorded_pane_behind_a_cut_link(&host);
    host.restore_link();
    std::fs::write(&gate, b"").unwrap();
    let end = d.wait_terminal("late");
    assert_eq!(end["state"], "completed", "{end}\n{}", d.stderr_text());
    let records = d.records_of("late");
    let spawns: Vec<(u64, u64)> = records
        .iter()
        .filter(|r| r["event"] == "spawn")
        .filter_map(|r| Some((r["attempt"].as_u64()?, r["out_offset"].as_u64()?)))
        .collect();
    assert_eq!(spawns.len(), 2, "{records:#?}");
    assert_eq!(spawns[0], (1, 0), "{records:#?}");
    assert!(
        spawns[1].0 > 2,
        "a later attempt took it over: {records:#?}"
    );
    let log = d.out_log("late");
    let (_, second) = spawns[1];
    let first = text(&log[..second as usize]);
    assert!(
        first.starts_with("BATON_ATTEMPT=1\r\n") && !first.contains("working"),
        "attempt 1's slice is its own output: {first:?}"
    );
    assert_eq!(
        text(&log[second as usize..]),
        "BATON_ATTEMPT=2\r\nworking\r\ndone\r\n",
        "the unrecorded run's output, every byte, in its own slice"
    );
    let exits: Vec<&Value> = records.iter().filter(|r| r["event"] == "exit").collect();
    assert_eq!(exits.last().map(|e| &e["code"]), Some(&Value::from(0)));
}

/// The rest of the chaos long form's finding (seed 1796622510206177848):
/// the session with attempt 2's unrecorded pane on its host is killed while
/// it waits for the host. Once the host answers, that pane is ended and
/// what it wrote is kept — not in `late.out.log`, where it would join
/// attempt 1's slice, but beside it, in the file named by its nonce.
#[test]
fn an_unrecorded_remote_run_left_when_its_session_is_killed_keeps_its_bytes_apart() {
    let Some(host) = baton_testhost::NetnsHost::new() else {
        return;
    };
    let (d, _gate) = an_unrecorded_pane_behind_a_cut_link(&host);
    let marker = std::fs::read_to_string(d.logs.join("late.remote")).unwrap();
    let nonce = marker.lines().next().unwrap().to_owned();
    d.baton(&["kill", "late"]);
    let end = d.wait_terminal("late");
    assert_eq!(
        (&end["state"], &end["reason"]),
        (&Value::from("dead"), &Value::from("user_kill")),
        "{end}"
    );
    host.restore_link();
    wait_until("the left pane ended", SLOW, || {
        (!d.logs.join("late.remote").exists()).then_some(())
    });
    let records = d.records_of("late");
    let spawns = records.iter().filter(|r| r["event"] == "spawn").count();
    assert_eq!(spawns, 1, "{records:#?}");
    let log = text(&d.out_log("late"));
    assert!(
        log.starts_with("BATON_ATTEMPT=1\r\n") && !log.contains("working"),
        "attempt 1's slice is its own output: {log:?}"
    );
    let kept = d.logs.join(format!("late.unrecorded-{nonce}.out.log"));
    assert_eq!(
        text(&std::fs::read(&kept).unwrap_or_default()),
        "BATON_ATTEMPT=2\r\nworking\r\n",
        "the unrecorded run's output, kept whole beside the log"
    );
}

/// What a PTY session that prints `ready`, floods `size` bytes and prints
/// `end` leaves in its output log: the terminal turns each `\n` into `\r\n`.
fn pty_flood_output(size: u64) -> Vec<u8> {
    let mut plain = b"ready\n".to_vec();
    for chunk in stand_in_agent::flood_bytes(size) {
        plain.extend_from_slice(chunk);
    }
    plain.extend_from_slice(b"end\n");
    on_pty(&plain)
}

/// What a PTY passes on of `plain`: each `\n` as `\r\n`.
fn on_pty(plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(plain.len() * 102 / 100);
    for b in plain {
        if *b == b'\n' {
            out.push(b'\r');
        }
        out.push(*b);
    }
    out
}

/// A daemon with `max_log_size = 64KiB` (and `keep`), and a PTY session
/// `flood` that prints `ready`, waits for `gate`, floods 2 MiB + 7 and
/// prints `end`.
fn rolling_daemon(keep: Option<u32>) -> (Daemon, PathBuf, u64) {
    rolling_daemon_on(keep, "pty")
}

/// [`rolling_daemon`] with the session on `backend`.
fn rolling_daemon_on(keep: Option<u32>, backend: &str) -> (Daemon, PathBuf, u64) {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let keep = keep.map_or_else(String::new, |k| format!("keep_segments = {k}\n"));
    let config = format!(
        "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\nmax_log_size = \"64KiB\"\n{keep}\
         [probe]\nstall_after = \"300ms\"\n"
    );
    let mut d = Daemon::spawn_with_config(dir, socket, logs, &config, &[]);
    d.wait_ready();
    let size = 2 * 1024 * 1024 + 7;
    let gate_step = format!("wait-file:{}", gate.display());
    let flood_step = format!("flood:{size}");
    d.spawn_steps(
        "flood",
        &["--backend", backend],
        &[
            "print:ready",
            &gate_step,
            &flood_step,
            "print:end",
            "exit:0",
        ],
    );
    (d, gate, size)
}

/// Issue 13: an output log past `max_log_size` rolls over into segments,
/// and every reader follows it across them: `logs` and `logs -f` give every
/// byte once, in order (checked by checksum), `--tail` finds the last lines.
#[test]
fn a_flood_rolls_its_log_over_and_readers_follow_every_byte_across_the_segments() {
    let (d, gate, size) = rolling_daemon(None);
    wait_until("the ready line", SLOW, || {
        d.out_log("flood").starts_with(b"ready").then_some(())
    });
    let mut follower = d.piped(&["logs", "-f", "flood"]);
    assert_eq!(follower.read_exact(7), b"ready\r\n");
    std::fs::write(&gate, "").unwrap();
    let end = d.wait_terminal("flood");
    assert_eq!(end["state"], "completed", "{end}");
    let expected = pty_flood_output(size);

    let segments = baton_core::seglog::segments(&d.logs.join("flood.out.log")).unwrap();
    assert!(
        segments.len() as u64 >= expected.len() as u64 / 65536,
        "{} segments for {} bytes",
        segments.len(),
        expected.len()
    );
    assert!(segments.iter().all(|s| s.len <= 65536), "{segments:?}");

    let (status, rest, err) = follower.finish(SLOW);
    assert!(status.success(), "status {status:?}, stderr {err}");
    let mut followed = b"ready\r\n".to_vec();
    followed.extend_from_slice(&rest);
    assert_eq!(sha(&followed), sha(&expected), "logs -f: {err}");

    let whole = d.baton(&["logs", "flood"]);
    assert_eq!(sha(&whole.stdout), sha(&expected), "logs");
    let tail = d.baton(&["logs", "flood", "--tail", "2"]);
    let last_two = expected
        .iter()
        .rev()
        .skip(1)
        .position(|b| *b == b'\n')
        .and_then(|i| {
            let from = expected.len() - 1 - i;
            expected[..from - 1].iter().rposition(|b| *b == b'\n')
        })
        .map(|i| &expected[i + 1..])
        .unwrap();
    assert_eq!(text(&tail.stdout), text(last_two), "logs --tail 2");
    assert!(text(last_two).ends_with("end\r\n"));
    // The offsets of the spawn record are global: the run began at 0.
    let spawn = d
        .records_of("flood")
        .into_iter()
        .find(|r| r["event"] == "spawn")
        .unwrap();
    assert_eq!(spawn["out_offset"], 0);
    let row = d.session("flood").unwrap();
    assert_eq!(row["out_bytes"], expected.len() as u64, "{row}");
}

/// Issue 13: with `keep_segments`, the oldest segments go, and a reader
/// asking for their bytes is told how many are gone and gets the rest.
#[test]
fn retention_deletes_old_segments_and_a_reader_is_told_what_is_gone() {
    let (d, gate, size) = rolling_daemon(Some(3));
    std::fs::write(&gate, "").unwrap();
    let end = d.wait_terminal("flood");
    assert_eq!(end["state"], "completed", "{end}");
    let expected = pty_flood_output(size);
    let path = d.logs.join("flood.out.log");
    let segments = baton_core::seglog::segments(&path).unwrap();
    assert_eq!(
        segments.len(),
        4,
        "three finished and the active one: {segments:?}"
    );
    let first = segments[0].start;
    assert!(first > 0);
    let whole = d.baton(&["logs", "flood"]);
    assert!(whole.status.success(), "{}", describe(&whole));
    assert_eq!(
        sha(&whole.stdout),
        sha(&expected[first as usize..]),
        "what is kept, every byte"
    );
    assert!(
        text(&whole.stderr).contains(&format!("baton: {first} bytes of output are gone")),
        "{}",
        text(&whole.stderr)
    );
    let row = d.session("flood").unwrap();
    assert_eq!(
        row["out_bytes"],
        expected.len() as u64,
        "counted from the first byte ever written"
    );
}

/// Issue 13: a daemon's `pipes` session writes its logs through the shim's
/// writers, which roll them over: `logs -f` and `logs` give every byte.
#[test]
fn a_daemon_pipes_session_rolls_its_log_over_through_the_shim_writers() {
    let (d, gate, size) = rolling_daemon_on(None, "pipes");
    wait_until("the ready line", SLOW, || {
        d.out_log("flood").starts_with(b"ready").then_some(())
    });
    let mut follower = d.piped(&["logs", "-f", "flood"]);
    assert_eq!(follower.read_exact(6), b"ready\n");
    std::fs::write(&gate, "").unwrap();
    let end = d.wait_terminal("flood");
    assert_eq!(end["state"], "completed", "{end}");
    let mut expected = b"ready\n".to_vec();
    for chunk in stand_in_agent::flood_bytes(size) {
        expected.extend_from_slice(chunk);
    }
    expected.extend_from_slice(b"end\n");
    let segments = baton_core::seglog::segments(&d.logs.join("flood.out.log")).unwrap();
    assert!(segments.len() > 32, "{} segments", segments.len());
    let (status, rest, err) = follower.finish(SLOW);
    assert!(status.success(), "status {status:?}, stderr {err}");
    let mut followed = b"ready\n".to_vec();
    followed.extend_from_slice(&rest);
    assert_eq!(sha(&followed), sha(&expected), "logs -f: {err}");
    let whole = d.baton(&["logs", "flood"]);
    assert_eq!(sha(&whole.stdout), sha(&expected), "logs");
    let spawn = d
        .records_of("flood")
        .into_iter()
        .find(|r| r["event"] == "spawn")
        .unwrap();
    assert_eq!(spawn["shim"], true, "{spawn}");
}

/// A daemon session's output is read as it is written, across a roll-over
/// too: its follower wakes on the writes (a file watch, moved to the next
/// file when the writer closes the last one), so what a session writes
/// after its log rolled over shows in `ps` at once — though a watched log
/// is read again unprompted only every few seconds. The shim's writer
/// pauses between the two files (pause point `log_roll_slow`), so the
/// follower has read the first to its end before the next one exists.
#[test]
fn output_written_after_a_roll_over_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (rolled, more) = (dir.path().join("roll"), dir.path().join("more"));
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    // No quiet-spell glance at its screen, which would read the logs too.
    let config = "[conductor]\ngrace = \"2s\"\nmax_log_size = \"64KiB\"\n\
                  [probe]\nstall_after = \"1h\"\ninput_wait_after = \"1h\"\n";
    let env = [("BATON_FAULT", "log_roll_slow")];
    let mut d = Daemon::spawn_with_env(dir, socket, logs, config, &env);
    d.wait_ready();
    // Past the first file by a little: the rest goes into the next one.
    let flood = 64 * 1024 + 100;
    let (roll_step, more_step) = (
        format!("wait-file:{}", rolled.display()),
        format!("wait-file:{}", more.display()),
    );
    let flood_step = format!("flood:{flood}");
    d.spawn_steps(
        "roller",
        &["--backend", "pipes"],
        &[
            "print:ready",
            &roll_step,
            &flood_step,
            &more_step,
            "print:after the roll-over",
            "stall",
        ],
    );
    let seen = |bytes: u64| move |row: Value| (row["out_bytes"] == bytes).then_some(row);
    wait_until("the ready line in ps", SLOW, || {
        d.session("roller").and_then(seen(6))
    });
    std::fs::write(&rolled, "").unwrap();
    let path = d.logs.join("roller.out.log");
    let on_disk = |want: u64| {
        let segments = baton_core::seglog::segments(&path).unwrap_or_default();
        let len: u64 = segments.iter().map(|s| s.len).sum();
        (segments.len() >= 2 && len == want).then_some(())
    };
    wait_until("the flood on disk, rolled over", SLOW, || {
        on_disk(6 + flood)
    });
    // Well under the watched logs' unprompted read (5 s).
    const AT_ONCE: Duration = Duration::from_secs(3);
    wait_until("the flood's end, in the next file, in ps", AT_ONCE, || {
        d.session("roller").and_then(seen(6 + flood))
    });
    std::fs::write(&more, "").unwrap();
    let after = 6 + flood + "after the roll-over\n".len() as u64;
    wait_until("the line after it on disk", SLOW, || on_disk(after));
    let row = wait_until("the line after it in ps", AT_ONCE, || {
        d.session("roller").and_then(seen(after))
    });
    let last = row["last_line"].as_str().unwrap_or_default();
    assert!(last.ends_with("after the roll-over"), "{row}");
}

/// Issue 13: the daemon's event log rolls over too. A daemon SIGKILLed at
/// its first roll-over (fault point `events_rolled`) loses no record; the
/// next one goes on in a new segment; `events --since` a seq in an old
/// segment, and `replay` of the logs directory, read across them.
#[test]
fn the_daemons_event_log_rolls_over_and_readers_follow_it() {
    let config = "[conductor]\ngrace = \"2s\"\nbackoff = \"5ms\"\nbackoff_max = \"5ms\"\n\
                  max_restarts = 120\nmax_log_size = \"64KiB\"\n\
                  [probe]\nstall_after = \"300ms\"\n";
    let mut d = Daemon::with_fault(config, "events_rolled");
    let stand_in = stand_in();
    d.baton(&[
        "spawn", "--id", "looper", "--", &stand_in, "print:x", "exit:1",
    ]);
    d.wait_fault_kill();
    let path = d.logs.join("events.jsonl");
    assert!(
        !path.exists(),
        "killed between the rename and the next segment"
    );
    d.start_again(1);
    let end = d.wait_terminal("looper");
    assert_eq!(end["state"], "dead", "{end}");
    let segments = baton_core::seglog::segments(&path).unwrap();
    assert!(segments.len() >= 2, "{segments:?}");
    let records = d.log_records();
    let seqs: Vec<u64> = records.iter().filter_map(|r| r["seq"].as_u64()).collect();
    let last = *seqs.last().unwrap();
    assert_eq!(
        seqs,
        (1..=last).collect::<Vec<u64>>(),
        "dense, across segments"
    );
    let spawns = records
        .iter()
        .filter(|r| r["session"] == "looper" && r["event"] == "spawn")
        .count();
    assert_eq!(spawns, 121, "every run recorded once");

    let since = segments[0].start + 3;
    let out = d.baton(&["events", "--since", &since.to_string(), "--json"]);
    let got: Vec<u64> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["seq"].as_u64())
        .collect();
    assert_eq!(got.first(), Some(&(since + 1)), "{}", describe(&out));
    assert_eq!(got.len() as u64, last - since);

    let replay = d.baton(&["replay", &d.logs.display().to_string(), "--json"]);
    let table: Vec<Value> = serde_json::from_slice(&replay.stdout).unwrap();
    let row = table.iter().find(|r| r["id"] == "looper").unwrap();
    assert_eq!(row["state"], "dead", "{row}");
    assert_eq!(row["restarts"], 120, "{row}");
}

/// Issue 13: the daemon SIGKILLed in the middle of rolling a PTY session's
/// log over (fault point `log_rolled`: the file became segment 0, the next
/// is not made) loses nothing it had written; the next daemon repairs the
/// log, and the restarted run's bytes follow at the offset its `spawn`
/// records.
#[test]
fn a_daemon_killed_mid_roll_over_loses_no_byte_it_wrote() {
    let config = "[conductor]\ngrace = \"2s\"\nbackoff = \"50ms\"\nmax_log_size = \"64KiB\"\n\
                  [probe]\nstall_after = \"300ms\"\n";
    let mut d = Daemon::with_fault(config, "log_rolled");
    let size = 512 * 1024;
    let flood_step = format!("flood:{size}");
    d.spawn_steps("roller", &["--backend", "pty"], &[&flood_step, "exit:0"]);
    d.wait_fault_kill();
    let path = d.logs.join("roller.out.log");
    let first = baton_core::seglog::segment_path(&path, 0);
    assert_eq!(std::fs::metadata(&first).unwrap().len(), 65536);
    d.start_again(1);
    let end = d.wait_terminal("roller");
    assert_eq!(end["state"], "completed", "{end}");
    let expected = {
        let mut plain = Vec::new();
        for chunk in stand_in_agent::flood_bytes(size) {
            plain.extend_from_slice(chunk);
        }
        on_pty(&plain)
    };
    let offsets: Vec<u64> = d
        .records_of("roller")
        .iter()
        .filter(|r| r["event"] == "spawn")
        .filter_map(|r| r["out_offset"].as_u64())
        .collect();
    assert_eq!(
        offsets,
        [0, 65536],
        "the next run starts after every byte written"
    );
    let log = baton_core::seglog::read_from(&path, 0, u64::MAX).unwrap();
    assert_eq!(&log[..65536], &expected[..65536], "the first run's bytes");
    assert_eq!(sha(&log[65536..]), sha(&expected), "the second run, whole");
}

/// Issue 13: with `keep_segments`, the daemon deletes event segments once
/// the sessions in them have ended (never before), and readers asking for
/// those records are told they are gone.
#[test]
fn deleted_event_segments_are_reported_to_readers() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/baton.sock");
    let logs = dir.path().join("logs");
    let config = "[conductor]\ngrace = \"2s\"\nbackoff = \"5ms\"\nbackoff_max = \"5ms\"\n\
                  max_restarts = 80\nmax_log_size = \"64KiB\"\nkeep_segments = 1\n\
                  [probe]\nstall_after = \"300ms\"\n";
    let mut d = Daemon::spawn_with_config(dir, socket, logs, config, &[]);
    d.wait_ready();
    let stand_in = stand_in();
    d.baton(&[
        "spawn", "--id", "first", "--", &stand_in, "print:x", "exit:1",
    ]);
    assert_eq!(d.wait_terminal("first")["state"], "dead");
    let path = d.logs.join("events.jsonl");
    let before = baton_core::seglog::segments(&path).unwrap();
    assert!(
        before.first().is_some_and(|s| s.start == 1),
        "nothing deleted while `first` ran: {before:?}"
    );
    d.baton(&[
        "spawn", "--id", "second", "--", &stand_in, "print:x", "exit:1",
    ]);
    assert_eq!(d.wait_terminal("second")["state"], "dead");
    let after = baton_core::seglog::segments(&path).unwrap();
    let first_kept = after.first().unwrap().start;
    assert!(first_kept > 1, "the oldest segments went: {after:?}");
    let out = d.baton(&["events", "--since", "0", "--json"]);
    assert!(
        text(&out.stderr).contains(&format!("baton: {} event records are gone", first_kept - 1)),
        "{}",
        describe(&out)
    );
    let got: Vec<u64> = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok()?["seq"].as_u64())
        .collect();
    assert_eq!(got.first(), Some(&first_kept));
    let replay = d.baton(&["replay", &path.display().to_string()]);
    assert!(
        text(&replay.stderr).contains("were deleted with the oldest segments"),
        "{}",
        describe(&replay)
    );
}
