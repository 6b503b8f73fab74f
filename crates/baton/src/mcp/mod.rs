//! `baton mcp`: the MCP server a lead agent drives its workers with.
//!
//! It speaks MCP on stdin/stdout (rmcp, the official SDK, pinned and used
//! only in this module) and talks to the daemon over the control socket,
//! starting one when none listens. Stdout is the protocol: nothing else may
//! write to it, hence the lint below; logs go to stderr.

#![deny(clippy::print_stdout)]

mod schema;
mod stdio;
pub(crate) mod tools;
pub(crate) mod types;
mod wait;

use std::path::PathBuf;

use rmcp::ServiceExt;

use crate::exit;

#[derive(clap::Args, Debug)]
pub struct McpArgs {
    /// The daemon's control socket [default: $BATON_SOCKET, else
    /// $XDG_RUNTIME_DIR/baton/baton.sock, else .baton/baton.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// The baton.toml a daemon started by `baton mcp` runs with (as
    /// `baton daemon --config`); ignored when a daemon already listens.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Expose only the tools that change nothing: list, status, logs, wait,
    /// events and accounts (not spawn, send, kill).
    #[arg(long, conflicts_with = "allow")]
    pub read_only: bool,
    /// Expose only these tools (comma-separated): spawn, list, status, logs,
    /// send, kill, wait, events, accounts.
    #[arg(long, value_name = "TOOL,…", value_delimiter = ',')]
    pub allow: Option<Vec<String>>,
}

/// The tools to expose, or what is wrong with `--allow`.
fn exposed(args: &McpArgs) -> Result<Vec<&'static str>, String> {
    if args.read_only {
        return Ok(tools::ALL_TOOLS
            .iter()
            .copied()
            .filter(|t| !tools::CONTROL_TOOLS.contains(t))
            .collect());
    }
    let Some(allow) = &args.allow else {
        return Ok(tools::ALL_TOOLS.to_vec());
    };
    let mut chosen = Vec::new();
    for name in allow.iter().map(|n| n.trim()) {
        match tools::ALL_TOOLS.iter().find(|t| **t == name) {
            Some(tool) => chosen.push(*tool),
            None => {
                return Err(format!(
                    "--allow: unknown tool `{}`; the tools are {}",
                    name.escape_debug(),
                    tools::ALL_TOOLS.join(", ")
                ));
            }
        }
    }
    if chosen.is_empty() {
        return Err("--allow names no tool".into());
    }
    Ok(chosen)
}

pub fn main(args: McpArgs) -> i32 {
    let tools = match exposed(&args) {
        Ok(tools) => tools,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let (socket, config) =
        match crate::link::daemon_target(args.socket.as_deref(), args.config.as_deref()) {
            Ok(target) => target,
            Err(code) => return code,
        };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("error: cannot read the current directory: {e}");
            return exit::USAGE;
        }
    };
    let Some(runtime) = crate::link::runtime() else {
        return exit::FAILED;
    };
    let link = crate::link::DaemonLink::starting_daemon(socket, config);
    let server = tools::Baton::new(link, cwd, &tools);
    let code = runtime.block_on(async move {
        let (rx, tx, tasks) = stdio::guard(tokio::io::stdin(), tokio::io::stdout());
        let code = match server.serve((rx, tx)).await {
            Ok(running) => match running.waiting().await {
                Ok(_) => exit::OK,
                Err(e) => {
                    tracing::error!("the MCP session ended with an error: {e}");
                    exit::FAILED
                }
            },
            Err(e) => {
                tracing::error!("the MCP client did not initialize a session: {e}");
                exit::PROTOCOL
            }
        };
        if let Err(e) = tasks.finish().await {
            tracing::debug!("writing to stdout: {e}");
        }
        code
    });
    // A tool call still blocked on the daemon must not keep us alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(read_only: bool, allow: Option<&[&str]>) -> McpArgs {
        McpArgs {
            socket: None,
            config: None,
            read_only,
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn tiers_choose_the_tools() {
        assert_eq!(exposed(&args(false, None)).unwrap(), tools::ALL_TOOLS);
        let read_only = exposed(&args(true, None)).unwrap();
        assert_eq!(
            read_only,
            ["list", "status", "logs", "wait", "events", "accounts"]
        );
        assert_eq!(
            exposed(&args(false, Some(&["wait", " list"]))).unwrap(),
            ["wait", "list"]
        );
        let err = exposed(&args(false, Some(&["wait", "rm"]))).unwrap_err();
        assert!(err.contains("`rm`") && err.contains("spawn, list"), "{err}");
        assert!(exposed(&args(false, Some(&[]))).is_err());
    }
}
