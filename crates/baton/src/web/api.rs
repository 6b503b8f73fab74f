//! The routes of `baton web`: the page, its script, and the JSON API.
//!
//! | route | what |
//! |---|---|
//! | `GET /?token=TOKEN` | sets the session cookie, then sends the browser to `/` |
//! | `GET /`, `GET /app.js` | the page and its script |
//! | `GET /api/sessions` | `{"seq": N, "sessions": [rows of ps --json]}` |
//! | `GET /api/sessions/{id}` | one row: state, reason, evidence, payload… |
//! | `GET /api/sessions/{id}/logs?offset=&max_bytes=&tail_bytes=&stream=` | a page of output, as MCP `logs` |
//! | `GET /api/sessions/{id}/screen?rows=&cols=` | the end of its output as a terminal shows it |
//! | `GET /api/events?since=SEQ` | Server-Sent Events: the records after SEQ, then live |
//! | `POST /api/sessions/{id}/send` `{"text": "…", "if_waiting": true}` | the receipt, as MCP `send` |
//! | `POST /api/sessions/{id}/kill` | the session's row once its processes are gone |
//!
//! Errors are JSON, `{"error": "…"}`: 401 without the token, 403 for a
//! change that is not the page's, 404 for an unknown session or route, 409
//! for an answer the session cannot take now, 400 for bad input.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use baton_proto::Response as Reply;
use baton_proto::request::{Events, Kill, Via};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::Web;
use super::auth::{COOKIE, Refused};
use crate::mcp::tools::{logs_page, row, send_input};
use crate::mcp::types::{LogsIn, SendIn, Stream};

/// The page: markup only; its script is `/app.js` (no inline script, so
/// the page's Content-Security-Policy allows none).
const PAGE: &str = include_str!("page.html");
/// The page's script.
const SCRIPT: &str = include_str!("app.js");

/// Security headers of everything served.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub fn router(web: Arc<Web>) -> Router {
    let api = Router::new()
        .route("/app.js", get(script))
        .route("/api/sessions", get(sessions))
        .route("/api/sessions/{id}", get(session))
        .route("/api/sessions/{id}/logs", get(logs))
        .route("/api/sessions/{id}/screen", get(screen))
        .route("/api/sessions/{id}/send", post(send))
        .route("/api/sessions/{id}/kill", post(kill))
        .route("/api/events", get(events))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(web.clone(), guard));
    Router::new()
        .route("/", get(page))
        .merge(api)
        .layer(middleware::from_fn(harden))
        .with_state(web)
}

/// `{"error": message}` with `status`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn refused(r: Refused) -> Response {
    error(r.status, r.message)
}

/// Every route but the page needs the token.
async fn guard(State(web): State<Arc<Web>>, request: Request, next: Next) -> Response {
    match web.access.check(request.method(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(r) => refused(r),
    }
}

/// Headers that keep whatever is served from being framed, sniffed,
/// cached or leaking its URL.
async fn harden(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

#[derive(Deserialize)]
struct PageQuery {
    token: Option<String>,
}

/// The page. With `?token=`: the cookie is set and the browser sent on to
/// `/`, so the token leaves the address bar (and the history).
async fn page(
    State(web): State<Arc<Web>>,
    Query(query): Query<PageQuery>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = query.token {
        if !web.access.is_token(&token) {
            return error(
                StatusCode::UNAUTHORIZED,
                "this token is not this baton web's (it was restarted?): open the URL it printed",
            );
        }
        let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        return (
            StatusCode::SEE_OTHER,
            [
                (header::SET_COOKIE, cookie),
                (header::LOCATION, "/".to_owned()),
            ],
        )
            .into_response();
    }
    if let Err(r) = web.access.check(&method, &headers) {
        return refused(r);
    }
    let html = PAGE.replace("{{CSRF}}", web.access.csrf());
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response()
}

async fn sessions(State(web): State<Arc<Web>>) -> Response {
    match web.link.ps().await {
        Ok(table) => Json(json!({
            "seq": table.seq.unwrap_or(0),
            "sessions": table.sessions,
        }))
        .into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, e.message()),
    }
}

/// The row of `id`, or the response that says it is unknown.
async fn known(web: &Web, id: &str) -> Result<baton_proto::SessionRow, Response> {
    match web.link.ps().await {
        Ok(table) => table
            .sessions
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    format!("no session with id `{}`", id.escape_debug()),
                )
            }),
        Err(e) => Err(error(StatusCode::BAD_GATEWAY, e.message())),
    }
}

async fn session(State(web): State<Arc<Web>>, Path(id): Path<String>) -> Response {
    match known(&web, &id).await {
        Ok(row) => Json(row).into_response(),
        Err(response) => response,
    }
}

#[derive(Deserialize)]
struct LogsQuery {
    offset: Option<u64>,
    max_bytes: Option<u64>,
    tail_bytes: Option<u64>,
    stream: Option<Stream>,
}

async fn logs(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(query): Query<LogsQuery>,
) -> Response {
    if let Err(response) = known(&web, &id).await {
        return response;
    }
    let input = LogsIn {
        id,
        stream: query.stream,
        offset: query.offset,
        tail_bytes: query.tail_bytes,
        max_bytes: query.max_bytes,
    };
    match logs_page(&web.link, input).await {
        Ok(page) => Json(page).into_response(),
        Err(message) => error(StatusCode::BAD_GATEWAY, message),
    }
}

#[derive(Deserialize)]
struct ScreenQuery {
    rows: Option<u16>,
    cols: Option<u16>,
}

/// How much of the end of a session's output its screen is drawn from.
const SCREEN_TAIL: u64 = 64 * 1024;

