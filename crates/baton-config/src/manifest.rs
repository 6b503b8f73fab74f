//! Reading `baton.toml`: TOML → raw, spanned structs → validated [`Manifest`].
//!
//! The raw structs mirror the file exactly (`deny_unknown_fields` everywhere,
//! no `untagged`, no `flatten`, so serde errors keep their spans) and keep a
//! [`Spanned`] wherever a later check needs to point at a line. Nothing here
//! may put an `env` value into an error message.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::accounts::{
    ACCOUNT_ID_RULE, AccountMode, AccountSpec, AccountsConfig, PROVIDERS, Tier, expand_path,
    valid_account_id,
};
use crate::error::{ConfigError, Invalid};
use crate::hosts::{
    DEFAULT_MAX_SESSIONS, DEFAULT_SSH_PORT, HOST_NAME_RULE, HostConfig, HostsFile,
    RESERVED_SSH_OPTIONS, valid_host_name,
};
use crate::model::{
    AgentConfig, AgentKind, AgentsConfig, ConductorConfig, FsyncPolicy, HOST_ANY, HOST_LOCAL,
    InputWaitRule, MIN_LOG_SIZE, Multiplexer, OnStall, ProbeConfig, RULE_NAME_RULE, SessionId,
    SessionSpec, StdinMode, TAIL_BYTES_RANGE, valid_rule_name,
};
use crate::session::{SessionRules, Spans, check_pattern, check_session, resolve};
use baton_proto::SpawnSpec;

/// A whole, validated manifest.
///
/// Everything in it has passed the checks documented on its fields' types;
/// relative paths have been joined onto `base_dir`; every session has a
/// unique id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
    /// The directory relative paths in the manifest are resolved against.
    pub base_dir: PathBuf,
    /// `[conductor]`, defaults filled in.
    pub conductor: ConductorConfig,
    /// `[probe]`, defaults filled in.
    pub probe: ProbeConfig,
    /// `[agents.*]`, defaults filled in.
    pub agents: AgentsConfig,
    /// Every `[[session]]`, in file order; never empty.
    pub sessions: Vec<SessionSpec>,
    /// `[accounts]`: the broker's settings and accounts (empty: no broker).
    pub accounts: crate::accounts::AccountsConfig,
    /// The hosts inventory, by name: every `[hosts.NAME]` of the manifest,
    /// and those of the hosts file (if one was read) whose names the
    /// manifest does not define — on a clash the manifest's entry wins whole.
    pub hosts: BTreeMap<String, HostConfig>,
    /// `[[notify]]` hooks, in file order.
    pub notify: Vec<NotifyHook>,
    /// `[pricing.NAME]`: what tokens cost, by model or agent name.
    pub pricing: crate::Pricing,
}

/// The session states a `[[notify]]` hook can name, as written in the
/// event log (`baton_proto::SessionState` checks that they match).
pub const STATE_NAMES: &[&str] = &[
    "init",
    "starting",
    "healthy",
    "stalled",
    "input_wait",
    "failed",
    "restarting",
    "dead",
    "completed",
];

/// A `[[notify]]` table: a command the daemon runs, with the `state`
/// record as one JSON line on its stdin, whenever a session enters one of
/// the `on` states.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotifyHook {
    /// States that trigger it (names from [`STATE_NAMES`]); never empty.
    pub on: Vec<String>,
    /// The argv to run (no shell); never empty.
    pub command: Vec<String>,
    /// Only these sessions (empty: every session).
    pub sessions: Vec<SessionId>,
    /// Only sessions tagged with this capability.
    pub capability: Option<String>,
    /// Only an `input_wait` for one of these (`permission`, `question`,
    /// `idle`), as the session's hooks say; it then runs at the
    /// `input_wait` record (also a change of what a session waits for).
    /// Empty: every entry into each state of `on`.
    pub kinds: Vec<String>,
}

/// What a `[[notify]]` hook's `kinds` can name.
pub const WAIT_KIND_NAMES: &[&str] = &["permission", "question", "idle"];

impl Manifest {
    /// Reads and validates the manifest at `path`, with the user's hosts
    /// file ([`HostsFile::default_path`], `~/.config/baton/hosts.toml`)
    /// when there is one; relative paths in the manifest are resolved
    /// against the (absolute) directory that contains it.
    pub fn load(path: &Path) -> Result<Manifest, ConfigError> {
        Manifest::load_with_hosts_file(path, HostsFile::default_path().as_deref())
    }

    /// [`Manifest::load`] with the hosts file at `hosts_file` instead of the
    /// default one (`None`: none at all). A hosts file that does not exist
    /// is the same as none; one that exists must be valid.
    pub fn load_with_hosts_file(
        path: &Path,
        hosts_file: Option<&Path>,
    ) -> Result<Manifest, ConfigError> {
        Manifest::load_file(path, hosts_file, Sessions::Required, &[])
    }

    /// [`Manifest::load`] for a program that registered backends of its
    /// own (`baton_core::backend::Backends`): a session's `backend` may
    /// name one of `backends` besides `pipes`, `pty` and `tmux`.
    pub fn load_with_backends(path: &Path, backends: &[String]) -> Result<Manifest, ConfigError> {
        Manifest::load_file(
            path,
            HostsFile::default_path().as_deref(),
            Sessions::Required,
            backends,
        )
    }

    /// Reads a configuration file: a manifest whose `[[session]]` entries
    /// are optional (what `baton daemon --config` reads: its sessions come
    /// from clients). Everything else is checked as [`Manifest::load`] does.
    pub fn load_config(path: &Path) -> Result<Manifest, ConfigError> {
        Manifest::load_file(
            path,
            HostsFile::default_path().as_deref(),
            Sessions::Optional,
            &[],
        )
    }

    fn load_file(
        path: &Path,
        hosts_file: Option<&Path>,
        sessions: Sessions,
        backends: &[String],
    ) -> Result<Manifest, ConfigError> {
        let hosts = match hosts_file {
            Some(p) => HostsFile::load(p)?,
            None => None,
        };
        let (text, base_dir) = read_with_base_dir(path)?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let source = Source {
            text: &text,
            path: Some(path),
            base_dir: &base_dir,
            home: home.as_deref(),
            backends,
        };
        source.parse(hosts.as_ref(), sessions)
    }

    /// Validates manifest `text`. `source` names it in errors (and is kept in
    /// [`Manifest::source`]); relative paths are joined onto `base_dir`.
    /// Reads no file: the hosts inventory is the manifest's `[hosts.*]`
    /// only (see [`Manifest::parse_with_hosts`]).
    ///
    /// Never panics, whatever `text` is.
    pub fn parse(
        text: &str,
        source: Option<&Path>,
        base_dir: &Path,
    ) -> Result<Manifest, ConfigError> {
        Manifest::parse_with_hosts(text, source, base_dir, None)
    }

    /// [`Manifest::parse`] with the hosts of `hosts_file` added to the
    /// inventory (the manifest's own `[hosts.NAME]` win on a clash), so
    /// sessions may name them.
    pub fn parse_with_hosts(
        text: &str,
        source: Option<&Path>,
        base_dir: &Path,
        hosts_file: Option<&HostsFile>,
    ) -> Result<Manifest, ConfigError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Manifest::parse_with_home(text, source, base_dir, home.as_deref(), hosts_file)
    }

    /// [`Manifest::parse_with_hosts`] with `home` standing in for `$HOME`
    /// where the manifest writes `~/` (so tests need not touch the process
    /// environment).
    pub(crate) fn parse_with_home(
        text: &str,
        source: Option<&Path>,
        base_dir: &Path,
        home: Option<&Path>,
        hosts_file: Option<&HostsFile>,
    ) -> Result<Manifest, ConfigError> {
        let source = Source {
            text,
            path: source,
            base_dir,
            home,
            backends: &[],
        };
        source.parse(hosts_file, Sessions::Required)
    }
}

