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

use serde::{Deserialize, Serialize};

/// A closed set of lowercase names on the wire.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// A session to start, exactly as a `[[session]]` table of a manifest
/// writes it: the one raw form of a session, read from a manifest, a
/// session file, a `spawn` request and an MCP `spawn` call alike, and
/// checked by one checker (`baton_config`'s). Same keys, same values
/// (durations as strings such as `"90s"`, `worktree = true` or a table,
/// `command` as an argv or a command string).
///
/// Every field may be left out and takes its manifest default. A key this
/// version does not know is refused, never skipped: a session must not run
/// without a setting its author wrote.
///
/// `Debug` never shows `env` values, which may be secrets.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SpawnSpec {
    /// Session id (1 to 64 of ASCII letters, digits, `.`, `_`, `-`; a
    /// letter or digit first). Absent: the first free `<agent>-<n>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Which CLI to launch (default `command`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<SpawnAgent>,
    /// The task; required (non-blank) for every agent but `command`, which
    /// gets it in `$BATON_PROMPT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// What a `command` session runs, without a shell: an argv, or a
    /// command string split into one as a POSIX shell would (no shell ever
    /// runs it). Refused for the other agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<SpawnCommand>,
    /// Working directory: absolute, or relative to the manifest's directory
    /// (a client resolves a relative one against its own directory before
    /// sending it). Absent: the manifest's directory (a daemon's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Extra environment. Values may be secrets: they are never logged.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Model name passed to the agent CLI (`$BATON_MODEL` for `command`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Codex profile (`--profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Codex MCP servers to enable; refused for other agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Vec<String>>,
    /// Refuse to start on a `main`/`master` checkout.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub branch_guard: bool,
    /// `pipe` or `null`; `null` is refused on a terminal backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<SpawnStdin>,
    /// Where the process runs: `pipes` (default), `pty`, `tmux`, or a
    /// backend the conductor registered. A remote session runs in tmux.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<SpawnBackend>,
    /// Auto-answers (`[[session.answer]]`), in priority order: while the
    /// session waits for input and its question line matches `pattern`,
    /// baton sends `reply`. `answers` is read too.
    #[serde(
        rename = "answer",
        alias = "answers",
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "answer_tables"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<SpawnAnswer>"))]
    pub answers: Vec<SpawnAnswer>,
    /// Free-form capability tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Restarts after failures before the session is dead (overrides
    /// `[conductor] max_restarts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
    /// Silence that counts as stalled, e.g. `"90s"` (overrides `[probe]
    /// stall_after`); never zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_after: Option<DurationText>,
    /// Quiet before a confident prompt on screen is `input_wait`, e.g.
    /// `"5s"`; `"0s"`: only at `stall_after` (overrides `[probe]
    /// input_wait_after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_wait_after: Option<DurationText>,
    /// Time to the first output before the run counts as failed, e.g.
    /// `"2m"` (overrides `[probe] startup_timeout`); never zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub startup_timeout: Option<DurationText>,
    /// On a stall: `mark` (only report it) or `restart` (overrides
    /// `[probe] on_stall`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_stall: Option<SpawnOnStall>,
    /// Where the session runs: absent or `"local"`: this machine; `"any"`:
    /// the inventory host with the most free slots; else an inventory host
    /// name (whoever runs the session checks that it is in its inventory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Run in a git worktree of its own on its own branch: `true` (the
    /// defaults) or a table of some of `base`, `branch`, `setup`, `copy`;
    /// `false` or absent: in `workdir` itself. Local sessions only.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "worktree_setting"
    )]
    #[cfg_attr(feature = "schema", schemars(with = "Option<SpawnWorktree>"))]
    pub worktree: Option<SpawnWorktree>,
}

/// `command`: an argv, or one command string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SpawnCommand {
    /// The argv itself.
    Argv(Vec<String>),
    /// A command string, split into an argv by whoever checks the session.
    Line(String),
}

