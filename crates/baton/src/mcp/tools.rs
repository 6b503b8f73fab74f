//! The tools: each maps one MCP call onto daemon requests.
//!
//! Every result carries structured content (matching the tool's output
//! schema) and a short text rendering; every failure is a tool error whose
//! text names the field or session and what to do, never a protocol error.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baton_proto::record::{Event, Record};
use baton_proto::request::{Events, Kill, Logs, SendInput, Spawn, Via};
use baton_proto::response::ErrorKind;
use baton_proto::{HooksState, Request, Response, SessionRow, SessionState, SpawnSpec};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;

use super::schema::{lean_input_schema, lean_output_schema};
use super::types::*;
use crate::link::{CallError, DaemonLink, Exchange, unexpected};
use crate::render::{describe_record, truncate};

/// The tools that change something; `--read-only` leaves them out.
pub const CONTROL_TOOLS: &[&str] = &["spawn", "send", "kill"];

/// Every tool.
pub const ALL_TOOLS: &[&str] = &[
    "spawn", "list", "status", "logs", "send", "kill", "wait", "events", "accounts",
];

const DEFAULT_LOG_PAGE: u64 = 32 * 1024;
const MAX_LOG_PAGE: u64 = 1024 * 1024;
/// A page smaller than this could never hold a whole UTF-8 character.
const MIN_LOG_PAGE: u64 = 16;
const DEFAULT_CONFIRM: f64 = 3.0;
const MAX_CONFIRM: f64 = 60.0;
const DEFAULT_EVENTS: u32 = 100;
const MAX_EVENTS: u32 = 1000;
/// How long the `input` record may take to reach a `send` after the daemon
/// said it was written (it is on disk before that answer).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server tells the lead at `initialize`.
const INSTRUCTIONS: &str = "baton runs worker agent sessions (codex, gemini, claude or any command) under supervision and records everything. \
Typical loop: spawn workers; wait (it blocks until one needs you or ends; pass the returned seq as since_seq next time); \
on input_wait read `evidence` (the question) and answer with send; on completed read `payload` and logs; on dead read `message` and logs. \
A session's state is never a guess: each carries the evidence it was judged by.";

/// The MCP server: a handle on the daemon and the tools this process exposes.
#[derive(Clone)]
pub struct Baton {
    pub(super) link: Arc<DaemonLink>,
    /// Relative `workdir`s are resolved against this.
    cwd: PathBuf,
    tool_router: ToolRouter<Baton>,
}

/// A tool's result, or the text of its tool error.
pub(super) type Outcome = Result<CallToolResult, String>;

/// A successful result: `out` as structured content, `text` for people.
pub(super) fn reply<T: Serialize>(out: &T, text: String) -> Outcome {
    let value = serde_json::to_value(out).map_err(|e| format!("cannot encode the result: {e}"))?;
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    Ok(result)
}

