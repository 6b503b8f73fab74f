//! What the dashboard shows, and how it changes: the session table from
//! `ps`, kept current by the event stream, and the person's place in it.
//! No I/O here: the loop feeds it inputs, the view draws it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use baton_proto::record::{Event, Record};
use baton_proto::{SessionRow, SessionState};

/// Records kept per session for the detail pane.
const RECENT: usize = 30;

/// Output bytes kept for the selected session's tail.
const TAIL_BYTES: usize = 32 * 1024;

/// What the keyboard is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Moving around.
    Normal,
    /// Typing a filter (`/`).
    Filter(String),
    /// Typing an answer for this session (`s`).
    Answer { id: String, text: String },
    /// Asked whether to kill this session (`K`).
    ConfirmKill(String),
    /// The key table (`?`).
    Help,
}

/// The dashboard's state.
#[derive(Debug)]
pub struct Model {
    /// Every session the daemon has, by id.
    pub sessions: BTreeMap<String, SessionRow>,
    /// The last `seq` applied.
    pub seq: u64,
    /// The ids shown, in display order (what needs a person first).
    pub order: Vec<String>,
    /// The selected session.
    pub selected: Option<String>,
    /// The applied filter (id, agent, state or capability).
    pub filter: String,
    pub mode: Mode,
    /// The detail pane is open.
    pub detail: bool,
    /// Recent records per session (what the detail pane lists).
    pub recent: HashMap<String, VecDeque<Record>>,
    /// The selected session's output tail, and whose it is.
    pub tail: Option<(String, Vec<u8>)>,
    /// One line for the person: what happened, what went wrong.
    pub message: Option<String>,
    /// Ring the terminal bell on a new `input_wait`.
    pub bell: bool,
    /// A bell is due at the next draw.
    pub ring: bool,
    /// The daemon has gone away; nothing will change any more.
    pub daemon_gone: Option<String>,
    /// The `seq` of the last `state` record applied, per session: a table
    /// taken before it must not put the older state back.
    state_seq: HashMap<String, u64>,
    /// When the last table arrived: ages go on from there.
    table_at: std::time::Instant,
    /// States changed since `order` was made: [`Model::settle`] remakes it,
    /// once for a whole burst of records.
    unsorted: bool,
}

impl Model {
    pub fn new() -> Model {
        Model {
            sessions: BTreeMap::new(),
            seq: 0,
            order: Vec::new(),
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            detail: false,
            recent: HashMap::new(),
            tail: None,
            message: None,
            bell: true,
            ring: false,
            daemon_gone: None,
            unsorted: false,
            table_at: std::time::Instant::now(),
            state_seq: HashMap::new(),
        }
    }

    /// Takes a fresh table from `ps` (states are the table's: it reflects
    /// every record up to its `seq`).
    pub fn table(&mut self, rows: Vec<SessionRow>, seq: Option<u64>) {
        let reflects = seq.unwrap_or(0);
        let mut sessions: BTreeMap<String, SessionRow> =
            rows.into_iter().map(|r| (r.id.clone(), r)).collect();
        // States the stream brought after the table's seq are newer than
        // the table's; output columns are the table's.
        for (id, row) in &mut sessions {
            if self.state_seq.get(id).is_some_and(|s| *s > reflects)
                && let Some(newer) = self.sessions.get(id)
            {
                row.state = newer.state;
                row.reason.clone_from(&newer.reason);
                row.restarts = newer.restarts;
                row.evidence.clone_from(&newer.evidence);
                row.wait_kind = newer.wait_kind;
            }
        }
        self.sessions = sessions;
        self.table_at = std::time::Instant::now();
        if let Some(seq) = seq {
            self.seq = self.seq.max(seq);
        }
        self.reorder();
    }

    /// Applies one record of the event stream. Returns true if a session
    /// the table does not know appeared (the caller fetches the table).
    pub fn record(&mut self, record: Record) -> bool {
        self.seq = self.seq.max(record.seq);
        let Some(id) = record.session.clone() else {
            return false;
        };
        let Some(row) = self.sessions.get_mut(&id) else {
            self.remember(record);
            return true;
        };
        match &record.event {
            Event::State {
                to,
                reason,
                restarts,
                evidence,
                ..
            } => {
                if *to == SessionState::InputWait && row.state != SessionState::InputWait {
                    self.ring = self.bell;
                }
                row.state = *to;
                row.reason.clone_from(reason);
                row.restarts = *restarts;
                row.evidence.clone_from(evidence);
                row.wait_kind = None;
                self.state_seq.insert(id.clone(), record.seq);
            }
            // What it waits for, as its hooks said (also a change of it
            // while it stays in `input_wait`).
            Event::InputWait {
                kind: Some(kind),
                line,
                ..
            } => {
                row.wait_kind = Some(*kind);
                row.reason = format!("input_wait:{kind}");
                row.evidence = Some(line.clone());
            }
            Event::Hooks { state, .. } => row.hooks = Some(*state),
            Event::Spawn { pid, attempt, .. } => {
                row.pid = Some(*pid);
                row.attempt = *attempt;
            }
            Event::Exit { code, signal, .. } => {
                row.exit_code = *code;
                row.exit_signal = *signal;
                row.pid = None;
            }
            Event::Completed { payload, usage } => {
                row.payload.clone_from(payload);
                if usage.is_some() {
                    row.usage = *usage;
                }
            }
            Event::Dead { message, .. } => row.message.clone_from(message),
            Event::Health {
                out_bytes,
                err_bytes,
                ..
            } => {
                row.out_bytes = *out_bytes;
                row.err_bytes = *err_bytes;
            }
            _ => {}
        }
        self.unsorted |= matches!(record.event, Event::State { .. });
        self.remember(record);
        false
    }

