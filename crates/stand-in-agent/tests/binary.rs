//! Runs the real `stand-in-agent` binary and checks each documented behaviour.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

fn agent() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stand-in-agent"));
    cmd.env_remove("STAND_IN_SCRIPT");
    cmd
}

/// Runs to completion with `stdin` piped in (None = closed stdin), killing
/// the child and failing the test if it outlives the deadline.
fn finish(mut cmd: Command, stdin: Option<&[u8]>) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn stand-in-agent");
    let mut pipe = child.stdin.take().expect("stdin pipe");
    if let Some(input) = stdin {
        pipe.write_all(input).expect("write stdin");
    }
    drop(pipe);
    wait_output(child)
}

fn wait_output(child: Child) -> Run {
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => {
            let out = out.expect("wait for stand-in-agent");
            Run {
                status: out.status,
                stdout: out.stdout,
                stderr: out.stderr,
            }
        }
        Err(_) => {
            // SAFETY: plain kill of our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("stand-in-agent did not finish within {DEADLINE:?}");
        }
    }
}

fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = agent();
    cmd.args(args);
    finish(cmd, None)
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("stand-in-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads one line from a child's stdout, failing the test after the deadline.
fn read_line_within(reader: BufReader<ChildStdout>) -> (String, BufReader<ChildStdout>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send((line, reader));
    });
    rx.recv_timeout(DEADLINE).expect("line from stand-in-agent")
}

fn is_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn kill(pid: libc::pid_t) {
    // SAFETY: pid was printed by the stand-in as its own grandchild.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

#[test]
fn print_and_eprint_go_to_their_streams() {
    let out = run(["print:to out", "eprint:to err", "say:no newline"]);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout(), "to out\nno newline");
    assert_eq!(out.stderr(), "to err\n");
}

#[test]
fn lines_are_numbered() {
    let out = run(["lines:3", "lines:2:1ms"]);
    assert_eq!(out.stdout(), "line 1\nline 2\nline 3\nline 1\nline 2\n");
}

#[test]
fn ask_reads_an_answer_from_stdin() {
    let mut cmd = agent();
    cmd.args(["ask:Continue? ", "ask:Sure? ", "print:done"]);
    let out = finish(cmd, Some(b"yes\nno\r\n"));
    assert_eq!(out.code(), Some(0));
    assert_eq!(
        out.stdout(),
        "Continue? answer: yes\nSure? answer: no\ndone\n"
    );
}

#[test]
fn ask_with_closed_stdin_exits_3() {
    let out = run(["ask:Continue? ", "print:never"]);
    assert_eq!(out.code(), Some(3));
    assert_eq!(out.stdout(), "Continue? ");
    assert_eq!(out.stderr(), "stdin closed\n");
}

#[test]
fn exit_codes() {
    for code in [0, 1, 4, 255] {
        let out = run([format!("exit:{code}"), "print:never".to_owned()]);
        assert_eq!(out.code(), Some(code));
        assert_eq!(out.stdout(), "");
    }
    let out = run(["print:only"]);
    assert_eq!(out.code(), Some(0));
}

#[test]
fn signals_kill_the_process() {
    let table = [
        ("signal:TERM", libc::SIGTERM),
        ("signal:KILL", libc::SIGKILL),
        ("signal:SIGINT", libc::SIGINT),
        ("signal:ABRT", libc::SIGABRT),
        ("crash", libc::SIGSEGV),
    ];
    for (step, signal) in table {
        let out = run(["print:before", step, "print:after"]);
        assert_eq!(
            out.status.signal(),
            Some(signal),
            "{step}: {:?}",
            out.status
        );
        assert_eq!(out.stdout(), "before\n", "{step}");
    }
    // Even after ignore-term, an explicit signal:TERM is fatal.
    let out = run(["ignore-term", "signal:TERM"]);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
}

#[test]
fn flood_writes_exactly_the_library_pattern() {
    let size = 3 * stand_in_agent::FLOOD_BLOCK_LEN as u64 + 12_345;
    let mut expected = Vec::new();
    stand_in_agent::write_flood(&mut expected, size).expect("vec write");

    let out = run([format!("flood:{size}"), "print:end".to_owned()]);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout.len() as u64, size + 4);
    assert!(
        out.stdout[..size as usize] == expected[..],
        "stdout differs"
    );
    assert_eq!(&out.stdout[size as usize..], b"end\n");

    let out = run(["eflood:2K"]);
    assert_eq!(out.stderr, &stand_in_agent::flood_block()[..2048]);
    assert!(out.stdout.is_empty());
}

