//! Commands on a remote host, over one multiplexed OpenSSH connection per host.
//!
//! Remote sessions are driven entirely by short commands run over
//! ssh (`tmux new-session`, `has-session`, `capture-pane`, …). Starting a
//! connection costs a TCP and key exchange per call (~190–290 ms); reusing
//! one master connection (`ControlMaster`) costs a few milliseconds, so
//! every call for a host goes through the master at `<control_dir>/cm-%C`,
//! which the first call starts and a later call replaces when it has died.
//!
//! This module must never: hand ssh a word it has not quoted (the remote
//! login shell parses the command line again); let ssh prompt (`BatchMode`);
//! wait on ssh without a bound (every child has a hard timeout and is
//! killed when it expires, and ssh's own `ConnectTimeout` and
//! `ServerAlive*` detect a dead peer well before that); or leave a master
//! behind on purpose: masters are daemons that outlive the process that
//! started them, so the owner calls [`SshHost::close`] at teardown.
//!
//! The remote login shell must be POSIX-like (sh, dash, bash, zsh, ksh):
//! [`remote_quote`] quotes for it. csh and fish parse quotes differently.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use baton_config::{DEFAULT_REMOTE_TIMEOUT, HostConfig};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::{Mutex, Semaphore};

/// The longest control directory [`SshHost::new`] accepts, in bytes.
///
/// A unix socket path stops at 107 bytes, and ssh binds the master's socket
/// at `<dir>/cm-<40 hex digits>.<16 random characters>` before renaming it.
pub const CONTROL_DIR_MAX_LEN: usize = 46;

/// At most this many ssh calls run on one host at once; more wait their
/// turn (within their timeout). sshd's default `MaxSessions` is 10
/// channels per connection, and a refused channel would fail the call.
pub const MAX_CHANNELS: usize = 8;

/// How long an idle master lingers after its last call. It bounds how long
/// a master outlives an owner that died without [`SshHost::close`].
const CONTROL_PERSIST_SECS: u64 = 60;

/// Keepalive: a peer that stops answering is noticed after about
/// `SERVER_ALIVE_INTERVAL_SECS * SERVER_ALIVE_COUNT_MAX` seconds (measured:
/// ~3.9 s for an established connection).
const SERVER_ALIVE_INTERVAL_SECS: u64 = 1;
const SERVER_ALIVE_COUNT_MAX: u32 = 3;

/// Bound on the local `ssh -O check` / `ssh -O exit` calls, which only talk
/// to the master over its socket.
const CONTROL_CALL_LIMIT: Duration = Duration::from_secs(5);

/// How long [`SshHost::close`] waits for the master to exit before it
/// signals it.
const MASTER_EXIT_WAIT: Duration = Duration::from_secs(3);

/// Why an ssh call failed. Every message is one line that names the host
/// and says what to do.
///
/// `HostKey` and `Auth` need the user to act; `Unreachable` and `Timeout`
/// mean the host is not answering now ([`SshError::is_unreachable`]), which
/// the supervisor handles by waiting for it (`remote_unreachable`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    /// The host's key does not match known_hosts (or is unknown and strict
    /// checking is on).
    #[error(
        "host `{host}`: ssh refused the host key ({detail}); if the host was reinstalled, remove \
         its old key with `ssh-keygen -R '{known_as}'` and connect once by hand to accept the \
         new one, otherwise treat it as an attack"
    )]
    HostKey {
        /// Inventory name.
        host: String,
        /// How the host is named in known_hosts (`address` or `[address]:port`).
        known_as: String,
        /// What ssh said.
        detail: String,
    },
    /// The server did not accept any key offered.
    #[error(
        "host `{host}`: ssh could not log in ({detail}); check `user` and `identity` in \
         [hosts.{host}] and that the key's public half is in the remote user's \
         ~/.ssh/authorized_keys (baton never prompts for a password or passphrase)"
    )]
    Auth {
        /// Inventory name.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// No connection: refused, timed out, no route, name not resolved, or
    /// the connection broke.
    #[error(
        "host `{host}` is unreachable ({detail}); check that it is up and that `address` and \
         `port` in [hosts.{host}] are right"
    )]
    Unreachable {
        /// Inventory name.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// The call did not finish within its hard timeout; ssh was killed.
    #[error(
        "host `{host}`: ssh did not finish within {} and was killed; the host or the network \
         to it may be stalled", secs_text(*.timeout)
    )]
    Timeout {
        /// Inventory name.
        host: String,
        /// The limit that expired.
        timeout: Duration,
    },
    /// The remote command ran and exited non-zero (only from
    /// [`SshHost::run`] and [`SshHost::run_input`]).
    #[error("host `{host}`: `{program}` exited with status {status}: {stderr}")]
    Command {
        /// Inventory name.
        host: String,
        /// The command's first word.
        program: String,
        /// Its exit status.
        status: i32,
        /// Its standard error, trimmed (possibly empty).
        stderr: String,
    },
    /// ssh could not be started.
    #[error("host `{host}`: cannot run ssh ({detail}); is openssh-client installed?")]
    Spawn {
        /// Inventory name.
        host: String,
        /// What the OS said.
        detail: String,
    },
    /// The call was not made: a bad argument or control directory.
    #[error("host `{host}`: {detail}")]
    Invalid {
        /// Inventory name.
        host: String,
        /// What is wrong.
        detail: String,
    },
    /// ssh failed (exit status 255) in a way not recognised above.
    #[error("host `{host}`: ssh failed: {detail}")]
    Other {
        /// Inventory name.
        host: String,
        /// What ssh said, or what happened to it.
        detail: String,
    },
}

