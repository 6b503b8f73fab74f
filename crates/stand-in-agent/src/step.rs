//! Step syntax and how an invocation becomes a list of steps.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::units::{UnitError, parse_duration, parse_size};

/// Line printed to stderr by `rate-limit` without an argument.
pub const DEFAULT_RATE_LIMIT_MESSAGE: &str =
    "Error: 429 Too Many Requests: rate limit exceeded, try again in 1s";

/// One action of a script. See the crate documentation for each step's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `print:TEXT`
    Print(String),
    /// `eprint:TEXT`
    Eprint(String),
    /// `say:TEXT`
    Say(String),
    /// `lines:N` and `lines:N:INTERVAL`
    Lines {
        /// How many lines.
        count: u64,
        /// Pause after each line.
        interval: Option<Duration>,
    },
    /// `flood:SIZE`
    Flood(u64),
    /// `eflood:SIZE`
    Eflood(u64),
    /// `jflood:SIZE`
    Jflood(u64),
    /// `sleep:DUR`
    Sleep(Duration),
    /// `stall`
    Stall,
    /// `spinner` — from now on, a spinner frame on stdout every 100 ms (a
    /// carriage return, a frame, `Working…`), as CLIs draw while they think.
    Spinner,
    /// `hook:EVENT:JSON` — call the hooks a claude `--settings` argument
    /// gives for EVENT, as claude does: each command through `sh -c`, with
    /// JSON (with `hook_event_name` set to EVENT) on its stdin, waited for.
    Hook {
        /// The event.
        event: String,
        /// The hook's input.
        input: String,
    },
    /// `ask:QUESTION`
    Ask(String),
    /// `ask-tui:QUESTION` — a TUI's prompt line: raw terminal, keys echoed,
    /// and an Enter that comes within 120 ms of a burst of keys (three or
    /// more, each within 8 ms of the one before: a paste) is a newline in
    /// the answer, not its submission — as codex's composer judges pastes.
    /// A later Enter submits: `answer: <line>` (newlines shown as `⏎`).
    AskTui(String),
    /// `pick:QUESTION|OPTION|OPTION…` — a menu that shows its choice only
    /// by colour, read the way Go's termbox reads keys: QUESTION over the
    /// options with the first in inverse video, the terminal raw, and the
    /// program parked on a futex until `SIGIO` says a key came (no thread
    /// reads or polls the terminal meanwhile). `j` moves the choice down,
    /// Enter prints `picked: OPTION`.
    Pick {
        /// What the menu asks.
        question: String,
        /// Its choices, two or more.
        options: Vec<String>,
    },
    /// `require-tty`
    RequireTty,
    /// `exit:CODE`
    Exit(i32),
    /// `signal:NAME`, and `crash` as `Signal(SIGSEGV)`
    Signal(i32),
    /// `rate-limit` and `rate-limit:TEXT`
    RateLimit(String),
    /// `ignore-term`
    IgnoreTerm,
    /// `on-term:TEXT` (no delay) or `cleanup-on-term:DUR:TEXT`
    OnTerm { text: String, delay: Duration },
    /// `leak:DUR`
    Leak(Duration),
    /// `leak-file:PATH:DUR`
    LeakFile {
        /// Where the grandchild's pid is written.
        path: PathBuf,
        /// How long the grandchild sleeps.
        duration: Duration,
    },
    /// `escape-file:PATH:DUR`
    EscapeFile {
        /// Where the grandchild's pid is written.
        path: PathBuf,
        /// How long the grandchild sleeps.
        duration: Duration,
    },
    /// `close-stdout`
    CloseStdout,
    /// `payload:JSON`
    Payload(String),
    /// `tfx-payload:JSON`
    TfxPayload(String),
    /// `argv`
    Argv,
    /// `env:NAME`
    Env(String),
    /// `pwd`
    Pwd,
    /// `stamp`
    Stamp,
    /// `stamp-exit:CODE`
    StampExit(i32),
    /// `attempt:PATH`
    Attempt(PathBuf),
    /// `fail-until:PATH:N`
    FailUntil {
        /// The counter file written by `attempt:`.
        path: PathBuf,
        /// First attempt number that is allowed to continue.
        until: u64,
    },
    /// `wait-file:PATH` — wait until PATH exists (checked every 10 ms).
    WaitFile(PathBuf),
    /// `hold:DIR:DUR` — create `DIR/$BATON_ACCOUNT` exclusively (exit 9 if it
    /// exists: two runs hold one account), keep it for DUR, then remove it.
    Hold {
        /// Directory of marker files.
        dir: PathBuf,
        /// How long to hold.
        duration: std::time::Duration,
    },
    /// `fail-before-attempt:N[:MESSAGE]` — exit 1 while `BATON_ATTEMPT` (set by baton) is below N,
    /// printing MESSAGE (or a default line) on stderr.
    FailBeforeAttempt {
        /// First attempt allowed to continue.
        until: u64,
        /// What to print on stderr when failing.
        message: Option<String>,
    },
}

