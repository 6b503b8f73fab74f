//! Input-wait detection (health level L1.5).
//!
//! Called when a session has been silent for `stall_after`, it tells "waiting
//! for an answer" apart from merely "stalled". A false call flips a healthy
//! session and may invite an automatic answer, so this detector must not cry
//! wolf: it looks only at what is on screen at the very end of the output
//! (after [`normalize`]), and a prompt is almost always the last non-empty
//! line, or a choice menu spanning the last few lines. Words like "proceed" in
//! a sentence, a line ending in `>` (unless it is a short question the cursor
//! sits on, as git's "What now> "), a rhetorical question followed by more
//! output, log lines and spinners never count.
//!
//! TUI decoration is not content: box and gutter drawing at line edges is
//! peeled off (a border line reads as empty), and hint or status footers
//! ("Enter to confirm · Esc to exit", "(96% context left)") may sit under a
//! prompt without hiding it. A horizontal option bar (`Yes  Always  No`) under
//! a nearby question counts like a menu.

pub mod corpus;
pub mod terminal;

use std::sync::LazyLock;

use regex::Regex;

use crate::text::normalize;
use terminal::{Reads, Terminal};

/// Why the detector thinks the session waits for input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// The stable snake_case name of the rule that matched.
    pub rule: String,
    /// The on-screen line that matched, trimmed.
    pub line: String,
    /// The prompt is unmistakable: the cursor was left on its line (no
    /// newline after it), or it is a menu of choices. A confident prompt
    /// is judged after a short quiet (`input_wait_after`); any other only
    /// after `stall_after`, when output that merely paused would have gone
    /// on.
    pub confident: bool,
}

/// A user-supplied rule: a regex tried against each of the last few
/// non-empty on-screen lines.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Reported as [`Detection::rule`] when the rule matches.
    pub name: String,
    /// Matched against one trimmed line at a time (no trailing newline).
    pub pattern: Regex,
}

/// Decides whether recent output ends in a prompt waiting for the user.
#[derive(Debug, Clone, Default)]
pub struct InputWaitDetector {
    extra: Vec<Rule>,
}

/// Names of the built-in rules, in the order they are tried.
const BUILTIN: &[&str] = &[
    YES_NO,
    PASSWORD,
    DEFAULT_VALUE,
    CHOICE_MENU,
    CHOICE_BAR,
    KEYED_CHOICES,
    DO_YOU_WANT,
    ALLOW,
    PRESS_ENTER,
    DIALOG_BUTTONS,
    QUESTION_PROMPT,
    TEXT_PROMPT,
    FIELD_PROMPT,
    PASTE_REQUEST,
    ANSWER_HINT,
];
const YES_NO: &str = "yes_no";
const PASSWORD: &str = "password";
const DEFAULT_VALUE: &str = "default_value";
const CHOICE_MENU: &str = "choice_menu";
const CHOICE_BAR: &str = "choice_bar";
const DO_YOU_WANT: &str = "do_you_want";
const ALLOW: &str = "allow";
const PRESS_ENTER: &str = "press_enter";
const DIALOG_BUTTONS: &str = "dialog_buttons";
const QUESTION_PROMPT: &str = "question_prompt";
const KEYED_CHOICES: &str = "keyed_choices";
const TEXT_PROMPT: &str = "text_prompt";
const FIELD_PROMPT: &str = "field_prompt";
const PASTE_REQUEST: &str = "paste_request";
const ANSWER_HINT: &str = "answer_hint";

/// Non-empty lines considered for single-line rules and user rules.
const LAST_LINES: usize = 4;
/// Non-empty lines considered when looking for a choice menu.
const MENU_WINDOW: usize = 12;
/// Longest line `question_prompt` accepts, in chars.
const MAX_QUESTION: usize = 120;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static regex")
}

/// Frame drawing TUIs put around and beside prompts: box drawing
/// (U+2500–U+257F: `│ ╭ ─ ╯ ├ └`), block elements (U+2580–U+259F: the `▌`
/// gutter, `▐`, `█`) and the ASCII side `|`.
pub(crate) fn is_frame_char(c: char) -> bool {
    c == '|' || ('\u{2500}'..='\u{259f}').contains(&c)
}

/// A line as the rules see it: trimmed, with frame drawing peeled off both
/// edges (nested boxes and tree guides included); empty when the line is
/// only frame drawing and whitespace (a box's border).
fn clean_line(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || is_frame_char(c))
}

/// Activity indicators: a session showing one is working, not asking.
static BUSY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)esc to interrupt|ctrl\+c to (?:interrupt|stop)|esc to cancel,\s*\d|\(\d+s\s*[·•]|thinking…|thinking\.\.\.|working \(\d|^[✻✽✶✳✢∗*·]\s*\w+…",
    )
});

/// Log records, compiler and test-runner output, markdown structure: never
/// a prompt, whatever they end with.
static NOISE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}",
        r"|\[?\d{2}:\d{2}:\d{2}\b",
        r"|\[(?i:trace|debug|info|warn|warning|error|err|fatal|notice|verbose)\]",
        r"|(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b",
        r"|\S+\s+(?:TRACE|DEBUG|INFO|WARN|ERROR)\s",
        r"|(?:error|warning|note|help)(?:\[[A-Z]?\d+\])?:",
        r"|test\s+\S+\s+\.\.\.",
        r"|#{1,6}\s",
        r"|[-*+]\s",
        r"|-->|==>|=>",
        r"|npm (?:ERR|WARN|notice)",
        r"|[IWEF]\d{4}\s",
        r")"
    ))
});

