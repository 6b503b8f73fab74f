//! Sessions inside tmux, on a private server per logs directory.
//!
//! The pane's command is `baton-shim`, which runs the agent (argv, no
//! shell). Its terminal output is appended to the session's log by
//! `pipe-pane`, set up in the same tmux invocation as the session itself:
//! tmux runs one invocation's command list before it reads any pane output,
//! so not a byte is missed at the start. At the end, the shim writes a marker
//! with the exit status and holds the terminal open, so nothing is lost
//! there either (tmux drops what it has not read from a pane whose process
//! is gone). The window keeps a dead pane (`remain-on-exit`) so the status
//! of a shim that was itself killed can still be read.
//! Targets are always exact (`=NAME`, `=NAME:`): tmux matches names loosely
//! otherwise. The server is private (`-L`), so a user's `tmux kill-server`
//! cannot touch agents and baton cannot touch the user's sessions.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use super::PtySize;

/// Longest any tmux client call may take.
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// Errors from tmux calls.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// tmux is not installed or not on PATH.
    #[error("tmux is not available ({0}); install tmux to use backend = \"tmux\"")]
    Missing(std::io::Error),
    /// A tmux command failed.
    #[error("tmux {verb} failed: {stderr}")]
    Failed {
        /// The tmux verb.
        verb: &'static str,
        /// What tmux said.
        stderr: String,
    },
    /// A tmux command did not answer in time.
    #[error("tmux {0} did not answer within 10 s")]
    Timeout(&'static str),
    /// The remote host could not be reached or refused the call.
    #[error(transparent)]
    Ssh(super::ssh::SshError),
}

/// The dead-or-alive state of a session's pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneStatus {
    /// The pane's process has exited.
    pub dead: bool,
    /// Its exit code, once dead (if it exited).
    pub code: Option<i32>,
    /// The signal that ended it, once dead (if one did).
    pub signal: Option<i32>,
    /// The pane's process id (the agent).
    pub pid: u32,
}

/// baton's private tmux server for one logs directory, on this machine or,
/// through its multiplexed ssh connection, on a remote host.
#[derive(Debug, Clone)]
pub struct TmuxServer {
    name: String,
    host: Option<std::sync::Arc<super::ssh::SshHost>>,
}

impl TmuxServer {
    /// The server for `logs_dir`: the same directory always maps to the same
    /// server, so a restarted conductor finds its sessions again.
    pub fn for_logs_dir(logs_dir: &Path) -> TmuxServer {
        let path = std::path::absolute(logs_dir).unwrap_or_else(|_| logs_dir.to_owned());
        // FNV-1a: a short, stable name (socket paths are limited to ~108 bytes).
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in path.as_os_str().as_encoded_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        TmuxServer {
            name: format!("baton-{hash:016x}"),
            host: None,
        }
    }

    /// The same server name on a remote host: every call goes through the
    /// host's ssh connection, each word quoted for its shell.
    pub fn on_host(&self, host: std::sync::Arc<super::ssh::SshHost>) -> TmuxServer {
        TmuxServer {
            name: self.name.clone(),
            host: Some(host),
        }
    }

    /// The remote host, for a server that is not local.
    pub fn host(&self) -> Option<&std::sync::Arc<super::ssh::SshHost>> {
        self.host.as_ref()
    }

    /// A server with an explicit `-L` name (as recorded in a `spawn` event).
    pub fn named(name: impl Into<String>) -> TmuxServer {
        TmuxServer {
            name: name.into(),
            host: None,
        }
    }

    /// The `-L` socket name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tmux session name for a baton session id (tmux forbids `.` and `:`).
    ///
    /// One to one: `_` becomes `__` and `.` becomes `_d`, so `a.b` and `a_b`
    /// never share a tmux session.
    pub fn session_name(id: &str) -> String {
        let mut name = String::with_capacity(id.len() + 8);
        name.push_str("baton-");
        for c in id.chars() {
            match c {
                '_' => name.push_str("__"),
                '.' => name.push_str("_d"),
                c => name.push(c),
            }
        }
        name
    }