/// Turns an outcome into what the client gets: an error becomes a tool error.
/// One page of a session's log, as the `logs` tool (and `baton web`'s
/// logs API) gives it.
pub(crate) async fn logs_page(link: &DaemonLink, input: LogsIn) -> Result<LogsOut, String> {
    let stream = input.stream.unwrap_or_default();
    let max = input
        .max_bytes
        .unwrap_or(DEFAULT_LOG_PAGE)
        .clamp(MIN_LOG_PAGE, MAX_LOG_PAGE);
    let by_tail = input.offset.is_none() && input.tail_bytes.is_some();
    let request = Request::Logs(Logs {
        id: input.id.clone(),
        stderr: stream == Stream::Stderr,
        offset: Some(input.offset.unwrap_or(0)).filter(|_| !by_tail),
        tail_bytes: input.tail_bytes.filter(|_| by_tail),
        max_bytes: Some(max),
        ..Logs::default()
    });
    let mut exchange = link.open(&request).await.map_err(failed)?;
    let mut start: Option<u64> = None;
    let mut bytes = Vec::new();
    let mut deleted = 0;
    let log_len = loop {
        match exchange.next().await.map_err(failed)? {
            Response::Skipped(skipped) if start.is_none() => deleted += skipped.bytes,
            Response::LogChunk(chunk) => {
                let data = chunk
                    .bytes()
                    .map_err(|e| format!("the daemon sent a bad log chunk: {e}"))?;
                start.get_or_insert(chunk.offset);
                bytes.extend_from_slice(&data);
            }
            Response::EndOfStream(end) => break end.log_len.unwrap_or(0),
            other => return Err(unexpected(&other).message()),
        }
    };
    let mut offset = start.unwrap_or_else(|| match (by_tail, input.offset) {
        (true, _) => log_len.saturating_sub(input.tail_bytes.unwrap_or(0)),
        // Past the end: nothing yet; the same offset is still the next.
        (false, offset) => offset.unwrap_or(0) + deleted,
    });
    if by_tail {
        // A tail may begin inside a character: start at the next one.
        let cut = bytes
            .iter()
            .take(3)
            .take_while(|b| (**b & 0xC0) == 0x80)
            .count();
        bytes.drain(..cut);
        offset += cut as u64;
    }
    let page = Page::new(bytes);
    let next_offset = offset + page.len;
    let out = LogsOut {
        id: input.id.clone(),
        stream,
        offset,
        next_offset,
        log_len,
        deleted_bytes: Some(deleted).filter(|d| *d > 0),
        more: next_offset < log_len,
        text: page.text,
        base64: page.base64,
    };
    Ok(out)
}

/// Sends one line to a session and waits for its receipt (the `input`
/// record) and for it to go on, as the `send` tool does for `via`.
pub(crate) async fn send_input(
    link: &DaemonLink,
    input: SendIn,
    via: Via,
) -> Result<SendOut, String> {
    if input.text.contains(['\n', '\r', '\0']) {
        return Err(
            "`text` must be one line, without newline, carriage return or NUL; nothing was sent"
                .into(),
        );
    }
    let force = input.force.unwrap_or(false);
    let confirm = seconds("confirm_s", input.confirm_s, DEFAULT_CONFIRM, MAX_CONFIRM)?;
    let (before, seq) = row(link, &input.id).await?;
    if before.state.is_terminal() {
        return Err(format!(
            "session `{}` is {} ({}): it runs no more, so nothing was sent",
            before.id, before.state, before.reason
        ));
    }
    if !force && before.state != SessionState::InputWait {
        return Err(format!(
            "session `{}` is {} ({}), not input_wait: nothing was sent. Wait for input_wait, or pass force=true to type into it anyway",
            before.id, before.state, before.reason
        ));
    }
    // Watch the session's records from before the send: the receipt is
    // the `input` record it causes.
    let mut watch = link
        .open(&Request::Events(Events {
            session: Some(input.id.clone()),
            since: Some(seq),
            follow: true,
        }))
        .await
        .map_err(failed)?;
    // The record is told from another client's input by the bytes'
    // hash: the daemon writes the text and a newline.
    let sha256 = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(input.text.as_bytes());
        hasher.update(b"\n");
        format!("{:x}", hasher.finalize())
    };
    let request = Request::Send(SendInput {
        id: input.id.clone(),
        text: input.text,
        if_waiting: !force,
        via,
    });
    match link.call(&request).await {
        Ok(Response::Done(_)) => {}
        Ok(other) => return Err(unexpected(&other).message()),
        Err(e) if e.kind() == Some(ErrorKind::NotWaiting) => {
            return Err(format!(
                "{}: nothing was sent (it changed state just now); check `status`",
                e.message()
            ));
        }
        Err(e) => return Err(failed(e)),
    }
    let receipt = tokio::time::timeout(RECEIPT_TIMEOUT, async {
        loop {
            let record = next_record(&mut watch).await?;
            if let Event::Input {
                source,
                sha256: sent,
                ..
            } = &record.event
                && source == via.as_str()
                && *sent == sha256
            {
                return Ok(record.seq);
            }
        }
    })
    .await;
    let input_seq = match receipt {
        Ok(Ok(seq)) => seq,
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(format!(
                "the daemon wrote the input to `{}` but its `input` record did not arrive within {} s; check `events`",
                input.id,
                RECEIPT_TIMEOUT.as_secs()
            ));
        }
    };
    // Did it go on? A state change out of input_wait says so at once
    // (for an agent whose hooks report, theirs: a prompt submitted, a
    // tool run); otherwise new output within the window does.
    let hooked = before.hooks == Some(HooksState::Reporting);
    let moved = tokio::time::timeout(confirm, async {
        loop {
            let record = next_record(&mut watch).await?;
            if let Event::State {
                from, to, reason, ..
            } = record.event
                && from != to
            {
                let progressed = matches!(to, SessionState::Healthy | SessionState::Completed);
                let by_hook = matches!(
                    reason.as_str(),
                    "prompt_submitted" | "tool_started" | "tool_done"
                );
                return Ok::<_, String>((progressed, by_hook));
            }
        }
    })
    .await;
    drop(watch);
    let (after, _) = row(link, &input.id).await?;
    let grew = after.out_bytes + after.err_bytes > before.out_bytes + before.err_bytes;
    let resumed = match moved {
        Ok(Ok((progressed, _))) => progressed || grew,
        _ => grew,
    };
    let turn_started = hooked.then_some(matches!(moved, Ok(Ok((_, true)))));
    let out = SendOut {
        id: after.id.clone(),
        seq: input_seq,
        resumed,
        turn_started,
        state: after.state.into(),
        reason: after.reason.clone(),
    };
    Ok(out)
}

