//! What the terminal itself says about a session that went quiet.
//!
//! Words on a screen are one signal; the terminal under them is another,
//! and it does not depend on how a program words its prompt. A program
//! blocked in a `read` of its terminal is waiting for the keyboard, not
//! working; one that turned echo off while reading whole lines wants a
//! secret. Neither says *what* it waits for — a program at its own command
//! prompt (a REPL, a shell, `fdisk`'s `Command (m for help):`) or a pager
//! waits for the keyboard too, and those are not questions — so the
//! terminal confirms a prompt the screen shows and lets a question the
//! rules cannot word count, never more.

use std::sync::LazyLock;

use regex::Regex;

use super::{
    BUSY, Detection, MAX_QUESTION, NOISE, clean_line, cursor_open, detection, is_chrome, re,
};

/// How a session's terminal takes input now and what its foreground
/// programs are doing, as the conductor saw them (a PTY it holds, a tmux
/// pane on this machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Typed characters are echoed.
    pub echo: bool,
    /// Input is read in whole lines (not key by key, as a TUI reads it).
    pub canonical: bool,
    /// What the terminal's foreground process group is blocked in.
    pub reads: Reads,
}

/// What the foreground process group of a terminal is blocked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// A thread is blocked in a `read` of the terminal itself (`/dev/pts/N`
    /// or `/dev/tty`): the program waits for the keyboard.
    Terminal,
    /// None reads the terminal, but one waits in `poll`, `select` or
    /// `epoll` (an event loop: node, Python's asyncio): it may be waiting
    /// for a key or for anything else.
    Polls,
    /// None waits on a descriptor: the programs run, sleep or wait for a
    /// child. Nobody is reading the keyboard now.
    Elsewhere,
    /// The conductor could not look (another user's processes, no
    /// `/proc`, a remote host).
    Unknown,
}

impl Reads {
    /// The word the capture sidecars use: `terminal`, `polls`, `no`,
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reads::Terminal => "terminal",
            Reads::Polls => "polls",
            Reads::Elsewhere => "no",
            Reads::Unknown => "unknown",
        }
    }
}

impl Terminal {
    /// Is a program waiting for the keyboard? Blocked in a read of the
    /// terminal; or, with the terminal in raw mode, idle in its event loop —
    /// a program turns raw mode on only to take keys one by one (node's
    /// readline, prompt_toolkit, a curses dialog), and a quiet one that
    /// waits on its descriptors is waiting for the next key.
    pub fn awaits_keys(&self) -> bool {
        match self.reads {
            Reads::Terminal => true,
            Reads::Polls => !self.canonical,
            Reads::Elsewhere | Reads::Unknown => false,
        }
    }

    /// Parses a capture sidecar: `canonical=yes echo=no reads=terminal`
    /// (any order; a missing field is `yes` / `unknown`). `None` when a
    /// word is not `key=value` with a known key and value.
    pub fn parse(line: &str) -> Option<Terminal> {
        let mut terminal = Terminal {
            echo: true,
            canonical: true,
            reads: Reads::Unknown,
        };
        for word in line.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            let yes = || match value {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            };
            match key {
                "canonical" => terminal.canonical = yes()?,
                "echo" => terminal.echo = yes()?,
                "reads" => {
                    terminal.reads = match value {
                        "terminal" => Reads::Terminal,
                        "polls" => Reads::Polls,
                        "no" => Reads::Elsewhere,
                        "unknown" => Reads::Unknown,
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
        Some(terminal)
    }
}

/// The rule of a prompt judged by the terminal's mode, not its words: whole
/// lines read without echo.
pub const NO_ECHO: &str = "no_echo";
/// The rule of a question judged because its program is blocked reading
/// the keyboard under it.
pub const READS_TERMINAL: &str = "reads_terminal";

/// How far up from the cursor's line a question may stand over what the
/// program reads (a menu of a few options under it).
const QUESTION_REACH: usize = 6;
/// Longest line under such a question: an option, not prose.
const MAX_OPTION: usize = 60;

/// A program's own prompt for its commands — not a question: `>>>`, `$`,
/// `sqlite>`, `gpg>`, `(Pdb)`, `(gdb)`, `In [3]:`, `DB<1>`, `%`,
/// `user@host:~/src$`, `Command (m for help):`, an agent's empty input
/// line `❯`.
static COMMAND_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)^(?:\S{0,24}[>$#%❯]",
        r"|\([\w -]{1,20}\)",
        r"|in \[\d+\]:|\.{3}:?",
        r"|[\w.-]+@[\w.-]+(?::\S*)?\s?[$#%>]",
        r"|(?:command|cmd)\b(?:[^?]|\(\?){0,30}:",
        r"|[^?]{0,40}\bfor help\)?\s*[:>])$"
    ))
});

