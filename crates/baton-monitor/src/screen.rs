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

    /// The screen as text for the detectors: its rows top to bottom, right
    /// ends trimmed, blank rows at the bottom dropped; the last row ends
    /// without a newline when the cursor sits on it after text (a prompt
    /// waiting on the same line) or, shown, indented on the blank row right
    /// under it (a field under its question), with one otherwise.
    pub fn text(&self) -> String {
        let screen = self.parser.screen();
        let (_, cols) = screen.size();
        let rows: Vec<String> = screen
            .rows(0, cols.get())
            .map(|r| r.trim_end().to_owned())
            .collect();
        let Some(last) = rows.iter().rposition(|r| !r.is_empty()) else {
            return String::new();
        };
        let (cursor_row, cursor_col) = screen.cursor_position();
        let mut text = rows[..=last].join("\n");
        // The cursor after text on the last row, or shown indented on the
        // empty row right under it: an answer's field below its question
        // (`🎤 What is the project called?` over `   ▌`).
        let cursor_row = usize::from(cursor_row);
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
}
