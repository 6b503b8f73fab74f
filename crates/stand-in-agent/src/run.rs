//! Carries out steps against the real process: stdio, signals, children.
//!
//! Writes go straight to the locked stdout/stderr and are flushed after every
//! step, so a supervisor sees each step's output before the next one starts.

use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use crate::flood::write_flood;
use crate::step::{Invocation, Step, resolve_invocation};

/// Exit code for a bad script, a failed `require-tty` or a runtime error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code when `ask:` finds stdin closed.
pub const EXIT_STDIN_CLOSED: i32 = 3;
/// Exit code of `rate-limit` and of a failing `fail-until`.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code when stdout or stderr is a broken pipe (128 + SIGPIPE).
pub const EXIT_BROKEN_PIPE: i32 = 141;
/// Exit code after the `on-term` handler ran (128 + SIGTERM).
pub const EXIT_ON_TERM: i32 = 143;
/// Exit code of `hold:` when the account's marker already exists (a double lease).
pub const EXIT_DOUBLE_HOLD: i32 = 9;

/// Environment variable holding a newline-separated script.
pub const SCRIPT_ENV: &str = "STAND_IN_SCRIPT";

const USAGE: &str = "\
usage: stand-in-agent STEP...
       STAND_IN_SCRIPT=$'STEP\\nSTEP' stand-in-agent [ANY ARGS]
       stand-in-agent AGENT-ARGS... PROMPT   (PROMPT = one step per line, else echoed)
steps: print:TEXT eprint:TEXT say:TEXT lines:N[:INTERVAL] flood:SIZE eflood:SIZE
       sleep:DUR stall ask:QUESTION require-tty exit:CODE signal:NAME crash
       rate-limit[:TEXT] ignore-term on-term:TEXT cleanup-on-term:DUR:TEXT
       leak:DUR leak-file:PATH:DUR escape-file:PATH:DUR
       close-stdout payload:JSON tfx-payload:JSON argv env:NAME pwd stamp
       stamp-exit:CODE attempt:PATH fail-until:PATH:N
";

/// Runs the stand-in the way its binary does and returns the exit code.
///
/// `argv` includes argv\[0\]; `script_env` is the value of `STAND_IN_SCRIPT`.
/// Some steps never return (`stall`, `signal:`, a handled SIGTERM).
pub fn main_with(argv: &[OsString], script_env: Option<&OsString>) -> i32 {
    let argv: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let script_env = script_env.map(|s| s.to_string_lossy().into_owned());
    let args = argv.get(1..).unwrap_or_default();
    match resolve_invocation(args, script_env.as_deref()) {
        Err(err) => {
            let _ = writeln!(io::stderr(), "stand-in: {err}");
            EXIT_USAGE
        }
        Ok(Invocation::Usage) => {
            let _ = io::stderr().write_all(USAGE.as_bytes());
            EXIT_USAGE
        }
        Ok(Invocation::Prompt(prompt)) => {
            let mut agent = Agent::new(argv.clone());
            match agent.out(format!("stand-in: prompt={prompt}\n").as_bytes()) {
                Ok(()) => 0,
                Err(Exit(code)) => code,
            }
        }
        Ok(Invocation::Script(steps)) => run_steps(&steps, argv),
    }
}

/// Runs `steps` in order; returns 0 when they run out, or the code a step exits with.
pub fn run_steps(steps: &[Step], argv: Vec<String>) -> i32 {
    let mut agent = Agent::new(argv);
    for step in steps {
        let done = agent.step(step).and_then(|()| agent.flush());
        if let Err(Exit(code)) = done {
            let _ = agent.flush();
            return code;
        }
    }
    0
}

/// The process should exit with this code.
struct Exit(i32);

type StepResult = Result<(), Exit>;

struct Agent {
    argv: Vec<String>,
    stdout: io::StdoutLock<'static>,
    stderr: io::StderrLock<'static>,
    stdout_closed: bool,
}

impl Agent {
    fn new(argv: Vec<String>) -> Agent {
        Agent {
            argv,
            stdout: io::stdout().lock(),
            stderr: io::stderr().lock(),
            stdout_closed: false,
        }
    }

    fn out(&mut self, bytes: &[u8]) -> StepResult {
        if self.stdout_closed {
            return Ok(());
        }
        let written = self
            .stdout
            .write_all(bytes)
            .and_then(|()| self.stdout.flush());
        check(written)
    }

