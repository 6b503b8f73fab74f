//! The session table as `ps` shows it, kept between requests.
//!
//! With a thousand sessions, building every row anew and encoding it again
//! for each `ps` cost the conductor more than everything else the request
//! does. Each row is kept with its JSON; a request compares the row's
//! fields with its session's now (no allocation for a session that did not
//! change) and encodes again only the rows that changed. The age, which
//! changes with the clock, is written into a kept row as it is read.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Instant, SystemTime};

use baton_config::{SessionId, SessionSpec};

use crate::conductor::SessionRow;
use crate::state::SessionState;

use super::Entry;

/// The rows `ps` showed of sessions an earlier conductor saw end (a live
/// session keeps its own, [`Entry::shown`]).
#[derive(Default)]
pub(super) struct Table {
    ended: HashMap<SessionId, Kept>,
    /// The length of the last table encoded: the next one's first guess.
    last_len: usize,
}

/// One row as last shown.
pub(super) struct Kept {
    /// The spec its fixed fields came from (`None`: a session an earlier
    /// conductor saw end, whose row never changes).
    spec: Option<Arc<SessionSpec>>,
    /// The row, its age 0: the age is the clock's.
    row: SessionRow,
    /// Its JSON, once asked for since it last changed.
    json: Option<Encoded>,
}

/// A row's JSON with its age 0, and where that `0` stands (`None` were
/// it not found: the row is then encoded whole each time).
struct Encoded {
    bytes: Vec<u8>,
    age_at: Option<usize>,
}

/// What comes right before a row's age in its JSON. Its first occurrence
/// is the row's own: only strings and numbers come before it, and a quote
/// inside a string is escaped (a payload after it may hold the same key).
const AGE_KEY: &[u8] = br#","age_ms":"#;

impl Table {
    /// The rows of `sessions` and of `ended` (less those also in
    /// `sessions`), by id, each with its age now.
    pub(super) fn rows(
        &mut self,
        sessions: &mut BTreeMap<SessionId, Entry>,
        ended: &BTreeMap<SessionId, SessionRow>,
        epoch: Instant,
    ) -> Vec<SessionRow> {
        let mut rows = Vec::with_capacity(sessions.len() + ended.len());
        self.each(sessions, ended, epoch, |kept, age| {
            let mut row = kept.row.clone();
            row.age_ms = age;
            rows.push(row);
        });
        rows
    }

    /// The JSON array of the rows [`Table::rows`] lists, only those of
    /// live sessions that declared `capability` when one is given — as
    /// `serde_json` writes a `Vec<SessionRow>`.
    pub(super) fn json(
        &mut self,
        sessions: &mut BTreeMap<SessionId, Entry>,
        ended: &BTreeMap<SessionId, SessionRow>,
        epoch: Instant,
        capability: Option<&str>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.last_len + self.last_len / 8);
        out.push(b'[');
        self.each(sessions, ended, epoch, |kept, age| {
            if let Some(capability) = capability
                && (kept.row.state.is_terminal()
                    || !kept.row.capabilities.iter().any(|c| c == capability))
            {
                return;
            }
            if out.len() > 1 {
                out.push(b',');
            }
            let encoded = kept.json.get_or_insert_with(|| encode(&kept.row));
            match encoded.age_at {
                Some(at) => {
                    out.extend_from_slice(&encoded.bytes[..at]);
                    // A number always encodes, into a `Vec` that cannot fail.
                    let _ = serde_json::to_writer(&mut out, &age);
                    out.extend_from_slice(&encoded.bytes[at + 1..]);
                }
                None => {
                    let row = SessionRow {
                        age_ms: age,
                        ..kept.row.clone()
                    };
                    let _ = serde_json::to_writer(&mut out, &row);
                }
            }
        });
        out.push(b']');
        self.last_len = out.len();
        out
    }

    /// Calls `f` with each row brought up to date and its age, in id
    /// order.
    fn each(
        &mut self,
        sessions: &mut BTreeMap<SessionId, Entry>,
        ended: &BTreeMap<SessionId, SessionRow>,
        epoch: Instant,
        mut f: impl FnMut(&mut Kept, u64),
    ) {
        let now = SystemTime::now();
        let since_epoch = epoch.elapsed().as_millis() as u64;
        let mut ended = ended.iter().peekable();
        let mut live = sessions.iter_mut().peekable();
        loop {
            let next = match (live.peek(), ended.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some((a, _)), Some((b, _))) => (*a).cmp(*b),
            };
            if next == Ordering::Equal {
                // A live session of the same id is the one shown.
                ended.next();
                continue;
            }
            if next == Ordering::Greater {
                let Some((id, row)) = ended.next() else { break };
                if !self.ended.contains_key(id) {
                    let kept = Kept {
                        spec: None,
                        row: SessionRow {
                            age_ms: 0,
                            ..row.clone()
                        },
                        json: None,
                    };
                    self.ended.insert(id.clone(), kept);
                }
                if let Some(kept) = self.ended.get_mut(id) {
                    f(kept, row.age_ms + since_epoch);
                }
            } else {
                let Some((id, e)) = live.next() else { break };
                let age = now
                    .duration_since(e.created)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0);
                // Kept in the entry itself: no lookup, and the row is
                // read beside the fields it is compared with.
                let mut kept = match e.shown.take() {
                    Some(kept) => kept,
                    None => Box::new(Kept {
                        spec: Some(e.spec.clone()),
                        row: fixed_row(id, e),
                        json: None,
                    }),
                };
                kept.refresh(id, e);
                f(&mut kept, age);
                e.shown = Some(kept);
            }
        }
    }
}