/// Why a piece of text is not a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The name before the first ':' is not a known step.
    UnknownStep(String),
    /// A step that needs an argument was given none.
    MissingArgument(&'static str),
    /// A step that takes no argument was given one.
    UnexpectedArgument(&'static str),
    /// An argument had the wrong shape.
    InvalidArgument {
        /// The step name.
        step: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::UnknownStep(name) => write!(f, "unknown step `{name}`"),
            StepError::MissingArgument(step) => write!(f, "step `{step}` needs an argument"),
            StepError::UnexpectedArgument(step) => {
                write!(f, "step `{step}` takes no argument")
            }
            StepError::InvalidArgument { step, reason } => {
                write!(f, "step `{step}`: {reason}")
            }
        }
    }
}

impl std::error::Error for StepError {}

/// Parses one step, e.g. `print:hello` or `stall`.
///
/// The argument is everything after the first ':'; steps with two arguments
/// (`lines:N:INTERVAL`) split the rest at its first ':', steps whose first
/// argument is a path (`leak-file`, `fail-until`) split at the last ':'.
pub fn parse_step(text: &str) -> Result<Step, StepError> {
    let (name, arg) = match text.split_once(':') {
        Some((name, arg)) => (name, Some(arg)),
        None => (text, None),
    };
    let step = match name {
        "print" => Step::Print(need(arg, "print")?.to_owned()),
        "eprint" => Step::Eprint(need(arg, "eprint")?.to_owned()),
        "say" => Step::Say(need(arg, "say")?.to_owned()),
        "lines" => {
            let arg = need(arg, "lines")?;
            let (count, interval) = match arg.split_once(':') {
                Some((count, interval)) => (count, Some(interval)),
                None => (arg, None),
            };
            Step::Lines {
                count: parse_number(count, "lines")?,
                interval: interval
                    .map(parse_duration)
                    .transpose()
                    .map_err(|e| unit(e, "lines"))?,
            }
        }
        "flood" => Step::Flood(parse_size(need(arg, "flood")?).map_err(|e| unit(e, "flood"))?),
        "eflood" => Step::Eflood(parse_size(need(arg, "eflood")?).map_err(|e| unit(e, "eflood"))?),
        "jflood" => Step::Jflood(parse_size(need(arg, "jflood")?).map_err(|e| unit(e, "jflood"))?),
        "sleep" => Step::Sleep(parse_duration(need(arg, "sleep")?).map_err(|e| unit(e, "sleep"))?),
        "stall" => none(arg, "stall", Step::Stall)?,
        "spinner" => none(arg, "spinner", Step::Spinner)?,
        "hook" => {
            let (event, input) =
                need(arg, "hook")?
                    .split_once(':')
                    .ok_or(StepError::InvalidArgument {
                        step: "hook",
                        reason: "expected EVENT:JSON".into(),
                    })?;
            Step::Hook {
                event: event.to_owned(),
                input: input.to_owned(),
            }
        }
        "ask" => Step::Ask(need(arg, "ask")?.to_owned()),
        "ask-tui" => Step::AskTui(need(arg, "ask-tui")?.to_owned()),
        "pick" => {
            let mut parts = need(arg, "pick")?.split('|').map(str::to_owned);
            let question = parts.next().unwrap_or_default();
            let options: Vec<String> = parts.collect();
            if options.len() < 2 || options.iter().any(String::is_empty) {
                return Err(invalid("pick", "want QUESTION|OPTION|OPTION…".into()));
            }
            Step::Pick { question, options }
        }
        "require-tty" => none(arg, "require-tty", Step::RequireTty)?,
        "exit" => Step::Exit(parse_code(need(arg, "exit")?, "exit")?),
        "signal" => Step::Signal(parse_signal(need(arg, "signal")?)?),
        "crash" => none(arg, "crash", Step::Signal(libc::SIGSEGV))?,
        "rate-limit" => Step::RateLimit(arg.unwrap_or(DEFAULT_RATE_LIMIT_MESSAGE).to_owned()),
        "ignore-term" => none(arg, "ignore-term", Step::IgnoreTerm)?,
        "on-term" => Step::OnTerm {
            text: need(arg, "on-term")?.to_owned(),
            delay: Duration::ZERO,
        },
        "cleanup-on-term" => {
            let arg = need(arg, "cleanup-on-term")?;
            let Some((delay, text)) = arg.split_once(':') else {
                return Err(invalid(
                    "cleanup-on-term",
                    format!("expected DUR:TEXT, got `{arg}`"),
                ));
            };
            Step::OnTerm {
                text: text.to_owned(),
                delay: parse_duration(delay).map_err(|e| unit(e, "cleanup-on-term"))?,
            }
        }
        "leak" => Step::Leak(parse_duration(need(arg, "leak")?).map_err(|e| unit(e, "leak"))?),
        "leak-file" => {
            let (path, duration) = split_path(need(arg, "leak-file")?, "leak-file", "DUR")?;
            Step::LeakFile {
                path,
                duration: parse_duration(duration).map_err(|e| unit(e, "leak-file"))?,
            }
        }
        "escape-file" => {
            let (path, duration) = split_path(need(arg, "escape-file")?, "escape-file", "DUR")?;
            Step::EscapeFile {
                path,
                duration: parse_duration(duration).map_err(|e| unit(e, "escape-file"))?,
            }
        }
        "close-stdout" => none(arg, "close-stdout", Step::CloseStdout)?,
        "payload" => Step::Payload(need(arg, "payload")?.to_owned()),
        "tfx-payload" => Step::TfxPayload(need(arg, "tfx-payload")?.to_owned()),
        "argv" => none(arg, "argv", Step::Argv)?,
        "env" => Step::Env(non_empty(need(arg, "env")?, "env", "variable name")?.to_owned()),
        "pwd" => none(arg, "pwd", Step::Pwd)?,
        "stamp" => none(arg, "stamp", Step::Stamp)?,
        "stamp-exit" => Step::StampExit(parse_code(need(arg, "stamp-exit")?, "stamp-exit")?),
        "attempt" => Step::Attempt(PathBuf::from(non_empty(
            need(arg, "attempt")?,
            "attempt",
            "path",
        )?)),
        "fail-until" => {
            let (path, until) = split_path(need(arg, "fail-until")?, "fail-until", "N")?;
            Step::FailUntil {
                path,
                until: parse_number(until, "fail-until")?,
            }
        }
        "wait-file" => Step::WaitFile(PathBuf::from(non_empty(
            need(arg, "wait-file")?,
            "wait-file",
            "path",
        )?)),
        "hold" => {
            let (dir, duration) = split_path(need(arg, "hold")?, "hold", "DUR")?;
            Step::Hold {
                dir,
                duration: parse_duration(duration).map_err(|e| unit(e, "hold"))?,
            }
        }
        "fail-before-attempt" => {
            let arg = need(arg, "fail-before-attempt")?;
            let (n, message) = match arg.split_once(':') {
                Some((n, message)) => (n, Some(message.to_owned())),
                None => (arg, None),
            };
            Step::FailBeforeAttempt {
                until: parse_number(n, "fail-before-attempt")?,
                message,
            }
        }
        _ => return Err(StepError::UnknownStep(name.to_owned())),
    };
    Ok(step)
}

