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
    /// `epoll` (an event loop: node, Python's asyncio), or every thread is
    /// parked on a futex (Go's runtime, whose goroutines wait for the
    /// terminal so): it may be waiting for a key or for anything else.
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

/// The rule of a dialog judged by its shape: a closed box drawn on its own
/// (nothing beside it, away from the left edge, nothing under it but hints)
/// while its program waits for keys.
pub const DIALOG_BOX: &str = "dialog_box";

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
        // A REPL named before its mark: `php > `, or before where it
        // is: `lftp :~>`, `ftp :/pub>`; or its state in a few lower-case
        // words (redis-cli's `not connected>`; a question starts with a
        // capital: git's `What now>`).
        r"|(?-i:[a-z][\w.-]{0,15}) (?:>|:\S{0,40}>)",
        r"|(?-i:[a-z][\w.-]{0,15}(?: [a-z][\w.-]{0,15}){1,2})>",
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
    // A program blocked reading a whole line of its terminal, the cursor
    // after words it wrote that are not its command prompt: it waits for
    // that line, however it words what it wants ("Type the word DELETE to
    // confirm", debconf's "[More]").
    if terminal.reads == Reads::Terminal
        && terminal.canonical
        && open
        && !is_chrome(last)
        && last.chars().count() <= MAX_QUESTION
        && last.chars().any(char::is_alphanumeric)
        && !NOISE.is_match(last)
    {
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

/// Box drawing of a frame's corners and sides: light, heavy, double and
/// rounded, and ASCII's `+-|`.
const TOP_LEFT: &[char] = &['┌', '╭', '╔', '┏', '+'];
const TOP_RIGHT: &[char] = &['┐', '╮', '╗', '┓', '+'];
const BOTTOM_LEFT: &[char] = &['└', '╰', '╚', '┗', '+'];
const BOTTOM_RIGHT: &[char] = &['┘', '╯', '╝', '┛', '+'];
const LEFT_SIDE: &[char] = &['│', '┃', '║', '|', '├', '┠', '╟', '┣', '+'];
const RIGHT_SIDE: &[char] = &['│', '┃', '║', '|', '┤', '┨', '╢', '┫', '+'];
const ACROSS: &[char] = &['─', '━', '═', '-', '┬', '┴', '┼', '╤', '╧'];
/// What may stand in a top border around its title: `┤ Configuring tzdata ├`.
const TITLE_TEES: &[char] = &['┤', '├', '┨', '┠', '╡', '╞', '╢', '╟', '┫', '┣'];
/// Blank rows that part a program's status line at the screen's foot
/// from a dialog above it (ELinks' "OK" under its welcome box).
const FOOT_GAP: usize = 3;
/// The least border a dialog's top has (a title may stand in it).
const MIN_BORDER: usize = 8;

/// A dialog drawn on its own, its program waiting for keys: a closed box
/// with nothing beside it on any of its rows, not at the screen's left
/// edge, and nothing under it but hints — as `dialog`, `whiptail`,
/// debconf, pinentry and text browsers draw one over a cleared screen.
/// A program's own panels touch the edge or stand beside others (`mc`,
/// `calcurse`); a box a CLI prints (a notice, a table) is followed by what
/// it does next. The evidence is the box's first question or field
/// label, else its title, else its first line of words.
pub(super) fn dialog_box(terminal: &Terminal, text: &str) -> Option<Detection> {
    if !terminal.awaits_keys() {
        return None;
    }
    let rows: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    let blank = |cells: &[char]| cells.iter().all(|c| c.is_whitespace());
    let last = rows.iter().rposition(|r| !blank(r))?;
    for (top, row) in rows.iter().enumerate() {
        for (left, &corner) in row.iter().enumerate() {
            if left < 2 || !TOP_LEFT.contains(&corner) || !blank(&row[..left]) {
                continue;
            }
            let Some(right) = top_border(row, left) else {
                continue;
            };
            let Some(bottom) = box_bottom(&rows, top, left, right) else {
                continue;
            };
            if !only_hints_under(&rows[bottom + 1..=last.max(bottom)]) {
                continue;
            }
            let inside = |r: &Vec<char>| r[left + 1..right].iter().collect::<String>();
            let title: String = inside(row)
                .trim_matches(|c: char| {
                    c.is_whitespace() || ACROSS.contains(&c) || TITLE_TEES.contains(&c)
                })
                .to_owned();
            let lines: Vec<String> = rows[top + 1..bottom].iter().map(inside).collect();
            let worded = |l: &&String| clean_line(l).chars().any(char::is_alphanumeric);
            let words = lines
                .iter()
                .find(|l| asks(clean_line(l)) && clean_line(l).ends_with(['?', ':']))
                .or(Some(&title).filter(worded))
                .or_else(|| lines.iter().find(worded))?;
            return Some(detection(DIALOG_BOX, clean_line(words), true));
        }
    }
    None
}

/// The column of the top-right corner of a box whose top-left corner is
/// `row[left]`: a border at least [`MIN_BORDER`] long (a title may stand in
/// it) and nothing after it.
fn top_border(row: &[char], left: usize) -> Option<usize> {
    let mut across = 0;
    for (at, &c) in row.iter().enumerate().skip(left + 1) {
        if TOP_RIGHT.contains(&c) && across >= MIN_BORDER {
            return row[at + 1..]
                .iter()
                .all(|c| c.is_whitespace())
                .then_some(at);
        }
        if ACROSS.contains(&c) {
            across += 1;
        } else if TOP_LEFT.contains(&c) || ['│', '┃', '║', '|'].contains(&c) {
            return None;
        }
    }
    None
}

/// Are `rows` (under a dialog) blank or hints, but for a line or two at
/// the screen's foot, [`FOOT_GAP`] blank rows or more below the dialog (a
/// program's status line)? What a CLI prints after a box of its own comes
/// right under it.
fn only_hints_under(rows: &[Vec<char>]) -> bool {
    let lines: Vec<String> = rows.iter().map(|r| r.iter().collect()).collect();
    let gap = lines.iter().take_while(|l| l.trim().is_empty()).count();
    let rest: Vec<&str> = lines[gap..]
        .iter()
        .map(|l| clean_line(l))
        .filter(|l| !l.is_empty())
        .collect();
    rest.iter().all(|l| is_chrome(l)) || (gap >= FOOT_GAP && rest.len() <= 2)
}

/// The row of the bottom of a box whose top row is `top`, between columns
/// `left` and `right`: sides on every row between, nothing beside them, at
/// least one row inside.
fn box_bottom(rows: &[Vec<char>], top: usize, left: usize, right: usize) -> Option<usize> {
    for (at, row) in rows.iter().enumerate().skip(top + 1) {
        if row.len() <= right
            || !row[..left].iter().all(|c| c.is_whitespace())
            || !row[right + 1..].iter().all(|c| c.is_whitespace())
        {
            return None;
        }
        if BOTTOM_LEFT.contains(&row[left]) && BOTTOM_RIGHT.contains(&row[right]) {
            let closed = row[left + 1..right].iter().all(|c| ACROSS.contains(c));
            return (closed && at > top + 1).then_some(at);
        }
        if !LEFT_SIDE.contains(&row[left]) || !RIGHT_SIDE.contains(&row[right]) {
            return None;
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

    fn polling() -> Terminal {
        Terminal {
            echo: false,
            canonical: false,
            reads: Reads::Polls,
        }
    }

    /// A box of `lines` at column `left`, `width` wide inside, titled.
    fn drawn(left: usize, title: &str, lines: &[&str], width: usize) -> String {
        let pad = " ".repeat(left);
        let border = width - title.chars().count();
        let mut out = format!(
            "{pad}┌{}{title}{}┐\n",
            "─".repeat(border / 2),
            "─".repeat(border - border / 2)
        );
        for line in lines {
            out.push_str(&format!("{pad}│{line:<width$}│\n"));
        }
        out.push_str(&format!("{pad}└{}┘\n", "─".repeat(width)));
        out
    }

    #[test]
    fn a_box_drawn_on_its_own_is_a_dialog() {
        let dialog = drawn(
            30,
            "┤ Configuring tzdata ├",
            &[
                "",
                " Please select the geographic area.",
                "",
                "   <Ok>      <Cancel>",
            ],
            44,
        );
        let screen = format!("Package configuration\n\n\n{dialog}\n");
        let found = dialog_box(&polling(), &screen).expect("a dialog");
        assert_eq!(
            (found.rule.as_str(), found.line.as_str()),
            (DIALOG_BOX, "Configuring tzdata")
        );
        // Its question is the evidence, when it has one; a status line at
        // the screen's foot, far under it, changes nothing.
        let asks = drawn(
            30,
            " Welcome ",
            &[" Restart the web service now?", "  <Yes>  <No>"],
            40,
        );
        let screen = format!("{asks}\n\n\n\n\nOK\n");
        let found = dialog_box(&reading(), &screen).expect("a dialog");
        assert_eq!(found.line, "Restart the web service now?");
        // Nobody waits for a key: nothing is judged.
        let idle = Terminal {
            reads: Reads::Elsewhere,
            ..polling()
        };
        assert_eq!(dialog_box(&idle, &screen), None);
    }

    #[test]
    fn boxes_that_are_a_programs_own_screen_are_no_dialog() {
        let notice = drawn(
            3,
            "",
            &[
                "  Update available 5.1.0 → 5.2.0  ",
                "  Run npm i -g x to update  ",
            ],
            40,
        );
        let cases = [
            // At the left edge: an agent's welcome box, a panel.
            drawn(0, " Claude Code ", &[" Welcome back! "], 40),
            // A notice a CLI printed, then what it does next.
            format!("{notice}\n> "),
            format!("{notice}Compiling x v0.1.0\n"),
            // Panels side by side (a file manager).
            format!(
                "{}\n",
                drawn(2, " Left ", &[" a.txt "; 3], 20)
                    .lines()
                    .map(|l| format!("{l}  │ right panel │"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            // Not closed: the bottom is off screen.
            drawn(10, " Log ", &[" line 1 ", " line 2 "], 30)
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join("\n"),
            // A box with no words in it.
            drawn(10, "", &["", ""], 30),
        ];
        for screen in cases {
            assert_eq!(dialog_box(&polling(), &screen), None, "{screen}");
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
        // A word before `>` asks when it is no program's name (pax's
        // rename).
        let d = reads_question(
            &t,
            "Input new name, or a \".\" to keep the old name.\nInput > ",
        )
        .unwrap();
        assert_eq!(d.line, "Input >");
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
        // A whole line read after words that are no command prompt: what
        // they ask for, however worded.
        let d = reads_question(
            &t,
            "This deletes 3 volumes.\nType the word DELETE to confirm ",
        )
        .unwrap();
        assert_eq!(d.line, "Type the word DELETE to confirm");
        // Keys read one by one after the same words: no question known.
        let raw = Terminal {
            canonical: false,
            ..t
        };
        assert_eq!(
            reads_question(&raw, "Type the word DELETE to confirm "),
            None
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
            "php > ",
            "lftp :~> ",
            "ftp :/pub> ",
            "not connected> ",
            "  DB<1> ",
            // Output the program printed before it read: no question.
            "Compiling baton v0.1.0\nFinished dev profile\n",
            // A log line, however it ends.
            "[12:00:01] waiting for input:",
        ] {
            assert_eq!(reads_question(&t, screen), None, "{screen:?}");
        }
        // Pagers take keys one by one (raw), their foot no question.
        let raw = Terminal {
            canonical: false,
            echo: false,
            ..t
        };
        for screen in [
            "line 1\nline 2\n:",
            "(END)",
            "--More--(12%)",
            "log.txt lines 1-40/400 10%",
            "long.txt",
        ] {
            assert_eq!(reads_question(&raw, screen), None, "{screen:?}");
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
