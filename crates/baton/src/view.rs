//! How `baton run` shows progress: JSONL, plain lines, or a live table.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use baton_config::Manifest;
use baton_core::eventlog::{Event, LoggedEvent};
use baton_core::{SessionSnapshot, SessionState};

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

    pub fn summary(&mut self, rows: &[SessionSnapshot], states: &BTreeMap<String, SessionState>) {
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
    pub fn draw(&mut self, rows: &[SessionSnapshot]) {
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
        "{:<20} {:<8} {:<11} {:>4} {:>10} {:>10}  {}",
        "ID", "AGENT", "STATE", "RST", "OUT", "ERR", "LAST OUTPUT"
    )
}

fn table_row(row: &SessionSnapshot) -> String {
    let last = row.last_line.as_deref().unwrap_or("");
    format!(
        "{:<20} {:<8} {:<11} {:>4} {:>10} {:>10}  {}",
        truncate(&row.id, 20),
        row.agent,
        row.state.as_str(),
        row.restarts,
        human_bytes(row.out_bytes),
        human_bytes(row.err_bytes),
        truncate(last, 60)
    )
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// One human line for an event, or `None` for events not worth a line.
fn describe(event: &LoggedEvent) -> Option<String> {
    describe_record(&event.record)
}

/// One human line for a record, or `None` for records not worth a line.
pub(crate) fn describe_record(record: &baton_core::eventlog::Record) -> Option<String> {
    let time = record.ts.get(11..19).unwrap_or(&record.ts);
    let id = record.session.as_deref().unwrap_or("-");
    let text = match &record.event {
        Event::State {
            from,
            to,
            reason,
            delay_ms,
            evidence,
            ..
        } => {
            let mut text = format!("{from} -> {to} ({reason})");
            if let Some(ms) = delay_ms {
                text.push_str(&format!(" in {ms} ms"));
            }
            if let Some(evidence) = evidence {
                text.push_str(&format!(": {evidence}"));
            }
            text
        }
        Event::Spawn { pid, attempt, .. } => format!("spawned pid {pid} (attempt {attempt})"),
        Event::SpawnError { message, .. } => format!("cannot start: {message}"),
        Event::Exit {
            code,
            signal,
            runtime_ms,
        } => match (code, signal) {
            (Some(c), _) => format!("exited with code {c} after {runtime_ms} ms"),
            (_, Some(s)) => format!("killed by signal {s} after {runtime_ms} ms"),
            _ => "exited".into(),
        },
        Event::InputWait { rule, line } => format!("waiting for input ({rule}): {line}"),
        Event::Completed { payload } => match payload {
            Some(p) => format!("completed with payload {p}"),
            None => "completed (no payload)".into(),
        },
        Event::Dead {
            reason, message, ..
        } => match message {
            Some(m) => format!("dead ({reason}): {m}"),
            None => format!("dead ({reason})"),
        },
        Event::Kill { signal, reason } => {
            format!("sent SIG{signal} to the process group ({reason})")
        }
        Event::InvalidTransition { from, to, reason } => {
            format!("BUG: refused transition {from} -> {to} ({reason})")
        }
        Event::Shutdown { reason, sessions } => {
            format!("shutting down ({reason}), {sessions} live session(s)")
        }
        Event::BudgetReset { restarts } => {
            format!("stable again; restart budget reset (was {restarts})")
        }
        Event::Lease {
            account,
            tier,
            trial,
            ..
        } => {
            format!(
                "leased account {account} ({tier}{})",
                if *trial { ", circuit trial" } else { "" }
            )
        }
        Event::TierFallback { account, tier } => {
            format!("best tier exhausted; using {account} ({tier})")
        }
        Event::Release { account, outcome } => format!("released account {account} ({outcome})"),
        Event::Cooldown {
            account, seconds, ..
        } => format!("account {account} cools down for {seconds} s"),
        Event::Circuit { account, from, to } => format!("account {account} circuit {from} -> {to}"),
        Event::NoLease { provider, eta } => match eta {
            Some(eta) => format!("waiting for a {provider} account (next free at {eta})"),
            None => format!("waiting for a {provider} account (all busy)"),
        },
        Event::Security {
            account,
            path,
            reason,
        } => format!("SECURITY: account {account}: {path}: {reason}"),
        Event::Recovered {
            pid: Some(pid),
            outcome,
        } => format!("recovered pid {pid} ({outcome})"),
        Event::Recovered { pid: None, outcome } => format!("recovered ({outcome})"),
        Event::ConductorStart { .. } | Event::Health { .. } | Event::Input { .. } => return None,
    };
    Some(format!("{time} {id:<16} {text}"))
}
