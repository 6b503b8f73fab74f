//! The hook channel: how what an agent CLI's hooks say reaches the
//! conductor, in milliseconds, from the run it belongs to only.
//!
//! A run on a terminal whose CLI baton knows hooks for gets them for that
//! run only (claude: `--settings`), each running `baton-shim hook`. The
//! run's environment holds where to report ([`SOCKET_ENV`]: a Unix datagram
//! socket in the logs directory) and the run's token ([`TOKEN_ENV`]): an
//! HMAC of the session id and attempt under a key only the conductor (and
//! its successors on the same logs directory) can read. `baton-shim hook`
//! reads the hook's input on stdin and sends one datagram — the session,
//! attempt, token and input — without waiting for an answer, and always
//! exits 0 printing nothing: a hook never fails or slows its CLI, and with
//! the conductor away the datagram is simply not delivered.
//!
//! The conductor drops every datagram whose token is not the one of the
//! run it names: a hook of one session cannot speak for another, nor a
//! hook of an earlier run for the current one. A conductor that takes over
//! a tmux run after a restart computes the same token from the same key.

use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The variable that names the conductor's hook socket in a run's
/// environment.
pub const SOCKET_ENV: &str = "BATON_HOOK_SOCKET";
/// The variable that holds the run's hook token.
pub const TOKEN_ENV: &str = "BATON_HOOK_TOKEN";
/// The socket's name in the logs directory.
pub const SOCKET_FILE: &str = "hooks.sock";
/// The key's name in the logs directory (mode 0600).
const KEY_FILE: &str = "hooks.key";

/// The largest hook input passed on whole; a larger one (a `Write` of a
/// big file) is cut: its long strings shortened.
pub const INPUT_MAX: usize = 32 * 1024;
/// The longest a string of a cut input stays.
const STRING_KEPT: usize = 1024;
/// The most `baton-shim hook` reads of its stdin.
const STDIN_MAX: u64 = 16 * 1024 * 1024;

/// The secret the run tokens of one logs directory are made with.
#[derive(Clone)]
pub struct HookKey([u8; 32]);

impl std::fmt::Debug for HookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookKey(…)")
    }
}