/// A pager waiting at the foot of a page: `:`, `(END)`, `--More--(40%)`,
/// `lines 1-40`, `Manual page ls(1) line 1`.
static PAGER: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?::|\(end\)|--more--.*|[^?]*\blines? \d+(?:-\d+)?(?:/\d+)?\b[^?]*|manual page [^?]*)$",
    )
});

/// Is `line` a program's own prompt for its commands (a REPL's, a
/// shell's, `fdisk`'s), not a question?
pub(super) fn is_command_prompt(line: &str) -> bool {
    COMMAND_PROMPT.is_match(line)
}

/// Forces this module's patterns.
pub(super) fn compile() {
    LazyLock::force(&COMMAND_PROMPT);
    LazyLock::force(&PAGER);
}

/// A secret asked for: whole lines read without echo, the last line on
/// `text` as the evidence. A terminal read key by key (a TUI's raw mode)
/// says nothing either way.
pub(super) fn asks_for_secret(terminal: &Terminal, text: &str) -> Option<Detection> {
    if terminal.echo || !terminal.canonical {
        return None;
    }
    let line = text.lines().rev().map(str::trim).find(|l| !l.is_empty())?;
    Some(detection(NO_ECHO, line, true))
}

/// A question a program waits for keys under ([`Terminal::awaits_keys`]),
/// however it is worded:
/// the cursor left after text that asks on the last line (`echo a b c?...`,
/// `Target directory: `), or a question a few short lines above it (a menu
/// the rules do not know: `Choose the instance size:` over `* small`).
/// Never a program's own command prompt, a pager's foot, a busy indicator
/// or log output.
pub(super) fn reads_question(terminal: &Terminal, text: &str) -> Option<Detection> {
    if !terminal.awaits_keys() {
        return None;
    }
    let open = cursor_open(text);
    let lines: Vec<&str> = text
        .lines()
        .rev()
        .map(clean_line)
        .filter(|l| !l.is_empty())
        .take(QUESTION_REACH + 1)
        .collect();
    let last = *lines.first()?;
    if lines.iter().any(|l| BUSY.is_match(l)) {
        return None;
    }
    if COMMAND_PROMPT.is_match(last) || PAGER.is_match(last) {
        return None;
    }
    // The cursor left after a line that asks, or a question the screen
    // ends with, the cursor hidden or parked elsewhere (an inquirer prompt
    // drawn in a frame).
    if !is_chrome(last) && asks(last) && (open || last.trim_end().ends_with('?')) {
        return Some(detection(READS_TERMINAL, last, true));
    }
    // Up from the cursor over short option lines (and hint footers), to
    // the question they answer; each step passes over the line below.
    for pair in lines.windows(2) {
        let (below, line) = (pair[0], pair[1]);
        // The program's own input line between (an agent's `>` box under
        // its transcript): what is above it was said, not asked now.
        // Options may look like bullets (`* small`): only their length
        // tells them from prose or a listing.
        if COMMAND_PROMPT.is_match(below)
            || !(is_chrome(below) || below.chars().count() <= MAX_OPTION)
        {
            return None;
        }
        // A hint or status line (`? for shortcuts`) asks nothing.
        if !is_chrome(line) && asks(line) && !line.ends_with(['>', ']', ')']) {
            return Some(detection(READS_TERMINAL, line, true));
        }
    }
    None
}