    fn err(&mut self, bytes: &[u8]) -> StepResult {
        check(self.stderr.write_all(bytes))
    }

    fn flush(&mut self) -> StepResult {
        if !self.stdout_closed {
            check(self.stdout.flush())?;
        }
        check(self.stderr.flush())
    }

    /// Reports a runtime failure on stderr and ends the run.
    fn fail(&mut self, message: &str) -> StepResult {
        Err(self.failure(message))
    }

    /// Reports a runtime failure on stderr; the caller ends the run with the result.
    fn failure(&mut self, message: &str) -> Exit {
        match self.err(format!("stand-in: {message}\n").as_bytes()) {
            Ok(()) => Exit(EXIT_USAGE),
            Err(exit) => exit,
        }
    }

    fn step(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Print(text) => self.out(format!("{text}\n").as_bytes()),
            Step::Eprint(text) => self.err(format!("{text}\n").as_bytes()),
            Step::Say(text) => self.out(text.as_bytes()),
            Step::Lines { count, interval } => {
                for n in 1..=*count {
                    self.out(format!("line {n}\n").as_bytes())?;
                    if let Some(pause) = interval {
                        std::thread::sleep(*pause);
                    }
                }
                Ok(())
            }
            Step::Flood(size) => {
                if self.stdout_closed {
                    return Ok(());
                }
                check(write_flood(&mut self.stdout, *size))
            }
            Step::Eflood(size) => check(write_flood(&mut self.stderr, *size)),
            Step::Jflood(size) => {
                if self.stdout_closed {
                    return Ok(());
                }
                check(crate::flood::write_json_flood(&mut self.stdout, *size).map(drop))
            }
            Step::Sleep(duration) => {
                std::thread::sleep(*duration);
                Ok(())
            }
            Step::Spinner => {
                start_spinner();
                Ok(())
            }
            Step::Hook { event, input } => self.call_hooks(event, input),
            Step::Stall => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            Step::Ask(question) => self.ask(question),
            Step::AskTui(question) => self.ask_tui(question),
            Step::Pick { question, options } => self.pick(question, options),
            Step::RequireTty => {
                // SAFETY: isatty only inspects the descriptor.
                if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
                    Ok(())
                } else {
                    self.fail("not a terminal")
                }
            }
            Step::Exit(code) => Err(Exit(*code)),
            Step::Signal(signal) => {
                self.flush()?;
                Err(Exit(die_by_signal(*signal)))
            }
            Step::RateLimit(text) => {
                self.err(format!("{text}\n").as_bytes())?;
                Err(Exit(EXIT_FAILURE))
            }
            Step::IgnoreTerm => {
                // SAFETY: SIG_IGN is a valid disposition for SIGTERM.
                unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
                Ok(())
            }
            Step::OnTerm { text, delay } => {
                install_on_term(text, *delay);
                Ok(())
            }
            Step::Leak(duration) => {
                let pid = self.spawn_grandchild(*duration)?;
                self.out(format!("grandchild {pid}\n").as_bytes())
            }
            Step::LeakFile { path, duration } => {
                let pid = self.spawn_grandchild(*duration)?;
                if let Err(e) = write_atomically(path, &format!("{pid}\n")) {
                    return self.fail(&format!("cannot write pid to {}: {e}", path.display()));
                }
                Ok(())
            }
            Step::EscapeFile { path, duration } => {
                let pid = self.spawn_escapee(*duration)?;
                if let Err(e) = write_atomically(path, &format!("{pid}\n")) {
                    return self.fail(&format!("cannot write pid to {}: {e}", path.display()));
                }
                Ok(())
            }
            Step::CloseStdout => {
                self.flush()?;
                close_stdout();
                self.stdout_closed = true;
                Ok(())
            }
            Step::Payload(json) => self.out(
                format!("<<<BATON_COMPLETION_BEGIN>>>\n{json}\n<<<BATON_COMPLETION_END>>>\n")
                    .as_bytes(),
            ),
            Step::TfxPayload(json) => self.out(
                format!("<<<TFX_COMPLETION_BEGIN>>>\n{json}\n<<<TFX_COMPLETION_END>>>\n")
                    .as_bytes(),
            ),
            Step::Argv => {
                let line = json_string_array(&self.argv);
                self.out(format!("{line}\n").as_bytes())
            }
            Step::Env(name) => {
                let line = match std::env::var_os(name) {
                    Some(value) => format!("{name}={}\n", value.to_string_lossy()),
                    None => format!("{name} unset\n"),
                };
                self.out(line.as_bytes())
            }
            Step::Pwd => match std::env::current_dir() {
                Ok(dir) => self.out(format!("{}\n", dir.display()).as_bytes()),
                Err(e) => self.fail(&format!("cannot read current directory: {e}")),
            },
            Step::Stamp => self.out(format!("stamp {}\n", monotonic_ns()).as_bytes()),
            Step::StampExit(code) => {
                self.out(format!("stamp {}\n", monotonic_ns()).as_bytes())?;
                Err(Exit(*code))
            }
            Step::Attempt(path) => {
                let n = match read_counter(path) {
                    Ok(n) => n.saturating_add(1),
                    Err(e) => return self.fail(&e),
                };
                if let Err(e) = write_atomically(path, &format!("{n}\n")) {
                    return self.fail(&format!("cannot write {}: {e}", path.display()));
                }
                self.out(format!("attempt {n}\n").as_bytes())
            }
            Step::WaitFile(path) => {
                while !path.exists() {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Ok(())
            }
            Step::Hold { dir, duration } => {
                let account = std::env::var("BATON_ACCOUNT").unwrap_or_else(|_| "none".into());
                let marker = dir.join(&account);
                if let Err(e) = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&marker)
                {
                    self.err(
                        format!("stand-in: account {account} already held ({e})\n").as_bytes(),
                    )?;
                    return Err(Exit(EXIT_DOUBLE_HOLD));
                }
                self.out(format!("holding {account}\n").as_bytes())?;
                std::thread::sleep(*duration);
                let _ = std::fs::remove_file(&marker);
                Ok(())
            }
            Step::FailBeforeAttempt { until, message } => {
                let n: u64 = std::env::var("BATON_ATTEMPT")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                if n < *until {
                    let line = match message {
                        Some(m) => format!("{m}\n"),
                        None => format!("stand-in: attempt {n} of {until}, failing\n"),
                    };
                    self.err(line.as_bytes())?;
                    Err(Exit(EXIT_FAILURE))
                } else {
                    Ok(())
                }
            }
            Step::FailUntil { path, until } => {
                let n = match read_counter(path) {
                    Ok(n) => n,
                    Err(e) => return self.fail(&e),
                };
                if n < *until {
                    self.err(format!("stand-in: attempt {n} of {until}, failing\n").as_bytes())?;
                    Err(Exit(EXIT_FAILURE))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Runs the hooks for `event` that the `--settings` argument (claude's)
    /// names, one after another, each with `input` on stdin; their exit
    /// status is not looked at (a hook that fails does not stop claude).
    fn call_hooks(&mut self, event: &str, input: &str) -> StepResult {
        let mut input: serde_json::Value = match serde_json::from_str(input) {
            Ok(v) => v,
            Err(e) => return self.fail(&format!("hook input is not JSON: {e}")),
        };
        if let Some(object) = input.as_object_mut() {
            object.insert("hook_event_name".into(), event.into());
        }
        let input = input.to_string();
        for command in hook_commands(&self.argv, event) {
            let child = std::process::Command::new("sh")
                .args(["-c", &command])
                .stdin(std::process::Stdio::piped())
                .spawn();
            let Ok(mut child) = child else { continue };
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(input.as_bytes());
            }
            let _ = child.wait();
        }
        Ok(())
    }

    fn ask(&mut self, question: &str) -> StepResult {
        self.out(question.as_bytes())?;
        let mut line = String::new();
        match io::stdin().lock().read_line(&mut line) {
            Ok(0) => {
                self.err(b"stdin closed\n")?;
                Err(Exit(EXIT_STDIN_CLOSED))
            }
            Ok(_) => {
                let answer = line.strip_suffix('\n').unwrap_or(&line);
                let answer = answer.strip_suffix('\r').unwrap_or(answer);
                self.out(format!("answer: {answer}\n").as_bytes())
            }
            Err(e) => self.fail(&format!("cannot read stdin: {e}")),
        }
    }

    /// A TUI's prompt line (see [`Step::AskTui`]): reads key by key from a
    /// raw terminal and tells a typed Enter from one inside a paste.
    fn ask_tui(&mut self, question: &str) -> StepResult {
        /// Keys this close together are a paste…
        const BURST_GAP: Duration = Duration::from_millis(8);
        /// …once this many came so…
        const BURST_KEYS: u32 = 3;
        /// …and an Enter this soon after one is part of it.
        const PASTE_ENTER: Duration = Duration::from_millis(120);
        let Some(saved) = raw_terminal() else {
            return self.fail("ask-tui: not a terminal");
        };
        self.out(question.as_bytes())?;
        let (mut answer, mut burst) = (String::new(), 0u32);
        let mut last_key: Option<std::time::Instant> = None;
        let mut buf = [0u8; 256];
        let result = loop {
            // SAFETY: reads into a buffer we own.
            let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break Err(Exit(EXIT_STDIN_CLOSED));
            }
            let now = std::time::Instant::now();
            let mut submitted = false;
            for &byte in &buf[..n as usize] {
                let since = last_key.map(|at| now.duration_since(at));
                if byte == b'\r' || byte == b'\n' {
                    if burst >= BURST_KEYS && since.is_some_and(|s| s < PASTE_ENTER) {
                        answer.push('⏎');
                        continue;
                    }
                    submitted = true;
                    break;
                }
                burst = if since.is_some_and(|s| s < BURST_GAP) {
                    burst + 1
                } else {
                    1
                };
                last_key = Some(now);
                answer.push(char::from(byte));
                self.out(&[byte])?;
            }
            if submitted {
                break self.out(format!("\nanswer: {answer}\n").as_bytes());
            }
        };
        // SAFETY: restores the mode read above.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved);
        }
        result
    }