/// One session as `baton spawn --file` reads it: checked for form by the
/// one session checker, its `host` checked only for its form (the daemon,
/// which owns the hosts inventory, checks the name), with the line of each
/// key of its table so that the daemon's errors can name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFile {
    /// The session.
    pub session: SessionSpec,
    /// The 1-based line of each key of the session's table, by key.
    pub lines: BTreeMap<String, usize>,
}

impl SessionFile {
    /// Reads the session file at `path`: one `[[session]]` (or `[session]`)
    /// table and nothing else. Relative paths are resolved against the
    /// file's (absolute) directory.
    pub fn load(path: &Path) -> Result<SessionFile, ConfigError> {
        let (text, base_dir) = read_with_base_dir(path)?;
        SessionFile::parse(&text, Some(path), &base_dir)
    }

    /// [`SessionFile::load`] on `text`. Any table but the session's is
    /// refused, naming it and where its settings belong: a session file
    /// that silently dropped `[agents.claude] bin = …` would run another
    /// binary than its author meant.
    ///
    /// Never panics, whatever `text` is.
    pub fn parse(
        text: &str,
        source: Option<&Path>,
        base_dir: &Path,
    ) -> Result<SessionFile, ConfigError> {
        let origin = match source {
            Some(p) => p.display().to_string(),
            None => "<session file>".to_owned(),
        };
        let text = session_table_as_array(text);
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let cx = Validator {
            text: &text,
            origin: &origin,
            home: home.as_deref(),
            backends: None,
        };
        let doc = toml::de::DeTable::parse(&text).map_err(|e| cx.toml_error(&e))?;
        for (key, _) in doc.get_ref().iter() {
            let name = key.get_ref().as_ref();
            if name == "session" {
                continue;
            }
            let belongs = match name {
                "hosts" => "in the daemon's config (`baton daemon --config FILE`) or in \
                            ~/.config/baton/hosts.toml"
                    .to_owned(),
                "conductor" | "probe" | "agents" | "accounts" | "notify" | "pricing" => {
                    "in the daemon's config (`baton daemon --config FILE`)".to_owned()
                }
                _ => "nowhere: it is not a baton setting".to_owned(),
            };
            let message = format!(
                "`{}` has no place in a session file, which holds one [[session]] \
                 (or [session]) table and nothing else; it belongs {belongs}. Nothing \
                 was started",
                name.escape_debug()
            );
            return Err(cx.err(Some(key.span()), message));
        }
        let raw: RawManifest = toml::from_str(&text).map_err(|e| cx.toml_error(&e))?;
        let count = raw.session.len();
        let Ok([session]) = <[_; 1]>::try_from(raw.session) else {
            return Err(cx.err(
                None,
                format!("holds {count} [[session]] tables; a session file holds exactly one"),
            ));
        };
        let values = session_spans(doc.get_ref())
            .into_iter()
            .next()
            .unwrap_or_default();
        // The line of each key of the table (its value's first line).
        let lines = values
            .iter()
            .filter(|(path, _)| !path.contains('.'))
            .map(|(path, at)| (path.clone(), line_of(&text, at.start)))
            .collect();
        let session = cx.session(1, session, values, base_dir, None, &mut HashMap::new())?;
        Ok(SessionFile { session, lines })
    }
}

/// The text of the file at `path` and the absolute directory that holds it
/// (what its relative paths are resolved against).
fn read_with_base_dir(path: &Path) -> Result<(String, PathBuf), ConfigError> {
    let io_err = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io_err)?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let base_dir = std::path::absolute(parent).map_err(io_err)?;
    Ok((text, base_dir))
}

/// Where each value of each `[[session]]` table of `doc` was written, by
/// key path (`command`, `answer.0.pattern`, `env.KEY`), one map per table
/// in file order.
fn session_spans(doc: &toml::de::DeTable<'_>) -> Vec<BTreeMap<String, Range<usize>>> {
    use toml::de::DeValue;
    fn walk(value: &Spanned<DeValue<'_>>, path: String, out: &mut BTreeMap<String, Range<usize>>) {
        let join = |key: &str| {
            if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            }
        };
        match value.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, join(&i.to_string()), out);
                }
            }
            DeValue::Table(table) => {
                for (key, item) in table.iter() {
                    walk(item, join(key.get_ref()), out);
                }
            }
            _ => {}
        }
        if !path.is_empty() {
            out.insert(path, value.span());
        }
    }
    let Some(DeValue::Array(tables)) = doc.get("session").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    tables
        .iter()
        .map(|table| {
            let mut values = BTreeMap::new();
            walk(table, String::new(), &mut values);
            values
        })
        .collect()
}

/// Rewrites a lone `[session]` table header as `[[session]]`, so that a
/// file describing one session may use either. Lines keep their numbers,
/// so errors still point at the right line.
fn session_table_as_array(text: &str) -> std::borrow::Cow<'_, str> {
    let is_table_header = |line: &str| {
        let code = line.split('#').next().unwrap_or("").trim();
        code == "[session]"
    };
    if !text.lines().any(is_table_header) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 2);
    for line in text.split_inclusive('\n') {
        if is_table_header(line) {
            out.push_str(&line.replacen("[session]", "[[session]]", 1));
        } else {
            out.push_str(line);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether a file must hold at least one `[[session]]`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sessions {
    /// A manifest: it exists to run sessions.
    Required,
    /// A daemon's configuration: sessions come from clients.
    Optional,
}

/// Manifest text and what it is read against.
struct Source<'a> {
    text: &'a str,
    /// Names it in errors; kept in [`Manifest::source`].
    path: Option<&'a Path>,
    /// Relative paths are joined onto it.
    base_dir: &'a Path,
    /// What `~` stands for.
    home: Option<&'a Path>,
    /// The registered backends a session may name besides the built-in ones.
    backends: &'a [String],
}

impl Source<'_> {
    fn parse(
        &self,
        hosts_file: Option<&HostsFile>,
        sessions: Sessions,
    ) -> Result<Manifest, ConfigError> {
        let origin = match self.path {
            Some(p) => p.display().to_string(),
            None => "<manifest>".to_owned(),
        };
        let cx = Validator {
            text: self.text,
            origin: &origin,
            home: self.home,
            backends: Some(self.backends),
        };
        let raw: RawManifest = toml::from_str(self.text).map_err(|e| cx.toml_error(&e))?;
        cx.validate(raw, self.path, self.base_dir, hosts_file, sessions)
    }
}

/// [`HostsFile::parse`] with `home` standing in for `$HOME`.
pub(crate) fn parse_hosts_file(
    text: &str,
    path: &Path,
    home: Option<&Path>,
) -> Result<HostsFile, ConfigError> {
    let origin = path.display().to_string();
    let cx = Validator {
        text,
        origin: &origin,
        home,
        backends: None,
    };
    let raw: RawHostsFile = toml::from_str(text).map_err(|e| cx.toml_error(&e))?;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let base_dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
    Ok(HostsFile {
        path: path.to_path_buf(),
        hosts: cx.hosts(raw.hosts, &base_dir)?,
    })
}

// ---------------------------------------------------------------------------
// Leaf types with their own checks.

/// A duration written as a humantime string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawDuration(Duration);

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration string such as "30s""#)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawDuration, E> {
                humantime::parse_duration(s).map(RawDuration).map_err(|e| {
                    E::custom(format_args!(
                        r#"invalid duration "{}": {e}; write e.g. "500ms", "30s", "10m" or "1h 30m""#,
                        s.escape_debug()
                    ))
                })
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawDuration, E> {
                Err(E::custom(format_args!(
                    r#"a bare number ({n}) is not a duration; write it as a string with a unit, e.g. "30s""#
                )))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawDuration, E> {
                Err(E::custom(format_args!(
                    r#"a bare number ({n}) is not a duration; write it as a string with a unit, e.g. "30s""#
                )))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<RawDuration, E> {
                Err(E::custom(format_args!(
                    r#"a bare number ({n}) is not a duration; write it as a string with a unit, e.g. "1.5s" → "1500ms""#
                )))
            }
        }
        d.deserialize_any(V)
    }
}

const NUL_MESSAGE: &str = "strings may not contain NUL characters";

