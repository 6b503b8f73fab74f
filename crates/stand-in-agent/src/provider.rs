//! A stand-in for a model provider's API on loopback, so the real agent
//! CLIs can work a whole turn offline: claude with `ANTHROPIC_BASE_URL`
//! pointed at it answers, asks leave for a tool, runs it and ends its turn
//! exactly as it would online, on its own screens and in its own JSON.
//!
//! # What it answers
//!
//! - Anthropic's Messages API (claude, `ANTHROPIC_BASE_URL`): `POST
//!   /v1/messages` (streamed as server-sent events when the request says
//!   `"stream": true`, one JSON message if not) and `POST
//!   /v1/messages/count_tokens`.
//! - Google's Gemini API (gemini, `GOOGLE_GEMINI_BASE_URL` with an API key):
//!   `POST /v1beta/models/MODEL:generateContent`, `:streamGenerateContent`
//!   (server-sent events) and `:countTokens`. A request that asks for JSON
//!   of a schema (gemini's own side questions: which model a prompt needs,
//!   who speaks next) gets the simplest value of it.
//! - OpenAI's Responses API (codex, a `model_providers` entry whose
//!   `base_url` is `URL/v1`): `POST /v1/responses`, streamed. codex offers
//!   its shell only inside a JavaScript tool, so for codex `run:` is not
//!   acted on: it answers.
//!
//! Anything else is a 404.
//!
//! The reply is read from the conversation's user text (the CLIs' own
//! context blocks skipped), a directive per line:
//!
//! | line | reply |
//! |---|---|
//! | `run: COMMAND` | a call of the request's shell tool (claude's `Bash`, gemini's `run_shell_command`) with COMMAND, while no tool result is in the conversation and the request offers that tool |
//! | `ask: QUESTION \| CHOICE \| CHOICE…` | the question put to the user through claude's `AskUserQuestion` tool, the same way |
//! | `say: TEXT` | TEXT as the answer (after the tool's result, when there was a call) |
//! | none | [`ANSWER`] |
//!
//! Every reply states the same usage, [`INPUT_TOKENS`], [`OUTPUT_TOKENS`]
//! and [`CACHED_TOKENS`], so a test can check what baton recorded of it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// The answer when the conversation says no `say:`.
pub const ANSWER: &str = "Done: the stand-in provider answered.";
/// Input tokens every reply states.
pub const INPUT_TOKENS: u64 = 1200;
/// Output tokens every reply states.
pub const OUTPUT_TOKENS: u64 = 34;
/// Input tokens read from the provider's cache, in every reply.
pub const CACHED_TOKENS: u64 = 300;

/// One request the provider answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The path asked for, with its query.
    pub path: String,
    /// The model the request named.
    pub model: String,
    /// What it answered: `text`, `tool:NAME`, or `json` (a schema's value).
    pub reply: String,
}

/// A provider serving on a loopback port until dropped.
pub struct Provider {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Provider {
    /// Binds an unused loopback port and serves on the current runtime.
    pub async fn start() -> std::io::Result<Provider> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/messages", post(messages))
            .route("/v1/messages/count_tokens", post(count_tokens))
            .route("/v1beta/models/{*call}", post(gemini))
            .route("/v1/responses", post(responses))
            .fallback(not_found)
            .with_state(seen.clone());
        let server = tokio::spawn(async move {
            // Ends only when the task is aborted (on drop).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Provider { addr, seen, server })
    }

    /// Its base URL, `http://127.0.0.1:PORT`, as the CLIs' variables take it.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests answered so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// The request's body as JSON, or the answer refusing it.
fn parse(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body)
        .map_err(|_| (StatusCode::BAD_REQUEST, "the body is not JSON").into_response())
}

/// Notes a request answered with `reply` (see [`Seen`]).
fn note(log: &Log, uri: &Uri, model: &str, reply: String) {
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        path: uri.to_string(),
        model: model.to_owned(),
        reply,
    });
}

/// Named server-sent events, as Anthropic's and OpenAI's streams send them.
fn event_stream<'a>(events: impl IntoIterator<Item = (&'a str, Value)>) -> Response {
    let mut stream = String::new();
    for (name, data) in events {
        stream.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    ([(header::CONTENT_TYPE, "text/event-stream")], stream).into_response()
}

/// What the model says this time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Text(String),
    /// A call of tool `name` with `input` (its arguments).
    Tool {
        name: String,
        input: Value,
    },
}

