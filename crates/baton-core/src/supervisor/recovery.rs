//! What an earlier conductor left: a pure fold over its event log that says,
//! for every session it left live, its counters, its state and what became
//! of its run (adoptable, ended, or lost with that conductor).

use std::collections::HashMap;

use crate::eventlog::{Event, Record};
use crate::proc::ExitStatus;
use crate::state::SessionState;

use super::backend::RecordedRun;
use super::backend::{RecordedSpawn, RunTarget};

/// A session that was live when an earlier conductor stopped writing the
/// log: its counters and state, and what became of its run.
#[derive(Clone, Debug)]
pub(crate) struct Recoverable {
    pub id: String,
    pub run: Option<LastRun>,
    pub state: SessionState,
    pub restarts: u32,
    pub attempt: u32,
    /// The last run's `exit` record, when it has one: the run ended and
    /// only the rest of its end (payload, state) was not recorded.
    pub exited: Option<ExitStatus>,
    /// Where the last run's stdout begins in `<id>.out.log`.
    pub out_offset: u64,
    /// The session's worktree, as its last `worktree` record states it.
    pub worktree: Option<crate::worktree::Worktree>,
    /// What its agent's turns used, as their `turn_ended` records say.
    pub usage: Option<baton_proto::Usage>,
    /// How many turn, tool and agent error records its last run made: a
    /// run taken over is read again from its start, and the first this many
    /// of what its agent says are not recorded again.
    pub reported: u32,
    /// The end-of-run token of its last recorded tmux or remote run, also
    /// after that run ended.
    pub marker: Option<String>,
}

/// The run of a [`Recoverable`] session, as its last `spawn` record tells
/// it: where it ran, and its pid, offsets and end-marker nonce. A run on a
/// target that outlives its conductor can be taken over; one of
/// [`RunTarget::Pipes`] lived inside the earlier conductor, and what is
/// left of its group is ended. A remote pid means nothing here.
#[derive(Clone, Debug)]
pub(crate) struct LastRun {
    pub target: RunTarget,
    pub run: RecordedRun,
}

impl Recoverable {
    /// The sessions of `records` (an earlier log of this logs dir) that were
    /// still live (neither `dead` nor `completed`) at its end.
    pub(crate) fn from_log(records: &[Record], server: &str) -> Vec<Recoverable> {
        let mut sessions: HashMap<String, Recoverable> = HashMap::new();
        for r in records {
            let Some(id) = &r.session else { continue };
            let rec = sessions.entry(id.clone()).or_insert_with(|| Recoverable {
                id: id.clone(),
                run: None,
                state: SessionState::Init,
                restarts: 0,
                attempt: 0,
                exited: None,
                out_offset: 0,
                worktree: None,
                usage: None,
                reported: 0,
                marker: None,
            });
            match &r.event {
                Event::Spawn {
                    pid,
                    start_time,
                    out_offset,
                    err_offset,
                    attempt,
                    restart,
                    tmux,
                    shim,
                    host,
                    backend,
                    ..
                } => {
                    let adopt = |marker: Option<String>| RecordedRun {
                        pid: *pid,
                        start_time: *start_time,
                        out_offset: *out_offset,
                        err_offset: *err_offset,
                        acknowledged: false,
                        marker,
                    };
                    rec.attempt = *attempt;
                    rec.restarts = *restart;
                    rec.exited = None;
                    rec.out_offset = *out_offset;
                    rec.reported = 0;
                    let spawned = RecordedSpawn {
                        host: host.as_deref(),
                        tmux: tmux.as_ref(),
                        shim: *shim,
                        backend: backend.as_deref(),
                    };
                    let target = RunTarget::recorded(&spawned, server);
                    let marker = tmux.as_ref().and_then(|t| t.marker.clone());
                    rec.marker.clone_from(&marker);
                    rec.run = target.map(|target| LastRun {
                        target,
                        run: adopt(marker),
                    });
                }
                event @ Event::Worktree { .. } => {
                    rec.worktree = crate::worktree::Worktree::from_record(event);
                }
                Event::WorktreeRemoved { .. } | Event::WorktreeKept { .. } => rec.worktree = None,
                Event::Exit { code, signal, .. } => {
                    rec.exited = Some(ExitStatus {
                        code: *code,
                        signal: *signal,
                    });
                }
                Event::TurnStarted | Event::Tool { .. } | Event::AgentError { .. } => {
                    rec.reported = rec.reported.saturating_add(1);
                }
                Event::TurnEnded { usage, .. } => {
                    rec.reported = rec.reported.saturating_add(1);
                    if let Some(used) = usage {
                        rec.usage = Some(rec.usage.unwrap_or_default().plus(*used));
                    }
                }
                Event::State {
                    from, to, restarts, ..
                } => {
                    if *from == SessionState::Init || from.is_terminal() {
                        // A new life of the id: nothing used yet.
                        rec.usage = None;
                    }
                    rec.state = *to;
                    rec.restarts = *restarts;
                    if *to == SessionState::Starting {
                        // A new run is starting: the last one's exit says
                        // nothing of it (its `spawn` may not be recorded).
                        rec.exited = None;
                    }
                    if !to.has_process() {
                        rec.run = None;
                    }
                    if let Some(recorded) = &mut rec.run {
                        recorded.run.acknowledged |= *to != SessionState::Starting;
                    }
                }
                _ => {}
            }
        }
        sessions
            .into_values()
            .filter(|r| !r.state.is_terminal())
            .collect()
    }
}

