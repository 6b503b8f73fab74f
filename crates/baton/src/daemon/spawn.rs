//! `spawn`: a session from a client's spec.

use std::collections::HashSet;
use std::path::Path;

use baton_config::{AgentKind, SessionId, SessionSpec};
use baton_core::{Conductor, ConductorError};
use baton_proto::request::Via;
use baton_proto::response::{ErrorKind, Spawned};
use baton_proto::{Response, SpawnOrigin, SpawnSpec};

use super::Daemon;
use super::connection::conductor_error;

/// Tries at picking a free id when another spawn takes it first.
const ID_TRIES: usize = 8;

/// Validates `spec` with the manifest's rules and starts it. No id (or an
/// empty one, as clients before protocol 1.3 sent) means "pick one": the
/// first free `<agent>-<n>`, as a manifest would. A refusal of a spec read
/// from a file names the file and line (`origin`).
pub async fn handle(
    daemon: &Daemon,
    mut spec: SpawnSpec,
    origin: Option<&SpawnOrigin>,
    via: Via,
) -> Response {
    let pick = spec.id.as_deref().is_none_or(str::is_empty);
    for _ in 0..ID_TRIES {
        if pick {
            let taken: HashSet<String> = match daemon.conductor.snapshot().await {
                Ok(table) => table.into_iter().map(|s| s.id).collect(),
                Err(e) => return conductor_error(e),
            };
            let agent = spec.agent.map_or(AgentKind::Command, AgentKind::from);
            spec.id = Some(free_id(agent, &taken));
        }
        let session = match baton_config::check_spawn(
            spec.clone(),
            origin,
            Some(&daemon.hosts),
            Some(&daemon.backends),
        ) {
            Ok(session) => session,
            Err(e) => return Response::error(ErrorKind::BadRequest, e.to_string()),
        };
        match start_saved(
            &daemon.conductor,
            &daemon.logs_dir,
            &daemon.spawn_lock,
            session,
        )
        .await
        {
            Ok(id) => {
                // After the registration, so that a refused spawn leaves
                // no record of a session that never was.
                daemon.conductor.note(
                    Some(id.as_str()),
                    super::control::request_event("spawn", via),
                );
                tracing::info!(session = %id, "spawned");
                return Response::Spawned(Spawned { id: id.to_string() });
            }
            // Another client took the id between our look and our spawn.
            Err(NotStarted::Conductor(ConductorError::DuplicateSession(_))) if pick => continue,
            Err(NotStarted::Conductor(e)) => return conductor_error(e),
            Err(NotStarted::Spec(message)) => return Response::error(ErrorKind::Internal, message),
        }
    }
    Response::error(
        ErrorKind::Internal,
        "could not pick a free session id; give one with --id",
    )
}

/// Why a session was not started.
pub enum NotStarted {
    /// The conductor refused it.
    Conductor(ConductorError),
    /// Its spec could not be saved; nothing was started.
    Spec(String),
}

/// Saves `spec` (so a restarted daemon can continue the session), then
/// starts it. Spawns are serialised by `lock`, so the saved spec of a
/// session that exists is never replaced by another spawn with its id.
pub async fn start_saved(
    conductor: &Conductor,
    logs_dir: &Path,
    lock: &tokio::sync::Mutex<()>,
    spec: SessionSpec,
) -> Result<SessionId, NotStarted> {
    let _serial = lock.lock().await;
    if conductor
        .contains(&spec.id)
        .await
        .map_err(NotStarted::Conductor)?
    {
        return Err(NotStarted::Conductor(ConductorError::DuplicateSession(
            spec.id,
        )));
    }
    super::specs::save(logs_dir, &spec).map_err(NotStarted::Spec)?;
    conductor.spawn(spec).await.map_err(NotStarted::Conductor)
}

/// The first `<agent>-<n>` (n from 1) not in `taken`.
fn free_id(agent: AgentKind, taken: &HashSet<String>) -> String {
    (1u64..)
        .map(|n| format!("{agent}-{n}"))
        .find(|id| !taken.contains(id))
        .unwrap_or_else(|| format!("{agent}-x"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_free_number() {
        let taken = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let cases: &[(AgentKind, &[&str], &str)] = &[
            (AgentKind::Command, &[], "command-1"),
            (AgentKind::Command, &["command-1", "command-2"], "command-3"),
            (AgentKind::Claude, &["claude-2"], "claude-1"),
            (AgentKind::Codex, &["command-1"], "codex-1"),
        ];
        for (agent, ids, want) in cases {
            assert_eq!(free_id(*agent, &taken(ids)), *want);
        }
    }
}