/// Does `line` ask — a question or a field's label (`?`, `:`, `>`, a
/// bracketed default after one) — rather than state?
fn asks(line: &str) -> bool {
    if line.chars().count() > MAX_QUESTION || NOISE.is_match(line) || line.contains("://") {
        return false;
    }
    let end = line.trim_end_matches(['.', '…', ' ']);
    end.ends_with(['?', ':', '>', '›', '»'])
        || line.contains("? ")
        || line.trim_end().ends_with("?...")
        || (end.ends_with([']', ')']) && line.contains('?'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading() -> Terminal {
        Terminal {
            echo: true,
            canonical: true,
            reads: Reads::Terminal,
        }
    }

    #[test]
    fn sidecars_parse_and_bad_ones_do_not() {
        let t = Terminal::parse("canonical=no echo=no reads=polls").unwrap();
        assert_eq!((t.canonical, t.echo, t.reads), (false, false, Reads::Polls));
        assert_eq!(Terminal::parse("").unwrap().reads, Reads::Unknown);
        assert_eq!(Terminal::parse("reads=no").unwrap().reads, Reads::Elsewhere);
        for bad in ["reads=maybe", "echo=1", "colour=yes", "canonical"] {
            assert_eq!(Terminal::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_question_read_under_counts_whatever_its_words() {
        let t = reading();
        // A question naming lines is no pager's foot.
        let d = reads_question(&t, "Delete lines 3-5? ").unwrap();
        assert_eq!(d.line, "Delete lines 3-5?");
        let d = reads_question(&t, "echo a b c?...").unwrap();
        assert_eq!(
            (d.rule.as_str(), d.line.as_str()),
            (READS_TERMINAL, "echo a b c?...")
        );
        let menu = "Choose the instance size:\n\n* small\n  medium\n  large\n";
        assert_eq!(
            reads_question(&t, menu).unwrap().line,
            "Choose the instance size:"
        );
    }

    #[test]
    fn command_prompts_pagers_and_output_are_not_questions() {
        let t = reading();
        for screen in [
            ">>> ",
            "sqlite> ",
            "(Pdb) ",
            "In [2]: ",
            "root@box:~/src# ",
            "Command (m for help): ",
            "gpg> ",
            "  DB<1> ",
            "line 1\nline 2\n:",
            "(END)",
            "--More--(12%)",
            "log.txt lines 1-40/400 10%",
            // Output the program printed before it read: no question.
            "Compiling baton v0.1.0\nFinished dev profile\n",
            "long.txt",
            // A log line, however it ends.
            "[12:00:01] waiting for input:",
        ] {
            assert_eq!(reads_question(&t, screen), None, "{screen:?}");
        }
        // Not reading: the same question is the rules' to judge.
        let polls = Terminal {
            reads: Reads::Polls,
            ..t
        };
        assert_eq!(reads_question(&polls, "echo a b c?..."), None);
    }

    #[test]
    fn a_raw_terminal_idle_in_its_event_loop_awaits_keys_and_a_cooked_one_does_not() {
        let raw = Terminal {
            echo: false,
            canonical: false,
            reads: Reads::Polls,
        };
        assert!(raw.awaits_keys());
        // A line-mode program polling waits for its network as likely as
        // for a key.
        let cooked = Terminal {
            canonical: true,
            ..raw
        };
        assert!(!cooked.awaits_keys());
        let d = reads_question(&raw, "🎤 What is the project called? ").unwrap();
        assert_eq!(d.line, "🎤 What is the project called?");
        assert_eq!(
            reads_question(&cooked, "🎤 What is the project called? "),
            None
        );
    }

    #[test]
    fn an_agent_idle_at_its_input_line_asks_nothing_whatever_its_transcript_says() {
        let raw = Terminal {
            echo: false,
            canonical: false,
            reads: Reads::Polls,
        };
        let rule = "─".repeat(100);
        for transcript in [
            "● I made the following changes:\n\n  1. Added tests\n  2. Fixed the tokenizer\n",
            "● Which approach do you prefer?\n\n  1. Rewrite the parser\n  2. Patch it\n",
        ] {
            for input in ["│ >                    │", "❯"] {
                let screen = format!(
                    "{transcript}\n{rule}\n{input}\n{rule}\n  ? for shortcuts · ← for agents\n"
                );
                assert_eq!(reads_question(&raw, &screen), None, "{screen}");
            }
        }
        // A question the screen ends with is asked, wherever the cursor is
        // (create-react-native-library's, in a frame).
        let framed = "│\n? Where do you want to create the library?\n│\n└\n";
        assert_eq!(
            reads_question(&raw, framed).map(|d| d.line),
            Some("? Where do you want to create the library?".to_owned())
        );
        // The hint line itself is no question, even as the last line.
        assert_eq!(reads_question(&raw, "  ? for shortcuts"), None);
    }

    #[test]
    fn a_long_listing_under_a_label_is_not_a_menu() {
        let t = reading();
        let listing = format!(
            "Files:\n{}\n",
            ["a very long line of output that no option would be, by far, nor a label"; 3]
                .join("\n")
        );
        assert_eq!(reads_question(&t, &listing), None);
    }
}