impl HookKey {
    /// The key of `logs_dir`, made (from the system's random source, mode
    /// 0600) when it has none yet.
    pub fn load(logs_dir: &Path) -> std::io::Result<HookKey> {
        let path = logs_dir.join(KEY_FILE);
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(HookKey(key));
        }
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        crate::proc::write_private(&path, &key)?;
        Ok(HookKey(key))
    }

    fn mac(&self, id: &str, attempt: u32) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b"\0");
        mac.update(attempt.to_string().as_bytes());
        mac
    }

    /// The token of run `attempt` of session `id`, hex.
    pub fn token(&self, id: &str, attempt: u32) -> String {
        hex(&self.mac(id, attempt).finalize().into_bytes())
    }

    /// Whether `token` is the one of run `attempt` of `id` (compared in
    /// constant time).
    pub fn verify(&self, id: &str, attempt: u32, token: &str) -> bool {
        let Some(bytes) = unhex(token) else {
            return false;
        };
        self.mac(id, attempt).verify_slice(&bytes).is_ok()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The hook command of a run on a remote host, where no `baton-shim` is:
/// it appends `<token> TAB <input on one line>` to the run's hook file
/// (`BATON_HOOK_FILE`, set by the pane's wrapper beside its output file),
/// which the host's feed fetches with the output. Cut to 8000 bytes so one
/// `printf` is one write (a line is never split by a hook writing at the
/// same time); a longer input is no JSON, dropped, and the screen judges.
/// Never fails the hook: its exit is 0.
pub const REMOTE_COMMAND: &str = "l=$(head -c 8000 | tr -d '\\n'); \
     printf '%s\\t%s\\n' \"$BATON_HOOK_TOKEN\" \"$l\" >> \"$BATON_HOOK_FILE\" 2>/dev/null; exit 0";

/// For a run on a host whose CLI reads its hooks from a settings file:
/// the file's contents, the variable to name it in, and the host's own
/// file it stands in for. The pane's wrapper writes the file beside the
/// run's output (private) and sets the variable — unless the host has that
/// file of its own, which is never replaced (the run then has no hooks of
/// baton's, and is said silent after its first turn).
pub const HOST_SETTINGS_ENV: &str = "BATON_HOOK_SETTINGS";
/// See [`HOST_SETTINGS_ENV`].
pub const HOST_SETTINGS_VAR_ENV: &str = "BATON_HOOK_SETTINGS_VAR";
/// See [`HOST_SETTINGS_ENV`].
pub const HOST_SETTINGS_OVER_ENV: &str = "BATON_HOOK_SETTINGS_OVER";

/// The environment that has the pane's wrapper write `file` on the host.
pub fn host_settings_env(file: &baton_agents::HostHookFile) -> [(String, String); 3] {
    [
        (HOST_SETTINGS_ENV.into(), file.file.contents.clone()),
        (HOST_SETTINGS_VAR_ENV.into(), file.file.env.into()),
        (HOST_SETTINGS_OVER_ENV.into(), file.stands_for.clone()),
    ]
}

/// The hook file of the remote run whose output file is `remote_log`.
pub fn remote_hook_file(remote_log: &str) -> String {
    let stem = remote_log.strip_suffix(".log").unwrap_or(remote_log);
    format!("{stem}.hooks")
}

/// One line of a remote run's hook file, as the report of run `attempt`
/// of `session` (its token is checked by the conductor).
pub fn parse_remote_line(line: &[u8], session: &str, attempt: u32) -> Option<HookReport> {
    let line = std::str::from_utf8(line)
        .ok()?
        .trim_end_matches(['\n', '\r']);
    let (token, input) = line.split_once('\t')?;
    let input = serde_json::from_str(input).ok()?;
    Some(HookReport {
        session: session.to_owned(),
        attempt,
        token: token.to_owned(),
        input: cut_input(input),
    })
}

/// Where a run's hook settings files go (for a CLI that reads its hooks
/// from a file, gemini): a directory only this user can write, below
/// directories no one else can either — gemini skips a settings file under
/// a world-writable directory such as `/tmp`. `$XDG_RUNTIME_DIR/baton/hooks`,
/// else `~/.baton/hooks`.
pub fn settings_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("baton"))
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|dir| dir.is_absolute())
                .map(|home| home.join(".baton"))
        })?;
    Some(base.join("hooks"))
}

/// Writes a run's hook settings (mode 0600, in [`settings_dir`], made
/// 0700) as `<name>.json`; returns its path.
pub fn write_settings(name: &str, contents: &str) -> std::io::Result<PathBuf> {
    let dir = settings_dir().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "neither XDG_RUNTIME_DIR nor HOME is set",
        )
    })?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let path = dir.join(format!("{name}.json"));
    crate::proc::write_private(&path, contents.as_bytes())?;
    Ok(path)
}

/// One hook call, as the conductor received it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct HookReport {
    /// The session id the hook's run has in its environment.
    pub session: String,
    /// The run's attempt.
    pub attempt: u32,
    /// The run's token.
    pub token: String,
    /// The hook's input, as the CLI gave it (cut to about [`INPUT_MAX`]).
    pub input: serde_json::Value,
}

/// Binds the conductor's hook socket in `logs_dir` (private to its user),
/// replacing one a dead conductor left.
pub fn bind(logs_dir: &Path) -> std::io::Result<(tokio::net::UnixDatagram, PathBuf)> {
    let path = logs_dir.join(SOCKET_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let socket = UnixDatagram::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    socket.set_nonblocking(true)?;
    Ok((tokio::net::UnixDatagram::from_std(socket)?, path))
}

/// Reads datagrams from `socket` and passes on each whose token is its
/// run's; the rest are dropped (logged at debug). Ends when `deliver` says
/// no one listens any more.
pub async fn receive(
    socket: tokio::net::UnixDatagram,
    key: HookKey,
    mut deliver: impl FnMut(HookReport) -> bool,
) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let len = match socket.recv(&mut buf).await {
            Ok(len) => len,
            Err(e) => {
                tracing::warn!("hook socket: {e}; hooks are not heard any more");
                return;
            }
        };
        let report: HookReport = match serde_json::from_slice(&buf[..len]) {
            Ok(report) => report,
            Err(e) => {
                tracing::debug!("hook socket: a datagram that is no report ({e}); dropped");
                continue;
            }
        };
        if !key.verify(&report.session, report.attempt, &report.token) {
            tracing::debug!(
                session = %report.session,
                "hook socket: a report whose token is not its run's; dropped"
            );
            continue;
        }
        if !deliver(report) {
            return;
        }
    }
}

