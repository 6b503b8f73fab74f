//! Scoring the detector against a labelled corpus of output tails.
//!
//! The corpus lives in the repository (`tests/corpus/`): files named
//! `wait-*.txt` end in a prompt and must be detected, files named `busy-*.txt`
//! must not be. Tests assert the score; benchmarks print it. This is the only
//! place in the crate that touches the filesystem.

use std::path::Path;

use super::InputWaitDetector;
use super::terminal::Terminal;

/// Precision and recall of a detector over a corpus, with the misses named.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CorpusScore {
    /// tp / (tp + fp); 1.0 when nothing was detected.
    pub precision: f64,
    /// tp / (tp + fn); 1.0 when the corpus has no `wait-*` files.
    pub recall: f64,
    /// `wait-*` files detected.
    pub tp: usize,
    /// `busy-*` files detected (false alarms).
    pub fp: usize,
    /// `wait-*` files missed.
    pub fn_: usize,
    /// `busy-*` files correctly left alone.
    pub tn: usize,
    /// `wait-*` files detected as confident prompts: judged already after
    /// `input_wait_after`, not only at `stall_after`.
    pub confident: usize,
    /// `busy-*` files detected as confident prompts: false alarms after
    /// only `input_wait_after` of quiet (each is also in `fp`).
    pub confident_fp: usize,
    /// One line per misclassified file: its name and, for false alarms, the
    /// rule and line that fired.
    pub misses: Vec<String>,
}

/// Runs `det` over every `wait-*.txt` and `busy-*.txt` file in `dir` (other
/// files are ignored; unreadable files and a missing directory count as
/// nothing) and scores it. Files are visited in name order, so `misses` is
/// stable.
pub fn score_corpus(dir: &Path, det: &InputWaitDetector) -> CorpusScore {
    score_with(dir, |_, bytes| det.detect(bytes))
}

/// Rows and columns of the terminal the real programs' tails were captured
/// on (their READMEs): what [`score_corpus_on_screen`] shows them on.
pub const CAPTURE_SIZE: (u16, u16) = (40, 120);

/// [`score_corpus`] with each tail judged as a terminal of
/// [`CAPTURE_SIZE`] shows it, as the conductor judges a session on a PTY or
/// in tmux — the way the programs' tails were captured — not as the raw
/// bytes a pipe would carry. A tail captured with its terminal's state (a
/// sidecar `NAME.tty` beside `NAME.txt`: [`Terminal::parse`]) is judged
/// with it, as the conductor judges a session whose terminal it can see;
/// an unreadable sidecar counts as none.
pub fn score_corpus_on_screen(dir: &Path, det: &InputWaitDetector) -> CorpusScore {
    let (rows, cols) = CAPTURE_SIZE;
    score_with(dir, |path, bytes| {
        let screen = crate::screen::screen_of(bytes, rows, cols);
        let terminal = std::fs::read_to_string(path.with_extension("tty"))
            .ok()
            .and_then(|line| Terminal::parse(line.trim()));
        det.judge(screen.judged().as_bytes(), terminal.as_ref())
    })
}

fn score_with(dir: &Path, judge: impl Fn(&Path, &[u8]) -> Option<super::Detection>) -> CorpusScore {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut score = CorpusScore::default();
    for path in names {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        let expect_wait = if name.starts_with("wait-") {
            true
        } else if name.starts_with("busy-") {
            false
        } else {
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let got = judge(&path, &bytes);
        match (expect_wait, got) {
            (true, Some(d)) => {
                score.tp += 1;
                score.confident += usize::from(d.confident);
            }
            (true, None) => {
                score.fn_ += 1;
                score.misses.push(format!("{name}: missed"));
            }
            (false, Some(d)) => {
                score.fp += 1;
                score.confident_fp += usize::from(d.confident);
                score
                    .misses
                    .push(format!("{name}: false alarm by {} on {:?}", d.rule, d.line));
            }
            (false, None) => score.tn += 1,
        }
    }
    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    score.precision = ratio(score.tp, score.tp + score.fp);
    score.recall = ratio(score.tp, score.tp + score.fn_);
    score
}
