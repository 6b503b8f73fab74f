//! Precision and recall of the built-in input-wait rules over the labelled
//! corpus in `tests/corpus/` (SPEC §3).

use std::path::Path;

use baton_monitor::input_wait::InputWaitDetector;
use baton_monitor::input_wait::corpus::score_corpus;

#[test]
fn corpus_precision_and_recall() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let score = score_corpus(&dir, &InputWaitDetector::builtin());
    println!(
        "input-wait corpus: precision {:.3} recall {:.3} (tp {} fp {} fn {} tn {})",
        score.precision, score.recall, score.tp, score.fp, score.fn_, score.tn
    );
    for miss in &score.misses {
        println!("  {miss}");
    }
    assert!(score.tp + score.fn_ >= 25, "need at least 25 wait-* files");
    assert!(score.fp + score.tn >= 25, "need at least 25 busy-* files");
    assert!(
        score.precision >= 0.97,
        "precision {:.3}: {:#?}",
        score.precision,
        score.misses
    );
    assert!(
        score.recall >= 0.95,
        "recall {:.3}: {:#?}",
        score.recall,
        score.misses
    );
}