impl<'de> Deserialize<'de> for SpawnCommand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SpawnCommand;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an argv array such as ["python3", "worker.py"] or a command string"#)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<SpawnCommand, E> {
                Ok(SpawnCommand::Line(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SpawnCommand, A::Error> {
                let mut argv = Vec::new();
                while let Some(word) = seq.next_element::<String>()? {
                    argv.push(word);
                }
                Ok(SpawnCommand::Argv(argv))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration as written: a string with a unit (`"500ms"`, `"30s"`,
/// `"1h 30m"`), parsed by whoever checks the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

impl From<&str> for DurationText {
    fn from(s: &str) -> DurationText {
        DurationText(s.to_owned())
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration string such as "30s""#)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<DurationText, E> {
                Ok(DurationText(s.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<DurationText, E> {
                Err(E::custom(format_args!(
                    r#"a bare number ({n}) is not a duration; write it as a string with a unit, e.g. "30s""#
                )))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<DurationText, E> {
                Err(E::custom(format_args!(
                    r#"a bare number ({n}) is not a duration; write it as a string with a unit, e.g. "30s""#
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// `answer`: an array of tables; a lone table (`[session.answer]`, one
/// pair of brackets) is the likely mistake and is named.
fn answer_tables<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<SpawnAnswer>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<SpawnAnswer>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of answer tables ([[session.answer]], two pairs of brackets)")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<SpawnAnswer>, A::Error> {
            let mut answers = Vec::new();
            while let Some(answer) = seq.next_element()? {
                answers.push(answer);
            }
            Ok(answers)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            _map: A,
        ) -> Result<Vec<SpawnAnswer>, A::Error> {
            Err(serde::de::Error::custom(
                "this is one table, not a list of rules; write each rule as [[session.answer]] \
                 (two brackets)",
            ))
        }
    }
    d.deserialize_any(V)
}

/// `worktree`: `true`, `false` or a table.
fn worktree_setting<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<SpawnWorktree>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<SpawnWorktree>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false, or a table { base, branch, setup, copy }")
        }
        fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(SpawnWorktree::default))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SpawnWorktree::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(V)
}

/// The schemas of the wire types whose serde is written by hand: each one
/// simple type, so that models that take only a subset of JSON Schema (no
/// unions) can call a tool that takes them.
#[cfg(feature = "schema")]
mod schema {
    use std::borrow::Cow;

    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

    use super::{DurationText, SpawnBackend, SpawnCommand};

    impl JsonSchema for SpawnCommand {
        fn schema_name() -> Cow<'static, str> {
            "SpawnCommand".into()
        }

        fn inline_schema() -> bool {
            true
        }

        /// An argv; a command string is read too.
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({ "type": "array", "items": { "type": "string" } })
        }
    }

    impl JsonSchema for DurationText {
        fn schema_name() -> Cow<'static, str> {
            "DurationText".into()
        }

        fn inline_schema() -> bool {
            true
        }

        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({ "type": "string" })
        }
    }

    impl JsonSchema for SpawnBackend {
        fn schema_name() -> Cow<'static, str> {
            "SpawnBackend".into()
        }

        fn inline_schema() -> bool {
            true
        }

        /// The built-in backends (the daemon's); a registered one's name is
        /// read too.
        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            let names: Vec<&str> = SpawnBackend::BUILT_IN
                .iter()
                .map(SpawnBackend::as_str)
                .collect();
            json_schema!({ "type": "string", "enum": names })
        }
    }
}

/// Where a spec was written: a file, and the 1-based line of each key of
/// its session table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SpawnOrigin {
    /// The file as the client named it.
    pub file: String,
    /// Line of each key of the session table, by key (`host`, `workdir`…).
    pub lines: BTreeMap<String, u32>,
}

/// A session's `worktree` (the manifest's `worktree = true` is all fields left out).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SpawnWorktree {
    /// The commit the branch starts from (default: the repository's `HEAD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The branch (default `baton/<id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Run once in the new worktree before the first run: an argv or a
    /// command string (no shell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup: Option<SpawnCommand>,
    /// Untracked paths, relative to the repository's top level, copied in.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copy: Vec<String>,
}

impl fmt::Debug for SpawnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through its JSON form, so that a new field shows without a line
        // here; env values are replaced first.
        let mut shown = self.clone();
        for value in shown.env.values_mut() {
            *value = "<hidden>".to_owned();
        }
        match serde_json::to_string(&shown) {
            Ok(json) => write!(f, "SpawnSpec {json}"),
            Err(_) => f.write_str("SpawnSpec { .. }"),
        }
    }
}

/// One auto-answer rule (`[[session.answer]]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct SpawnAnswer {
    /// Regex matched against the detected question line; required and
    /// non-empty. It is not compiled here: whoever checks the session
    /// compiles it and refuses the session if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// One line to send (no `\n`/`\r`), without the Enter; required
    /// (`""` sends just Enter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Only when this input-wait rule fired; satisfies
    /// the rule-name rule of `baton_config`.
    #[serde(skip_serializing_if = "Option::is_none")]
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
    fn a_session_table_reads_as_a_manifest_writes_it() {
        let spec: SpawnSpec = serde_json::from_value(serde_json::json!({
            "command": "python3 worker.py --fast",
            "stall_after": "90s",
            "answers": [{"pattern": "continue", "reply": "y"}],
            "worktree": true,
        }))
        .unwrap();
        assert_eq!(
            spec.command,
            Some(SpawnCommand::Line("python3 worker.py --fast".into()))
        );
        assert_eq!(spec.stall_after, Some("90s".into()));
        assert_eq!(spec.answers[0].reply.as_deref(), Some("y"));
        assert_eq!(spec.worktree, Some(SpawnWorktree::default()));
        let off: SpawnSpec = serde_json::from_str(r#"{"worktree":false}"#).unwrap();
        assert_eq!(off.worktree, None);
        for (bad, says) in [
            (
                r#"{"stall_after":90}"#,
                "a bare number (90) is not a duration",
            ),
            (
                r#"{"answer":{"pattern":"x","reply":"y"}}"#,
                "not a list of rules",
            ),
            (r#"{"command":3}"#, "an argv array"),
            (r#"{"stall_after_ms":90}"#, "unknown field `stall_after_ms`"),
        ] {
            let err = serde_json::from_str::<SpawnSpec>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_env_values() {
        let mut spec = SpawnSpec::default();
        spec.env.insert("TOKEN".into(), "hunter2".into());
        spec.prompt = Some("fix it".into());
        let shown = format!("{spec:?}");
        assert!(
            shown.contains("TOKEN") && shown.contains("fix it") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