/// A string without NUL (it would truncate an argv element or env entry).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor (not `String::deserialize` then a check) so the error is
        // raised inside the value and carries its span, not its parent's.
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text, E> {
                if s.contains('\0') {
                    return Err(E::custom(NUL_MESSAGE));
                }
                Ok(Text(s.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A non-empty argv: an array of strings, or one string split with
/// shell-words (no shell ever runs it).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Argv(Vec<String>);

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Argv;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an argv array such as ["python3", "worker.py"] or a command string"#)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Argv, E> {
                if s.contains('\0') {
                    return Err(E::custom(NUL_MESSAGE));
                }
                let words = shell_words::split(s)
                    .map_err(|e| E::custom(format_args!("cannot split the command string: {e}")))?;
                if words.is_empty() {
                    return Err(E::custom(
                        "the command string is empty; give at least the program",
                    ));
                }
                Ok(Argv(words))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut words = Vec::new();
                while let Some(Text(w)) = seq.next_element()? {
                    words.push(w);
                }
                if words.is_empty() {
                    return Err(de::Error::custom(
                        "the argv array is empty; give at least the program",
                    ));
                }
                Ok(Argv(words))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a baton manifest")]
struct RawManifest {
    conductor: RawConductor,
    probe: RawProbe,
    agents: RawAgents,
    session: Vec<Spanned<SpawnSpec>>,
    accounts: RawAccounts,
    hosts: RawHosts,
    notify: Vec<Spanned<RawNotify>>,
    pricing: BTreeMap<Spanned<Text>, Spanned<RawPrice>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [pricing.NAME] table")]
struct RawPrice {
    input: Sp<f64>,
    cached: Sp<f64>,
    output: Sp<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [[notify]] table")]
struct RawNotify {
    on: Vec<Spanned<Text>>,
    command: Sp<Argv>,
    sessions: Vec<Spanned<Text>>,
    capability: Sp<Text>,
    kinds: Vec<Spanned<Text>>,
}

/// `[hosts.NAME]` tables by name, each name with its span.
type RawHosts = BTreeMap<Spanned<Text>, Spanned<RawHost>>;

/// A hosts file: `[hosts.NAME]` tables and nothing else.
#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "a hosts file of [hosts.NAME] tables"
)]
struct RawHostsFile {
    hosts: RawHosts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [hosts.NAME] table")]
struct RawHost {
    address: Sp<Text>,
    user: Sp<Text>,
    port: Sp<i64>,
    identity: Sp<Text>,
    multiplexer: Option<Multiplexer>,
    max_sessions: Sp<i64>,
    ssh_options: Vec<Spanned<Text>>,
    remote_timeout: Sp<RawDuration>,
}

type Sp<T> = Option<Spanned<T>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [conductor] table")]
struct RawConductor {
    logs_dir: Sp<Text>,
    max_restarts: Option<u32>,
    grace: Sp<RawDuration>,
    backoff: Sp<RawDuration>,
    backoff_max: Sp<RawDuration>,
    reset_after: Option<RawDuration>,
    fsync: Option<FsyncPolicy>,
    rate_limit_cooldown: Option<RawDuration>,
    tail_bytes: Sp<u64>,
    remote_timeout: Sp<RawDuration>,
    log_input: Option<bool>,
    max_log_size: Sp<RawSize>,
    keep_segments: Sp<u32>,
}

/// A size: a number of bytes, or a string with a binary unit (`"64MiB"`,
/// `"512 KiB"`, `"1G"`).
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a size: a number of bytes or a string like \"64MiB\""
)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

impl RawSize {
    fn bytes(&self) -> Result<u64, String> {
        let text = match self {
            RawSize::Bytes(n) => return Ok(*n),
            RawSize::Text(text) => text.trim(),
        };
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit_size: u64 = match unit.trim() {
            "" | "B" => 1,
            "K" | "KiB" => 1 << 10,
            "M" | "MiB" => 1 << 20,
            "G" | "GiB" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown unit `{other}` in `{text}` (B, KiB, MiB or GiB)"
                ));
            }
        };
        number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(unit_size))
            .ok_or_else(|| format!("`{text}` is not a size (e.g. \"64MiB\")"))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "a [probe] table")]
