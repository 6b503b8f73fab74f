//! The session table rebuilt from an event log alone (`baton replay`).
//!
//! Only records are used, in file order; a log that several conductors
//! appended to gives each session's latest life. Records of kinds this
//! version does not know were already set aside by the reader.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::eventlog::{Event, Record};
use crate::state::SessionState;

/// One session as the log tells it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayedSession {
    /// Session id.
    pub id: String,
    /// Agent kind, from the last `spawn` (None for logs before format 1.1).
    pub agent: Option<String>,
    /// Last state recorded.
    pub state: SessionState,
    /// Reason of the last transition.
    pub reason: String,
    /// Restart count after the last transition.
    pub restarts: u32,
    /// Runs started.
    pub attempts: u32,
    /// Leader pid of the last run.
    pub pid: Option<u32>,
    /// Exit code of the last run.
    pub exit_code: Option<i32>,
    /// Signal that ended the last run.
    pub exit_signal: Option<i32>,
    /// Time of the session's first record.
    pub first_ts: String,
    /// Time of its last record.
    pub last_ts: String,
    /// Completion payload, when it completed with one.
    pub payload: Option<serde_json::Value>,
    /// What its agent CLI reported it used, when it completed (logs from 1.5 on).
    pub usage: Option<baton_proto::Usage>,
    /// Message of a dead session (what is missing, budget exhausted…).
    pub message: Option<String>,
    /// Account of the last lease, if any.
    pub account: Option<String>,
    /// Last input-wait evidence, while the last state is `input_wait`.
    pub waiting_on: Option<String>,
    /// The evidence of the last transition.
    pub evidence: Option<String>,
    /// The inventory host of the last run (None: this machine).
    pub host: Option<String>,
    /// The backend of the last run (logs from 1.4 on).
    pub backend: Option<String>,
    /// Capability tags (logs from 1.4 on).
    pub capabilities: Vec<String>,
}

