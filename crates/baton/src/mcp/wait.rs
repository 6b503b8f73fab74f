//! `wait`: block until a watched session reaches a wanted state, driven by
//! the event stream. The table first (a session already there answers at
//! once, unless `since_seq`), then every record after its `seq`: none is
//! missed between the two, because the table reflects every record up to
//! its `seq`.

use std::collections::{HashMap, HashSet};

use baton_proto::record::{Event, Record};
use baton_proto::request::Events;
use baton_proto::response::Sessions;
use baton_proto::{Request, Response, SessionRow, SessionState, WaitKind};

use super::tools::{Baton, Outcome, failed, no_session, reply, seconds};
use super::types::{Kind, WaitIn, WaitOut, next_step_for};
use crate::link::unexpected;
use crate::render::truncate;

const DEFAULT_WAIT: f64 = 45.0;
const MAX_WAIT: f64 = 3600.0;

impl Baton {
    pub(super) async fn do_wait(&self, input: WaitIn) -> Outcome {
        let timeout = seconds("timeout_s", input.timeout_s, DEFAULT_WAIT, MAX_WAIT)?;
        let until: HashSet<SessionState> = match input.until {
            Some(states) if states.is_empty() => {
                return Err("`until` is empty: name at least one state".into());
            }
            Some(states) => states.into_iter().map(SessionState::from).collect(),
            None => [
                SessionState::InputWait,
                SessionState::Completed,
                SessionState::Dead,
            ]
            .into(),
        };
        let kinds: Option<HashSet<WaitKind>> = match input.kinds {
            Some(kinds) if kinds.is_empty() => {
                return Err(
                    "`kinds` is empty: name at least one (permission, question, idle)".into(),
                );
            }
            Some(kinds) if !until.contains(&SessionState::InputWait) => {
                return Err(format!(
                    "`kinds` ({}) narrows input_wait, which `until` does not hold",
                    kinds.len()
                ));
            }
            Some(kinds) => Some(kinds.into_iter().map(WaitKind::from).collect()),
            None => None,
        };
        let table = self.link.ps().await.map_err(failed)?;
        let ids: Option<HashSet<String>> = input.ids.map(|ids| ids.into_iter().collect());
        if let Some(id) = ids
            .iter()
            .flatten()
            .find(|id| !table.sessions.iter().any(|s| &s.id == *id))
        {
            return Err(no_session(id));
        }
        let mut watch = Watch::new(ids, until, kinds, &table);
        let since = match input.since_seq {
            Some(since) => since,
            None => match watch.now(&table.sessions) {
                Some(out) => return reply_wait(out),
                None => watch.table_seq,
            },
        };
        if let Some(out) = watch.caught_up_to(since) {
            return reply_wait(out);
        }
        // Every session's records, not only the watched ones': the table's
        // seq passing by tells when the records before it have all been seen.
        let mut stream = self
            .link
            .open(&Request::Events(Events {
                session: None,
                since: Some(since),
                follow: true,
            }))
            .await
            .map_err(failed)?;
        let mut last_seq = since;
        let waited = tokio::time::timeout(timeout, async {
            loop {
                match stream.next().await.map_err(failed)? {
                    Response::Event(event) => {
                        last_seq = last_seq.max(event.record.seq);
                        if let Some(out) = watch.see(event.record) {
                            return Ok(out);
                        }
                    }
                    Response::SkippedEvents(_) => {
                        // Records were lost to this reader: the table tells
                        // whether one of them was what we wait for.
                        let table = self.link.ps().await.map_err(failed)?;
                        if let Some(out) = watch.now(&table.sessions) {
                            return Ok(WaitOut {
                                seq: table.seq.unwrap_or(last_seq),
                                ..out
                            });
                        }
                    }
                    Response::EndOfStream(_) => {
                        return Err(
                            "the daemon is stopping; no session will change any more".to_owned()
                        );
                    }
                    other => return Err(unexpected(&other).message()),
                }
            }
        })
        .await;
        match waited {
            Ok(result) => reply_wait(result?),
            Err(_) => reply_wait(WaitOut {
                timed_out: true,
                seq: last_seq,
                ..WaitOut::default()
            }),
        }
    }
}

