//! The wire form of a session spec for `spawn`.
//!
//! What a client sends to start a session: the fields of a `[[session]]`
//! manifest entry, with the names of its enums defined here, so that the
//! wire form is this crate's alone — a rename elsewhere cannot change the
//! protocol. Nothing here checks a spec: `baton-config` turns one into a
//! checked session (`baton_config::check_spawn`), with the same rules and
//! words as a manifest entry. Durations travel as whole milliseconds so that
//! no duration parser is part of the protocol.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A closed set of lowercase names on the wire.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }
    };
}

wire_enum! {
    /// Which CLI a session launches (`agent`).
    #[derive(Default)]
    SpawnAgent {
        /// OpenAI Codex CLI.
        Codex => "codex",
        /// Google Gemini CLI.
        Gemini => "gemini",
        /// Anthropic Claude Code.
        Claude => "claude",
        /// The argv in `command`.
        #[default]
        Command => "command",
    }
}

/// Where a local session's process runs (`backend`): on the wire, its
/// name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum SpawnBackend {
    /// Pipes: the default.
    #[default]
    Pipes,
    /// A pseudo-terminal.
    Pty,
    /// A tmux session.
    Tmux,
    /// Any other name: a backend the daemon's conductor may have
    /// registered. Whether it names one is the daemon's to say.
    Named(String),
}

impl SpawnBackend {
    /// The built-in backends, in declaration order.
    pub const BUILT_IN: &'static [SpawnBackend] =
        &[SpawnBackend::Pipes, SpawnBackend::Pty, SpawnBackend::Tmux];

    /// The name on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            SpawnBackend::Pipes => "pipes",
            SpawnBackend::Pty => "pty",
            SpawnBackend::Tmux => "tmux",
            SpawnBackend::Named(name) => name,
        }
    }

    /// The backend named `name` on the wire.
    pub fn named(name: &str) -> SpawnBackend {
        match name {
            "pipes" => SpawnBackend::Pipes,
            "pty" => SpawnBackend::Pty,
            "tmux" => SpawnBackend::Tmux,
            other => SpawnBackend::Named(other.to_owned()),
        }
    }
}

impl Serialize for SpawnBackend {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SpawnBackend {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SpawnBackend::named(&String::deserialize(d)?))
    }
}

wire_enum! {
    /// What a stall does (`on_stall`).
    SpawnOnStall {
        /// Only report it.
        Mark => "mark",
        /// Restart the session.
        Restart => "restart",
    }
}

wire_enum! {
    /// What the agent's stdin is (`stdin`).
    SpawnStdin {
        /// A pipe baton writes answers into.
        Pipe => "pipe",
        /// `/dev/null`.
        Null => "null",
    }
}

/// A session to start: the fields of a `[[session]]` manifest entry.
///
/// Every field may be omitted on the wire and takes its manifest default.
/// `baton-config` converts it to a checked session with the manifest's
/// rules, and a session back to it losslessly but for durations, which are
/// rounded up to whole milliseconds.
///
/// `Debug` never shows `env` values, which may be secrets.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnSpec {
    /// Session id (1 to 64 of ASCII letters, digits, `.`, `_`, `-`; a letter or digit first). Empty
    /// in a `spawn` request: the daemon picks the first free `<agent>-<n>`
    /// (converting an empty id with `TryFrom` still fails).
    pub id: String,
    /// Which CLI to launch (default `command`).
    pub agent: SpawnAgent,
    /// The task; required (non-blank) for every agent but `command`.
    pub prompt: Option<String>,
    /// The argv; required (non-empty) for `command`, refused for others.
    pub command: Option<Vec<String>>,
    /// Working directory, absolute (a client resolves a relative one against
    /// its own directory); `None`: the daemon's own.
    pub workdir: Option<PathBuf>,
    /// Extra environment. Values may be secrets.
    pub env: BTreeMap<String, String>,
    /// Model name.
    pub model: Option<String>,
    /// Codex profile.
    pub profile: Option<String>,
    /// Codex MCP servers; refused for other agents.
    pub mcp_servers: Vec<String>,
    /// Refuse to start on `main`/`master`.
    pub branch_guard: bool,
    /// Stdin override; `null` is refused on a terminal backend.
    pub stdin: Option<SpawnStdin>,
    /// Where the process runs (default `pipes`).
    pub backend: SpawnBackend,
    /// Auto-answer rules, in priority order.
    pub answers: Vec<SpawnAnswer>,
    /// Free-form capability tags.
    pub capabilities: Vec<String>,
    /// Overrides `[conductor] max_restarts`.
    pub max_restarts: Option<u32>,
    /// Overrides `[probe] stall_after`, in milliseconds; never zero.
    pub stall_after_ms: Option<u64>,
    /// Overrides `[probe] startup_timeout`, in milliseconds; never zero.
    pub startup_timeout_ms: Option<u64>,
    /// Overrides `[probe] on_stall`.
    pub on_stall: Option<SpawnOnStall>,
    /// Where the session runs: absent or `"local"`: this machine; `"any"`:
    /// the inventory host with the most free slots; else an inventory host
    /// name (the daemon checks that it is in its inventory). A remote
    /// session runs in tmux: `backend` must be `tmux` or left at its
    /// default, which then means `tmux`.
    pub host: Option<String>,
    /// Run in a git worktree of its own on its own branch; `None`: in
    /// `workdir` itself. Local sessions only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<SpawnWorktree>,
    /// The session file the spec was read from (`baton spawn --file`), so
    /// that a refusal by the daemon — which alone checks what it owns, such
    /// as the hosts inventory — names the file and line of the field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<SpawnOrigin>,
}