struct RawProbe {
    stall_after: Sp<RawDuration>,
    input_wait_after: Option<RawDuration>,
    startup_timeout: Sp<RawDuration>,
    on_stall: Option<OnStall>,
    stall_restart_after: Option<RawDuration>,
    health_interval: Option<RawDuration>,
    l2_check: Option<Argv>,
    l2_interval: Sp<RawDuration>,
    l2_failures: Sp<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [agents] table")]
struct RawAgents {
    codex: RawAgent,
    gemini: RawAgent,
    claude: RawAgent,
    command: RawAgent,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [agents.NAME] table")]
struct RawAgent {
    bin: Sp<Text>,
    stdin: Option<StdinMode>,
    input_wait: TableList<RawInputWait>,
    hooks: Sp<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(
    deny_unknown_fields,
    default,
    expecting = "an [[agents.NAME.input_wait]] table"
)]
struct RawInputWait {
    name: Sp<Text>,
    pattern: Sp<Text>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [accounts] table")]
struct RawAccounts {
    auth_dir: Sp<Text>,
    state_dir: Sp<Text>,
    cooldown: Sp<RawDuration>,
    circuit_failures: Sp<u32>,
    circuit_window: Sp<RawDuration>,
    codex: TableList<RawAccount>,
    gemini: TableList<RawAccount>,
    claude: TableList<RawAccount>,
}

/// What an array of tables holds, for the messages of a [`TableList`] of it.
trait ListItem {
    /// How one entry is written, e.g. `[[accounts.NAME]]`.
    const HEADER: &'static str;
    /// What one entry is, e.g. `account`.
    const ONE: &'static str;
    /// What several entries are, e.g. `accounts`.
    const MANY: &'static str;
}

impl ListItem for RawAccount {
    const HEADER: &'static str = "[[accounts.NAME]]";
    const ONE: &'static str = "account";
    const MANY: &'static str = "accounts";
}

impl ListItem for RawInputWait {
    const HEADER: &'static str = "[[agents.NAME.input_wait]]";
    const ONE: &'static str = "rule";
    const MANY: &'static str = "rules";
}

/// The entries of an array of tables (`[[accounts.codex]]`,
/// `[[session.answer]]`, …), each with its span.
#[derive(Debug)]
struct TableList<T>(Vec<Spanned<T>>);

impl<T> Default for TableList<T> {
    fn default() -> Self {
        TableList(Vec::new())
    }
}

impl<'de, T: Deserialize<'de> + ListItem> Deserialize<'de> for TableList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor only for its messages: a table with one pair of brackets
        // is the likely mistake, and "expected a sequence" does not say how
        // to fix it.
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + ListItem> Visitor<'de> for V<T> {
            type Value = TableList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "an array of tables, one {} (two brackets) per {}",
                    T::HEADER,
                    T::ONE
                )
            }
            fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<TableList<T>, A::Error> {
                Err(de::Error::custom(format_args!(
                    "this is one table, not a list of {}; write each {} as {} (two brackets)",
                    T::MANY,
                    T::ONE,
                    T::HEADER
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TableList<T>, A::Error> {
                let mut list = Vec::new();
                while let Some(entry) = seq.next_element()? {
                    list.push(entry);
                }
                Ok(TableList(list))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default, expecting = "an [[accounts.NAME]] table")]
struct RawAccount {
    id: Sp<Text>,
    mode: Sp<AccountMode>,
    profile: Sp<Text>,
    env: Sp<BTreeMap<Spanned<Text>, Text>>,
    auth_file: Sp<Text>,
    host: Sp<Text>,
    tier: Option<Tier>,
}

// ---------------------------------------------------------------------------
// Validation.

/// Checks the raw tables of one file: its text and the name to show it
/// under, for errors that point at file:line.
struct Validator<'a> {
    text: &'a str,
    origin: &'a str,
    /// What `~` in `[accounts]` paths stands for.
    home: Option<&'a Path>,
    /// The registered backends a session may name besides the built-in
    /// ones (`None`: any well-formed name; the daemon checks it).
    backends: Option<&'a [String]>,
}

impl Validator<'_> {
    fn invalid(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Invalid {
        Invalid::new(self.text, self.origin, span, message.into(), "here")
    }

    fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        self.invalid(span, message).into()
    }

    /// Turns a TOML syntax or serde error into one that names the field.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        // serde quotes the offending value in some messages (`unknown variant
        // `a\nb``); escape control characters so the error stays one line.
        let mut msg = String::new();
        for c in e.message().trim_end().chars() {
            if c.is_control() {
                msg.extend(c.escape_debug());
            } else {
                msg.push(c);
            }
        }
        let msg = msg.as_str();
        let located = span.as_ref().and_then(|s| locate(self.text, s.start));
        let message = match located {
            None => msg.to_owned(),
            Some(located) => describe(&located, msg),
        };
        self.err(span, message)
    }

    fn validate(
        &self,
        raw: RawManifest,
        source: Option<&Path>,
        base_dir: &Path,
        hosts_file: Option<&HostsFile>,
        sessions: Sessions,
    ) -> Result<Manifest, ConfigError> {
        let conductor = self.conductor(raw.conductor, base_dir)?;
        let probe = self.probe(raw.probe)?;
        let agents = self.agents(raw.agents)?;
        let accounts = self.accounts(raw.accounts, base_dir)?;
        let mut hosts = self.hosts(raw.hosts, base_dir)?;
        if let Some(file) = hosts_file {
            for (name, host) in &file.hosts {
                hosts.entry(name.clone()).or_insert_with(|| host.clone());
            }
        }
        if sessions == Sessions::Required && raw.session.is_empty() {
            let help = "add at least one, e.g.\n[[session]]\nagent = \"command\"\ncommand = [\"echo\", \"hi\"]";
            let invalid = self.invalid(None, "manifest has no [[session]] entries");
            return Err(invalid.with_help(help).into());
        }
        let mut sessions = Vec::with_capacity(raw.session.len());
        let mut seen = HashMap::new();
        // The spanned tree parses where the typed one did (it was read
        // from the same text); without it errors lose only their place.
        let doc = toml::de::DeTable::parse(self.text).ok();
        let mut values = doc
            .as_ref()
            .map(|d| session_spans(d.get_ref()))
            .unwrap_or_default()
            .into_iter();
        for (i, s) in raw.session.into_iter().enumerate() {
            let values = values.next().unwrap_or_default();
            let spec = self.session(i + 1, s, values, base_dir, Some(&hosts), &mut seen)?;
            sessions.push(spec);
        }
        let notify = raw
            .notify
            .into_iter()
            .enumerate()
            .map(|(i, hook)| self.notify(i + 1, hook))
            .collect::<Result<_, _>>()?;
        let pricing = self.pricing(raw.pricing)?;
        Ok(Manifest {
            source: source.map(Path::to_path_buf),
            base_dir: base_dir.to_path_buf(),
            conductor,
            probe,
            agents,
            sessions,
            accounts,
            hosts,
            notify,
            pricing,
        })
    }

    /// Checks `[pricing.NAME]` tables: a name, and `input` and `output`
    /// prices (`cached` optional) a price can be.
    fn pricing(
        &self,
        raw: BTreeMap<Spanned<Text>, Spanned<RawPrice>>,
    ) -> Result<crate::Pricing, ConfigError> {
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let mut pricing = crate::Pricing::new();
        for (name, raw) in entries {
            let name_span = name.span();
            let Text(name) = name.into_inner();
            if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
                return Err(self.err(
                    Some(name_span),
                    "a [pricing] name is a model (as a session's `model` names it) or an \
                     agent: 1 to 200 characters, none a control character",
                ));
            }
            let table = format!("[pricing.\"{}\"]", name.escape_debug());
            let header = raw.span();
            let raw = raw.into_inner();
            let required = |field: &str, value: Sp<f64>| match value {
                Some(v) => Ok(v),
                None => Err(self.err(
                    Some(header.clone()),
                    format!(
                        "`{field}` is missing in {table}: US dollars per million {field} tokens"
                    ),
                )),
            };
            let input = required("input", raw.input)?;
            let output = required("output", raw.output)?;
            let price = crate::Price::new(
                *input.get_ref(),
                raw.cached.as_ref().map(|c| *c.get_ref()),
                *output.get_ref(),
            )
            .map_err(|e| {
                let span = match e.field {
                    "input" => input.span(),
                    "output" => output.span(),
                    _ => raw.cached.as_ref().map_or(header.clone(), Spanned::span),
                };
                self.err(Some(span), format!("{e} in {table}"))
            })?;
            pricing.insert(name, price);
        }
        Ok(pricing)
    }

    /// Checks the `n`th `[[notify]]` table.
    fn notify(&self, n: usize, raw: Spanned<RawNotify>) -> Result<NotifyHook, ConfigError> {
        let table = format!("[[notify]] #{n}");
        let span = raw.span();
        let raw = raw.into_inner();
        if raw.on.is_empty() {
            return Err(self.err(
                Some(span),
                format!(
                    "{table} needs `on`, the states that run it, e.g. on = [\"input_wait\", \"dead\"]"
                ),
            ));
        }
        let mut on = Vec::with_capacity(raw.on.len());
        for state in raw.on {
            let at = state.span();
            let Text(name) = state.into_inner();
            if !STATE_NAMES.contains(&name.as_str()) {
                return Err(self.err(
                    Some(at),
                    format!(
                        "`on` in {table}: unknown state `{}`; the states are {}",
                        name.escape_debug(),
                        STATE_NAMES.join(", ")
                    ),
                ));
            }
            if !on.contains(&name) {
                on.push(name);
            }
        }
        let Some(command) = raw.command else {
            return Err(self.err(
                Some(span),
                format!("{table} needs `command`, the argv to run, e.g. command = [\"notify-send\", \"baton\"]"),
            ));
        };
        let Argv(command) = command.into_inner();
        let mut sessions = Vec::with_capacity(raw.sessions.len());
        for id in raw.sessions {
            let at = id.span();
            let Text(id) = id.into_inner();
            match id.parse::<SessionId>() {
                Ok(id) => sessions.push(id),
                Err(e) => {
                    return Err(self.err(Some(at), format!("`sessions` in {table}: {e}")));
                }
            }
        }
        let mut kinds = Vec::with_capacity(raw.kinds.len());
        for kind in raw.kinds {
            let at = kind.span();
            let Text(name) = kind.into_inner();
            if !WAIT_KIND_NAMES.contains(&name.as_str()) {
                return Err(self.err(
                    Some(at),
                    format!(
                        "`kinds` in {table}: unknown kind `{}`; the kinds are {}",
                        name.escape_debug(),
                        WAIT_KIND_NAMES.join(", ")
                    ),
                ));
            }
            if !on.iter().any(|s| s == "input_wait") {
                return Err(self.err(
                    Some(at),
                    format!(
                        "`kinds` in {table} narrows input_wait, which `on` does not hold; add \"input_wait\" to `on`"
                    ),
                ));
            }
            if !kinds.contains(&name) {
                kinds.push(name);
            }
        }
        Ok(NotifyHook {
            on,
            command,
            sessions,
            capability: raw.capability.map(|c| c.into_inner().0),
            kinds,
        })
    }

    /// Checks the keys of an `env` table that belongs to `owner` (a table
    /// name and id). Values are never shown.
    fn env(
        &self,
        raw: BTreeMap<Spanned<Text>, Text>,
        owner: &str,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut env = BTreeMap::new();
        for (key, Text(value)) in raw {
            let span = key.span();
            let Text(key) = key.into_inner();
            let problem = if key.is_empty() {
                Some("an env key must not be empty")
            } else if key.contains('=') {
                Some("an env key must not contain '='")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(self.err(
                    Some(span),
                    format!("`env` in {owner}: {problem} (key `{}`)", key.escape_debug()),
                ));
            }
            env.insert(key, value);
        }
        Ok(env)
    }