/// The end of a session's output as a terminal of `rows` × `cols` shows it
/// (default 40 × 120, as baton sizes terminals): escapes, redraws and
/// scrolling applied, as `baton tui` shows it — text, never markup.
async fn screen(
    State(web): State<Arc<Web>>,
    Path(id): Path<String>,
    Query(query): Query<ScreenQuery>,
) -> Response {
    if let Err(response) = known(&web, &id).await {
        return response;
    }
    let rows = query.rows.unwrap_or(40).clamp(1, 200);
    let cols = query.cols.unwrap_or(120).clamp(10, 500);
    let request = baton_proto::Request::Logs(baton_proto::request::Logs {
        id: id.clone(),
        tail_bytes: Some(SCREEN_TAIL),
        ..Default::default()
    });
    let mut exchange = match web.link.open(&request).await {
        Ok(exchange) => exchange,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.message()),
    };
    let mut tail = Vec::new();
    loop {
        match exchange.next().await {
            Ok(Reply::LogChunk(chunk)) => match chunk.bytes() {
                Ok(bytes) => tail.extend_from_slice(&bytes),
                Err(e) => return error(StatusCode::BAD_GATEWAY, format!("a bad log chunk: {e}")),
            },
            Ok(Reply::Skipped(_)) => {}
            Ok(Reply::EndOfStream(_)) => break,
            Ok(other) => {
                return error(
                    StatusCode::BAD_GATEWAY,
                    crate::link::unexpected(&other).message(),
                );
            }
            Err(e) => return error(StatusCode::BAD_GATEWAY, e.message()),
        }
    }
    let text = baton_monitor::screen::screen_of(&tail, rows, cols).text();
    Json(json!({ "id": id, "rows": rows, "cols": cols, "text": text })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    text: String,
    #[serde(default = "yes")]
    if_waiting: bool,
    confirm_s: Option<f64>,
}

fn yes() -> bool {
    true
}

async fn send(State(web): State<Arc<Web>>, Path(id): Path<String>, body: String) -> Response {
    let body: SendBody = match serde_json::from_str(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be {{\"text\": \"…\", \"if_waiting\": true}}: {e}"),
            );
        }
    };
    if body.text.contains(['\n', '\r', '\0']) {
        return error(
            StatusCode::BAD_REQUEST,
            "`text` must be one line, without newline, carriage return or NUL; nothing was sent",
        );
    }
    let row = match known(&web, &id).await {
        Ok(row) => row,
        Err(response) => return response,
    };
    if row.state.is_terminal()
        || (body.if_waiting && row.state != baton_proto::SessionState::InputWait)
    {
        return error(
            StatusCode::CONFLICT,
            format!(
                "session `{}` is {} ({}): nothing was sent",
                row.id, row.state, row.reason
            ),
        );
    }
    let input = SendIn {
        id,
        text: body.text,
        force: Some(!body.if_waiting),
        confirm_s: body.confirm_s,
    };
    match send_input(&web.link, input, Via::Web).await {
        Ok(receipt) => Json(receipt).into_response(),
        Err(message) => error(StatusCode::CONFLICT, message),
    }
}

async fn kill(State(web): State<Arc<Web>>, Path(id): Path<String>) -> Response {
    if let Err(response) = known(&web, &id).await {
        return response;
    }
    let request = baton_proto::Request::Kill(Kill {
        id: id.clone(),
        via: Via::Web,
    });
    match web.link.call(&request).await {
        Ok(Reply::Done(_)) => {}
        Ok(other) => {
            return error(
                StatusCode::BAD_GATEWAY,
                crate::link::unexpected(&other).message(),
            );
        }
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.message()),
    }
    match row(&web.link, &id).await {
        Ok((row, _)) => Json(row).into_response(),
        Err(message) => error(StatusCode::BAD_GATEWAY, message),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<u64>,
}

/// The event records after `since` (all without it), then live, as
/// Server-Sent Events: `record` events (the record's JSON, its `seq` as the
/// event id) and `skipped` events (`{"count": N, "deleted": bool}`: records
/// this reader fell too far behind for, or that retention deleted).
async fn events(State(web): State<Arc<Web>>, Query(query): Query<EventsQuery>) -> Response {
    let request = baton_proto::Request::Events(Events {
        session: None,
        since: query.since,
        follow: true,
    });
    let mut exchange = match web.link.open(&request).await {
        Ok(exchange) => exchange,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e.message()),
    };
    let (tx, rx) = mpsc::channel::<Result<SseEvent, Infallible>>(256);
    tokio::spawn(async move {
        loop {
            let event = match exchange.next().await {
                Ok(Reply::Event(event)) => {
                    let seq = event.record.seq;
                    match SseEvent::default()
                        .event("record")
                        .id(seq.to_string())
                        .json_data(&event.record)
                    {
                        Ok(event) => event,
                        Err(_) => continue,
                    }
                }
                Ok(Reply::SkippedEvents(skipped)) => {
                    let data = json!({ "count": skipped.count, "deleted": skipped.deleted });
                    match SseEvent::default().event("skipped").json_data(data) {
                        Ok(event) => event,
                        Err(_) => continue,
                    }
                }
                // The daemon stopped, or the stream broke: the page sees
                // the end and reconnects.
                _ => return,
            };
            // The reader went away: its exchange closes with this task.
            if tx.send(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    Sse::new(Receiver(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The events of a channel as a stream.
struct Receiver(mpsc::Receiver<Result<SseEvent, Infallible>>);

impl futures_core::Stream for Receiver {
    type Item = Result<SseEvent, Infallible>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}