/// Status footers TUIs keep under their frame: they may follow a prompt
/// without hiding it ("gemini-2.5-pro (96% context left)", "? for shortcuts").
static FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)\bcontext left\b|^\?\s+for shortcuts\b|\bno sandbox\b",
        r"|shift\+tab to cycle|\bauto-accept edits\b"
    ))
});

/// Trailing lines a prompt may carry below it: hints and status footers.
const MAX_CHROME: usize = 3;

/// Is `line` a hint or status footer (never a busy indicator: "esc to
/// interrupt" and gemini's "(esc to cancel, 12s)" stay activity)?
fn is_chrome(line: &str) -> bool {
    (HINT.is_match(line) || FOOTER.is_match(line)) && !BUSY.is_match(line)
}

/// A notice a program prints under its prompt, a warning glyph or word
/// first (gemini's "⚠  Warning: True color (24-bit) support not detected…"
/// under its permission dialog): it does not hide the question above.
static NOTICE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:[⚠ℹ]\u{FE0F}?\s|(?i:warning|note|notice|tip):\s)"));

/// Is `line` a notice that asks nothing itself ("Warning: this deletes
/// everything. Continue? [y/N]" is the question)?
fn is_notice(line: &str) -> bool {
    NOTICE.is_match(line) && !line.ends_with(['?', ':', ']', ')']) && !YES_NO_RE.is_match(line)
}

/// How many lines at the end of `lines` are hints, status footers and
/// notices (a notice's wrapped end included: a line in lower case under
/// it), up to [`MAX_CHROME`], never all of them.
fn chrome_lines(lines: &[&str]) -> usize {
    let mut end = lines.len();
    while end > 1 && lines.len() - end < MAX_CHROME {
        let line = lines[end - 1];
        if is_chrome(line) || is_notice(line) {
            end -= 1;
        } else if end > 2
            && lines.len() - end + 1 < MAX_CHROME
            && line.starts_with(char::is_lowercase)
            && is_notice(lines[end - 2])
        {
            end -= 2;
        } else {
            break;
        }
    }
    lines.len() - end
}

/// Hint lines TUIs print under a menu or prompt.
static HINT: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:enter|return|⏎|space)\s+to\s+(?:confirm|select|submit|continue|choose|toggle)",
        r"|esc(?:ape)?\s+to\s+(?:cancel|go back|exit|close|dismiss)",
        // Arrow glyphs are not word characters: no `\b` after them.
        r"|(?:↑↓|↑/↓|↑|↓|\b(?:arrow keys|arrows|tab|j/k)\b).{0,20}\bto\s+(?:navigate|move|select|cycle|amend|choose)",
        // A key and its action after a colon: "Enter: confirm".
        r"|\b(?:enter|return|space)\s*:\s*(?:confirm|select|submit|toggle)\b",
        // Keys named with their action, no "to": "↑↓ navigate • ⏎ select".
        r"|(?:^|[•·|]\s*)(?:↑↓|↑/↓|⏎|enter|space|tab|esc)\s+(?:navigate|select|submit|confirm|toggle|cancel|continue|back)\b",
        r"|\(use arrow keys\b[^)]{0,40}\)|\(press <space> to select\b",
        // A key named in quotes with what it does: "press 'L' to load".
        r"|\bpress\s+'[^'\s]{1,5}'\s+to\s+\w+",
        // Inquirer's pager under a long list.
        r"|\(move up and down\b[^)]{0,40}\)",
        // Keys listed in brackets after a suggestion: "[enter/↑/↓/ctrl+c]".
        r"|\[(?:enter|⏎|↑|↓|esc|tab|space|ctrl\+\w)(?:/(?:enter|⏎|↑|↓|esc|tab|space|ctrl\+\w)){1,5}\]"
    ))
});

static YES_NO_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)(?:[(\[]\s*(?:y|yes)\s*[/|]\s*(?:n|no)(?:\s*[/|]\s*[a-z?!]+)*\s*[)\]]",
        r"|[(\[]y(?:,[a-z?!])+[)\]]",
        r"|\(y\)",
        r"|\by/n\b|\byes/no\b",
        // A line of nothing but one-letter choices: rclone's "n/s/q>".
        r"|^(?:[a-z]/){1,9}[a-z]\s*[>:?])",
        r"[\s:?.!]*(?:\[[^\]\n]{0,24}\]|\([^)\n]{0,24}\))?[\s:?.!]*$"
    ))
});

static PASSWORD_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:password|passphrase|passcode|pin|verification code|one-time code)\b[^\n]{0,120}:\s*$",
    )
});

/// A field offering its default: "name: (my-app)", "Port (8080):", and
/// a short default in brackets before the colon, as openssl and configure
/// scripts ask ("Country Name (2 letter code) [AU]:").
static DEFAULT_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?::\s*\([^()\n]{0,80}\)|\([^()\n]{1,80}\)\s*:|\[default[^\[\]\n]{0,80}\]\s*:|\w[^\n]{0,80}\s\[[^\[\]\n]{1,40}\]\s*:)\s*$",
    )
});

/// Bullets, box chars and prompt glyphs that may precede a question.
const LEAD: &str = r"^[\s│|?❯>›▶→●◆◇✔✖*•·◉○◯+!\-]{0,6}";

static DO_YOU_WANT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i){LEAD}(?:do you (?:really )?(?:want|wish)|would you like|shall i|should i|are you sure|do you trust|do you accept)\b[^\n]{{0,300}}\?\s*$"
    ))
});

static ALLOW_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i){LEAD}(?:allow|approve|permit|authorize|trust)\b[^\n]{{0,300}}\?\s*$"
    ))
});