impl SshError {
    /// The inventory name of the host the call was for.
    pub fn host(&self) -> &str {
        match self {
            SshError::HostKey { host, .. }
            | SshError::Auth { host, .. }
            | SshError::Unreachable { host, .. }
            | SshError::Timeout { host, .. }
            | SshError::Command { host, .. }
            | SshError::Spawn { host, .. }
            | SshError::Invalid { host, .. }
            | SshError::Other { host, .. } => host,
        }
    }

    /// True when the host is not answering (`Unreachable`, `Timeout`): a
    /// condition that may pass by itself, unlike a refused key.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            SshError::Unreachable { .. } | SshError::Timeout { .. }
        )
    }
}

fn secs_text(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// What a remote command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOutput {
    /// Its exit status. 255 only when the remote command itself exited 255
    /// (ssh uses 255 for its own failures, which are errors instead).
    pub status: i32,
    /// Its standard output, byte for byte.
    pub stdout: Vec<u8>,
    /// Its standard error (lossily decoded), without ssh's own chatter
    /// about known_hosts and the control master.
    pub stderr: String,
}

/// Quotes `word` for a POSIX shell: returned bare when it is only ASCII
/// letters, digits and `_-./:@%+,`, else in single quotes (a `'` inside
/// becomes `'\''`). The shell turns the result back into exactly `word`,
/// expanding nothing.
///
/// `shell_words::quote` is not used: it leaves `{a,b}` bare, which bash and
/// zsh expand into two words.
pub fn quote_word(word: &str) -> Cow<'_, str> {
    let bare = !word.is_empty()
        && word.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b'@' | b'%' | b'+' | b','
                )
        });
    if bare {
        return Cow::Borrowed(word);
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    Cow::Owned(quoted)
}

/// One command line for a POSIX remote shell that runs `words[0]` with the
/// rest of `words` as its arguments, each arriving verbatim: every word is
/// quoted with [`quote_word`], and they are joined with spaces.
///
/// A word must not contain NUL (no argv can carry it); [`SshHost`] refuses
/// such words before calling ssh.
pub fn remote_quote<S: AsRef<str>>(words: &[S]) -> String {
    let mut line = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(&quote_word(word.as_ref()));
    }
    line
}

/// Lines of ssh's own chatter that say nothing about the command: the
/// first contact with a host under `accept-new`, and a dead master being
/// bypassed (the fallback connection reports its own errors).
fn is_ssh_noise(line: &str) -> bool {
    line.starts_with("Warning: Permanently added ")
        || line.starts_with("mux_client_")
        || line.starts_with("ControlSocket ")
        || line.starts_with("muxclient: ")
}

/// `stderr` without [`is_ssh_noise`] lines, trimmed.
fn clean_stderr(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !is_ssh_noise(l.trim_start()))
        .collect();
    kept.join("\n").trim().to_owned()
}

const HOST_KEY_SIGNS: &[&str] = &[
    "has changed and you have requested strict checking",
    "host key is known for",
    "remote host identification has changed",
    "host key verification failed",
];

const AUTH_SIGNS: &[&str] = &[
    "permission denied (",
    "too many authentication failures",
    "unprotected private key file",
    "no more authentication methods",
    "load key",
];

const UNREACHABLE_SIGNS: &[&str] = &[
    "connection timed out",
    "operation timed out",
    "no route to host",
    "connection refused",
    "network is unreachable",
    "host is unreachable",
    "could not resolve hostname",
    "name or service not known",
    "temporary failure in name resolution",
    "timeout, server",
    "not responding",
    "connection closed by",
    "closed by remote host",
    "connection reset",
    "broken pipe",
    "kex_exchange_identification",
    "banner exchange",
];