/// Rebuilds every session's row from `records`, sorted by id.
pub fn session_table(records: &[Record]) -> Vec<ReplayedSession> {
    let mut table: BTreeMap<String, ReplayedSession> = BTreeMap::new();
    for record in records {
        let Some(id) = &record.session else {
            continue;
        };
        let row = table.entry(id.clone()).or_insert_with(|| ReplayedSession {
            id: id.clone(),
            agent: None,
            state: SessionState::Init,
            reason: "registered".into(),
            restarts: 0,
            attempts: 0,
            pid: None,
            exit_code: None,
            exit_signal: None,
            first_ts: record.ts.clone(),
            last_ts: record.ts.clone(),
            payload: None,
            usage: None,
            message: None,
            account: None,
            waiting_on: None,
            evidence: None,
            host: None,
            backend: None,
            capabilities: Vec::new(),
        });
        row.last_ts = record.ts.clone();
        match &record.event {
            Event::State {
                to,
                reason,
                restarts,
                evidence,
                ..
            } => {
                if *to == SessionState::Starting && row.state.is_terminal() {
                    // The id was used again by a later conductor: a new life.
                    row.payload = None;
                    row.usage = None;
                    row.message = None;
                    row.exit_code = None;
                    row.exit_signal = None;
                }
                row.state = *to;
                row.reason = reason.clone();
                row.restarts = *restarts;
                row.evidence.clone_from(evidence);
                if *to != SessionState::InputWait {
                    row.waiting_on = None;
                }
            }
            Event::Spawn {
                agent,
                attempt,
                pid,
                host,
                backend,
                capabilities,
                ..
            } => {
                if agent.is_some() {
                    row.agent = agent.clone();
                }
                row.host.clone_from(host);
                if backend.is_some() {
                    row.backend.clone_from(backend);
                    row.capabilities.clone_from(capabilities);
                }
                row.attempts = *attempt;
                row.pid = Some(*pid);
            }
            Event::Exit { code, signal, .. } => {
                row.exit_code = *code;
                row.exit_signal = *signal;
            }
            Event::TurnEnded {
                usage: Some(used), ..
            } => row.usage = Some(row.usage.unwrap_or_default().plus(*used)),
            Event::Completed { payload, usage } => {
                row.payload = payload.clone();
                row.usage = *usage;
            }
            Event::Dead { message, .. } => row.message = message.clone(),
            Event::SpawnError { message, .. } => row.message = Some(message.clone()),
            Event::Lease { account, .. } => row.account = Some(account.clone()),
            Event::InputWait { line, .. } => row.waiting_on = Some(line.clone()),
            _ => {}
        }
    }
    table.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlog::parse_log;
    use std::path::Path;

    #[test]
    fn rebuilds_state_restarts_and_payload_and_skips_a_torn_line() {
        let text = concat!(
            r#"{"format":"baton-events","version":"1.1","created":"t"}"#,
            "\n",
            r#"{"seq":1,"ts":"t1","session":"a","event":"state","from":"init","to":"starting","reason":"spawn","restarts":0}"#,
            "\n",
            r#"{"seq":2,"ts":"t2","session":"a","event":"spawn","agent":"codex","restart":0,"attempt":1,"pid":42,"argv":["codex"],"workdir":"/w","env_keys":[],"out_offset":0,"err_offset":0}"#,
            "\n",
            r#"{"seq":3,"ts":"t3","session":"a","event":"state","from":"starting","to":"failed","reason":"crash","restarts":0}"#,
            "\n",
            r#"{"seq":4,"ts":"t4","session":"a","event":"state","from":"failed","to":"restarting","reason":"crash","restarts":1,"delay_ms":1000}"#,
            "\n",
            r#"{"seq":5,"ts":"t5","session":"b","event":"completed","payload":{"ok":true}}"#,
            "\n",
            r#"{"seq":6,"ts":"t6","session":"b","event":"state","from":"healthy","to":"completed","reason":"exit_0","restarts":0}"#,
            "\n",
            r#"{"seq":7,"ts":"t7","session":"a","event":"sta"#,
        );
        let log = parse_log(text.as_bytes(), Path::new("x")).unwrap();
        let table = session_table(&log.records);
        assert_eq!(table.len(), 2);
        let a = &table[0];
        assert_eq!(
            (a.state, a.restarts, a.attempts, a.pid),
            (SessionState::Restarting, 1, 1, Some(42))
        );
        assert_eq!(a.agent.as_deref(), Some("codex"));
        assert_eq!((a.first_ts.as_str(), a.last_ts.as_str()), ("t1", "t4"));
        let b = &table[1];
        assert_eq!(b.state, SessionState::Completed);
        assert_eq!(b.payload, Some(serde_json::json!({"ok": true})));
    }

    #[test]
    fn usage_is_the_sum_of_the_turns_until_the_id_lives_again() {
        let text = concat!(
            r#"{"format":"baton-events","version":"1.6","created":"t"}"#,
            "\n",
            r#"{"seq":1,"ts":"t1","session":"a","event":"state","from":"init","to":"starting","reason":"spawn","restarts":0}"#,
            "\n",
            r#"{"seq":2,"ts":"t2","session":"a","event":"turn_ended","usage":{"input_tokens":10,"output_tokens":5,"cached_tokens":1},"error":"overloaded"}"#,
            "\n",
            r#"{"seq":3,"ts":"t3","session":"a","event":"tool","name":"Bash"}"#,
            "\n",
            r#"{"seq":4,"ts":"t4","session":"a","event":"turn_ended","usage":{"input_tokens":100,"output_tokens":50,"cached_tokens":0,"cost_usd":0.5}}"#,
            "\n",
        );
        let log = parse_log(text.as_bytes(), Path::new("x")).unwrap();
        let usage = session_table(&log.records)[0].usage.unwrap();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens, usage.cached_tokens),
            (110, 55, 1)
        );
        assert_eq!(usage.cost_usd, Some(0.5));
        // Ended, then spawned again: a new life uses nothing yet.
        let more = concat!(
            r#"{"seq":5,"ts":"t5","session":"a","event":"state","from":"healthy","to":"completed","reason":"exit_0","restarts":0}"#,
            "\n",
            r#"{"seq":6,"ts":"t6","session":"a","event":"state","from":"completed","to":"starting","reason":"spawn","restarts":0}"#,
            "\n",
        );
        let log = parse_log(format!("{text}{more}").as_bytes(), Path::new("x")).unwrap();
        assert_eq!(session_table(&log.records)[0].usage, None);
    }
}
