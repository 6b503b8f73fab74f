//! Claude Code (`@anthropic-ai/claude-code`), headless:
//! `claude -p --output-format stream-json --verbose`; on a terminal,
//! interactive with baton's hooks (`--settings=JSON`, see [`crate::hooks`]).
//! Interactive and offline it checks its connection first, says "Unable to
//! connect to Anthropic services" and exits 1: `network`.
//!
//! Its output is one JSON object per line: `system` (init), `assistant`
//! and `user` messages, and a closing `result` with the answer (`result`),
//! whether it failed (`is_error`), its `usage` and `total_cost_usd`. The
//! raw lines go to the log untouched; baton reads the `result` line for
//! what the run used and, when it failed, what it said.
//!
//! Offline, it retries the API ten times over some three minutes, each a
//! `system`/`api_retry` line with `"error_status":null`; baton calls the
//! run offline at the third.
//!
//! Not logged in, 2.1.x says "Not logged in · Please run /login" (as the
//! assistant message, with `"error":"authentication_failed"`, and as the
//! `result`) and exits 1; an API key it refuses or an OAuth token that
//! expired reads alike. No restart can help until a person logs in.

use baton_config::{AgentKind, AgentsConfig, SessionSpec};
use serde_json::Value;

use crate::{
    Agent, EndClass, Ended, Heard, Hooked, Said, Usage, bin, clean, hooks, json_line, last_line,
    line_with, prompt, tool_name, unknown_flag,
};

/// How long claude lets baton's hook run before it goes on without it
/// (the hook takes milliseconds; this bounds a machine gone wrong).
const HOOK_TIMEOUT_S: u32 = 5;

/// What Claude Code says when it cannot authenticate.
const AUTH: &[&str] = &[
    "Not logged in",
    "Please run /login",
    "Invalid API key",
    "OAuth token has expired",
    "authentication_failed",
];

