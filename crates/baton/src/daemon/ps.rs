//! `ps`: the session table, optionally only the live sessions with a capability.

use std::collections::HashSet;

use baton_proto::Response;
use baton_proto::request::Ps;
use baton_proto::response::Sessions;

use super::Daemon;
use super::connection::conductor_error;

pub async fn handle(daemon: &Daemon, req: Ps) -> Response {
    // Read before the table: every record up to it is reflected there.
    let seq = Some(daemon.conductor.last_seq()).filter(|seq| *seq > 0);
    let mut sessions = match daemon.conductor.snapshot().await {
        Ok(sessions) => sessions,
        Err(e) => return conductor_error(e),
    };
    if let Some(capability) = &req.capability {
        // The registry answers for live sessions only; ask it rather than
        // filtering here, so `ps --capability` and the registry agree.
        let ids: HashSet<String> = match daemon.conductor.with_capability(capability).await {
            Ok(ids) => ids.into_iter().collect(),
            Err(e) => return conductor_error(e),
        };
        sessions.retain(|s| ids.contains(&s.id));
    }
    // Read after the table, whose records were all written before it was
    // answered: none after this one is reflected there.
    let seq_end = Some(daemon.conductor.last_seq()).filter(|seq| *seq > 0);
    Response::Sessions(Sessions {
        sessions,
        seq,
        seq_end,
    })
}
