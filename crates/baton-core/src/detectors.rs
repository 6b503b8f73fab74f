//! The detectors a conductor uses, built from configuration — shared with
//! `baton classify`, so a user asking "why was this judged waiting?" gets
//! exactly the conductor's answer.

use baton_config::{AgentConfig, AgentKind, AgentsConfig};
use baton_monitor::input_wait::{InputWaitDetector, Rule};

/// A configured input-wait rule whose pattern does not compile.
#[derive(Debug, thiserror::Error)]
#[error("input_wait rule `{rule}`: {source}")]
pub struct BadRule {
    /// The rule's name.
    pub rule: String,
    /// What the regex compiler said.
    #[source]
    pub source: regex::Error,
}

/// The input-wait detector for one agent: its configured rules first, then
/// the built-in ones. Patterns were validated when the manifest was read; a
/// pattern that still fails to compile (a hand-built config) is reported here.
pub fn input_wait_detector(agent: &AgentConfig) -> Result<InputWaitDetector, BadRule> {
    let extra = agent
        .input_wait
        .iter()
        .map(|r| {
            regex::Regex::new(&r.pattern)
                .map(|pattern| Rule {
                    name: r.name.clone(),
                    pattern,
                })
                .map_err(|source| BadRule {
                    rule: r.name.clone(),
                    source,
                })
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
) -> Result<Vec<(AgentKind, InputWaitDetector)>, BadRule> {
    AgentKind::ALL
        .iter()
        .map(|kind| Ok((*kind, input_wait_detector(agents.get(*kind))?)))
        .collect()
}
