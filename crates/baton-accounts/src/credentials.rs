//! Turning an account into what the agent needs: a codex profile, resolved
//! environment variables, or a private directory holding a copy of the
//! account's auth file.
//!
//! Never writes under the user's home (the reference overwrote
//! `~/.codex/auth.json`, and two sessions on different accounts raced on
//! it); only reads the user's settings files to copy them. Never puts a
//! value or file content in an error or a `Debug` rendering.

use std::fmt;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use baton_config::{AccountMode, AccountSpec, AgentKind};
use serde::{Deserialize, Serialize};

use crate::error::BrokerError;
use crate::policy::key;

/// What a leased account gives the agent.
///
/// `Debug` shows variable names only, never values; serializing skips `env`
/// entirely, so a persisted lease holds no secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// `profile` mode: the codex profile (`--profile NAME`).
    pub profile: Option<String>,
    /// Variables to set in the agent's environment, already resolved
    /// (including `CODEX_HOME` / `CLAUDE_CONFIG_DIR` / `HOME` in `auth` mode).
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    /// `auth` mode: the private per-lease directory (0700), removed when the
    /// lease is released or expires.
    pub private_dir: Option<PathBuf>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a [(String, String)]);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, _)| (k, "<redacted>")))
                    .finish()
            }
        }
        f.debug_struct("Credentials")
            .field("profile", &self.profile)
            .field("env", &Redacted(&self.env))
            .field("private_dir", &self.private_dir)
            .finish()
    }
}

/// An `auth` account whose file resolves outside the auth directory. The
/// account was not leased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityViolation {
    /// `<provider>/<id>`.
    pub account: String,
    /// The configured auth file (as written, joined to `auth_dir` if relative).
    pub path: PathBuf,
    /// Why it was refused.
    pub reason: String,
}

/// The source of an `auth` account, checked to lie inside the auth directory.
pub(crate) struct AuthSource {
    contents: Vec<u8>,
}

/// Resolves `env` values: `$NAME` and `${NAME}` are read from this process's
/// environment; anything else is taken literally.
pub(crate) fn resolve_env(spec: &AccountSpec) -> Result<Vec<(String, String)>, BrokerError> {
    spec.env
        .iter()
        .map(|(name, value)| {
            let var = value
                .strip_prefix("${")
                .and_then(|v| v.strip_suffix('}'))
                .or_else(|| value.strip_prefix('$'));
            let value = match var {
                None => value.clone(),
                Some(var) => std::env::var(var).map_err(|_| BrokerError::MissingEnv {
                    account: key(spec.provider, &spec.id),
                    var: var.to_owned(),
                })?,
            };
            Ok((name.clone(), value))
        })
        .collect()
}

/// Reads an `auth` account's file if, with every symlink and `..` resolved,
/// it lies inside the resolved `auth_dir`; otherwise the violation.
pub(crate) fn read_auth_source(
    spec: &AccountSpec,
    auth_dir: &Path,
) -> Result<Result<AuthSource, SecurityViolation>, BrokerError> {
    let account = key(spec.provider, &spec.id);
    let Some(file) = &spec.auth_file else {
        return Err(BrokerError::Misconfigured {
            account,
            problem: "auth mode needs an `auth_file`".into(),
        });
    };
    let path = auth_dir.join(file);
    let real_dir = auth_dir
        .canonicalize()
        .map_err(|e| BrokerError::io(auth_dir, e))?;
    let real = path.canonicalize().map_err(|e| BrokerError::io(&path, e))?;
    if !real.starts_with(&real_dir) || real == real_dir {
        return Ok(Err(SecurityViolation {
            account,
            reason: format!(
                "the auth file resolves to {}, outside the auth directory {}",
                real.display(),
                real_dir.display()
            ),
            path,
        }));
    }
    // `real` has no symlinks left; O_NOFOLLOW refuses one swapped in since.
    let mut opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&real)
        .map_err(|e| BrokerError::io(&real, e))?;
    let meta = opened.metadata().map_err(|e| BrokerError::io(&real, e))?;
    if !meta.is_file() {
        return Err(BrokerError::Misconfigured {
            account,
            problem: format!("the auth file {} is not a regular file", real.display()),
        });
    }
    let mut contents = Vec::new();
    opened
        .read_to_end(&mut contents)
        .map_err(|e| BrokerError::io(&real, e))?;
    Ok(Ok(AuthSource { contents }))
}

/// Where each CLI keeps its credentials and settings.
struct Layout {
    /// Variable pointing the CLI at the private directory.
    var: &'static str,
    /// Subdirectory of the private directory holding the files ("" = none).
    subdir: &'static str,
    /// The credentials file name.
    credentials: &'static str,
    /// The user's settings file (relative to home) copied alongside, and its name in the copy.
    settings: (&'static str, &'static str),
}