/// A row of nothing but a dialog's buttons: `<OK>`, `[ OK ]`, `< Yes >  < No >`.
static BUTTONS: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^(?:[<\[]\s?(?:OK|Ok|Yes|No|Cancel|Continue|Accept|Decline|Retry|Abort|Next|Back|Close",
        r"|Quit|Exit|Skip|Help|Save|Discard)\s?[>\]]\s*){1,4}$"
    ))
});

static PRESS_ENTER_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:[\w.-]{1,24}:\s+)?[^\w\n]{0,4}(?:press|hit)\s+(?:the\s+)?(?:<enter>|<return>|\[enter\]|enter\b|return\b|any key\b|a key\b|space\b)|\((?:press|hit)\s+(?:enter|return|any key)[^)]*\)\s*$",
    )
});

/// A field prompt the cursor sits on: "Enter a value: ", "Username: ".
static TEXT_PROMPT_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?i)^[^\w\n]{0,6}(?:(?:please\s+)?(?:enter|type|input|provide|choose|select|pick)\b[^\n]{0,60}",
        r"|(?:your\s+|project\s+|package\s+|app\s+)?(?:user ?name|login|e-?mail|name|token|api key|value|choice|selection)",
        r"(?:\s*\([^)\n]{0,30}\))?",
        // A credential prompt naming its target: "Username for 'https://github.com':".
        r"|(?:user ?name|login|e-?mail|user|account)\s+for\s+[^\n]{1,60})\s*:\s*$"
    ))
});

/// A field the cursor sits on, named in a few plain words and a colon
/// ("Real name: ", "Email address: ", "Comment: "): no digits, no path, not
/// a status line led by what is being done ("Resolving deltas: ",
/// "Doing sha256 for 2s on 16 size blocks: ").
static FIELD_PROMPT_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[^\w\n]{0,3}[A-Za-z][A-Za-z'/ -]{0,38}[A-Za-z)]\s*:$"));
/// A status line led by a verb in -ing: what is happening, not a field.
static GERUND: LazyLock<Regex> = LazyLock::new(|| re(r"^[^\w\n]{0,3}[A-Za-z]+ing\b"));

/// A request to paste or type something where the program reads it: "please
/// paste the token found on https://crates.io/me below".
static PASTE_RE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^(?:please\s+)?(?:paste|type|enter)\b[^\n]{0,200}\b(?:below|here)\s*:?$")
});

/// Forces every lazily built pattern of this module.
fn compile_all() {
    LazyLock::force(&BUSY);
    LazyLock::force(&NOISE);
    LazyLock::force(&HINT);
    LazyLock::force(&NOTICE);
    LazyLock::force(&FOOTER);
    LazyLock::force(&YES_NO_RE);
    LazyLock::force(&PASSWORD_RE);
    LazyLock::force(&DEFAULT_VALUE_RE);
    LazyLock::force(&DO_YOU_WANT_RE);
    LazyLock::force(&ALLOW_RE);
    LazyLock::force(&PRESS_ENTER_RE);
    LazyLock::force(&BUTTONS);
    LazyLock::force(&TEXT_PROMPT_RE);
    LazyLock::force(&FIELD_PROMPT_RE);
    LazyLock::force(&GERUND);
    LazyLock::force(&PASTE_RE);
    LazyLock::force(&SELECT_PROMPT);
    LazyLock::force(&QUESTION_WORD);
    LazyLock::force(&INQUIRER_INPUT);
    LazyLock::force(&MARKED);
    LazyLock::force(&INQUIRER_MARK);
    LazyLock::force(&NUMBERED);
    LazyLock::force(&CHECK_BOX);
    LazyLock::force(&SELECT);
    LazyLock::force(&BAR_SPLIT);
    LazyLock::force(&BAR_YES);
    LazyLock::force(&BAR_NO);
    LazyLock::force(&KEYED);
    LazyLock::force(&BUTTON);
    LazyLock::force(&DEFAULT_AFTER);
    terminal::compile();
}

/// What a numbered menu's input line looks like under its options
/// (bash `select`'s "#?", "Enter choice:", "Selection [1-3]:").
static SELECT_PROMPT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:#\?|>>?|(?:please\s+)?(?:enter\s+)?(?:your\s+)?(?:choice|selection|option|number)[^\n]{0,20}[:?>])$",
    )
});

/// A short input line under a menu, where its choice is typed: a word or
/// three and a prompt mark (`Branch>`, `Pick:`, `›`) — not a REPL's own
/// prompt named in lower case (`debug>` under the source listing `node
/// inspect` marks its current line in).
fn input_line(line: &str) -> bool {
    let repl =
        line.starts_with(|c: char| c.is_ascii_lowercase()) && terminal::is_command_prompt(line);
    line.chars().count() <= 30
        && line.split_whitespace().count() <= 3
        && line.ends_with(['>', ':', '›', '»', '?'])
        && !NOISE.is_match(line)
        && !repl
}

static QUESTION_WORD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(?:you|your|continue|overwrite|proceed|enter|select|choose|pick|which|what|where|how|should|want|replace|delete|remove|install|use|create|save|confirm|ok|okay|retry|abort|keep|name)\b",
    )
});

/// Inquirer / prompts style: `? Project name: › my-app`, and a question
/// inquirer asks with the cursor on its line (`? Project name (my-app)`):
/// its `?` mark leads the line, so the line need not end in one.
static INQUIRER_INPUT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^\?\s+\S[^\n]{0,100}\s[›»]|^\?\s+[A-Za-z][^\n]{0,100}(?:\([^()\n]{0,40}\)|[?:])$")
});

/// inquirer's mark before the question it asks: `? Pick a region`.
static INQUIRER_MARK: LazyLock<Regex> = LazyLock::new(|| re(r"^\?\s+[A-Za-z]"));

