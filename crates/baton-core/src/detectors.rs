//! The detectors a conductor uses, built from configuration — shared with
//! `baton classify`, so a user asking "why was this judged waiting?" gets
//! exactly the conductor's answer.

use baton_config::{AgentConfig, AgentKind, AgentsConfig};
use baton_monitor::input_wait::{InputWaitDetector, Rule};

/// The input-wait detector for one agent: its configured rules first, then
/// the built-in ones. Patterns were validated when the manifest was read; a
/// pattern that still fails to compile is reported here.
pub fn input_wait_detector(agent: &AgentConfig) -> Result<InputWaitDetector, String> {
    let extra = agent
        .input_wait
        .iter()
        .map(|r| {
            regex::Regex::new(&r.pattern)
                .map(|pattern| Rule {
                    name: r.name.clone(),
                    pattern,
                })
                .map_err(|e| format!("input_wait rule `{}`: {e}", r.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(if extra.is_empty() {
        InputWaitDetector::builtin()
    } else {
        InputWaitDetector::with_extra(extra)
    })
}

/// One detector per agent kind.
pub fn input_wait_detectors(
    agents: &AgentsConfig,
) -> Result<Vec<(AgentKind, InputWaitDetector)>, String> {
    AgentKind::ALL
        .iter()
        .map(|kind| Ok((*kind, input_wait_detector(agents.get(*kind))?)))
        .collect()
}