    fn remember(&mut self, record: Record) {
        let Some(id) = record.session.clone() else {
            return;
        };
        let recent = self.recent.entry(id).or_default();
        if recent.iter().any(|r| r.seq == record.seq) {
            return;
        }
        recent.push_back(record);
        while recent.len() > RECENT {
            recent.pop_front();
        }
    }

    /// A session's earlier records, fetched when its detail opens.
    pub fn history(&mut self, id: &str, records: Vec<Record>) {
        let mut merged: Vec<Record> = records;
        if let Some(recent) = self.recent.remove(id) {
            merged.extend(recent);
        }
        merged.sort_by_key(|r| r.seq);
        merged.dedup_by_key(|r| r.seq);
        let start = merged.len().saturating_sub(RECENT);
        self.recent
            .insert(id.to_owned(), merged.into_iter().skip(start).collect());
    }

    /// New output of `id`, for its tail.
    pub fn output(&mut self, id: &str, bytes: &[u8]) {
        match &mut self.tail {
            Some((who, tail)) if who == id => {
                tail.extend_from_slice(bytes);
                if tail.len() > TAIL_BYTES {
                    let cut = tail.len() - TAIL_BYTES;
                    tail.drain(..cut);
                }
            }
            _ => {
                let start = bytes.len().saturating_sub(TAIL_BYTES);
                self.tail = Some((id.to_owned(), bytes[start..].to_vec()));
            }
        }
    }

    /// Makes `order` current after records changed states.
    pub fn settle(&mut self) {
        if self.unsorted {
            self.reorder();
        }
    }

    /// Sorts and filters: `input_wait` first, then `failed` and `dead`,
    /// then the rest, by id within each; the selection stays on its session.
    pub fn reorder(&mut self) {
        let filter = self.filter.to_lowercase();
        let mut order: Vec<&SessionRow> = self
            .sessions
            .values()
            .filter(|s| filter.is_empty() || matches_filter(s, &filter))
            .collect();
        order.sort_by_key(|s| rank(s.state));
        self.order = order.into_iter().map(|s| s.id.clone()).collect();
        self.unsorted = false;
        let still_shown = self
            .selected
            .as_ref()
            .is_some_and(|id| self.order.contains(id));
        if !still_shown {
            self.selected = self.order.first().cloned();
        }
    }

    /// How long ago `row`'s session was registered, now.
    pub fn age_ms(&self, row: &SessionRow) -> u64 {
        let since = u64::try_from(self.table_at.elapsed().as_millis()).unwrap_or(u64::MAX);
        row.age_ms.saturating_add(since)
    }

    /// The selected session's row.
    pub fn current(&self) -> Option<&SessionRow> {
        self.selected.as_ref().and_then(|id| self.sessions.get(id))
    }

    /// Index of the selection in `order`.
    pub fn position(&self) -> Option<usize> {
        let id = self.selected.as_ref()?;
        self.order.iter().position(|o| o == id)
    }

    /// Moves the selection by `delta` rows, clamped to the list.
    pub fn step(&mut self, delta: isize) {
        if self.order.is_empty() {
            self.selected = None;
            return;
        }
        let at = self.position().unwrap_or(0) as isize;
        let to = (at + delta).clamp(0, self.order.len() as isize - 1) as usize;
        self.selected = Some(self.order[to].clone());
    }

