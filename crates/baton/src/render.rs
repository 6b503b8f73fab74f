//! Text for people: one line per event record, sizes, truncation. Shared
//! by `baton run`'s view and the client verbs; it knows only the wire types.

use baton_proto::record::{Event, Record};

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// One human line for a record, or `None` for records not worth a line.
pub(crate) fn describe_record(record: &Record) -> Option<String> {
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
        Event::InputWait {
            rule,
            line,
            kind: Some(kind),
        } => format!("waiting for {} ({rule}): {line}", wait_words(*kind)),
        Event::InputWait { rule, line, .. } => format!("waiting for input ({rule}): {line}"),
        Event::Hooks { state, message } => format!("hooks {}: {message}", state.as_str()),
        Event::Completed { payload, usage } => {
            let used = usage.map(|u| format!("; used {u}")).unwrap_or_default();
            match payload {
                Some(p) => format!("completed with payload {p}{used}"),
                None => format!("completed (no payload){used}"),
            }
        }
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
        Event::Request { verb, via } => format!("{verb} asked via {via}"),
        Event::Worktree {
            path,
            branch,
            base,
            base_commit,
            created,
            ..
        } => {
            if *created {
                format!(
                    "worktree {path} on new branch {branch} from {base} ({})",
                    short(base_commit)
                )
            } else {
                format!("worktree {path} on branch {branch} (found again)")
            }
        }
        Event::WorktreeRemoved { summary } => format!(
            "worktree removed, branch {} kept: {}",
            summary.branch,
            work_done(summary)
        ),
        Event::WorktreeKept { summary, reason } => format!(
            "worktree kept at {} ({reason}); branch {}: {}",
            summary.path,
            summary.branch,
            work_done(summary)
        ),
        Event::TurnStarted => "turn started".into(),
        Event::TurnEnded { usage, error } => {
            let used = usage.map(|u| format!("; used {u}")).unwrap_or_default();
            match error {
                Some(e) => format!("turn failed: {e}{used}"),
                None => format!("turn ended{used}"),
            }
        }
        Event::Tool { name } => format!("tool {name}"),
        Event::AgentError { message, retrying } => {
            let retrying = if *retrying { " (it retries)" } else { "" };
            format!("agent error{retrying}: {message}")
        }
        Event::ConductorStart { .. } | Event::Health { .. } | Event::Input { .. } => return None,
    };
    Some(format!("{time} {id:<16} {text}"))
}

/// The first 12 characters of a commit hash.
pub(crate) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// "2 commits ahead, 3 files +10 -2".
pub(crate) fn work_done(s: &baton_proto::record::WorktreeSummary) -> String {
    format!(
        "{} commit{} ahead, {} file{} +{} -{}",
        s.ahead,
        if s.ahead == 1 { "" } else { "s" },
        s.files,
        if s.files == 1 { "" } else { "s" },
        s.insertions,
        s.deletions
    )
}

/// `512 B`, `1.5 KiB`, `3.2 GiB`.
#[cfg(feature = "engine")]
pub(crate) fn human_bytes(n: u64) -> String {
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

/// What a session waiting for `kind` waits for, in words.
fn wait_words(kind: baton_proto::WaitKind) -> &'static str {
    match kind {
        baton_proto::WaitKind::Permission => "permission",
        baton_proto::WaitKind::Question => "an answer",
        baton_proto::WaitKind::Idle => "the next prompt",
    }
}
