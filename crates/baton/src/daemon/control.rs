//! The one-answer verbs that act on sessions: `send`, `kill`, `shutdown`,
//! and `accounts`.

use std::sync::Arc;

use baton_accounts::{Broker, BrokerOptions, SystemClock};
use baton_config::SessionId;
use baton_core::eventlog::Event;
use baton_proto::Response;
use baton_proto::request::{Kill, SendInput, Shutdown, Via};
use baton_proto::response::{AccountsReport, Done, ErrorKind};
use tokio::sync::oneshot;

use super::connection::{conductor_error, unknown_session};
use super::{Daemon, ShutdownRequest};

/// Writes `text` and a newline to the session's input. The text is never
/// logged: it may be a secret.
pub async fn send(daemon: &Daemon, req: SendInput) -> Response {
    let Ok(id) = req.id.parse::<SessionId>() else {
        return unknown_session(&req.id);
    };
    if req.text.contains(['\n', '\r', '\0']) {
        return Response::error(
            ErrorKind::BadRequest,
            "the text to send must be one line, without newline, carriage return or NUL",
        );
    }
    if let Err(reply) = note_request(daemon, &id, "send", req.via).await {
        return reply;
    }
    let mut bytes = req.text.into_bytes();
    bytes.push(b'\n');
    let source = match req.via {
        Via::Cli => "user",
        other => other.as_str(),
    };
    match daemon
        .conductor
        .send_input(&id, bytes, req.if_waiting, source)
        .await
    {
        Ok(()) => Response::Done(Done {}),
        Err(e) => conductor_error(e),
    }
}

/// Stops one session; answered once its process group is gone.
pub async fn kill(daemon: &Daemon, req: Kill) -> Response {
    let Ok(id) = req.id.parse::<SessionId>() else {
        return unknown_session(&req.id);
    };
    if let Err(reply) = note_request(daemon, &id, "kill", req.via).await {
        return reply;
    }
    match daemon.conductor.kill(&id).await {
        Ok(()) => {
            tracing::info!(session = %id, "killed on request");
            Response::Done(Done {})
        }
        Err(e) => conductor_error(e),
    }
}

/// Records who asks for `verb` on session `id`, before it is carried out;
/// the reply for an unknown session instead.
async fn note_request(
    daemon: &Daemon,
    id: &SessionId,
    verb: &str,
    via: Via,
) -> Result<(), Response> {
    match daemon.conductor.contains(id).await {
        Ok(true) => {
            daemon
                .conductor
                .note(Some(id.as_str()), request_event(verb, via));
            Ok(())
        }
        Ok(false) => Err(unknown_session(id.as_str())),
        Err(e) => Err(conductor_error(e)),
    }
}

/// The `request` record for `verb` asked by a `via` client.
pub fn request_event(verb: &str, via: Via) -> Event {
    Event::Request {
        verb: verb.to_owned(),
        via: via.as_str().to_owned(),
    }
}

/// Hands the shutdown to the main loop, which owns the daemon's exit, and
/// answers once every session has stopped.
pub async fn shutdown(daemon: &Daemon, req: Shutdown) -> Response {
    let (done, answer) = oneshot::channel();
    let request = ShutdownRequest {
        force: req.force,
        done,
    };
    if daemon.shutdowns.send(request).is_err() {
        // The main loop has finished stopping: what was asked is done.
        return Response::Done(Done {});
    }
    match answer.await {
        Ok(Ok(())) | Err(_) => Response::Done(Done {}),
        Ok(Err(e)) => Response::error(ErrorKind::Internal, e),
    }
}

/// The account broker's state, read from its shared state directory.
pub async fn accounts(daemon: &Daemon) -> Response {
    if daemon.accounts.accounts.is_empty() {
        return Response::error(ErrorKind::Refused, "this daemon's config has no [accounts]");
    }
    let config = daemon.accounts.clone();
    let status = tokio::task::spawn_blocking(move || {
        let broker = Broker::open(config, Arc::new(SystemClock), BrokerOptions::default())
            .map_err(|e| e.to_string())?;
        let status = broker.status().map_err(|e| e.to_string())?;
        serde_json::to_value(status).map_err(|e| e.to_string())
    })
    .await;
    match status {
        Ok(Ok(status)) => Response::Accounts(AccountsReport { status }),
        Ok(Err(e)) => Response::error(ErrorKind::Internal, format!("account broker: {e}")),
        Err(e) => Response::error(ErrorKind::Internal, format!("account broker: {e}")),
    }
}
