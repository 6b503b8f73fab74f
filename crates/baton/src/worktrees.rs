//! `baton worktrees [prune]`: the git worktrees baton made for sessions, as
//! the event log and the worktrees themselves say; `prune` removes the clean
//! ones of ended sessions.
//!
//! It reads the log and never writes it (the log belongs to its conductor);
//! what it finds it asks git, so a worktree changed or removed by hand is
//! shown as it is now.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use baton_config::Manifest;
use baton_core::eventlog::{Event, read_log};
use baton_core::worktree::{self, Ending, Worktree};
use serde::Serialize;

use crate::exit;
use crate::render::{human_bytes, truncate};

#[derive(clap::Args, Debug)]
pub struct WorktreesArgs {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The manifest whose logs dir to read [default: baton.toml if it
    /// exists, else the daemon's default .baton/logs].
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "logs_dir")]
    pub manifest: Option<PathBuf>,
    /// The logs dir to read (holding events.jsonl).
    #[arg(long, value_name = "DIR", global = true)]
    pub logs_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Remove the worktrees of ended sessions that hold nothing uncommitted
    /// (their branches are kept); say what is kept and why.
    Prune,
}

/// One worktree as the log and git see it now.
#[derive(Debug, Serialize)]
struct Row {
    session: String,
    path: PathBuf,
    repo: PathBuf,
    branch: String,
    base: String,
    base_commit: String,
    /// `live`, `kept-dirty`, `kept-clean` or `removed`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    ahead: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    behind: Option<u64>,
    uncommitted: u64,
    untracked: u64,
    size_bytes: u64,
    #[serde(skip)]
    worktree: Worktree,
}

/// What the log says of one session's worktree.
struct Known {
    worktree: Worktree,
    ended: bool,
    /// The `worktree_removed`/`worktree_kept` summary, if its end was recorded.
    ahead_at_end: Option<u64>,
}

pub fn main(args: WorktreesArgs) -> i32 {
    let logs_dir = match logs_dir(&args) {
        Ok(dir) => dir,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let events = logs_dir.join(baton_core::EVENTS_FILE);
    let known = match known(&events) {
        Ok(known) => known,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start a runtime: {e}");
            return exit::FAILED;
        }
    };
    runtime.block_on(async {
        let mut rows = Vec::with_capacity(known.len());
        for (session, k) in known {
            rows.push(look(session, k).await);
        }
        match args.action {
            None => list(&rows, args.json),
            Some(Action::Prune) => prune(rows, args.json).await,
        }
    })
}

fn logs_dir(args: &WorktreesArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &args.logs_dir {
        return Ok(dir.clone());
    }
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| PathBuf::from("baton.toml"));
    if args.manifest.is_none() && !manifest.exists() {
        return Ok(PathBuf::from(".baton/logs"));
    }
    Manifest::load(&manifest)
        .map(|m| m.conductor.logs_dir)
        .map_err(|e| {
            format!(
                "{:?}\nhint: pass --logs-dir DIR to read a logs dir without a manifest",
                miette::Report::new(e)
            )
        })
}

/// Every session's last worktree in the log at `events`.
fn known(events: &Path) -> Result<BTreeMap<String, Known>, String> {
    let log = read_log(events).map_err(|e| e.to_string())?;
    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    for r in &log.records {
        let Some(id) = &r.session else { continue };
        match &r.event {
            event @ Event::Worktree { .. } => {
                if let Some(worktree) = Worktree::from_record(event) {
                    known.insert(
                        id.clone(),
                        Known {
                            worktree,
                            ended: false,
                            ahead_at_end: None,
                        },
                    );
                }
            }
            Event::State { to, .. } => {
                if let Some(k) = known.get_mut(id) {
                    k.ended = to.is_terminal();
                }
            }
            Event::WorktreeRemoved { summary } | Event::WorktreeKept { summary, .. } => {
                if let Some(k) = known.get_mut(id) {
                    k.ahead_at_end = Some(summary.ahead);
                }
            }
            _ => {}
        }
    }
    Ok(known)
}