    fn nonzero(
        &self,
        v: &Spanned<RawDuration>,
        field: &str,
        table: &str,
    ) -> Result<Duration, ConfigError> {
        if v.get_ref().0.is_zero() {
            Err(self.err(
                Some(v.span()),
                format!("`{field}` in {table} must be greater than zero"),
            ))
        } else {
            Ok(v.get_ref().0)
        }
    }

    fn path(
        &self,
        v: &Spanned<Text>,
        field: &str,
        table: &str,
        base_dir: &Path,
    ) -> Result<PathBuf, ConfigError> {
        let s = &v.get_ref().0;
        if s.is_empty() {
            return Err(self.err(
                Some(v.span()),
                format!("`{field}` in {table} must not be empty"),
            ));
        }
        Ok(resolve(base_dir, Path::new(s)))
    }

    fn conductor(
        &self,
        raw: RawConductor,
        base_dir: &Path,
    ) -> Result<ConductorConfig, ConfigError> {
        const T: &str = "[conductor]";
        let d = ConductorConfig::default();
        let logs_dir = match &raw.logs_dir {
            Some(v) => self.path(v, "logs_dir", T, base_dir)?,
            None => resolve(base_dir, &d.logs_dir),
        };
        let grace = match &raw.grace {
            Some(v) => self.nonzero(v, "grace", T)?,
            None => d.grace,
        };
        let backoff = raw.backoff.as_ref().map_or(d.backoff, |v| v.get_ref().0);
        let backoff_max = raw
            .backoff_max
            .as_ref()
            .map_or(d.backoff_max, |v| v.get_ref().0);
        if backoff_max < backoff {
            let span = raw
                .backoff_max
                .as_ref()
                .or(raw.backoff.as_ref())
                .map(Spanned::span);
            return Err(self.err(
                span,
                format!(
                    "`backoff_max` in [conductor] ({}) is less than `backoff` ({})",
                    humantime::format_duration(backoff_max),
                    humantime::format_duration(backoff)
                ),
            ));
        }
        let tail_bytes = match &raw.tail_bytes {
            Some(v) => match usize::try_from(*v.get_ref()) {
                Ok(n) if TAIL_BYTES_RANGE.contains(&n) => n,
                _ => {
                    return Err(self.err(
                        Some(v.span()),
                        format!(
                            "`tail_bytes` in [conductor] is {}, must be within {}..={}",
                            v.get_ref(),
                            TAIL_BYTES_RANGE.start(),
                            TAIL_BYTES_RANGE.end()
                        ),
                    ));
                }
            },
            None => d.tail_bytes,
        };
        Ok(ConductorConfig {
            logs_dir,
            max_restarts: raw.max_restarts.unwrap_or(d.max_restarts),
            grace,
            backoff,
            backoff_max,
            reset_after: raw.reset_after.map_or(d.reset_after, |v| v.0),
            fsync: raw.fsync.unwrap_or(d.fsync),
            rate_limit_cooldown: raw
                .rate_limit_cooldown
                .map_or(d.rate_limit_cooldown, |v| v.0),
            tail_bytes,
            remote_timeout: match &raw.remote_timeout {
                Some(v) => self.nonzero(v, "remote_timeout", T)?,
                None => d.remote_timeout,
            },
            log_input: raw.log_input.unwrap_or(d.log_input),
            max_log_size: match &raw.max_log_size {
                Some(v) => match v.get_ref().bytes() {
                    Ok(n) if n == 0 || n >= MIN_LOG_SIZE => n,
                    Ok(n) => {
                        return Err(self.err(
                            Some(v.span()),
                            format!(
                                "`max_log_size` in [conductor] is {n} bytes; it must be 0 (never roll over) or at least {MIN_LOG_SIZE} (64KiB)"
                            ),
                        ));
                    }
                    Err(problem) => {
                        return Err(self.err(
                            Some(v.span()),
                            format!("`max_log_size` in [conductor]: {problem}"),
                        ));
                    }
                },
                None => d.max_log_size,
            },
            keep_segments: match &raw.keep_segments {
                Some(v) if *v.get_ref() == 0 => {
                    return Err(self.err(
                        Some(v.span()),
                        "`keep_segments` in [conductor] is 0; it must be at least 1 (the newest finished segment says where the log goes on)",
                    ));
                }
                Some(v) => Some(*v.get_ref()),
                None => d.keep_segments,
            },
        })
    }

    fn probe(&self, raw: RawProbe) -> Result<ProbeConfig, ConfigError> {
        const T: &str = "[probe]";
        let d = ProbeConfig::default();
        let stall_after = match &raw.stall_after {
            Some(v) => self.nonzero(v, "stall_after", T)?,
            None => d.stall_after,
        };
        let startup_timeout = match &raw.startup_timeout {
            Some(v) => self.nonzero(v, "startup_timeout", T)?,
            None => d.startup_timeout,
        };
        let l2_interval = match &raw.l2_interval {
            Some(v) => self.nonzero(v, "l2_interval", T)?,
            None => d.l2_interval,
        };
        let l2_failures = match &raw.l2_failures {
            Some(v) if *v.get_ref() == 0 => {
                return Err(self.err(
                    Some(v.span()),
                    "`l2_failures` in [probe] must be at least 1",
                ));
            }
            Some(v) => *v.get_ref(),
            None => d.l2_failures,
        };
        Ok(ProbeConfig {
            stall_after,
            input_wait_after: match raw.input_wait_after {
                Some(v) => Some(v.0).filter(|d| !d.is_zero()),
                None => d.input_wait_after,
            },
            startup_timeout,
            on_stall: raw.on_stall.unwrap_or(d.on_stall),
            stall_restart_after: raw
                .stall_restart_after
                .map_or(d.stall_restart_after, |v| v.0),
            health_interval: raw.health_interval.map(|v| v.0).filter(|d| !d.is_zero()),
            l2_check: raw.l2_check.map(|a| a.0),
            l2_interval,
            l2_failures,
        })
    }

    fn agents(&self, raw: RawAgents) -> Result<AgentsConfig, ConfigError> {
        let one = |raw: RawAgent, kind: AgentKind| -> Result<AgentConfig, ConfigError> {
            let bin = match raw.bin {
                Some(b) if kind == AgentKind::Command => {
                    return Err(self.err(
                        Some(b.span()),
                        "`bin` in [agents.command]: the command agent has no binary; \
                         give each session's argv in its `command`",
                    ));
                }
                Some(b) if b.get_ref().0.is_empty() => {
                    return Err(self.err(
                        Some(b.span()),
                        format!("`bin` in [agents.{kind}] must not be empty"),
                    ));
                }
                Some(b) => Some(b.into_inner().0),
                None => None,
            };
            let input_wait = self.input_wait(raw.input_wait, kind)?;
            if let (Some(hooks), AgentKind::Command) = (&raw.hooks, kind) {
                return Err(self.err(
                    Some(hooks.span()),
                    "`hooks` in [agents.command]: a command has no hooks baton knows;                      it is judged by its output and screen",
                ));
            }
            Ok(AgentConfig {
                bin,
                stdin: raw.stdin,
                input_wait,
                hooks: raw.hooks.map(|h| h.into_inner()),
            })
        };
        Ok(AgentsConfig {
            codex: one(raw.codex, AgentKind::Codex)?,
            gemini: one(raw.gemini, AgentKind::Gemini)?,
            claude: one(raw.claude, AgentKind::Claude)?,
            command: one(raw.command, AgentKind::Command)?,
        })
    }