    /// A menu shown by colour and read as termbox reads keys (see
    /// [`Step::Pick`]).
    fn pick(&mut self, question: &str, options: &[String]) -> StepResult {
        let Some(saved) = raw_terminal() else {
            return self.fail("pick: not a terminal");
        };
        let flags = keys_signal_io();
        let mut chosen = 0;
        let result = loop {
            let mut screen = format!("\x1b[?25l\x1b[2J\x1b[H{question}\r\n\r\n");
            for (i, option) in options.iter().enumerate() {
                let (on, off) = if i == chosen {
                    ("\x1b[7m", "\x1b[0m")
                } else {
                    ("", "")
                };
                screen.push_str(&format!("{on}{option}{off}\r\n"));
            }
            self.out(screen.as_bytes())?;
            let mut buf = [0u8; 64];
            let n = loop {
                // SAFETY: reads into a buffer we own; stdin is non-blocking.
                let n =
                    unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
                if n >= 0
                    || std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock
                {
                    break n;
                }
                park_until_io();
            };
            if n <= 0 {
                break Err(Exit(EXIT_STDIN_CLOSED));
            }
            let keys = &buf[..n as usize];
            if let Some(enter) = keys.iter().position(|&k| k == b'\r' || k == b'\n') {
                chosen =
                    (chosen + keys[..enter].iter().filter(|&&k| k == b'j').count()) % options.len();
                break self.out(format!("\x1b[?25h\r\npicked: {}\r\n", options[chosen]).as_bytes());
            }
            chosen = (chosen + keys.iter().filter(|&&k| k == b'j').count()) % options.len();
        };
        // SAFETY: restores the mode read by raw_terminal and stdin's flags.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved);
            libc::fcntl(libc::STDIN_FILENO, libc::F_SETFL, flags);
        }
        result
    }

    /// Starts a copy of this binary that sleeps for `duration`, sharing our
    /// stdio and process group, and deliberately never waits for it.
    /// A grandchild that leaves our session and process group (`setsid`)
    /// and holds none of our descriptors, as a CLI that starts a daemon.
    fn spawn_escapee(&mut self, duration: Duration) -> Result<u32, Exit> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()
            .map_err(|e| self.failure(&format!("cannot find own executable: {e}")))?;
        self.flush()?;
        let mut cmd = Command::new(exe);
        cmd.arg(format!("sleep:{}ms", duration.as_millis()))
            .env_remove(SCRIPT_ENV)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => Ok(child.id()),
            Err(e) => Err(self.failure(&format!("cannot spawn grandchild: {e}"))),
        }
    }

    fn spawn_grandchild(&mut self, duration: Duration) -> Result<u32, Exit> {
        let exe = std::env::current_exe()
            .map_err(|e| self.failure(&format!("cannot find own executable: {e}")))?;
        self.flush()?;
        let spawned = Command::new(exe)
            .arg(format!("sleep:{}ms", duration.as_millis()))
            // Otherwise the grandchild would run our whole script again.
            .env_remove(SCRIPT_ENV)
            .spawn();
        match spawned {
            // Dropping a Child neither kills nor waits for it.
            Ok(child) => Ok(child.id()),
            Err(e) => Err(self.failure(&format!("cannot spawn grandchild: {e}"))),
        }
    }
}

