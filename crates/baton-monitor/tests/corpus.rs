//! Precision and recall of the built-in input-wait rules over the labelled
//! corpus in `tests/corpus/` and the held-out set in `tests/heldout/`, and
//! the false alarms on `tests/heldout2/` to `tests/heldout14/` (real
//! programs' tails; see their READMEs for what was tuned on them: their
//! recall is reported by `baton-bench --only detector`). Tails captured
//! with their terminal's state (`NAME.tty`) are judged on screen with it.

use std::path::Path;

use baton_monitor::input_wait::InputWaitDetector;
use baton_monitor::input_wait::corpus::{CorpusScore, score_corpus, score_corpus_on_screen};

/// Scores one labelled directory and prints the score with its misses.
fn score(set: &str) -> CorpusScore {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(set);
    let score = score_corpus(&dir, &InputWaitDetector::builtin());
    println!(
        "input-wait {set}: precision {:.3} recall {:.3} (tp {} fp {} fn {} tn {})",
        score.precision, score.recall, score.tp, score.fp, score.fn_, score.tn
    );
    for miss in &score.misses {
        println!("  {miss}");
    }
    score
}

#[test]
fn corpus_precision_and_recall() {
    let scores = [("corpus", score("corpus")), ("heldout", score("heldout"))];
    for (set, score) in &scores {
        assert!(
            score.tp + score.fn_ >= 25,
            "{set}: need at least 25 wait-* files"
        );
        assert!(
            score.fp + score.tn >= 25,
            "{set}: need at least 25 busy-* files"
        );
        assert!(
            score.precision >= 0.97,
            "{set}: precision {:.3}: {:#?}",
            score.precision,
            score.misses
        );
        assert!(
            score.recall >= 0.95,
            "{set}: recall {:.3}: {:#?}",
            score.recall,
            score.misses
        );
    }
}

#[test]
fn real_programs_tails_raise_no_false_alarm() {
    let sets = [
        ("heldout2", 11, 15),
        ("heldout3", 11, 18),
        ("heldout4", 22, 29),
        ("heldout5", 21, 29),
        ("heldout6", 20, 25),
        ("heldout7", 25, 33),
        ("heldout8", 17, 33),
        ("heldout9", 32, 48),
        ("heldout10", 21, 45),
        ("heldout11", 37, 30),
        ("heldout12", 26, 27),
        ("heldout13", 21, 22),
        ("heldout14", 16, 16),
    ];
    for (set, waits, busy) in sets {
        let real = score(set);
        assert!(
            real.tp + real.fn_ >= waits && real.fp + real.tn >= busy,
            "{set}: {real:?}"
        );
        // Not one busy tail is called a prompt, confidently or not: as
        // bytes (a pipe) nor as the terminal they were captured on shows
        // them (a PTY, tmux).
        assert_eq!(
            (real.fp, real.confident_fp),
            (0, 0),
            "{set}: {:#?}",
            real.misses
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(set);
        let shown = score_corpus_on_screen(&dir, &InputWaitDetector::builtin());
        assert_eq!(
            (shown.fp, shown.confident_fp),
            (0, 0),
            "{set} on screen: {:#?}",
            shown.misses
        );
    }
}

#[test]
fn agent_clis_captured_with_their_terminal_are_judged_on_screen() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/terminal");
    let shown = score_corpus_on_screen(&dir, &InputWaitDetector::builtin());
    assert!(
        shown.tp + shown.fn_ >= 1 && shown.fp + shown.tn >= 2,
        "{shown:?}"
    );
    // An agent idle at its input line is not asking (raw mode, waiting in
    // epoll, like one that asks); the one asking is confident.
    assert_eq!(
        (shown.fp, shown.fn_, shown.confident),
        (0, 0, shown.tp),
        "{:#?}",
        shown.misses
    );
}
