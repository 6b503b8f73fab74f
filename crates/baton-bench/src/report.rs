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
    /// baton / baseline must be at most this.
    RatioAtMost(f64),
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
            Target::RatioAtMost(x) => Some(self.ratio().is_some_and(|r| r <= x)),
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::None => "-".into(),
            Target::AtMost(x) => format!("<= {x}"),
            Target::AtLeast(x) => format!(">= {x}"),
            Target::RatioAtLeast(x) => format!("ratio >= {x}"),
            Target::RatioAtMost(x) => format!("ratio <= {x}"),
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

/// The figures of a run saved with `--json`, to show beside this run's
/// (`--compare FILE`).
#[derive(Debug, Clone)]
pub struct Before {
    /// Where it was read from.
    pub source: String,
    /// When and how it ran.
    pub date: String,
    pub command: String,
    /// baton's value of each figure, by name, in the saved order.
    pub figures: Vec<(String, f64)>,
}

impl Before {
    /// Reads a saved run: the JSON `baton-bench --json` prints.
    pub fn load(path: &std::path::Path) -> Result<Before, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--compare {}: {e}", path.display()))?;
        Before::parse(&text, &path.display().to_string())
    }

    /// Parses a saved run; `source` names it in errors and the output.
    pub fn parse(text: &str, source: &str) -> Result<Before, String> {
        let json: Value = serde_json::from_str(text)
            .map_err(|e| format!("--compare {source}: not a baton-bench --json run: {e}"))?;
        let figures = json["figures"].as_array().ok_or_else(|| {
            format!("--compare {source}: no \"figures\" list (save a run with --json)")
        })?;
        let mut out = Vec::with_capacity(figures.len());
        for (i, f) in figures.iter().enumerate() {
            let (Some(name), Some(value)) = (f["figure"].as_str(), f["baton"].as_f64()) else {
                return Err(format!(
                    "--compare {source}: figures[{i}] has no \"figure\" name or \"baton\" number"
                ));
            };
            out.push((name.to_owned(), value));
        }
        Ok(Before {
            source: source.to_owned(),
            date: json["machine"]["date"].as_str().unwrap_or("?").to_owned(),
            command: json["command"].as_str().unwrap_or("?").to_owned(),
            figures: out,
        })
    }

    fn value(&self, figure: &str) -> Option<f64> {
        self.figures
            .iter()
            .find(|(name, _)| name == figure)
            .map(|(_, v)| *v)
    }
}

/// One figure before and now.
struct Change<'a> {
    figure: &'a str,
    before: Option<f64>,
    now: Option<f64>,
}

impl Change<'_> {
    fn ratio(&self) -> Option<f64> {
        match (self.before, self.now) {
            (Some(b), Some(n)) if b != 0.0 => Some(n / b),
            _ => None,
        }
    }
}

impl Report {
    /// This run's figures beside `before`'s: every figure of either, in
    /// this run's order, then the ones only `before` has.
    fn changes<'a>(&'a self, before: &'a Before) -> Vec<Change<'a>> {
        let mut out: Vec<Change> = self
            .rows
            .iter()
            .map(|r| Change {
                figure: &r.figure,
                before: before.value(&r.figure),
                now: Some(r.baton),
            })
            .collect();
        out.extend(
            before
                .figures
                .iter()
                .filter(|(name, _)| !self.rows.iter().any(|r| &r.figure == name))
                .map(|(name, v)| Change {
                    figure: name,
                    before: Some(*v),
                    now: None,
                }),
        );
        out
    }

    /// The before/after table of `--compare`.
    pub fn comparison_text(&self, before: &Before) -> String {
        let changes = self.changes(before);
        let width = changes
            .iter()
            .map(|c| c.figure.chars().count())
            .max()
            .unwrap_or(6)
            .max(6);
        let mut out = format!(
            "\ncompared with {} ({}; {})\n{:<width$} | {:>10} | {:>10} | {:>10}\n",
            before.source, before.date, before.command, "figure", "before", "now", "now/before"
        );
        out.push_str(&format!("{}\n", "-".repeat(width + 39)));
        for c in &changes {
            out.push_str(&format!(
                "{:<width$} | {:>10} | {:>10} | {:>10}\n",
                c.figure,
                opt(c.before),
                opt(c.now),
                opt(c.ratio())
            ));
        }
        out
    }

    /// The before/after figures as JSON (`--compare` with `--json`).
    pub fn comparison_json(&self, before: &Before) -> Value {
        json!({
            "source": before.source,
            "date": before.date,
            "command": before.command,
            "figures": self.changes(before).iter().map(|c| json!({
                "figure": c.figure,
                "before": c.before,
                "now": c.now,
                "ratio": c.ratio(),
            })).collect::<Vec<_>>(),
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
            (
                Row::new("a", 40.0, Some(100.0), Target::RatioAtMost(0.5)),
                Some(true),
            ),
            (
                Row::new("a", 60.0, Some(100.0), Target::RatioAtMost(0.5)),
                Some(false),
            ),
            (Row::new("a", 1.0, Some(0.0), Target::None), None),
        ];
        for (row, want) in cases {
            assert_eq!(row.ok(), want, "{row:?}");
        }
    }

    #[test]
    fn a_saved_run_compares_figure_by_figure() {
        let report = Report {
            machine: Machine::describe(),
            command: "baton-bench --only relay".into(),
            rows: vec![
                Row::new(
                    "conductor CPU (CPU s)",
                    0.6,
                    Some(0.9),
                    Target::RatioAtMost(0.5),
                ),
                Row::new("new figure (ms)", 3.0, None, Target::None),
            ],
            notes: Vec::new(),
            failures: Vec::new(),
        };
        // What `--json` printed for an earlier run.
        let saved = serde_json::json!({
            "machine": {"date": "2026-12-01"},
            "command": "baton-bench",
            "figures": [
                {"figure": "old figure (ms)", "baton": 9.0},
                {"figure": "conductor CPU (CPU s)", "baton": 1.2},
            ],
        })
        .to_string();
        let before = Before::parse(&saved, "before.json").unwrap();
        let text = report.comparison_text(&before);
        assert!(
            text.contains("compared with before.json (2026-12-01; baton-bench)"),
            "{text}"
        );
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_owned()
        };
        assert!(
            line("conductor CPU").ends_with("|      1.200 |      0.600 |      0.500"),
            "{text}"
        );
        assert!(
            line("new figure").contains("|          - |          3 |          -"),
            "{text}"
        );
        assert!(
            line("old figure").contains("|          9 |          - |          -"),
            "{text}"
        );
        let json = report.comparison_json(&before);
        assert_eq!(json["figures"][0]["ratio"], 0.5);
        // A file that is not a saved run says what is wrong and where.
        for (bad, says) in [
            ("not json", "not a baton-bench --json run"),
            ("{}", "no \"figures\" list"),
            (r#"{"figures": [{"figure": "x"}]}"#, "figures[0] has no"),
        ] {
            let e = Before::parse(bad, "f.json").unwrap_err();
            assert!(e.contains(says) && e.contains("f.json"), "{e}");
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