    /// How many sessions are in each state (over all sessions, filtered or
    /// not), in the order of the state table, states with none left out.
    pub fn counts(&self) -> Vec<(SessionState, usize)> {
        SessionState::ALL
            .into_iter()
            .map(|state| {
                let n = self.sessions.values().filter(|s| s.state == state).count();
                (state, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Display rank: what needs a person first.
pub fn rank(state: SessionState) -> u8 {
    match state {
        SessionState::InputWait => 0,
        SessionState::Failed | SessionState::Dead => 1,
        _ => 2,
    }
}

fn matches_filter(s: &SessionRow, filter: &str) -> bool {
    s.id.to_lowercase().contains(filter)
        || s.agent.to_lowercase().contains(filter)
        || s.state.as_str().contains(filter)
        || s.capabilities
            .iter()
            .any(|c| c.to_lowercase().contains(filter))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn row(id: &str, state: SessionState) -> SessionRow {
        SessionRow {
            id: id.into(),
            agent: "command".into(),
            host: "local".into(),
            state,
            reason: "r".into(),
            restarts: 0,
            attempt: 1,
            pid: Some(100),
            age_ms: 65_000,
            last_line: Some(format!("{id} working")),
            out_bytes: 2048,
            err_bytes: 0,
            exit_code: None,
            exit_signal: None,
            payload: None,
            message: None,
            capabilities: vec!["review".into()],
            account: None,
            backend: "pipes".into(),
            evidence: None,
            worktree: None,
            usage: None,
            wait_kind: None,
            hooks: None,
        }
    }

    fn state_record(seq: u64, id: &str, from: SessionState, to: SessionState) -> Record {
        Record {
            seq,
            ts: "2026-12-04T01:02:03.000000Z".into(),
            session: Some(id.into()),
            event: Event::State {
                from,
                to,
                reason: format!("to_{to}"),
                restarts: 0,
                delay_ms: None,
                evidence: (to == SessionState::InputWait).then(|| "Proceed? [y/N]".into()),
            },
        }
    }

    #[test]
    fn what_needs_a_person_comes_first_and_the_selection_follows_its_session() {
        use SessionState::*;
        let mut m = Model::new();
        m.table(
            vec![
                row("a", Healthy),
                row("b", Dead),
                row("c", Healthy),
                row("d", InputWait),
            ],
            Some(7),
        );
        assert_eq!(m.order, ["d", "b", "a", "c"]);
        assert_eq!(m.selected.as_deref(), Some("d"));
        m.step(2);
        assert_eq!(m.selected.as_deref(), Some("a"));
        // c starts asking: it moves up, a stays selected, the bell is due.
        assert!(!m.record(state_record(8, "c", Healthy, InputWait)));
        m.settle();
        assert_eq!(m.order, ["c", "d", "b", "a"]);
        assert_eq!(m.selected.as_deref(), Some("a"));
        assert!(m.ring);
        assert_eq!(m.sessions["c"].evidence.as_deref(), Some("Proceed? [y/N]"));
        assert_eq!(m.seq, 8);
        // A session the table does not know asks for a fresh table.
        assert!(m.record(state_record(9, "new", Init, Starting)));
        m.step(-10);
        assert_eq!(m.selected.as_deref(), Some("c"));
        m.step(10);
        assert_eq!(m.selected.as_deref(), Some("a"));
    }

    #[test]
    fn a_table_taken_before_a_state_record_does_not_undo_it() {
        use SessionState::*;
        let mut m = Model::new();
        m.table(vec![row("a", Healthy)], Some(10));
        m.record(state_record(12, "a", Healthy, InputWait));
        // A table reflecting only up to seq 11: its state is older.
        let mut stale = row("a", Healthy);
        stale.out_bytes = 9999;
        m.table(vec![stale], Some(11));
        assert_eq!(m.sessions["a"].state, InputWait);
        assert_eq!(m.sessions["a"].out_bytes, 9999);
        // A table that reflects the record is taken whole.
        m.table(vec![row("a", Completed)], Some(13));
        assert_eq!(m.sessions["a"].state, Completed);
    }

    #[test]
    fn the_filter_matches_id_agent_state_or_capability() {
        use SessionState::*;
        let mut m = Model::new();
        let mut tagged = row("x", Healthy);
        tagged.capabilities = vec!["Rust".into()];
        m.table(vec![row("alpha", Healthy), row("beta", Dead), tagged], None);
        for (filter, want) in [
            ("alp", vec!["alpha"]),
            ("dead", vec!["beta"]),
            ("rust", vec!["x"]),
            ("command", vec!["beta", "alpha", "x"]),
            ("", vec!["beta", "alpha", "x"]),
            ("zzz", vec![]),
        ] {
            m.filter = filter.into();
            m.reorder();
            assert_eq!(m.order, want, "filter {filter:?}");
        }
        assert_eq!(m.selected, None);
    }

    #[test]
    fn the_tail_keeps_the_end_of_one_sessions_output() {
        let mut m = Model::new();
        m.output("a", b"one\n");
        m.output("a", &vec![b'x'; TAIL_BYTES]);
        let (who, tail) = m.tail.as_ref().unwrap();
        assert_eq!((who.as_str(), tail.len()), ("a", TAIL_BYTES));
        m.output("b", b"fresh\n");
        assert_eq!(m.tail.as_ref().unwrap().1, b"fresh\n");
    }
}