/// The commands claude's `--settings=JSON` (or `--settings JSON`) in
/// `argv` runs for `event`; without one, codex's session flags
/// (`-c hooks.EVENT=[{hooks=[{type="command",command="…"}]}]`), else
/// those of the settings file gemini's `GEMINI_CLI_SYSTEM_DEFAULTS_PATH`
/// names.
fn hook_commands(argv: &[String], event: &str) -> Vec<String> {
    let flag = format!("hooks.{event}=");
    let codex: Vec<String> = argv
        .windows(2)
        .filter(|pair| pair[0] == "-c" && pair[1].starts_with(&flag))
        .filter_map(|pair| {
            let at = pair[1].find("command=")? + "command=".len();
            serde_json::Deserializer::from_str(&pair[1][at..])
                .into_iter::<String>()
                .next()?
                .ok()
        })
        .collect();
    if !codex.is_empty() {
        return codex;
    }
    let settings = argv
        .iter()
        .enumerate()
        .find_map(|(i, arg)| {
            arg.strip_prefix("--settings=")
                .map(str::to_owned)
                .or_else(|| {
                    (arg == "--settings")
                        .then(|| argv.get(i + 1).cloned())
                        .flatten()
                })
        })
        .or_else(|| {
            let path = std::env::var_os("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")?;
            fs::read_to_string(path).ok()
        });
    let Some(settings) = settings.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    else {
        return Vec::new();
    };
    let groups = settings["hooks"][event]
        .as_array()
        .cloned()
        .unwrap_or_default();
    groups
        .iter()
        .flat_map(|group| group["hooks"].as_array().cloned().unwrap_or_default())
        .filter(|hook| hook["type"] == "command")
        .filter_map(|hook| hook["command"].as_str().map(str::to_owned))
        .collect()
}