/// What an earlier conductor of this logs dir left to the next one.
pub(crate) struct Left {
    /// Sessions it left live.
    pub sessions: Vec<Recoverable>,
    /// Worktrees of sessions that ended before their worktree's end was recorded.
    pub worktrees: Vec<(baton_config::SessionId, crate::worktree::Worktree)>,
    /// Sessions that ended since the last clean shutdown: a conductor that
    /// died took them out of everyone's view; its successor shows them again.
    pub ended: Vec<crate::replay::ReplayedSession>,
}

impl Left {
    /// Folds the earlier log `records`; `server` is this logs dir's tmux server.
    pub(crate) fn from_log(records: &[Record], server: &str) -> Left {
        let sessions = Recoverable::from_log(records, server);
        let since = since_clean_shutdown(records);
        let ended = crate::replay::session_table(&records[since..])
            .into_iter()
            .filter(|s| s.state.is_terminal() && !sessions.iter().any(|r| r.id == s.id))
            .collect();
        Left {
            sessions,
            worktrees: unfinished_worktrees(records),
            ended,
        }
    }
}

/// Where the records of the conductors that did not shut down cleanly begin:
/// after the last conductor run (from one `conductor_start` to the next)
/// that recorded a `shutdown`; 0 when none did.
fn since_clean_shutdown(records: &[Record]) -> usize {
    let mut since = 0;
    let mut clean = false;
    for (i, r) in records.iter().enumerate() {
        match r.event {
            Event::ConductorStart { .. } => {
                if clean {
                    since = i;
                }
                clean = false;
            }
            Event::Shutdown { .. } => clean = true,
            _ => {}
        }
    }
    if clean { records.len() } else { since }
}

