//! Turning raw terminal output into the text a person would see.
//!
//! Detectors must judge what is on screen, not the bytes that drew it: a
//! spinner redrawn twenty times with `\r`, or an ink UI that erases and
//! repaints its frame, must read as its final form. This module is a tiny,
//! forgiving terminal model: it never fails and never panics.

use std::iter::Peekable;
use std::str::Chars;

/// Column cap for cursor moves, so a hostile `ESC[99999G` cannot make us pad.
const MAX_COLUMN: usize = 4096;

/// Renders `bytes` the way a terminal would show them, as plain text.
///
/// Guarantees: invalid UTF-8 becomes U+FFFD; ANSI/VT escape sequences (CSI
/// including private modes, OSC/DCS/APC strings ended by BEL or ST, two-char
/// `ESC x` sequences and charset selects) never appear in the output; text
/// after a bare `\r` overwrites its line from column 0 (`"50%\r100%"` →
/// `"100%"`); `\r\n` is a plain newline; backspace removes the previous char;
/// erase-in-line, erase-below and cursor-up are honoured so repainted frames
/// show only their final form; other C0/C1 controls are dropped (`\n` and `\t`
/// kept). Lines are joined with `\n`; the result ends with `\n` exactly when
/// the cursor was left at the start of a fresh, empty line.
pub fn normalize(bytes: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(bytes);
    let mut screen = Screen::new();
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => escape(&mut chars, &mut screen),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                    screen.newline();
                } else {
                    screen.col = 0;
                }
            }
            '\n' => screen.newline(),
            '\x08' => screen.backspace(),
            '\t' => screen.put('\t'),
            '\x0e' => screen.charsets.shifted = true,
            '\x0f' => screen.charsets.shifted = false,
            c if c.is_control() => {}
            c => screen.put(c),
        }
    }
    screen.render()
}

struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    charsets: Charsets,
}

/// Which character sets G0 and G1 hold and which is in use: programs
/// drawing with curses on a terminal without UTF-8 line drawing select
/// the DEC special graphics set (`ESC ( 0`) and write `lqqk` for `┌──┐`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Charsets {
    /// G0 is DEC special graphics (`ESC ( 0`); else ASCII.
    pub g0_graphics: bool,
    /// G1 is DEC special graphics (`ESC ) 0`).
    pub g1_graphics: bool,
    /// Shifted out (SO) to G1; shifted in (SI) to G0.
    pub shifted: bool,
}

impl Charsets {
    /// Applies a charset designation `ESC <slot> <set>`: `slot` is `(` or
    /// `)`, `set` is `0` for DEC special graphics, anything else text.
    pub fn designate(&mut self, slot: char, set: char) {
        match slot {
            '(' => self.g0_graphics = set == '0',
            ')' => self.g1_graphics = set == '0',
            _ => {}
        }
    }

    /// `c` as the character set in use shows it.
    pub fn show(self, c: char) -> char {
        let graphics = if self.shifted {
            self.g1_graphics
        } else {
            self.g0_graphics
        };
        if graphics { dec_graphics(c) } else { c }
    }
}

/// A character as the DEC special graphics set draws it (VT100 line
/// drawing): `l q k x m j` are the corners and sides of a box.
pub(crate) fn dec_graphics(c: char) -> char {
    match c {
        '_' => ' ',
        '`' => '◆',
        'a' => '▒',
        'f' => '°',
        'g' => '±',
        'j' => '┘',
        'k' => '┐',
        'l' => '┌',
        'm' => '└',
        'n' => '┼',
        'o' => '⎺',
        'p' => '⎻',
        'q' => '─',
        'r' => '⎼',
        's' => '⎽',
        't' => '├',
        'u' => '┤',
        'v' => '┴',
        'w' => '┬',
        'x' => '│',
        'y' => '≤',
        'z' => '≥',
        '{' => 'π',
        '|' => '≠',
        '}' => '£',
        '~' => '·',
        c => c,
    }
}

impl Screen {
    fn new() -> Screen {
        Screen {
            lines: vec![Vec::new()],
            row: 0,
            col: 0,
            charsets: Charsets::default(),
        }
    }

    fn line(&mut self) -> &mut Vec<char> {
        if self.row >= self.lines.len() {
            self.lines.resize_with(self.row + 1, Vec::new);
        }
        &mut self.lines[self.row]
    }

    fn put(&mut self, c: char) {
        let c = self.charsets.show(c);
        let col = self.col;
        let line = self.line();
        if col < line.len() {
            line[col] = c;
        } else {
            line.resize(col, ' ');
            line.push(c);
        }
        self.col += 1;
    }

    fn newline(&mut self) {
        self.row += 1;
        if self.row >= self.lines.len() {
            self.lines.resize_with(self.row + 1, Vec::new);
        }
        self.col = 0;
    }

    fn backspace(&mut self) {
        if self.col == 0 {
            return;
        }
        self.col -= 1;
        let col = self.col;
        let line = self.line();
        if col < line.len() {
            line.remove(col);
        }
    }