/// The row of session `id` and the table's `seq`.
pub(crate) async fn row(link: &DaemonLink, id: &str) -> Result<(SessionRow, u64), String> {
    let table = link.ps().await.map_err(failed)?;
    let seq = table.seq.unwrap_or(0);
    table
        .sessions
        .into_iter()
        .find(|s| s.id == id)
        .map(|row| (row, seq))
        .ok_or_else(|| no_session(id))
}

fn finish(outcome: Outcome) -> CallToolResult {
    outcome.unwrap_or_else(|text| CallToolResult::error(vec![ContentBlock::text(text)]))
}

/// The text of a failed daemon call, with what to do about it.
pub(super) fn failed(e: CallError) -> String {
    match e.kind() {
        Some(ErrorKind::UnknownSession) => {
            format!("{}; `list` shows the sessions there are", e.message())
        }
        Some(ErrorKind::BadRequest) => format!("{}; nothing was started or changed", e.message()),
        _ => e.message(),
    }
}

pub(super) fn no_session(id: &str) -> String {
    format!(
        "no session with id `{}`; `list` shows the sessions there are",
        id.escape_debug()
    )
}

/// Clamps an optional number of seconds into `[0, max]`, refusing nonsense.
pub(super) fn seconds(
    field: &str,
    value: Option<f64>,
    default: f64,
    max: f64,
) -> Result<Duration, String> {
    let s = value.unwrap_or(default);
    if !s.is_finite() || s < 0.0 {
        return Err(format!(
            "`{field}` must be a number of seconds from 0 to {max}, not {s}"
        ));
    }
    Ok(Duration::from_secs_f64(s.min(max)))
}

/// The arguments of a `spawn` call as a session table; what does not read
/// is an error naming its key (serde's own message names the value only).
fn session_table(args: rmcp::model::JsonObject) -> Result<SpawnSpec, String> {
    serde_json::from_value(serde_json::Value::Object(args.clone())).map_err(|e| {
        let culprit = args.iter().find(|(key, value)| {
            let alone = serde_json::json!({ key.as_str(): value });
            serde_json::from_value::<SpawnSpec>(alone).is_err()
        });
        match culprit {
            Some((key, _)) => format!("`{}`: {e}", key.escape_debug()),
            None => e.to_string(),
        }
    })
}