/// Draws a spinner on stdout every 100 ms until the process ends, past
/// the lock the steps hold on stdout.
fn start_spinner() {
    std::thread::spawn(|| {
        let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        for n in 0usize.. {
            let frame = format!("\r{} Working… ({}s)", frames[n % frames.len()], n / 10);
            // SAFETY: writes a buffer we own to fd 1.
            unsafe {
                libc::write(1, frame.as_ptr().cast(), frame.len());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// Broken pipes end the run quietly with 141; other write errors are ignored,
/// as a real CLI writing to a vanished terminal would.
fn check(result: io::Result<()>) -> StepResult {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Exit(EXIT_BROKEN_PIPE)),
        _ => Ok(()),
    }
}

/// Releases our end of stdout without letting fd 1 be reused: a later
/// `open` would otherwise get fd 1 and receive our prints.
fn close_stdout() {
    // SAFETY: plain descriptor calls on fds we own; the path is NUL-terminated.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, libc::STDOUT_FILENO);
            libc::close(null);
        } else {
            libc::close(libc::STDOUT_FILENO);
        }
    }
}

/// Kills this process with `signal` and returns an exit code only if the
/// signal did not end it (one whose default action is to ignore).
fn die_by_signal(signal: i32) -> i32 {
    // SAFETY: setrlimit, signal, sigprocmask and raise are called with valid
    // arguments; no Rust state is touched between them.
    unsafe {
        // A simulated crash should not litter the working directory with cores.
        let no_core = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        // std installs a SIGSEGV/SIGBUS handler that returns for a kill()ed
        // signal, and an earlier step may have ignored or caught the signal.
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    128 + signal
}

/// The message the SIGTERM handler writes; leaked so the handler never sees
/// it freed, and swapped as a whole so it never sees half an update.
static ON_TERM_MESSAGE: AtomicPtr<Box<[u8]>> = AtomicPtr::new(std::ptr::null_mut());
/// How long the `on-term` handler takes (its "cleanup") before it writes.
static ON_TERM_DELAY: AtomicPtr<libc::timespec> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_term(_signal: libc::c_int) {
    let message = ON_TERM_MESSAGE.load(Ordering::Acquire);
    let delay = ON_TERM_DELAY.load(Ordering::Acquire);
    // SAFETY: only async-signal-safe calls (nanosleep, write, _exit); the
    // pointers, if set, point at leaked values that are never freed.
    unsafe {
        if let Some(delay) = delay.as_ref() {
            let mut left = *delay;
            while libc::nanosleep(&left, &mut left) != 0 && *libc::__errno_location() == libc::EINTR
            {
            }
        }
        if let Some(message) = message.as_ref() {
            libc::write(libc::STDOUT_FILENO, message.as_ptr().cast(), message.len());
        }
        libc::_exit(EXIT_ON_TERM);
    }
}

fn install_on_term(text: &str, delay: Duration) {
    let message: Box<[u8]> = format!("{text}\n").into_bytes().into_boxed_slice();
    ON_TERM_MESSAGE.store(Box::into_raw(Box::new(message)), Ordering::Release);
    let delay = libc::timespec {
        tv_sec: delay.as_secs() as libc::time_t,
        tv_nsec: delay.subsec_nanos() as libc::c_long,
    };
    ON_TERM_DELAY.store(Box::into_raw(Box::new(delay)), Ordering::Release);
    let handler: extern "C" fn(libc::c_int) = on_term;
    // SAFETY: the handler only does async-signal-safe work.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `std::time::Instant` uses on Linux.
pub fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn read_counter(path: &Path) -> Result<u64, String> {
    match fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("counter file {} does not hold an integer", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes `contents` so a reader sees either nothing or the whole file.
fn write_atomically(path: &Path, contents: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path)
}

/// `["a","b"]` with JSON string escaping.
pub fn json_string_array(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// Turns stdin's terminal raw (keys one by one, no echo); returns the mode
/// to restore, `None` when stdin is no terminal.
fn raw_terminal() -> Option<libc::termios> {
    // SAFETY: termios calls on stdin with a zeroed struct they fill.
    unsafe {
        let mut mode: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(libc::STDIN_FILENO, &mut mode) != 0 {
            return None;
        }
        let saved = mode;
        mode.c_lflag &= !(libc::ICANON | libc::ECHO);
        mode.c_cc[libc::VMIN] = 1;
        mode.c_cc[libc::VTIME] = 0;
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &mode);
        Some(saved)
    }
}

/// Set by the `SIGIO` handler when input came; the futex [`park_until_io`]
/// sleeps on.
static KEYS_CAME: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

extern "C" fn on_io(_: libc::c_int) {
    KEYS_CAME.store(1, std::sync::atomic::Ordering::SeqCst);
    // SAFETY: a futex wake on a static word; async-signal-safe.
    unsafe {
        libc::syscall(libc::SYS_futex, KEYS_CAME.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// Has the kernel send `SIGIO` to this process when stdin becomes
/// readable, and makes stdin non-blocking — as Go's termbox does. Returns
/// stdin's flags before, to restore.
fn keys_signal_io() -> libc::c_int {
    // SAFETY: installs a handler that only stores and wakes; fcntl on
    // stdin with flags it reported.
    unsafe {
        libc::signal(libc::SIGIO, on_io as *const () as libc::sighandler_t);
        libc::fcntl(libc::STDIN_FILENO, libc::F_SETOWN, libc::getpid());
        let flags = libc::fcntl(libc::STDIN_FILENO, libc::F_GETFL);
        libc::fcntl(
            libc::STDIN_FILENO,
            libc::F_SETFL,
            flags | libc::O_ASYNC | libc::O_NONBLOCK,
        );
        flags
    }
}

/// Sleeps on a futex until `SIGIO` came (at once if it came already).
fn park_until_io() {
    use std::sync::atomic::Ordering;
    while KEYS_CAME.swap(0, Ordering::SeqCst) == 0 {
        // SAFETY: waits while the static word is 0; a wake or a signal ends it.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                KEYS_CAME.as_ptr(),
                libc::FUTEX_WAIT,
                0,
                std::ptr::null::<libc::timespec>(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escaping() {
        let table: &[(&[&str], &str)] = &[
            (&[], "[]"),
            (&["a"], r#"["a"]"#),
            (&["a b", "c"], r#"["a b","c"]"#),
            (&["q\"s\\"], r#"["q\"s\\"]"#),
            (&["l1\nl2\t\r"], r#"["l1\nl2\t\r"]"#),
            (&["\u{1}é"], "[\"\\u0001é\"]"),
        ];
        for (items, want) in table {
            let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            assert_eq!(json_string_array(&items), *want);
        }
    }

    #[test]
    fn monotonic_matches_instant_clock() {
        let before = monotonic_ns();
        let after = monotonic_ns();
        assert!(after >= before);
    }
}
