//! How `baton run` shows progress: JSONL, plain lines, or a live table.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use baton_config::Manifest;
use baton_core::eventlog::{Event, LoggedEvent};
use baton_core::{SessionRow, SessionState};

use crate::render::{describe_record, human_bytes, truncate};

/// The three ways `baton run` reports.
pub enum Output {
    /// Every event as its JSON line on stdout.
    Json,
    /// One line per notable event, for logs and pipes.
    Plain,
    /// A table redrawn in place on a terminal.
    Live(LiveView),
}

/// State of the in-place table.
#[derive(Default)]
pub struct LiveView {
    drawn_lines: usize,
    notices: Vec<String>,
}

impl Output {
    pub fn header(&mut self, manifest: &Manifest, events: &Path) {
        if matches!(self, Output::Json) {
            return;
        }
        let source = manifest
            .source
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "manifest".into());
        eprintln!(
            "baton: {} session(s) from {source}; events in {}",
            manifest.sessions.len(),
            events.display()
        );
    }

    pub fn event(&mut self, event: &Arc<LoggedEvent>) {
        match self {
            Output::Json => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", event.line);
            }
            Output::Plain => {
                if let Some(line) = describe(event) {
                    println!("{line}");
                }
            }
            Output::Live(view) => {
                if let Some(line) = describe(event).filter(|_| is_notable(&event.record.event)) {
                    view.notices.push(line);
                }
            }
        }
    }

    pub fn lagged(&mut self, missed: u64) {
        self.notice(&format!(
            "(display fell behind; {missed} events not shown — all are in the event log)"
        ));
    }

    pub fn notice(&mut self, text: &str) {
        match self {
            Output::Live(view) => view.notices.push(format!("baton: {text}")),
            _ => eprintln!("baton: {text}"),
        }
    }

    pub fn summary(&mut self, rows: &[SessionRow], states: &BTreeMap<String, SessionState>) {
        if let Output::Live(view) = self {
            view.clear();
            view.flush_notices();
        }
        if matches!(self, Output::Json) {
            return;
        }
        // The live view owns the terminal on stdout; plain mode keeps stdout
        // for event lines and puts the summary on stderr.
        let mut out: Box<dyn Write> = if matches!(self, Output::Live(_)) {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::io::stderr().lock())
        };
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", table_header());
        for row in rows {
            let state = states.get(&row.id).copied().unwrap_or(row.state);
            let mut row = row.clone();
            row.state = state;
            let _ = writeln!(out, "{}", table_row(&row));
            if let Some(message) = &row.message
                && state == SessionState::Dead
            {
                let _ = writeln!(out, "    {message}");
            }
        }
        let completed = states
            .values()
            .filter(|s| **s == SessionState::Completed)
            .count();
        let _ = writeln!(
            out,
            "\n{completed} of {} session(s) completed",
            rows.len().max(states.len())
        );
    }
}

impl LiveView {
    pub fn draw(&mut self, rows: &[SessionRow]) {
        let mut out = std::io::stdout().lock();
        self.clear_on(&mut out);
        for notice in self.notices.drain(..) {
            let _ = writeln!(out, "{notice}");
        }
        let mut lines = vec![table_header()];
        lines.extend(rows.iter().map(table_row));
        for line in &lines {
            let _ = writeln!(out, "{line}");
        }
        self.drawn_lines = lines.len();
        let _ = out.flush();
    }

    fn clear(&mut self) {
        let mut out = std::io::stdout().lock();
        self.clear_on(&mut out);
    }

    fn clear_on(&mut self, out: &mut impl Write) {
        for _ in 0..self.drawn_lines {
            // Cursor up one line, erase it.
            let _ = write!(out, "\x1b[1A\x1b[2K");
        }
        self.drawn_lines = 0;
    }

    fn flush_notices(&mut self) {
        for notice in self.notices.drain(..) {
            println!("{notice}");
        }
    }
}

fn is_notable(event: &Event) -> bool {
    matches!(
        event,
        Event::SpawnError { .. }
            | Event::InputWait { .. }
            | Event::Dead { .. }
            | Event::Completed { .. }
    )
}

fn table_header() -> String {
    format!(
        "{:<20} {:<8} {:<11} {:>4} {:>10} {:>10} {:>7} {:>9}  {}",
        "ID", "AGENT", "STATE", "RST", "OUT", "ERR", "TOKENS", "COST", "LAST OUTPUT"
    )
}

fn table_row(row: &SessionRow) -> String {
    let last = row.last_line.as_deref().unwrap_or("");
    let (tokens, cost) = crate::client::ps::used(row.usage.as_ref());
    format!(
        "{:<20} {:<8} {:<11} {:>4} {:>10} {:>10} {:>7} {:>9}  {}",
        truncate(&row.id, 20),
        row.agent,
        row.state.as_str(),
        row.restarts,
        human_bytes(row.out_bytes),
        human_bytes(row.err_bytes),
        tokens,
        cost,
        truncate(last, 60)
    )
}

/// One human line for an event, or `None` for events not worth a line.
fn describe(event: &LoggedEvent) -> Option<String> {
    describe_record(&event.record)
}