/// The failure ssh reported on its standard error when it exited 255,
/// for host `host` known in known_hosts as `known_as`.
///
/// Recognises ssh's (OpenSSH 8–9) wording; anything else is
/// [`SshError::Other`] with ssh's last line.
pub fn classify_failure(host: &str, known_as: &str, stderr: &str) -> SshError {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_ssh_noise(l))
        .collect();
    let find = |signs: &[&str]| -> Option<String> {
        signs.iter().find_map(|sign| {
            lines
                .iter()
                .find(|l| l.to_lowercase().contains(sign))
                .map(|l| (*l).to_owned())
        })
    };
    let host = host.to_owned();
    if let Some(detail) = find(HOST_KEY_SIGNS) {
        return SshError::HostKey {
            host,
            known_as: known_as.to_owned(),
            detail,
        };
    }
    if let Some(mut detail) = find(AUTH_SIGNS) {
        // "Warning: Identity file … not accessible" explains a refusal.
        if let Some(identity) = lines
            .iter()
            .find(|l| l.to_lowercase().contains("identity file"))
        {
            detail = format!("{detail}; {identity}");
        }
        return SshError::Auth { host, detail };
    }
    if let Some(detail) = find(UNREACHABLE_SIGNS) {
        return SshError::Unreachable { host, detail };
    }
    let detail = match lines.last() {
        Some(l) => (*l).to_owned(),
        None => "ssh exited with status 255 and said nothing".to_owned(),
    };
    SshError::Other { host, detail }
}

/// Who may (re)start the master, and how the last attempt ended.
#[derive(Debug, Default)]
struct Link {
    /// When the last attempt made under this lock failed, and how.
    last_failure: Option<(Instant, SshError)>,
}

/// One inventory host, reached through one multiplexed ssh connection.
///
/// Every call runs `ssh -T -o BatchMode=yes -o ControlMaster=auto
/// -o ControlPath=<control_dir>/cm-%C -o ControlPersist=60 …` with stdin
/// from `/dev/null` (or the given input), under a hard timeout after which
/// the ssh child is killed. The host's `ssh_options` come before baton's
/// overridable defaults (`StrictHostKeyChecking=accept-new`,
/// `ConnectTimeout`, `ServerAliveInterval=1`, `ServerAliveCountMax=3`), so
/// they replace them (ssh keeps the first value it is given).
///
/// Reconnection: a master that died (killed, or its connection dropped)
/// is replaced by the next call — ssh unlinks a stale socket and starts a
/// new master — so a broken connection costs at most the keepalive time
/// plus `ConnectTimeout`, well within the hard timeout. While no working
/// master is known, only one call at a time tries to start one; calls that
/// waited on a failed attempt get its error at once.
///
/// Masters are daemons: they outlive this value and the process that made
/// it (until `ControlPersist` idles out). Call [`SshHost::close`] at
/// teardown. A new `SshHost` with the same control directory and host
/// reuses a master left by an earlier one.
#[derive(Debug)]
pub struct SshHost {
    name: String,
    host: HostConfig,
    control_dir: PathBuf,
    timeout: Duration,
    multiplexed: bool,
    channels: Semaphore,
    link: Mutex<Link>,
    /// A call through the master last succeeded (so there is one).
    warm: AtomicBool,
}