fn need<'a>(arg: Option<&'a str>, step: &'static str) -> Result<&'a str, StepError> {
    arg.ok_or(StepError::MissingArgument(step))
}

fn none(arg: Option<&str>, step: &'static str, value: Step) -> Result<Step, StepError> {
    match arg {
        None => Ok(value),
        Some(_) => Err(StepError::UnexpectedArgument(step)),
    }
}

fn non_empty<'a>(arg: &'a str, step: &'static str, what: &str) -> Result<&'a str, StepError> {
    if arg.is_empty() {
        Err(invalid(step, format!("empty {what}")))
    } else {
        Ok(arg)
    }
}

fn invalid(step: &'static str, reason: String) -> StepError {
    StepError::InvalidArgument { step, reason }
}

fn unit(err: UnitError, step: &'static str) -> StepError {
    invalid(step, err.to_string())
}

fn parse_number(text: &str, step: &'static str) -> Result<u64, StepError> {
    text.parse()
        .map_err(|_| invalid(step, format!("`{text}` is not a non-negative integer")))
}

fn parse_code(text: &str, step: &'static str) -> Result<i32, StepError> {
    match text.parse::<i32>() {
        Ok(code) if (0..=255).contains(&code) => Ok(code),
        _ => Err(invalid(step, format!("`{text}` is not an exit code 0-255"))),
    }
}

