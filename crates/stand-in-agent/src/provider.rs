//! A stand-in for a model provider's API on loopback, so the real agent
//! CLIs can work a whole turn offline: claude with `ANTHROPIC_BASE_URL`
//! pointed at it answers, asks leave for a tool, runs it and ends its turn
//! exactly as it would online, on its own screens and in its own JSON.
//!
//! # What it answers
//!
//! Anthropic's Messages API: `POST /v1/messages` (streamed as server-sent
//! events when the request says `"stream": true`, one JSON message if not)
//! and `POST /v1/messages/count_tokens`. Anything else is a 404.
//!
//! The reply is read from the conversation's user text (claude's own
//! `<system-reminder>` blocks skipped), a directive per line:
//!
//! | line | reply |
//! |---|---|
//! | `run: COMMAND` | a call of the request's shell tool (`Bash`) with COMMAND, while no tool result is in the conversation and the request offers that tool |
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
    /// What it answered: `text` or `tool:NAME`.
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

/// What the model says this time.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Text(String),
    Tool { name: String, command: String },
}

/// The reply to a conversation whose user lines are `user`, given whether
/// a tool's result is in it and the shell tool it offers, if any.
fn reply(user: &[&str], answered: bool, shell: Option<&str>) -> Reply {
    let directive = |key: &str| {
        user.iter()
            .flat_map(|text| text.lines())
            .find_map(|line| line.trim().strip_prefix(key).map(str::trim))
            .filter(|rest| !rest.is_empty())
            .map(str::to_owned)
    };
    if !answered && let (Some(command), Some(name)) = (directive("run:"), shell) {
        return Reply::Tool {
            name: name.to_owned(),
            command,
        };
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
    let shell = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .find(|name| *name == "Bash");
    reply(&anthropic_user_text(request), answered, shell)
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
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "the body is not JSON").into_response();
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let reply = anthropic_reply(&request);
    let (content, stop) = match &reply {
        Reply::Text(text) => (json!({"type": "text", "text": text}), "end_turn"),
        Reply::Tool { name, command } => (
            json!({
                "type": "tool_use",
                "id": "toolu_stand_in_1",
                "name": name,
                "input": {"command": command, "description": "Run what the prompt asked"},
            }),
            "tool_use",
        ),
    };
    log.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        path: uri.to_string(),
        model: model.clone(),
        reply: match &reply {
            Reply::Text(_) => "text".to_owned(),
            Reply::Tool { name, .. } => format!("tool:{name}"),
        },
    });
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
    let mut stream = String::new();
    for (name, data) in events {
        stream.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    ([(header::CONTENT_TYPE, "text/event-stream")], stream).into_response()
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
            reply(&user, false, Some("Bash")),
            Reply::Tool {
                name: "Bash".into(),
                command: "touch made.txt".into()
            }
        );
        assert_eq!(
            reply(&user, true, Some("Bash")),
            Reply::Text("made it".into())
        );
        // A request offering no shell (a title to make) gets words.
        assert_eq!(reply(&user, false, None), Reply::Text("made it".into()));
        assert_eq!(
            reply(&["hi"], false, Some("Bash")),
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
}