/// A cursor marker at the start of an option line.
static MARKED: LazyLock<Regex> = LazyLock::new(|| re(r"^([❯›>▶→➤➜▸►»●◉])\s*(.*)$"));

/// Does `line` start with a menu's cursor marker (`❯ Yes`, `● 1. Trust`)?
pub(crate) fn is_marked(line: &str) -> bool {
    MARKED.is_match(line)
}
/// A numbered option: `1. Yes`, `2) No`, `3 - Exit`.
static NUMBERED: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:(\d{1,2})(?:[.)]|\s+[-–])|\[\s?(\d{1,2})\])\s+\S"));
/// A check box leading a choice of a multiple-choice menu.
static CHECK_BOX: LazyLock<Regex> = LazyLock::new(|| re(r"^(?:[◯○◉☐☑☒□]|\[[ xX*]\]|\([ xX*]\))\s"));

fn detection(rule: &str, line: &str, confident: bool) -> Detection {
    Detection {
        rule: rule.to_string(),
        line: line.trim().to_string(),
        confident,
    }
}

impl InputWaitDetector {
    /// The built-in rules only: `yes_no`, `password`, `default_value`,
    /// `choice_menu`, `choice_bar`, `keyed_choices`, `do_you_want`, `allow`,
    /// `press_enter`, `question_prompt`, `text_prompt`, `field_prompt`,
    /// `paste_request`, `answer_hint` (and, given the terminal to
    /// [`InputWaitDetector::judge`], `no_echo` and `reads_terminal`).
    ///
    /// Compiles every built-in pattern now, so the first detection (which
    /// runs inside a session's task, on a deadline) does not pay for it.
    pub fn builtin() -> InputWaitDetector {
        compile_all();
        InputWaitDetector { extra: Vec::new() }
    }

    /// The built-in rules plus `extra`; the extra rules are tried first, in
    /// order, each against the last four non-empty lines, newest first.
    pub fn with_extra(extra: Vec<Rule>) -> InputWaitDetector {
        InputWaitDetector { extra }
    }

    /// Names of all rules, user rules first, in the order they are tried.
    pub fn rule_names(&self) -> Vec<&str> {
        self.extra
            .iter()
            .map(|r| r.name.as_str())
            .chain(BUILTIN.iter().copied())
            .collect()
    }

    /// Judges what a session shows (its screen's text, or raw output bytes
    /// off a terminal) with what its terminal says, when that is known.
    ///
    /// The terminal settles what words cannot: a prompt its program waits
    /// for keys under ([`Terminal::awaits_keys`]: blocked reading the
    /// terminal, or idle in its event loop with the terminal raw) is
    /// confident whatever its rule said; one whose programs are provably
    /// doing something else (no thread waits on any descriptor) is not;
    /// whole lines read without echo ask for a secret (`no_echo`); and a
    /// question the rules do not know counts when the program waits for
    /// keys under it (`reads_terminal`; never a REPL's or shell's own
    /// prompt or a pager's foot), as does a dialog box drawn on its own
    /// (`dialog_box`).
    pub fn judge(&self, shown: &[u8], terminal: Option<&Terminal>) -> Option<Detection> {
        let found = self.detect(shown);
        let Some(terminal) = terminal else {
            return found;
        };
        if let Some(mut found) = found {
            if terminal.awaits_keys() {
                found.confident = true;
            } else if terminal.reads == Reads::Elsewhere {
                found.confident = false;
            }
            return Some(found);
        }
        let text = normalize(shown);
        terminal::asks_for_secret(terminal, &text)
            .or_else(|| terminal::reads_question(terminal, &text))
            .or_else(|| terminal::dialog_box(terminal, &text))
    }