/// Splits `PATH:VALUE` at the last ':' so paths may themselves contain ':'.
fn split_path<'a>(
    arg: &'a str,
    step: &'static str,
    what: &str,
) -> Result<(PathBuf, &'a str), StepError> {
    match arg.rsplit_once(':') {
        Some((path, value)) if !path.is_empty() => Ok((PathBuf::from(path), value)),
        _ => Err(invalid(step, format!("expected PATH:{what}, got `{arg}`"))),
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("SYS", libc::SIGSYS),
];

/// Reads a signal as `TERM`, `SIGTERM` (any case) or a number 1-64.
pub fn parse_signal(text: &str) -> Result<i32, StepError> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, number)) = SIGNALS.iter().find(|(n, _)| *n == name) {
        return Ok(number);
    }
    match text.parse::<i32>() {
        Ok(number) if (1..=64).contains(&number) => Ok(number),
        _ => Err(invalid("signal", format!("unknown signal `{text}`"))),
    }
}

/// What an invocation asks the stand-in to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Run these steps in order.
    Script(Vec<Step>),
    /// An agent-like call whose prompt is not a script: echo the prompt.
    Prompt(String),
    /// Nothing to do: print usage and exit 2.
    Usage,
}

/// Why `STAND_IN_SCRIPT` could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// The offending line, as written.
    pub step: String,
    /// Why it did not parse.
    pub error: StepError,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad step `{}` in STAND_IN_SCRIPT: {}",
            self.step, self.error
        )
    }
}

impl std::error::Error for ScriptError {}

