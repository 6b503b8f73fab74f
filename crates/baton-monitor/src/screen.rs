//! What a person would see on a terminal now: the output of an agent on a
//! PTY or in a tmux pane, run through a real terminal emulator (`vt100`).
//!
//! Full-screen CLIs draw with cursor moves (`CSI row;col H`, `CSI n B`,
//! `\r` + erase-line redraws); judged as a byte stream, their screens
//! collapse into one line, words run together, and rows a redraw replaced
//! survive. Judged as a screen, the question is the one showing.

use std::num::NonZeroU16;

use crate::text::Charsets;

/// A terminal screen fed with a run's output.
pub struct Screen {
    parser: vt100::Parser<Queries>,
    graphics: Graphics,
}

/// DEC special graphics drawn as the line-drawing characters they stand
/// for (`ESC ( 0` then `lqqk` is `┌──┐`), which `vt100` does not do: curses
/// programs (`dialog`) draw their boxes so. Follows escape sequences
/// across chunks, so a select is never taken for text nor text for one.
#[derive(Debug, Default)]
struct Graphics {
    charsets: Charsets,
    state: Escape,
}

/// Where the byte stream is in an escape sequence.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    Ground,
    /// After `ESC`.
    Esc,
    /// After `ESC (` or `ESC )`: the set comes next.
    Designate(u8),
    /// After `ESC #`, `ESC %`, …: one more byte.
    Skip,
    /// In a CSI sequence, until its final byte.
    Csi,
    /// In an OSC, DCS, APC… string, until BEL or ST.
    Str,
    /// `ESC` inside a string (ST is `ESC \`).
    StrEsc,
}

impl Graphics {
    /// `bytes` with text drawn in DEC special graphics rewritten to UTF-8;
    /// borrowed as is when nothing in it can select or use the set.
    fn filter<'a>(&mut self, bytes: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let plain = self.state == Escape::Ground
            && self.charsets == Charsets::default()
            && !bytes.iter().any(|&b| matches!(b, 0x1b | 0x0e | 0x0f));
        if plain {
            return std::borrow::Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 2);
        for &b in bytes {
            self.state = match self.state {
                Escape::Ground => match b {
                    0x1b => Escape::Esc,
                    0x0e | 0x0f => {
                        self.charsets.shifted = b == 0x0e;
                        Escape::Ground
                    }
                    0x5f..=0x7e => {
                        let shown = self.charsets.show(char::from(b));
                        let mut utf8 = [0u8; 4];
                        out.extend_from_slice(shown.encode_utf8(&mut utf8).as_bytes());
                        continue;
                    }
                    _ => Escape::Ground,
                },
                Escape::Esc => match b {
                    b'(' | b')' => Escape::Designate(b),
                    b'[' => Escape::Csi,
                    b']' | b'P' | b'X' | b'^' | b'_' => Escape::Str,
                    b' ' | b'#' | b'%' | b'*' | b'+' | b'-' | b'.' | b'/' => Escape::Skip,
                    b'c' => {
                        self.charsets = Charsets::default();
                        Escape::Ground
                    }
                    0x1b => Escape::Esc,
                    _ => Escape::Ground,
                },
                Escape::Designate(slot) => {
                    self.charsets.designate(char::from(slot), char::from(b));
                    Escape::Ground
                }
                Escape::Skip => Escape::Ground,
                Escape::Csi => match b {
                    0x1b => Escape::Esc,
                    0x40..=0x7e => Escape::Ground,
                    _ => Escape::Csi,
                },
                Escape::Str => match b {
                    0x07 => Escape::Ground,
                    0x1b => Escape::StrEsc,
                    _ => Escape::Str,
                },
                Escape::StrEsc => Escape::Ground,
            };
            out.push(b);
        }
        std::borrow::Cow::Owned(out)
    }
}

/// The answers a terminal owes a program that asked it something: cursor
/// position (`CSI 6 n`), status (`CSI 5 n`), device attributes (`CSI c`,
/// `CSI > c`), foreground and background colours (`OSC 10 ; ?`, `OSC 11 ;
/// ?`). Programs that get none wait, or warn that the terminal is
/// unsupported (aider).
#[derive(Default)]
struct Queries {
    replies: Vec<u8>,
}

