//! OpenAI Codex CLI (`@openai/codex`), headless: `codex exec --json`, and
//! what it needs of its own configuration before a session may start it.
//!
//! With `--json` its stdout is one event per line: `thread.started`,
//! `turn.started`, `item.started`/`item.completed` (an `agent_message` with
//! its `text`, a `command_execution`, a `file_change`…), `turn.completed`
//! with the turn's `usage` (`input_tokens`, of which `cached_input_tokens`,
//! and `output_tokens`; no cost), `turn.failed` and `error` (offline:
//! `{"type":"error","message":"Reconnecting... waiting for network (…)"}`).
//!
//! codex 0.17x layers `--profile P` from `$CODEX_HOME/P.config.toml` and
//! ignores a missing file silently (the session runs without the settings
//! its author meant), refuses a legacy `[profiles.P]` table or `profile =`
//! selector in `config.toml`, and exits 1 ("invalid transport") when
//! `-c mcp_servers.NAME.enabled=true` names a server `config.toml` does not
//! define. Each would look like a crash and be restarted for nothing; a
//! session checks them first and fails with a message that says which file
//! or table is missing.

use std::path::{Path, PathBuf};

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

use serde_json::Value;

use crate::{
    Agent, Ended, Heard, Preflight, Said, Usage, bin, clean, hooks, json_line, last_line, prompt,
    tool_name, unknown_flag,
};

/// How long codex lets baton's hook run, in seconds.
const HOOK_TIMEOUT_S: u32 = 5;

/// `spec`'s model and the MCP servers it turns on, as codex's flags.
fn model_and_servers(spec: &SessionSpec) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(model) = &spec.model {
        flags.push(format!("--model={model}"));
    }
    for server in &spec.mcp_servers {
        flags.extend([
            "-c".to_owned(),
            format!("mcp_servers.{server}.enabled=true"),
        ]);
    }
    flags
}

/// The event of type `kind` a `--json` line holds, if it is one.
fn event_of(line: &str, kind: &str) -> Option<Value> {
    if !line.contains(kind) {
        return None;
    }
    let value = json_line(line)?;
    (value.get("type").and_then(Value::as_str) == Some(kind)).then_some(value)
}

/// Codex CLI.
pub struct Codex;

