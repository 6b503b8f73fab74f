//! What a CLI's hooks say: a CLI run on a terminal (PTY, tmux, remote) is
//! interactive, and its screen alone cannot tell "asks leave to run a
//! tool" from "asked a question" from "finished its turn". Its hooks can:
//! baton installs, for one run only, a hook on each event that matters,
//! running `baton-shim hook`, which passes the hook's input to the
//! conductor. [`Agent::hooked`](crate::Agent::hooked) reads that input.

use baton_proto::WaitKind;
use serde_json::Value;

use crate::{clean, shown};

/// What one hook call said of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Hooked {
    /// The hooks work; nothing else changed (its session started, a
    /// notification of no consequence).
    Alive,
    /// It waits for a person: for what, and the evidence shown (never a
    /// secret: a tool's name and what it works on, a question's text).
    Waits {
        /// Permission, a question, or its turn is over.
        kind: WaitKind,
        /// What it waits on, one clean line.
        evidence: String,
    },
    /// It works (again): a prompt was submitted, a tool starts or ended.
    Works {
        /// The state reason: `prompt_submitted`, `tool_started`, `tool_done`.
        reason: &'static str,
    },
    /// Its turn failed; the CLI itself stays up, waiting for a person.
    Failed {
        /// What kind of failure it said.
        failure: HookFailure,
        /// Its words.
        words: String,
    },
}

/// The turn failures a hook can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFailure {
    /// Its account ran into a rate limit: cool it down, rotate.
    RateLimited,
    /// It cannot authenticate: no restart helps until a person logs in.
    AuthRequired,
    /// Anything else (billing, a server error…): recorded; it waits.
    Other,
}

/// A settings file a CLI reads its hooks from, named by a variable of its
/// environment: baton writes it for the run (private to its user) and
/// points the variable at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFile {
    /// The variable that names the file.
    pub env: &'static str,
    /// The file's contents.
    pub contents: String,
}

/// A [`HookFile`] to write on a host ([`crate::Agent::host_hook_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostHookFile {
    /// The file, with baton's hooks alone.
    pub file: HookFile,
    /// The file the CLI reads there without it: when the host has one, it
    /// is not replaced (and the run has no hooks of baton's).
    pub stands_for: String,
}

/// The events a hook is installed for (claude's names), with what each
/// tells baton. Installed without a matcher: every tool, every
/// notification.
pub const CLAUDE_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Elicitation",
    "Stop",
    "StopFailure",
];

/// The settings (claude's `--settings` JSON) that run `command` (a shell
/// command line: the hook runs it through a shell) on each of `events`,
/// within `timeout_s` seconds. Merged by the CLI with the user's own
/// settings; nothing is written to their files.
pub fn hook_settings(events: &[&str], command: &str, timeout_s: u32) -> String {
    let hook = serde_json::json!([{
        "hooks": [{ "type": "command", "command": command, "timeout": timeout_s }]
    }]);
    let hooks: serde_json::Map<String, Value> = events
        .iter()
        .map(|event| ((*event).to_owned(), hook.clone()))
        .collect();
    serde_json::json!({ "hooks": hooks }).to_string()
}