    /// Judges raw recent output bytes (escapes, `\r` redraws and all).
    /// `Some` only when the end of the output looks like a prompt, with the
    /// rule and the line as evidence. Never panics.
    pub fn detect(&self, tail: &[u8]) -> Option<Detection> {
        let text = normalize(tail);
        let open = cursor_open(&text);
        let window = MENU_WINDOW + MAX_CHROME;
        let mut lines: Vec<&str> = Vec::with_capacity(window);
        for l in text.lines().rev().map(clean_line) {
            if !l.is_empty() {
                lines.push(l);
                if lines.len() == window {
                    break;
                }
            }
        }
        lines.reverse();
        let last = *lines.last()?;
        let recent = &lines[lines.len().saturating_sub(LAST_LINES)..];

        for line in recent.iter().rev() {
            if let Some(rule) = self.extra.iter().find(|r| r.pattern.is_match(line)) {
                return Some(detection(&rule.name, line, open));
            }
        }
        // Hint, status and notice lines under the prompt ("Enter to confirm ·
        // Esc to cancel", "gemini-2.5-pro (96% context left)", "⚠ Warning: …").
        let end = lines.len() - chrome_lines(&lines);
        let body = &lines[end.saturating_sub(MENU_WINDOW)..end];
        let body_recent = &body[body.len().saturating_sub(LAST_LINES)..];
        if recent.iter().chain(body_recent).any(|l| BUSY.is_match(l)) {
            return None;
        }
        let prompt = *body.last()?;
        let prompt_ok = !NOISE.is_match(prompt);
        let last_ok = !NOISE.is_match(last);

        if prompt_ok && YES_NO_RE.is_match(prompt) {
            return Some(detection(YES_NO, prompt, open));
        }
        if last_ok && PASSWORD_RE.is_match(last) {
            return Some(detection(PASSWORD, last, open));
        }
        // A program's own command prompt (`In [1]:`, `Command (m for
        // help):`, `sqlite>`) asks for a command, not an answer: no field
        // rule reads it as a question (a menu's input line still counts).
        let field_ok = last_ok && !terminal::is_command_prompt(last);
        if open && field_ok && DEFAULT_VALUE_RE.is_match(last) {
            return Some(detection(DEFAULT_VALUE, last, open));
        }
        // The line a menu's choice is typed on, the cursor on it: `#?`,
        // `Enter choice:`, a bare `>`, fzf's `Branch>`.
        let (menu_body, typed) = match body.split_last() {
            Some((input, rest)) if open && (SELECT_PROMPT.is_match(input) || input_line(input)) => {
                (rest, true)
            }
            _ => (body, false),
        };
        if let Some(line) = choice_menu(menu_body, typed) {
            return Some(detection(CHOICE_MENU, line, true));
        }
        if let Some(line) = choice_bar(body) {
            return Some(detection(CHOICE_BAR, line, true));
        }
        // A row of radio buttons to pick one of (a rating scale: `◯ ───◯
        // ───◉ ───◯`).
        if let Some(line) = body_recent.iter().rev().find(|l| radio_row(l)) {
            return Some(detection(CHOICE_BAR, line, true));
        }
        if prompt_ok && keyed_choices(prompt) {
            return Some(detection(KEYED_CHOICES, prompt, open));
        }
        if prompt_ok && DO_YOU_WANT_RE.is_match(prompt) {
            return Some(detection(DO_YOU_WANT, prompt, open));
        }
        if prompt_ok && ALLOW_RE.is_match(prompt) {
            return Some(detection(ALLOW, prompt, open));
        }
        if last_ok && PRESS_ENTER_RE.is_match(last) {
            return Some(detection(PRESS_ENTER, last, open));
        }
        // A dialog's row of buttons (`<OK>   <Cancel>`, `[ OK ]`) near the
        // bottom: drawn only for a person to press one.
        if let Some(line) = recent.iter().rev().find(|l| BUTTONS.is_match(l)) {
            return Some(detection(DIALOG_BUTTONS, line, true));
        }
        if open && field_ok && question_prompt(last) {
            return Some(detection(QUESTION_PROMPT, last, open));
        }
        if open && field_ok && last.chars().count() <= 80 && TEXT_PROMPT_RE.is_match(last) {
            return Some(detection(TEXT_PROMPT, last, open));
        }
        // The screen ends in a frame's closing line (`└`): a form drawn whole.
        let framed = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .is_some_and(|l| l.chars().all(is_frame_char));
        if let Some(line) = active_form_prompt(body, framed) {
            return Some(detection(QUESTION_PROMPT, line, true));
        }
        if let Some(line) = question_over_field(body, open) {
            return Some(detection(QUESTION_PROMPT, line, true));
        }
        if open && field_ok && field_prompt(last) {
            return Some(detection(FIELD_PROMPT, last, open));
        }
        if last_ok && last.chars().count() <= 240 && PASTE_RE.is_match(last) {
            return Some(detection(PASTE_REQUEST, last, open));
        }
        if let Some(line) = answer_hint(&lines) {
            return Some(detection(ANSWER_HINT, line, true));
        }
        None
    }
}

/// The cursor still sits on the last line of `text`: the program printed
/// a prompt and did not end it with a newline.
fn cursor_open(text: &str) -> bool {
    !text.trim_end_matches([' ', '\t']).ends_with('\n')
}

/// The generic CLI prompt: a short question the cursor is sitting on.
fn question_prompt(line: &str) -> bool {
    if line.chars().count() > MAX_QUESTION || line.contains("://") {
        return false;
    }
    if INQUIRER_INPUT.is_match(line) {
        return true;
    }
    let q = line.trim_end().trim_end_matches(['›', '»', '…']).trim_end();
    // The default offered after the question: "…automatically? [yes]".
    let q = match DEFAULT_AFTER.find(q) {
        // Up to and with its `?`.
        Some(m) => &q[..=m.start()],
        None => q,
    };
    let q = q.strip_suffix("(Use arrow keys)").unwrap_or(q).trim_end();
    // A short question that ends in `>` rather than `?`, as git's
    // interactive commands ask ("What now> "): a lone `>` is no prompt,
    // nor is markup or a type (`Vec<String>`).
    let angled = q.ends_with('>') && q.chars().count() <= 40 && !q.contains('<');
    // A question the cursor was left after is asked of whoever reads it,
    // whatever its words ("rm: descend into directory 'dir'? "); one that
    // ends in `>` says so only with a question's words.
    q.ends_with('?') || (angled && QUESTION_WORD.is_match(q))
}

/// A field the cursor sits on: a few words and a colon ([`FIELD_PROMPT_RE`]),
/// not a status line.
fn field_prompt(line: &str) -> bool {
    // A value offered in the field, the cursor after it: `Branch name: main`
    // (a word or a name, not a measure: `Elapsed: 3.2s` is a status).
    let offered = |value: &str| {
        value.chars().count() <= 30
            && value.chars().any(char::is_alphabetic)
            && value
                .chars()
                .all(|c| c.is_alphabetic() || matches!(c, '-' | '_' | '.' | '/'))
    };
    let label = match line.rsplit_once(": ") {
        Some((label, value)) if offered(value) => &line[..=label.len()],
        _ => line,
    };
    FIELD_PROMPT_RE.is_match(label)
        && label.split_whitespace().count() <= 4
        && !GERUND.is_match(label)
}

/// A short default offered after a question, in brackets or parentheses.
static DEFAULT_AFTER: LazyLock<Regex> =
    LazyLock::new(|| re(r"\?\s*(?:\[[^\[\]\n]{1,24}\]|\([^()\n]{1,24}\))$"));

