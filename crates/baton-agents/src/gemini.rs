//! Gemini CLI (`@google/gemini-cli`), headless:
//! `gemini --output-format stream-json --prompt=P`; on a terminal,
//! interactive (`--prompt-interactive=P`), its hooks in its run's system
//! defaults file (see [`crate::hooks::gemini_settings`]).
//!
//! Its stdout is one event per line: `init` (the turn begins), `message`
//! (the user's prompt, then the assistant's answer in `delta` pieces),
//! `tool_use` (`tool_name`, `parameters`), `tool_result`, `error`
//! (`severity`, `message`) and a closing `result` (`status`, `error`, and
//! `stats`: `input_tokens` (the prompt, cached part included), `cached`,
//! `input` (the part not cached), `output_tokens`, no cost).
//!
//! `--skip-trust` trusts the session's workdir for this run: in a folder
//! it does not trust, gemini 0.61 turns `--yolo` back into asking for
//! approval (which nobody answers headless) or refuses to run at all
//! (exit 55). Without an auth method it exits 41 ("Please set an Auth
//! method in …/settings.json or specify one of the following environment
//! variables …: GEMINI_API_KEY, …"). Offline, 0.61 retries with backoff
//! for minutes, saying on stderr "Attempt N failed. Retrying with
//! backoff... Error: exception TypeError: fetch failed sending request".

use baton_config::{AgentKind, AgentsConfig, SessionSpec};

use serde_json::Value;

use crate::{
    Agent, EndClass, Ended, Heard, HookFile, Hooked, HostHookFile, Said, Usage, bin, clean, hooks,
    json_line, last_line, line_with, prompt, tool_name, unknown_flag,
};

/// The variable that names gemini's system defaults settings file: the
/// lowest layer of its settings, where baton's hooks go for one run.
pub const DEFAULTS_ENV: &str = "GEMINI_CLI_SYSTEM_DEFAULTS_PATH";
/// Where gemini reads system defaults when [`DEFAULTS_ENV`] is unset.
const DEFAULTS_FILE: &str = "/etc/gemini-cli/system-defaults.json";
/// How long gemini lets baton's hook run, in milliseconds.
const HOOK_TIMEOUT_MS: u32 = 5000;

/// The defaults file a run's environment names.
fn named_defaults(env: &[(String, String)]) -> Option<&str> {
    env.iter()
        .rev()
        .find(|(k, _)| k == DEFAULTS_ENV)
        .map(|(_, v)| v.as_str())
}

/// gemini's exit code for a missing or rejected auth method.
const EXIT_AUTH: i32 = 41;
/// gemini's exit code for a headless run in a folder it does not trust.
const EXIT_UNTRUSTED: i32 = 55;

/// Gemini CLI.
pub struct Gemini;

impl Agent for Gemini {
    fn kind(&self) -> AgentKind {
        AgentKind::Gemini
    }

    fn argv(&self, spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(model) = &spec.model {
            argv.push(format!("--model={model}"));
        }
        argv.extend(
            ["--yolo", "--skip-trust", "--output-format", "stream-json"].map(str::to_owned),
        );
        argv.push(format!("--prompt={}", prompt(spec)));
        argv
    }

    /// `gemini [--model=M] --skip-trust [--prompt-interactive=PROMPT]`: its
    /// own screen; tools it wants to run are asked for there (no
    /// `--yolo`). Its hooks come from a settings file ([`Agent::hook_file`]).
    fn interactive_argv(
        &self,
        spec: &SessionSpec,
        agents: &AgentsConfig,
        _hook: Option<&str>,
    ) -> Option<Vec<String>> {
        let mut argv = vec![bin(spec, agents)];
        if let Some(model) = &spec.model {
            argv.push(format!("--model={model}"));
        }
        argv.push("--skip-trust".into());
        if let Some(prompt) = spec.prompt.as_deref().filter(|p| !p.is_empty()) {
            argv.push(format!("--prompt-interactive={prompt}"));
        }
        Some(argv)
    }