/// Decides what to run from the arguments after argv\[0\] and the value of
/// `STAND_IN_SCRIPT`, following the order in the crate documentation.
pub fn resolve_invocation(
    args: &[String],
    script_env: Option<&str>,
) -> Result<Invocation, ScriptError> {
    if let Some(script) = script_env {
        let mut steps = Vec::new();
        for line in script_lines(script) {
            let step = parse_step(line).map_err(|error| ScriptError {
                step: line.to_owned(),
                error,
            })?;
            steps.push(step);
        }
        return Ok(Invocation::Script(steps));
    }
    let Some(last) = args.last() else {
        return Ok(Invocation::Usage);
    };
    // gemini's form: the prompt rides in its option's word.
    let prompt = last.strip_prefix("--prompt=").unwrap_or(last);
    if let Ok(steps) = args.iter().map(|a| parse_step(a)).collect() {
        return Ok(Invocation::Script(steps));
    }
    let mut lines = script_lines(prompt).peekable();
    if lines.peek().is_some()
        && let Ok(steps) = lines.map(parse_step).collect()
    {
        return Ok(Invocation::Script(steps));
    }
    Ok(Invocation::Prompt(prompt.to_owned()))
}

/// Non-blank lines of a script, with a trailing '\r' removed.
fn script_lines(script: &str) -> impl Iterator<Item = &str> {
    script
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .filter(|line| !line.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_every_step() {
        let table: Vec<(&str, Step)> = vec![
            ("print:hello", Step::Print("hello".into())),
            ("print:", Step::Print(String::new())),
            ("print:a:b:c", Step::Print("a:b:c".into())),
            ("eprint:oops", Step::Eprint("oops".into())),
            ("say:Continue? ", Step::Say("Continue? ".into())),
            (
                "lines:3",
                Step::Lines {
                    count: 3,
                    interval: None,
                },
            ),
            (
                "lines:10:50ms",
                Step::Lines {
                    count: 10,
                    interval: Some(ms(50)),
                },
            ),
            ("flood:10M", Step::Flood(10 << 20)),
            ("eflood:100", Step::Eflood(100)),
            ("jflood:1M", Step::Jflood(1 << 20)),
            ("sleep:1.5s", Step::Sleep(ms(1500))),
            ("stall", Step::Stall),
            ("spinner", Step::Spinner),
            ("ask-tui:Go?", Step::AskTui("Go?".into())),
            (
                "pick:Which?|a|b",
                Step::Pick {
                    question: "Which?".into(),
                    options: vec!["a".into(), "b".into()],
                },
            ),
            (
                "hook:Stop:{\"a\":1}",
                Step::Hook {
                    event: "Stop".into(),
                    input: "{\"a\":1}".into(),
                },
            ),
            ("ask:Proceed? [y/n] ", Step::Ask("Proceed? [y/n] ".into())),
            ("require-tty", Step::RequireTty),
            ("exit:0", Step::Exit(0)),
            ("exit:42", Step::Exit(42)),
            ("signal:TERM", Step::Signal(libc::SIGTERM)),
            ("signal:sigkill", Step::Signal(libc::SIGKILL)),
            ("signal:6", Step::Signal(libc::SIGABRT)),
            ("crash", Step::Signal(libc::SIGSEGV)),
            (
                "rate-limit",
                Step::RateLimit(DEFAULT_RATE_LIMIT_MESSAGE.into()),
            ),
            (
                "rate-limit:quota gone",
                Step::RateLimit("quota gone".into()),
            ),
            ("ignore-term", Step::IgnoreTerm),
            (
                "on-term:bye",
                Step::OnTerm {
                    text: "bye".into(),
                    delay: Duration::ZERO,
                },
            ),
            (
                "cleanup-on-term:1500ms:done: ok",
                Step::OnTerm {
                    text: "done: ok".into(),
                    delay: Duration::from_millis(1500),
                },
            ),
            ("leak:30s", Step::Leak(Duration::from_secs(30))),
            (
                "leak-file:/tmp/a:b/pid:2m",
                Step::LeakFile {
                    path: "/tmp/a:b/pid".into(),
                    duration: Duration::from_secs(120),
                },
            ),
            ("close-stdout", Step::CloseStdout),
            (
                "payload:{\"status\":\"done\"}",
                Step::Payload("{\"status\":\"done\"}".into()),
            ),
            ("tfx-payload:{}", Step::TfxPayload("{}".into())),
            ("argv", Step::Argv),
            ("env:HOME", Step::Env("HOME".into())),
            ("pwd", Step::Pwd),
            ("stamp", Step::Stamp),
            ("stamp-exit:3", Step::StampExit(3)),
            ("attempt:/tmp/n", Step::Attempt("/tmp/n".into())),
            (
                "fail-until:/tmp/n:3",
                Step::FailUntil {
                    path: "/tmp/n".into(),
                    until: 3,
                },
            ),
        ];
        for (text, want) in table {
            assert_eq!(parse_step(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_steps() {
        let table: &[(&str, StepError)] = &[
            ("hello", StepError::UnknownStep("hello".into())),
            ("--flag", StepError::UnknownStep("--flag".into())),
            ("", StepError::UnknownStep(String::new())),
            ("print", StepError::MissingArgument("print")),
            ("stall:1s", StepError::UnexpectedArgument("stall")),
            ("crash:now", StepError::UnexpectedArgument("crash")),
        ];
        for (text, want) in table {
            assert_eq!(parse_step(text).as_ref(), Err(want), "{text}");
        }
        for text in [
            "exit:x",
            "exit:256",
            "exit:-1",
            "signal:NOPE",
            "signal:0",
            "lines:x",
            "lines:3:soon",
            "flood:lots",
            "sleep:",
            "leak-file:30s",
            "leak-file::30s",
            "fail-until:/tmp/n",
            "fail-until:/tmp/n:x",
            "env:",
            "attempt:",
            "pick:Which?",
            "pick:Which?|only",
            "pick:Which?|a||b",
        ] {
            assert!(
                matches!(parse_step(text), Err(StepError::InvalidArgument { .. })),
                "{text}: {:?}",
                parse_step(text)
            );
        }
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resolves_invocations() {
        use Invocation::*;
        let table: Vec<(&[&str], Option<&str>, Invocation)> = vec![
            (&[], None, Usage),
            (
                &["print:a", "exit:3"],
                None,
                Script(vec![Step::Print("a".into()), Step::Exit(3)]),
            ),
            (
                &["exec", "--json", "print:hi\n\nexit:4\n"],
                None,
                Script(vec![Step::Print("hi".into()), Step::Exit(4)]),
            ),
            (
                &["-p", "print:hi\r\nstall"],
                None,
                Script(vec![Step::Print("hi".into()), Step::Stall]),
            ),
            (&["-p", "fix the bug"], None, Prompt("fix the bug".into())),
            (&["-p", "--", "--help"], None, Prompt("--help".into())),
            (
                &["--yolo", "--prompt=print:hi\nexit:5"],
                None,
                Script(vec![Step::Print("hi".into()), Step::Exit(5)]),
            ),
            (
                &["--yolo", "--prompt=--version"],
                None,
                Prompt("--version".into()),
            ),
            (
                &["-p", "print:ok\nand then something"],
                None,
                Prompt("print:ok\nand then something".into()),
            ),
            (&["-p", ""], None, Prompt(String::new())),
            (&["-p", "\n \n"], None, Prompt("\n \n".into())),
            (
                &["ignored", "args"],
                Some("print:x\n\n  \nexit:6"),
                Script(vec![Step::Print("x".into()), Step::Exit(6)]),
            ),
            (&[], Some(""), Script(vec![])),
        ];
        for (args, env, want) in table {
            assert_eq!(
                resolve_invocation(&strings(args), env),
                Ok(want),
                "{args:?} {env:?}"
            );
        }
    }

    #[test]
    fn bad_env_script_names_the_step() {
        let err = resolve_invocation(&[], Some("print:ok\nfrobnicate:1")).unwrap_err();
        assert_eq!(err.step, "frobnicate:1");
        assert!(err.to_string().contains("frobnicate:1"), "{err}");
    }
}