/// One choice offered with its key: `[y] Yes`, `(Y)es`, `y = yes`.
static KEYED: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\[[a-z0-9]\]\s*[a-z]|\([a-z0-9]\)[a-z]|\b[a-z0-9]\s*=\s*[a-z]"));

/// A question that offers a key for each of its choices — `Apply edit?
/// [y] Yes [a] Always [n] No >`, `Approve plan? (y = yes, n = no, e =
/// edit)` — ends the screen: two keyed choices or more on a line that asks
/// (a `?`) or waits for the key (it ends in `>` or `:`).
fn keyed_choices(line: &str) -> bool {
    let asks = line.contains('?') || line.ends_with(['>', ':']);
    asks && line.chars().count() <= 2 * MAX_QUESTION
        && !line.contains("://")
        && KEYED.find_iter(line).take(2).count() == 2
}

/// The active prompt of a clack-style form (create-vite, create-svelte,
/// astro…): `◆  Project name:` over the field being typed, closed by a
/// frame. The form draws its answer below the question, so the question
/// is not the last line.
fn active_form_prompt<'a>(body: &[&'a str], framed: bool) -> Option<&'a str> {
    let (at, line) = body
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(_, l)| l.starts_with('◆'))?;
    let below = &body[at + 1..];
    let question = line.trim_start_matches('◆').trim();
    // Its words need not ask when the form is closed under it: the `◆`
    // marks the field being filled ("◆  Project Name").
    let asks = question.ends_with(':') || question.ends_with('?') || framed;
    (asks
        && !question.is_empty()
        && question.chars().count() <= MAX_QUESTION
        && below.iter().all(|l| l.chars().count() <= 80))
    .then_some(*line)
}

/// A question with its field under it, the cursor in the field: `Where
/// should we create your new project?` over `./my-app` (a value offered,
/// to keep or type over). The field is short; the question ends in `?`.
fn question_over_field<'a>(body: &[&'a str], open: bool) -> Option<&'a str> {
    let [.., question, field] = body else {
        return None;
    };
    // The prompt mark the field is drawn after is not its value: `? ‣ My
    // Gatsby Site`; a field so marked is the one being filled, wherever
    // the program put the cursor.
    let marked =
        field.starts_with('?') && field[1..].trim_start().starts_with(['‣', '›', '❯', '»']);
    let open = open || marked;
    let field = field.trim_start_matches(|c: char| {
        c.is_whitespace() || matches!(c, '?' | '‣' | '›' | '❯' | '>' | '»' | '→')
    });
    let field_ok = field.chars().count() <= 60
        && field.split_whitespace().count() <= 3
        && !NOISE.is_match(field)
        && !field.ends_with(['.', '!', ':', '?']);
    let asks = question.ends_with('?')
        && question.chars().count() <= MAX_QUESTION
        && !NOISE.is_match(question)
        && !question.contains("://");
    (open && field_ok && asks).then_some(*question)
}

#[derive(Debug)]
struct MenuOption {
    marked: bool,
    number: Option<u32>,
    /// Led by a check box: `◯ JSON`, `◉ JavaScript`, `[ ] Prettier`.
    boxed: Option<CheckBox>,
}

/// The state a check box leading an option shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckBox {
    Empty,
    Ticked,
}

/// Does `text` hold a word (three letters in a row)?
fn has_word(text: &str) -> bool {
    text.chars()
        .scan(0, |run, c| {
            *run = if c.is_alphabetic() { *run + 1 } else { 0 };
            Some(*run)
        })
        .any(|run| run >= 3)
}

/// One line of a choice menu, or `None` when the line cannot be an option.
fn menu_option(line: &str) -> Option<MenuOption> {
    if NOISE.is_match(line) || line.starts_with('?') {
        return None;
    }
    // A line led by a check box, with no cursor marker before it: the
    // box is not a marker (`◉ JavaScript` is ticked, not pointed at).
    let boxed_first = CHECK_BOX
        .find(line)
        .map(|m| (check_box(m.as_str()), &line[m.end()..]));
    let (marked, marker, rest) = match (boxed_first, MARKED.captures(line)) {
        (Some(_), _) => (false, "", line),
        (None, Some(c)) => (
            true,
            c.get(1).map_or("", |m| m.as_str()),
            c.get(2).map_or("", |m| m.as_str()),
        ),
        (None, None) => (false, "", line),
    };
    // A check box before the choice (`◯ ESLint`, `❯◯ TypeScript`, `[x]
    // Prettier`): the choice is what follows it.
    let (boxed, rest) = match CHECK_BOX.find(rest) {
        Some(m) => (Some(check_box(m.as_str())), rest[m.end()..].trim_start()),
        None => (None, rest),
    };
    if let Some(c) = NUMBERED.captures(rest) {
        let number = c
            .get(1)
            .or_else(|| c.get(2))
            .and_then(|n| n.as_str().parse().ok());
        return (rest.chars().count() <= 160).then_some(MenuOption {
            marked,
            number,
            boxed,
        });
    }
    // Radio bullets double as narrative bullets (Claude Code's "●"): alone
    // they count only on numbered options; otherwise they are the ticked
    // one of a list of check boxes or radios (`○ content` / `● minimal`),
    // which a menu needs some empty ones beside.
    let (marked, boxed) = match marker {
        "●" | "◉" => (false, Some(CheckBox::Ticked)),
        _ => (marked, boxed),
    };
    // An option led by a marker or a box may carry a description in a
    // column of its own (`○ component      Collection of web components…`):
    // its label is what comes before the gap (a gap before glyphs — a
    // scroll bar, the next panel of a full-screen program — is no
    // description). Unled lines in columns are legends and tables.
    let mut parts = BAR_SPLIT.splitn(rest, 2);
    let rest = match (parts.next(), parts.next()) {
        (Some(label), Some(description))
            if (marked || boxed.is_some())
                && description.starts_with(char::is_alphabetic)
                && has_word(description) =>
        {
            label
        }
        _ => rest,
    };
    // A button as an option (urwid's `< Chapman        >`, padded to the
    // list's width): the choice is its label.
    let rest = rest
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .map(str::trim)
        .filter(|label| !label.is_empty() && !label.contains(['<', '>']))
        .unwrap_or(rest);
    let short = rest.chars().count() <= 60;
    // A file name may lead with a dot (`.cz.toml`); an option may end in
    // an ellipsis (`custom ...`, `Other, please specify…`).
    let mut chars = rest.chars();
    let starts_ok = match chars.next() {
        Some('.') => chars.next().is_some_and(char::is_alphanumeric),
        Some(c) => c.is_alphanumeric() || c == '(' || c == '[',
        None => false,
    };
    let ends_ok = rest.ends_with("...") || !rest.ends_with(['.', ':', '!', '?', ',', ';', '>']);
    (short && starts_ok && ends_ok).then_some(MenuOption {
        marked,
        number: None,
        boxed,
    })
}