#[test]
fn argv_mode_runs_each_argument() {
    let out = run(["print:hi", "exit:4"]);
    assert_eq!(out.code(), Some(4));
    assert_eq!(out.stdout(), "hi\n");
}

#[test]
fn prompt_mode_runs_a_script_prompt() {
    let out = run(["exec", "--flag", "print:hi\nexit:4"]);
    assert_eq!(out.code(), Some(4));
    assert_eq!(out.stdout(), "hi\n");
}

#[test]
fn prompt_mode_echoes_a_plain_prompt() {
    let out = run(["-p", "fix the failing test"]);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout(), "stand-in: prompt=fix the failing test\n");
}

#[test]
fn no_arguments_prints_usage() {
    let out = run::<[&str; 0], &str>([]);
    assert_eq!(out.code(), Some(2));
    assert!(out.stderr().contains("usage:"), "{}", out.stderr());
}

#[test]
fn env_script_wins_over_arguments() {
    let mut cmd = agent();
    cmd.env("STAND_IN_SCRIPT", "print:from env\n\neprint:e\r\nexit:6\n")
        .args(["exec", "print:from args"]);
    let out = finish(cmd, None);
    assert_eq!(out.code(), Some(6));
    assert_eq!(out.stdout(), "from env\n");
    assert_eq!(out.stderr(), "e\n");
}

#[test]
fn bad_env_script_is_an_error_naming_the_step() {
    let mut cmd = agent();
    cmd.env("STAND_IN_SCRIPT", "print:ok\nexit:lots");
    let out = finish(cmd, None);
    assert_eq!(out.code(), Some(2));
    assert_eq!(out.stdout(), "");
    assert!(out.stderr().contains("exit:lots"), "{}", out.stderr());
}

#[test]
fn attempt_and_fail_until_fail_the_first_attempts() {
    let tmp = TempDir::new();
    let counter = tmp.join("attempts");
    let script = [
        format!("attempt:{}", counter.display()),
        format!("fail-until:{}:3", counter.display()),
        "print:ok".to_owned(),
    ];
    for n in 1..=2 {
        let out = run(&script);
        assert_eq!(out.code(), Some(1), "attempt {n}");
        assert_eq!(out.stdout(), format!("attempt {n}\n"));
    }
    let out = run(&script);
    assert_eq!(out.code(), Some(0));
    assert_eq!(out.stdout(), "attempt 3\nok\n");
    assert_eq!(
        std::fs::read_to_string(&counter).expect("counter").trim(),
        "3"
    );
}

#[test]
fn leak_prints_a_live_grandchild_that_holds_stdout() {
    let mut child = agent()
        .args(["leak:60s", "print:parent done"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let (first, reader) = read_line_within(reader);
    let pid: libc::pid_t = first
        .strip_prefix("grandchild ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {first:?}"));
    let (second, mut reader) = read_line_within(reader);
    assert_eq!(second, "parent done\n");
    assert_eq!(child.wait().expect("wait parent").code(), Some(0));

    assert!(is_alive(pid), "grandchild {pid} should outlive its parent");
    // SAFETY: getpgid only reads.
    let (grandchild_group, our_group) = unsafe { (libc::getpgid(pid), libc::getpgid(0)) };
    assert_eq!(grandchild_group, our_group, "same process group");
    kill(pid);
    // The pipe reaches EOF only now that the grandchild is gone.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        let _ = tx.send(rest);
    });
    let rest = rx
        .recv_timeout(DEADLINE)
        .expect("EOF after killing grandchild");
    assert!(rest.is_empty());
}

