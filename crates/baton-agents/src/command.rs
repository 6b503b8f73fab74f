//! Any program: the session's `command`, run as given. baton knows nothing
//! of what it prints; its exit status alone says how a run ended (and the
//! rate-limit wording every session is read for).

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

use crate::Agent;

/// A `command` session's program.
pub struct Command;

impl Agent for Command {
    fn kind(&self) -> AgentKind {
        AgentKind::Command
    }

    /// The session's `command` (empty for a hand-built spec without one);
    /// its prompt travels in `BATON_PROMPT`, set by the conductor.
    fn argv(&self, spec: &SessionSpec, _agents: &AgentsConfig) -> Vec<String> {
        spec.command.clone().unwrap_or_default()
    }
}