/// The worktrees of sessions that ended in `records` (an earlier log)
/// before their worktree's end was recorded (the conductor stopped between
/// the two): each session's id and its worktree, still to be dealt with.
pub(crate) fn unfinished_worktrees(
    records: &[Record],
) -> Vec<(baton_config::SessionId, crate::worktree::Worktree)> {
    let mut last: HashMap<&str, (Option<crate::worktree::Worktree>, bool)> = HashMap::new();
    for r in records {
        let Some(id) = r.session.as_deref() else {
            continue;
        };
        let (worktree, ended) = last.entry(id).or_default();
        match &r.event {
            event @ Event::Worktree { .. } => {
                *worktree = crate::worktree::Worktree::from_record(event);
                *ended = false;
            }
            Event::WorktreeRemoved { .. } | Event::WorktreeKept { .. } => *worktree = None,
            Event::State { to, .. } => *ended = to.is_terminal(),
            _ => {}
        }
    }
    let mut due: Vec<_> = last
        .into_iter()
        .filter_map(|(id, (worktree, ended))| {
            Some((
                id.parse::<baton_config::SessionId>().ok()?,
                worktree.filter(|_| ended)?,
            ))
        })
        .collect();
    due.sort_by(|a, b| a.0.cmp(&b.0));
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::TmuxTarget;

    const SERVER: &str = "baton-0123";

    fn record(seq: u64, session: &str, event: Event) -> Record {
        Record {
            seq,
            ts: String::new(),
            session: Some(session.into()),
            event,
        }
    }

    fn spawn(attempt: u32, restart: u32, pid: u32) -> Event {
        Event::Spawn {
            agent: Some("command".into()),
            restart,
            attempt,
            pid,
            start_time: Some(1000 + u64::from(pid)),
            argv: vec!["agent".into()],
            workdir: "/w".into(),
            env_keys: vec![],
            out_offset: 10 * u64::from(attempt),
            err_offset: 5 * u64::from(attempt),
            tmux: None,
            shim: false,
            host: None,
            backend: None,
            capabilities: Vec::new(),
        }
    }

    fn exit(code: i32) -> Event {
        Event::Exit {
            code: Some(code),
            signal: None,
            runtime_ms: 5,
        }
    }

    fn state(from: SessionState, to: SessionState, restarts: u32) -> Event {
        Event::State {
            from,
            to,
            reason: "test".into(),
            restarts,
            delay_ms: None,
            evidence: None,
        }
    }

    fn fold(events: Vec<(&str, Event)>) -> HashMap<String, Recoverable> {
        let records: Vec<Record> = events
            .into_iter()
            .enumerate()
            .map(|(i, (id, e))| record(i as u64 + 1, id, e))
            .collect();
        Recoverable::from_log(&records, SERVER)
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect()
    }

    use SessionState::*;

    #[test]
    fn finished_sessions_are_not_recoverable() {
        let found = fold(vec![
            ("done", state(Init, Starting, 0)),
            ("done", spawn(1, 0, 11)),
            ("done", state(Starting, Completed, 0)),
            ("gone", state(Init, Starting, 0)),
            ("gone", state(Starting, Failed, 0)),
            ("gone", state(Failed, Dead, 0)),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_pipes_run_inside_the_dead_conductor_is_a_leftover_with_its_counters() {
        let found = fold(vec![
            ("w", state(Init, Starting, 0)),
            ("w", spawn(1, 0, 11)),
            ("w", state(Starting, Failed, 0)),
            ("w", state(Failed, Restarting, 1)),
            ("w", state(Restarting, Starting, 1)),
            ("w", spawn(2, 1, 22)),
            ("w", state(Starting, Healthy, 1)),
        ]);
        let w = &found["w"];
        assert_eq!((w.state, w.restarts, w.attempt), (Healthy, 1, 2));
        assert_eq!(w.out_offset, 20, "the last run's offset");
        let run = w.run.as_ref().expect("a recorded run");
        assert_eq!(run.target, RunTarget::Pipes);
        assert_eq!((run.run.pid, run.run.start_time), (22, Some(1022)));
        assert!(w.exited.is_none());
    }

    #[test]
    fn a_run_whose_exit_is_logged_keeps_its_status_until_the_next_spawn() {
        let mut shim = spawn(1, 0, 11);
        if let Event::Spawn { shim: s, .. } = &mut shim {
            *s = true;
        }
        let found = fold(vec![
            ("s", state(Init, Starting, 0)),
            ("s", shim),
            ("s", state(Starting, Healthy, 0)),
            ("s", exit(3)),
        ]);
        let s = &found["s"];
        assert_eq!(
            s.exited,
            Some(ExitStatus {
                code: Some(3),
                signal: None
            })
        );
        match &s.run {
            Some(LastRun {
                target: RunTarget::Shim,
                run: a,
            }) => {
                assert_eq!((a.pid, a.out_offset, a.err_offset), (11, 10, 5));
                assert!(a.acknowledged, "it was past starting");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tmux_panes_are_adopted_only_from_our_server() {
        let pane = |server: &str, pid| {
            let mut e = spawn(1, 0, pid);
            if let Event::Spawn { tmux, .. } = &mut e {
                *tmux = Some(TmuxTarget {
                    server: server.into(),
                    session: "baton-x".into(),
                    marker: Some("m1".into()),
                });
            }
            e
        };
        let found = fold(vec![
            ("ours", state(Init, Starting, 0)),
            ("ours", pane(SERVER, 11)),
            ("theirs", state(Init, Starting, 0)),
            ("theirs", pane("baton-other", 12)),
        ]);
        match &found["ours"].run {
            Some(LastRun {
                target: RunTarget::Tmux,
                run: a,
            }) => {
                assert_eq!(a.marker.as_deref(), Some("m1"));
                assert!(!a.acknowledged, "still starting");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            found["theirs"].run.is_none(),
            "another server's pane is not ours"
        );
    }

    #[test]
    fn a_remote_run_names_its_host_and_a_session_between_runs_has_none() {
        let mut remote = spawn(1, 0, 11);
        if let Event::Spawn { host, .. } = &mut remote {
            *host = Some("gpu".into());
        }
        let found = fold(vec![
            ("r", state(Init, Starting, 0)),
            ("r", remote),
            ("b", state(Init, Starting, 0)),
            ("b", spawn(1, 0, 12)),
            ("b", state(Starting, Failed, 0)),
            ("b", state(Failed, Restarting, 1)),
        ]);
        assert!(
            matches!(&found["r"].run, Some(LastRun { target: RunTarget::Remote { host }, .. }) if host == "gpu")
        );
        let b = &found["b"];
        assert_eq!((b.state, b.restarts), (Restarting, 1));
        assert!(b.run.is_none(), "no process in restarting");
    }

    /// Found by the chaos long form: a run that was starting when the
    /// conductor died, before its `spawn` was recorded, is not the last
    /// recorded run, whose exit would otherwise be finished a second time.
    #[test]
    fn a_run_starting_unrecorded_does_not_inherit_the_last_runs_exit() {
        let found = fold(vec![
            ("s", state(Init, Starting, 0)),
            ("s", spawn(1, 0, 11)),
            ("s", state(Starting, Healthy, 0)),
            ("s", exit(3)),
            ("s", state(Healthy, Failed, 0)),
            ("s", state(Failed, Restarting, 1)),
            ("s", state(Restarting, Starting, 1)),
        ]);
        let s = &found["s"];
        assert_eq!((s.state, s.restarts, s.attempt), (Starting, 1, 1));
        assert!(s.exited.is_none(), "{s:?}");
        assert!(s.run.is_none(), "{s:?}");
    }

    #[test]
    fn records_without_a_session_are_ignored() {
        let records = vec![Record {
            seq: 1,
            ts: String::new(),
            session: None,
            event: Event::Shutdown {
                reason: "x".into(),
                sessions: 0,
            },
        }];
        assert!(Recoverable::from_log(&records, SERVER).is_empty());
    }
}

#[cfg(test)]
mod worktree_tests {
    use super::*;
    use SessionState::*;
    use baton_proto::record::WorktreeSummary;

    fn at(seq: u64, session: &str, event: Event) -> Record {
        Record {
            seq,
            ts: String::new(),
            session: Some(session.into()),
            event,
        }
    }

    fn made(id: &str) -> Event {
        Event::Worktree {
            path: format!("/r.baton-worktrees/{id}"),
            repo: "/r".into(),
            branch: format!("baton/{id}"),
            base: "HEAD".into(),
            base_commit: "1111".into(),
            created: true,
            copied: vec![".env".into()],
        }
    }

    fn to(to: SessionState) -> Event {
        Event::State {
            from: Healthy,
            to,
            reason: String::new(),
            restarts: 0,
            delay_ms: None,
            evidence: None,
        }
    }

    #[test]
    fn an_ended_session_whose_worktree_end_was_not_recorded_is_still_due() {
        let records = vec![
            // Ended, its worktree dealt with: nothing due.
            at(1, "done", made("done")),
            at(2, "done", to(Completed)),
            at(
                3,
                "done",
                Event::WorktreeRemoved {
                    summary: WorktreeSummary::default(),
                },
            ),
            // Ended, the conductor stopped before its worktree's end: due.
            at(4, "cut", made("cut")),
            at(5, "cut", to(Dead)),
            // Still live: recovery's business, not this.
            at(6, "live", made("live")),
            at(7, "live", to(Stalled)),
            // Ended without a worktree.
            at(8, "plain", to(Completed)),
        ];
        let due = unfinished_worktrees(&records);
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].0.as_str(), "cut");
        assert_eq!(
            due[0].1.path,
            std::path::Path::new("/r.baton-worktrees/cut")
        );
        assert_eq!(due[0].1.copied, [std::path::PathBuf::from(".env")]);
        // A live session's worktree comes back with it.
        let live = Recoverable::from_log(&records, "srv");
        assert_eq!(live.len(), 1);
        assert_eq!(
            live[0].worktree.as_ref().map(|w| w.branch.as_str()),
            Some("baton/live")
        );
    }
}