impl vt100::Callbacks for Queries {
    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _i2: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        let first = params.first().and_then(|p| p.first()).copied();
        match (i1, c, first) {
            (None, 'n', Some(6)) => {
                let (row, col) = screen.cursor_position();
                self.replies
                    .extend_from_slice(format!("\x1b[{};{}R", row + 1, col + 1).as_bytes());
            }
            (None, 'n', Some(5)) => self.replies.extend_from_slice(b"\x1b[0n"),
            // A VT100 with advanced video.
            (None, 'c', None | Some(0)) => self.replies.extend_from_slice(b"\x1b[?1;2c"),
            (Some(b'>'), 'c', None | Some(0)) => self.replies.extend_from_slice(b"\x1b[>0;10;1c"),
            _ => {}
        }
    }

    fn unhandled_osc(&mut self, _: &mut vt100::Screen, params: &[&[u8]]) {
        let colour = match params {
            [b"10", b"?"] => "10;rgb:ffff/ffff/ffff",
            [b"11", b"?"] => "11;rgb:0000/0000/0000",
            _ => return,
        };
        self.replies
            .extend_from_slice(format!("\x1b]{colour}\x1b\\").as_bytes());
    }
}

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (rows, cols) = self.parser.screen().size();
        f.debug_struct("Screen")
            .field("rows", &rows)
            .field("cols", &cols)
            .finish()
    }
}

impl Screen {
    /// A blank screen of `rows` × `cols` (each at least 1).
    pub fn new(rows: u16, cols: u16) -> Screen {
        let one = NonZeroU16::MIN;
        Screen {
            parser: vt100::Parser::new_with_callbacks(
                NonZeroU16::new(rows).unwrap_or(one),
                NonZeroU16::new(cols).unwrap_or(one),
                0,
                Queries::default(),
            ),
            graphics: Graphics::default(),
        }
    }

    /// Feeds output bytes, as the terminal received them. Returns what the
    /// terminal answers to queries among them (to be written to its input),
    /// usually nothing.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        let bytes = self.graphics.filter(bytes);
        self.parser.process(&bytes);
        std::mem::take(&mut self.parser.callbacks_mut().replies)
    }

    /// The screen as text: its rows top to bottom, right ends trimmed,
    /// blank rows at the bottom dropped; the last row ends without a
    /// newline when the cursor sits on it after text (a prompt waiting on
    /// the same line) or, shown, indented on the blank row right under it
    /// (a field under its question), with one otherwise.
    pub fn text(&self) -> String {
        self.render(false)
    }

    /// The screen as the detectors read it: [`Screen::text`], with the one
    /// row a program highlights among its neighbours led by `❯`, the
    /// marker a menu drawn in text shows its choice with. Curses and
    /// terminal-kit menus, `dialog`'s lists and fuzzy finders show their
    /// choice only by colour (a shaded or inverse row), which plain text
    /// drops.
    ///
    /// A row counts when its shaded cells (inverse video, or a background
    /// colour) are shaded unlike the cells over and under them, all alike,
    /// in one span of a short item (≤ 60 characters, ≥ 2 letters or
    /// digits, no gap of three spaces — a status bar's fields are no
    /// item); a neighbour row holds text under or over that span (the
    /// other choices); and no other row within a menu's reach is shaded
    /// the same (stripes of a table, several marked rows).
    ///
    /// Two more things a person sees that plain text drops: a cursor the
    /// program draws itself, its terminal's hidden (one shaded blank cell
    /// after a row's text: ink, bubbletea), is taken for the cursor; and a
    /// selector's list (the cursor on a query line right over a marked
    /// choice, as peco and pick show it) ends a few choices under the
    /// marked one, however far it runs down the screen.
    pub fn judged(&self) -> String {
        self.render(true)
    }

    /// The screen's text; with `mark`, as the detectors read it: the
    /// highlighted choice marked, and a cursor the program draws itself
    /// (its terminal's hidden) taken for the cursor.
    fn render(&self, mark: bool) -> String {
        let screen = self.parser.screen();
        let (height, width) = screen.size();
        let (height, width) = (height.get(), width.get());
        let mut lines: Vec<Row> = (0..height).map(|r| Row::of(screen, r, width)).collect();
        let mut marked = Vec::new();
        if mark {
            for (row, span) in selection(screen, &lines, height, width) {
                lines[usize::from(row)].mark(span);
                marked.push(usize::from(row));
            }
        }
        let rows: Vec<&str> = lines.iter().map(|r| r.text.trim_end()).collect();
        let Some(mut last) = rows.iter().rposition(|r| !r.is_empty()) else {
            return String::new();
        };
        let mut cursor = screen.cursor_position();
        if mark && screen.hide_cursor() {
            cursor = drawn_cursor(screen, &rows, width).unwrap_or(cursor);
        }
        let (cursor_row, cursor_col) = (usize::from(cursor.0), usize::from(cursor.1));
        // A selector's query line, the cursor on it, over the list it
        // filters with the choice marked right under it (peco's `QUERY>`,
        // pick's empty line): the choices under the cursor are what is
        // shown to be picked, however long the list runs below.
        if mark && !screen.hide_cursor() && cursor_row < last {
            let line = &lines[cursor_row];
            let typed =
                line.text[..line.at.get(cursor_col).copied().unwrap_or(line.text.len())].trim();
            let query = typed.is_empty() || typed.ends_with(['>', '›', '❯', ':']);
            let choice = marked
                .iter()
                .find(|&&m| m > cursor_row && m <= cursor_row + 2);
            if let Some(&choice) = choice.filter(|_| query) {
                last = last.min(choice + SELECTOR_SHOWN);
            }
        }
        let mut text = rows[..=last].join("\n");
        // The cursor after text on the last row, or shown indented on the
        // empty row right under it: an answer's field below its question
        // (`🎤 What is the project called?` over `   ▌`).
        let under = cursor_row == last + 1 && !screen.hide_cursor();
        let open = (cursor_row == last || under) && cursor_col > 0;
        if !open {
            text.push('\n');
        }
        text
    }

    /// The last non-empty row, trimmed; `None` on a blank screen.
    pub fn last_line(&self) -> Option<String> {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        screen
            .rows(0, cols.get())
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .last()
    }
}