/// What a `wait` watches for, fed the table and then the records after it.
struct Watch {
    /// `None`: every session, also ones spawned meanwhile.
    ids: Option<HashSet<String>>,
    until: HashSet<SessionState>,
    /// Only an input_wait of these kinds counts (`None`: any).
    kinds: Option<HashSet<WaitKind>>,
    /// The table reflects every record up to this `seq`…
    table_seq: u64,
    /// …and none after this one.
    table_end: u64,
    /// Watched sessions that were terminal in the table: once the records
    /// up to `table_end` have been seen, they can change no more (if they
    /// became terminal after `since_seq`, that record was among them).
    terminal: Vec<String>,
    /// Watched sessions that can no longer reach an `until` state.
    ended: HashSet<String>,
    /// What the records before a state change said (payload, death).
    payloads: HashMap<String, serde_json::Value>,
    messages: HashMap<String, String>,
}

impl Watch {
    fn new(
        ids: Option<HashSet<String>>,
        until: HashSet<SessionState>,
        kinds: Option<HashSet<WaitKind>>,
        table: &Sessions,
    ) -> Watch {
        let table_seq = table.seq.unwrap_or(0);
        let terminal = table
            .sessions
            .iter()
            .filter(|s| s.state.is_terminal())
            .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
            .map(|s| s.id.clone())
            .collect();
        Watch {
            ids,
            until,
            kinds,
            table_seq,
            table_end: table.seq_end.unwrap_or(table_seq).max(table_seq),
            terminal,
            ended: HashSet::new(),
            payloads: HashMap::new(),
            messages: HashMap::new(),
        }
    }

    fn watched(&self, id: &str) -> bool {
        self.ids.as_ref().is_none_or(|ids| ids.contains(id))
    }

    /// Whether an input_wait for `kind` counts.
    fn kind_counts(&self, kind: Option<WaitKind>) -> bool {
        match (&self.kinds, kind) {
            (None, _) => true,
            (Some(kinds), Some(kind)) => kinds.contains(&kind),
            (Some(_), None) => false,
        }
    }

    /// A watched session already in an `until` state, in `table`.
    fn now(&self, table: &[SessionRow]) -> Option<WaitOut> {
        table
            .iter()
            .find(|s| {
                self.watched(&s.id)
                    && self.until.contains(&s.state)
                    && (s.state != SessionState::InputWait || self.kind_counts(s.wait_kind))
            })
            .map(|row| matched_row(row, self.table_seq))
    }

    /// Every record up to `seq` has been seen: the sessions terminal in the
    /// table are over. The answer if then no watched session can match.
    fn caught_up_to(&mut self, seq: u64) -> Option<WaitOut> {
        if seq < self.table_end || self.terminal.is_empty() {
            return None;
        }
        self.ended.extend(self.terminal.drain(..));
        self.all_ended().then(|| nothing_left(seq))
    }

    fn all_ended(&self) -> bool {
        self.ids
            .as_ref()
            .is_some_and(|ids| ids.iter().all(|id| self.ended.contains(id)))
    }

    /// The answer, if `record` is what is waited for (or ends the wait).
    fn see(&mut self, record: Record) -> Option<WaitOut> {
        let seq = record.seq;
        if let Some(id) = record.session.filter(|id| self.watched(id)) {
            match record.event {
                Event::Completed {
                    payload: Some(payload),
                    ..
                } => {
                    self.payloads.insert(id, payload);
                }
                Event::Dead {
                    message: Some(message),
                    ..
                } => {
                    self.messages.insert(id, message);
                }
                // Entering input_wait is answered at its `input_wait`
                // record, which follows the `state` record and says what
                // it waits for; so is a change of what it waits for.
                Event::InputWait { rule, line, kind }
                    if self.until.contains(&SessionState::InputWait) && self.kind_counts(kind) =>
                {
                    return Some(WaitOut {
                        matched: true,
                        id: Some(id),
                        state: Some(SessionState::InputWait.into()),
                        reason: Some(format!(
                            "input_wait:{}",
                            kind.map_or(rule, |k| k.as_str().to_owned())
                        )),
                        evidence: Some(line),
                        wait_kind: kind.map(Kind::from),
                        next: Some(next_step_for(SessionState::InputWait, kind).to_owned()),
                        seq,
                        ..WaitOut::default()
                    });
                }
                Event::State {
                    to,
                    reason,
                    evidence,
                    ..
                } => {
                    if self.until.contains(&to) && to != SessionState::InputWait {
                        return Some(WaitOut {
                            matched: true,
                            payload: self.payloads.remove(&id),
                            message: self.messages.remove(&id),
                            id: Some(id),
                            state: Some(to.into()),
                            reason: Some(reason),
                            evidence,
                            next: Some(next_step_for(to, None).to_owned()),
                            seq,
                            ..WaitOut::default()
                        });
                    }
                    if to.is_terminal() {
                        self.ended.insert(id);
                        if self.all_ended() {
                            return Some(nothing_left(seq));
                        }
                    }
                }
                _ => {}
            }
        }
        self.caught_up_to(seq)
    }
}
fn matched_row(row: &SessionRow, seq: u64) -> WaitOut {
    WaitOut {
        matched: true,
        id: Some(row.id.clone()),
        state: Some(row.state.into()),
        reason: Some(row.reason.clone()),
        evidence: row.evidence.clone(),
        wait_kind: row.wait_kind.map(Kind::from),
        payload: row.payload.clone(),
        message: row.message.clone(),
        next: Some(next_step_for(row.state, row.wait_kind).to_owned()),
        seq,
        ..WaitOut::default()
    }
}