/// What a check box shows: empty (`◯`, `[ ]`) or ticked (`◉`, `[x]`).
fn check_box(glyph: &str) -> CheckBox {
    let glyph = glyph.trim();
    if ["◯", "○", "☐", "□", "[ ]", "( )"].contains(&glyph) {
        CheckBox::Empty
    } else {
        CheckBox::Ticked
    }
}

/// "Select …:", "Choose …:" introducing a menu.
static SELECT: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^[^\w\n]{0,4}(?:select|choose|pick)\b[^\n]{0,100}[:.]$"));

/// Does a line introduce a menu (a question, or "Select …:")?
fn is_menu_question(line: &str) -> bool {
    if NOISE.is_match(line) || line.contains("://") {
        return false;
    }
    // "Which template? (Use arrow keys)": the question is before the hint.
    let q = match line.rfind('(') {
        Some(i) if line.ends_with(')') => line[..i].trim_end(),
        _ => line,
    };
    let q = q.trim_end_matches(['…', '›']).trim_end();
    q.ends_with('?')
        || SELECT.is_match(line)
        || INQUIRER_MARK.is_match(line)
        || line.starts_with('◆')
}

/// Keys offered to answer with, among the last lines: a hint only a program
/// waiting for one of those keys shows (`↑/↓: Select a package`, `(Use
/// arrow keys or type to search)`, `press 'L' to load script file`).
/// Returns the question it answers (the nearest line above it that asks),
/// else the hint.
fn answer_hint<'a>(lines: &[&'a str]) -> Option<&'a str> {
    let recent = lines.len().saturating_sub(LAST_LINES);
    let at = (recent..lines.len()).rev().find(|&i| {
        let line = lines[i];
        // Prose about keys ends as a sentence does; a hint does not, unless
        // it names its keys in quotes (`press 'L' to load …, 'Q' quits.`).
        let sentence = line.ends_with('.') && !line.ends_with("..") && !line.contains("press '");
        // An inquirer question carries its own hint: `? Choose which
        // packages to update. (Press <space> to select, …)`.
        let longest = if INQUIRER_MARK.is_match(line) {
            MAX_QUESTION
        } else {
            100
        };
        line.chars().count() <= longest && HINT.is_match(line) && !NOISE.is_match(line) && !sentence
    })?;
    let question = lines[..=at].iter().rev().find(|l| {
        let l = l.trim_end_matches(|c: char| c != ':' && c != '?' && !c.is_alphanumeric());
        (l.ends_with('?') || l.ends_with(':'))
            && l.chars().count() <= MAX_QUESTION
            && !NOISE.is_match(l)
            && !l.contains("://")
    });
    Some(question.copied().unwrap_or(lines[at]))
}

/// A numbered or arrow-key menu at the very end of `body`: two or more
/// options with exactly one cursor marker, or numbered 1, 2, … under a
/// question or over the line the choice is typed on (`typed`: it was
/// under `body`, the cursor on it). Returns the line to report (the
/// question, else the selected option, else the first).
fn choice_menu<'a>(body: &[&'a str], typed: bool) -> Option<&'a str> {
    let mut options = Vec::new();
    let mut above = None;
    for line in body.iter().rev() {
        let Some(o) = menu_option(line) else {
            above = Some(*line);
            break;
        };
        // A numbered menu ends at its option 1: the line above it is text
        // ("https://…", a path), however option-like it looks.
        let numbered_run_ended = o.number.is_none()
            && options
                .first()
                .is_some_and(|(first, _): &(MenuOption, &str)| first.number.is_some());
        if options.len() == MENU_WINDOW - 1 || numbered_run_ended {
            above = Some(*line);
            break;
        }
        options.push((o, *line));
    }
    options.reverse();
    if options.len() < 2 {
        return None;
    }
    let numbered = options.iter().filter(|(o, _)| o.number.is_some()).count();
    if numbered != 0 && numbered != options.len() {
        return None;
    }
    if numbered > 0 {
        let sequential = options
            .windows(2)
            .all(|w| matches!((w[0].0.number, w[1].0.number), (Some(a), Some(b)) if b == a + 1));
        if !sequential {
            return None;
        }
    }
    let question = above.filter(|l| is_menu_question(l));
    let marked: Vec<&str> = options
        .iter()
        .filter(|(o, _)| o.marked)
        .map(|(_, l)| *l)
        .collect();
    // A list of check boxes, some empty, under its question: a
    // multiple choice, whichever box the cursor is on.
    let boxes = options.iter().filter(|(o, _)| o.boxed.is_some()).count();
    let empty = options
        .iter()
        .any(|(o, _)| o.boxed == Some(CheckBox::Empty));
    let ok = match marked.len() {
        1 => true,
        0 if boxes == options.len() && empty => question.is_some(),
        // Numbered from 1, or from 0 in brackets (cleo's `[ 0] postgres`).
        0 => {
            numbered > 0
                && (question.is_some() || typed)
                && matches!(options[0].0.number, Some(0 | 1))
        }
        _ => false,
    };
    if !ok {
        return None;
    }
    question
        .or_else(|| marked.first().copied())
        .or_else(|| options.first().map(|(_, l)| *l))
}

