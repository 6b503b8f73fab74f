//! The figures as a plain-text table or JSON.
//!
//! A missed target is reported, never turned into a failure: benchmarks
//! report, tests assert.

use serde_json::{Value, json};

use crate::sys::Machine;

/// What a figure is judged against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Reported only.
    None,
    /// baton's value must be at most this.
    AtMost(f64),
    /// baton's value must be at least this.
    AtLeast(f64),
    /// baton / baseline must be at least this.
    RatioAtLeast(f64),
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured, with its unit, e.g. `exit latency p99 (ms)`.
    pub figure: String,
    /// baton's value.
    pub baton: f64,
    /// The baseline measured in the same run, if there is one.
    pub baseline: Option<f64>,
    /// The bar.
    pub target: Target,
}

impl Row {
    /// A row with a baseline.
    pub fn new(
        figure: impl Into<String>,
        baton: f64,
        baseline: Option<f64>,
        target: Target,
    ) -> Row {
        Row {
            figure: figure.into(),
            baton,
            baseline,
            target,
        }
    }

    /// baton / baseline, when both exist and the baseline is not zero.
    pub fn ratio(&self) -> Option<f64> {
        self.baseline.filter(|b| *b != 0.0).map(|b| self.baton / b)
    }

    /// Whether the target is met; `None` when there is no target.
    pub fn ok(&self) -> Option<bool> {
        match self.target {
            Target::None => None,
            Target::AtMost(x) => Some(self.baton <= x),
            Target::AtLeast(x) => Some(self.baton >= x),
            Target::RatioAtLeast(x) => Some(self.ratio().is_some_and(|r| r >= x)),
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "-".into(),
            Target::AtMost(x) => format!("<= {x}"),
            Target::AtLeast(x) => format!(">= {x}"),
            Target::RatioAtLeast(x) => format!("ratio >= {x}"),
        }
    }
}

/// Everything one run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// The command line.
    pub command: String,
    /// The figures, in order.
    pub rows: Vec<Row>,
    /// Facts that are not numbers (checksums, caveats), one line each.
    pub notes: Vec<String>,
    /// Figures that could not be measured, with why.
    pub failures: Vec<(String, String)>,
}

/// A number with about four significant digits, no exponent.
fn number(x: f64) -> String {
    let a = x.abs();
    if a >= 1000.0 || x == x.trunc() && a < 1e15 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 10.0 {
        format!("{x:.2}")
    } else if a >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.6}")
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), number)
}

impl Report {
    /// The plain-text table, with machine, notes and failures around it.
    pub fn to_text(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "baton-bench  {}\nmachine: {} cpus, {}{}\ncommand: {}\n\n",
            m.date,
            m.nproc,
            m.kernel,
            m.cpu
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default(),
            self.command
        );
        let header = ["figure", "baton", "baseline", "ratio", "target", "ok?"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.figure.clone(),
                    number(r.baton),
                    opt(r.baseline),
                    r.ratio().map_or_else(|| "-".into(), |x| format!("{x:.2}")),
                    r.target_text(),
                    match r.ok() {
                        None => "-".into(),
                        Some(true) => "yes".into(),
                        Some(false) => "NO".into(),
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cols: &[String]| {
            let parts: Vec<String> = cols
                .iter()
                .zip(widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 {
                        format!("{c:<w$}")
                    } else {
                        format!("{c:>w$}")
                    }
                })
                .collect();
            format!("{}\n", parts.join(" | ").trim_end())
        };
        out.push_str(&line(&header.map(String::from)));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&rule.join("-|-"));
        out.push('\n');
        for row in &cells {
            out.push_str(&line(row));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(note);
                out.push('\n');
            }
        }
        for (figure, why) in &self.failures {
            out.push_str(&format!("NOT MEASURED: {figure}: {why}\n"));
        }
        out
    }

    /// The same content as JSON.
    pub fn to_json(&self) -> Value {
        let m = &self.machine;
        json!({
            "machine": {
                "nproc": m.nproc,
                "kernel": m.kernel,
                "cpu": m.cpu,
                "date": m.date,
            },
            "command": self.command,
            "figures": self.rows.iter().map(|r| json!({
                "figure": r.figure,
                "baton": r.baton,
                "baseline": r.baseline,
                "ratio": r.ratio(),
                "target": r.target_text(),
                "ok": r.ok(),
            })).collect::<Vec<_>>(),
            "notes": self.notes,
            "failures": self.failures.iter().map(|(f, why)| json!({"figure": f, "error": why})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let cases = [
            (Row::new("a", 4.0, None, Target::AtMost(5.0)), Some(true)),
            (Row::new("a", 6.0, None, Target::AtMost(5.0)), Some(false)),
            (
                Row::new("a", 300.0, Some(900.0), Target::AtLeast(200.0)),
                Some(true),
            ),
            (
                Row::new("a", 90.0, Some(100.0), Target::RatioAtLeast(0.8)),
                Some(true),
            ),
            (
                Row::new("a", 70.0, Some(100.0), Target::RatioAtLeast(0.8)),
                Some(false),
            ),
            (
                Row::new("a", 70.0, None, Target::RatioAtLeast(0.8)),
                Some(false),
            ),
            (Row::new("a", 1.0, Some(0.0), Target::None), None),
        ];
        for (row, want) in cases {
            assert_eq!(row.ok(), want, "{row:?}");
        }
    }

    #[test]
    fn numbers() {
        let cases = [
            (1234.4, "1234"),
            (3.0, "3"),
            (123.46, "123.5"),
            (12.346, "12.35"),
            (1.2346, "1.235"),
            (0.00012, "0.000120"),
            (-2.5, "-2.500"),
        ];
        for (x, want) in cases {
            assert_eq!(number(x), want, "{x}");
        }
    }
}