    /// Checks `[[agents.KIND.input_wait]]`: names valid and unique within
    /// the agent, patterns non-empty regexes that compile.
    fn input_wait(
        &self,
        raw: TableList<RawInputWait>,
        kind: AgentKind,
    ) -> Result<Vec<InputWaitRule>, ConfigError> {
        let owner = format!("[agents.{kind}]");
        let mut rules = Vec::with_capacity(raw.0.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, entry) in raw.0.into_iter().enumerate() {
            let header = entry.span();
            let entry = entry.into_inner();
            let at = format!("input_wait[{i}]");
            let Some(name) = entry.name else {
                return Err(self.err(
                    Some(header),
                    format!(
                        "`{at}` in {owner} has no `name`; give the rule a name such as \
                         name = \"trust_prompt\" ({RULE_NAME_RULE})"
                    ),
                ));
            };
            let name_span = name.span();
            let name = self.rule_name(name, &format!("{at}.name"), &owner)?;
            if let Some(first_line) = seen.get(&name) {
                return Err(self.err(
                    Some(name_span),
                    format!(
                        "`{at}.name` in {owner}: duplicate rule name `{name}` \
                         (first used on line {first_line})"
                    ),
                ));
            }
            seen.insert(name.clone(), line_of(self.text, name_span.start));
            let Some(pattern) = entry.pattern else {
                return Err(self.err(
                    Some(header),
                    format!(
                        "`{at}` in {owner} (`{name}`) has no `pattern`; give a regex matched \
                         against each of the last non-empty lines, e.g. pattern = '^Continue\\?'"
                    ),
                ));
            };
            let pattern = self.pattern(pattern, &format!("{at}.pattern"), &owner)?;
            rules.push(InputWaitRule { name, pattern });
        }
        Ok(rules)
    }

    /// Checks `[[session.answer]]` of the session described by `owner`.
    /// Checks a rule name against [`RULE_NAME_RULE`].
    fn rule_name(&self, v: Spanned<Text>, field: &str, owner: &str) -> Result<String, ConfigError> {
        let span = v.span();
        let Text(name) = v.into_inner();
        if valid_rule_name(&name) {
            Ok(name)
        } else {
            Err(self.err(
                Some(span),
                format!(
                    "`{field}` in {owner}: invalid rule name `{}`: {RULE_NAME_RULE}",
                    name.escape_debug()
                ),
            ))
        }
    }

    /// Checks that a pattern is non-empty and compiles as a Rust regex.
    fn pattern(&self, v: Spanned<Text>, field: &str, owner: &str) -> Result<String, ConfigError> {
        let span = v.span();
        let Text(pattern) = v.into_inner();
        match check_pattern(&pattern) {
            Ok(_) => Ok(pattern),
            Err(problem) => Err(self.err(Some(span), format!("`{field}` in {owner} {problem}"))),
        }
    }

    fn accounts(&self, raw: RawAccounts, base_dir: &Path) -> Result<AccountsConfig, ConfigError> {
        const T: &str = "[accounts]";
        let d = AccountsConfig::default();
        let dir = |v: &Sp<Text>, field: &str, default: PathBuf| -> Result<PathBuf, ConfigError> {
            match v {
                Some(v) => {
                    expand_path(&v.get_ref().0, self.home, Some(base_dir)).map_err(|problem| {
                        self.err(Some(v.span()), format!("`{field}` in {T} {problem}"))
                    })
                }
                None => Ok(default),
            }
        };
        let auth_dir = dir(&raw.auth_dir, "auth_dir", d.auth_dir)?;
        let state_dir = dir(&raw.state_dir, "state_dir", d.state_dir)?;
        let cooldown = match &raw.cooldown {
            Some(v) => self.nonzero(v, "cooldown", T)?,
            None => d.cooldown,
        };
        let circuit_window = match &raw.circuit_window {
            Some(v) => self.nonzero(v, "circuit_window", T)?,
            None => d.circuit_window,
        };
        let circuit_failures = match &raw.circuit_failures {
            Some(v) if *v.get_ref() == 0 => {
                return Err(self.err(
                    Some(v.span()),
                    "`circuit_failures` in [accounts] must be at least 1",
                ));
            }
            Some(v) => *v.get_ref(),
            None => d.circuit_failures,
        };

        // Every entry with its provider and number within the provider, in
        // the order they appear in the file.
        let mut entries = Vec::new();
        for (provider, list) in PROVIDERS
            .into_iter()
            .zip([raw.codex, raw.gemini, raw.claude])
        {
            for (i, entry) in list.0.into_iter().enumerate() {
                entries.push((provider, i + 1, entry));
            }
        }
        entries.sort_by_key(|(_, _, entry)| entry.span().start);
        let mut seen = HashMap::new();
        let mut accounts = Vec::with_capacity(entries.len());
        for (provider, n, entry) in entries {
            accounts.push(self.account(provider, n, entry, &mut seen)?);
        }
        Ok(AccountsConfig {
            auth_dir,
            state_dir,
            cooldown,
            circuit_failures,
            circuit_window,
            accounts,
        })
    }

    fn account(
        &self,
        provider: AgentKind,
        n: usize,
        raw: Spanned<RawAccount>,
        seen: &mut HashMap<(AgentKind, String), usize>,
    ) -> Result<AccountSpec, ConfigError> {
        let table = format!("[[accounts.{provider}]] #{n}");
        let header = raw.span();
        let raw = raw.into_inner();
        let modes = if provider == AgentKind::Codex {
            r#""profile", "env" or "auth""#
        } else {
            r#""env" or "auth""#
        };

        let Some(id) = raw.id else {
            return Err(self.err(
                Some(header),
                format!("{table} has no `id`; give each account a name, e.g. id = \"work\""),
            ));
        };
        let id_span = id.span();
        let Text(id) = id.into_inner();
        if !valid_account_id(&id) {
            return Err(self.err(
                Some(id_span),
                format!(
                    "`id` in {table}: invalid account id `{}`: {ACCOUNT_ID_RULE}",
                    id.escape_debug()
                ),
            ));
        }
        let key = (provider, id);
        if let Some(first_line) = seen.get(&key) {
            return Err(self.err(
                Some(id_span),
                format!(
                    "duplicate account id `{}` in {table} (first used on line {first_line} by \
                     another {provider} account)",
                    key.1
                ),
            ));
        }
        seen.insert(key.clone(), line_of(self.text, id_span.start));
        let id = key.1;
        let this = format!("{table} (`{id}`)");

        let Some(mode) = raw.mode else {
            return Err(self.err(
                Some(id_span),
                format!("{this} has no `mode`; set mode = {modes}"),
            ));
        };
        let mode_span = mode.span();
        let mode = mode.into_inner();
        if mode == AccountMode::Profile && provider != AgentKind::Codex {
            return Err(self.err(
                Some(mode_span),
                format!(
                    "`mode` in {this}: mode = \"profile\" is only for codex accounts \
                     (codex --profile); a {provider} account can use mode = {modes}"
                ),
            ));
        }

        // Fields that belong to another mode.
        let stray = [
            (
                "profile",
                AccountMode::Profile,
                raw.profile.as_ref().map(Spanned::span),
            ),
            ("env", AccountMode::Env, raw.env.as_ref().map(Spanned::span)),
            (
                "auth_file",
                AccountMode::Auth,
                raw.auth_file.as_ref().map(Spanned::span),
            ),
        ];
        for (field, owner, span) in stray {
            if let Some(span) = span
                && owner != mode
            {
                return Err(self.err(
                    Some(span),
                    format!(
                        "`{field}` in {this} is only for mode = \"{owner}\", \
                         this account is mode = \"{mode}\""
                    ),
                ));
            }
        }

        let required = |field: &str, what: &str| {
            self.err(
                Some(mode_span.clone()),
                format!("{this} is mode = \"{mode}\" but has no `{field}`; {what}"),
            )
        };
        let non_empty = |v: Spanned<Text>, field: &str| -> Result<String, ConfigError> {
            if v.get_ref().0.is_empty() {
                Err(self.err(
                    Some(v.span()),
                    format!("`{field}` in {this} must not be empty"),
                ))
            } else {
                Ok(v.into_inner().0)
            }
        };
        let mut profile = None;
        let mut env = BTreeMap::new();
        let mut auth_file = None;
        match mode {
            AccountMode::Profile => {
                let p = raw.profile.ok_or_else(|| {
                    required("profile", "name the codex profile, e.g. profile = \"work\"")
                })?;
                profile = Some(non_empty(p, "profile")?);
            }
            AccountMode::Env => {
                let e = raw.env.ok_or_else(|| {
                    required(
                        "env",
                        "give the variables to set, e.g. env = { OPENAI_API_KEY = \"$WORK_KEY\" }",
                    )
                })?;
                if e.get_ref().is_empty() {
                    return Err(self.err(
                        Some(e.span()),
                        format!(
                            "`env` in {this} is empty; mode = \"env\" needs at least one variable"
                        ),
                    ));
                }
                env = self.env(e.into_inner(), &this)?;
            }
            AccountMode::Auth => {
                let f = raw.auth_file.ok_or_else(|| {
                    required(
                        "auth_file",
                        "name the credentials file, relative to `auth_dir` in [accounts]",
                    )
                })?;
                let span = f.span();
                let path = expand_path(&f.get_ref().0, self.home, None).map_err(|problem| {
                    self.err(Some(span), format!("`auth_file` in {this} {problem}"))
                })?;
                auth_file = Some(path);
            }
        }
        let host = match raw.host {
            Some(h) => Some(non_empty(h, "host")?),
            None => None,
        };
        if let (Some(host), Some(key)) = (&host, env.keys().find(|k| !crate::is_shell_name(k))) {
            return Err(self.err(
                Some(mode_span),
                format!(
                    "{this} is for host `{host}` and its `env` has the key `{}`; the host's \
                     shell sets a remote session's variables, so each key must be a shell \
                     variable name ([A-Za-z_][A-Za-z0-9_]*)",
                    key.escape_debug()
                ),
            ));
        }
        if let (AccountMode::Auth, Some(host)) = (mode, &host) {
            return Err(self.err(
                Some(mode_span),
                format!(
                    "{this} is mode = \"auth\" for host `{host}`: its credentials file is on \
                     this machine and would not reach a session there; use mode = \"env\" for a \
                     host's account, or leave `host` out"
                ),
            ));
        }

        Ok(AccountSpec {
            id,
            provider,
            mode,
            profile,
            env,
            auth_file,
            host,
            tier: raw.tier.unwrap_or_default(),
        })
    }