/// What a claude hook's input says (`hook_event_name` and the fields its
/// event has).
pub(crate) fn claude_hooked(input: &Value) -> Option<Hooked> {
    let text = |key: &str| input.get(key).and_then(Value::as_str);
    let event = text("hook_event_name")?;
    Some(match event {
        "SessionStart" | "SessionEnd" => Hooked::Alive,
        "UserPromptSubmit" => Hooked::Works {
            reason: "prompt_submitted",
        },
        "PreToolUse" => {
            let tool = text("tool_name").unwrap_or_default();
            let args = input.get("tool_input").unwrap_or(&Value::Null);
            match question_of(tool, args) {
                Some(question) => Hooked::Waits {
                    kind: WaitKind::Question,
                    evidence: question,
                },
                None => Hooked::Works {
                    reason: "tool_started",
                },
            }
        }
        "PostToolUse" | "PostToolUseFailure" => Hooked::Works {
            reason: "tool_done",
        },
        "PermissionRequest" => {
            let tool = text("tool_name").unwrap_or_default();
            let args = input.get("tool_input").unwrap_or(&Value::Null);
            Hooked::Waits {
                kind: WaitKind::Permission,
                evidence: permission_summary(tool, args),
            }
        }
        "Notification" => {
            let message = clean(text("message").unwrap_or_default());
            let kind = match text("notification_type").unwrap_or_default() {
                "permission_prompt" => WaitKind::Permission,
                "idle_prompt" => WaitKind::Idle,
                t if t.starts_with("elicitation") => WaitKind::Question,
                _ => return Some(Hooked::Alive),
            };
            Hooked::Waits {
                kind,
                evidence: message,
            }
        }
        "Elicitation" => Hooked::Waits {
            kind: WaitKind::Question,
            evidence: clean(text("message").unwrap_or("an MCP server asks for input")),
        },
        "Stop" => Hooked::Waits {
            kind: WaitKind::Idle,
            evidence: text("last_assistant_message")
                .and_then(crate::last_line)
                .map(|line| clean(&line))
                .unwrap_or_else(|| "its turn is over".into()),
        },
        "StopFailure" => {
            let error = text("error").unwrap_or_default();
            let failure = match error {
                "rate_limit" => HookFailure::RateLimited,
                "authentication_failed" => HookFailure::AuthRequired,
                _ => HookFailure::Other,
            };
            let details = text("error_details")
                .or_else(|| text("last_assistant_message"))
                .map(clean);
            let words = match details {
                Some(d) if !d.is_empty() => format!("{} ({d})", clean(error)),
                _ => clean(error),
            };
            Hooked::Failed { failure, words }
        }
        _ => return None,
    })
}

/// The tools through which claude asks a person, not the system: its
/// question (the first, when it asks several) or its plan to approve.
fn question_of(tool: &str, args: &Value) -> Option<String> {
    match tool {
        "AskUserQuestion" => {
            let first = args
                .get("questions")
                .and_then(|q| q.get(0))
                .and_then(|q| q.get("question"))
                .and_then(Value::as_str);
            Some(clean(first.unwrap_or("it asks a question")))
        }
        "ExitPlanMode" => {
            let plan = args
                .get("plan")
                .and_then(Value::as_str)
                .and_then(|p| p.lines().map(str::trim).find(|l| !l.is_empty()));
            Some(match plan {
                Some(first) => clean(&format!("approve the plan? {first}")),
                None => "approve the plan?".into(),
            })
        }
        _ => None,
    }
}

/// What a tool asks leave to do, short and free of secrets: the tool's
/// name and the file or place it works on, or the description the CLI
/// wrote of a command — never the command itself, a file's contents or a
/// URL's query (where tokens ride).
pub fn permission_summary(tool: &str, args: &Value) -> String {
    let arg = |key: &str| args.get(key).and_then(Value::as_str);
    let tool = shown(tool, 80);
    let what = match tool.as_str() {
        "Bash" => arg("description").map(str::to_owned).or_else(|| {
            // Its program only: the rest may hold a token.
            arg("command")
                .and_then(|c| c.split_whitespace().next())
                .map(|program| format!("run {program} …"))
        }),
        "Write" | "Edit" | "MultiEdit" | "Read" => arg("file_path").map(str::to_owned),
        "NotebookEdit" => arg("notebook_path").map(str::to_owned),
        "WebFetch" => arg("url").map(|url| without_query(url).to_owned()),
        "Glob" | "Grep" => arg("pattern").map(str::to_owned),
        _ => None,
    };
    match what {
        Some(what) => clean(&format!("{tool}: {what}")),
        None => tool,
    }
}