impl Agent for Codex {
    fn kind(&self) -> AgentKind {
        AgentKind::Codex
    }

    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(profile) = &spec.profile {
            argv.push(format!("--profile={profile}"));
        }
        argv.extend(
            [
                "exec",
                "--json",
                "--dangerously-bypass-approvals-and-sandbox",
                "--skip-git-repo-check",
                "--color",
                "never",
            ]
            .map(str::to_owned),
        );
        argv.extend(model_and_servers(spec));
        argv.extend(["--".to_owned(), prompt(spec)]);
        argv
    }

    /// `codex [--profile=P] [--model=M] [-c mcp_servers.S.enabled=true]…
    /// --dangerously-bypass-hook-trust -c hooks.EVENT=[…]… [-- PROMPT]`: its
    /// own screen, with baton's hooks as session flags. codex runs hooks
    /// it has not reviewed only with `--dangerously-bypass-hook-trust`,
    /// which lifts review for every hook of the run, the user's too: so
    /// only when the user asks (`[agents.codex] hooks = true`; without
    /// hooks codex runs headless, as its argv says).
    fn interactive_argv(
        &self,
        spec: &SessionSpec,
        agents: &AgentsConfig,
        hook: Option<&str>,
    ) -> Option<Vec<String>> {
        let hook = hook?;
        let mut argv = vec![bin(spec, agents)];
        if let Some(profile) = &spec.profile {
            argv.push(format!("--profile={profile}"));
        }
        argv.extend(model_and_servers(spec));
        argv.push("--dangerously-bypass-hook-trust".into());
        argv.extend(hooks::codex_hook_flags(hook, HOOK_TIMEOUT_S));
        if let Some(prompt) = spec.prompt.as_deref().filter(|p| !p.is_empty()) {
            argv.push("--".into());
            argv.push(prompt.to_owned());
        }
        Some(argv)
    }

    fn hooks_by_default(&self) -> bool {
        false
    }

    /// Its hook inputs are claude's, event for event.
    fn hooked(&self, input: &Value) -> Option<crate::Hooked> {
        hooks::claude_hooked(input)
    }

    /// clap, as 0.171 prints it: "error: unexpected argument '--x' found"
    /// (exit 2).
    fn ended(&self, exit_code: Option<i32>, output: &[u8]) -> Option<Ended> {
        if exit_code == Some(0) {
            return None;
        }
        unknown_flag(output, &["error: unexpected argument"], "@openai/codex")
    }

    /// codex 0.171 offline retries five times, then prints this line every
    /// few seconds and never exits.
    fn offline_words(&self) -> &'static [&'static str] {
        &["Reconnecting... waiting for network"]
    }

    fn structured(&self) -> bool {
        true
    }

    fn marks(&self) -> &'static [&'static str] {
        &["\"type\":\"turn.", "\"type\":\"item.", "\"type\":\"error\""]
    }

    /// `turn.started`; `turn.completed` with its usage (its cached tokens
    /// apart) or `turn.failed` with its error; a tool as its item starts (a
    /// command, an MCP tool) or completes (a file change, a web search: they
    /// have no start); a completed agent message, the answer so far; an
    /// `error` event ("Reconnecting... 2/5 (…)": it retries).
    fn read(&self, line: &str, heard: &mut Vec<Heard>) {
        let Some(event) = json_line(line) else { return };
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return;
        };
        match kind {
            "turn.started" => heard.push(Heard::Said(Said::TurnStarted)),
            "turn.completed" => heard.push(Heard::Said(Said::TurnEnded {
                usage: event.get("usage").map(|usage| {
                    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
                    let cached = count("cached_input_tokens");
                    Usage {
                        input_tokens: count("input_tokens").saturating_sub(cached),
                        output_tokens: count("output_tokens"),
                        cached_tokens: cached,
                        cost_usd: None,
                        cost_estimated: false,
                    }
                }),
                error: None,
            })),
            "turn.failed" => heard.push(Heard::Said(Said::TurnEnded {
                usage: None,
                error: Some(clean(
                    event
                        .pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("the turn failed"),
                )),
            })),
            "error" => {
                let message = event
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                heard.push(Heard::Said(Said::Error {
                    message: clean(message),
                    retrying: message.starts_with("Reconnecting"),
                }));
            }
            "item.started" | "item.completed" => {
                let Some(item) = event.get("item") else {
                    return;
                };
                let started = kind == "item.started";
                match (item.get("type").and_then(Value::as_str), started) {
                    (Some("agent_message"), false) => {
                        if let Some(text) = item.get("text").and_then(Value::as_str) {
                            heard.push(Heard::Answer(text.to_owned()));
                        }
                    }
                    (Some("command_execution"), true) => {
                        heard.push(Heard::Said(Said::Tool("command".into())));
                    }
                    (Some("mcp_tool_call"), true) => {
                        let name = match (
                            item.get("server").and_then(Value::as_str),
                            item.get("tool").and_then(Value::as_str),
                        ) {
                            (Some(server), Some(tool)) => format!("{server}.{tool}"),
                            (None, Some(tool)) => tool.to_owned(),
                            _ => "mcp tool".to_owned(),
                        };
                        heard.push(Heard::Said(Said::Tool(tool_name(&name))));
                    }
                    (Some(other @ ("file_change" | "web_search")), false) => {
                        heard.push(Heard::Said(Said::Tool(other.to_owned())));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// An agent message's last line, or what kind of item it works on
    /// (never the command or its input).
    fn status(&self, line: &str) -> Option<String> {
        let item = event_of(line, "item.started")
            .or_else(|| event_of(line, "item.completed"))?
            .get("item")?
            .clone();
        match item.get("type").and_then(Value::as_str)? {
            "agent_message" => last_line(item.get("text")?.as_str()?),
            "reasoning" | "error" => None,
            "command_execution" => Some("→ command".into()),
            "file_change" => Some("→ file change".into()),
            "mcp_tool_call" => Some(format!(
                "→ {}",
                item.get("tool").and_then(Value::as_str).unwrap_or("tool")
            )),
            other => Some(format!("→ {}", other.replace('_', " "))),
        }
    }

    /// An `error` event's message, a failed turn's error, an `error` item.
    fn failure_words(&self, event: &Value) -> Option<String> {
        let text = match event.get("type").and_then(Value::as_str)? {
            "error" => event.get("message"),
            "turn.failed" => event.pointer("/error/message"),
            "item.completed" if event.pointer("/item/type") == Some(&Value::from("error")) => {
                event.pointer("/item/message")
            }
            _ => None,
        };
        text.and_then(Value::as_str).map(clean)
    }

    /// The profile and MCP servers a local session names must be in
    /// `$CODEX_HOME` (the session's `CODEX_HOME`, else the conductor's).
    fn preflight(&self, spec: &SessionSpec, env: &[(String, String)]) -> Option<Preflight> {
        if spec.is_remote() || (spec.profile.is_none() && spec.mcp_servers.is_empty()) {
            return None;
        }
        let set = env
            .iter()
            .rev()
            .find(|(k, _)| k == "CODEX_HOME")
            .map(|(_, v)| v.as_str());
        let home = codex_home(set)?;
        let profile = spec.profile.clone();
        let mcp_servers = spec.mcp_servers.clone();
        Some(Preflight::new(move || {
            codex_config_problem(&home, profile.as_deref(), &mcp_servers)
        }))
    }
}

/// `$CODEX_HOME`: `codex_home` from the session's environment, else the
/// process's, else `~/.codex`.
pub fn codex_home(session_env: Option<&str>) -> Option<PathBuf> {
    if let Some(home) = session_env.filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    if let Some(home) = std::env::var_os("CODEX_HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".codex"))
}

/// Why codex would not run `profile` with `mcp_servers` from `home`, or
/// `None` when it would.
pub fn codex_config_problem(
    home: &Path,
    profile: Option<&str>,
    mcp_servers: &[String],
) -> Option<String> {
    let config_path = home.join("config.toml");
    let config: toml::Table = match std::fs::read_to_string(&config_path) {
        Ok(text) => match text.parse() {
            Ok(table) => table,
            Err(e) => {
                return Some(format!(
                    "codex cannot read {}: {}",
                    config_path.display(),
                    e.message()
                ));
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Some(format!("cannot read {}: {e}", config_path.display())),
    };
    if let Some(profile) = profile {
        let legacy = config
            .get("profiles")
            .and_then(|p| p.as_table())
            .is_some_and(|p| p.contains_key(profile))
            || config.get("profile").and_then(|p| p.as_str()) == Some(profile);
        if legacy {
            return Some(format!(
                "codex profile `{profile}` is a legacy `[profiles.{profile}]` table or `profile = \"{profile}\"` in {}, which codex refuses; move its settings to {}",
                config_path.display(),
                home.join(format!("{profile}.config.toml")).display()
            ));
        }
        let file = home.join(format!("{profile}.config.toml"));
        if !file.is_file() {
            return Some(format!(
                "codex profile `{profile}`: {} does not exist (codex would run without it, silently); create it or drop `profile`",
                file.display()
            ));
        }
    }
    let servers = config.get("mcp_servers").and_then(|s| s.as_table());
    if let Some(missing) = mcp_servers
        .iter()
        .find(|name| !servers.is_some_and(|s| s.contains_key(name.as_str())))
    {
        return Some(format!(
            "codex MCP server `{missing}` is not defined in {} (add a [mcp_servers.{missing}] table there, or drop it from `mcp_servers`)",
            config_path.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_codex_would_refuse_or_ignore_is_named() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let servers = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Nothing asked, nothing needed: also without a config.toml.
        assert_eq!(codex_config_problem(h, None, &[]), None);
        let err = codex_config_problem(h, Some("work"), &[]).unwrap();
        assert!(
            err.contains("work.config.toml") && err.contains("does not exist"),
            "{err}"
        );
        std::fs::write(h.join("work.config.toml"), "model = \"o3\"\n").unwrap();
        assert_eq!(codex_config_problem(h, Some("work"), &[]), None);
        let err = codex_config_problem(h, None, &servers(&["github"])).unwrap();
        assert!(
            err.contains("`github`") && err.contains("[mcp_servers.github]"),
            "{err}"
        );
        std::fs::write(
            h.join("config.toml"),
            "[mcp_servers.github]\ncommand = \"gh-mcp\"\n\n[profiles.work]\nmodel = \"o3\"\n",
        )
        .unwrap();
        assert_eq!(codex_config_problem(h, None, &servers(&["github"])), None);
        let err = codex_config_problem(h, Some("work"), &[]).unwrap();
        assert!(
            err.contains("legacy") && err.contains("[profiles.work]"),
            "{err}"
        );
        std::fs::write(h.join("config.toml"), "not = [toml").unwrap();
        let err = codex_config_problem(h, None, &[]).unwrap();
        assert!(err.contains("cannot read"), "{err}");
    }
}