    /// Checks `[[session]]` number `n` with the one session checker
    /// ([`check_session`]), pointing its errors at the file: `values` are
    /// where its values were written, by key path.
    fn session(
        &self,
        n: usize,
        raw: Spanned<SpawnSpec>,
        values: BTreeMap<String, Range<usize>>,
        base_dir: &Path,
        hosts: Option<&BTreeMap<String, HostConfig>>,
        seen: &mut HashMap<String, usize>,
    ) -> Result<SessionSpec, ConfigError> {
        let table = format!("[[session]] #{n}");
        let spans = Spans {
            table: Some(raw.span()),
            values,
        };
        let mut spec = raw.into_inner();
        // A session without an id is `<agent>-<n>`, pointed at by its table.
        let agent = spec.agent.map_or(AgentKind::Command, AgentKind::from);
        let id = spec
            .id
            .get_or_insert_with(|| format!("{agent}-{n}"))
            .clone();
        // Ids are unique within a manifest: a rule of the file, not of a session.
        let id_span = spans.at("id").or_else(|| spans.table.clone());
        let this_line = id_span.as_ref().map_or(0, |s| line_of(self.text, s.start));
        if let Some(first_line) = seen.get(&id) {
            return Err(self.err(
                id_span,
                format!("duplicate session id `{id}` in {table} (first used on line {first_line})"),
            ));
        }
        seen.insert(id, this_line);
        let rules = SessionRules {
            table: &table,
            base_dir: Some(base_dir),
            hosts,
            backends: self.backends,
        };
        check_session(spec, &rules, &spans).map_err(|e| self.err(e.at, e.message))
    }

    /// Checks every `[hosts.NAME]` of one file; relative `identity` paths
    /// are joined onto `base_dir`.
    fn hosts(
        &self,
        raw: RawHosts,
        base_dir: &Path,
    ) -> Result<BTreeMap<String, HostConfig>, ConfigError> {
        // In file order, so the first mistake reported is the first one in
        // the file.
        let mut entries: Vec<_> = raw.into_iter().collect();
        entries.sort_by_key(|(name, _)| name.span().start);
        let mut hosts = BTreeMap::new();
        for (name, entry) in entries {
            let host = self.host(name, entry, base_dir)?;
            hosts.insert(host.name.clone(), host);
        }
        Ok(hosts)
    }

    fn host(
        &self,
        name: Spanned<Text>,
        raw: Spanned<RawHost>,
        base_dir: &Path,
    ) -> Result<HostConfig, ConfigError> {
        let name_span = name.span();
        let Text(name) = name.into_inner();
        if !valid_host_name(&name) {
            let why = if name == HOST_ANY || name == HOST_LOCAL {
                format!("`{name}` is reserved: a session's host = \"{name}\" has its own meaning")
            } else {
                HOST_NAME_RULE.to_owned()
            };
            return Err(self.err(
                Some(name_span),
                format!(
                    "invalid host name `{}` in [hosts]: {why}",
                    name.escape_debug()
                ),
            ));
        }
        let table = format!("[hosts.{name}]");
        let header = raw.span();
        let raw = raw.into_inner();

        // One word for ssh's command line: it must not be read as an option
        // or split by the shell of a user who pastes it.
        let word = |v: &Spanned<Text>, field: &str, what: &str| -> Result<String, ConfigError> {
            let s = &v.get_ref().0;
            let problem = if s.is_empty() {
                Some("must not be empty".to_owned())
            } else if s.starts_with('-') {
                Some(format!(
                    "is `{}`, which starts with '-': ssh would read it as an option",
                    s.escape_debug()
                ))
            } else if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                Some(format!(
                    "is `{}`, which contains whitespace or a control character",
                    s.escape_debug()
                ))
            } else {
                None
            };
            match problem {
                Some(p) => {
                    Err(self.err(Some(v.span()), format!("`{field}` in {table} {p}; {what}")))
                }
                None => Ok(s.clone()),
            }
        };

        let Some(address) = &raw.address else {
            return Err(self.err(
                Some(header),
                format!(
                    "{table} has no `address`; give the host's DNS name, IP address or \
                     ~/.ssh/config alias, e.g. address = \"gpu1.example.com\""
                ),
            ));
        };
        let address_what = "give a DNS name, an IP address or an ~/.ssh/config alias";
        let address_str = word(address, "address", address_what)?;
        if address_str.contains('@') {
            return Err(self.err(
                Some(address.span()),
                format!(
                    "`address` in {table} is `{}`: put the login name in `user`, not in \
                     the address",
                    address_str.escape_debug()
                ),
            ));
        }
        let user = match &raw.user {
            Some(u) => Some(word(u, "user", "give the remote login name")?),
            None => None,
        };
        let port = match &raw.port {
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(self.err(
                        Some(p.span()),
                        format!(
                            "`port` in {table} is {}, must be within 1..=65535",
                            p.get_ref()
                        ),
                    ));
                }
            },
            None => DEFAULT_SSH_PORT,
        };
        let identity = match &raw.identity {
            Some(v) => Some(
                expand_path(&v.get_ref().0, self.home, Some(base_dir)).map_err(|problem| {
                    self.err(Some(v.span()), format!("`identity` in {table} {problem}"))
                })?,
            ),
            None => None,
        };
        let max_sessions = match &raw.max_sessions {
            Some(v) => match u32::try_from(*v.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(self.err(
                        Some(v.span()),
                        format!(
                            "`max_sessions` in {table} is {}, must be at least 1 (default \
                             {DEFAULT_MAX_SESSIONS})",
                            v.get_ref()
                        ),
                    ));
                }
            },
            None => DEFAULT_MAX_SESSIONS,
        };
        let mut ssh_options = Vec::with_capacity(raw.ssh_options.len());
        for (i, opt) in raw.ssh_options.iter().enumerate() {
            let s = &opt.get_ref().0;
            if let Some(problem) = ssh_option_problem(s) {
                return Err(self.err(
                    Some(opt.span()),
                    format!(
                        "`ssh_options[{i}]` in {table} is `{}`: {problem}",
                        s.escape_debug()
                    ),
                ));
            }
            ssh_options.push(s.clone());
        }
        let remote_timeout = match &raw.remote_timeout {
            Some(v) => Some(self.nonzero(v, "remote_timeout", &table)?),
            None => None,
        };
        Ok(HostConfig {
            name,
            address: address_str,
            user,
            port,
            identity,
            multiplexer: raw.multiplexer.unwrap_or_default(),
            max_sessions,
            ssh_options,
            remote_timeout,
        })
    }
}