async fn look(session: String, k: Known) -> Row {
    let wt = k.worktree;
    let seen = worktree::inspect(&wt).await;
    let (state, reason) = if !seen.exists {
        ("removed", None)
    } else if !k.ended {
        ("live", None)
    } else {
        match seen.keep_reason() {
            Some(reason) => ("kept-dirty", Some(reason)),
            None => ("kept-clean", None),
        }
    };
    let s = &seen.summary;
    Row {
        session,
        path: wt.path.clone(),
        repo: wt.repo.clone(),
        branch: wt.branch.clone(),
        base: wt.base.clone(),
        base_commit: wt.base_commit.clone(),
        state,
        reason,
        ahead: if seen.exists {
            s.ahead
        } else {
            // Removed: its branch holds the work.
            match worktree::branch_ahead(&wt).await {
                Some(n) => n,
                None => k.ahead_at_end.unwrap_or(0),
            }
        },
        behind: worktree::behind(&wt).await,
        uncommitted: s.uncommitted,
        untracked: s.untracked,
        size_bytes: if seen.exists {
            worktree::disk_usage(&wt.path)
        } else {
            0
        },
        worktree: wt,
    }
}

fn list(rows: &[Row], json: bool) -> i32 {
    let mut out = std::io::stdout().lock();
    if json {
        return print_json(&mut out, rows);
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "no worktrees in this log (sessions with `worktree` make them)"
        );
        return exit::OK;
    }
    let _ = writeln!(
        out,
        "{:<16} {:<24} {:<10} {:>5} {:>6} {:>9}  PATH",
        "SESSION", "BRANCH", "STATE", "AHEAD", "BEHIND", "SIZE"
    );
    for r in rows {
        let behind = r.behind.map_or("-".to_owned(), |n| n.to_string());
        let size = if r.state == "removed" {
            "-".to_owned()
        } else {
            human_bytes(r.size_bytes)
        };
        let mut path = r.path.display().to_string();
        if let Some(reason) = &r.reason {
            path.push_str(&format!(" ({reason})"));
        }
        let _ = writeln!(
            out,
            "{:<16} {:<24} {:<10} {:>5} {:>6} {:>9}  {path}",
            truncate(&r.session, 16),
            truncate(&r.branch, 24),
            r.state,
            r.ahead,
            behind,
            size
        );
    }
    exit::OK
}

/// What `prune` did with one worktree.
#[derive(Debug, Serialize)]
struct Pruned {
    session: String,
    path: PathBuf,
    branch: String,
    /// `removed` or `kept`.
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

async fn prune(rows: Vec<Row>, json: bool) -> i32 {
    let mut done = Vec::new();
    for r in rows {
        let kept = |reason: String| Pruned {
            session: r.session.clone(),
            path: r.path.clone(),
            branch: r.branch.clone(),
            action: "kept",
            reason: Some(reason),
        };
        let outcome = match r.state {
            "removed" => continue,
            "live" => kept(format!("session {} is live", r.session)),
            "kept-dirty" => kept(r.reason.clone().unwrap_or_default()),
            _ => match worktree::finish(&r.worktree).await {
                Ending::Removed(_) => Pruned {
                    session: r.session.clone(),
                    path: r.path.clone(),
                    branch: r.branch.clone(),
                    action: "removed",
                    reason: None,
                },
                Ending::Kept { reason, .. } => kept(reason),
            },
        };
        done.push(outcome);
    }
    let mut out = std::io::stdout().lock();
    if json {
        return print_json(&mut out, &done);
    }
    if done.is_empty() {
        let _ = writeln!(out, "nothing to prune");
    }
    for p in &done {
        let _ = match &p.reason {
            None => writeln!(
                out,
                "removed {} (session {}; branch {} kept)",
                p.path.display(),
                p.session,
                p.branch
            ),
            Some(reason) => writeln!(
                out,
                "kept    {} (session {}): {reason}",
                p.path.display(),
                p.session
            ),
        };
    }
    exit::OK
}

fn print_json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> i32 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            let _ = writeln!(out, "{text}");
            exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            exit::FAILED
        }
    }
}
