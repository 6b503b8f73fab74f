//! Order statistics over a set of samples.

/// p50, p99 and max of a set of samples, in the samples' unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Number of samples.
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            p50: percentile(&sorted, 50.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
            count: sorted.len(),
        })
    }
}

/// Nearest-rank percentile of already sorted samples: the smallest sample
/// such that at least `p` percent of the samples are at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Median of samples in any order (the lower middle for an even count).
pub fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    percentile(&sorted, 50.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        let two_hundred: Vec<f64> = (1..=200).map(f64::from).collect();
        let cases: &[(&[f64], f64, Option<f64>)] = &[
            (&[], 50.0, None),
            (&[7.0], 50.0, Some(7.0)),
            (&[7.0], 99.0, Some(7.0)),
            (&[1.0, 2.0], 50.0, Some(1.0)),
            (&[1.0, 2.0, 3.0], 50.0, Some(2.0)),
            (&hundred, 50.0, Some(50.0)),
            (&hundred, 99.0, Some(99.0)),
            (&hundred, 100.0, Some(100.0)),
            (&hundred, 0.0, Some(1.0)),
            (&two_hundred, 99.0, Some(198.0)),
        ];
        for (samples, p, want) in cases {
            assert_eq!(
                percentile(samples, *p),
                *want,
                "p{p} of {} samples",
                samples.len()
            );
        }
    }

    #[test]
    fn summary_sorts_first() {
        let s = Summary::of(&[3.0, -1.0, 2.0, 10.0]).expect("samples");
        assert_eq!(s.p50, 2.0);
        assert_eq!(s.p99, 10.0);
        assert_eq!(s.max, 10.0);
        assert_eq!(s.count, 4);
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }
}