#[test]
fn leak_file_writes_the_grandchild_pid() {
    let tmp = TempDir::new();
    let pid_file = tmp.join("grandchild.pid");
    let mut cmd = agent();
    cmd.arg(format!("leak-file:{}:60s", pid_file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = cmd.status().expect("run");
    assert_eq!(status.code(), Some(0));
    let pid: libc::pid_t = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(is_alive(pid));
    kill(pid);
}

#[test]
fn on_term_writes_its_message_and_exits_143() {
    let mut child = agent()
        .args(["on-term:bye now", "print:ready", "stall"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let (ready, reader) = read_line_within(reader);
    assert_eq!(ready, "ready\n");
    // SAFETY: our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let (bye, _reader) = read_line_within(reader);
    assert_eq!(bye, "bye now\n");
    assert_eq!(child.wait().expect("wait").code(), Some(143));
}

#[test]
fn cleanup_on_term_takes_its_time_before_it_writes() {
    let mut child = agent()
        .args(["cleanup-on-term:300ms:cleaned: up", "print:ready", "stall"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let (ready, reader) = read_line_within(reader);
    assert_eq!(ready, "ready\n");
    let sent = std::time::Instant::now();
    // SAFETY: our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let (done, _reader) = read_line_within(reader);
    assert_eq!(done, "cleaned: up\n");
    assert!(sent.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(child.wait().expect("wait").code(), Some(143));
}

#[test]
fn ignore_term_survives_sigterm() {
    let mut child = agent()
        .args(["ignore-term", "print:ready", "ask:", "print:survived"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let reader = BufReader::new(child.stdout.take().expect("stdout"));
    let (ready, reader) = read_line_within(reader);
    assert_eq!(ready, "ready\n");
    // SAFETY: our own child. An ignored signal is discarded when sent, so
    // once kill returns the child has either died or will never see it.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    stdin.write_all(b"go\n").expect("child still reading stdin");
    let (answer, reader) = read_line_within(reader);
    assert_eq!(answer, "answer: go\n");
    let (survived, _reader) = read_line_within(reader);
    assert_eq!(survived, "survived\n");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

#[test]
fn close_stdout_keeps_running() {
    let out = run([
        "print:before",
        "close-stdout",
        "print:lost",
        "flood:1M",
        "eprint:after",
        "exit:7",
    ]);
    assert_eq!(out.code(), Some(7));
    assert_eq!(out.stdout(), "before\n");
    assert_eq!(out.stderr(), "after\n");
}

#[test]
fn rate_limit_messages() {
    let out = run(["rate-limit", "print:never"]);
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.stderr(),
        format!("{}\n", stand_in_agent::DEFAULT_RATE_LIMIT_MESSAGE)
    );
    let out = run(["rate-limit:usage limit reached"]);
    assert_eq!(out.code(), Some(1));
    assert_eq!(out.stderr(), "usage limit reached\n");
}

#[test]
fn require_tty_fails_on_a_pipe() {
    let out = run(["require-tty", "print:never"]);
    assert_eq!(out.code(), Some(2));
    assert_eq!(out.stderr(), "stand-in: not a terminal\n");
}

#[test]
fn payloads_are_framed() {
    let out = run([r#"payload:{"status":"done"}"#, "tfx-payload:{}"]);
    assert_eq!(
        out.stdout(),
        "<<<BATON_COMPLETION_BEGIN>>>\n{\"status\":\"done\"}\n<<<BATON_COMPLETION_END>>>\n\
         <<<TFX_COMPLETION_BEGIN>>>\n{}\n<<<TFX_COMPLETION_END>>>\n"
    );
}

#[test]
fn argv_env_and_pwd_report_the_environment() {
    let tmp = TempDir::new();
    let dir = tmp.0.canonicalize().expect("canonical");
    let mut cmd = agent();
    cmd.env(
        "STAND_IN_SCRIPT",
        "argv\nenv:STAND_IN_X\nenv:STAND_IN_NOPE\npwd",
    )
    .env("STAND_IN_X", "a=b")
    .env_remove("STAND_IN_NOPE")
    .current_dir(&dir)
    .args(["exec", "say \"hi\"\n"]);
    let out = finish(cmd, None);
    let exe = env!("CARGO_BIN_EXE_stand-in-agent");
    assert_eq!(
        out.stdout(),
        format!(
            "[\"{exe}\",\"exec\",\"say \\\"hi\\\"\\n\"]\nSTAND_IN_X=a=b\nSTAND_IN_NOPE unset\n{}\n",
            dir.display()
        )
    );
}

#[test]
fn stamps_use_the_monotonic_clock() {
    let before = stand_in_agent::monotonic_ns();
    let out = run(["stamp", "stamp-exit:5", "print:never"]);
    let after = stand_in_agent::monotonic_ns();
    assert_eq!(out.code(), Some(5));
    let stamps: Vec<u128> = out
        .stdout()
        .lines()
        .map(|l| {
            l.strip_prefix("stamp ")
                .expect("stamp line")
                .parse()
                .expect("ns")
        })
        .collect();
    assert_eq!(stamps.len(), 2);
    assert!(before <= stamps[0] && stamps[0] <= stamps[1] && stamps[1] <= after);
}

#[test]
fn broken_stdout_pipe_exits_141() {
    let mut child = agent()
        .args(["flood:64M"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = wait_output(child);
    assert_eq!(out.code(), Some(141));
    assert_eq!(out.stderr(), "");
}
