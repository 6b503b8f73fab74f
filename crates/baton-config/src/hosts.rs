//! `[hosts.NAME]`: the inventory of machines remote sessions run on.
//!
//! An inventory host is written in `baton.toml` or in the user's
//! `~/.config/baton/hosts.toml` (same `[hosts.NAME]` tables, nothing else).
//! When both define a name, the manifest's entry wins, whole: a project can
//! override a personal host without editing the user's file. These are plain,
//! validated values; connecting is `baton_core::proc::ssh`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::error::ConfigError;
use crate::model::{HOST_ANY, HOST_LOCAL, Multiplexer, humantime_ser};

/// The rule a host name must satisfy, as shown in error messages.
pub const HOST_NAME_RULE: &str = "a host name is 1 to 64 characters: an ASCII letter or digit, \
     then ASCII letters, digits, '.', '_' or '-'; `local` and `any` are reserved";

/// `port` when a host does not say.
pub const DEFAULT_SSH_PORT: u16 = 22;

/// `max_sessions` when a host does not say.
pub const DEFAULT_MAX_SESSIONS: u32 = 4;

/// Where the user's own inventory lives, under `$HOME`.
pub const HOSTS_FILE_IN_HOME: &str = ".config/baton/hosts.toml";

/// ssh options baton sets itself on every connection; `ssh_options` may not
/// name them (compared without regard to case, as ssh does). The first
/// four keep every call non-interactive and on the one multiplexed
/// connection; `RemoteCommand`, `RequestTTY`, `SessionType`, `StdinNull`
/// and `ForkAfterAuthentication` would change what a call runs or where its
/// output goes; `Port`, `User` and `HostName` have their own fields.
pub const RESERVED_SSH_OPTIONS: &[&str] = &[
    "BatchMode",
    "ControlMaster",
    "ControlPath",
    "ControlPersist",
    "RemoteCommand",
    "RequestTTY",
    "SessionType",
    "StdinNull",
    "ForkAfterAuthentication",
    "Port",
    "User",
    "HostName",
];

/// Whether `s` satisfies [`HOST_NAME_RULE`].
pub fn valid_host_name(s: &str) -> bool {
    crate::model::SessionId::check(s) && s != HOST_ANY && s != HOST_LOCAL
}

/// One `[hosts.NAME]` entry.
///
/// After parsing: `name` satisfies [`HOST_NAME_RULE`]; `address` is
/// non-empty, has no whitespace, control character or `@`, and does not
/// start with `-`; `user`, if any, is non-empty, has no whitespace or
/// control character and does not start with `-`; `port` is 1..=65535;
/// `identity` has `~/…` expanded and is absolute or joined onto the
/// directory of the file that defined it; `max_sessions` is at least 1;
/// every `ssh_options` entry is `Key=Value` with an ASCII alphanumeric key
/// not in [`RESERVED_SSH_OPTIONS`], a non-empty value, and no control
/// character; `remote_timeout`, if any, is not zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostConfig {
    /// The inventory name (the `NAME` of `[hosts.NAME]`).
    pub name: String,
    /// What ssh connects to: a DNS name, an IP address, or a `Host` alias
    /// from the user's `~/.ssh/config`.
    pub address: String,
    /// Login name; `None`: ssh's own choice (`~/.ssh/config`, else the local user).
    pub user: Option<String>,
    /// sshd port (default 22).
    pub port: u16,
    /// Private key to log in with (and only it); `None`: ssh's defaults.
    pub identity: Option<PathBuf>,
    /// `tmux`, or `psmux` on Windows hosts (default `tmux`).
    pub multiplexer: Multiplexer,
    /// Sessions placed here at most at once (default 4, at least 1).
    pub max_sessions: u32,
    /// Extra ssh options, each passed as `-o KEY=VALUE` ahead of baton's
    /// overridable defaults (`StrictHostKeyChecking=accept-new`,
    /// `ConnectTimeout`, `ServerAliveInterval`, `ServerAliveCountMax`),
    /// which they therefore replace: ssh keeps the first value it sees.
    pub ssh_options: Vec<String>,
    /// Overrides `[conductor] remote_timeout` for this host; never zero.
    #[serde(with = "humantime_ser::option")]
    pub remote_timeout: Option<Duration>,
}

impl HostConfig {
    /// A host at `address` with every other field at its default.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> HostConfig {
        HostConfig {
            name: name.into(),
            address: address.into(),
            user: None,
            port: DEFAULT_SSH_PORT,
            identity: None,
            multiplexer: Multiplexer::Tmux,
            max_sessions: DEFAULT_MAX_SESSIONS,
            ssh_options: Vec::new(),
            remote_timeout: None,
        }
    }

    /// This host's `remote_timeout`, else `conductor_default`.
    pub fn remote_timeout_or(&self, conductor_default: Duration) -> Duration {
        self.remote_timeout.unwrap_or(conductor_default)
    }
}

/// The hosts of a `hosts.toml` file (`[hosts.NAME]` tables and nothing else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostsFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its hosts, by name.
    pub hosts: BTreeMap<String, HostConfig>,
}

impl HostsFile {
    /// `$HOME/.config/baton/hosts.toml`, or `None` when `HOME` is not an
    /// absolute path.
    pub fn default_path() -> Option<PathBuf> {
        let home = PathBuf::from(std::env::var_os("HOME")?);
        home.is_absolute().then(|| home.join(HOSTS_FILE_IN_HOME))
    }

    /// Reads and validates the hosts file at `path`; `Ok(None)` when there
    /// is no such file. Relative `identity` paths are resolved against the
    /// file's directory.
    pub fn load(path: &Path) -> Result<Option<HostsFile>, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            // A directory on the way that we may not search (another user's
            // HOME): the file is not ours to see, so there is none for us.
            // A file that exists but cannot be read is still an error.
            Err(e)
                if e.kind() == std::io::ErrorKind::PermissionDenied
                    && !path.try_exists().unwrap_or(false) =>
            {
                return Ok(None);
            }
            Err(source) => {
                return Err(ConfigError::Io {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        HostsFile::parse(&text, path).map(Some)
    }

    /// Validates hosts-file `text` read from `path` (which names it in
    /// errors). Never panics, whatever `text` is.
    pub fn parse(text: &str, path: &Path) -> Result<HostsFile, ConfigError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        crate::manifest::parse_hosts_file(text, path, home.as_deref())
    }
}