fn layout(provider: AgentKind) -> Option<Layout> {
    match provider {
        AgentKind::Codex => Some(Layout {
            var: "CODEX_HOME",
            subdir: "",
            credentials: "auth.json",
            settings: (".codex/config.toml", "config.toml"),
        }),
        AgentKind::Claude => Some(Layout {
            var: "CLAUDE_CONFIG_DIR",
            subdir: "",
            credentials: ".credentials.json",
            settings: (".claude/settings.json", "settings.json"),
        }),
        AgentKind::Gemini => Some(Layout {
            var: "HOME",
            subdir: ".gemini",
            credentials: "oauth_creds.json",
            settings: (".gemini/settings.json", "settings.json"),
        }),
        AgentKind::Command => None,
    }
}

/// Creates `dir` (0700, which must not exist) and writes the account's
/// credentials into it (0600), plus a copy of the user's settings file if
/// there is one. Returns the variables that point the CLI at it. On error
/// the directory is removed again.
pub(crate) fn materialise(
    spec: &AccountSpec,
    source: &AuthSource,
    dir: &Path,
    home: &Path,
) -> Result<Vec<(String, String)>, BrokerError> {
    let account = key(spec.provider, &spec.id);
    let Some(layout) = layout(spec.provider) else {
        return Err(BrokerError::Misconfigured {
            account,
            problem: format!("auth mode is not supported for {}", spec.provider),
        });
    };
    let Some(dir_text) = dir.to_str() else {
        return Err(BrokerError::Misconfigured {
            account,
            problem: format!("the lease directory {} is not valid UTF-8", dir.display()),
        });
    };
    private_dir(dir)?;
    let written = (|| {
        let files = if layout.subdir.is_empty() {
            dir.to_owned()
        } else {
            let sub = dir.join(layout.subdir);
            private_dir(&sub)?;
            sub
        };
        write_private(&files.join(layout.credentials), &source.contents)?;
        let settings = home.join(layout.settings.0);
        match std::fs::read(&settings) {
            Ok(bytes) => write_private(&files.join(layout.settings.1), &bytes)?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(BrokerError::io(settings, e)),
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(dir);
        return Err(e);
    }
    Ok(vec![(layout.var.to_owned(), dir_text.to_owned())])
}

/// Creates one directory with mode 0700 from the start (no chmod window).
pub(crate) fn private_dir(dir: &Path) -> Result<(), BrokerError> {
    DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| BrokerError::io(dir, e))
}

/// Writes a new file with mode 0600 from the start; never follows or
/// replaces an existing file.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BrokerError> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| BrokerError::io(path, e))?;
    file.write_all(bytes).map_err(|e| BrokerError::io(path, e))
}

/// What an account in `mode` hands over besides its private directory.
pub(crate) fn base(spec: &AccountSpec) -> Credentials {
    Credentials {
        profile: match spec.mode {
            AccountMode::Profile => spec.profile.clone(),
            AccountMode::Env | AccountMode::Auth => None,
        },
        env: Vec::new(),
        private_dir: None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use baton_config::Tier;

    use super::*;

    fn env_spec(env: &[(&str, &str)]) -> AccountSpec {
        AccountSpec {
            id: "e".into(),
            provider: AgentKind::Claude,
            mode: AccountMode::Env,
            profile: None,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            auth_file: None,
            host: None,
            tier: Tier::Unknown,
        }
    }

    #[test]
    fn env_references_are_resolved_and_literals_kept() {
        // PATH is set in any test environment; the name below is not.
        let path = std::env::var("PATH").expect("PATH is set");
        let spec = env_spec(&[("A", "$PATH"), ("B", "${PATH}"), ("C", "literal")]);
        let got = resolve_env(&spec).expect("resolves");
        assert_eq!(
            got,
            [
                ("A".to_owned(), path.clone()),
                ("B".to_owned(), path),
                ("C".to_owned(), "literal".to_owned())
            ]
        );
        let spec = env_spec(&[("KEY", "${BATON_ACCOUNTS_TEST_SURELY_UNSET_VAR}")]);
        match resolve_env(&spec) {
            Err(BrokerError::MissingEnv { account, var }) => {
                assert_eq!(account, "claude/e");
                assert_eq!(var, "BATON_ACCOUNTS_TEST_SURELY_UNSET_VAR");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_never_shows_env_values() {
        let c = Credentials {
            profile: None,
            env: vec![("API_KEY".into(), "sk-very-secret".into())],
            private_dir: None,
        };
        let shown = format!("{c:?} {c:#?}");
        assert!(shown.contains("API_KEY"));
        assert!(!shown.contains("sk-very-secret"));
        let json = serde_json::to_string(&c).expect("serializes");
        assert!(!json.contains("sk-very-secret") && !json.contains("API_KEY"));
    }
}