impl Baton {
    /// The session of a `spawn` call as the daemon gets it: a local
    /// session's workdir is made absolute against `baton mcp`'s own
    /// directory (the default); everything else is the daemon's to check.
    fn spec(&self, mut spec: SpawnSpec) -> SpawnSpec {
        let (host, workdir) = crate::client::spawn::placement(
            spec.host.take(),
            spec.workdir.take().map(PathBuf::from),
            &self.cwd,
        );
        spec.host = host;
        spec.workdir = workdir.map(|w| w.to_string_lossy().into_owned());
        spec
    }

    /// One session's row, or the tool error for an unknown id.
    async fn row(&self, id: &str) -> Result<(SessionRow, u64), String> {
        row(&self.link, id).await
    }

    async fn do_spawn(&self, input: SpawnSpec) -> Outcome {
        let request = Request::Spawn(Box::new(Spawn {
            spec: self.spec(input),
            origin: None,
            via: Via::Mcp,
        }));
        let id = match self.link.call(&request).await.map_err(failed)? {
            Response::Spawned(spawned) => spawned.id,
            other => return Err(unexpected(&other).message()),
        };
        let (row, _) = self.row(&id).await?;
        let out = Brief {
            id: row.id.clone(),
            state: row.state.into(),
            reason: row.reason.clone(),
        };
        reply(&out, format!("spawned `{}`: {}", row.id, row.state))
    }

    async fn do_list(&self, input: ListIn) -> Outcome {
        let table = self.link.ps().await.map_err(failed)?;
        let states: Option<HashSet<SessionState>> = input
            .state
            .map(|s| s.into_iter().map(SessionState::from).collect());
        let rows: Vec<Row> = table
            .sessions
            .iter()
            .filter(|s| states.as_ref().is_none_or(|set| set.contains(&s.state)))
            .filter(|s| {
                input.capability.as_deref().is_none_or(|cap| {
                    !s.state.is_terminal() && s.capabilities.iter().any(|c| c == cap)
                })
            })
            .map(Row::from)
            .collect();
        let mut counts = BTreeMap::new();
        for row in &rows {
            *counts
                .entry(SessionState::from(row.state).as_str().to_owned())
                .or_insert(0) += 1;
        }
        let text = list_text(&rows, &counts);
        let out = ListOut {
            sessions: rows,
            counts,
            seq: table.seq.unwrap_or(0),
        };
        reply(&out, text)
    }

    async fn do_status(&self, input: IdIn) -> Outcome {
        let (row, _) = self.row(&input.id).await?;
        let out = StatusOut::from(&row);
        let mut text = format!(
            "{} ({}, {}): {} ({})",
            row.id, row.agent, row.host, row.state, row.reason
        );
        if let Some(evidence) = &row.evidence {
            text.push_str(&format!(" — {}", truncate(evidence, 200)));
        }
        text.push_str(&format!("\nnext: {}", out.next));
        if let Some(payload) = &row.payload {
            text.push_str(&format!(
                "\npayload: {}",
                truncate(&payload.to_string(), 500)
            ));
        }
        if let Some(message) = &row.message {
            text.push_str(&format!("\nmessage: {message}"));
        }
        if let Some(wt) = &row.worktree {
            text.push_str(&format!(
                "\nworktree: {} on branch {} ({}",
                wt.path, wt.branch, wt.state
            ));
            if let Some(reason) = &wt.reason {
                text.push_str(&format!(": {reason}"));
            }
            text.push(')');
            if let Some(end) = &wt.end {
                text.push_str(&format!("; {}", crate::render::work_done(end)));
            }
        }
        reply(&out, text)
    }

    async fn do_logs(&self, input: LogsIn) -> Outcome {
        let out = logs_page(&self.link, input).await?;
        let (offset, next_offset, log_len) = (out.offset, out.next_offset, out.log_len);
        let deleted = out.deleted_bytes.unwrap_or(0);
        let mut text = out.text.clone().unwrap_or_else(|| {
            format!(
                "({} bytes that are not UTF-8; see `base64`)",
                next_offset - offset
            )
        });
        if deleted > 0 {
            text.insert_str(
                0,
                &format!(
                    "[baton: the {deleted} bytes before offset {offset} are gone: the log segments that held them were deleted (keep_segments)]\n"
                ),
            );
        }
        if out.more {
            text.push_str(&format!(
                "\n[baton: bytes {offset}..{next_offset} of {log_len}; next offset {next_offset}]"
            ));
        }
        reply(&out, text)
    }

