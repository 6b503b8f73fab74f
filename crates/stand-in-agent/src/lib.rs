//! A scriptable fake agent CLI for baton's tests, demo and benchmarks.
//!
//! Real agent CLIs are slow, costly and unpredictable; the stand-in does
//! exactly what its script says, so a test can state the outcome it expects.
//! It must never do anything its script did not ask for.
//!
//! # Where the script comes from
//!
//! 1. `STAND_IN_SCRIPT` set: one step per line (blank lines ignored); any
//!    line that is not a step is an error (stderr names it, exit 2).
//! 2. Otherwise, if there are arguments and every one is a step, each
//!    argument is one step: `stand-in-agent print:hi exit:4`.
//! 3. Otherwise the call looks like an agent's (`codex exec … -- PROMPT`,
//!    `claude -p -- PROMPT`, `gemini … --prompt=PROMPT`): the last argument
//!    (without a `--prompt=` prefix) is the prompt. If each of its
//!    non-blank lines is a step, those run; if not, the stand-in prints
//!    `stand-in: prompt=<prompt>` and exits 0.
//! 4. No arguments and no `STAND_IN_SCRIPT`: usage on stderr, exit 2.
//!
//! # Steps
//!
//! A step is `name` or `name:ARG`, where ARG is everything after the first
//! ':'. Durations are `500ms`, `2s`, `1.5s`, `1m`, `1h` or a plain number of
//! milliseconds; sizes are bytes with an optional `K`, `M`, `G` (binary) suffix.
//! Output is flushed after every step.
//!
//! | step | effect |
//! |---|---|
//! | `print:TEXT` | TEXT and `\n` on stdout |
//! | `eprint:TEXT` | TEXT and `\n` on stderr |
//! | `say:TEXT` | TEXT on stdout without a newline |
//! | `lines:N` | `line 1` … `line N` on stdout |
//! | `lines:N:INTERVAL` | the same, pausing INTERVAL after each line |
//! | `flood:SIZE` | exactly SIZE bytes of [`flood_bytes`] on stdout, 1 MiB per write |
//! | `eflood:SIZE` | the same on stderr |
//! | `jflood:SIZE` | claude's `stream-json` shape: assistant message lines carrying the flood pattern, at least SIZE bytes of them, then one `result` line with usage and cost |
//! | `sleep:DUR` | sleep |
//! | `stall` | sleep until killed |
//! | `spinner` | from now on, a spinner frame (`\r⠋ Working… (Ns)`) on stdout every 100 ms, while the steps go on |
//! | `hook:EVENT:JSON` | call the hooks a claude `--settings=JSON` argument names for EVENT (without one: codex's `-c hooks.EVENT=[…command="…"…]` session flags, else those of the settings file `GEMINI_CLI_SYSTEM_DEFAULTS_PATH` names, as gemini reads them), as the CLI does: each command through `sh -c` with JSON (its `hook_event_name` set to EVENT) on stdin, one after another, waited for; none named: nothing |
//! | `ask:QUESTION` | QUESTION without newline, read a line, print `answer: <line>`; stdin at EOF: `stdin closed` on stderr, exit 3 |
//! | `ask-tui:QUESTION` | a TUI's prompt line: QUESTION, then keys read raw (echoed by the stand-in); an Enter within 120 ms of a burst of keys (3 or more, each within 8 ms of the one before — a paste, as codex's composer judges) is a newline in the answer (`⏎`), a later Enter submits it: `answer: <line>`; stdin at EOF: exit 3 |
//! | `pick:QUESTION\|OPTION\|OPTION…` | a menu shown only by colour: QUESTION over the options, the chosen one in inverse video, the terminal raw and the program parked on a futex until `SIGIO` says keys came (as Go's termbox reads them: no thread reads or polls the terminal meanwhile); `j` moves the choice down, Enter prints `picked: OPTION`; stdin at EOF: exit 3 |
//! | `require-tty` | stdin not a terminal: `stand-in: not a terminal` on stderr, exit 2 |
//! | `exit:CODE` | exit with CODE (0-255) |
//! | `signal:NAME` | kill itself with TERM, KILL, SEGV, ABRT, INT, HUP, QUIT, USR1, … (or a number); no core file |
//! | `crash` | `signal:SEGV` |
//! | `rate-limit` | [`DEFAULT_RATE_LIMIT_MESSAGE`] on stderr, exit 1 |
//! | `rate-limit:TEXT` | TEXT on stderr, exit 1 |
//! | `ignore-term` | ignore SIGTERM from now on |
//! | `on-term:TEXT` | on SIGTERM, write TEXT and `\n` to stdout and exit 143 |
//! | `cleanup-on-term:DUR:TEXT` | the same after DUR (a cleanup that takes time; TEXT may contain ':') |
//! | `leak:DUR` | start a grandchild (`stand-in-agent sleep:DUR`) holding our stdout/stderr, in our process group; print `grandchild <pid>`; never wait for it |
//! | `leak-file:PATH:DUR` | the same, but write the pid to PATH (atomically) instead of printing it |
//! | `escape-file:PATH:DUR` | start a grandchild (`stand-in-agent sleep:DUR`) in its own session (`setsid`: outside our process group), holding none of our descriptors, as a CLI that starts a daemon; write its pid to PATH; never wait for it |
//! | `close-stdout` | close stdout (fd 1 now points at `/dev/null`); later stdout output is dropped |
//! | `payload:JSON` | `<<<BATON_COMPLETION_BEGIN>>>`, JSON, `<<<BATON_COMPLETION_END>>>` as three lines |
//! | `tfx-payload:JSON` | the same with `<<<TFX_COMPLETION_BEGIN>>>` / `<<<TFX_COMPLETION_END>>>` |
//! | `argv` | the whole argv, argv\[0\] included, as a one-line JSON array of strings |
//! | `env:NAME` | `NAME=<value>` or `NAME unset` |
//! | `pwd` | the current directory |
//! | `stamp` | `stamp <ns>`, ns = CLOCK_MONOTONIC read just before the write |
//! | `stamp-exit:CODE` | `stamp <ns>`, then exit with CODE at once |
//! | `attempt:PATH` | add 1 to the integer in PATH (missing = 0), write it back, print `attempt <n>` |
//! | `fail-until:PATH:N` | exit 1 if the counter in PATH is below N |
//! | `wait-file:PATH` | wait until PATH exists (checked every 10 ms) |
//! | `hold:DIR:DUR` | create `DIR/$BATON_ACCOUNT` exclusively (exit 9 if it exists: two runs hold one account), keep it DUR, remove it |
//! | `fail-before-attempt:N[:MESSAGE]` | exit 1 if `BATON_ATTEMPT` (set by baton for each run, from 1) is below N, printing MESSAGE (or a default line) on stderr |
//!
//! `leak-file`, `escape-file` and `fail-until` split their argument at the *last* ':', so
//! PATH may contain ':'. When the steps run out the exit code is 0.
//!
//! # Exit codes
//!
//! 0 steps ran out; [`EXIT_FAILURE`] `rate-limit` and `fail-until`;
//! [`EXIT_USAGE`] bad script, `require-tty` failed, or a runtime error (e.g.
//! an unreadable counter file); [`EXIT_STDIN_CLOSED`] `ask` saw EOF;
//! [`EXIT_BROKEN_PIPE`] stdout or stderr was a broken pipe;
//! [`EXIT_ON_TERM`] the `on-term` handler ran. `signal:` really dies by the
//! signal; only a signal whose default action is to be ignored (e.g. `signal:28`, SIGWINCH)
//! falls back to exit code 128+N.

mod flood;
pub mod provider;
mod run;
mod step;
mod units;

pub use flood::{
    FLOOD_BLOCK_LEN, FLOOD_MAX_LINE, flood_block, flood_bytes, write_flood, write_json_flood,
};
pub use run::{
    EXIT_BROKEN_PIPE, EXIT_DOUBLE_HOLD, EXIT_FAILURE, EXIT_ON_TERM, EXIT_STDIN_CLOSED, EXIT_USAGE,
    SCRIPT_ENV, json_string_array, main_with, monotonic_ns, run_steps,
};
pub use step::{
    DEFAULT_RATE_LIMIT_MESSAGE, Invocation, ScriptError, Step, StepError, parse_signal, parse_step,
    resolve_invocation,
};
pub use units::{UnitError, parse_duration, parse_size};
