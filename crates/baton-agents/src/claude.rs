//! Claude Code (`@anthropic-ai/claude-code`), headless:
//! `claude -p --output-format stream-json --verbose`.
//!
//! Its output is one JSON object per line: `system` (init), `assistant`
//! and `user` messages, and a closing `result` with the answer (`result`),
//! whether it failed (`is_error`), its `usage` and `total_cost_usd`. The
//! raw lines go to the log untouched; baton reads the `result` line for
//! what the run used and, when it failed, what it said.
//!
//! Not logged in, 2.1.x says "Not logged in · Please run /login" (as the
//! assistant message, with `"error":"authentication_failed"`, and as the
//! `result`) and exits 1; an API key it refuses or an OAuth token that
//! expired reads alike. No restart can help until a person logs in.

use baton_config::{AgentKind, AgentsConfig, SessionSpec};
use serde_json::Value;

use crate::{Agent, EndClass, Ended, Usage, bin, clean, line_with, prompt, unknown_flag};

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
        argv.extend(["-p", "--output-format", "stream-json", "--verbose", "--"].map(str::to_owned));
        argv.push(prompt(spec));
        argv
    }

    /// What 2.1.x shows when it cannot resolve or reach its API.
    fn offline_words(&self) -> &'static [&'static str] {
        &[
            "Unable to connect to Anthropic services",
            "Failed to connect to api.anthropic.com",
        ]
    }

    fn structured(&self) -> bool {
        true
    }

    fn answer_marks(&self) -> &'static [&'static str] {
        &["\"result\""]
    }

    /// A `result` line's `usage` (input with cache writes, output, cache
    /// reads) and `total_cost_usd`.
    fn usage(&self, line: &str) -> Option<Usage> {
        let result = result_of(line)?;
        let usage = result.get("usage")?;
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            input_tokens: count("input_tokens")
                .saturating_add(count("cache_creation_input_tokens")),
            output_tokens: count("output_tokens"),
            cached_tokens: count("cache_read_input_tokens"),
            cost_usd: result
                .get("total_cost_usd")
                .and_then(Value::as_f64)
                .filter(|c| c.is_finite() && *c >= 0.0),
        })
    }

    /// An assistant message's last line of text, or the tool it calls;
    /// a result's last line.
    fn status(&self, line: &str) -> Option<String> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let value: Value = serde_json::from_str(line).ok()?;
        let last_line = |text: &str| {
            text.lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        };
        match value.get("type").and_then(Value::as_str)? {
            "assistant" => {
                let content = value.pointer("/message/content")?.as_array()?;
                content.iter().rev().find_map(|item| {
                    match item.get("type").and_then(Value::as_str)? {
                        "text" => last_line(item.get("text")?.as_str()?),
                        "tool_use" => Some(format!("→ {}", item.get("name")?.as_str()?)),
                        _ => None,
                    }
                })
            }
            "result" => last_line(value.get("result")?.as_str()?),
            _ => None,
        }
    }

    /// A `result` that did not fail: its `result` text.
    fn final_answer(&self, line: &str) -> Option<String> {
        let result = result_of(line)?;
        if result.get("is_error").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        result
            .get("result")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn ended(&self, exit_code: Option<i32>, output: &[u8]) -> Option<Ended> {
        if exit_code == Some(0) {
            return None;
        }
        // The failed result's own text, else any line that says it.
        let said = String::from_utf8_lossy(output)
            .lines()
            .rev()
            .filter_map(result_of)
            .find(|r| r.get("is_error").and_then(Value::as_bool) == Some(true))
            .and_then(|r| r.get("result").and_then(Value::as_str).map(clean));
        let auth = match said {
            Some(text) if AUTH.iter().any(|w| text.contains(w)) => Some(text),
            _ => line_with(output, &AUTH[..4]),
        };
        if let Some(evidence) = auth {
            return Some(Ended {
                class: EndClass::AuthRequired,
                evidence,
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

/// The `result` object a stream-json line holds, if it is one.
fn result_of(line: &str) -> Option<Value> {
    let line = line.trim();
    if !line.starts_with('{') || !line.contains("\"result\"") {
        return None;
    }
    let value: Value = serde_json::from_str(line).ok()?;
    (value.get("type").and_then(Value::as_str) == Some("result")).then_some(value)
}