    async fn do_send(&self, input: SendIn) -> Outcome {
        let out = send_input(&self.link, input, Via::Mcp).await?;
        let SendOut {
            turn_started,
            resumed,
            seq: input_seq,
            ..
        } = out;
        let (id, state, reason) = (&out.id, out.state, &out.reason);
        let went_on = match turn_started {
            Some(true) => "its hooks say its turn began",
            Some(false) => {
                "its hooks did not say its turn began: the text may sit in its input unsubmitted (read logs)"
            }
            None if resumed => "it resumed",
            None => "no output after it yet",
        };
        let text = format!(
            "delivered to `{}` (input record seq {input_seq}); {went_on}; now {} ({})",
            id,
            SessionState::from(state),
            reason
        );
        reply(&out, text)
    }

    async fn do_kill(&self, input: IdIn) -> Outcome {
        let request = Request::Kill(Kill {
            id: input.id.clone(),
            via: Via::Mcp,
        });
        match self.link.call(&request).await.map_err(failed)? {
            Response::Done(_) => {}
            other => return Err(unexpected(&other).message()),
        }
        let (row, _) = self.row(&input.id).await?;
        let out = Brief {
            id: row.id.clone(),
            state: row.state.into(),
            reason: row.reason.clone(),
        };
        reply(
            &out,
            format!(
                "`{}` is {} ({}); its processes are gone",
                row.id, row.state, row.reason
            ),
        )
    }