impl Reply {
    /// How [`Seen::reply`] names it: `text` or `tool:NAME`.
    fn label(&self) -> String {
        match self {
            Reply::Text(_) => "text".to_owned(),
            Reply::Tool { name, .. } => format!("tool:{name}"),
        }
    }
}

/// The shell tools of the CLIs, by name.
const SHELLS: [&str; 2] = ["Bash", "run_shell_command"];
/// The tools a CLI asks its user a question with, by name.
const ASKS: [&str; 1] = ["AskUserQuestion"];

/// The reply to a conversation whose user lines are `user`, given whether
/// a tool's result is in it and the tools it offers.
fn reply(user: &[&str], answered: bool, offered: &[&str]) -> Reply {
    let directive = |key: &str| {
        user.iter()
            .flat_map(|text| text.lines())
            .find_map(|line| line.trim().strip_prefix(key).map(str::trim))
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned)
    };
    let tool = |names: &[&str]| {
        offered
            .iter()
            .find(|o| names.contains(o))
            .map(|o| o.to_string())
    };
    if !answered && let (Some(command), Some(name)) = (directive("run:"), tool(&SHELLS)) {
        let input = json!({"command": command, "description": "Run what the prompt asked"});
        return Reply::Tool { name, input };
    }
    if !answered && let (Some(ask), Some(name)) = (directive("ask:"), tool(&ASKS)) {
        let mut parts = ask.split('|').map(str::trim);
        let question = parts.next().unwrap_or_default();
        let options: Vec<Value> = parts
            .map(|label| json!({"label": label, "description": format!("Choose {label}")}))
            .collect();
        let input = json!({"questions": [{
            "question": question,
            "header": "Choice",
            "options": options,
            "multiSelect": false,
        }]});
        return Reply::Tool { name, input };
    }
    Reply::Text(directive("say:").unwrap_or_else(|| ANSWER.to_owned()))
}

/// The user-written text blocks of an Anthropic conversation.
fn anthropic_user_text(request: &Value) -> Vec<&str> {
    let mut texts = Vec::new();
    for message in request["messages"].as_array().into_iter().flatten() {
        if message["role"] != "user" {
            continue;
        }
        match &message["content"] {
            Value::String(text) => texts.push(text.as_str()),
            Value::Array(blocks) => texts.extend(
                blocks
                    .iter()
                    .filter(|b| b["type"] == "text")
                    .filter_map(|b| b["text"].as_str()),
            ),
            _ => {}
        }
    }
    texts.retain(|t| !t.trim_start().starts_with("<system-reminder>"));
    texts
}

fn anthropic_reply(request: &Value) -> Reply {
    let answered = request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .any(|b| b["type"] == "tool_result");
    let offered: Vec<&str> = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    reply(&anthropic_user_text(request), answered, &offered)
}

fn anthropic_usage() -> Value {
    json!({
        "input_tokens": INPUT_TOKENS,
        "output_tokens": OUTPUT_TOKENS,
        "cache_read_input_tokens": CACHED_TOKENS,
        "cache_creation_input_tokens": 0,
    })
}

async fn messages(State(log): State<Log>, uri: Uri, body: Bytes) -> Response {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let reply = anthropic_reply(&request);
    let (content, stop) = match &reply {
        Reply::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Reply::Tool { name, input } => (
            json!({
                "type": "tool_use",
                "id": "toolu_stand_in_1",
                "name": name,
                "input": input,
            }),
            "tool_use",
        ),
    };
    note(&log, &uri, &model, reply.label());
    let message = json!({
        "id": "msg_stand_in_1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [content],
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": anthropic_usage(),
    });
    if request["stream"] != true {
        return axum::Json(message).into_response();
    }
    let mut events = Vec::new();
    let mut start = message.clone();
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"]["output_tokens"] = json!(1);
    events.push((
        "message_start",
        json!({"type": "message_start", "message": start}),
    ));
    let (block, delta) = match &reply {
        Reply::Text(text) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": text}),
        ),
        Reply::Tool { .. } => {
            let mut block = content.clone();
            let input = block["input"].take().to_string();
            block["input"] = json!({});
            (
                block,
                json!({"type": "input_json_delta", "partial_json": input}),
            )
        }
    };
    events.push((
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    ));
    events.push((
        "content_block_delta",
        json!({"type": "content_block_delta", "index": 0, "delta": delta}),
    ));
    events.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push((
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": OUTPUT_TOKENS},
        }),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    event_stream(events)
}