impl SshHost {
    /// A handle for inventory host `name` described by `host`, keeping its
    /// master's socket in `control_dir` (created 0700 if missing). Calls
    /// time out after the host's `remote_timeout`, else the default 15 s
    /// (see [`SshHost::with_timeout`]). Nothing is connected yet.
    ///
    /// `control_dir` must be absolute, at most [`CONTROL_DIR_MAX_LEN`]
    /// bytes, and free of whitespace, `%` and quotes (ssh parses it as a
    /// config value and expands `%` tokens in it).
    pub fn new(name: &str, host: &HostConfig, control_dir: &Path) -> Result<SshHost, SshError> {
        let invalid = |detail: String| SshError::Invalid {
            host: name.to_owned(),
            detail,
        };
        let dir = control_dir.to_str().unwrap_or_default();
        if !control_dir.is_absolute() || dir.is_empty() {
            return Err(invalid(format!(
                "the ssh control directory `{}` must be an absolute UTF-8 path",
                control_dir.display()
            )));
        }
        if dir.len() > CONTROL_DIR_MAX_LEN {
            return Err(invalid(format!(
                "the ssh control directory `{dir}` is {} bytes long; socket paths are limited, \
                 so it must be at most {CONTROL_DIR_MAX_LEN}",
                dir.len()
            )));
        }
        if dir
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '%' | '"' | '\''))
        {
            return Err(invalid(format!(
                "the ssh control directory `{}` may not contain whitespace, '%' or quotes",
                dir.escape_debug()
            )));
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(control_dir)
                .map_err(|e| {
                    invalid(format!(
                        "cannot create the ssh control directory {dir}: {e}"
                    ))
                })?;
        }
        Ok(SshHost {
            name: name.to_owned(),
            host: host.clone(),
            control_dir: control_dir.to_owned(),
            timeout: host.remote_timeout.unwrap_or(DEFAULT_REMOTE_TIMEOUT),
            multiplexed: true,
            channels: Semaphore::new(MAX_CHANNELS),
            link: Mutex::new(Link::default()),
            warm: AtomicBool::new(false),
        })
    }

    /// The same host with every call limited to `timeout` (e.g. the
    /// conductor's `remote_timeout` when the host sets none). ssh's
    /// `ConnectTimeout` is derived from it: a quarter, within 1..=5 s.
    pub fn with_timeout(mut self, timeout: Duration) -> SshHost {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The same host with every call on a fresh connection
    /// (`ControlMaster=no`, `ControlPath=none`): for measuring what the
    /// multiplexing saves, or for a server that refuses multiplexing.
    pub fn without_multiplexing(mut self) -> SshHost {
        self.multiplexed = false;
        self
    }

    /// The inventory name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The inventory entry this handle was made from.
    pub fn config(&self) -> &HostConfig {
        &self.host
    }

    /// The hard limit on one call.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where the master's socket lives.
    pub fn control_dir(&self) -> &Path {
        &self.control_dir
    }

    /// How known_hosts names this host: `address`, or `[address]:port`
    /// when the port is not 22.
    pub fn known_as(&self) -> String {
        if self.host.port == 22 {
            self.host.address.clone()
        } else {
            format!("[{}]:{}", self.host.address, self.host.port)
        }
    }

    fn connect_timeout_secs(&self) -> u64 {
        (self.timeout.as_secs() / 4).clamp(1, 5)
    }

    /// Every ssh argument up to (not including) the `--` before the
    /// destination.
    fn ssh_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec!["-T".into()];
        let mut opt = |v: String| {
            args.push("-o".into());
            args.push(v);
        };
        // Fixed: baton relies on these (config validation keeps
        // `ssh_options` from naming them).
        opt("BatchMode=yes".into());
        if self.multiplexed {
            opt("ControlMaster=auto".into());
            opt(format!("ControlPath={}/cm-%C", self.control_dir.display()));
            opt(format!("ControlPersist={CONTROL_PERSIST_SECS}"));
        } else {
            opt("ControlMaster=no".into());
            opt("ControlPath=none".into());
        }
        opt("ClearAllForwardings=yes".into());
        args.push("-p".into());
        args.push(self.host.port.to_string());
        if let Some(user) = &self.host.user {
            args.push("-l".into());
            args.push(user.clone());
        }
        if let Some(identity) = &self.host.identity {
            args.push("-i".into());
            args.push(identity.display().to_string());
        }
        // The host's own options, then the defaults they may replace.
        for o in &self.host.ssh_options {
            args.push("-o".into());
            args.push(o.clone());
        }
        let mut opt = |v: String| {
            args.push("-o".into());
            args.push(v);
        };
        if self.host.identity.is_some() {
            opt("IdentitiesOnly=yes".into());
        }
        opt("StrictHostKeyChecking=accept-new".into());
        opt(format!("ConnectTimeout={}", self.connect_timeout_secs()));
        opt(format!("ServerAliveInterval={SERVER_ALIVE_INTERVAL_SECS}"));
        opt(format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"));
        args
    }

    /// An `ssh` command that runs `words` on the host over the shared
    /// connection, with stdin from `/dev/null`, stdout and stderr piped,
    /// and killed when dropped — for a caller that streams the output
    /// (e.g. following a remote log). No timeout applies: the caller must
    /// bound it, and should pass its stderr to [`classify_failure`] on
    /// exit status 255.
    pub fn command<S: AsRef<str>>(&self, words: &[S]) -> Result<Command, SshError> {
        let line = self.remote_line(words)?;
        let mut cmd = Command::new("ssh");
        cmd.args(self.ssh_args())
            .arg("--")
            .arg(&self.host.address)
            .arg(line)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(cmd)
    }

    fn remote_line<S: AsRef<str>>(&self, words: &[S]) -> Result<String, SshError> {
        if words.is_empty() {
            return Err(SshError::Invalid {
                host: self.name.clone(),
                detail: "no remote command given".into(),
            });
        }
        if let Some(i) = words.iter().position(|w| w.as_ref().contains('\0')) {
            return Err(SshError::Invalid {
                host: self.name.clone(),
                detail: format!(
                    "word {i} of the remote command contains a NUL byte, which no command line can carry"
                ),
            });
        }
        Ok(remote_quote(words))
    }

    /// Runs `words` (program and arguments, each quoted) on the host and
    /// returns its standard output (lossily decoded). A non-zero exit is
    /// [`SshError::Command`].
    pub async fn run<S: AsRef<str>>(&self, words: &[S]) -> Result<String, SshError> {
        let out = self.exec(words, None).await?;
        self.require_success(words, out)
    }

    /// [`SshHost::run`] with `input` as the command's standard input
    /// (e.g. `tmux load-buffer -`, or secrets that must not appear in a
    /// command line).
    pub async fn run_input<S: AsRef<str>>(
        &self,
        words: &[S],
        input: &[u8],
    ) -> Result<String, SshError> {
        let out = self.exec(words, Some(input)).await?;
        self.require_success(words, out)
    }

    /// Runs `words` on the host and returns its exit status, standard
    /// output and standard error, for commands whose non-zero status is an
    /// answer (`tmux has-session`). ssh's own failures are still errors.
    pub async fn run_status<S: AsRef<str>>(
        &self,
        words: &[S],
    ) -> Result<(i32, String, String), SshError> {
        let out = self.exec(words, None).await?;
        Ok((
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.stderr,
        ))
    }

    fn require_success<S: AsRef<str>>(
        &self,
        words: &[S],
        out: SshOutput,
    ) -> Result<String, SshError> {
        if out.status == 0 {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(SshError::Command {
            host: self.name.clone(),
            program: words.first().map_or("", |w| w.as_ref()).to_owned(),
            status: out.status,
            stderr: out.stderr,
        })
    }

    /// Runs `words` on the host with `input` (or `/dev/null`) as its
    /// standard input; the general form of the calls above.
    ///
    /// Exit status 255 is ssh's own failure, classified by what ssh said
    /// ([`classify_failure`]); when ssh said nothing recognisable, a live
    /// master means the remote command itself exited 255 (returned as its
    /// status), a dead one that the connection broke under the call
    /// ([`SshError::Unreachable`]). Without multiplexing that case is
    /// [`SshError::Other`].
    pub async fn exec<S: AsRef<str>>(
        &self,
        words: &[S],
        input: Option<&[u8]>,
    ) -> Result<SshOutput, SshError> {
        let line = self.remote_line(words)?;
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.exec_line(&line, input, started)).await {
            Ok(result) => result,
            Err(_) => {
                // The ssh child was dropped with the future: kill_on_drop.
                self.warm.store(false, Ordering::Release);
                Err(SshError::Timeout {
                    host: self.name.clone(),
                    timeout: self.timeout,
                })
            }
        }
    }

    async fn exec_line(
        &self,
        line: &str,
        input: Option<&[u8]>,
        started: Instant,
    ) -> Result<SshOutput, SshError> {
        let _permit = self.channels.acquire().await.map_err(|_| SshError::Other {
            host: self.name.clone(),
            detail: "the call limiter was closed".into(),
        })?;
        // Only one call at a time may start a master; the others wait, then
        // ride on the master it started, or share its failure.
        let mut gate = None;
        if self.multiplexed && !self.warm.load(Ordering::Acquire) {
            let link = self.link.lock().await;
            if let Some((at, err)) = &link.last_failure
                && *at >= started
            {
                return Err(err.clone());
            }
            if !self.warm.load(Ordering::Acquire) {
                gate = Some(link);
            }
        }
        let result = self.spawn_ssh(line, input).await;
        match &result {
            Ok(_) => {
                self.warm.store(true, Ordering::Release);
                if let Some(link) = gate.as_mut() {
                    link.last_failure = None;
                }
            }
            Err(e) => {
                self.warm.store(false, Ordering::Release);
                if let Some(link) = gate.as_mut() {
                    link.last_failure = Some((Instant::now(), e.clone()));
                }
            }
        }
        result
    }

    async fn spawn_ssh(&self, line: &str, input: Option<&[u8]>) -> Result<SshOutput, SshError> {
        let mut cmd = Command::new("ssh");
        cmd.args(self.ssh_args())
            .arg("--")
            .arg(&self.host.address)
            .arg(line)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| SshError::Spawn {
            host: self.name.clone(),
            detail: e.to_string(),
        })?;
        let stdin = child.stdin.take();
        let feed = async move {
            if let (Some(mut stdin), Some(bytes)) = (stdin, input) {
                // A write error means ssh is gone; its exit status says why.
                let _ = stdin.write_all(bytes).await;
                let _ = stdin.shutdown().await;
            }
        };
        let (_, output) = tokio::join!(feed, child.wait_with_output());
        let output = output.map_err(|e| SshError::Other {
            host: self.name.clone(),
            detail: format!("cannot collect ssh's output: {e}"),
        })?;
        let Some(status) = output.status.code() else {
            use std::os::unix::process::ExitStatusExt;
            return Err(SshError::Other {
                host: self.name.clone(),
                detail: format!(
                    "ssh was killed by signal {}",
                    output.status.signal().unwrap_or(0)
                ),
            });
        };
        if status == 255 {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let failure = classify_failure(&self.name, &self.known_as(), &stderr);
            if !matches!(failure, SshError::Other { .. }) || !self.multiplexed {
                return Err(failure);
            }
            // Unrecognised: either the remote command exited 255, or the
            // master died under a running call (the client then exits 255
            // without a word). A live master tells them apart.
            if self.master_pid().await.is_none() {
                return Err(SshError::Unreachable {
                    host: self.name.clone(),
                    detail: "the connection broke during the call".into(),
                });
            }
        }
        Ok(SshOutput {
            status,
            stdout: output.stdout,
            stderr: clean_stderr(&output.stderr),
        })
    }

    /// Runs `ssh -O <verb>` against the master, bounded; returns (exit
    /// status, stderr), or `None` when ssh could not be run or timed out.
    async fn control(&self, verb: &str) -> Option<(i32, String)> {
        if !self.multiplexed {
            return None;
        }
        let mut cmd = Command::new("ssh");
        cmd.args(self.ssh_args())
            .args(["-O", verb, "--"])
            .arg(&self.host.address)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().ok()?;
        let out = tokio::time::timeout(CONTROL_CALL_LIMIT, child.wait_with_output())
            .await
            .ok()?
            .ok()?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        Some((out.status.code().unwrap_or(-1), text))
    }

    /// The pid of the running master (`ssh -O check`), or `None` when there
    /// is none (or multiplexing is off).
    pub async fn master_pid(&self) -> Option<u32> {
        let (status, text) = self.control("check").await?;
        if status != 0 {
            return None;
        }
        parse_master_pid(&text)
    }

    /// Ends the master (`ssh -O exit`) and waits until its process is gone;
    /// a master that does not exit within 3 s is sent SIGTERM, then
    /// SIGKILL. Calls still running lose their connection. Must be called
    /// at teardown: a `ControlPersist` master would otherwise outlive its
    /// owner by up to a minute of idleness (forever, while something uses
    /// it). Later calls start a new master.
    pub async fn close(&self) {
        let pid = self.master_pid().await;
        self.warm.store(false, Ordering::Release);
        let _ = self.control("exit").await;
        let Some(pid) = pid else { return };
        let deadline = tokio::time::Instant::now() + MASTER_EXIT_WAIT;
        while !pid_gone(pid) {
            if tokio::time::Instant::now() >= deadline {
                terminate_master(pid).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Reads `Master running (pid=N)`.
fn parse_master_pid(text: &str) -> Option<u32> {
    let start = text.find("(pid=")? + "(pid=".len();
    let rest = &text[start..];
    let end = rest.find(')')?;
    rest[..end].parse().ok()
}

/// True when `pid` runs no longer (gone, or a zombie).
fn pid_gone(pid: u32) -> bool {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return true;
    };
    if rustix::process::test_kill_process(raw).is_err() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat.get(i + 2..i + 3))
            .is_none_or(|state| state == "Z" || state == "X"),
        Err(_) => true,
    }
}