    async fn do_events(&self, input: EventsIn) -> Outcome {
        let limit = input.limit.unwrap_or(DEFAULT_EVENTS).clamp(1, MAX_EVENTS) as usize;
        let kinds: Option<HashSet<String>> = input.kinds.map(|k| k.into_iter().collect());
        if let Some(bad) = kinds
            .iter()
            .flatten()
            .find(|k| !Event::NAMES.contains(&k.as_str()))
        {
            return Err(format!(
                "`kinds`: unknown event kind `{}`; known kinds: {}",
                bad.escape_debug(),
                Event::NAMES.join(", ")
            ));
        }
        let since = input.since_seq.unwrap_or(0);
        let mut stream = self
            .link
            .open(&Request::Events(Events {
                session: input.session.clone(),
                since: Some(since),
                follow: false,
            }))
            .await
            .map_err(failed)?;
        let mut records: Vec<Record> = Vec::new();
        let mut more = false;
        loop {
            match stream.next().await.map_err(failed)? {
                Response::Event(event) => {
                    let record = event.record;
                    if kinds
                        .as_ref()
                        .is_none_or(|k| k.contains(record.event.name()))
                    {
                        if records.len() == limit {
                            more = true;
                            break;
                        }
                        records.push(record);
                    }
                }
                Response::SkippedEvents(_) => {}
                Response::EndOfStream(_) => break,
                other => return Err(unexpected(&other).message()),
            }
        }
        // Without more to come, the next page starts after the last record
        // looked at, not only the last one returned: nothing is read twice.
        let next_seq = records.last().map_or(since, |r| r.seq);
        let text = if records.is_empty() {
            format!("no records after seq {since}")
        } else {
            records
                .iter()
                .map(|r| {
                    describe_record(r)
                        .map(|line| format!("#{} {line}", r.seq))
                        .unwrap_or_else(|| {
                            let fields = serde_json::to_string(&r.event).unwrap_or_default();
                            format!(
                                "#{} {} {fields}",
                                r.seq,
                                r.session.as_deref().unwrap_or("-")
                            )
                        })
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let events = records
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot encode a record: {e}"))?;
        reply(
            &EventsOut {
                events,
                next_seq,
                more,
            },
            text,
        )
    }

    async fn do_accounts(&self) -> Outcome {
        match self
            .link
            .call(&Request::Accounts(Default::default()))
            .await
            .map_err(failed)?
        {
            Response::Accounts(report) => {
                let text = serde_json::to_string_pretty(&report.status)
                    .unwrap_or_else(|_| report.status.to_string());
                reply(
                    &AccountsOut {
                        status: report.status,
                    },
                    text,
                )
            }
            other => Err(unexpected(&other).message()),
        }
    }
}

async fn next_record(watch: &mut Exchange) -> Result<Record, String> {
    loop {
        match watch.next().await.map_err(failed)? {
            Response::Event(event) => return Ok(event.record),
            Response::SkippedEvents(_) => continue,
            Response::EndOfStream(_) => return Err("the daemon is stopping".into()),
            other => return Err(unexpected(&other).message()),
        }
    }
}

/// Rows shown in `list`'s text; the structured content has them all.
const LIST_TEXT_ROWS: usize = 50;

/// `list`'s text: the counts, then the rows that need the lead first
/// (asking, then ended badly), at most [`LIST_TEXT_ROWS`] of them.
fn list_text(rows: &[Row], counts: &BTreeMap<String, usize>) -> String {
    if rows.is_empty() {
        return "no sessions".to_owned();
    }
    let rank = |row: &&Row| match row.state {
        State::InputWait => 0,
        State::Dead | State::Failed => 1,
        _ => 2,
    };
    let mut shown: Vec<&Row> = rows.iter().collect();
    shown.sort_by_key(rank);
    let mut text = counts
        .iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ");
    for row in shown.iter().take(LIST_TEXT_ROWS) {
        text.push('\n');
        text.push_str(&row_line(row));
    }
    if rows.len() > LIST_TEXT_ROWS {
        text.push_str(&format!(
            "\n… and {} more in the structured result (filter with `state`)",
            rows.len() - LIST_TEXT_ROWS
        ));
    }
    text
}

fn row_line(row: &Row) -> String {
    let mut line = format!(
        "{}  {}  {}  {} ({})  restarts {}  {}s",
        row.id,
        row.agent,
        row.host,
        SessionState::from(row.state),
        row.reason,
        row.restarts,
        row.age_s
    );
    match (&row.evidence, &row.last_line) {
        (Some(evidence), _) if row.state == State::InputWait => {
            line.push_str(&format!("  asks: {}", truncate(evidence, 120)));
        }
        (_, Some(last)) => line.push_str(&format!("  | {}", truncate(last, 120))),
        _ => {}
    }
    line
}

/// A page of log bytes, as text when it is UTF-8.
struct Page {
    /// Bytes the page covers (a character cut at its end is left out).
    len: u64,
    text: Option<String>,
    base64: Option<String>,
}

impl Page {
    fn new(mut bytes: Vec<u8>) -> Page {
        match std::str::from_utf8(&bytes) {
            Ok(_) => {}
            // Only a character cut at the end: leave it for the next page.
            Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
                bytes.truncate(e.valid_up_to())
            }
            Err(_) => {
                return Page {
                    len: bytes.len() as u64,
                    text: None,
                    base64: Some(baton_proto::base64::encode(&bytes)),
                };
            }
        }
        let len = bytes.len() as u64;
        Page {
            len,
            text: String::from_utf8(bytes).ok(),
            base64: None,
        }
    }
}

#[tool_router]
impl Baton {
    pub fn new(link: DaemonLink, cwd: PathBuf, tools: &[&str]) -> Baton {
        let mut tool_router = Self::tool_router();
        for name in ALL_TOOLS {
            if !tools.contains(name) {
                tool_router.remove_route(name);
            }
        }
        Baton {
            link: Arc::new(link),
            cwd,
            tool_router,
        }
    }

    #[tool(
        description = "Start a worker session: an agent CLI (codex, gemini, claude) with a prompt, or any command (argv, no shell). Fields are those of a baton.toml [[session]]; they are checked like the manifest and a bad one is an error naming it. Returns the id and state (starting). Then use wait.",
        input_schema = lean_input_schema::<SpawnSpec>(),
        output_schema = lean_output_schema::<Brief>()
    )]
    async fn spawn(
        &self,
        Parameters(input): Parameters<rmcp::model::JsonObject>,
    ) -> CallToolResult {
        finish(async { self.do_spawn(session_table(input)?).await }.await)
    }