/// After how many of its API retries without an answer (no HTTP status:
/// the connection itself failed) a run is offline. 2.1.x retries ten
/// times over some three minutes; the third comes about 4 s in.
const OFFLINE_AFTER_RETRIES: u64 = 3;

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

    /// `claude [--model=M] --settings=JSON [-- PROMPT]`: its own screen,
    /// with baton's hooks added for this run (claude merges them with the
    /// user's settings).
    fn interactive_argv(
        &self,
        spec: &SessionSpec,
        agents: &AgentsConfig,
        hook: Option<&str>,
    ) -> Option<Vec<String>> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(model) = &spec.model {
            argv.push(format!("--model={model}"));
        }
        if let Some(hook) = hook {
            let settings = hooks::hook_settings(hooks::CLAUDE_EVENTS, hook, HOOK_TIMEOUT_S);
            argv.push(format!("--settings={settings}"));
        }
        if let Some(prompt) = spec.prompt.as_deref().filter(|p| !p.is_empty()) {
            argv.push("--".into());
            argv.push(prompt.to_owned());
        }
        Some(argv)
    }

    fn hooked(&self, input: &Value) -> Option<Hooked> {
        hooks::claude_hooked(input)
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

    /// Its `system` and `result` lines (both have a `subtype`: its init,
    /// where a run's one turn begins, its API retries, its end) and tool
    /// calls (inside assistant messages).
    fn marks(&self) -> &'static [&'static str] {
        &["\"subtype\":\"", "\"type\":\"tool_use\""]
    }

    /// `system`/`init`: the turn begins; each `tool_use` of an assistant
    /// message: its tool; `system`/`api_retry`: an error it retries; the
    /// `result`: the turn ends, with its `usage` (input with cache writes,
    /// output, cache reads) and `total_cost_usd`, and its text is the
    /// answer (or, `is_error`, why it failed).
    fn read(&self, line: &str, heard: &mut Vec<Heard>) {
        let Some(value) = json_line(line) else { return };
        match (
            value.get("type").and_then(Value::as_str),
            value.get("subtype").and_then(Value::as_str),
        ) {
            (Some("system"), Some("init")) => heard.push(Heard::Said(Said::TurnStarted)),
            (Some("system"), Some("api_retry")) => {
                let n = |key: &str| value.get(key).and_then(Value::as_u64);
                let what = value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                let mut message = match n("error_status") {
                    Some(status) => format!("API {what} ({status})"),
                    None => format!("API {what}"),
                };
                if let (Some(attempt), Some(max)) = (n("attempt"), n("max_retries")) {
                    message.push_str(&format!(", retry {attempt} of {max}"));
                }
                if let Some(ms) = n("retry_delay_ms") {
                    message.push_str(&format!(" in {:.1} s", ms as f64 / 1000.0));
                }
                heard.push(Heard::Said(Said::Error {
                    message: clean(&message),
                    retrying: true,
                }));
                // No answer at all (no HTTP status), again and again: it
                // cannot reach the API, and would go on trying for minutes.
                let attempt = n("attempt").unwrap_or(0);
                let no_answer = value.get("error_status").is_some_and(Value::is_null);
                if no_answer && attempt >= OFFLINE_AFTER_RETRIES {
                    heard.push(Heard::Said(Said::Offline(clean(&format!(
                        "cannot reach the Anthropic API: no answer to {attempt} attempts ({message})"
                    )))));
                }
            }
            (Some("assistant"), _) => {
                let content = value.pointer("/message/content").and_then(Value::as_array);
                for item in content.into_iter().flatten() {
                    if item.get("type").and_then(Value::as_str) == Some("tool_use")
                        && let Some(name) = item.get("name").and_then(Value::as_str)
                    {
                        heard.push(Heard::Said(Said::Tool(tool_name(name))));
                    }
                }
            }
            (Some("result"), _) => {
                let failed = value.get("is_error").and_then(Value::as_bool) == Some(true);
                let text = value.get("result").and_then(Value::as_str);
                if !failed && let Some(text) = text {
                    heard.push(Heard::Answer(text.to_owned()));
                }
                heard.push(Heard::Said(Said::TurnEnded {
                    usage: usage_of(&value),
                    error: failed.then(|| {
                        clean(text.unwrap_or_else(|| {
                            value
                                .get("subtype")
                                .and_then(Value::as_str)
                                .unwrap_or("failed")
                        }))
                    }),
                }));
            }
            _ => {}
        }
    }

    /// An assistant message's last line of text, or the tool it calls;
    /// a result's last line.
    fn status(&self, line: &str) -> Option<String> {
        let value = json_line(line)?;
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

    /// A failed `result`'s text, an assistant message that carries an
    /// `error`, and a `rate_limit_event` whose status is `rejected` (with
    /// the reset it gives, `resetsAt` in seconds since the epoch). Its
    /// `api_retry`s and the rate-limit events it is within say nothing.
    fn failure_words(&self, event: &Value) -> Option<String> {
        match event.get("type").and_then(Value::as_str)? {
            "result" if event.get("is_error").and_then(Value::as_bool) == Some(true) => {
                event.get("result").and_then(Value::as_str).map(clean)
            }
            "assistant" => {
                let error = event.get("error").and_then(Value::as_str)?;
                let text = event
                    .pointer("/message/content/0/text")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                Some(clean(&format!("{error}: {text}")))
            }
            "rate_limit_event" => {
                let info = event.get("rate_limit_info")?;
                if info.get("status").and_then(Value::as_str) != Some("rejected") {
                    return None;
                }
                let kind = info
                    .get("rateLimitType")
                    .and_then(Value::as_str)
                    .unwrap_or("usage");
                let resets = info
                    .get("resetsAt")
                    .and_then(Value::as_i64)
                    .and_then(|s| jiff::Timestamp::from_second(s).ok());
                Some(match resets {
                    Some(at) => format!(
                        "Claude usage limit reached ({kind}); resets at {}",
                        at.strftime("%Y-%m-%dT%H:%M:%SZ")
                    ),
                    None => format!("Claude usage limit reached ({kind})"),
                })
            }
            _ => None,
        }
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
        // Interactive, it checks its connection first and gives up.
        if let Some(evidence) = line_with(output, self.offline_words()) {
            return Some(Ended {
                class: EndClass::Network,
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

/// What a `result` reports it used.
fn usage_of(result: &Value) -> Option<Usage> {
    let usage = result.get("usage")?;
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        input_tokens: count("input_tokens").saturating_add(count("cache_creation_input_tokens")),
        output_tokens: count("output_tokens"),
        cached_tokens: count("cache_read_input_tokens"),
        cost_usd: result
            .get("total_cost_usd")
            .and_then(Value::as_f64)
            .filter(|c| c.is_finite() && *c >= 0.0),
        cost_estimated: false,
    })
}

/// The `result` object a stream-json line holds, if it is one.
fn result_of(line: &str) -> Option<Value> {
    let value = json_line(line)?;
    (value.get("type").and_then(Value::as_str) == Some("result")).then_some(value)
}
