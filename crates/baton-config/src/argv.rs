//! The argv each agent is launched with.
//!
//! This exists so the exact command line of every agent is decided in one
//! pure function with golden tests. It must never build a shell string: the
//! prompt is always one argv element, passed through byte for byte.
//!
//! Nothing that comes from user data may be read as a flag: a prompt of
//! `--help` must be a task, not a request for help (the real CLIs then print
//! their help and exit 0, which would look like a completed session). So
//! values ride in the same word as their option (`--model=M`,
//! `--prompt=P`) and a positional prompt follows `--`.

use crate::model::{AgentKind, AgentsConfig, SessionSpec};

/// The argv that launches `spec`, binary first, to be executed without a shell.
///
/// The binary is `[agents.X] bin` or the agent's name (to be looked up on
/// PATH). The prompt is always a single, unmodified element. For
/// `agent = "command"` this is the session's `command` as given (empty if a
/// hand-built spec has none); its prompt travels in `BATON_PROMPT`, set by the
/// caller. `model`/`profile`/`mcp_servers` appear only for the agents that take them.
pub fn agent_argv(spec: &SessionSpec, agents: &AgentsConfig) -> Vec<String> {
    let bin = || {
        agents
            .get(spec.agent)
            .bin
            .clone()
            .unwrap_or_else(|| spec.agent.as_str().to_owned())
    };
    let prompt = || spec.prompt.clone().unwrap_or_default();
    let mut argv = Vec::new();
    match spec.agent {
        AgentKind::Codex => {
            argv.push(bin());
            if let Some(profile) = &spec.profile {
                argv.push(format!("--profile={profile}"));
            }
            argv.extend(
                [
                    "exec",
                    "--dangerously-bypass-approvals-and-sandbox",
                    "--skip-git-repo-check",
                    "--color",
                    "never",
                ]
                .map(str::to_owned),
            );
            if let Some(model) = &spec.model {
                argv.push(format!("--model={model}"));
            }
            for server in &spec.mcp_servers {
                argv.extend([
                    "-c".to_owned(),
                    format!("mcp_servers.{server}.enabled=true"),
                ]);
            }
            argv.extend(["--".to_owned(), prompt()]);
        }
        AgentKind::Gemini => {
            argv.push(bin());
            if let Some(model) = &spec.model {
                argv.push(format!("--model={model}"));
            }
            argv.extend(["--yolo", "--output-format", "text"].map(str::to_owned));
            argv.push(format!("--prompt={}", prompt()));
        }
        AgentKind::Claude => {
            argv.push(bin());
            if let Some(model) = &spec.model {
                argv.push(format!("--model={model}"));
            }
            argv.extend(["-p".to_owned(), "--".to_owned(), prompt()]);
        }
        AgentKind::Command => {
            argv = spec.command.clone().unwrap_or_default();
        }
    }
    argv
}