    #[tool(
        description = "The sessions: id, agent, host, state and why (with the question line for input_wait), restarts, age, last output line. States: starting, healthy = working; stalled = silent, not asking; input_wait = asking, answer with send; failed/restarting = baton is restarting it; completed = done (exit 0); dead = ended for good.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<ListIn>(),
        output_schema = lean_output_schema::<ListOut>()
    )]
    async fn list(&self, Parameters(input): Parameters<ListIn>) -> CallToolResult {
        finish(self.do_list(input).await)
    }

    #[tool(
        description = "One session in full: state, reason and the evidence it was judged by (input_wait: the question line; dead/failed: how it ended), what to do next, exit status, output sizes, and the completion payload once completed.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<IdIn>(),
        output_schema = lean_output_schema::<StatusOut>()
    )]
    async fn status(&self, Parameters(input): Parameters<IdIn>) -> CallToolResult {
        finish(self.do_status(input).await)
    }

    #[tool(
        description = "A page of a session's output (stdout or stderr), from a byte offset or the last N bytes, at most max_bytes. Page through a long log by passing next_offset as offset until more is false: no byte is skipped or repeated.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<LogsIn>(),
        output_schema = lean_output_schema::<LogsOut>()
    )]
    async fn logs(&self, Parameters(input): Parameters<LogsIn>) -> CallToolResult {
        finish(self.do_logs(input).await)
    }

    #[tool(
        description = "Answer a session that is in input_wait: types one line and Enter. Refused (nothing sent) unless it is in input_wait, or force is true. Returns a receipt: the seq of the input record in the event log, and whether the session resumed output within confirm_s.",
        annotations(destructive_hint = false),
        input_schema = lean_input_schema::<SendIn>(),
        output_schema = lean_output_schema::<SendOut>()
    )]
    async fn send(&self, Parameters(input): Parameters<SendIn>) -> CallToolResult {
        finish(self.do_send(input).await)
    }

    #[tool(
        description = "Stop a session for good (SIGTERM to its process group, SIGKILL after the grace). Returns once its processes are gone; it is then dead (user_kill).",
        annotations(destructive_hint = true, idempotent_hint = true),
        input_schema = lean_input_schema::<IdIn>(),
        output_schema = lean_output_schema::<Brief>()
    )]
    async fn kill(&self, Parameters(input): Parameters<IdIn>) -> CallToolResult {
        finish(self.do_kill(input).await)
    }

    #[tool(
        description = "Block until one of the sessions reaches one of the states (default: input_wait, completed, dead), or timeout_s passes. Driven by the event log, no polling. Returns which session, its state, the evidence (the question for input_wait), the payload (completed), and seq: pass it as since_seq on the next wait to get only later changes. Without since_seq, a session already in such a state answers at once. With kinds, only an input_wait its agent's hooks say is for one of them counts: kinds [\"idle\"] waits for an interactive worker to finish its turn.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<WaitIn>(),
        output_schema = lean_output_schema::<WaitOut>()
    )]
    async fn wait(&self, Parameters(input): Parameters<WaitIn>) -> CallToolResult {
        finish(self.do_wait(input).await)
    }

    #[tool(
        description = "Records of the event log after since_seq (every state change with its reason and evidence, spawns, exits, inputs, kills), optionally for one session and some kinds; at most limit per call, page on with next_seq.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<EventsIn>(),
        output_schema = lean_output_schema::<EventsOut>()
    )]
    async fn events(&self, Parameters(input): Parameters<EventsIn>) -> CallToolResult {
        finish(self.do_events(input).await)
    }

    #[tool(
        description = "The provider-account broker: each account's busy leases, cooldown after a rate limit, circuit state, and when the next one is free.",
        annotations(read_only_hint = true),
        input_schema = lean_input_schema::<NoInput>(),
        output_schema = lean_output_schema::<AccountsOut>()
    )]
    async fn accounts(&self, Parameters(_): Parameters<NoInput>) -> CallToolResult {
        finish(self.do_accounts().await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Baton {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("baton", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_keeps_text_whole_and_binary_exact() {
        let page = Page::new("héllo".as_bytes().to_vec());
        assert_eq!((page.len, page.text.as_deref()), (6, Some("héllo")));
        // "é" cut in half at the end: left for the next page.
        let page = Page::new(b"h\xc3".to_vec());
        assert_eq!((page.len, page.text.as_deref()), (1, Some("h")));
        let page = Page::new(b"\xff\xfe ok".to_vec());
        assert_eq!(page.len, 5);
        assert_eq!(
            baton_proto::base64::decode(page.base64.as_deref().unwrap()).unwrap(),
            b"\xff\xfe ok"
        );
    }

    #[test]
    fn list_text_puts_what_needs_the_lead_first_and_stays_short() {
        let row = |id: String, state: State| Row {
            id,
            agent: "command".into(),
            host: "local".into(),
            state,
            reason: "r".into(),
            evidence: Some("Proceed? [y/N]".into()),
            wait_kind: None,
            restarts: 0,
            age_s: 1,
            last_line: None,
            tokens: None,
            cost_usd: None,
            cost_estimated: false,
        };
        let mut rows: Vec<Row> = (0..60)
            .map(|i| row(format!("w{i:02}"), State::Healthy))
            .collect();
        rows.push(row("z-asks".into(), State::InputWait));
        let counts = BTreeMap::from([("healthy".to_owned(), 60), ("input_wait".to_owned(), 1)]);
        let text = list_text(&rows, &counts);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "60 healthy, 1 input_wait");
        assert!(
            lines[1].starts_with("z-asks") && lines[1].contains("asks: Proceed?"),
            "{}",
            lines[1]
        );
        assert_eq!(lines.len(), 1 + LIST_TEXT_ROWS + 1);
        assert!(lines.last().unwrap().contains("11 more"), "{text}");
        assert_eq!(list_text(&[], &BTreeMap::new()), "no sessions");
    }

    #[test]
    fn every_tool_has_lean_portable_schemas_and_a_description() {
        let link = DaemonLink::to_running(PathBuf::from("/nonexistent/baton.sock"));
        let server = Baton::new(link, PathBuf::from("/"), ALL_TOOLS);
        let tools = server.tool_router.list_all();
        assert_eq!(tools.len(), ALL_TOOLS.len());
        for tool in tools {
            let input = serde_json::Value::Object((*tool.input_schema).clone());
            assert_eq!(input["type"], "object", "{}", tool.name);
            if tool.name != "accounts" {
                assert!(input["properties"].is_object(), "{}: {input}", tool.name);
            }
            let output = serde_json::Value::Object((*tool.output_schema.unwrap()).clone());
            for schema in [&input, &output] {
                let text = schema.to_string();
                assert!(!text.contains("\"format\""), "{}: {text}", tool.name);
                assert!(!text.contains("$schema"), "{}: {text}", tool.name);
            }
            assert!(tool.description.is_some_and(|d| d.len() > 40));
            // Every schema is in the subset Gemini takes (one scalar type,
            // no `$ref`, no unions): a lead on gemini can call every tool.
            assert_eq!(
                super::super::schema::subset_problems(&input, false),
                Vec::<String>::new(),
                "{} input: {input}",
                tool.name
            );
            assert_eq!(
                super::super::schema::subset_problems(&output, true),
                Vec::<String>::new(),
                "{} output: {output}",
                tool.name
            );
        }
    }

    #[test]
    fn seconds_are_checked_and_capped() {
        assert_eq!(seconds("t", None, 3.0, 60.0), Ok(Duration::from_secs(3)));
        assert_eq!(
            seconds("t", Some(1e9), 3.0, 60.0),
            Ok(Duration::from_secs(60))
        );
        assert!(
            seconds("t", Some(-1.0), 3.0, 60.0)
                .unwrap_err()
                .contains("`t`")
        );
        assert!(seconds("t", Some(f64::NAN), 3.0, 60.0).is_err());
    }
}