fn nothing_left(seq: u64) -> WaitOut {
    WaitOut {
        seq,
        note: Some(
            "every watched session has ended in a state not in `until`; nothing more will change"
                .into(),
        ),
        ..WaitOut::default()
    }
}

fn reply_wait(out: WaitOut) -> Outcome {
    let text = match (&out.id, out.state) {
        (Some(id), Some(state)) => {
            let state = SessionState::from(state);
            let mut text = format!(
                "`{id}` is {state} ({})",
                out.reason.as_deref().unwrap_or("")
            );
            if let Some(evidence) = &out.evidence {
                text.push_str(&format!(": {}", truncate(evidence, 200)));
            }
            if let Some(payload) = &out.payload {
                text.push_str(&format!(
                    "\npayload: {}",
                    truncate(&payload.to_string(), 500)
                ));
            }
            if let Some(message) = &out.message {
                text.push_str(&format!("\nmessage: {message}"));
            }
            let kind = out.wait_kind.map(WaitKind::from);
            text.push_str(&format!(
                "\nnext: {}; seq {}",
                next_step_for(state, kind),
                out.seq
            ));
            text
        }
        _ if out.timed_out => format!(
            "nothing reached those states in time; call wait again with since_seq {}",
            out.seq
        ),
        _ => format!(
            "{}; seq {}",
            out.note.as_deref().unwrap_or("nothing matched"),
            out.seq
        ),
    };
    reply(&out, text)
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::types::State;
    // The same sample rows as the dashboard's tests.
    use crate::tui::model::tests::row;

    fn record(seq: u64, session: &str, event: Event) -> Record {
        Record {
            seq,
            ts: "t".into(),
            session: Some(session.into()),
            event,
        }
    }

    fn state(from: SessionState, to: SessionState) -> Event {
        Event::State {
            from,
            to,
            reason: format!("to_{to}"),
            restarts: 0,
            delay_ms: None,
            evidence: Some("the line".into()),
        }
    }

    fn ids(list: &[&str]) -> Option<HashSet<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    fn table(rows: Vec<SessionRow>, seq: u64, seq_end: u64) -> Sessions {
        Sessions {
            sessions: rows,
            seq: Some(seq),
            seq_end: Some(seq_end),
        }
    }

    #[test]
    fn wait_matches_a_later_state_with_its_payload_and_evidence() {
        use SessionState::*;
        let table = table(vec![row("a", Healthy), row("b", Healthy)], 10, 10);
        let mut watch = Watch::new(ids(&["a"]), [Completed].into(), None, &table);
        assert!(watch.now(&table.sessions).is_none());
        assert!(watch.caught_up_to(10).is_none());
        // Another session's change, and a's change to a state not waited for.
        assert!(
            watch
                .see(record(11, "b", state(Healthy, Completed)))
                .is_none()
        );
        assert!(
            watch
                .see(record(12, "a", state(Healthy, Stalled)))
                .is_none()
        );
        let payload = serde_json::json!({"ok": true});
        let completed = Event::Completed {
            payload: Some(payload.clone()),
            usage: None,
        };
        assert!(watch.see(record(13, "a", completed)).is_none());
        let out = watch
            .see(record(14, "a", state(Stalled, Completed)))
            .unwrap();
        assert!(out.matched && !out.timed_out);
        assert_eq!(out.id.as_deref(), Some("a"));
        assert_eq!(out.state, Some(State::Completed));
        assert_eq!(out.payload, Some(payload));
        assert_eq!(out.evidence.as_deref(), Some("the line"));
        assert_eq!(out.seq, 14);
    }

    #[test]
    fn an_input_wait_counts_at_its_record_and_kinds_narrow_it() {
        use SessionState::*;
        let wait = |kind: Option<WaitKind>, rule: &str| Event::InputWait {
            rule: rule.into(),
            line: format!("{rule} line"),
            kind,
        };
        let t = table(vec![row("a", Healthy)], 1, 1);
        // Any input_wait: the `input_wait` record after the state answers,
        // with the screen's rule as the reason.
        let mut any = Watch::new(ids(&["a"]), [InputWait].into(), None, &t);
        assert!(any.see(record(2, "a", state(Healthy, InputWait))).is_none());
        let out = any.see(record(3, "a", wait(None, "yes_no"))).unwrap();
        assert_eq!(out.reason.as_deref(), Some("input_wait:yes_no"));
        assert_eq!(out.evidence.as_deref(), Some("yes_no line"));
        assert_eq!(out.wait_kind, None);
        // Only `idle`: a permission asked, and a screen's question, do not
        // count; the turn's end does, also while it stays in input_wait.
        let idle = Some([WaitKind::Idle].into());
        let mut watch = Watch::new(ids(&["a"]), [InputWait].into(), idle.clone(), &t);
        assert!(
            watch
                .see(record(2, "a", state(Healthy, InputWait)))
                .is_none()
        );
        let permission = wait(Some(WaitKind::Permission), "hook:PermissionRequest");
        assert!(watch.see(record(3, "a", permission)).is_none());
        assert!(watch.see(record(4, "a", wait(None, "yes_no"))).is_none());
        let out = watch
            .see(record(5, "a", wait(Some(WaitKind::Idle), "hook:Stop")))
            .unwrap();
        assert!(out.matched);
        assert_eq!(out.reason.as_deref(), Some("input_wait:idle"));
        assert_eq!(out.wait_kind, Some(Kind::Idle));
        assert!(out.next.unwrap().contains("next prompt"));
        // The table: a session waiting for permission is no idle one.
        let mut asking = row("a", InputWait);
        asking.wait_kind = Some(WaitKind::Permission);
        let watch = Watch::new(ids(&["a"]), [InputWait].into(), idle, &t);
        assert!(watch.now(&[asking.clone()]).is_none());
        asking.wait_kind = Some(WaitKind::Idle);
        assert_eq!(watch.now(&[asking]).unwrap().wait_kind, Some(Kind::Idle));
    }

    #[test]
    fn wait_gives_up_once_every_watched_session_has_ended_otherwise() {
        use SessionState::*;
        // Snapshot: b ended before; a dies now.
        let t = table(vec![row("a", Healthy), row("b", Dead)], 5, 5);
        let mut watch = Watch::new(ids(&["a", "b"]), [InputWait].into(), None, &t);
        assert!(watch.caught_up_to(5).is_none());
        let out = watch.see(record(6, "a", state(Healthy, Dead))).unwrap();
        assert!(!out.matched && out.note.is_some());

        // Since an earlier seq: b's end may still be ahead in the records,
        // so nothing is concluded before the table's end has passed.
        let t = table(vec![row("b", Dead)], 9, 9);
        let mut watch = Watch::new(ids(&["b"]), [Completed].into(), None, &t);
        assert!(watch.caught_up_to(3).is_none());
        assert!(watch.see(record(4, "x", state(Healthy, Stalled))).is_none());
        let out = watch.see(record(9, "x", state(Stalled, Healthy))).unwrap();
        assert!(!out.matched && out.note.is_some(), "{out:?}");

        // Watching every session never runs out: new ones may come.
        let t = table(vec![row("a", Dead)], 2, 2);
        let mut watch = Watch::new(None, [Completed].into(), None, &t);
        assert!(watch.caught_up_to(2).is_none());
        assert!(watch.see(record(3, "a", state(Dead, Dead))).is_none());
    }

    #[test]
    fn a_completion_after_since_counts_even_past_the_tables_seq() {
        use SessionState::*;
        // The table shows b completed, but its completion (seq 11) came
        // after the seq read before the table (9): only `seq_end` (12)
        // bounds what the table reflects.
        let t = table(vec![row("b", Completed)], 9, 12);
        let mut watch = Watch::new(ids(&["b"]), [Completed, Dead].into(), None, &t);
        assert!(watch.caught_up_to(7).is_none());
        assert!(watch.see(record(9, "x", state(Healthy, Stalled))).is_none());
        assert!(
            watch
                .see(record(10, "b", state(InputWait, Healthy)))
                .is_none()
        );
        let out = watch
            .see(record(11, "b", state(Healthy, Completed)))
            .unwrap();
        assert!(out.matched, "{out:?}");
        assert_eq!(out.seq, 11);
    }
}