impl Kept {
    /// Brings a live session's row up to date.
    fn refresh(&mut self, id: &SessionId, e: &Entry) {
        if !self.spec.as_ref().is_some_and(|s| Arc::ptr_eq(s, &e.spec)) {
            self.row = fixed_row(id, e);
            self.spec = Some(e.spec.clone());
            self.json = None;
        }
        if refresh(&mut self.row, e) {
            self.json = None;
        }
    }
}

/// A session's row built afresh (its age 0): what its spec fixes, and the
/// rest set by [`refresh`].
pub(super) fn fixed_row(id: &SessionId, e: &Entry) -> SessionRow {
    let mut row = SessionRow {
        id: id.to_string(),
        agent: e.spec.agent.to_string(),
        host: String::new(),
        state: e.state,
        reason: String::new(),
        restarts: 0,
        attempt: 0,
        pid: None,
        age_ms: 0,
        last_line: None,
        out_bytes: 0,
        err_bytes: 0,
        exit_code: None,
        exit_signal: None,
        payload: None,
        message: None,
        capabilities: e.spec.capabilities.clone(),
        account: None,
        backend: e.spec.backend.to_string(),
        evidence: None,
        worktree: None,
        usage: None,
        wait_kind: None,
        hooks: None,
    };
    refresh(&mut row, e);
    row
}

/// Sets every field of `row` a session's life changes to what `e` holds
/// now, allocating only for what differs; whether anything did.
fn refresh(row: &mut SessionRow, e: &Entry) -> bool {
    // `|=` evaluates both sides: every field is brought up to date.
    let mut changed = set(&mut row.state, e.state);
    changed |= set_str(&mut row.host, e.host.as_deref().unwrap_or("local"));
    changed |= set_str(&mut row.reason, &e.reason);
    changed |= set(&mut row.restarts, e.restarts);
    changed |= set(&mut row.attempt, e.attempt);
    changed |= set(&mut row.pid, e.pid);
    changed |= set(&mut row.out_bytes, e.shared.out_bytes.load(Relaxed));
    changed |= set(&mut row.err_bytes, e.shared.err_bytes.load(Relaxed));
    changed |= e
        .shared
        .with_last_line(|line| set_opt_str(&mut row.last_line, line))
        .unwrap_or(false);
    changed |= set(&mut row.exit_code, e.exit.and_then(|s| s.code));
    changed |= set(&mut row.exit_signal, e.exit.and_then(|s| s.signal));
    changed |= set_clone(&mut row.payload, &e.payload);
    changed |= set_opt_str(&mut row.message, e.message.as_deref());
    let account = e.lease.as_ref().map(|l| l.account.as_str());
    changed |= set_opt_str(&mut row.account, account);
    changed |= set_opt_str(&mut row.evidence, e.evidence.as_deref());
    changed |= set_clone(&mut row.worktree, &e.worktree_view);
    changed |= set(&mut row.usage, e.usage);
    let waiting = e.state == SessionState::InputWait;
    changed |= set(&mut row.wait_kind, e.wait_kind.filter(|_| waiting));
    changed |= set(&mut row.hooks, e.hooks);
    changed
}

fn set<T: PartialEq>(slot: &mut T, now: T) -> bool {
    let changed = *slot != now;
    if changed {
        *slot = now;
    }
    changed
}

fn set_clone<T: PartialEq + Clone>(slot: &mut T, now: &T) -> bool {
    let changed = slot != now;
    if changed {
        slot.clone_from(now);
    }
    changed
}

fn set_str(slot: &mut String, now: &str) -> bool {
    let changed = slot != now;
    if changed {
        now.clone_into(slot);
    }
    changed
}

fn set_opt_str(slot: &mut Option<String>, now: Option<&str>) -> bool {
    let changed = slot.as_deref() != now;
    if changed {
        *slot = now.map(str::to_owned);
    }
    changed
}

/// `row`'s JSON (its age 0) and where the age's digit stands.
fn encode(row: &SessionRow) -> Encoded {
    // A row of strings, numbers and JSON values always encodes.
    let bytes = serde_json::to_vec(row).unwrap_or_default();
    let age_at = memchr::memmem::find(&bytes, AGE_KEY)
        .map(|at| at + AGE_KEY.len())
        .filter(|&at| bytes.get(at) == Some(&b'0'));
    Encoded { bytes, age_at }
}