/// SIGTERM, then SIGKILL, to a master that ignored `-O exit` — only if
/// `pid` is still an ssh process (pids are reused).
async fn terminate_master(pid: u32) {
    let is_ssh = || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == "ssh")
    };
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::KILL] {
        if pid_gone(pid) || !is_ssh() {
            return;
        }
        let _ = rustix::process::kill_process(raw, signal);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while !pid_gone(pid) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// Runs `printf '%s\0' <quoted words>` in `shell` and splits the result.
    fn through_shell(shell: &str, words: &[&str]) -> Vec<String> {
        let mut line = String::from("printf '%s\\0'");
        for w in words {
            line.push(' ');
            line.push_str(&quote_word(w));
        }
        let out = std::process::Command::new(shell)
            .arg("-c")
            .arg(&line)
            .output()
            .expect("run the shell");
        assert!(out.status.success(), "{shell} -c {line}: {out:?}");
        let mut parts: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .map(|p| String::from_utf8(p.to_vec()).expect("utf-8"))
            .collect();
        assert_eq!(parts.pop().as_deref(), Some(""), "trailing NUL");
        parts
    }

    const NASTY: &[&str] = &[
        "plain",
        "",
        "two words",
        "it's",
        "'",
        "''",
        "\"double\"",
        "$(touch /nonexistent/pwned)",
        "`id`",
        "${HOME}",
        "$HOME",
        "a;b",
        "a && b || c",
        "line1\nline2",
        "\n",
        "tab\there",
        "*",
        "?",
        "[a-z]",
        "~",
        "~root",
        "{a,b}",
        "a{1..3}",
        "!!",
        "#comment",
        "x=1",
        "=ls",
        "-n",
        "--",
        "back\\slash",
        "\\'",
        "a|b>c<d&",
        "é ü 日本語 🚀",
        "\r",
        "%1",
        "^x",
    ];

    #[test]
    fn quoted_words_reach_posix_shells_verbatim() {
        let words: Vec<&str> = NASTY.to_vec();
        for shell in ["sh", "bash"] {
            assert_eq!(through_shell(shell, &words), words, "{shell}");
        }
    }

    #[test]
    fn safe_words_stay_bare_and_the_rest_are_single_quoted() {
        let cases: &[(&str, &str)] = &[
            ("tmux", "tmux"),
            ("=agent-1:", "'=agent-1:'"),
            ("/srv/repo_2/a.b", "/srv/repo_2/a.b"),
            ("-t", "-t"),
            ("%12", "%12"),
            ("user@host:1,2+3", "user@host:1,2+3"),
            ("", "''"),
            ("a b", "'a b'"),
            ("it's", "'it'\\''s'"),
            ("~", "'~'"),
            ("{a,b}", "'{a,b}'"),
            ("é", "'é'"),
        ];
        for (word, quoted) in cases {
            assert_eq!(quote_word(word), *quoted, "{word:?}");
        }
        assert_eq!(
            remote_quote(&["tmux", "has-session", "-t", "=a b"]),
            "tmux has-session -t '=a b'"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn any_words_round_trip_through_bash(words in proptest::collection::vec("[^\\x00]{0,12}", 1..5)) {
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            prop_assert_eq!(through_shell("bash", &refs), words);
        }
    }

    #[test]
    fn ssh_failures_are_classified() {
        use SshError as E;
        type Check = fn(&SshError) -> bool;
        let cases: &[(&str, &str, Check)] = &[
            (
                "changed host key",
                "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                 Offending ED25519 key in /k:1\n\
                 Host key for [127.0.0.1]:5000 has changed and you have requested strict checking.\n\
                 Host key verification failed.\n",
                |e| matches!(e, E::HostKey { detail, .. } if detail.starts_with("Host key for [127.0.0.1]:5000 has changed")),
            ),
            (
                "unknown host key, strict",
                "No ED25519 host key is known for [127.0.0.1]:5000 and you have requested strict checking.\nHost key verification failed.\n",
                |e| matches!(e, E::HostKey { detail, .. } if detail.starts_with("No ED25519 host key is known")),
            ),
            (
                "refused key",
                "Warning: Permanently added '[127.0.0.1]:5000' (ED25519) to the list of known hosts.\nroot@127.0.0.1: Permission denied (publickey).\n",
                |e| matches!(e, E::Auth { detail, .. } if detail == "root@127.0.0.1: Permission denied (publickey)."),
            ),
            (
                "missing identity",
                "Warning: Identity file /nope not accessible: No such file or directory.\nroot@h: Permission denied (publickey).\n",
                |e| matches!(e, E::Auth { detail, .. } if detail.contains("Permission denied") && detail.contains("/nope not accessible")),
            ),
            (
                "key file mode",
                "@@@@@\n@         WARNING: UNPROTECTED PRIVATE KEY FILE!          @\n@@@@@\nPermissions 0644 for '/k' are too open.\nLoad key \"/k\": bad permissions\nroot@h: Permission denied (publickey).\n",
                |e| matches!(e, E::Auth { .. }),
            ),
            (
                "silent drop",
                "ssh: connect to host 10.200.7.2 port 22: Connection timed out\n",
                |e| matches!(e, E::Unreachable { detail, .. } if detail.ends_with("Connection timed out")),
            ),
            (
                "refused port",
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\n",
                |e| matches!(e, E::Unreachable { .. }),
            ),
            (
                "no route",
                "ssh: connect to host 10.200.9.9 port 22: No route to host\n",
                |e| matches!(e, E::Unreachable { .. }),
            ),
            (
                "dns",
                "ssh: Could not resolve hostname gpu: Name or service not known\n",
                |e| matches!(e, E::Unreachable { .. }),
            ),
            (
                "keepalive gave up",
                "Timeout, server 10.200.7.2 not responding.\n",
                |e| matches!(e, E::Unreachable { .. }),
            ),
            (
                "host crashed",
                "Connection to 10.200.7.2 closed by remote host.\n",
                |e| matches!(e, E::Unreachable { .. }),
            ),
            (
                "dead master, then a timed-out direct try",
                "mux_client_request_session: read from master failed: Broken pipe\nssh: connect to host 10.200.7.2 port 22: Connection timed out\n",
                |e| matches!(e, E::Unreachable { detail, .. } if detail.contains("Connection timed out")),
            ),
            (
                "something else",
                "command-line line 0: Bad configuration option: frobnicate\n",
                |e| matches!(e, E::Other { detail, .. } if detail.contains("frobnicate")),
            ),
            (
                "nothing said",
                "",
                |e| matches!(e, E::Other { detail, .. } if detail.contains("said nothing")),
            ),
        ];
        for (what, stderr, check) in cases {
            let err = classify_failure("gpu", "[127.0.0.1]:5000", stderr);
            assert!(check(&err), "{what}: {err:?}");
            assert_eq!(err.host(), "gpu");
            let shown = err.to_string();
            assert!(shown.contains("host `gpu`"), "{what}: {shown}");
            assert!(!shown.contains('\n'), "{what}: {shown}");
        }
    }

    #[test]
    fn noise_is_dropped_from_stderr() {
        let stderr = b"Warning: Permanently added 'h' (ED25519) to the list of known hosts.\r\n\
                       mux_client_request_session: read from master failed: Broken pipe\n\
                       can't find session: =a\n";
        assert_eq!(clean_stderr(stderr), "can't find session: =a");
    }

    #[test]
    fn master_pid_is_read_from_check_output() {
        assert_eq!(
            parse_master_pid("Master running (pid=4242)\r\n"),
            Some(4242)
        );
        assert_eq!(
            parse_master_pid("Control socket connect(/x): No such file"),
            None
        );
        assert_eq!(parse_master_pid("(pid=)"), None);
    }

    fn host() -> HostConfig {
        HostConfig {
            user: Some("agent".into()),
            port: 2222,
            identity: Some("/keys/id".into()),
            ssh_options: vec!["StrictHostKeyChecking=yes".into()],
            remote_timeout: Some(Duration::from_secs(20)),
            ..HostConfig::new("gpu", "10.0.0.5")
        }
    }

    #[test]
    fn arguments_put_fixed_options_first_and_defaults_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = dir.path().join("c");
        let ssh = SshHost::new("gpu", &host(), &control).expect("valid");
        assert_eq!(ssh.timeout(), Duration::from_secs(20));
        let args = ssh.ssh_args().join(" ");
        let expected = format!(
            "-T -o BatchMode=yes -o ControlMaster=auto -o ControlPath={}/cm-%C \
             -o ControlPersist=60 -o ClearAllForwardings=yes -p 2222 -l agent -i /keys/id \
             -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
             -o StrictHostKeyChecking=accept-new -o ConnectTimeout=5 \
             -o ServerAliveInterval=1 -o ServerAliveCountMax=3",
            control.display()
        );
        assert_eq!(args, expected);
        assert!(control.is_dir());
        assert_eq!(ssh.known_as(), "[10.0.0.5]:2222");

        let fresh = SshHost::new("gpu", &HostConfig::new("gpu", "gpu"), &control)
            .expect("valid")
            .with_timeout(Duration::from_secs(6))
            .without_multiplexing();
        let args = fresh.ssh_args().join(" ");
        assert!(
            args.starts_with("-T -o BatchMode=yes -o ControlMaster=no -o ControlPath=none "),
            "{args}"
        );
        assert!(args.contains("-o ConnectTimeout=1 "), "{args}");
        assert!(!args.contains("IdentitiesOnly"), "{args}");
        assert_eq!(fresh.known_as(), "gpu");
    }

    #[test]
    fn control_dirs_that_ssh_cannot_use_are_refused() {
        let long = format!("/tmp/{}", "d".repeat(CONTROL_DIR_MAX_LEN));
        for dir in ["relative/dir", long.as_str(), "/tmp/a b", "/tmp/a%C"] {
            let err = SshHost::new("gpu", &host(), Path::new(dir)).expect_err(dir);
            assert!(matches!(err, SshError::Invalid { .. }), "{dir}: {err:?}");
            assert!(err.to_string().starts_with("host `gpu`: "), "{err}");
        }
    }

    #[tokio::test]
    async fn words_with_nul_are_refused_before_ssh_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ssh = SshHost::new("gpu", &host(), &dir.path().join("c")).expect("valid");
        let err = ssh.run(&["echo", "a\0b"]).await.expect_err("NUL");
        assert!(matches!(err, SshError::Invalid { .. }), "{err:?}");
        let err = ssh.run::<&str>(&[]).await.expect_err("empty");
        assert!(matches!(err, SshError::Invalid { .. }), "{err:?}");
    }
}