    fn csi(&mut self, private: bool, params: &str, final_byte: char) {
        if private {
            return;
        }
        let first = params
            .split(';')
            .next()
            .and_then(|p| p.parse::<usize>().ok());
        match final_byte {
            // Erase in line.
            'K' => {
                let col = self.col;
                let line = self.line();
                match first.unwrap_or(0) {
                    0 => line.truncate(col),
                    1 => {
                        let end = (col + 1).min(line.len());
                        line[..end].iter_mut().for_each(|c| *c = ' ');
                    }
                    _ => line.clear(),
                }
            }
            // Erase in display.
            'J' => match first.unwrap_or(0) {
                0 => {
                    let col = self.col;
                    self.line().truncate(col);
                    self.lines.truncate(self.row + 1);
                }
                1 => {}
                _ => {
                    *self = Screen::new();
                }
            },
            // Cursor up (ink and friends repaint a frame this way).
            'A' | 'F' => {
                let n = first.unwrap_or(1).max(1);
                self.row = self.row.saturating_sub(n);
                if final_byte == 'F' {
                    self.col = 0;
                }
            }
            // Cursor to column.
            'G' | '`' => {
                self.col = first.unwrap_or(1).saturating_sub(1).min(MAX_COLUMN);
            }
            // Cursor back.
            'D' => {
                self.col = self.col.saturating_sub(first.unwrap_or(1).max(1));
            }
            _ => {}
        }
    }

    fn render(self) -> String {
        let mut out = String::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.extend(line.iter());
        }
        out
    }
}

fn escape(chars: &mut Peekable<Chars<'_>>, screen: &mut Screen) {
    let Some(kind) = chars.next() else { return };
    match kind {
        '[' => {
            let mut params = String::new();
            let mut private = false;
            while let Some(&c) = chars.peek() {
                if ('\x30'..='\x3f').contains(&c) {
                    if matches!(c, '<' | '=' | '>' | '?') {
                        private = true;
                    }
                    if params.len() < 32 {
                        params.push(c);
                    }
                    chars.next();
                } else {
                    break;
                }
            }
            let mut intermediate = false;
            while let Some(&c) = chars.peek() {
                if ('\x20'..='\x2f').contains(&c) {
                    intermediate = true;
                    chars.next();
                } else {
                    break;
                }
            }
            if let Some(&c) = chars.peek()
                && ('\x40'..='\x7e').contains(&c)
            {
                chars.next();
                screen.csi(private || intermediate, &params, c);
            }
        }
        // String sequences: OSC, DCS, SOS, PM, APC — ended by BEL or ST.
        ']' | 'P' | 'X' | '^' | '_' => {
            while let Some(c) = chars.next() {
                match c {
                    '\x07' | '\u{9c}' => break,
                    '\x1b' => {
                        if chars.peek() == Some(&'\\') {
                            chars.next();
                        }
                        break;
                    }
                    _ => {}
                }
            }
        }
        // Charset selects and other three-char sequences.
        '(' | ')' => {
            if let Some(set) = chars.next() {
                screen.charsets.designate(kind, set);
            }
        }
        '*' | '+' | '-' | '.' | '/' | '#' | '%' | ' ' => {
            chars.next();
        }
        'c' => *screen = Screen::new(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn table() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain text", "plain text"),
            (b"a\nb\n", "a\nb\n"),
            (b"a\r\nb\r\n", "a\nb\n"),
            (b"50%\r100%", "100%"),
            (b"100%\r\x1b[K50%", "50%"),
            (b"\x1b[1;32mok\x1b[0m done", "ok done"),
            (b"\x1b[?25lhidden\x1b[?25h", "hidden"),
            (b"\x1b]0;title\x07text", "text"),
            (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),
            (b"\x1b(Bcharset\x1b)0", "charset"),
            // DEC line drawing, selected into G0 or shifted to in G1.
            (b"\x1b(0lqqk\x1b(B ok \x1b(0x\x1b(B", "┌──┐ ok │"),
            (b"\x1b)0a\x0emj\x0fb", "a└┘b"),
            (b"\x1b=keypad\x1b>", "keypad"),
            (b"abc\x08\x08d", "ad"),
            (b"a\x07b\x00c\tx", "abc\tx"),
            (b"bad \xff\xfe utf8", "bad \u{fffd}\u{fffd} utf8"),
            (
                b"old frame\n\x1b[2K\x1b[1A\x1b[2K\x1b[Gnew frame",
                "new frame\n",
            ),
            (b"line1\nline2\x1b[1A\rLINE1", "LINE1\nline2"),
            (b"junk\x1b[2Jclean", "clean"),
            (b"\x1b[", ""),
            (b"\x1b", ""),
            (b"\x1b[99999999999999999999999G.", "."),
        ];
        for (input, want) in cases {
            assert_eq!(
                normalize(input),
                *want,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn spinner_shows_final_form() {
        let mut raw = Vec::new();
        for i in 0..20 {
            raw.extend_from_slice(
                format!("\r{} Working ({i}s)", ['|', '/', '-', '\\'][i % 4]).as_bytes(),
            );
        }
        raw.extend_from_slice(b"\r\x1b[2KDone.\n");
        assert_eq!(normalize(&raw), "Done.\n");
    }
}