/// One screen row as text, with where each column's cell starts in it.
struct Row {
    text: String,
    /// Byte offset in `text` of each column (a wide character's second
    /// column shares its first's).
    at: Vec<usize>,
}

impl Row {
    fn of(screen: &vt100::Screen, row: u16, width: u16) -> Row {
        let mut text = String::new();
        let mut at = Vec::with_capacity(usize::from(width));
        let mut start = 0;
        for col in 0..width {
            match screen.cell(row, col) {
                Some(cell) if cell.is_wide_continuation() => at.push(start),
                Some(cell) if cell.has_contents() => {
                    start = text.len();
                    at.push(start);
                    text.push_str(cell.contents());
                }
                _ => {
                    start = text.len();
                    at.push(start);
                    text.push(' ');
                }
            }
        }
        Row { text, at }
    }

    /// Leads the item at columns `span` with the selection marker: over the
    /// blank column before it when there is one, else pushed in front.
    fn mark(&mut self, span: (u16, u16)) {
        let Some(first) = (usize::from(span.0)..=usize::from(span.1)).find(|&c| {
            self.text
                .as_bytes()
                .get(self.at[c])
                .is_some_and(|&b| b != b' ')
        }) else {
            return;
        };
        let start = self.at[first];
        // Columns after the change start further on in the text.
        let (from, grown) = if first >= 2
            && self.text[self.at[first - 2]..start]
                .chars()
                .all(|c| c == ' ')
        {
            let blank = self.at[first - 2]..self.at[first - 1];
            let grown = '❯'.len_utf8() - blank.len();
            self.text.replace_range(blank, "❯");
            (first - 1, grown)
        } else {
            self.text.insert_str(start, "❯ ");
            (first, "❯ ".len())
        };
        for at in &mut self.at[from..] {
            *at += grown;
        }
    }