/// What is wrong with one `ssh_options` entry, if anything. ssh reads
/// `-o` values as config lines, so an entry must be exactly one
/// `Key=Value` line, and may not take over an option baton relies on.
fn ssh_option_problem(s: &str) -> Option<String> {
    if s.chars().any(char::is_control) {
        return Some(
            "it contains a newline or another control character; each entry is one \
             `Key=Value` option"
                .to_owned(),
        );
    }
    let Some((key, value)) = s.split_once('=') else {
        return Some("write each option as `Key=Value`, e.g. \"ServerAliveInterval=5\"".to_owned());
    };
    let key = key.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(format!(
            "`{}` is not an ssh option name; write each option as `Key=Value`",
            key.escape_debug()
        ));
    }
    if value.trim().is_empty() {
        return Some(format!("`{key}` has no value; write `{key}=VALUE`"));
    }
    if let Some(reserved) = RESERVED_SSH_OPTIONS
        .iter()
        .find(|r| r.eq_ignore_ascii_case(key))
    {
        let why = match *reserved {
            "Port" => "use the host's `port` field",
            "User" => "use the host's `user` field",
            "HostName" => "use the host's `address` field",
            _ => "baton sets it on every connection and relies on its value",
        };
        return Some(format!("`{reserved}` may not be set here: {why}"));
    }
    None
}

/// `message` (a regex error, which spans several lines and points at the
/// mistake with `^`) as one line: lines trimmed and joined with `; ` (a
/// space after a line ending in `:`), the marker lines dropped, control
/// characters escaped.
pub(crate) fn one_line(message: &str) -> String {
    let mut joined = String::new();
    let lines = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| matches!(c, '^' | '~')));
    for line in lines {
        if !joined.is_empty() {
            joined.push_str(if joined.ends_with(':') { " " } else { "; " });
        }
        joined.push_str(line);
    }
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(at)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------
// Naming the field a serde error is about.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

struct Located {
    path: Vec<Seg>,
    /// The error points at the key itself rather than its value.
    on_key: bool,
    /// The error points at a key whose value is a table or an array.
    key_of_table: bool,
}

/// The key path whose key or value covers byte `pos`, found by parsing the
/// text again into a spanned tree (only done on the error path).
fn locate(text: &str, pos: usize) -> Option<Located> {
    let doc = toml::de::DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    let mut key_of_table = false;
    let on_key = find_in_table(doc.get_ref(), pos, &mut path, &mut key_of_table)?;
    Some(Located {
        path,
        on_key,
        key_of_table,
    })
}

fn find_in_table(
    t: &toml::de::DeTable<'_>,
    pos: usize,
    path: &mut Vec<Seg>,
    key_of_table: &mut bool,
) -> Option<bool> {
    for (k, v) in t.iter() {
        path.push(Seg::Key(k.get_ref().to_string()));
        if k.span().contains(&pos) {
            *key_of_table = matches!(
                v.get_ref(),
                toml::de::DeValue::Table(_) | toml::de::DeValue::Array(_)
            );
            return Some(true);
        }
        if let Some(on_key) = find_in_value(v, pos, path, key_of_table) {
            return Some(on_key);
        }
        path.pop();
    }
    None
}

fn find_in_value(
    v: &Spanned<toml::de::DeValue<'_>>,
    pos: usize,
    path: &mut Vec<Seg>,
    key_of_table: &mut bool,
) -> Option<bool> {
    match v.get_ref() {
        toml::de::DeValue::Table(t) => {
            if let Some(on_key) = find_in_table(t, pos, path, key_of_table) {
                return Some(on_key);
            }
        }
        toml::de::DeValue::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                path.push(Seg::Index(i));
                if let Some(on_key) = find_in_value(e, pos, path, key_of_table) {
                    return Some(on_key);
                }
                path.pop();
            }
        }
        _ => {}
    }
    v.span().contains(&pos).then_some(false)
}

/// `segs` written as a field name: `answer[0].pattern`, `env.KEY`.
fn field_name(segs: &[Seg]) -> String {
    let mut field = String::new();
    for seg in segs {
        match seg {
            Seg::Key(k) => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.extend(k.escape_debug());
            }
            Seg::Index(i) => field.push_str(&format!("[{i}]")),
        }
    }
    field
}

/// Rewrites a serde message so it names the field and the table it is in,
/// and drops anything that could be an env value.
fn describe(located: &Located, msg: &str) -> String {
    let Located {
        path,
        on_key,
        key_of_table,
    } = located;
    let (path, on_key, key_of_table) = (path.as_slice(), *on_key, *key_of_table);
    let key = |i: usize| match path.get(i) {
        Some(Seg::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    let (table, rest) = match (key(0), path.get(1), path.get(2)) {
        (Some("session"), Some(Seg::Index(i)), _) => {
            (Some(format!("[[session]] #{}", i + 1)), &path[2..])
        }
        (Some("agents"), Some(Seg::Key(name)), Some(_)) => {
            (Some(format!("[agents.{name}]")), &path[2..])
        }
        (Some("hosts"), Some(Seg::Key(name)), Some(_)) => {
            (Some(format!("[hosts.{}]", name.escape_debug())), &path[2..])
        }
        (Some("accounts"), Some(Seg::Key(name)), Some(Seg::Index(i))) => (
            Some(format!("[[accounts.{}]] #{}", name.escape_debug(), i + 1)),
            &path[3..],
        ),
        (Some(t), Some(_), _) => (Some(format!("[{t}]")), &path[1..]),
        _ => (None, path),
    };
    let field = field_name(rest);
    let where_ = match &table {
        Some(t) => format!(" in {t}"),
        None => String::new(),
    };

    if let Some(after) = msg.strip_prefix("unknown field `")
        && let Some(end) = after.find('`')
    {
        // The error points at the unknown key, so the path ends with it; what
        // comes before is the (array of) table(s) inside `table` it is in.
        let parent = field_name(rest.split_last().map_or(&[][..], |(_, p)| p));
        let place = match (&table, parent.is_empty()) {
            (None, _) => "at the top level".to_owned(),
            (Some(t), true) => format!("in {t}"),
            (Some(t), false) => format!("in `{parent}` of {t}"),
        };
        let (name, tail) = after.split_at(end + 1);
        // A table or array under `[accounts]` is meant as a provider's accounts.
        if table.as_deref() == Some("[accounts]") && key_of_table {
            let providers = PROVIDERS.map(|p| format!("`{p}`")).join(", ");
            let why = if name == "command`" {
                " (the command agent runs a given argv and takes no accounts)"
            } else {
                ""
            };
            return format!(
                "unknown account provider `{name} in [accounts]{why}, expected one of {providers}"
            );
        }
        // `[agents]` keys are agent names, not fields.
        let what = if table.as_deref() == Some("[agents]") {
            "unknown agent"
        } else {
            "unknown field"
        };
        return format!("{what} `{name} {place}{tail}");
    }
    if matches!(rest.first(), Some(Seg::Key(k)) if k == "env") {
        let msg = if on_key && rest.len() == 2 {
            msg
        } else if rest.len() == 1 {
            "env must be a table of string values (value not shown)"
        } else {
            "env values must be strings without NUL characters (value not shown)"
        };
        return format!("`{field}`{where_}: {msg}");
    }
    format!("`{field}`{where_}: {msg}")
}