/// Where a spec was written: a file, and the 1-based line of each key of
/// its session table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnOrigin {
    /// The file as the client named it.
    pub file: String,
    /// Line of each key, by the key's manifest name (`host`, `workdir`…).
    pub lines: BTreeMap<String, u32>,
}

/// A session's `worktree` (the manifest's `worktree = true` is all fields left out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpawnWorktree {
    /// The commit the branch starts from (default: the repository's `HEAD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The branch (default `baton/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Argv run once in the new worktree before the first run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<Vec<String>>,
    /// Untracked paths, relative to the repository's top level, copied in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<String>,
}

impl fmt::Debug for SpawnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnSpec")
            .field("id", &self.id)
            .field("agent", &self.agent)
            .field("prompt", &self.prompt)
            .field("command", &self.command)
            .field("workdir", &self.workdir)
            .field("env_keys", &self.env.keys().collect::<Vec<_>>())
            .field("model", &self.model)
            .field("profile", &self.profile)
            .field("mcp_servers", &self.mcp_servers)
            .field("branch_guard", &self.branch_guard)
            .field("stdin", &self.stdin)
            .field("backend", &self.backend)
            .field("answers", &self.answers)
            .field("capabilities", &self.capabilities)
            .field("max_restarts", &self.max_restarts)
            .field("stall_after_ms", &self.stall_after_ms)
            .field("startup_timeout_ms", &self.startup_timeout_ms)
            .field("on_stall", &self.on_stall)
            .field("host", &self.host)
            .field("worktree", &self.worktree)
            .field("origin", &self.origin)
            .finish()
    }
}

/// One auto-answer rule (`[[session.answer]]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnAnswer {
    /// Regex matched against the detected question line; non-empty. It is
    /// not compiled here: the daemon must compile it and refuse the spawn
    /// if it does not.
    pub pattern: String,
    /// One line to send (no `\n`/`\r`), without the Enter.
    pub reply: String,
    /// Only when this input-wait rule fired; satisfies
    /// the rule-name rule of `baton_config`.
    pub rule: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_names_are_pinned() {
        let names = |all: Vec<&'static str>| all.join(" ");
        assert_eq!(
            names(SpawnAgent::ALL.iter().map(|a| a.as_str()).collect()),
            "codex gemini claude command"
        );
        assert_eq!(
            names(SpawnBackend::BUILT_IN.iter().map(|a| a.as_str()).collect()),
            "pipes pty tmux"
        );
        assert_eq!(
            names(SpawnOnStall::ALL.iter().map(|a| a.as_str()).collect()),
            "mark restart"
        );
        assert_eq!(
            names(SpawnStdin::ALL.iter().map(|a| a.as_str()).collect()),
            "pipe null"
        );
        for agent in SpawnAgent::ALL {
            assert_eq!(serde_json::to_value(agent).unwrap(), agent.as_str());
        }
        for backend in SpawnBackend::BUILT_IN {
            assert_eq!(serde_json::to_value(backend).unwrap(), backend.as_str());
            let back: SpawnBackend = serde_json::from_value(backend.as_str().into()).unwrap();
            assert_eq!(&back, backend);
        }
        // Any other name is carried as it is, for the daemon to judge.
        let named: SpawnBackend = serde_json::from_str("\"microvm\"").unwrap();
        assert_eq!(named, SpawnBackend::Named("microvm".into()));
        assert_eq!(serde_json::to_string(&named).unwrap(), "\"microvm\"");
        for policy in SpawnOnStall::ALL {
            assert_eq!(serde_json::to_value(policy).unwrap(), policy.as_str());
        }
        for stdin in SpawnStdin::ALL {
            assert_eq!(serde_json::to_value(stdin).unwrap(), stdin.as_str());
        }
    }

    #[test]
    fn debug_never_shows_env_values() {
        let mut spec = SpawnSpec::default();
        spec.env.insert("TOKEN".into(), "hunter2".into());
        let shown = format!("{spec:?}");
        assert!(
            shown.contains("TOKEN") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