/// A URL without its query or fragment.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// gemini's hook events baton installs: its session, each prompt, tools,
/// the permission it asks (a `Notification`), the end of each turn.
pub const GEMINI_EVENTS: &[&str] = &[
    "SessionStart",
    "BeforeAgent",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "AfterAgent",
];

/// gemini settings (`defaults`, the file it would read otherwise, if any)
/// with baton's hooks added: gemini concatenates hook lists, so the
/// user's own and an administrator's stay. `None` when `defaults` is not
/// a JSON object (nothing of it may be lost).
pub fn gemini_settings(defaults: Option<&str>, command: &str, timeout_ms: u32) -> Option<String> {
    let mut settings = match defaults {
        Some(text) => serde_json::from_str::<Value>(text).ok()?,
        None => serde_json::json!({}),
    };
    let root = settings.as_object_mut()?;
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()?;
    let ours = serde_json::json!({
        "hooks": [{ "type": "command", "command": command, "timeout": timeout_ms, "name": "baton" }]
    });
    for event in GEMINI_EVENTS {
        let list = hooks
            .entry((*event).to_owned())
            .or_insert_with(|| serde_json::json!([]))
            .as_array_mut()?;
        list.push(ours.clone());
    }
    Some(settings.to_string())
}

/// What a gemini hook's input says.
pub(crate) fn gemini_hooked(input: &Value) -> Option<Hooked> {
    let text = |key: &str| input.get(key).and_then(Value::as_str);
    Some(match text("hook_event_name")? {
        "SessionStart" | "SessionEnd" => Hooked::Alive,
        "BeforeAgent" => Hooked::Works {
            reason: "prompt_submitted",
        },
        "BeforeTool" => Hooked::Works {
            reason: "tool_started",
        },
        "AfterTool" => Hooked::Works {
            reason: "tool_done",
        },
        "Notification" if text("notification_type") == Some("ToolPermission") => {
            // Its details name the tool and what it works on; its message
            // may quote a command, so it is not shown.
            let details = input.get("details").unwrap_or(&Value::Null);
            let field = |keys: &[&str]| {
                keys.iter()
                    .find_map(|k| details.get(*k).and_then(Value::as_str))
            };
            let tool = field(&["toolName", "tool_name", "name", "title"]);
            let path = field(&["filePath", "file_path", "fileName", "path"]);
            let evidence = match (tool, path) {
                (Some(tool), Some(path)) => clean(&format!("{}: {path}", shown(tool, 80))),
                (Some(tool), None) => shown(tool, 80),
                (None, Some(path)) => clean(&format!("a tool on {path}")),
                (None, None) => "a tool needs permission".into(),
            };
            Hooked::Waits {
                kind: WaitKind::Permission,
                evidence,
            }
        }
        "Notification" => Hooked::Alive,
        "AfterAgent" => Hooked::Waits {
            kind: WaitKind::Idle,
            evidence: text("prompt_response")
                .and_then(crate::last_line)
                .map(|line| clean(&line))
                .unwrap_or_else(|| "its turn is over".into()),
        },
        _ => return None,
    })
}

/// codex's hook events baton installs (claude's names and inputs).
pub const CODEX_EVENTS: &[&str] = &[
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Stop",
];

/// The session flags that install `command` as codex's hook on each of
/// [`CODEX_EVENTS`]: `-c hooks.EVENT=[{hooks=[{type="command",command=…,timeout=…}]}]`
/// (a TOML inline value; the command is quoted as a JSON string, which
/// TOML reads alike).
pub fn codex_hook_flags(command: &str, timeout_s: u32) -> Vec<String> {
    let quoted = Value::from(command).to_string();
    CODEX_EVENTS
        .iter()
        .flat_map(|event| {
            [
                "-c".to_owned(),
                format!(
                    "hooks.{event}=[{{hooks=[{{type=\"command\",command={quoted},timeout={timeout_s}}}]}}]"
                ),
            ]
        })
        .collect()
}