    /// argv to attach a terminal to a session (`baton attach`).
    pub fn attach_argv(&self, session: &str) -> Vec<OsString> {
        [
            "tmux",
            "-L",
            &self.name,
            "attach-session",
            "-t",
            &format!("={session}"),
        ]
        .iter()
        .map(OsString::from)
        .collect()
    }

    async fn call(&self, verb: &'static str, args: &[OsString]) -> Result<String, TmuxError> {
        // A busy server can refuse a connection for a moment; the command never
        // reached it, so trying again is safe even for `new-session`.
        let mut attempts = 0;
        loop {
            match self.call_once(verb, args).await {
                Err(TmuxError::Failed { stderr, .. })
                    if attempts < 20
                        && stderr.contains("error connecting to")
                        && !is_absent(&stderr) =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                other => return other,
            }
        }
    }

    async fn call_once(&self, verb: &'static str, args: &[OsString]) -> Result<String, TmuxError> {
        if let Some(host) = &self.host {
            let mut words: Vec<String> = vec!["tmux".into(), "-L".into(), self.name.clone()];
            words.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
            return match host.run_status(&words).await {
                Ok((0, stdout, _)) => Ok(stdout),
                Ok((_, _, stderr)) => Err(TmuxError::Failed {
                    verb,
                    stderr: stderr.trim().to_owned(),
                }),
                Err(e) => Err(TmuxError::Ssh(e)),
            };
        }
        let mut cmd = tokio::process::Command::new("tmux");
        cmd.arg("-L")
            .arg(&self.name)
            .args(args)
            // Inside a user's tmux, TMUX would point the client at their server.
            .env_remove("TMUX")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let out = match tokio::time::timeout(CALL_LIMIT, cmd.output()).await {
            Err(_) => return Err(TmuxError::Timeout(verb)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TmuxError::Missing(e));
            }
            Ok(Err(e)) => {
                return Err(TmuxError::Failed {
                    verb,
                    stderr: e.to_string(),
                });
            }
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(TmuxError::Failed {
                verb,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            })
        }
    }

    /// Starts `pane` (the pane's whole argv) in a new detached session
    /// `name`, its output appended to `log` (a path on the server's host),
    /// tagged with `@baton_id` (who owns it) and `@baton_run` (which run it
    /// is), set in the same tmux invocation as the session itself, so a pane
    /// is never seen without them — a conductor that dies right after this
    /// call leaves a pane the next one can recognise. Returns the pane's
    /// pid. The caller removes a stale [`pipe_done_marker`] of `log` first.
    /// `writer` is the command that appends its stdin to the log file named
    /// after it (`baton-shim log …`, which rolls the log over); empty:
    /// `cat >>`.
    /// No environment is passed here: a value on tmux's command line is
    /// readable by every user of the host (see `proc::envfile`).
    #[allow(clippy::too_many_arguments)]
    pub async fn new_session(
        &self,
        name: &str,
        baton_id: &str,
        baton_run: &str,
        cwd: Option<&Path>,
        pane: &[String],
        size: PtySize,
        log: &Path,
        writer: &[String],
    ) -> Result<u32, TmuxError> {
        let target = format!("={name}:");
        let mut args: Vec<OsString> = vec![
            "new-session".into(),
            "-d".into(),
            "-s".into(),
            name.into(),
            "-x".into(),
            size.cols.to_string().into(),
            "-y".into(),
            size.rows.to_string().into(),
            "-P".into(),
            "-F".into(),
            "#{pane_pid}".into(),
        ];
        if let Some(cwd) = cwd {
            args.push("-c".into());
            args.push(literal(&cwd.to_string_lossy()));
        }
        args.push("--".into());
        args.extend(pane.iter().map(|w| literal(w)));
        // `pipe-pane` runs its argument with tmux's /bin/sh; the log and its
        // marker are the only words in it, quoted. No word of the agent's
        // reaches a shell. The marker appears once `cat` has written every
        // byte it was given (see [`pipe_done_marker`]).
        // On a remote host the files are private (it may be shared).
        let umask = if self.host.is_some() {
            "umask 077; "
        } else {
            ""
        };
        let marker = pipe_done_marker(log);
        let append = if writer.is_empty() {
            "cat >>".to_owned()
        } else {
            shell_words::join(writer)
        };
        let pipe = format!(
            "{umask}{append} {}; : > {}",
            shell_words::quote(&log.to_string_lossy()),
            shell_words::quote(&marker.to_string_lossy())
        );
        for cmd in [
            vec![";", "set-option", "-t", &target, "@baton_id", baton_id],
            vec![";", "set-option", "-t", &target, "@baton_run", baton_run],
            vec![
                ";",
                "set-option",
                "-w",
                "-t",
                &target,
                "remain-on-exit",
                "on",
            ],
            vec![";", "pipe-pane", "-o", "-t", &target, &pipe],
        ] {
            args.extend(cmd.into_iter().map(OsString::from));
        }
        let out = self.call("new-session", &args).await?;
        out.trim().parse().map_err(|_| TmuxError::Failed {
            verb: "new-session",
            stderr: format!("unexpected pane pid output `{}`", out.trim()),
        })
    }

    /// The user option `key` (`@baton_id`, `@baton_run`) of session
    /// `name`; `None` when it is unset or the session (or server) is gone.
    pub async fn option(&self, name: &str, key: &str) -> Result<Option<String>, TmuxError> {
        let args: Vec<OsString> = vec![
            "display-message".into(),
            "-p".into(),
            "-t".into(),
            format!("={name}:").into(),
            format!("#{{{key}}}").into(),
        ];
        match self.call("display-message", &args).await {
            Ok(out) => Ok(Some(out.trim_end_matches('\n').to_owned()).filter(|s| !s.is_empty())),
            Err(TmuxError::Failed { stderr, .. }) if is_absent(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The pane of session `name`, or `None` when the session (or the server) is gone.
    pub async fn pane_status(&self, name: &str) -> Result<Option<PaneStatus>, TmuxError> {
        let args: Vec<OsString> = vec![
            "display-message".into(),
            "-p".into(),
            "-t".into(),
            format!("={name}:").into(),
            "#{pane_dead} #{pane_pid} #{pane_dead_status} #{pane_dead_signal}".into(),
        ];
        // For a session that does not exist, a running tmux 3.3 server
        // answers with the format's fields empty and status 0. Any other
        // answer that does not parse says nothing about absence: it is asked
        // again (and then is an error).
        let mut tries = 0;
        loop {
            match self.call("display-message", &args).await {
                Ok(out) if out.trim().is_empty() => return Ok(None),
                Ok(out) => match parse_status(&out) {
                    Some(status) => return Ok(Some(status)),
                    None if tries < 50 => {
                        tries += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    None => {
                        return Err(TmuxError::Failed {
                            verb: "display-message",
                            stderr: format!("unexpected pane status `{}`", out.trim()),
                        });
                    }
                },
                Err(TmuxError::Failed { stderr, .. }) if is_absent(&stderr) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Types `bytes` into the session: text literally (`send-keys -l`, no key
    /// names interpreted), each newline as an Enter key.
    pub async fn send_text(&self, name: &str, bytes: &[u8]) -> Result<(), TmuxError> {
        let pane = format!("={name}:");
        let text = String::from_utf8_lossy(bytes);
        let mut args: Vec<OsString> = Vec::new();
        for (i, part) in text.split('\n').enumerate() {
            if i > 0 {
                push_cmd(&mut args, &["send-keys", "-t", &pane, "Enter"]);
            }
            if !part.is_empty() {
                push_cmd(&mut args, &["send-keys", "-t", &pane, "-l", "--"]);
                args.push(literal(part));
            }
        }
        if args.is_empty() {
            return Ok(());
        }
        self.call("send-keys", &args).await.map(|_| ())
    }

    /// Ends the session and everything in its pane. A session already gone is not an error.
    pub async fn kill_session(&self, name: &str) -> Result<(), TmuxError> {
        let args: Vec<OsString> = vec![
            "kill-session".into(),
            "-t".into(),
            format!("={name}").into(),
        ];
        match self.call("kill-session", &args).await {
            Ok(_) => Ok(()),
            Err(TmuxError::Failed { stderr, .. }) if is_absent(&stderr) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Whether tmux's complaint means "that session (or the whole server) does
/// not exist", which tmux words several ways.
fn is_absent(stderr: &str) -> bool {
    // A socket file that is missing or refuses means no server; other
    // connection errors (a busy server) are transient and not "absent".
    let no_socket = stderr.contains("error connecting to")
        && (stderr.contains("No such file or directory") || stderr.contains("Connection refused"));
    no_socket
        || ["can't find", "no server running", "no such session"]
            .iter()
            .any(|m| stderr.contains(m))
}

/// The file that appears when a session's `pipe-pane` has written its last
/// byte to `log` (after the session is destroyed and the pipe closed).
pub fn pipe_done_marker(log: &Path) -> std::path::PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".piped");
    std::path::PathBuf::from(name)
}

/// A word as a tmux argument: tmux takes an argument that ends in `;` as a
/// command separator (and drops the `;`) unless it ends in `\\;`, which it
/// turns into `;`. So a trailing `;` becomes `\\;`, and the word arrives as
/// it was.
fn literal(word: &str) -> OsString {
    match word.strip_suffix(';') {
        Some(head) => format!("{head}\\;").into(),
        None => word.into(),
    }
}

fn push_cmd(args: &mut Vec<OsString>, cmd: &[&str]) {
    if !args.is_empty() {
        args.push(";".into());
    }
    args.extend(cmd.iter().map(OsString::from));
}

#[cfg(test)]
#[test]
fn session_names_are_one_to_one() {
    assert_eq!(TmuxServer::session_name("a.b"), "baton-a_db");
    assert_eq!(TmuxServer::session_name("a_b"), "baton-a__b");
    assert_ne!(
        TmuxServer::session_name("a_d"),
        TmuxServer::session_name("a.")
    );
}

#[cfg(test)]
#[test]
fn a_trailing_semicolon_is_escaped_for_tmux() {
    assert_eq!(literal("a;"), OsString::from("a\\;"));
    assert_eq!(literal("a\\;"), OsString::from("a\\\\;"));
    assert_eq!(literal("a;b"), OsString::from("a;b"));
    assert_eq!(literal(";"), OsString::from("\\;"));
}

fn parse_status(out: &str) -> Option<PaneStatus> {
    let mut fields = out.trim_end_matches('\n').split(' ');
    let dead = fields.next()? == "1";
    let pid = fields.next()?.parse().ok()?;
    let code = fields.next().and_then(|s| s.parse().ok());
    let signal = fields.next().and_then(|s| s.parse().ok());
    Some(PaneStatus {
        dead,
        code: if dead { code } else { None },
        signal: if dead { signal } else { None },
        pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(
            parse_status("1 42 3 \n"),
            Some(PaneStatus {
                dead: true,
                code: Some(3),
                signal: None,
                pid: 42
            })
        );
        assert_eq!(
            parse_status("1 42  15\n"),
            Some(PaneStatus {
                dead: true,
                code: None,
                signal: Some(15),
                pid: 42
            })
        );
        assert_eq!(
            parse_status("0 42  \n"),
            Some(PaneStatus {
                dead: false,
                code: None,
                signal: None,
                pid: 42
            })
        );
        assert_eq!(parse_status("garbage"), None);
    }

    #[test]
    fn only_a_missing_server_or_session_counts_as_absent() {
        assert!(is_absent("no server running on /tmp/tmux-0/baton-x"));
        assert!(is_absent("can't find session: =baton-a"));
        assert!(is_absent(
            "error connecting to /tmp/tmux-0/x (No such file or directory)"
        ));
        assert!(is_absent(
            "error connecting to /tmp/tmux-0/x (Connection refused)"
        ));
        assert!(!is_absent(
            "error connecting to /tmp/tmux-0/x (Resource temporarily unavailable)"
        ));
        assert!(!is_absent("server exited unexpectedly"));
    }

    #[test]
    fn names_are_stable_and_tmux_safe() {
        let a = TmuxServer::for_logs_dir(Path::new("/x/logs"));
        assert_eq!(
            a.name(),
            TmuxServer::for_logs_dir(Path::new("/x/logs")).name()
        );
        assert_ne!(
            a.name(),
            TmuxServer::for_logs_dir(Path::new("/y/logs")).name()
        );
        assert_eq!(TmuxServer::session_name("a.b-c"), "baton-a_db-c");
    }
}
