//! Where the control socket lives, decided the same way by the daemon and by
//! every client verb, so that `baton daemon` and `baton ps` started in the
//! same environment always meet.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the socket; a `--socket` flag wins over it.
pub const SOCKET_ENV: &str = "BATON_SOCKET";

/// Where a socket path came from, for hints in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--socket PATH`.
    Flag,
    /// `$BATON_SOCKET`.
    Env,
    /// `$XDG_RUNTIME_DIR/baton/baton.sock` or `.baton/baton.sock`.
    Default,
}

/// The socket path to use and where it came from. Relative paths are made
/// absolute against the current directory, so messages and the daemon's
/// own records name one place.
pub fn resolve(flag: Option<&Path>) -> Result<(PathBuf, Origin), String> {
    let (path, origin) = choose(
        flag,
        std::env::var_os(SOCKET_ENV),
        std::env::var_os("XDG_RUNTIME_DIR"),
    );
    let path =
        std::path::absolute(&path).map_err(|e| format!("socket path {}: {e}", path.display()))?;
    Ok((path, origin))
}

/// Flag, then `$BATON_SOCKET`, then `$XDG_RUNTIME_DIR/baton/baton.sock`,
/// then `.baton/baton.sock`; empty values count as unset.
fn choose(
    flag: Option<&Path>,
    env: Option<OsString>,
    xdg_runtime_dir: Option<OsString>,
) -> (PathBuf, Origin) {
    if let Some(flag) = flag.filter(|p| !p.as_os_str().is_empty()) {
        return (flag.to_owned(), Origin::Flag);
    }
    if let Some(env) = env.filter(|v| !v.is_empty()) {
        return (PathBuf::from(env), Origin::Env);
    }
    match xdg_runtime_dir.filter(|v| !v.is_empty()) {
        Some(dir) => (
            PathBuf::from(dir).join("baton").join("baton.sock"),
            Origin::Default,
        ),
        None => (PathBuf::from(".baton/baton.sock"), Origin::Default),
    }
}

/// The lock file that makes one daemon the only one on `socket`.
#[cfg(feature = "engine")]
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_flag_env_xdg_cwd() {
        // (flag, $BATON_SOCKET, $XDG_RUNTIME_DIR) -> (path, origin)
        let cases = [
            (
                (Some("/f.sock"), "/e.sock", "/run/u"),
                ("/f.sock", Origin::Flag),
            ),
            ((None, "/e.sock", "/run/u"), ("/e.sock", Origin::Env)),
            (
                (None, "", "/run/u"),
                ("/run/u/baton/baton.sock", Origin::Default),
            ),
            ((None, "", ""), (".baton/baton.sock", Origin::Default)),
            ((Some(""), "", ""), (".baton/baton.sock", Origin::Default)),
        ];
        for ((flag, env, xdg), (want, origin)) in cases {
            let got = choose(flag.map(Path::new), Some(env.into()), Some(xdg.into()));
            assert_eq!(
                got,
                (PathBuf::from(want), origin),
                "{flag:?} {env:?} {xdg:?}"
            );
        }
        assert_eq!(
            choose(None, None, None),
            (PathBuf::from(".baton/baton.sock"), Origin::Default)
        );
    }

    #[test]
    fn lock_file_sits_next_to_the_socket() {
        assert_eq!(
            lock_path(Path::new("/run/u/baton/baton.sock")),
            PathBuf::from("/run/u/baton/baton.sock.lock")
        );
    }
}