/// At most this many lines may follow an option bar (a description of the
/// selected option: "Approve and run the command").
const BAR_TAIL: usize = 2;
/// The bar's question is at most this many content lines above it.
const BAR_REACH: usize = 8;

/// Items of an option bar are set apart by two or more spaces.
static BAR_SPLIT: LazyLock<Regex> = LazyLock::new(|| re(r"\s{2,}"));
/// The first item says yes; another item declines.
static BAR_YES: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^(?:yes|allow|approve|accept|apply|run|continue|proceed|ok|okay|confirm)\b")
});
static BAR_NO: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^(?:no|deny|reject|decline|cancel|skip|abort|don'?t|never|quit|exit)\b")
});

/// A horizontal option bar: `Yes   Always   No   No, provide feedback`, or
/// `[ Allow ]  [ Deny ]`.
fn is_option_bar(line: &str) -> bool {
    if line.chars().count() > 100 || NOISE.is_match(line) || line.contains("://") {
        return false;
    }
    let items: Vec<&str> = match buttons(line) {
        Some(labels) => labels,
        None => BAR_SPLIT
            .split(line)
            .map(|item| {
                item.trim_start_matches(['[', '(', '<', '›', '❯', '>'])
                    .trim_end_matches([']', ')', '>'])
                    .trim()
            })
            .collect(),
    };
    if !(2..=6).contains(&items.len()) {
        return false;
    }
    let item_ok = |item: &&str| {
        item.chars().count() <= 30
            && item.split_whitespace().count() <= 4
            && item.chars().next().is_some_and(char::is_alphanumeric)
            && !item.chars().any(is_frame_char)
            && !item.ends_with(['.', ':', '?', '!', ';'])
    };
    items.iter().all(item_ok)
        && BAR_YES.is_match(items[0])
        && items[1..].iter().any(|item| BAR_NO.is_match(item))
}

/// Radio buttons, empty and chosen.
const RADIO_EMPTY: &[char] = &['◯', '○', '◌'];
const RADIO_CHOSEN: &[char] = &['◉', '●', '◎'];

/// A row of three or more radio buttons, at most one of them chosen: a
/// choice laid out across (a scale), not a list of states.
fn radio_row(line: &str) -> bool {
    let empty = line.chars().filter(|c| RADIO_EMPTY.contains(c)).count();
    let chosen = line.chars().filter(|c| RADIO_CHOSEN.contains(c)).count();
    empty + chosen >= 3 && empty >= 2 && chosen <= 1 && !NOISE.is_match(line)
}

/// One button of a dialog: its label in angle brackets, brackets or
/// parentheses, padded or not (`<   Yes    >`, `[ Cancel ]`).
static BUTTON: LazyLock<Regex> =
    LazyLock::new(|| re(r"[<\[(]\s*([^<>\[\]()\s][^<>\[\]()]{0,29}?)\s*[>\])]"));

/// The labels of a line made of buttons only (two or more, nothing but
/// blanks between them): a dialog's buttons.
fn buttons(line: &str) -> Option<Vec<&str>> {
    let mut labels = Vec::new();
    let mut end = 0;
    for m in BUTTON.captures_iter(line) {
        let whole = m.get(0)?;
        if !line[end..whole.start()].trim().is_empty() {
            return None;
        }
        labels.push(m.get(1)?.as_str().trim());
        end = whole.end();
    }
    (labels.len() >= 2 && line[end..].trim().is_empty()).then_some(labels)
}

/// A question the bar answers: a short line ending in `?`.
fn is_bar_question(line: &str) -> bool {
    line.ends_with('?')
        && line.chars().count() <= MAX_QUESTION
        && !NOISE.is_match(line)
        && !line.contains("://")
}

/// An option bar among the last lines of `body`, under a question at most
/// [`BAR_REACH`] lines above it. Returns the question.
fn choice_bar<'a>(body: &[&'a str]) -> Option<&'a str> {
    let n = body.len();
    let bar = (n.saturating_sub(BAR_TAIL + 1)..n)
        .rev()
        .find(|&i| is_option_bar(body[i]))?;
    let below_ok = body[bar + 1..]
        .iter()
        .all(|l| l.chars().count() <= 80 && !l.ends_with('?') && !NOISE.is_match(l));
    if !below_ok {
        return None;
    }
    let above = &body[bar.saturating_sub(BAR_REACH)..bar];
    if let Some(question) = above.iter().rev().find(|l| is_bar_question(l)) {
        return Some(question);
    }
    // A dialog's own buttons (`< Ok >  < Cancel >`) at the foot of its
    // content: what it says above them is its question, however worded.
    buttons(body[bar])?;
    above
        .iter()
        .rev()
        .find(|l| buttons(l).is_none() && !NOISE.is_match(l))
        .copied()
}

#[cfg(test)]
mod tests;
