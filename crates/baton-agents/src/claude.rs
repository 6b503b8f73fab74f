//! Claude Code (`@anthropic-ai/claude-code`), headless: `claude -p`.
//!
//! Not logged in, it prints one line — "Not logged in · Please run /login"
//! (2.1.x) — and exits 1; an API key it refuses or an OAuth token that
//! expired reads alike. No restart can help until a person logs in.

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

use crate::{Agent, EndClass, Ended, bin, line_with, prompt, unknown_flag};

/// What Claude Code says when it cannot authenticate.
const AUTH: &[&str] = &[
    "Not logged in",
    "Please run /login",
    "Invalid API key",
    "OAuth token has expired",
    "authentication_failed",
];

/// Claude Code.
pub struct Claude;

impl Agent for Claude {
    fn kind(&self) -> AgentKind {
        AgentKind::Claude
    }

    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(model) = &spec.model {
            argv.push(format!("--model={model}"));
        }
        argv.extend(["-p".to_owned(), "--".to_owned(), prompt(spec)]);
        argv
    }

    /// What 2.1.x shows when it cannot resolve or reach its API.
    fn offline_words(&self) -> &'static [&'static str] {
        &[
            "Unable to connect to Anthropic services",
            "Failed to connect to api.anthropic.com",
        ]
    }

    fn ended(&self, exit_code: Option<i32>, output: &[u8]) -> Option<Ended> {
        if exit_code == Some(0) {
            return None;
        }
        if let Some(line) = line_with(output, AUTH) {
            return Some(Ended {
                class: EndClass::AuthRequired,
                evidence: line,
            });
        }
        // commander.js, as 2.1.x prints it: "error: unknown option '--x'".
        unknown_flag(
            output,
            &["error: unknown option"],
            "@anthropic-ai/claude-code",
        )
    }
}