    /// Does the text from column `col` lead its row: only blanks and frame
    /// drawing (a box's side) before it?
    fn leads(&self, col: u16) -> bool {
        self.text[..self.at[usize::from(col)]]
            .chars()
            .all(|c| c == ' ' || crate::input_wait::is_frame_char(c))
    }

    /// The first column holding more than blanks and frame drawing.
    fn content_start(&self) -> Option<u16> {
        (0u16..).zip(&self.at).find_map(|(col, &at)| {
            let c = self.text[at..].chars().next()?;
            (c != ' ' && !crate::input_wait::is_frame_char(c)).then_some(col)
        })
    }

    /// Does the text up to column `col` end its row: only blanks and frame
    /// drawing after it?
    fn ends(&self, col: u16) -> bool {
        let after = self
            .at
            .get(usize::from(col) + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[after..]
            .chars()
            .all(|c| c == ' ' || crate::input_wait::is_frame_char(c))
    }

    /// The text at columns `first..=last`, trimmed.
    fn item(&self, first: u16, last: u16) -> &str {
        let end = self
            .at
            .get(usize::from(last) + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[self.at[usize::from(first)]..end].trim()
    }
}

/// Where a program that hid the terminal's cursor draws its own: the one
/// blank cell on the screen shaded unlike the cells beside it, right after
/// the text of its row (`Enter the commit message: █` as ink and bubbletea
/// draw a text field). `None` when there is none, or more than one.
fn drawn_cursor(screen: &vt100::Screen, rows: &[&str], width: u16) -> Option<(u16, u16)> {
    let mut found = None;
    for (row, text) in (0u16..).zip(rows) {
        if text.is_empty() {
            continue;
        }
        let r = i32::from(row);
        // The last column holding text or shade.
        let Some(candidate) = (0..width).rev().find(|&c| {
            shade(screen, r, c) != PLAIN
                || screen
                    .cell(row, c)
                    .is_some_and(|cell| !cell.contents().trim().is_empty())
        }) else {
            continue;
        };
        let blank = screen
            .cell(row, candidate)
            .is_some_and(|cell| cell.contents().trim().is_empty());
        let lit = shade(screen, r, candidate);
        let alone = lit != PLAIN
            && candidate > 0
            && shade(screen, r, candidate - 1) != lit
            && shade(screen, r, candidate + 1) != lit;
        if blank && alone {
            if found.is_some() {
                return None;
            }
            found = Some((row, candidate));
        }
    }
    found
}

/// How a cell's background looks: inverse video shows its foreground
/// colour there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shade {
    inverse: bool,
    colour: vt100::Color,
}

/// A cell drawn on the terminal's own background.
const PLAIN: Shade = Shade {
    inverse: false,
    colour: vt100::Color::Default,
};

fn shade(screen: &vt100::Screen, row: i32, col: u16) -> Shade {
    let Ok(row) = u16::try_from(row) else {
        return PLAIN;
    };
    match screen.cell(row, col) {
        Some(c) if c.inverse() => Shade {
            inverse: true,
            colour: c.fgcolor(),
        },
        Some(c) => Shade {
            inverse: false,
            colour: c.bgcolor(),
        },
        None => PLAIN,
    }
}

/// Choices under a selector's marked one that the detectors are shown.
const SELECTOR_SHOWN: usize = 4;

/// Rows apart within which a second row shaded alike makes neither a
/// selection: a menu's reach.
const SELECTION_REACH: u16 = 12;

/// The highlighted rows of [`Screen::judged`], with the columns of their
/// item.
fn selection(
    screen: &vt100::Screen,
    rows: &[Row],
    height: u16,
    width: u16,
) -> Vec<(u16, (u16, u16))> {
    // Rows whose shaded span is all they hold: one short item, no marker
    // of its own. Not the top row (a title or menu bar) nor the foot (a
    // status line: a pager's file name); not a button among others.
    let items: Vec<(u16, u16, u16, Shade)> = (1..height.saturating_sub(1))
        .filter_map(|row| {
            let (first, last, shade) = shaded_span(screen, row, width)?;
            let line = &rows[usize::from(row)];
            let item = line.item(first, last);
            let is_item = short_item(item)
                && item.chars().filter(|c| c.is_alphanumeric()).count() >= 2
                && !crate::input_wait::is_marked(item);
            (is_item && line.leads(first) && line.ends(last)).then_some((row, first, last, shade))
        })
        .collect();
    items
        .iter()
        .filter(|&&(row, _, _, shade)| {
            let alone = !items.iter().any(|&(other, _, _, s)| {
                other != row && s == shade && other.abs_diff(row) <= SELECTION_REACH
            });
            // Another choice over or under it, in the same column: a short
            // item itself, not the foot row (a status bar over an input
            // line is no choice among choices).
            let at = rows[usize::from(row)].content_start();
            let beside = |r: u16| {
                if r + 1 >= height {
                    return false;
                }
                let Some(other) = rows.get(usize::from(r)) else {
                    return false;
                };
                let text = other
                    .text
                    .trim_matches(|c: char| c == ' ' || crate::input_wait::is_frame_char(c));
                let item = short_item(text);
                matches!((other.content_start(), at), (Some(c), Some(at)) if c.abs_diff(at) <= 2)
                    && item
            };
            alone && (beside(row - 1) || beside(row + 1))
        })
        .map(|&(row, first, last, _)| (row, (first, last)))
        .collect()
}

/// Is `text` one short item — at most 60 characters, no gap of three
/// spaces (the fields of a status bar) — once a button's brackets padded to
/// a width are taken off (urwid's `< Chapman      >`)?
fn short_item(text: &str) -> bool {
    let inner = [('<', '>'), ('[', ']')]
        .iter()
        .find_map(|&(open, close)| text.strip_prefix(open)?.strip_suffix(close))
        .map_or(text, str::trim);
    inner.chars().count() <= 60 && !inner.contains("   ")
}

/// The one span of `row` shaded unlike the cells over and under it: its
/// first and last column and its shade. `None` when no cell is, or when
/// they differ in shade or stand in parts more than two columns apart (the
/// fields of a status bar).
fn shaded_span(screen: &vt100::Screen, row: u16, width: u16) -> Option<(u16, u16, Shade)> {
    let mut span: Option<(u16, u16, Shade)> = None;
    let r = i32::from(row);
    for col in 0..width {
        let s = shade(screen, r, col);
        let lit = s != PLAIN && s != shade(screen, r - 1, col) && s != shade(screen, r + 1, col);
        if !lit {
            continue;
        }
        span = match span {
            None => Some((col, col, s)),
            Some((first, last, shade)) if shade == s && col - last <= 3 => {
                Some((first, col, shade))
            }
            Some(_) => return None,
        };
    }
    span
}

/// `bytes` as a terminal shows them, for output that did not come through
/// a PTY (`baton classify` of a saved log): a lone `\n` also returns the
/// carriage, as a PTY's `onlcr` would have made it.
pub fn screen_of(bytes: &[u8], rows: u16, cols: u16) -> Screen {
    let mut translated = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            translated.push(b'\r');
        }
        translated.push(b);
        prev = b;
    }
    let mut screen = Screen::new(rows, cols);
    screen.push(&translated);
    screen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminals_queries_are_answered() {
        let mut screen = Screen::new(24, 80);
        assert!(screen.push(b"plain output\r\n").is_empty());
        assert_eq!(screen.push(b"ab\x1b[6n"), b"\x1b[2;3R");
        assert_eq!(screen.push(b"\x1b[c"), b"\x1b[?1;2c");
        assert_eq!(screen.push(b"\x1b[>c"), b"\x1b[>0;10;1c");
        assert_eq!(screen.push(b"\x1b[5n"), b"\x1b[0n");
        assert_eq!(
            screen.push(b"\x1b]11;?\x07"),
            b"\x1b]11;rgb:0000/0000/0000\x1b\\"
        );
        // Two in one chunk, in order; text around them still lands.
        assert_eq!(screen.push(b"\x1b[c\x1b[6n!"), b"\x1b[?1;2c\x1b[2;3R");
        assert_eq!(screen.text(), "plain output\nab!");
    }

    #[test]
    fn rows_a_redraw_replaced_are_gone() {
        // A menu, then the three rows over it rewritten from the top.
        let bytes = "Pick one:\r\n❯ 1. Yes\r\n  2. No\r\n\x1b[3A\x1b[2KAll done\r\x1b[1B\x1b[2Kfinished ok\r\x1b[1B\x1b[2Kbye\r\x1b[1B";
        let screen = screen_of(bytes.as_bytes(), 24, 80);
        assert_eq!(screen.text(), "All done\nfinished ok\nbye\n");
        assert_eq!(screen.last_line().as_deref(), Some("bye"));
    }

    #[test]
    fn cursor_addressed_rows_stay_rows_and_words_stay_apart() {
        // codex draws every row with CUP; claude moves between lines with
        // `\r\e[1B` and spaces with `CSI n C`.
        let codex = "\x1b[2J\x1b[1;1HWorking on it\x1b[3;1HAllow command? (y/n)\x1b[3;22H";
        let screen = screen_of(codex.as_bytes(), 10, 40);
        assert_eq!(screen.text(), "Working on it\n\nAllow command? (y/n)");
        let claude = "Do\x1b[1Cyou\x1b[1Ctrust\r\x1b[1B1.\x1b[1CYes";
        let screen = screen_of(claude.as_bytes(), 10, 40);
        assert_eq!(screen.text(), "Do you trust\n1. Yes");
    }

    #[test]
    fn dec_line_drawing_shows_as_boxes_across_chunks() {
        let mut screen = Screen::new(5, 40);
        // Colours (`m` is a final byte, not text) between the select and
        // the box; the select split across chunks.
        screen.push(b"\x1b[0;1m\x1b");
        screen.push(b"(0\x1b[37mlqqk\x1b(B Name:\r\n\x1b(0x\x1b(B ok \x1b(0");
        screen.push(b"x\x1b(B\r\n\x1b]0;title q\x07mq");
        assert_eq!(screen.text(), "┌──┐ Name:\n│ ok │\nmq");
        // SO/SI to a G1 holding the set.
        let mut screen = Screen::new(5, 40);
        screen.push(b"\x1b)0a\x0emqj\x0fb");
        assert_eq!(screen.text(), "a└─┘b");
    }

    #[test]
    fn a_prompt_on_the_cursor_row_stays_open() {
        let screen = screen_of(b"Proceed? [y/N] ", 5, 40);
        assert_eq!(screen.text(), "Proceed? [y/N]");
        let screen = screen_of(b"done\n", 5, 40);
        assert_eq!(screen.text(), "done\n");
        // Indented under the last line: a field; hidden there, not.
        let screen = screen_of(b"What is it called?\n   ", 5, 40);
        assert_eq!(screen.text(), "What is it called?");
        let screen = screen_of(b"\x1b[?25lWhat is it called?\n   ", 5, 40);
        assert_eq!(screen.text(), "What is it called?\n");
        assert_eq!(screen_of(b"", 5, 40).text(), "");
        assert_eq!(Screen::new(0, 0).text(), "");
    }

    #[test]
    fn a_row_shown_by_colour_among_its_neighbours_is_the_choice() {
        // terminal-kit's menu: the choice in inverse video, at the edge.
        let menu = "Which file?\r\n\r\n\x1b[7mconfig.yaml\x1b[0m\r\nREADME.md\r\nsrc/main.rs\r\n";
        let screen = screen_of(menu.as_bytes(), 10, 40);
        assert_eq!(
            screen.judged(),
            "Which file?\n\n❯ config.yaml\nREADME.md\nsrc/main.rs\n"
        );
        // What a person is shown keeps no marker.
        assert_eq!(
            screen.text(),
            "Which file?\n\nconfig.yaml\nREADME.md\nsrc/main.rs\n"
        );
        // A dialog's list: its box shaded white, the choice blue, the
        // marker over the blank before it; the OK button shaded blue too
        // stands among other buttons, so it is no second choice.
        let white = "\x1b[47m";
        let row = |text: &str, item: &str| format!("{white}│ {text}{item:<10}│\x1b[0m\r\n");
        let dialog = [
            format!("{white}┌────────────────┐\x1b[0m\r\n"),
            row("  ", "debug").replace("debug", "\x1b[44mdebug\x1b[47m"),
            row("  ", "info"),
            row("  ", "warn"),
            format!("{white}│\x1b[44m<OK>\x1b[47m <Cancel>      │\x1b[0m\r\n"),
            format!("{white}└────────────────┘\x1b[0m\r\n"),
        ]
        .concat();
        let screen = screen_of(format!("\r\n{dialog}").as_bytes(), 10, 40);
        let judged = screen.judged();
        assert!(judged.contains("│ ❯ debug"), "{judged}");
        assert_eq!(judged.matches('❯').count(), 1, "{judged}");
    }

    #[test]
    fn shading_that_is_no_choice_is_left_alone() {
        let cases = [
            // Stripes of a table: every other row shaded.
            "\r\n\x1b[7mone\x1b[0m\r\ntwo\r\n\x1b[7mthree\x1b[0m\r\nfour\r\n",
            // A title bar on top; a status line at the foot.
            "\x1b[7mGNU nano\x1b[0m\r\nhello\r\n",
            "hello\r\n\x1b[7;1Hworld\r\n\x1b[7mbig.txt\x1b[0m",
            // A status bar's fields.
            "\r\nabc\r\n\x1b[7mmain.rs [+]      12,5   All\x1b[0m\r\nxyz\r\n",
            // A button among others on its row.
            "\r\nSave changes?\r\n\x1b[7m< Yes >\x1b[0m   < No >\r\nxyz\r\n",
            // An item with its own marker.
            "\r\nPick:\r\n\x1b[7m> alpha\x1b[0m\r\n  beta\r\n",
            // A shaded line with no choice beside it in its column.
            "\r\nsome text\r\n\r\n          \x1b[7mnotice\x1b[0m\r\n\r\nmore\r\n",
        ];
        for case in cases {
            let screen = screen_of(case.as_bytes(), 8, 40);
            assert_eq!(screen.judged(), screen.text(), "{case:?}");
        }
    }

    #[test]
    fn a_cursor_the_program_draws_is_the_cursor() {
        // ink's text field: the terminal's cursor hidden, one inverse cell
        // after the label.
        let field = "\x1b[?25lEnter the commit message: \x1b[7m \x1b[27m\r\n";
        let screen = screen_of(field.as_bytes(), 5, 40);
        assert_eq!(screen.judged(), "Enter the commit message:");
        assert_eq!(screen.text(), "Enter the commit message:\n");
        // Two such cells: no telling which is the cursor.
        let two = "\x1b[?25lName: \x1b[7m \x1b[27m\r\nMail: \x1b[7m \x1b[27m\r\n";
        let screen = screen_of(two.as_bytes(), 5, 40);
        assert_eq!(screen.judged(), "Name:\nMail:\n");
    }

    #[test]
    fn a_selectors_choices_are_those_under_its_query_line() {
        // peco: `QUERY>` on top, the cursor after it, the choice shaded on
        // the row under it, the list running to the foot.
        let mut list = String::from("\x1b[2J\x1b[1;1HQUERY>\x1b[1;60H[40 (1/2)]\r\n");
        list.push_str("\x1b[7malpha\x1b[0m\r\n");
        for name in ["beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"] {
            list.push_str(&format!("{name}\r\n"));
        }
        list.push_str("\x1b[1;7H");
        let screen = screen_of(list.as_bytes(), 12, 80);
        let judged = screen.judged();
        assert!(
            judged.ends_with("❯ alpha\nbeta\ngamma\ndelta\nepsilon\n"),
            "{judged}"
        );
        // An editor's cursor on a line of its text is no query line.
        let editor = list.replace("QUERY>", "let x = 1;");
        let screen = screen_of(editor.as_bytes(), 12, 80);
        assert!(screen.judged().ends_with("theta\n"), "{}", screen.judged());
    }

    #[test]
    fn a_status_bar_over_the_input_line_is_no_choice() {
        // irssi: a shaded status bar, the input line under it at the foot.
        let irssi = "\x1b[5;1H01:54 -!- Irssi: The first screen\x1b[11;1H\x1b[44m[01:54] [] [1]\x1b[0m\x1b[12;1H[(status)] ";
        let screen = screen_of(irssi.as_bytes(), 12, 40);
        assert_eq!(screen.judged(), screen.text());
    }
}