/// The user-written parts of a Gemini conversation (gemini's own
/// `<session_context>` part skipped).
fn gemini_user_text(request: &Value) -> Vec<&str> {
    request["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["role"] == "user")
        .filter_map(|c| c["parts"].as_array())
        .flatten()
        .filter_map(|p| p["text"].as_str())
        .filter(|t| !t.trim_start().starts_with("<session_context>"))
        .collect()
}

fn gemini_reply(request: &Value) -> Reply {
    let parts = || {
        request["contents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["parts"].as_array())
            .flatten()
    };
    let answered = parts().any(|p| p.get("functionResponse").is_some());
    let offered: Vec<&str> = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["functionDeclarations"].as_array())
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    reply(&gemini_user_text(request), answered, &offered)
}

/// A value of JSON `schema` (gemini's side questions to its model — which
/// model a prompt needs, who speaks next — ask for one): the first of an
/// enum, `user` when that is a choice, so a conversation ends rather than
/// loops.
fn fill(schema: &Value) -> Value {
    if let Some(choices) = schema["enum"].as_array() {
        let user = choices.iter().find(|c| *c == "user");
        return user.or(choices.first()).cloned().unwrap_or(Value::Null);
    }
    let kind = schema["type"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match kind.as_str() {
        "object" => {
            let mut object = serde_json::Map::new();
            for (name, property) in schema["properties"].as_object().into_iter().flatten() {
                object.insert(name.clone(), fill(property));
            }
            Value::Object(object)
        }
        "array" => json!([]),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        _ => json!("the stand-in provider"),
    }
}

async fn gemini(
    State(log): State<Log>,
    uri: Uri,
    axum::extract::Path(call): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let (model, action) = call.split_once(':').unwrap_or((call.as_str(), ""));
    if action == "countTokens" {
        return axum::Json(json!({"totalTokens": INPUT_TOKENS})).into_response();
    }
    if action != "generateContent" && action != "streamGenerateContent" {
        return not_found(uri).await;
    }
    let config = &request["generationConfig"];
    let schema = [&config["responseJsonSchema"], &config["responseSchema"]]
        .into_iter()
        .find(|s| !s.is_null());
    let reply = match schema {
        Some(schema) => Reply::Text(fill(schema).to_string()),
        None => gemini_reply(&request),
    };
    let label = match schema {
        Some(_) => "json".to_owned(),
        None => reply.label(),
    };
    note(&log, &uri, model, label);
    let part = match &reply {
        Reply::Text(text) => json!({"text": text}),
        Reply::Tool { name, input } => json!({"functionCall": {"name": name, "args": input}}),
    };
    let answer = json!({
        "candidates": [{
            "content": {"role": "model", "parts": [part]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": INPUT_TOKENS,
            "candidatesTokenCount": OUTPUT_TOKENS,
            "cachedContentTokenCount": CACHED_TOKENS,
            "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS,
        },
        "modelVersion": model,
    });
    if action == "generateContent" {
        return axum::Json(answer).into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        format!("data: {answer}\r\n\r\n"),
    )
        .into_response()
}

/// The user-written text of an OpenAI Responses conversation (codex's own
/// `<environment_context>` and other tagged blocks skipped).
fn openai_user_text(request: &Value) -> Vec<&str> {
    request["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message" && item["role"] == "user")
        .filter_map(|item| item["content"].as_array())
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .filter(|t| !t.trim_start().starts_with('<'))
        .collect()
}

/// codex's Responses API call: the answer as one message, streamed as
/// server-sent events. codex offers its shell only inside a JavaScript
/// tool, so `run:` is not acted on: the answer is `say:`'s or [`ANSWER`].
async fn responses(State(log): State<Log>, uri: Uri, body: Bytes) -> Response {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    // No tool is offered and the answer is given: words, always.
    let text = match reply(&openai_user_text(&request), true, &[]) {
        Reply::Text(text) => text,
        Reply::Tool { .. } => ANSWER.to_owned(),
    };
    note(&log, &uri, &model, "text".to_owned());
    let item = json!({
        "type": "message",
        "id": "msg_stand_in_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    });
    let response = json!({
        "id": "resp_stand_in_1",
        "object": "response",
        "model": model,
        "status": "completed",
        "output": [item],
        "usage": {
            "input_tokens": INPUT_TOKENS,
            "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
            "output_tokens": OUTPUT_TOKENS,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        },
    });
    let mut created = response.clone();
    created["status"] = json!("in_progress");
    created["output"] = json!([]);
    created["usage"] = Value::Null;
    let events = [
        (
            "response.created",
            json!({"type": "response.created", "response": created}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "response": response}),
        ),
    ];
    event_stream(events)
}

async fn count_tokens() -> Response {
    axum::Json(json!({"input_tokens": INPUT_TOKENS})).into_response()
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("the stand-in provider does not answer {uri}"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_line_calls_the_shell_once_then_the_answer_follows() {
        let user = ["fix it\nrun: touch made.txt\nsay: made it"];
        assert_eq!(
            reply(&user, false, &["Read", "Bash"]),
            Reply::Tool {
                name: "Bash".into(),
                input: json!({"command": "touch made.txt", "description": "Run what the prompt asked"}),
            }
        );
        assert_eq!(reply(&user, true, &["Bash"]), Reply::Text("made it".into()));
        // A request offering no shell (a title to make) gets words.
        assert_eq!(reply(&user, false, &[]), Reply::Text("made it".into()));
        assert_eq!(reply(&["hi"], false, &["Bash"]), Reply::Text(ANSWER.into()));
    }

    #[test]
    fn an_ask_line_puts_its_question_and_choices_to_the_user() {
        let user = ["ask: Which database? | Postgres | SQLite"];
        let Reply::Tool { name, input } = reply(&user, false, &["Bash", "AskUserQuestion"]) else {
            panic!("no question asked")
        };
        assert_eq!(name, "AskUserQuestion");
        let question = &input["questions"][0];
        assert_eq!(question["question"], "Which database?");
        assert_eq!(question["options"][1]["label"], "SQLite");
        assert_eq!(
            reply(&user, true, &["AskUserQuestion"]),
            Reply::Text(ANSWER.into())
        );
    }

    #[test]
    fn claudes_reminders_are_not_the_users_words() {
        let request = json!({
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "<system-reminder>\nrun: rm -rf /\n</system-reminder>"},
                    {"type": "text", "text": "say: hello"},
                ]},
                {"role": "system", "content": "run: nothing"},
            ],
            "tools": [{"name": "Bash"}],
        });
        assert_eq!(anthropic_reply(&request), Reply::Text("hello".into()));
    }

    #[test]
    fn geminis_shell_is_called_until_its_answer_is_in_the_conversation() {
        let mut request = json!({
            "contents": [
                {"role": "user", "parts": [{"text": "<session_context>\nrun: ls\n</session_context>"}]},
                {"role": "user", "parts": [{"text": "run: touch made.txt"}]},
            ],
            "tools": [{"functionDeclarations": [{"name": "read_file"}, {"name": "run_shell_command"}]}],
        });
        assert_eq!(
            gemini_reply(&request),
            Reply::Tool {
                name: "run_shell_command".into(),
                input: json!({"command": "touch made.txt", "description": "Run what the prompt asked"}),
            }
        );
        request["contents"].as_array_mut().unwrap().push(
            json!({"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command"}}]}),
        );
        assert_eq!(gemini_reply(&request), Reply::Text(ANSWER.into()));
    }

    #[test]
    fn a_schema_gets_its_simplest_value_and_the_user_speaks_next() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "reasoning": {"type": "STRING"},
                "score": {"type": "INTEGER"},
                "next_speaker": {"type": "STRING", "enum": ["model", "user"]},
            },
        });
        assert_eq!(
            fill(&schema),
            json!({"reasoning": "the stand-in provider", "score": 1, "next_speaker": "user"})
        );
    }
}