    /// Its system defaults with baton's hooks added: the defaults file the
    /// run would read (its [`DEFAULTS_ENV`], else the system's), hook lists
    /// concatenated. `None` when that file exists and is not JSON baton
    /// can extend: an administrator's defaults are never dropped.
    fn hook_file(&self, hook: &str, env: &[(String, String)]) -> Option<HookFile> {
        let named = named_defaults(env)
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os(DEFAULTS_ENV).map(std::path::PathBuf::from))
            .unwrap_or_else(|| DEFAULTS_FILE.into());
        let defaults = match std::fs::read_to_string(&named) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(_) => return None,
        };
        let contents = hooks::gemini_settings(defaults.as_deref(), hook, HOOK_TIMEOUT_MS)?;
        Some(HookFile {
            env: DEFAULTS_ENV,
            contents,
        })
    }

    /// The run's own [`DEFAULTS_ENV`] (not this machine's: the host's login
    /// environment is not known here), else the system's place.
    fn host_hook_file(&self, hook: &str, env: &[(String, String)]) -> Option<HostHookFile> {
        Some(HostHookFile {
            file: HookFile {
                env: DEFAULTS_ENV,
                contents: hooks::gemini_settings(None, hook, HOOK_TIMEOUT_MS)?,
            },
            stands_for: named_defaults(env).unwrap_or(DEFAULTS_FILE).to_owned(),
        })
    }

    fn hooks_in_a_file(&self) -> bool {
        true
    }

    fn hooked(&self, input: &Value) -> Option<Hooked> {
        hooks::gemini_hooked(input)
    }

    /// Its second failed attempt to reach the API at all (the network,
    /// not an answer the API gave): it would go on retrying for minutes.
    fn offline_words(&self) -> &'static [&'static str] {
        &["Attempt 2 failed. Retrying with backoff... Error: exception TypeError: fetch failed"]
    }

    fn structured(&self) -> bool {
        true
    }

    /// Every event it writes: each is read (its answer comes in pieces).
    fn marks(&self) -> &'static [&'static str] {
        &["{\"type\":\""]
    }

    /// `init`: the turn begins; the assistant's `message` pieces: its
    /// answer; `tool_use`: its tool; `error`: what it warned of; `result`:
    /// the turn ends, with its `stats` and, `status: "error"`, its error.
    fn read(&self, line: &str, heard: &mut Vec<Heard>) {
        let Some(event) = json_line(line) else { return };
        match event.get("type").and_then(Value::as_str) {
            Some("init") => heard.push(Heard::Said(Said::TurnStarted)),
            Some("message") => {
                if event.get("role").and_then(Value::as_str) == Some("assistant")
                    && let Some(text) = event.get("content").and_then(Value::as_str)
                {
                    heard.push(Heard::AnswerPart(text.to_owned()));
                }
            }
            Some("tool_use") => {
                if let Some(name) = event.get("tool_name").and_then(Value::as_str) {
                    heard.push(Heard::Said(Said::Tool(tool_name(name))));
                }
            }
            Some("error") => {
                if let Some(message) = event.get("message").and_then(Value::as_str) {
                    heard.push(Heard::Said(Said::Error {
                        message: clean(message),
                        retrying: false,
                    }));
                }
            }
            Some("result") => {
                let failed = event.get("status").and_then(Value::as_str) == Some("error");
                heard.push(Heard::Said(Said::TurnEnded {
                    usage: event.get("stats").map(usage_of),
                    error: failed.then(|| {
                        clean(
                            event
                                .pointer("/error/message")
                                .and_then(Value::as_str)
                                .unwrap_or("the turn failed"),
                        )
                    }),
                }));
            }
            _ => {}
        }
    }

    /// The last line of what the assistant said, or the tool it calls.
    fn status(&self, line: &str) -> Option<String> {
        let event = json_line(line)?;
        match event.get("type").and_then(Value::as_str)? {
            "message" if event.get("role").and_then(Value::as_str) == Some("assistant") => {
                last_line(event.get("content")?.as_str()?)
            }
            "tool_use" => Some(format!("→ {}", event.get("tool_name")?.as_str()?)),
            _ => None,
        }
    }

    /// An `error` event's message, a failed `result`'s error.
    fn failure_words(&self, event: &Value) -> Option<String> {
        let text = match event.get("type").and_then(Value::as_str)? {
            "error" => event.get("message"),
            "result" => event.pointer("/error/message"),
            _ => None,
        };
        text.and_then(Value::as_str).map(clean)
    }

    fn ended(&self, exit_code: Option<i32>, output: &[u8]) -> Option<Ended> {
        // yargs, as 0.61 prints it: "Unknown arguments: x, y" (exit 1).
        if exit_code != Some(0)
            && let Some(refused) = unknown_flag(output, &["Unknown argument"], "@google/gemini-cli")
        {
            return Some(refused);
        }
        let (class, needles, said): (_, &[&str], _) = match exit_code? {
            EXIT_AUTH => (
                EndClass::AuthRequired,
                &["Auth method", "GEMINI_API_KEY", "API key"],
                "gemini exited 41: no auth method (set GEMINI_API_KEY or log in)",
            ),
            EXIT_UNTRUSTED => (
                EndClass::UntrustedFolder,
                &["trust"],
                "gemini exited 55: the folder is not trusted (run with --skip-trust)",
            ),
            _ => return None,
        };
        Some(Ended {
            class,
            evidence: line_with(output, needles).unwrap_or_else(|| said.to_owned()),
        })
    }
}

/// What a `result`'s `stats` say the run used.
fn usage_of(stats: &Value) -> Usage {
    let count = |key: &str| stats.get(key).and_then(Value::as_u64);
    let cached = count("cached").unwrap_or(0);
    let prompt = count("input_tokens").unwrap_or(0);
    Usage {
        input_tokens: count("input").unwrap_or_else(|| prompt.saturating_sub(cached)),
        output_tokens: count("output_tokens").unwrap_or(0),
        cached_tokens: cached,
        cost_usd: None,
        cost_estimated: false,
    }
}