/// `baton-shim hook`: reads the hook's input on stdin and reports it to
/// the conductor named in the environment. Never fails: whatever goes
/// wrong (no conductor, no variables, input that is not JSON), the hook
/// ends at once and the CLI goes on.
pub fn report_from_stdin() {
    let mut raw = Vec::new();
    let _ = std::io::stdin().take(STDIN_MAX).read_to_end(&mut raw);
    let _ = report(&raw);
}

fn report(raw: &[u8]) -> Option<()> {
    let socket = std::env::var_os(SOCKET_ENV)?;
    let token = std::env::var(TOKEN_ENV).ok()?;
    let session = std::env::var("BATON_SESSION_ID").ok()?;
    let attempt = std::env::var("BATON_ATTEMPT").ok()?.parse().ok()?;
    let input: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let report = HookReport {
        session,
        attempt,
        token,
        input: cut_input(input),
    };
    let bytes = serde_json::to_vec(&report).ok()?;
    let sender = UnixDatagram::unbound().ok()?;
    sender.set_nonblocking(true).ok()?;
    sender.send_to(&bytes, socket).ok()?;
    Some(())
}

/// `input` within about [`INPUT_MAX`] bytes: as it is when it fits, else
/// with every string cut to [`STRING_KEPT`] bytes (what baton reads of a
/// hook is names, paths, a question, a message's last line).
pub fn cut_input(input: serde_json::Value) -> serde_json::Value {
    if serde_json::to_vec(&input).map_or(0, |v| v.len()) <= INPUT_MAX {
        return input;
    }
    fn cut(value: &mut serde_json::Value, budget: &mut usize) {
        match value {
            serde_json::Value::String(s) => {
                let mut keep = s.len().min(STRING_KEPT).min(*budget);
                while !s.is_char_boundary(keep) {
                    keep -= 1;
                }
                s.truncate(keep);
                *budget -= keep;
            }
            serde_json::Value::Array(items) => {
                items.iter_mut().for_each(|v| cut(v, budget));
            }
            serde_json::Value::Object(map) => {
                map.values_mut().for_each(|v| cut(v, budget));
            }
            _ => {}
        }
    }
    let mut input = input;
    let mut budget = INPUT_MAX;
    cut(&mut input, &mut budget);
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_its_runs_only() {
        let dir = tempfile::tempdir().unwrap();
        let key = HookKey::load(dir.path()).unwrap();
        let token = key.token("alpha", 2);
        assert!(key.verify("alpha", 2, &token));
        assert!(
            !key.verify("alpha", 3, &token),
            "another run of the session"
        );
        assert!(!key.verify("beta", 2, &token), "another session");
        assert!(!key.verify("alpha", 2, &token[..62]));
        assert!(!key.verify("alpha", 2, "zz"));
        assert!(!key.verify("alpha", 2, ""));
        // A conductor after it on the same logs dir makes the same tokens;
        // another logs dir has another key.
        assert_eq!(HookKey::load(dir.path()).unwrap().token("alpha", 2), token);
        let other = tempfile::tempdir().unwrap();
        assert_ne!(
            HookKey::load(other.path()).unwrap().token("alpha", 2),
            token
        );
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_big_input_is_cut_to_its_bound_and_stays_json() {
        let content = "é".repeat(100_000);
        let input = serde_json::json!({
            "hook_event_name": "PermissionRequest",
            "tool_name": "Write",
            "tool_input": { "file_path": "/repo/big.txt", "content": content },
        });
        let cut = cut_input(input);
        let len = serde_json::to_vec(&cut).unwrap().len();
        assert!(len <= INPUT_MAX + 512, "{len} bytes");
        assert_eq!(cut["tool_input"]["file_path"], "/repo/big.txt");
        assert_eq!(cut["hook_event_name"], "PermissionRequest");
        let small = serde_json::json!({ "hook_event_name": "Stop", "x": "y" });
        assert_eq!(cut_input(small.clone()), small);
    }
}
