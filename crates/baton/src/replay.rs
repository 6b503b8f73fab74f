//! `baton replay FILE`: the session table rebuilt from an event log alone.

use std::io::Write;

use baton_core::eventlog::read_log;
use baton_core::replay::{ReplayedSession, session_table};

use crate::{ReplayArgs, exit};

pub fn main(args: ReplayArgs) -> i32 {
    // A logs directory stands for its `events.jsonl` (every segment of it).
    let file = if args.file.is_dir() {
        args.file.join("events.jsonl")
    } else {
        args.file.clone()
    };
    let log = match read_log(&file) {
        Ok(log) => log,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if log.header.is_none() {
        eprintln!(
            "warning: {} has no baton event-log header; reading it anyway",
            file.display()
        );
    }
    if let Some(first) = log.deleted_before {
        eprintln!(
            "note: records 1 to {} were deleted with the oldest segments (`keep_segments`); the table is rebuilt from what is kept",
            first - 1
        );
    }
    if log.torn_tail {
        eprintln!("note: the last line was incomplete (a crash mid-write) and was skipped");
    }
    if !log.skipped_lines.is_empty() {
        eprintln!("warning: unreadable lines skipped: {:?}", log.skipped_lines);
    }
    if !log.unknown.is_empty() {
        eprintln!(
            "note: {} records of kinds this baton does not know (a newer minor version) were skipped",
            log.unknown.len()
        );
    }
    let table = session_table(&log.records);
    let mut out = std::io::stdout().lock();
    if args.json {
        match serde_json::to_string_pretty(&table) {
            Ok(text) => {
                let _ = writeln!(out, "{text}");
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
        return exit::OK;
    }
    let _ = writeln!(
        out,
        "{:<20} {:<8} {:<11} {:>4} {:>4} {:>7} {:>9} {:<28} DETAIL",
        "ID", "AGENT", "STATE", "RST", "RUNS", "TOKENS", "COST", "LAST RECORD"
    );
    for row in &table {
        let tokens = row.usage.map_or_else(|| "-".into(), |u| u.tokens_text());
        let cost = row
            .usage
            .and_then(|u| u.cost_text())
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<20} {:<8} {:<11} {:>4} {:>4} {:>7} {:>9} {:<28} {}",
            row.id,
            row.agent.as_deref().unwrap_or("-"),
            row.state.as_str(),
            row.restarts,
            row.attempts,
            tokens,
            cost,
            row.last_ts,
            detail(row)
        );
    }
    exit::OK
}

fn detail(row: &ReplayedSession) -> String {
    if let Some(line) = &row.waiting_on {
        return format!("waiting: {line}");
    }
    if let Some(message) = &row.message {
        return message.clone();
    }
    if let Some(payload) = &row.payload {
        return format!("payload {payload}");
    }
    match (row.exit_code, row.exit_signal) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => row.reason.clone(),
    }
}
